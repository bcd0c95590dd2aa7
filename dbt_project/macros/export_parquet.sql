{#- Write the partition window of a model as parquet, one hive folder per day
    (<dir>/<date_column>=YYYY-MM-DD/data0.parquet), replacing exactly those days, so Feast's
    offline store reads what dbt built. The data home's features/ folder must exist. -#}
{% macro export_daily_parquet(date_column, subdir) %}
    copy (
        select * from {{ this }} where {{ in_window(date_column) }} order by {{ date_column }}, customer_id
    ) to '{{ var("features_export_dir") }}/{{ subdir }}'
    (format parquet, partition_by ({{ date_column }}), overwrite_or_ignore, filename_pattern 'data')
{% endmacro %}
