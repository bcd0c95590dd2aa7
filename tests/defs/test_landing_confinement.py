"""A landing file that is a symbolic link out of the landing zone fails that day's ingest run
with the path and the reason, stores nothing of the linked file, and keeps the partition."""

import dagster as dg
import duckdb

from mlops_assets.settings import Settings
from tests.defs.conftest import day, materialize

SECRET = "s3cr3t-token-7c21"


def _warehouse_varchar_hits(settings: Settings, text: str) -> dict[str, int]:
    """How often `text` occurs in each VARCHAR column of every table of the warehouse."""
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        columns = con.execute(
            "SELECT c.table_schema, c.table_name, c.column_name FROM information_schema.columns c "
            "JOIN information_schema.tables t USING (table_catalog, table_schema, table_name) "
            "WHERE c.data_type = 'VARCHAR' AND t.table_type = 'BASE TABLE'"
        ).fetchall()
        return {
            f"{s}.{t}.{c}": con.execute(
                f'SELECT count(*) FROM "{s}"."{t}" WHERE contains("{c}", ?)', [text]
            ).fetchone()[0]
            for s, t, c in columns
        }


def test_symlinked_landing_file_fails_the_day_and_stores_nothing(
    defs, data_home: Settings, tmp_path
) -> None:
    instance = dg.DagsterInstance.ephemeral()
    assert materialize(defs, "group:churn_world_ingest", start=day(0), instance=instance).success
    with duckdb.connect(str(data_home.warehouse_path), read_only=True) as con:
        before = sorted(con.execute("SELECT customer_id FROM raw.customers").fetchall())

    secret = tmp_path / "passwd"
    secret.write_text(f"root:x:0:0:{SECRET}:/root:/bin/bash\n")
    path = data_home.landing_dir / day(0) / "customers.csv"
    path.unlink()
    path.symlink_to(secret)
    result = materialize(
        defs, "group:churn_world_ingest", start=day(0), instance=instance, raise_on_error=False
    )

    assert not result.success
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert [e.step_key for e in failures] == ["raw_customers"]
    description = failures[0].step_failure_data.user_failure_data.description
    assert description == f"customers {day(0)}: refused file: {path} is a symbolic link"
    hits = _warehouse_varchar_hits(data_home, SECRET)
    assert "raw.quarantine.raw_record" in hits and not any(hits.values()), hits
    with duckdb.connect(str(data_home.warehouse_path), read_only=True) as con:
        after = sorted(con.execute("SELECT customer_id FROM raw.customers").fetchall())
    assert after == before and before  # the day's partition is as it was
