{#- A source relation, or an empty relation with the given columns while the source table does
    not exist yet: a dataset that has not been ingested builds empty models instead of failing
    `dbt build` for every other dataset. A log line names the missing table. `columns` maps
    column name -> SQL type and must list every column the model reads. -#}
{% macro optional_source(source_name, table_name, columns) %}
    {%- set relation = source(source_name, table_name) -%}
    {%- if execute and load_relation(relation) is none -%}
        {{- log(relation ~ " does not exist yet (its source was never ingested): " ~ this ~ " is built empty", info=True) -}}
        (select
        {%- for name, type in columns.items() %}
            cast(null as {{ type }}) as {{ adapter.quote(name) }}{{ "," if not loop.last }}
        {%- endfor %}
        where false)
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{% endmacro %}
