with source as (
    select * from {{ source('raw', 'transactions') }}
)

select
    transaction_id,
    customer_id,
    transaction_ts,
    cast(transaction_ts as date) as transaction_date,
    amount,
    channel,
    _partition_date
from source
