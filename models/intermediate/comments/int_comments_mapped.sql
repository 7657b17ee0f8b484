{#- Comments mapped to the Supabase shape (world.md 8.4): every dispatch_comment is a comment of
    type treatment_discussion, keyed on (legacy_table 'dispatch_comment', legacy_id): the target
    staging model fixes legacy_table, so legacy_id is the frame's key (the staged rows call it
    legacy_comment_id). content is the text as it is, a blank one '' (warned: the earlier
    scripts skipped those); the plan goes to metadata (its link is the treatment discussion's).
    The author is read through the profiles mart (built first) and is optional: an author user
    gone from the legacy database, or without profile, lands the comment with author_id null and
    a warning. comments has no soft-delete column: a deleted comment is reported and its row
    kept. Considers the comments synced since the last applied run, those waiting for their
    author's profile, and target comments whose legacy row was deleted before diffmig first
    synced it. -#}
{{ config(materialized='table', unlogged=true) }}

{{ entity_inputs('comments', 'stg_legacy__comments', 'legacy_comment_id',
    retry=['author_not_migrated'],
    target_id='comment_id') }}

users as (
    select * from {{ ref('stg_legacy__users') }}
),

profiles as (
    select
        id as profile_id,
        legacy_user_id
    from {{ ref('profiles') }}
    where legacy_user_id is not null
),

mapped as (
    select
        keyed.target_id as id,
        -- blank (empty or whitespace only) -> '': no placeholder, unlike names
        case
            when btrim(coalesce(considered.comment_text, '')) = '' then ''
            else considered.comment_text
        end as content,  -- noqa: RF04
        'treatment_discussion' as comment_type,
        profiles.profile_id as author_id,
        'dispatch_comment' as legacy_table,
        considered.legacy_comment_id as legacy_id,
        jsonb_build_object('legacy', jsonb_build_object(
            'plan_id', considered.legacy_plan_id,
            'author_id', considered.legacy_author_id
        )) as metadata,
        considered.created_at,
        considered.comment_text as _legacy_text,
        considered.legacy_author_id as _legacy_author_id,
        users.legacy_user_id is not null
        and not users.is_deleted_in_source as _is_author_in_source,
        considered.is_deleted_in_source as _is_deleted_in_source,
        false as _is_gone_before_first_sync,
        not considered.is_deleted_in_source
        and {{ changed_after_first_sync({'considered': 'first_sync'}) }}
            as _is_changed_after_first_sync
    from considered
    inner join keyed on considered.legacy_comment_id = keyed.legacy_key
    cross join first_sync
    left join users on considered.legacy_author_id = users.legacy_user_id
    left join profiles on considered.legacy_author_id = profiles.legacy_user_id
),

{{ entity_decision('comments', 'legacy_id',
    issues=[
        issue_when("compared._legacy_author_id is not null and compared.author_id is null"
            ~ " and not compared._is_author_in_source",
            "warning", "author_missing",
            "format('author user %s does not exist in the legacy database and has no profile: author_id left null', compared._legacy_author_id)"),
        missing_parent_issue('comments', 'author_id', "author_not_migrated",
            "compared._legacy_author_id is not null and compared.author_id is null"
            ~ " and compared._is_author_in_source",
            "format('author user %s has no profile (held back or not yet migrated)', compared._legacy_author_id)"),
        issue_when("btrim(coalesce(compared._legacy_text, '')) = ''", "warning", "blank_comment",
            "'blank text (' || length(coalesce(compared._legacy_text, '')) || ' characters): content set to '''''"),
    ],
    gone=[
        'targets.content as _legacy_text',
        'null::integer as _legacy_author_id',
        'false as _is_author_in_source',
        'true as _is_deleted_in_source',
        'true as _is_gone_before_first_sync',
        'false as _is_changed_after_first_sync',
    ],
    gone_values={'legacy_table': "'dispatch_comment'"},
    target_id='comment_id',
    staged_key='legacy_comment_id',
    deletion_reported=true,
    row_name='comment',
) }}
