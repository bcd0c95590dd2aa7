{{ config(pre_hook="{{ delete_window('activity_date') }}") }}

{#- One row per customer per day with at least one purchase. Incremental per partition day:
    the window is deleted and rebuilt whole, so a re-ingested day never keeps stale rows. -#}

with purchases as (
    select * from {{ ref('stg_cdnow_purchases') }}
    where {{ in_window('purchase_date') }}
)

select
    customer_id,
    purchase_date as activity_date,
    cast(count(*) as bigint) as nb_purchases,
    cast(sum(quantity) as bigint) as quantity,
    -- a sum of DECIMAL(18,2) is exact: the same at any thread count
    cast(sum(amount) as decimal(18, 2)) as total_amount
from purchases
group by all
