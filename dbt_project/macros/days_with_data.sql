{#- The days a run builds: every day of the partition window (macros/partition_window.sql)
    from the first to the last day that has data in `relation`, as a one-column query `day`.

    Between those two days a day with no row is still built (calendar spine). After the last
    one it is not: a day with no data cannot be told from a day not ingested yet, and a mart
    built ahead of its data would be wrong until rebuilt. `offset_days` moves the first day
    later (e.g. labels that need `offset_days` of history). -#}
{% macro days_with_data(relation, date_column, offset_days=0) %}
    select cast(unnest(generate_series(lo, hi, interval 1 day)) as date) as day
    from (
        select
            greatest({{ window_start() }}, min({{ date_column }}) + {{ offset_days }}) as lo,
            least({{ window_end() }}, max({{ date_column }})) as hi,
            count({{ date_column }}) as n
        from {{ relation }}
    )
    {#- no data yet: no day (greatest and least skip NULLs) #}
    where n > 0 and lo <= hi
{% endmacro %}
