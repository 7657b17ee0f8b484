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

{#- The mapped rows are the pairs; a target attachment's pair is its message's record and its
    file. -#}
{%- set junction = {
    'parents': {
        'message_id': 'target_messages.legacy_record_id',
        'file_id': 'target_files.legacy_file_id',
    },
    'rows': 'pairs',
    'pairs': 'pair_sources',
} %}

{% call entity_inputs('message_attachments', 'stg_legacy__files',
    ['legacy_record_id', 'legacy_file_id'],
    parents={'stg_legacy__records': 'legacy_record_id'}, junction=junction) %}
record_attachments as not materialized (
    select * from {{ ref('stg_legacy__record_attachments') }}
),

attachments_first_sync as materialized (
    {{ first_synced_run('record_attachments') }}
),

-- Every legacy (record, file) pair, once per row that gives it.
pair_sources as not materialized (
    select
        staged.legacy_record_id,
        staged.legacy_file_id,
        'dispatch_file.record_id' as origin,
        null::integer as legacy_record_attachment_id,
        staged.is_deleted_in_source,
        staged.synced_run,
        staged.synced_run > first_sync.synced_run as is_changed_after_first_sync
    from staged
    cross join first_sync
    where staged.legacy_record_id is not null

    union all

    select
        record_attachments.legacy_record_id,
        record_attachments.legacy_file_id,
        'dispatch_record_attachments' as origin,
        record_attachments.legacy_record_attachment_id,
        record_attachments.is_deleted_in_source,
        record_attachments.synced_run,
        record_attachments.synced_run > attachments_first_sync.synced_run
            as is_changed_after_first_sync
    from record_attachments
    cross join attachments_first_sync
),

-- One row per pair: deleted when every row that gives it is deleted, changed when one was.
pairs as (
    select
        pair_sources.legacy_record_id,
        pair_sources.legacy_file_id,
        max(pair_sources.synced_run) as synced_run,
        bool_and(pair_sources.is_deleted_in_source) as is_deleted_in_source,
        bool_or(pair_sources.is_changed_after_first_sync) as is_changed_after_first_sync,
        array_agg(distinct pair_sources.origin order by pair_sources.origin) as origins,
        min(pair_sources.legacy_record_attachment_id) as legacy_record_attachment_id
    from pair_sources
    group by pair_sources.legacy_record_id, pair_sources.legacy_file_id
),
{% endcall %}

records as not materialized (
    select * from {{ ref('stg_legacy__records') }}
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
        considered.is_deleted_in_source
        or coalesce(files.is_deleted_in_source, false)
        or coalesce(records.is_deleted_in_source, false) as _is_deleted_in_source,
        -- the file or attachment row is the pair's source row: an edit of the record (its
        -- text) is no change of the attachment
        considered.is_changed_after_first_sync as _is_changed_after_first_sync
    from considered
    cross join fallback_type
    left join staged as files on considered.legacy_file_id = files.legacy_file_id
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

{# Target attachments whose (record, file) pair no legacy row gives (deleted before diffmig's
    first sync, or the file now belongs to another record): reported, kept as they are. Their
    legacy keys are those of the target row's message and file. -#}
{{ entity_decision('message_attachments', ['legacy_record_id', 'legacy_file_id'],
    issues=[
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
    ],
    gone_values={
        'legacy_record_id': 'target_messages.legacy_record_id',
        'legacy_file_id': 'target_files.legacy_file_id',
    },
    gone=[
        'true as _is_record_in_source',
        'true as _is_file_in_source',
        'null::text as _legacy_ext',
        'false as _is_unknown_extension',
        'false as _is_deleted_in_source',
        'false as _is_changed_after_first_sync',
    ],
    drift_unless='compared._is_deleted_in_source',
    junction=junction,
) }}
