{#- Money is DECIMAL end to end: sums of DECIMAL are exact, so they do not depend on how DuckDB
    splits a parallel aggregation between threads (DOUBLE sums do, even rounded afterwards).

    decimal_mean(total, count, scale): total / count as DECIMAL(18, scale), rounded ONCE, half
    away from zero (0 when count is 0). `total` is an exact DECIMAL with at most `scale`
    decimals, `count` an integer. DuckDB would divide a DECIMAL in DOUBLE, so the quotient is
    taken exactly in integer units of 10^-scale: sign(t) * floor((2|t| + n) / 2n) with
    t = total * 10^scale. A single division of exact values: the same result on any machine
    and at any thread count. -#}
{% macro decimal_mean(total, count, scale=4) %}
    cast(
        case when {{ count }} > 0 then
            cast(
                sign({{ total }})
                * ((2 * abs(cast({{ total }} * {{ 10 ** scale }} as hugeint)) + {{ count }})
                    // (2 * {{ count }}))
                as decimal(18, 0)
            ) * {{ "1" if scale == 0 else "0." ~ "0" * (scale - 1) ~ "1" }}
        else 0 end
        as decimal(18, {{ scale }})
    )
{% endmacro %}
