{{ config(pre_hook="{{ delete_window('activity_date') }}") }}

with transactions as (
    select * from {{ ref('stg_transactions') }}
    where {{ in_window('transaction_date') }}
),

tickets as (
    select * from {{ ref('stg_support_tickets') }}
    where {{ in_window('created_date') }}
),

daily_transactions as (
    select
        customer_id,
        transaction_date as activity_date,
        count(*) as nb_transactions,
        -- amount is DECIMAL(18,2): an exact sum, the same whatever the thread scheduling
        -- (a DOUBLE sum is not, even rounded afterwards)
        sum(amount) as total_amount
    from transactions
    group by all
),

daily_tickets as (
    select
        customer_id,
        created_date as activity_date,
        count(*) as nb_tickets
    from tickets
    group by all
)

select
    customer_id,
    activity_date,
    coalesce(t.nb_transactions, 0) as nb_transactions,
    cast(coalesce(t.total_amount, 0) as decimal(18, 2)) as total_amount,
    coalesce(k.nb_tickets, 0) as nb_tickets
from daily_transactions as t
full outer join daily_tickets as k using (customer_id, activity_date)
