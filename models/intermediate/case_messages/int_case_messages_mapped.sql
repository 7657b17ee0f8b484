{#- Case messages mapped to the Supabase shape (world.md 8.4), with their issues and the decision
    to apply each row. A comment is a case message when its plan reaches a case: the plan (in the
    legacy database) -> its instruction's order (orders mart) -> that order's case (order_cases
    mart: its active link, else its latest). case_id is required: a comment whose plan is gone,
    has no instruction, or whose instruction is gone and has no order, is no case message and is
    held back with a warning naming why; one whose order or case is not migrated (yet) is held
    back with an error (retried until it lands). The author is read through the profiles mart
    (optional: gone -> null with a warning, not migrated -> null with a warning, retried).
    message_type is the first keyword of the lower-cased text (seed case_message_keywords: the
    keyword found at the earliest position, a tie going to the seed's order), else the seed's
    fallback (clinical_note) with a warning. case_messages has no soft-delete column: a comment
    deleted in the source keeps its target row and gets a `deleted_in_source` warning. The table
    has no unique constraint on legacy_message_id and the earlier scripts copied each comment
    about twice: the mart declares duplicate_targets, so the oldest row of a key is the one
    mapped here (the frame's targets) and the others are reported (deleted only on reconcile).
    Considers the comments synced since the last applied run, those whose plan or its
    instruction was, those with open errors or waiting for their author, and target messages
    whose legacy comment was deleted before diffmig first synced it. -#}
{{ config(materialized='table', unlogged=true) }}

{% call entity_inputs('case_messages', 'stg_legacy__comments', 'legacy_comment_id',
    retry=['author_not_migrated'],
    parents={'stg_legacy__plans': 'legacy_plan_id'},
    reconsider=[
        "staged.legacy_plan_id in (select plans.legacy_plan_id from plans"
        ~ " inner join instructions"
        ~ " on plans.legacy_instruction_id = instructions.legacy_instruction_id"
        ~ " where " ~ changed_since('instructions') ~ ")",
    ]) %}

plans as (
    select * from {{ ref('stg_legacy__plans') }}
),

instructions as (
    select * from {{ ref('stg_legacy__instructions') }}
),
{% endcall %}

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

orders as (
    select
        id as order_id,
        legacy_instruction_id
    from {{ ref('orders') }}
    where legacy_instruction_id is not null
),

-- The case of each order: its active link, else its latest one.
order_case as (
    {{ order_case_rows() }}
),

keywords as (
    select * from {{ ref('case_message_keywords') }}
),

type_fallback as (
    select keywords.message_type
    from keywords
    where keywords.is_fallback
),

first_plan_sync as (
    {{ first_synced_run('plans') }}
),

first_instruction_sync as (
    {{ first_synced_run('instructions') }}
),

-- The comment's type: of the seed's keywords in the lower-cased text, the one at the earliest
-- position (the text's first keyword); two found at one position (one starts the other) go by
-- the seed's order (precedence).
typed as (
    select
        considered.legacy_comment_id,
        first_keyword.message_type,
        first_keyword.keyword
    from considered
    cross join lateral (
        select
            keywords.message_type,
            keywords.keyword
        from keywords
        where
            not keywords.is_fallback
            and strpos(lower(considered.comment_text), keywords.keyword) > 0
        order by strpos(lower(considered.comment_text), keywords.keyword), keywords.precedence
        limit 1
    ) as first_keyword
),

mapped as (
    select
        keyed.target_id as id,
        order_case.case_id,
        profiles.profile_id as sender_id,
        profiles.profile_id as author_id,
        coalesce(typed.message_type, type_fallback.message_type) as message_type,
        left(considered.comment_text, 50) as subject,
        considered.comment_text as content,  -- noqa: RF04
        1 as priority,
        coalesce(typed.message_type, type_fallback.message_type) = 'patient_question'
            as requires_response,
        considered.created_at as sent_at,
        considered.legacy_comment_id as legacy_message_id,
        considered.legacy_comment_id as legacy_record_id,
        jsonb_build_object('legacy', jsonb_strip_nulls(jsonb_build_object(
            'plan_id', considered.legacy_plan_id,
            'author_id', considered.legacy_author_id,
            'keyword', typed.keyword
        ))) as metadata,
        considered.legacy_plan_id as _legacy_plan_id,
        plans.legacy_instruction_id as _legacy_instruction_id,
        considered.legacy_author_id as _legacy_author_id,
        plans.legacy_plan_id is not null
        and not plans.is_deleted_in_source as _is_plan_in_source,
        instructions.legacy_instruction_id is not null
        and not instructions.is_deleted_in_source as _is_instruction_in_source,
        orders.order_id is not null as _has_order,
        users.legacy_user_id is not null
        and not users.is_deleted_in_source as _is_author_in_source,
        typed.message_type is null as _has_no_keyword,
        nullif(btrim(considered.comment_text), '') is null as _is_blank,
        considered.is_deleted_in_source as _is_deleted_in_source,
        false as _is_gone_before_first_sync,
        not considered.is_deleted_in_source
        and {{ changed_after_first_sync({
            'considered': 'first_sync',
            'plans': 'first_plan_sync',
            'instructions': 'first_instruction_sync',
        }) }} as _is_changed_after_first_sync
    from considered
    inner join keyed on considered.legacy_comment_id = keyed.legacy_key
    cross join first_sync
    cross join first_plan_sync
    cross join first_instruction_sync
    cross join type_fallback
    left join typed on considered.legacy_comment_id = typed.legacy_comment_id
    left join plans
        on considered.legacy_plan_id = plans.legacy_plan_id and not plans.is_deleted_in_source
    left join instructions on plans.legacy_instruction_id = instructions.legacy_instruction_id
    left join orders on plans.legacy_instruction_id = orders.legacy_instruction_id
    left join order_case on orders.order_id = order_case.order_id
    left join users on considered.legacy_author_id = users.legacy_user_id
    left join profiles on considered.legacy_author_id = profiles.legacy_user_id
),

{{ entity_decision('case_messages', 'legacy_message_id',
    issues=[
        issue_when("compared.case_id is null and not compared._is_plan_in_source"
            ~ " and not compared._is_deleted_in_source",
            "warning", "plan_missing",
            "format('plan %s does not exist in the legacy database: the comment reaches no case, held back', compared._legacy_plan_id)"),
        issue_when("compared.case_id is null and compared._is_plan_in_source"
            ~ " and compared._legacy_instruction_id is null and not compared._is_deleted_in_source",
            "warning", "plan_without_instruction",
            "format('plan %s has no instruction: the comment reaches no case, held back', compared._legacy_plan_id)"),
        issue_when("compared.case_id is null and compared._legacy_instruction_id is not null"
            ~ " and not compared._has_order and not compared._is_instruction_in_source"
            ~ " and not compared._is_deleted_in_source",
            "warning", "instruction_missing",
            "format('instruction %s of plan %s does not exist in the legacy database and has no order: the comment reaches no case, held back', compared._legacy_instruction_id, compared._legacy_plan_id)"),
        missing_parent_issue('case_messages', 'case_id', "case_not_migrated",
            "compared.case_id is null and compared._legacy_instruction_id is not null"
            ~ " and (compared._has_order or compared._is_instruction_in_source)"
            ~ " and not compared._is_deleted_in_source",
            "format('instruction %s of plan %s has no order with a case (held back or not yet migrated)', compared._legacy_instruction_id, compared._legacy_plan_id)"),
        issue_when("compared._legacy_author_id is not null and compared.author_id is null"
            ~ " and not compared._is_author_in_source and not compared._is_deleted_in_source",
            "warning", "author_missing",
            "format('author user %s does not exist in the legacy database and has no profile: sender_id and author_id left null', compared._legacy_author_id)"),
        missing_parent_issue('case_messages', 'author_id', "author_not_migrated",
            "compared._legacy_author_id is not null and compared.author_id is null"
            ~ " and compared._is_author_in_source and not compared._is_deleted_in_source",
            "format('author user %s has no profile (held back or not yet migrated)', compared._legacy_author_id)"),
        issue_when("compared._is_blank and not compared._is_deleted_in_source", "warning",
            "blank_comment",
            "'the comment is blank: content and subject copied as they are'"),
        issue_when("compared._has_no_keyword and not compared._is_deleted_in_source", "warning",
            "no_message_keyword",
            "format('the text holds no keyword of case_message_keywords: message_type %s', compared.message_type)"),
        duplicate_target_issue('case_messages'),
    ],
    gone=[
        'null::integer as _legacy_plan_id',
        'null::integer as _legacy_instruction_id',
        'null::integer as _legacy_author_id',
        'false as _is_plan_in_source',
        'false as _is_instruction_in_source',
        'false as _has_order',
        'false as _is_author_in_source',
        'false as _has_no_keyword',
        'false as _is_blank',
        'true as _is_deleted_in_source',
        'true as _is_gone_before_first_sync',
        'false as _is_changed_after_first_sync',
    ],
    target_id='case_message_id',
    staged_key='legacy_comment_id',
    conditions=['(checked.case_id is not null or checked._is_deleted_in_source)'],
    deletion_reported=true,
    row_name='comment',
    deleted_issues=[duplicate_target_issue('case_messages')],
) }}
