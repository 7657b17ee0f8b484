{#- Payments mapped to the Supabase shape (world.md section 5). The order is found by instruction
    through the orders mart (built first): a payment without an instruction, or whose instruction
    no longer exists in the legacy database, is migrated with order_id null and a warning, and
    so is one whose instruction's order is held back (order_id is an optional reference, declared
    in payments.yml: warning order_not_migrated, retried until the order lands). amount is
    total_price (an amount that does not fit numeric(10,2) holds the row back); the other money
    columns, the flags and installments (parsed) go to metadata. payments has no soft-delete
    column: a payment deleted in the source keeps its target row and gets a `deleted_in_source`
    warning. Considers the payments synced since the last applied run, those with open errors,
    and target payments whose legacy payment was deleted before diffmig first synced it. -#}
{{ config(materialized='table', unlogged=true) }}

{{ entity_inputs('payments', 'stg_legacy__payments', 'legacy_payment_id',
    retry=['order_not_migrated']) }}

instructions as (
    select * from {{ ref('stg_legacy__instructions') }}
),

orders as (
    select
        id as order_id,
        legacy_instruction_id
    from {{ ref('orders') }}
    where legacy_instruction_id is not null
),

mapped as (
    select
        keyed.target_id as id,
        orders.order_id,
        round(considered.total_price, 2) as amount,
        case
            when considered.is_canceled then 'cancelled'
            when considered.is_paid then 'completed'
            else 'pending'
        end as status,
        case
            when considered.is_free then null
            when considered.is_netsuite then 'other'
            else 'card'
        end as payment_method,
        considered.made_at as processed_at,
        considered.legacy_payment_id,
        jsonb_build_object('legacy', jsonb_strip_nulls(jsonb_build_object(
            'tax_rate', considered.tax_rate,
            'tax_value', considered.tax_value,
            'paid_price', considered.paid_price,
            'used_credit', considered.used_credit,
            'custom_price', considered.custom_price,
            'subtotal_price', considered.subtotal_price,
            'additional_price', considered.additional_price,
            'total_price', considered.total_price,
            'installments', considered.installments,
            'installments_text', case
                when considered.is_installments_invalid then considered.installments_text
            end,
            'free', considered.is_free,
            'canceled', considered.is_canceled,
            'paid', considered.is_paid,
            'netsuite', considered.is_netsuite,
            'instruction_id', considered.legacy_instruction_id,
            'doctor_id', considered.legacy_doctor_user_id,
            'office_id', considered.legacy_office_id
        ))) as metadata,
        considered.legacy_instruction_id as _legacy_instruction_id,
        instructions.legacy_instruction_id is not null
        and not instructions.is_deleted_in_source as _is_instruction_in_source,
        considered.total_price as _legacy_total_price,
        considered.is_installments_invalid as _is_installments_invalid,
        considered.is_deleted_in_source as _is_deleted_in_source,
        false as _is_gone_before_first_sync,
        not considered.is_deleted_in_source
        and considered.synced_run > first_sync.synced_run as _is_changed_after_first_sync
    from considered
    inner join keyed on considered.legacy_payment_id = keyed.legacy_key
    cross join first_sync
    left join instructions
        on considered.legacy_instruction_id = instructions.legacy_instruction_id
    left join orders on considered.legacy_instruction_id = orders.legacy_instruction_id
),

{{ entity_decision('payments', 'legacy_payment_id',
    issues=[

        issue_when("compared._legacy_instruction_id is null", "warning",
            "payment_without_instruction", "'no instruction: order_id left null'"),
        issue_when("compared._legacy_instruction_id is not null and compared.order_id is null"
            ~ " and not compared._is_instruction_in_source",
            "warning", "instruction_missing",
            "format('instruction %s does not exist in the legacy database and has no order: order_id left null', compared._legacy_instruction_id)"),
        missing_parent_issue('payments', 'order_id', "order_not_migrated",
            "compared._legacy_instruction_id is not null and compared.order_id is null"
            ~ " and compared._is_instruction_in_source",
            "format('instruction %s has no order (held back or not yet migrated)', compared._legacy_instruction_id)"),
        issue_when(numeric_overflows("compared._legacy_total_price", 10, 2), "error",
            "amount_out_of_range",
            "format('total_price %s does not fit numeric(10,2)', compared._legacy_total_price)"),
        issue_when("compared._is_installments_invalid", "warning", "invalid_json_installments",
            "'installments is not valid JSON: kept as metadata.legacy.installments_text'"),
    ],
    gone=[
        'null::integer as _legacy_instruction_id',
        'false as _is_instruction_in_source',
        'targets.amount as _legacy_total_price',
        'false as _is_installments_invalid',
        'true as _is_deleted_in_source',
        'true as _is_gone_before_first_sync',
        'false as _is_changed_after_first_sync',
    ],
    deletion_reported=true,
) }}
