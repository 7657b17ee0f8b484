{#- Jaws mapped to the Supabase shape (world.md section 5). The order and the jaw type come from
    the instruction that points at the jaw: upper_jaw_id -> upper, lower_jaw_id -> lower (a live
    instruction before one deleted in the source, then the lowest id; a jaw several instructions
    point at is reported; a jaw whose every instruction was deleted in the source keeps that
    order, with a warning). A jaw no instruction points at has no order: it is reported
    (`jaw_without_instruction`, error) and never guessed. The order is read through the orders
    mart, the product through the products mart (both built first); a missing one holds the jaw
    back. jaws has no soft-delete column: a jaw deleted in the source keeps its target row and
    gets a `deleted_in_source` warning. Considers the jaws synced since the last applied run,
    those pointed at by an instruction synced since (or whose target order's instruction was),
    those with open errors, and target jaws whose legacy jaw was deleted before diffmig first
    synced it. -#}
{{ config(materialized='table', unlogged=true) }}

{% call entity_inputs('jaws', 'stg_legacy__jaws', 'legacy_jaw_id', reconsider=[
    "staged.legacy_jaw_id in (select pointer_summary.legacy_jaw_id from pointer_summary where "
    ~ changed_since('pointer_summary') ~ ")",
    "staged.legacy_jaw_id in (select targets.legacy_jaw_id from targets inner join target_orders"
    ~ " on targets.order_id = target_orders.order_id where target_orders.legacy_instruction_id"
    ~ " in (select changed_instructions.legacy_instruction_id from changed_instructions))",
]) %}
instructions as (
    select * from {{ ref('stg_legacy__instructions') }}
),

reasons as (
    select * from {{ ref('jaw_replacement_reasons') }}
),

target_orders as (
    select * from {{ ref('stg_supabase__orders') }}
),

orders as (
    select
        id as order_id,
        legacy_instruction_id
    from {{ ref('orders') }}
    where legacy_instruction_id is not null
),

products as (
    select
        id as product_id,
        legacy_product_id
    from {{ ref('products') }}
    where legacy_product_id is not null
),

reason_fallback as (
    select reasons.replacement_reason
    from reasons
    where reasons.is_fallback
),

-- Every instruction column that points at a jaw.
pointers as (
    select
        instructions.legacy_upper_jaw_id as legacy_jaw_id,
        instructions.legacy_instruction_id,
        'upper' as jaw_type,
        instructions.is_deleted_in_source,
        instructions.synced_run
    from instructions
    where instructions.legacy_upper_jaw_id is not null
    union all
    select
        instructions.legacy_lower_jaw_id as legacy_jaw_id,
        instructions.legacy_instruction_id,
        'lower' as jaw_type,
        instructions.is_deleted_in_source,
        instructions.synced_run
    from instructions
    where instructions.legacy_lower_jaw_id is not null
),

pointer_summary as (
    select
        pointers.legacy_jaw_id,
        count(*) as pointer_count,
        count(*) filter (where not pointers.is_deleted_in_source) as live_pointer_count,
        string_agg(
            pointers.jaw_type || '_jaw_id of instruction ' || pointers.legacy_instruction_id, ', '
            order by pointers.legacy_instruction_id, pointers.jaw_type
        ) as pointer_list,
        max(pointers.synced_run) as synced_run
    from pointers
    group by pointers.legacy_jaw_id
),

chosen_pointers as (
    select distinct on (pointers.legacy_jaw_id)
        pointers.legacy_jaw_id,
        pointers.legacy_instruction_id,
        pointers.jaw_type
    from pointers
    order by
        pointers.legacy_jaw_id asc,
        pointers.is_deleted_in_source asc,
        pointers.legacy_instruction_id asc,
        pointers.jaw_type desc
),

-- Instructions synced since the last applied run: their target jaws are re-mapped too (an
-- instruction that now points at another jaw leaves its former jaw without an instruction).
changed_instructions as (
    select instructions.legacy_instruction_id
    from instructions
    where {{ changed_since('instructions') }}
),
{% endcall %}

mapped as (
    select
        keyed.target_id as id,
        orders.order_id,
        products.product_id,
        chosen_pointers.jaw_type,
        considered.is_labial as labial,
        considered.bond_teeth,
        considered.extract_teeth,
        coalesce(reasons.replacement_reason, reason_fallback.replacement_reason)
            as replacement_reason,
        considered.legacy_jaw_id,
        jsonb_build_object('legacy', jsonb_build_object(
            'reason', considered.reason_code,
            'instruction_id', chosen_pointers.legacy_instruction_id,
            'product_id', considered.legacy_product_id
        )) as metadata,
        chosen_pointers.legacy_instruction_id as _legacy_instruction_id,
        coalesce(pointer_summary.pointer_count, 0) as _pointer_count,
        coalesce(pointer_summary.live_pointer_count, 0) as _live_pointer_count,
        pointer_summary.pointer_list as _pointer_list,
        considered.legacy_product_id as _legacy_product_id,
        considered.reason_code as _reason_code,
        considered.reason_code is not null and reasons.reason_code is null
            as _is_unknown_reason,
        considered.is_deleted_in_source as _is_deleted_in_source,
        false as _is_gone_before_first_sync,
        not considered.is_deleted_in_source
        and considered.synced_run > first_sync.synced_run as _is_changed_after_first_sync
    from considered
    inner join keyed on considered.legacy_jaw_id = keyed.legacy_key
    cross join first_sync
    cross join reason_fallback
    left join pointer_summary on considered.legacy_jaw_id = pointer_summary.legacy_jaw_id
    left join chosen_pointers on considered.legacy_jaw_id = chosen_pointers.legacy_jaw_id
    left join orders on chosen_pointers.legacy_instruction_id = orders.legacy_instruction_id
    left join products on considered.legacy_product_id = products.legacy_product_id
    left join reasons on considered.reason_code = reasons.reason_code
),

{{ entity_decision('jaws', 'legacy_jaw_id',
    issues=[
        issue_when("compared._pointer_count = 0", "error", "jaw_without_instruction",
            "format('no instruction points at jaw %s (upper_jaw_id or lower_jaw_id): no order', compared.legacy_jaw_id)"),
        issue_when("compared._pointer_count > 0 and compared.order_id is null", "error",
            "order_not_migrated",
            "format('instruction %s has no order (held back or not yet migrated)', compared._legacy_instruction_id)"),
        issue_when("compared._pointer_count > 0 and compared._live_pointer_count = 0",
            "warning", "instruction_deleted_in_source",
            "format('no live instruction points at jaw %s any more (%s deleted in the legacy database): the jaw keeps that order', compared.legacy_jaw_id, compared._pointer_list)"),
        issue_when("compared._pointer_count > 1", "warning", "jaw_shared",
            "format('jaw pointed at by %s: mapped from instruction %s', compared._pointer_list, compared._legacy_instruction_id)"),
        issue_when("compared._legacy_product_id is not null and compared.product_id is null",
            "error", "product_not_migrated",
            "format('product %s is not in products', compared._legacy_product_id)"),
        issue_when("compared._is_unknown_reason", "warning", "unknown_replacement_reason",
            "format('reason %s is not in seed jaw_replacement_reasons: %s', compared._reason_code, compared.replacement_reason)"),
    ],
    gone=[
        'null::integer as _legacy_instruction_id',
        '0::bigint as _pointer_count',
        '0::bigint as _live_pointer_count',
        'null::text as _pointer_list',
        'null::integer as _legacy_product_id',
        'null::integer as _reason_code',
        'false as _is_unknown_reason',
        'true as _is_deleted_in_source',
        'true as _is_gone_before_first_sync',
        'false as _is_changed_after_first_sync',
    ],
    requires=['checked.order_id'],
    deletion_reported=true,
) }}
