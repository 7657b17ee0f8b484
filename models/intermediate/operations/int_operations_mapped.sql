{#- Operations mapped to the Supabase shape (world.md 8.4), with their issues and the decision to
    apply each row. The payment is read through the payments mart and its order's case through
    the order_cases mart (both built first). payment_id is an optional reference: a payment gone
    from the legacy database leaves it null with a warning, one not migrated too (retried until
    it lands); case_id is the payment's order's case, null with a warning (retried) while the
    payment has no order or the order no case. The type goes through the seed operation_types
    (fallback payment, with a warning). operations has no soft-delete column: an operation
    deleted in the source keeps its target row and gets a `deleted_in_source` warning. Considers
    the operations synced since the last applied run, those whose payment changed since, those
    with open errors or waiting for a parent, and target operations whose legacy row was deleted
    before diffmig first synced it. -#}
{{ config(materialized='table', unlogged=true) }}

{{ entity_inputs('operations', 'stg_legacy__operations', 'legacy_operation_id',
    retry=['payment_not_migrated', 'case_not_found'],
    parents={'stg_legacy__payments': 'legacy_payment_id'}) }}

legacy_payments as (
    select * from {{ ref('stg_legacy__payments') }}
),

payments as (
    select
        id as payment_id,
        order_id,
        legacy_payment_id
    from {{ ref('payments') }}
    where legacy_payment_id is not null
),

-- The case of each order: its active link, else its latest one.
order_case as (
    {{ order_case_rows() }}
),

operation_types as (
    select * from {{ ref('operation_types') }}
),

type_fallback as (
    select operation_types.operation_type
    from operation_types
    where operation_types.is_fallback
),

mapped as (
    select
        keyed.target_id as id,
        payments.payment_id,
        order_case.case_id,
        coalesce(operation_types.operation_type, type_fallback.operation_type) as operation_type,
        considered.price as amount,
        case when considered.made_at is not null then 'completed' else 'pending' end as status,
        jsonb_build_object(
            'sq_order_id', considered.square_order_id,
            'sq_payment_id', considered.square_payment_id,
            'sq_refund_id', considered.square_refund_id,
            'card_brand', considered.card_brand,
            'card_bin', considered.card_bin,
            'card_last', considered.card_last,
            'office_card', considered.is_office_card,
            'attempts', considered.attempts
        ) as operation_data,
        -- a pending operation keeps the creation time it has (now() for a new row)
        coalesce(considered.made_at, targets.created_at, now()) as created_at,
        considered.legacy_operation_id,
        considered.legacy_operation_id as legacy_id,
        jsonb_build_object('legacy', jsonb_build_object(
            'payment_id', considered.legacy_payment_id,
            'type', considered.type_code
        )) as metadata,
        considered.legacy_payment_id as _legacy_payment_id,
        legacy_payments.legacy_payment_id is not null
        and not legacy_payments.is_deleted_in_source as _is_payment_in_source,
        considered.type_code as _type_code,
        operation_types.operation_type is null as _is_unknown_type,
        considered.is_deleted_in_source as _is_deleted_in_source,
        false as _is_gone_before_first_sync,
        not considered.is_deleted_in_source
        and {{ changed_after_first_sync({'considered': 'first_sync'}) }}
            as _is_changed_after_first_sync
    from considered
    inner join keyed on considered.legacy_operation_id = keyed.legacy_key
    cross join first_sync
    cross join type_fallback
    left join targets on considered.legacy_operation_id = targets.legacy_operation_id
    left join legacy_payments on considered.legacy_payment_id = legacy_payments.legacy_payment_id
    left join payments on considered.legacy_payment_id = payments.legacy_payment_id
    left join order_case on payments.order_id = order_case.order_id
    left join operation_types on considered.type_code = operation_types.type_code
),

{{ entity_decision('operations', 'legacy_operation_id',
    issues=[
        issue_when("compared.payment_id is null and not compared._is_payment_in_source",
            "warning", "payment_missing",
            "format('payment %s does not exist in the legacy database and has no payments row: payment_id and case_id left null', compared._legacy_payment_id)"),
        missing_parent_issue('operations', 'payment_id', "payment_not_migrated",
            "compared.payment_id is null and compared._is_payment_in_source",
            "format('payment %s has no payments row (held back or not yet migrated)', compared._legacy_payment_id)"),
        issue_when("compared.payment_id is not null and compared.case_id is null", "warning",
            "case_not_found",
            "format('payment %s has no order with a case (yet): case_id left null', compared._legacy_payment_id)"),
        issue_when("compared._is_unknown_type", "warning", "unknown_operation_type",
            "format('type %s is not in seed operation_types: operation_type set to %s', coalesce(compared._type_code::text, 'null'), compared.operation_type)"),
    ],
    gone=[
        'null::integer as _legacy_payment_id',
        'false as _is_payment_in_source',
        'null::integer as _type_code',
        'false as _is_unknown_type',
        'true as _is_deleted_in_source',
        'true as _is_gone_before_first_sync',
        'false as _is_changed_after_first_sync',
    ],
    deletion_reported=true,
) }}
