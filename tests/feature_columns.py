"""The churn feature mart's columns as the tests expect them: the dbt mart
`customer_activity_features`, the Feast view `customer_activity` and the simulator must agree
on these names (an independent oracle, not a platform list: the model layer reads its inputs
from the Feast feature service, `core.model_inputs`)."""

FEATURE_COLUMNS: tuple[str, ...] = (
    "nb_transactions_7d",
    "nb_transactions_30d",
    "total_amount_7d",
    "total_amount_30d",
    "avg_transaction_amount",
    "days_since_last_transaction",
    "support_tickets_30d",
    "support_tickets_90d",
    "tenure_days",
    "monthly_fee",
    "plan_tier",
)
CATEGORICAL_FEATURES: tuple[str, ...] = ("plan_tier",)
