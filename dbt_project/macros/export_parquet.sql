{#- Write the partition window of a model as parquet, one hive folder per day
    (<dir>/<date_column>=YYYY-MM-DD/data0.parquet), replacing exactly those days, so Feast's
    offline store reads what dbt built. Numeric columns are written as DOUBLE: DuckDB reads a
    glob with the first file's schema, so every day must carry identical types. Rows are
    written in (date_column, key) order, `key` being the entity's join key. The data home's
    features/ folder must exist. -#}
{% macro export_daily_parquet(date_column, subdir, key='customer_id') %}
    {%- set numeric = ["bigint", "integer", "double", "decimal", "float", "hugeint", "smallint"] -%}
    {%- set cols = [] -%}
    {%- for col in adapter.get_columns_in_relation(this) -%}
        {%- if col.dtype | lower in numeric or (col.dtype | lower).startswith("decimal") -%}
            {%- do cols.append("cast(" ~ adapter.quote(col.name) ~ " as double) as " ~ adapter.quote(col.name)) -%}
        {%- else -%}
            {%- do cols.append(adapter.quote(col.name)) -%}
        {%- endif -%}
    {%- endfor %}
    copy (
        select {{ cols | join(", ") }}
        from {{ this }} where {{ in_window(date_column) }} order by {{ date_column }}, {{ adapter.quote(key) }}
    ) to '{{ var("features_export_dir") }}/{{ subdir }}'
    (format parquet, partition_by ({{ date_column }}), overwrite_or_ignore, filename_pattern 'data')
{% endmacro %}
