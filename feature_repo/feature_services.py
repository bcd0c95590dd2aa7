"""Feature services: the named feature sets models are trained and scored on.

A service is a model's single source of inputs: its model YAML (mlops_assets/defs/models/) names
it, training (point in time) and scoring read it, and the resolved field list is recorded on
every trained model version, so the two can never drift apart. Every field of `churn_model` is
a model input — including the two on-demand ratios, which carry the spend trend and the
support load per purchase that the raw windows only imply.
"""

from feast import FeatureService
from feature_views import customer_activity, customer_activity_ratios

churn_model = FeatureService(
    name="churn_model",
    features=[customer_activity, customer_activity_ratios],
    description="Inputs of the churn classifier: 11 daily activity features + 2 ratios.",
    owner="team:ml-platform",
    tags={"model": "churn", "team": "ml-platform"},
)
