with source as (
    select * from {{ source('raw', 'support_tickets') }}
)

select
    ticket_id,
    customer_id,
    created_ts,
    cast(created_ts as date) as created_date,
    category,
    priority,
    _partition_date
from source
