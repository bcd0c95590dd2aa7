{{ config(pre_hook="{{ delete_window('feature_date') }}") }}

{#- For each day of the window, every CDNOW customer known by then (first purchase on or before
    that day), as of the end of the day: recency, frequency, money and quantities over trailing
    windows that include the day itself, and lifetime. Reads all activity up to the window's
    end (lifetime aggregates), so earlier days must have been ingested and built first. -#}

with activity as (
    select * from {{ ref('int_cdnow_customer_daily') }}
    where activity_date <= {{ window_end() }}
),

days as (
    select day as feature_date
    from ({{ days_with_data(ref('int_cdnow_customer_daily'), 'activity_date') }})
),

first_purchases as (
    select customer_id, min(activity_date) as first_purchase_date
    from activity
    group by all
),

customer_days as (
    select d.feature_date, f.customer_id, f.first_purchase_date
    from days as d
    inner join first_purchases as f on f.first_purchase_date <= d.feature_date
),

windowed as (
    select
        cd.customer_id,
        cd.feature_date,
        cd.first_purchase_date,
        max(a.activity_date) as last_purchase_date,
        sum(a.nb_purchases) filter (where a.activity_date > cd.feature_date - 30)
            as nb_purchases_30d,
        sum(a.nb_purchases) filter (where a.activity_date > cd.feature_date - 90)
            as nb_purchases_90d,
        sum(a.nb_purchases) filter (where a.activity_date > cd.feature_date - 365)
            as nb_purchases_365d,
        sum(a.nb_purchases) as nb_purchases_lifetime,
        count(*) as purchase_days_lifetime,
        sum(a.total_amount) filter (where a.activity_date > cd.feature_date - 90) as amount_90d,
        sum(a.total_amount) as amount_lifetime,
        sum(a.quantity) filter (where a.activity_date > cd.feature_date - 90) as quantity_90d,
        sum(a.quantity) as quantity_lifetime
    from customer_days as cd
    inner join activity as a
        on a.customer_id = cd.customer_id
        and a.activity_date <= cd.feature_date
    group by all
)

select
    customer_id,
    feature_date,
    cast(feature_date + interval 1 day as timestamp) at time zone 'UTC' as event_timestamp,
    cast(feature_date + interval 1 day as timestamp) at time zone 'UTC' as created_timestamp,
    cast(date_diff('day', last_purchase_date, feature_date) as bigint) as recency_days,
    cast(date_diff('day', first_purchase_date, feature_date) as bigint) as tenure_days,
    cast(coalesce(nb_purchases_30d, 0) as bigint) as nb_purchases_30d,
    cast(coalesce(nb_purchases_90d, 0) as bigint) as nb_purchases_90d,
    cast(coalesce(nb_purchases_365d, 0) as bigint) as nb_purchases_365d,
    cast(nb_purchases_lifetime as bigint) as nb_purchases_lifetime,
    cast(purchase_days_lifetime as bigint) as purchase_days_lifetime,
    -- money stays DECIMAL (exact sums of exact cents): no DOUBLE column in this mart
    cast(coalesce(amount_90d, 0) as decimal(18, 2)) as amount_90d,
    cast(amount_lifetime as decimal(18, 2)) as amount_lifetime,
    -- the one rounding, defined in macros/money.sql: exact division, half away from zero
    {{ decimal_mean('amount_lifetime', 'nb_purchases_lifetime', 4) }} as avg_basket_amount,
    cast(coalesce(quantity_90d, 0) as bigint) as quantity_90d,
    cast(quantity_lifetime as bigint) as quantity_lifetime
from windowed
