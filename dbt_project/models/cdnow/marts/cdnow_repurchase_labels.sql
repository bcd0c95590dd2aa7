{{ config(pre_hook="{{ delete_window('label_arrived_date') }}") }}

{#- "Buys again within 90 days": for observation day D and every customer known on D (first
    purchase on or before D), 1 if the customer has a purchase in (D, D + 90]. That is only
    known once D + 90 has landed, so the label's partition is label_arrived_date = D + 90: a
    run over a window of arrival days labels the observation days 90 days earlier. -#}

with activity as (
    select * from {{ ref('int_cdnow_customer_daily') }}
    where activity_date <= {{ window_end() }}
),

arrivals as (
    select day as label_arrived_date, day - 90 as observation_date
    from ({{ days_with_data(ref('int_cdnow_customer_daily'), 'activity_date', 90) }})
),

first_purchases as (
    select customer_id, min(activity_date) as first_purchase_date
    from activity
    group by all
),

observed as (
    select a.observation_date, a.label_arrived_date, f.customer_id
    from arrivals as a
    inner join first_purchases as f on f.first_purchase_date <= a.observation_date
),

bought_again as (
    select distinct o.customer_id, o.observation_date
    from observed as o
    inner join activity as a
        on a.customer_id = o.customer_id
        and a.activity_date > o.observation_date
        and a.activity_date <= o.label_arrived_date
)

select
    o.customer_id,
    o.observation_date,
    cast(o.observation_date + interval 1 day as timestamp) at time zone 'UTC' as event_timestamp,
    cast(b.customer_id is not null as integer) as repurchased_90d,
    o.label_arrived_date
from observed as o
left join bought_again as b using (customer_id, observation_date)
