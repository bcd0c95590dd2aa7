"""The marts are bit-for-bit reproducible: the same landed data gives identical rows whatever
DuckDB's thread count and whether days are built as one range or one by one (DESIGN.md §7).

Float sums in a parallel aggregation depend on thread scheduling (a fresh machine once found
29.2837 vs 29.2838 for one average), so money must stay exact (DECIMAL) through every sum and
average. With DOUBLE money this world's 1- and 4-thread marts differed in ~800 rows here, but
equal rows on one machine can be luck: the column-type assertion is what makes this test fail
as soon as someone reintroduces DOUBLE/FLOAT columns in the intermediate or mart tables.
"""

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from mlops_assets.core import ingest
from mlops_assets.datasets.simulator import SOURCES, SimulationConfig, simulate

pytestmark = pytest.mark.slow

DBT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
START = dt.date(2026, 1, 1)
DAYS = 35  # enough for labels (30-day delay) and full 30-day windows
TABLES = ("int_customer_daily_activity", "customer_activity_features", "churn_labels")
FLOAT_TYPES = ("DOUBLE", "FLOAT", "REAL", "FLOAT4", "FLOAT8")


@pytest.fixture(scope="module")
def landed(tmp_path_factory) -> Path:
    """A warehouse with 2,500 customers x 35 days ingested (about 35k transactions)."""
    root = tmp_path_factory.mktemp("determinism")
    config = SimulationConfig(start_date=START, days=DAYS, customers=2500, seed=5)
    simulate(config, root / "landing")
    with duckdb.connect(str(root / "ingested.duckdb")) as con:
        for spec in SOURCES:
            for day in ingest.landed_days(root / "landing"):
                ingest.ingest_file(con, spec, day, ingest.day_file(root / "landing", spec, day))
    return root


def _home(landed: Path, name: str, duckdb_threads: int) -> Path:
    """A copy of the ingested warehouse and a profile pinning DuckDB's thread count."""
    home = landed / name
    (home / "features").mkdir(parents=True)
    shutil.copyfile(landed / "ingested.duckdb", home / "warehouse.duckdb")
    profile = {
        "mlops_assets": {
            "target": "local",
            "outputs": {
                "local": {
                    "type": "duckdb",
                    "path": str(home / "warehouse.duckdb"),
                    "threads": 1,
                    "settings": {"threads": duckdb_threads},
                }
            },
        }
    }
    (home / "profiles.yml").write_text(json.dumps(profile))  # JSON is YAML
    return home


# One process per warehouse, dbt invoked in it once per window: the imports (~2 s) are paid
# once, and the process exit releases the DuckDB file dbt-duckdb keeps open between invocations.
_RUN_WINDOWS = """
import json, sys
from dbt.cli.main import dbtRunner
home, windows = sys.argv[1], json.loads(sys.argv[2])
for first, last in windows:
    window = json.dumps({"min_date": first, "max_date": last})
    args = ["run", "--vars", window, "--profiles-dir", home, "--target-path", home + "/target"]
    result = dbtRunner().invoke(args)
    if not result.success:
        sys.exit(f"dbt run {first}..{last} failed: {result.exception}")
"""


def _dbt_run(home: Path, *windows: tuple[dt.date, dt.date]) -> None:
    """`dbt run` for each inclusive window in turn (the models only: tests add nothing here)."""
    spans = json.dumps([[str(first), str(last)] for first, last in windows])
    out = subprocess.run(
        [sys.executable, "-c", _RUN_WINDOWS, str(home), spans],
        cwd=DBT_DIR,
        env={**os.environ, "MLOPS_HOME": str(home)},
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]


def _day(i: int) -> dt.date:
    return START + dt.timedelta(days=i)


def test_marts_are_identical_across_thread_counts_and_day_by_day_runs(landed: Path) -> None:
    one_thread = _home(landed, "range_1_thread", 1)
    _dbt_run(one_thread, (_day(0), _day(DAYS - 1)))
    four_threads = _home(landed, "range_4_threads", 4)
    _dbt_run(four_threads, (_day(0), _day(DAYS - 1)))
    by_day = _home(landed, "range_then_days_4_threads", 4)
    _dbt_run(
        by_day, (_day(0), _day(DAYS - 4)), *((_day(i), _day(i)) for i in range(DAYS - 3, DAYS))
    )

    with duckdb.connect() as con:
        for name, home in (("a", one_thread), ("b", four_threads), ("c", by_day)):
            con.execute(f"ATTACH '{home / 'warehouse.duckdb'}' AS {name} (READ_ONLY)")

        floats = con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            f"WHERE table_catalog = 'a' AND table_name IN {TABLES} "
            f"AND upper(data_type) IN {FLOAT_TYPES}"
        ).fetchall()
        assert floats == [], f"float columns make the marts depend on thread scheduling: {floats}"
        money = dict(
            con.execute(
                "SELECT table_name || '.' || column_name, data_type "
                "FROM information_schema.columns WHERE table_catalog = 'a' "
                f"AND table_name IN {TABLES} "
                "AND column_name IN ('total_amount', 'total_amount_7d', 'total_amount_30d', "
                "'avg_transaction_amount', 'monthly_fee')"
            ).fetchall()
        )
        assert money == {
            "int_customer_daily_activity.total_amount": "DECIMAL(18,2)",
            "customer_activity_features.total_amount_7d": "DECIMAL(18,2)",
            "customer_activity_features.total_amount_30d": "DECIMAL(18,2)",
            "customer_activity_features.avg_transaction_amount": "DECIMAL(18,4)",
            "customer_activity_features.monthly_fee": "DECIMAL(18,2)",
        }

        for table in TABLES:
            n = con.execute(f"SELECT count(*) FROM a.main.{table}").fetchone()[0]
            assert n > 0, table
            for other in ("b", "c"):
                assert con.execute(f"SELECT count(*) FROM {other}.main.{table}").fetchone()[0] == n
                for left, right in (("a", other), (other, "a")):
                    diff = con.execute(
                        f"SELECT * FROM {left}.main.{table} EXCEPT ALL "
                        f"SELECT * FROM {right}.main.{table} LIMIT 5"
                    ).fetchall()
                    assert diff == [], f"{table}: rows of {left} not in {right}: {diff}"
