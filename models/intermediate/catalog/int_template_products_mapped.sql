{#- dispatch_template_products rows mapped to `template_products` (world.md 8.4): the pair of the
    template and the product, both required (read through their marts, built first): a parent gone
    from the legacy database holds the row back with a warning, a parent not migrated yet with an
    error (retried until it lands). The shape is the shared junction pattern (junction_mapped). -#}
{{ config(materialized='table', unlogged=true) }}

{{ junction_mapped(
    entity='template_products',
    staged=ref('stg_legacy__template_products'),
    parents=[
        {
            'column': 'template_id', 'key': 'legacy_template_id',
            'mart': ref('templates'), 'mart_key': 'legacy_template_id',
            'source': ref('stg_legacy__templates'), 'source_key': 'legacy_template_id',
        },
        {
            'column': 'product_id', 'key': 'legacy_product_id',
            'mart': ref('products'), 'mart_key': 'legacy_product_id',
            'source': ref('stg_legacy__products'), 'source_key': 'legacy_product_id',
        },
    ],
    retry=['template_missing', 'product_missing'],
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
        drift_issue(applies=['checked._is_deleted_in_source']),
    ],
) }}
