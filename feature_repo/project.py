"""The Feast project; its name must match feature_store.yaml and the config built in code."""

from feast import Project

mlops_assets = Project(
    name="mlops_assets",
    description="Customer features served to the churn models (dbt marts -> Feast).",
    tags={"owner": "team:ml-platform"},
)
