"""The one daily partitioning shared by every day-grained asset."""

import dagster as dg

from mlops_assets.settings import PARTITION_START

daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITION_START)
