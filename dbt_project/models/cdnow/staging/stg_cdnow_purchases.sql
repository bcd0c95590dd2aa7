{#- The replayed CDNOW purchases, typed. Empty (with a log line) until raw.cdnow_purchases
    exists, so `dbt build` works in a warehouse holding only another dataset. -#}

with source as (
    select * from {{ optional_source('raw', 'cdnow_purchases', {
        'purchase_id': 'varchar',
        'customer_id': 'varchar',
        'purchase_date': 'date',
        'original_date': 'date',
        'quantity': 'bigint',
        'amount': 'decimal(18, 2)',
        '_partition_date': 'date',
    }) }}
)

select
    purchase_id,
    customer_id,
    purchase_date,
    original_date,
    cast(quantity as bigint) as quantity,
    -- DECIMAL(18,2) as landed: exact cents, summed exactly downstream
    cast(amount as decimal(18, 2)) as amount,
    _partition_date
from source
