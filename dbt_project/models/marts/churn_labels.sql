{{ config(pre_hook="{{ delete_window('label_arrived_date') }}") }}

with labels as (
    select * from {{ ref('stg_churn_labels') }}
    where {{ in_window('label_arrived_date') }}
)

select
    customer_id,
    observation_date,
    cast(observation_date + interval 1 day as timestamp) at time zone 'UTC' as event_timestamp,
    cast(churned as integer) as churned,
    label_arrived_date
from labels
