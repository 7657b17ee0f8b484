{#- Offers mapped to the Supabase shape (world.md 8.4), with their issues and the decision to
    apply each row. The doctor is read through the doctors mart and the product through the
    products mart (both built first). A doctor user that is no doctor holds the offer back
    (error); a doctor user or product gone from the legacy database leaves the column null with a
    warning, one not migrated yet too (retried until it lands). offer_amount is the highest price
    set, the description lists the prices set, order_id is null (the earlier scripts' latest
    order of the doctor is drift). An offer deleted in the legacy database becomes is_active =
    false with metadata.legacy_deleted_at (world.md 8.5). Considers the offers synced since the
    last applied run, those with open errors or waiting for a parent, and target offers whose
    legacy row was deleted before diffmig first synced it. -#}
{{ config(materialized='table', unlogged=true) }}

{{ entity_inputs('offers', 'stg_legacy__offers', 'legacy_offer_id',
    retry=['doctor_not_migrated', 'product_not_migrated']) }}

users as (
    select * from {{ ref('stg_legacy__users') }}
),

typed_users as (
    select * from {{ ref('int_profiles_typed') }}
),

legacy_products as (
    select * from {{ ref('stg_legacy__products') }}
),

doctors as (
    select
        id as doctor_id,
        legacy_user_id
    from {{ ref('doctors') }}
    where legacy_user_id is not null
),

products as (
    select
        id as product_id,
        legacy_product_id
    from {{ ref('products') }}
    where legacy_product_id is not null
),

mapped as (
    select
        keyed.target_id as id,
        doctors.doctor_id,
        products.product_id,
        considered.price_both,
        considered.price_upper,
        considered.price_lower,
        null::uuid as order_id,
        greatest(considered.price_both, considered.price_upper, considered.price_lower)
            as offer_amount,
        nullif(
            concat_ws(
                ', ',
                'Both: $' || considered.price_both,
                'Upper: $' || considered.price_upper,
                'Lower: $' || considered.price_lower
            ),
            ''
        ) as description,
        not considered.is_deleted_in_source as is_active,
        considered.legacy_offer_id,
        jsonb_build_object('legacy', jsonb_build_object(
            'doctor_id', considered.legacy_doctor_user_id,
            'product_id', considered.legacy_product_id
        ))
        || case
            when considered.is_deleted_in_source
                then jsonb_build_object('legacy_deleted_at', considered.source_deleted_at)
            else '{}'::jsonb
        end as metadata,
        considered.legacy_doctor_user_id as _legacy_doctor_user_id,
        users.legacy_user_id is not null
        and not users.is_deleted_in_source as _is_doctor_user_in_source,
        coalesce(typed_users.profile_type = 'doctor', false) as _is_doctor_user_a_doctor,
        considered.legacy_product_id as _legacy_product_id,
        legacy_products.legacy_product_id is not null
        and not legacy_products.is_deleted_in_source as _is_product_in_source,
        considered.is_deleted_in_source as _is_deleted_in_source,
        considered.synced_run > first_sync.synced_run as _is_changed_after_first_sync
    from considered
    inner join keyed on considered.legacy_offer_id = keyed.legacy_key
    cross join first_sync
    left join users on considered.legacy_doctor_user_id = users.legacy_user_id
    left join typed_users on considered.legacy_doctor_user_id = typed_users.legacy_user_id
    left join doctors on considered.legacy_doctor_user_id = doctors.legacy_user_id
    left join legacy_products on considered.legacy_product_id = legacy_products.legacy_product_id
    left join products on considered.legacy_product_id = products.legacy_product_id
),

{{ entity_decision('offers', 'legacy_offer_id',
    issues=[
        issue_when("compared._legacy_doctor_user_id is null and not compared._is_deleted_in_source",
            "warning", "offer_without_doctor", "'no doctor_id: doctor_id left null'"),
        issue_when("compared._legacy_doctor_user_id is not null and compared.doctor_id is null"
            ~ " and not compared._is_doctor_user_in_source and not compared._is_deleted_in_source",
            "warning", "doctor_missing",
            "format('doctor user %s does not exist in the legacy database and has no doctors row: doctor_id left null', compared._legacy_doctor_user_id)"),
        issue_when("compared.doctor_id is null and compared._is_doctor_user_in_source"
            ~ " and not compared._is_doctor_user_a_doctor and not compared._is_deleted_in_source",
            "error", "doctor_not_a_doctor",
            "format('doctor user %s is no doctor (not in the doctor group): held back', compared._legacy_doctor_user_id)"),
        missing_parent_issue('offers', 'doctor_id', "doctor_not_migrated",
            "compared.doctor_id is null and compared._is_doctor_user_in_source"
            ~ " and compared._is_doctor_user_a_doctor and not compared._is_deleted_in_source",
            "format('doctor user %s has no doctors row (held back or not yet migrated)', compared._legacy_doctor_user_id)"),
        issue_when("compared.product_id is null and not compared._is_product_in_source"
            ~ " and not compared._is_deleted_in_source",
            "warning", "product_missing",
            "format('product %s does not exist in the legacy database and has no products row: product_id left null', compared._legacy_product_id)"),
        missing_parent_issue('offers', 'product_id', "product_not_migrated",
            "compared.product_id is null and compared._is_product_in_source"
            ~ " and not compared._is_deleted_in_source",
            "format('product %s has no products row (held back or not yet migrated)', compared._legacy_product_id)"),
        issue_when("compared.offer_amount is null and not compared._is_deleted_in_source",
            "warning", "offer_without_prices",
            "'no price set: offer_amount and description left null'"),
    ],
    gone=[
        'null::integer as _legacy_doctor_user_id',
        'false as _is_doctor_user_in_source',
        'false as _is_doctor_user_a_doctor',
        'null::integer as _legacy_product_id',
        'false as _is_product_in_source',
        'true as _is_deleted_in_source',
        'false as _is_changed_after_first_sync',
    ],
    gone_when='targets.is_active is distinct from false or ' ~ not_applied(),
    compared_columns=['targets.offer_id is not null as _has_target_row'],
    no_issues_when='compared._is_deleted_in_source and not compared._has_target_row',
    applies=['checked._is_deleted_in_source'],
    deleted='checked._is_deleted_in_source',
    has_target='checked._has_target_row',
) }}
