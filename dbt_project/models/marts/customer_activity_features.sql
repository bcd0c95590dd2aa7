{{ config(pre_hook="{{ delete_window('feature_date') }}") }}

{#- For each ingested day in the window, every customer known by then: trailing-window
    aggregates over int_customer_daily_activity (up to 89 days back, so earlier days must have
    been built first; backfills run as one range). -#}

with days as (
    select distinct _partition_date as feature_date
    from {{ ref('stg_transactions') }}
    where {{ in_window('_partition_date') }}
),

customers as (
    select * from {{ ref('stg_customers') }}
),

activity as (
    select * from {{ ref('int_customer_daily_activity') }}
    where activity_date between {{ window_start() }} - interval 89 day and {{ window_end() }}
),

customer_days as (
    select
        d.feature_date,
        c.customer_id,
        c.signup_date,
        c.monthly_fee,
        c.plan_tier
    from days as d
    inner join customers as c
        on c.signup_date <= d.feature_date and c.known_since <= d.feature_date
),

windowed as (
    select
        cd.customer_id,
        cd.feature_date,
        cd.signup_date,
        cd.monthly_fee,
        cd.plan_tier,
        coalesce(sum(a.nb_transactions) filter (where a.activity_date > cd.feature_date - 7), 0)
            as nb_transactions_7d,
        coalesce(sum(a.nb_transactions) filter (where a.activity_date > cd.feature_date - 30), 0)
            as nb_transactions_30d,
        coalesce(sum(a.total_amount) filter (where a.activity_date > cd.feature_date - 7), 0)
            as total_amount_7d,
        coalesce(sum(a.total_amount) filter (where a.activity_date > cd.feature_date - 30), 0)
            as total_amount_30d,
        max(a.activity_date) filter (where a.nb_transactions > 0) as last_transaction_date,
        coalesce(sum(a.nb_tickets) filter (where a.activity_date > cd.feature_date - 30), 0)
            as support_tickets_30d,
        coalesce(sum(a.nb_tickets), 0) as support_tickets_90d
    from customer_days as cd
    left join activity as a
        on a.customer_id = cd.customer_id
        and a.activity_date between cd.feature_date - 89 and cd.feature_date
    group by all
)

select
    customer_id,
    feature_date,
    cast(feature_date + interval 1 day as timestamp) at time zone 'UTC' as event_timestamp,
    cast(feature_date + interval 1 day as timestamp) at time zone 'UTC' as created_timestamp,
    cast(nb_transactions_7d as bigint) as nb_transactions_7d,
    cast(nb_transactions_30d as bigint) as nb_transactions_30d,
    -- money stays DECIMAL (exact sums of exact cents): no DOUBLE column in this mart
    cast(total_amount_7d as decimal(18, 2)) as total_amount_7d,
    cast(total_amount_30d as decimal(18, 2)) as total_amount_30d,
    -- the only rounding of the average, defined once in macros/money.sql: one exact division,
    -- rounded half away from zero to 4 decimals
    {{ decimal_mean('total_amount_30d', 'nb_transactions_30d', 4) }} as avg_transaction_amount,
    cast(coalesce(
        date_diff('day', last_transaction_date, feature_date),
        least(date_diff('day', signup_date, feature_date), 90)
    ) as bigint) as days_since_last_transaction,
    cast(support_tickets_30d as bigint) as support_tickets_30d,
    cast(support_tickets_90d as bigint) as support_tickets_90d,
    cast(date_diff('day', signup_date, feature_date) as bigint) as tenure_days,
    cast(monthly_fee as decimal(18, 2)) as monthly_fee,
    cast(plan_tier as integer) as plan_tier
from windowed
