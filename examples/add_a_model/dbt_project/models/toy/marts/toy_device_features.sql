{{ config(
    materialized='incremental',
    on_schema_change='fail',
    pre_hook="{{ delete_window('feature_date') }}",
    post_hook="{{ export_daily_parquet('feature_date', 'toy_device_features', key='device_id') }}",
) }}

{#- For each day of the partition window, every device seen by then, as of the end of the day:
    trailing 7- and 28-day windows that include the day. Exported per day as parquet for the
    Feast offline store (feature_repo/toy.py). -#}

with readings as (
    select * from {{ ref('stg_toy_readings') }}
    where reading_date <= {{ window_end() }}
),

days as (
    select day as feature_date
    from ({{ days_with_data(ref('stg_toy_readings'), 'reading_date') }})
),

windowed as (
    select
        r.device_id,
        d.feature_date,
        count(*) filter (where r.reading_date > d.feature_date - 7) as readings_7d,
        sum(r.temperature) filter (where r.reading_date > d.feature_date - 7) as temperature_sum_7d,
        max(r.temperature) filter (where r.reading_date > d.feature_date - 7) as temperature_max_7d,
        sum(r.errors) filter (where r.reading_date > d.feature_date - 7) as errors_7d,
        sum(r.errors) as errors_28d
    from days as d
    inner join readings as r
        on r.reading_date <= d.feature_date
        and r.reading_date > d.feature_date - 28
    group by all
)

select
    device_id,
    feature_date,
    cast(feature_date + interval 1 day as timestamp) at time zone 'UTC' as event_timestamp,
    cast(feature_date + interval 1 day as timestamp) at time zone 'UTC' as created_timestamp,
    cast(readings_7d as bigint) as readings_7d,
    -- exact: a DECIMAL sum divided once (macros/money.sql), the same at any thread count
    {{ decimal_mean('coalesce(temperature_sum_7d, 0)', 'readings_7d', 2) }} as temperature_avg_7d,
    cast(temperature_max_7d as decimal(18, 1)) as temperature_max_7d,
    cast(coalesce(errors_7d, 0) as bigint) as errors_7d,
    cast(errors_28d as bigint) as errors_28d
from windowed
