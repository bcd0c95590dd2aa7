{#- The partition window Dagster passes as --vars (inclusive dates); defaults cover everything. -#}
{% macro window_start() %}date '{{ var("min_date") }}'{% endmacro %}
{% macro window_end() %}date '{{ var("max_date") }}'{% endmacro %}
{% macro in_window(column) %}{{ column }} between {{ window_start() }} and {{ window_end() }}{% endmacro %}

{#- Incremental models replace exactly the window: delete it first, then append it again.
    (delete+insert on a unique key would keep rows that disappeared from a re-ingested day.) -#}
{% macro delete_window(column) %}
    {% if is_incremental() %}
        delete from {{ this }} where {{ in_window(column) }}
    {% endif %}
{% endmacro %}
