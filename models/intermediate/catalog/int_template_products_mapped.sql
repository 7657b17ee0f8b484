{#- dispatch_template_products rows mapped to `template_products` (world.md 8.4): the pair of
    the template and the product, both required (read through their marts, built first): a
    parent gone from the legacy database holds the row back with a warning, a parent not
    migrated yet with an error (retried until it lands). A junction keyed by its legacy row's
    id, which the target row carries (junction row_keyed): a deleted row deactivates the target
    row that holds its legacy id, on that row's pair, unless its pair lives on in another legacy
    row. -#}
{{ config(materialized='table', unlogged=true) }}

{%- set junction = {
    'parents': {
        'template_id': 'templates.legacy_template_id',
        'product_id': 'products.legacy_product_id',
    },
    'row_keyed': true,
} %}

{% call entity_inputs('template_products', 'stg_legacy__template_products', 'legacy_id',
    retry=['template_missing', 'product_missing'], target_id='junction_id', junction=junction) %}
-- The parents written (their marts run first): considered resolves each row's pair with them.
templates as (
    select
        id as template_id,
        legacy_template_id
    from {{ ref('templates') }}
    where legacy_template_id is not null
),

products as (
    select
        id as product_id,
        legacy_product_id
    from {{ ref('products') }}
    where legacy_product_id is not null
),
{% endcall %}

legacy_templates as (
    select legacy_template_id from {{ ref('stg_legacy__templates') }}
    where not is_deleted_in_source
),

legacy_products as (
    select legacy_product_id from {{ ref('stg_legacy__products') }}
    where not is_deleted_in_source
),

mapped as (
    select
        coalesce(
            considered.existing_junction_id,
            {{ legacy_uuid('template_products', 'considered.legacy_id') }}
        ) as id,
        considered.template_id,
        considered.product_id,
        not considered.is_deleted_in_source as is_active,
        considered.legacy_id,
        considered.legacy_template_id as _legacy_template_id,
        legacy_templates.legacy_template_id is not null as _is_template_id_in_source,
        considered.legacy_product_id as _legacy_product_id,
        legacy_products.legacy_product_id is not null as _is_product_id_in_source,
        considered._is_on_other_pair,
        considered.is_deleted_in_source as _is_deleted_in_source,
        considered.synced_run > first_sync.synced_run as _is_changed_after_first_sync
    from considered
    cross join first_sync
    left join legacy_templates
        on considered.legacy_template_id = legacy_templates.legacy_template_id
    left join legacy_products on considered.legacy_product_id = legacy_products.legacy_product_id
),

{# A deletion deactivates a target row; without one, or when its pair lives on in another legacy
    row, there is nothing to do or report. -#}
{{ entity_decision('template_products', 'legacy_id',
    issues=[
        issue_when("compared.template_id is null and not compared._is_template_id_in_source",
            "warning", "template_missing",
            "format('template %s does not exist in the legacy database: held back', compared._legacy_template_id)"),
        missing_parent_issue('template_products', 'template_id', "template_not_migrated",
            "compared.template_id is null and compared._is_template_id_in_source",
            "format('template %s has no templates row (held back or not yet migrated)', compared._legacy_template_id)"),
        issue_when("compared.product_id is null and not compared._is_product_id_in_source",
            "warning", "product_missing",
            "format('product %s does not exist in the legacy database: held back', compared._legacy_product_id)"),
        missing_parent_issue('template_products', 'product_id', "product_not_migrated",
            "compared.product_id is null and compared._is_product_id_in_source",
            "format('product %s has no products row (held back or not yet migrated)', compared._legacy_product_id)"),
        issue_when("compared._is_on_other_pair", "error", "legacy_id_on_other_pair",
            "format('dispatch_template_products %s now holds another pair; its target row keeps the old one', compared.legacy_id)"),
    ],
    gone=[
        'null::integer as _legacy_template_id',
        'false as _is_template_id_in_source',
        'null::integer as _legacy_product_id',
        'false as _is_product_id_in_source',
        'false as _is_on_other_pair',
        'true as _is_deleted_in_source',
        'false as _is_changed_after_first_sync',
    ],
    no_issues_when='compared._is_deleted_in_source',
    requires=['checked.template_id', 'checked.product_id'],
    applies=['checked._is_deleted_in_source'],
    target_id='junction_id',
    junction=junction,
) }}
