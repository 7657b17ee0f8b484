{#- Messages mapped to the Supabase shape (world.md section 5): each dispatch_record routed by its
    target's content type, resolved by (app_label, model) through the content_type_routing seed:
    a patient -> recipient_type patient (patients.id), a user -> user (profiles.id), an
    instruction -> order (orders.id). A record of any other content type is not migrated
    (error `content_type_not_routable`); a record whose target is not migrated (no target row,
    or gone from the legacy database) is held back (error `recipient_not_migrated`). Parents are
    read through their marts (built first). Considers the records synced since the last applied
    run, the records of content types synced since then, the records with open errors or an
    open `sender_not_migrated` warning, and target messages whose legacy record was deleted
    before diffmig first synced it. messages has no soft-delete column: a record deleted in the
    source is reported (`deleted_in_source`) and its target row left alone. -#}
{{ config(materialized='table', unlogged=true) }}

{% call entity_inputs('messages', 'stg_legacy__records', 'legacy_record_id',
    retry=['sender_not_migrated'],
    parents={'stg_legacy__content_types': ['legacy_target_type_id', 'legacy_content_type_id']},
    lookup=true,
    lookup_columns=[
        'looked_up_row.*',
        'content_types.app_label',
        'content_types.model_name',
        'routing.recipient_type',
        'content_types.legacy_content_type_id is not null as is_content_type_known',
    ],
    lookup_joins=[
        'left join content_types'
        ~ ' on looked_up_row.legacy_target_type_id = content_types.legacy_content_type_id',
        'left join routing on content_types.app_label = routing.app_label'
        ~ ' and content_types.model_name = routing.model_name',
    ]) %}
content_types as not materialized (
    select * from {{ ref('stg_legacy__content_types') }}
),

routing as (
    select * from {{ ref('content_type_routing') }}
    where not is_fallback
),
{% endcall %}

record_types as (
    select * from {{ ref('record_types') }}
),

-- One row (an aggregate, so the planner knows it): the seed's fallback. The single-row CTE is
-- materialized so that it is computed once (the planner may otherwise put it on the inner side
-- of a nested loop and compute it again for every considered row).
fallback_type as materialized (
    select max(record_types.message_type) filter (where record_types.is_fallback) as message_type
    from record_types
),

-- Parents that exist after their marts ran (a row held back is not there).
patients as (
    select
        patients.id as patient_id,
        patients.legacy_patient_id
    from {{ ref('patients') }} as patients
    where patients.legacy_patient_id is not null
),

profiles as not materialized (
    select
        profiles.id as profile_id,
        profiles.legacy_user_id
    from {{ ref('profiles') }} as profiles
    where profiles.legacy_user_id is not null
),

orders as (
    select
        orders.id as order_id,
        orders.legacy_instruction_id
    from {{ ref('orders') }} as orders
    where orders.legacy_instruction_id is not null
),

-- The legacy rows a record can point at (to tell a missing target from one held back).
legacy_patients as (
    select legacy_patient_id from {{ ref('stg_legacy__patients') }}
),

legacy_users as (
    select legacy_user_id from {{ ref('stg_legacy__users') }}
),

legacy_instructions as (
    select legacy_instruction_id from {{ ref('stg_legacy__instructions') }}
),

mapped as (
    select
        -- int_messages_keyed's rule (the target row's id, else UUID v5; no mapping type is
        -- trusted), resolved for the considered rows only: the key map reads every record
        coalesce(
            considered.existing_message_id,
            {{ legacy_uuid('messages', 'considered.legacy_record_id') }}
        ) as id,
        coalesce(record_types.message_type, fallback_type.message_type) as message_type,
        considered.record_text as content,  -- noqa: RF04
        senders.profile_id as sender_id,
        considered.recipient_type,
        case considered.recipient_type
            when 'patient' then patients.patient_id
            when 'user' then recipients.profile_id
            when 'order' then orders.order_id
        end as recipient_id,
        considered.created_at,
        considered.legacy_record_id,
        jsonb_build_object('legacy', jsonb_build_object(
            'type', considered.type_code,
            'target_type', considered.app_label || '.' || considered.model_name,
            'target_type_id', considered.legacy_target_type_id,
            'target_id', considered.legacy_target_id,
            'author_id', considered.legacy_author_user_id,
            'group_id', considered.legacy_group_id,
            'public', considered.is_public
        )) as metadata,
        considered.legacy_target_type_id as _legacy_target_type_id,
        considered.legacy_target_id as _legacy_target_id,
        considered.app_label || '.' || considered.model_name as _legacy_target_type,
        considered.is_content_type_known as _is_content_type_known,
        coalesce(
            legacy_patients.legacy_patient_id,
            legacy_users.legacy_user_id,
            legacy_instructions.legacy_instruction_id
        ) is not null as _is_target_in_source,
        considered.legacy_author_user_id as _legacy_author_user_id,
        considered.type_code as _legacy_type_code,
        considered.type_code is not null and record_types.type_code is null as _is_unknown_type,
        considered.is_deleted_in_source as _is_deleted_in_source,
        considered.synced_run > first_sync.synced_run as _is_changed_after_first_sync
    from considered
    cross join fallback_type
    cross join first_sync
    left join record_types on considered.type_code = record_types.type_code
    left join profiles as senders on considered.legacy_author_user_id = senders.legacy_user_id
    left join patients
        on
            considered.recipient_type = 'patient'
            and considered.legacy_target_id = patients.legacy_patient_id
    left join profiles as recipients
        on
            considered.recipient_type = 'user'
            and considered.legacy_target_id = recipients.legacy_user_id
    left join orders
        on
            considered.recipient_type = 'order'
            and considered.legacy_target_id = orders.legacy_instruction_id
    left join legacy_patients
        on
            considered.recipient_type = 'patient'
            and considered.legacy_target_id = legacy_patients.legacy_patient_id
    left join legacy_users
        on
            considered.recipient_type = 'user'
            and considered.legacy_target_id = legacy_users.legacy_user_id
    left join legacy_instructions
        on
            considered.recipient_type = 'order'
            and considered.legacy_target_id = legacy_instructions.legacy_instruction_id
),

