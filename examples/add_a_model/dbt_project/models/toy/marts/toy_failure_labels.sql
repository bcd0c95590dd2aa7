{{ config(
    materialized='incremental',
    on_schema_change='fail',
    pre_hook="{{ delete_window('label_arrived_date') }}",
) }}

{#- "Reports an error within 7 days": for observation day D and every device seen on or before
    D, 1 if it reports an error in (D, D + 7]. Known once D + 7 has landed, so the label's
    partition is label_arrived_date = D + 7. -#}

with readings as (
    select * from {{ ref('stg_toy_readings') }}
    where reading_date <= {{ window_end() }}
),

arrivals as (
    select day as label_arrived_date, day - 7 as observation_date
    from ({{ days_with_data(ref('stg_toy_readings'), 'reading_date', 7) }})
),

observed as (
    select a.observation_date, a.label_arrived_date, r.device_id
    from arrivals as a
    inner join readings as r on r.reading_date = a.observation_date
)

select
    o.device_id,
    o.observation_date,
    cast(o.observation_date + interval 1 day as timestamp) at time zone 'UTC' as event_timestamp,
    cast(coalesce(max(r.errors) > 0, false) as integer) as failed_7d,
    o.label_arrived_date
from observed as o
left join readings as r
    on r.device_id = o.device_id
    and r.reading_date > o.observation_date
    and r.reading_date <= o.label_arrived_date
group by all
