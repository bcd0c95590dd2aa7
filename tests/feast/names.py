"""The churn objects of feature_repo/ the Feast tests use.

Platform code (core/feature_store) names none of them: callers pass the service or view they
mean, and join keys come from the registry. Tests may name them; they do it here, once.
"""

SERVICE = "churn_model"  # feature_repo/feature_services.py
VIEW = "customer_activity"  # feature_repo/feature_views.py
ODFV = "customer_activity_ratios"  # feature_repo/feature_views.py (on-demand)
JOIN_KEY = "customer_id"  # feature_repo/entities.py, entity `customer`
