with source as (
    select * from {{ source('raw', 'churn_labels') }}
)

select
    customer_id,
    observation_date,
    churned,
    _partition_date as label_arrived_date
from source
