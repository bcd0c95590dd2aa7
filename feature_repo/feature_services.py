"""Feature services: the named feature sets models are trained and scored on.

Training (get_historical_features) and scoring (get_online_features) both read `churn_model`, and
its name is recorded on every trained model version, so the two can never drift apart.
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
