{#- Products mapped to the Supabase shape (world.md section 5), with their issues and the decision
    to apply each row. Considers the products whose dispatch_product row or whose course changed
    since the last applied run (the course gives the course type), those with open errors, with
    reconcile those with open drift, and target products whose legacy row was deleted before
    diffmig first synced it (only is_active changes). -#}
{{ config(materialized='table', unlogged=true) }}

{{ entity_inputs('products', 'stg_legacy__products', 'legacy_product_id',
    parents={'stg_legacy__courses': 'legacy_course_id'}) }}

courses as (
    select * from {{ ref('stg_legacy__courses') }}
),

course_types as (
    select * from {{ ref('course_types') }}
),

fallback_course_type as (
    select course_types.course_type from course_types
    where course_types.is_fallback
),

resolved as (
    select
        considered.*,
        keyed.target_id,
        courses.course_type_code,
        courses.legacy_course_id is not null as is_course_found,
        case
            when courses.legacy_course_id is null then null
            else coalesce(course_types.course_type, fallback_course_type.course_type)
        end as course_type,
        courses.legacy_course_id is not null and course_types.course_type_code is null
            as is_course_type_unknown,
        nullif(btrim(considered.product_name), '') is null as is_name_blank,
        greatest(considered.synced_run, courses.synced_run) as changed_run
    from considered
    inner join keyed on considered.legacy_product_id = keyed.legacy_key
    cross join fallback_course_type
    left join courses on considered.legacy_course_id = courses.legacy_course_id
    left join course_types
        on courses.course_type_code = course_types.course_type_code and not course_types.is_fallback
),

mapped as (
    select
        resolved.target_id as id,
        coalesce(
            nullif(btrim(resolved.product_name), ''), 'Product ' || resolved.legacy_product_id
        ) as name,
        resolved.course_type,
        resolved.description,
        not resolved.is_deleted and not resolved.is_deleted_in_source as is_active,
        case
            when resolved.is_customization_invalid
                then jsonb_build_object('legacy_customization', resolved.customization_text)
            else resolved.customization
        end as customization,
        resolved.legacy_product_id,
        -- the legacy columns products has no place for
        jsonb_build_object('legacy', jsonb_build_object(
            'course_id', resolved.legacy_course_id,
            'course_type_code', resolved.course_type_code,
            'type', resolved.product_type_code,
            'free', resolved.is_free,
            'substitute', resolved.is_substitute
        )) as metadata,
        resolved.legacy_course_id as _legacy_course_id,
        resolved.is_course_found as _is_course_found,
        resolved.course_type_code as _legacy_course_type_code,
        resolved.is_course_type_unknown as _is_course_type_unknown,
        resolved.is_customization_invalid as _is_customization_invalid,
        resolved.is_name_blank as _is_name_blank,
        resolved.is_deleted_in_source as _is_deleted_in_source,
        resolved.changed_run > first_sync.synced_run as _is_changed_after_first_sync
    from resolved
    cross join first_sync
),

{{ entity_decision('products', 'legacy_product_id',
    issues=[
        issue_when("not compared._is_course_found", "warning", "course_not_found",
            "format('course %s is not in the source: course_type null', coalesce(compared._legacy_course_id::text, 'null'))"),
        issue_when("compared._is_course_type_unknown", "warning", "unknown_course_type",
            "format('type %s of course %s is not in course_types: course_type %s', coalesce(compared._legacy_course_type_code::text, 'null'), compared._legacy_course_id, compared.course_type)"),
        issue_when("compared._is_customization_invalid", "warning", "invalid_json_customization",
            "'customization is not valid JSON: written as an object with the text under legacy_customization'"),
        issue_when("compared._is_name_blank", "warning", "blank_name",
            "'name set to ' || compared.name"),
    ],
    gone=[
        'null::integer as _legacy_course_id',
        'true as _is_course_found',
        'null::integer as _legacy_course_type_code',
        'false as _is_course_type_unknown',
        'false as _is_customization_invalid',
        'false as _is_name_blank',
        'true as _is_deleted_in_source',
        'false as _is_changed_after_first_sync',
    ],
    gone_when='targets.is_active is distinct from false or ' ~ not_applied(),
    applies=[
        'checked._is_deleted_in_source',
    ],
) }}
