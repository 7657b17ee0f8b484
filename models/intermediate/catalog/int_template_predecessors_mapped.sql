{#- dispatch_template_predecessors rows mapped to `template_predecessors` (world.md 8.4): the pair
    of the template and the predecessor template, both required (read through their marts, built
    first): a parent gone from the legacy database holds the row back with a warning, a parent not
    migrated yet with an error (retried until it lands). The shape is the shared junction pattern
    (junction_mapped). -#}
{{ config(materialized='table', unlogged=true) }}

{{ junction_mapped(
    entity='template_predecessors',
    staged=ref('stg_legacy__template_predecessors'),
    parents=[
        {
            'column': 'template_id', 'key': 'legacy_template_id',
            'mart': ref('templates'), 'mart_key': 'legacy_template_id',
            'source': ref('stg_legacy__templates'), 'source_key': 'legacy_template_id',
        },
        {
            'column': 'predecessor_id', 'key': 'legacy_predecessor_template_id',
            'mart': ref('templates'), 'mart_key': 'legacy_template_id',
            'source': ref('stg_legacy__templates'), 'source_key': 'legacy_template_id',
        },
    ],
    retry=['template_missing', 'predecessor_missing'],
    issues=[
        issue_when("compared.template_id is null and not compared._is_template_id_in_source",
            "warning", "template_missing",
            "format('template %s does not exist in the legacy database: held back', compared._legacy_template_id)"),
        missing_parent_issue('template_predecessors', 'template_id', "template_not_migrated",
            "compared.template_id is null and compared._is_template_id_in_source",
            "format('template %s has no templates row (held back or not yet migrated)', compared._legacy_template_id)"),
        issue_when("compared.predecessor_id is null and not compared._is_predecessor_id_in_source",
            "warning", "predecessor_missing",
            "format('predecessor template %s does not exist in the legacy database: held back', compared._legacy_predecessor_id)"),
        missing_parent_issue('template_predecessors', 'predecessor_id', "predecessor_not_migrated",
            "compared.predecessor_id is null and compared._is_predecessor_id_in_source",
            "format('predecessor template %s has no templates row (held back or not yet migrated)', compared._legacy_predecessor_id)"),
        issue_when("compared._is_on_other_pair", "error", "legacy_id_on_other_pair",
            "format('dispatch_template_predecessors %s now holds another pair; its target row keeps the old one', compared.legacy_id)"),
        drift_issue(applies=['checked._is_deleted_in_source']),
    ],
) }}
