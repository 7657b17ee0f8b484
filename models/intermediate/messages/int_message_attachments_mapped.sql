{#- Message attachments mapped to the Supabase shape (world.md section 5): one per legacy
    (record, file) pair, from dispatch_file.record_id and from dispatch_record_attachments (a
    pair both give is one attachment). The message and the file are read through their marts
    (built first); a pair whose message or file is not there is held back (error). The legacy
    key of an attachment is '<record id>:<file id>'. Considers the pairs whose file or
    record_attachments row was synced since the last applied run, the pairs of records synced
    since then (attached_at copies the record's created_at), the pairs with open errors, and
    target attachments that no legacy pair gives any more (deleted before diffmig first synced
    them, or the file moved to another record): reported and kept, as are pairs deleted in the
    source (message_attachments has no soft-delete column). -#}
{{ config(materialized='table', unlogged=true) }}

{%- set drift_applies = [] -%}

with

files as not materialized (
    select * from {{ ref('stg_legacy__files') }}
),

record_attachments as not materialized (
    select * from {{ ref('stg_legacy__record_attachments') }}
),

records as not materialized (
    select * from {{ ref('stg_legacy__records') }}
),

targets as not materialized (
    select * from {{ ref('stg_supabase__message_attachments') }}
),

target_messages as not materialized (
    select * from {{ ref('stg_supabase__messages') }}
),

target_files as not materialized (
    select * from {{ ref('stg_supabase__files') }}
),

file_types as (
    select * from {{ ref('file_types') }}
),

-- One row (an aggregate, so the planner knows it): the seed's fallback. The single-row CTEs
-- are materialized so that they are computed once (the planner may otherwise put them on the
-- inner side of a nested loop and compute them again for every considered row).
fallback_type as materialized (
    select max(file_types.mime_type) filter (where file_types.is_fallback) as mime_type
    from file_types
),

-- Messages and files that exist after their marts ran.
migrated_messages as (
    select
        messages.id as message_id,
        messages.legacy_record_id
    from {{ ref('messages') }} as messages
    where messages.legacy_record_id is not null
),

migrated_files as (
    select
        files.id as file_id,
        files.legacy_file_id
    from {{ ref('files') }} as files
    where files.legacy_file_id is not null
),

known as (
    {{ applied_keys('message_attachments') }}
),

retried as (
    {{ open_issue_keys('message_attachments') }}
),

first_sync as materialized (
    select
        ({{ first_synced_run('files') }}) as files_run,
        ({{ first_synced_run('record_attachments') }}) as attachments_run
),

-- Every legacy (record, file) pair, once per row that gives it.
pair_sources as not materialized (
    select
        files.legacy_record_id,
        files.legacy_file_id,
        'dispatch_file.record_id' as origin,
        null::integer as legacy_record_attachment_id,
        files.is_deleted_in_source,
        files.synced_run,
        files.synced_run > first_sync.files_run as is_changed_after_first_sync
    from files
    cross join first_sync
    where files.legacy_record_id is not null

    union all

    select
        record_attachments.legacy_record_id,
        record_attachments.legacy_file_id,
        'dispatch_record_attachments' as origin,
        record_attachments.legacy_record_attachment_id,
        record_attachments.is_deleted_in_source,
        record_attachments.synced_run,
        record_attachments.synced_run > first_sync.attachments_run as is_changed_after_first_sync
    from record_attachments
    cross join first_sync
),

considered_keys as (
    select
        pair_sources.legacy_record_id,
        pair_sources.legacy_file_id
    from pair_sources
    where {{ changed_since('pair_sources') }}

    union

    -- one pass over the pairs (a join may read them once per changed record)
    select
        pair_sources.legacy_record_id,
        pair_sources.legacy_file_id
    from pair_sources
    where
        pair_sources.legacy_record_id = any(
            array(
                select records.legacy_record_id from records
                where {{ changed_since('records') }}
            )
        )

    union

    select
        split_part(retried.legacy_key, ':', 1)::integer as legacy_record_id,
        split_part(retried.legacy_key, ':', 2)::integer as legacy_file_id
    from retried
),

-- One row per considered pair: deleted when every row that gives it is deleted.
considered as (
    select
        considered_keys.legacy_record_id,
        considered_keys.legacy_file_id,
        bool_and(pair_sources.is_deleted_in_source) as is_deleted_in_source,
        bool_or(pair_sources.is_changed_after_first_sync) as is_changed_after_first_sync,
        array_agg(distinct pair_sources.origin order by pair_sources.origin) as origins,
        min(pair_sources.legacy_record_attachment_id) as legacy_record_attachment_id
    from considered_keys
    inner join pair_sources
        on
            considered_keys.legacy_record_id = pair_sources.legacy_record_id
            and considered_keys.legacy_file_id = pair_sources.legacy_file_id
    group by considered_keys.legacy_record_id, considered_keys.legacy_file_id
),

mapped as (
    select
        coalesce(
            current_links.message_attachment_id,
            {{ legacy_uuid('message_attachments',
                "considered.legacy_record_id || ':' || considered.legacy_file_id") }}
        ) as id,
        migrated_messages.message_id,
        migrated_files.file_id,
        files.file_name as display_name,
        files.size_bytes as file_size,
        coalesce(file_types.mime_type, fallback_type.mime_type) as mime_type,
        records.created_at as attached_at,
        considered.legacy_record_id,
        considered.legacy_file_id,
        jsonb_build_object('legacy', jsonb_build_object(
            'origins', to_jsonb(considered.origins),
            'record_attachment_id', considered.legacy_record_attachment_id
        )) as metadata,
        records.legacy_record_id is not null as _is_record_in_source,
        files.legacy_file_id is not null as _is_file_in_source,
        files.file_ext as _legacy_ext,
        files.legacy_file_id is not null and file_types.extension is null as _is_unknown_extension,
        false as _is_target_only,
        considered.is_deleted_in_source
        or coalesce(files.is_deleted_in_source, false)
        or coalesce(records.is_deleted_in_source, false) as _is_deleted_in_source,
        -- the file or attachment row is the pair's source row: an edit of the record (its
        -- text) is no change of the attachment
        considered.is_changed_after_first_sync as _is_changed_after_first_sync
    from considered
    cross join fallback_type
    left join files on considered.legacy_file_id = files.legacy_file_id
    left join records on considered.legacy_record_id = records.legacy_record_id
    left join file_types
        on ltrim(lower(btrim(files.file_ext)), '.') = file_types.extension
    left join migrated_messages
        on considered.legacy_record_id = migrated_messages.legacy_record_id
    left join migrated_files on considered.legacy_file_id = migrated_files.legacy_file_id
    left join targets as current_links
        on
            migrated_messages.message_id = current_links.message_id
            and migrated_files.file_id = current_links.file_id
),

-- Target attachments whose (record, file) pair no legacy row gives (deleted before diffmig's
-- first sync, or the file now belongs to another record): reported, kept as they are. Their
-- legacy keys are those of the target row's message and file.
target_only as (
    select
        {{ gone_from_mirror_columns('message_attachments', 'targets.message_attachment_id',
            values={
                'legacy_record_id': 'target_messages.legacy_record_id',
                'legacy_file_id': 'target_files.legacy_file_id',
            }, helpers=[
            'true as _is_record_in_source',
            'true as _is_file_in_source',
            'null::text as _legacy_ext',
            'false as _is_unknown_extension',
            'true as _is_target_only',
            'false as _is_deleted_in_source',
            'false as _is_changed_after_first_sync',
        ]) }}
    from targets
    inner join target_messages on targets.message_id = target_messages.message_id
    inner join target_files on targets.file_id = target_files.file_id
    where not exists (
            select pair_sources.legacy_file_id from pair_sources
            where
                pair_sources.legacy_record_id = target_messages.legacy_record_id
                and pair_sources.legacy_file_id = target_files.legacy_file_id
        )
),

all_mapped as (
    select * from mapped
    union all
    select * from target_only
),

compared as (
    select
        mapped.*,
        mapped.legacy_record_id || ':' || mapped.legacy_file_id as _legacy_key,
        {{ written_by_earlier_scripts('targets.message_attachment_id') }}
            as _written_by_earlier_scripts,
        {{ drift_columns('message_attachments') }} as _drift_columns
    from all_mapped as mapped
    left join targets
        on
            mapped.message_id = targets.message_id
            and mapped.file_id = targets.file_id
    left join known
        on mapped.legacy_record_id || ':' || mapped.legacy_file_id = known.legacy_key
),

checked as (
    select
        compared.*,
        {{ issues_array([
            issue_when("not compared._is_deleted_in_source and not compared._is_target_only and compared.message_id is null",
                "error", "message_not_migrated",
                "case when compared._is_record_in_source then format('record %s has no messages row (not routable, held back or not migrated yet: see its messages issues)', compared.legacy_record_id) else format('record %s is not in the legacy database', compared.legacy_record_id) end"),
            issue_when("not compared._is_deleted_in_source and not compared._is_target_only and compared.file_id is null",
                "error", "file_not_migrated",
                "case when compared._is_file_in_source then format('file %s has no files row', compared.legacy_file_id) else format('file %s is not in the legacy database', compared.legacy_file_id) end"),
            issue_when("compared._is_unknown_extension", "warning", "unknown_file_extension",
                "format('extension %s is not in file_types: mime_type %s', coalesce(quote_literal(compared._legacy_ext), 'null'), compared.mime_type)"),
            issue_when("compared._is_deleted_in_source", "warning", "deleted_in_source",
                "'the legacy attachment (file, record or record_attachments row) is deleted; message_attachments has no soft-delete column: the target row is kept'"),
            issue_when("compared._is_target_only", "warning", "link_not_in_source",
                "format('no legacy row attaches file %s to record %s any more: the target row is kept', compared.legacy_file_id, compared.legacy_record_id)"),
            drift_issue(applies=drift_applies, unless="compared._is_deleted_in_source"),
        ]) }} as _issues
    from compared
),

decided as (
    select
        checked.*,
        -- no soft-delete column: a row deleted in the source is never written (has_target
        -- false), nor is a target row no legacy row gives any more
        {{ apply_decision(applies=drift_applies,
            deleted='checked._is_deleted_in_source', has_target='false') }}
        and not checked._is_target_only as _apply
    from checked
)

select * from decided
