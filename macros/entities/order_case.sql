{#- The case of each order, one row per order_id: (order_id, case_id), its active order_cases
    link, else its latest one. The rows of the order_cases mart (built first: the ref puts it
    before the model). Read where a rule says "the order's case": operations (the payment's
    order), case_messages (the order of the comment's plan's instruction). Emitted inside a CTE
    indented by four spaces. -#}
{% macro order_case_rows() -%}
    select distinct on (order_cases.order_id)
        order_cases.order_id,
        order_cases.case_id
    from {{ ref('order_cases') }} as order_cases
    order by
        order_cases.order_id asc, order_cases.is_active desc, order_cases.created_at desc
{%- endmacro %}