-- Target messages whose legacy record the mirror never saw (deleted in the source before
-- diffmig's first sync) are reported and kept as they are. messages has no soft-delete column:
-- a record deleted in the source is never written (has_target false).
{{ entity_decision('messages', 'legacy_record_id',
    issues=[
        issue_when("not compared._is_deleted_in_source and compared.recipient_type is null",
            "error", "content_type_not_routable",
            "case when compared._legacy_target_type_id is null then 'the record has no target content type (target_type_id is null)' when not compared._is_content_type_known then format('content type id %s is not in django_content_type', compared._legacy_target_type_id) else format('content type %s is not routable (content_type_routing): target %s', compared._legacy_target_type, compared._legacy_target_id) end"),
        issue_when("not compared._is_deleted_in_source and compared.recipient_type is not null and compared.recipient_id is null",
            "error", "recipient_not_migrated",
            "format('%s %s (%s) %s', compared._legacy_target_type, compared._legacy_target_id, compared.recipient_type, case when compared._is_target_in_source then 'is held back or not migrated yet' else 'is not in the legacy database' end)"),
        issue_when("not compared._is_deleted_in_source and compared.content is null",
            "error", "content_missing", "'text is null; messages.content is not null'"),
        issue_when("length(compared.message_type) > 50", "error", "value_too_long",
            "format('message_type %s is longer than varchar(50) (record_types)', quote_literal(compared.message_type))"),
        issue_when("compared._legacy_author_user_id is not null and compared.sender_id is null",
            "warning", "sender_not_migrated",
            "format('author user %s has no profiles row: sender_id left null', compared._legacy_author_user_id)"),
        issue_when("compared._is_unknown_type", "warning", "unknown_record_type",
            "format('type %s is not in record_types: message_type %s', compared._legacy_type_code, compared.message_type)"),
        issue_when("compared.created_at < timestamptz '2000-01-01' or compared.created_at > now() + interval '1 day'",
            "warning", "implausible_timestamp",
            "format('created_at %s copied as is', compared.created_at)"),
        issue_when("compared._is_deleted_in_source", "warning", "deleted_in_source",
            "'the legacy record is deleted; messages has no soft-delete column: the target row is kept'"),
    ],
    gone=[
        'null::integer as _legacy_target_type_id',
        'null::integer as _legacy_target_id',
        'null::text as _legacy_target_type',
        'true as _is_content_type_known',
        'true as _is_target_in_source',
        'null::integer as _legacy_author_user_id',
        'null::integer as _legacy_type_code',
        'false as _is_unknown_type',
        'true as _is_deleted_in_source',
        'false as _is_changed_after_first_sync',
    ],
    lateral_targets=true,
    drift_unless='compared._is_deleted_in_source',
    deleted='checked._is_deleted_in_source',
    has_target='false',
) }}
