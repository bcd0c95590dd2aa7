"""Feast glue: config in code, apply, daily materialization, training sets and online reads.

Feast stays the system of record: every object (entity, view, TTL, source path, feature service)
is read from the Feast registry, and everything here is checked row for row against Feast's own
code paths (tests/feast). Two paths are ours because Feast's are slow at our scale (DESIGN §9):

* `materialize_day` writes the SQLite online store with one bulk upsert instead of Feast's
  protobuf-per-row loop, producing byte-identical rows, and refuses to let an older day
  overwrite a newer value (Feast's SQLite store has no timestamp guard).
* `training_set(method="duckdb")` runs the point-in-time join as a DuckDB ASOF join derived
  from the registry, then applies the on-demand views with Feast's own transform code.

One concern per module; this package's names (`__all__`) are the public surface:

* `config`         data home, RepoConfig built in code, `open_store`
* `repo`           `load_repo` / `apply_repo` (what `feast apply` does), `registry_summary`
* `point_in_time`  service plans from the registry, the ASOF join SQL, `training_set`
* `offline_reads`  DuckDB over the parquet sources: quoting, connection, `latest_rows` per window
* `sqlite_writer`  the byte-level SQLite bulk writer, behind one function (`write_rows`)
* `materialize`    `materialize_day`: the day's window, bulk writer or Feast's `materialize`
* `online`         online reads for scoring (`online_features`, `service_refs`,
                   `service_join_keys`)
* `consistency`    `consistency_sample`: online values against the latest offline ones

Names no dataset, view, service or key: callers pass the service / view they mean (a model's
YAML names its service), and join keys are read from the registry.

Framework-free (no dagster), and cheap to import: feast, duckdb and pandas are imported inside
the functions that need them.
"""

from mlops_assets.core.feature_store.config import (
    HOME_PATH_TAG,
    PROJECT,
    REPO_PATH,
    Env,
    build_repo_config,
    feast_dir,
    home_from_env,
    open_store,
    store_home,
)
from mlops_assets.core.feature_store.consistency import consistency_sample
from mlops_assets.core.feature_store.materialize import day_window, materialize_day
from mlops_assets.core.feature_store.online import (
    online_features,
    service_join_keys,
    service_refs,
)
from mlops_assets.core.feature_store.point_in_time import (
    ROW_COLUMN,
    Method,
    ServicePlan,
    ViewPlan,
    null_rates,
    point_in_time_sql,
    service_features,
    service_plan,
    training_set,
)
from mlops_assets.core.feature_store.repo import apply_repo, load_repo, registry_summary

__all__ = [
    "HOME_PATH_TAG",
    "PROJECT",
    "REPO_PATH",
    "ROW_COLUMN",
    "Env",
    "Method",
    "ServicePlan",
    "ViewPlan",
    "apply_repo",
    "build_repo_config",
    "consistency_sample",
    "day_window",
    "feast_dir",
    "home_from_env",
    "load_repo",
    "materialize_day",
    "null_rates",
    "online_features",
    "open_store",
    "point_in_time_sql",
    "registry_summary",
    "service_features",
    "service_join_keys",
    "service_plan",
    "service_refs",
    "store_home",
    "training_set",
]
