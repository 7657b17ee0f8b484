{#- The earlier scripts' public.migration_mappings, kept up to date: one row per target row of
    every keyed entity (its legacy key -> its UUID), inserted when the (entity_type, legacy_id)
    pair has none. Existing rows, the earlier scripts' junk included, are never updated or
    deleted (every non-key column is insert-only, so the upsert does `on conflict do nothing`).

    Adding an entity = one line in keyed_marts: (entity_type, mart, legacy key column), and a
    fourth item, a condition on the mart's rows, where the legacy key column alone is no key
    (comments: unique on (legacy_table, legacy_id), the rows of one legacy table). A mart
    with several rows of some legacy keys (duplicate_targets) maps each key to its kept row. The
    entity_type names keep the earlier scripts' ones where they exist; keyed_marts below lists
    every keyed entity in dependency order.
    The marts without a single legacy key (doctor_offices, order_cases, case_files,
    message_attachments) get no mapping rows; list them in unkeyed_marts so that this model is
    still built after every other mart. -#}
{%- set keyed_marts = [
    ('office', 'offices', 'legacy_office_id'),
    ('profile', 'profiles', 'legacy_user_id'),
    ('doctor', 'doctors', 'legacy_user_id'),
    ('technician', 'technicians', 'legacy_user_id'),
    ('patient', 'patients', 'legacy_patient_id'),
    ('product', 'products', 'legacy_product_id'),
    ('order', 'orders', 'legacy_instruction_id'),
    ('case', 'cases', 'legacy_patient_id'),
    ('jaw', 'jaws', 'legacy_jaw_id'),
    ('file', 'files', 'legacy_file_id'),
    ('message', 'messages', 'legacy_record_id'),
    ('order_state', 'order_states', 'legacy_state_id'),
    ('payment', 'payments', 'legacy_payment_id'),
    ('system_message', 'system_messages', 'legacy_record_id'),
    ('team', 'teams', 'legacy_group_id'),
    ('category', 'categories', 'legacy_category_id'),
    ('role', 'roles', 'legacy_id'),
    ('role_permission', 'role_permissions', 'legacy_id'),
    ('template', 'templates', 'legacy_template_id'),
    ('template_product', 'template_products', 'legacy_id'),
    ('template_view_role', 'template_view_roles', 'legacy_id'),
    ('template_edit_role', 'template_edit_roles', 'legacy_id'),
    ('template_view_group', 'template_view_groups', 'legacy_id'),
    ('template_predecessor', 'template_predecessors', 'legacy_id'),
    ('project', 'projects', 'legacy_project_id'),
    ('bracket', 'brackets', 'legacy_bracket_id'),
    ('treatment_plan', 'treatment_plans', 'legacy_plan_id'),
    ('comment', 'comments', 'legacy_id', "legacy_table = 'dispatch_comment'"),
    ('treatment_discussion', 'treatment_discussions', 'legacy_comment_id'),
    ('case_message', 'case_messages', 'legacy_message_id'),
    ('task', 'tasks', 'legacy_task_id'),
    ('operation', 'operations', 'legacy_operation_id'),
    ('offer', 'offers', 'legacy_offer_id'),
    ('discount', 'discounts', 'legacy_discount_id'),
] -%}
{%- set unkeyed_marts = ['doctor_offices', 'order_cases', 'case_files', 'message_attachments'] -%}

{{
    config(
        unique_key=['entity_type', 'legacy_id'],
        tags=['migration_mappings'],
        insert_only_columns=['new_id', 'migrated_at', 'migration_batch'],
    )
}}
{% for mart in unkeyed_marts %}
-- built after {{ ref(mart) }}
{% endfor %}

with

{% for keyed_mart in keyed_marts %}
    {%- set entity_type, mart, legacy_key = keyed_mart[0], keyed_mart[1], keyed_mart[2] %}
    {%- set rows_where = keyed_mart[3] if keyed_mart | length > 3 else none %}
    {%- set copies = duplicate_targets(mart) is not none %}
    {{ mart }}_rows as (
        select{% if copies %} distinct on ({{ legacy_key }}){% endif %}
            '{{ entity_type }}' as entity_type,
            {{ legacy_key }} as legacy_id,
            id as new_id
        from {{ ref(mart) }}
        where {{ legacy_key }} is not null{% if rows_where %} and {{ rows_where }}{% endif %}
        {%- if copies %}
            -- several rows of a key (entity_pattern's duplicate_targets): the kept one, the oldest
            order by {{ legacy_key }}, {{ target_copy_order() }}
        {%- endif %}
    ),
{% endfor %}

target_rows as (
    {% for keyed_mart in keyed_marts %}
        select * from {{ keyed_mart[1] }}_rows
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

already_mapped as (
    select
        entity_type,
        legacy_id
    from {{ this }}
),

new_mappings as (
    select
        target_rows.entity_type::varchar as entity_type,
        target_rows.legacy_id::integer as legacy_id,
        target_rows.new_id,
        (now() at time zone 'utc')::timestamp as migrated_at,
        'diffmig-run-{{ var("run_id", 0) | int }}'::varchar as migration_batch
    from target_rows
    left join already_mapped
        on
            target_rows.entity_type = already_mapped.entity_type
            and target_rows.legacy_id = already_mapped.legacy_id
    where already_mapped.legacy_id is null
)

select * from new_mappings
