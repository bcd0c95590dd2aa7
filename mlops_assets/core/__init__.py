"""Framework-free logic: importable and testable without Dagster, dbt, Feast or MLflow."""
