with source as (
    select * from {{ source('raw', 'customers') }}
),

latest as (
    select *
    from source
    qualify row_number() over (partition by customer_id order by _partition_date desc) = 1
)

select
    customer_id,
    signup_date,
    _partition_date as known_since,
    plan,
    case plan when 'basic' then 1 when 'standard' then 2 when 'premium' then 3 end as plan_tier,
    region,
    age,
    monthly_fee
from latest
