{{ config(materialized='view') }}

{#- The toy readings, typed. Empty until raw.toy_readings exists, so a `dbt build` of another
    dataset never fails on this one. -#}

select
    device_id,
    reading_date,
    cast(temperature as decimal(18, 1)) as temperature,
    cast(errors as bigint) as errors
from {{ optional_source('raw', 'toy_readings', {
    'device_id': 'varchar',
    'reading_date': 'date',
    'temperature': 'decimal(18, 1)',
    'errors': 'bigint',
}) }}
