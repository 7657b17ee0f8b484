{#- Treatment discussions mapped to the Supabase shape (world.md 8.4): one per dispatch_comment,
    the link of its comment (comments row of legacy_table 'dispatch_comment', required: a comment
    not migrated holds its discussion back) to its plan's treatment_plans row (optional: a plan
    gone from the legacy database, or not migrated, lands the discussion with treatment_plan_id
    null and a warning). treatment_plans may hold several rows of a legacy_plan_id (the earlier
    scripts' second copies): the kept one, the oldest, is the plan's row (as migration_mappings
    records it). Never visible to the patient. treatment_discussions has no soft-delete column: a
    deleted comment is reported and the discussion kept. Considers the comments synced since the
    last applied run, those held back or waiting for their plan, and target discussions whose
    legacy row was deleted before diffmig first synced it. -#}
{{ config(materialized='table', unlogged=true) }}

{{ entity_inputs('treatment_discussions', 'stg_legacy__comments', 'legacy_comment_id',
    retry=['plan_not_migrated'],
    target_id='treatment_discussion_id') }}

legacy_plans as (
    select * from {{ ref('stg_legacy__plans') }}
),

comments as (
    select
        id as comment_id,
        legacy_id
    from {{ ref('comments') }}
    where legacy_table = 'dispatch_comment' and legacy_id is not null
),

-- The plan's row: of several rows of a legacy_plan_id, the kept one (the oldest).
plans as (
    select distinct on (legacy_plan_id)
        id as treatment_plan_id,
        legacy_plan_id
    from {{ ref('treatment_plans') }}
    where legacy_plan_id is not null
    order by legacy_plan_id, {{ target_copy_order() }}
),

mapped as (
    select
        keyed.target_id as id,
        comments.comment_id,
        plans.treatment_plan_id,
        false as is_visible_to_patient,
        considered.legacy_comment_id,
        considered.legacy_plan_id as _legacy_plan_id,
        legacy_plans.legacy_plan_id is not null
        and not legacy_plans.is_deleted_in_source as _is_plan_in_source,
        considered.is_deleted_in_source as _is_deleted_in_source,
        false as _is_gone_before_first_sync,
        not considered.is_deleted_in_source
        and {{ changed_after_first_sync({'considered': 'first_sync'}) }}
            as _is_changed_after_first_sync
    from considered
    inner join keyed on considered.legacy_comment_id = keyed.legacy_key
    cross join first_sync
    left join comments on considered.legacy_comment_id = comments.legacy_id
    left join legacy_plans on considered.legacy_plan_id = legacy_plans.legacy_plan_id
    left join plans on considered.legacy_plan_id = plans.legacy_plan_id
),

{{ entity_decision('treatment_discussions', 'legacy_comment_id',
    issues=[
        missing_parent_issue('treatment_discussions', 'comment_id', "comment_not_migrated",
            "compared.comment_id is null",
            "format('comment %s is not in comments (held back or not yet migrated)', compared.legacy_comment_id)"),
        issue_when("compared._legacy_plan_id is not null and compared.treatment_plan_id is null"
            ~ " and not compared._is_plan_in_source",
            "warning", "plan_missing",
            "format('plan %s does not exist in the legacy database and has no treatment_plans row: treatment_plan_id left null', compared._legacy_plan_id)"),
        missing_parent_issue('treatment_discussions', 'treatment_plan_id', "plan_not_migrated",
            "compared._legacy_plan_id is not null and compared.treatment_plan_id is null"
            ~ " and compared._is_plan_in_source",
            "format('plan %s is not in treatment_plans (held back or not yet migrated)', compared._legacy_plan_id)"),
    ],
    gone=[
        'null::integer as _legacy_plan_id',
        'false as _is_plan_in_source',
        'true as _is_deleted_in_source',
        'true as _is_gone_before_first_sync',
        'false as _is_changed_after_first_sync',
    ],
    target_id='treatment_discussion_id',
    deletion_reported=true,
    row_name='comment',
) }}
