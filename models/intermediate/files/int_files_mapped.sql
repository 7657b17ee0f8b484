{#- Files mapped to the Supabase shape (world.md section 5), with their issues and the decision to
    apply each row. Considers the files synced since the last applied run, the files of
    instructions synced since then, the files with open errors or an open `order_not_migrated`
    warning (their order may have landed since), and target files whose legacy row was deleted
    before diffmig first synced it (reported, kept). files has no soft-delete column: a file
    deleted in the source is reported (`deleted_in_source`) and its target row left alone.
    The JSON parameters are parsed once per considered row (diffmig.try_jsonb costs a
    subtransaction and is parallel unsafe): `considered` parses them after the key join and is
    an optimisation fence (offset 0), so later references reuse the parsed value. -#}
{{ config(materialized='table', unlogged=true) }}

{%- set drift_applies = [] -%}

with

files as not materialized (
    select * from {{ ref('stg_legacy__files') }}
),

instructions as not materialized (
    select * from {{ ref('stg_legacy__instructions') }}
),

targets as not materialized (
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

-- Orders that exist after the orders mart ran (an order held back is not there).
orders as (
    select
        orders.id as order_id,
        orders.legacy_instruction_id
    from {{ ref('orders') }} as orders
    where orders.legacy_instruction_id is not null
),

known as (
    {{ applied_keys('files') }}
),

-- Open errors, and open warnings whose cause a later run may remove (the order arrives).
retried as (
    {{ open_issue_keys('files') }}
    union
    select row_issues.legacy_key
    from {{ ref('stg_bookkeeping__row_issues') }} as row_issues
    where
        row_issues.entity = 'files'
        and row_issues.resolved_at is null
        and row_issues.reason = 'order_not_migrated'
),

first_sync as materialized (
    {{ first_synced_run('files') }}
),

-- The keys this build considers, selected before anything is joined (a plain filter on the
-- mirror's synced_run, and primary-key lookups for the retried keys).
considered_keys as (
    select files.legacy_file_id
    from files
    where {{ changed_since('files') }}

    union

    select files.legacy_file_id
    from files
    inner join instructions
        on files.legacy_instruction_id = instructions.legacy_instruction_id
    where {{ changed_since('instructions') }}

    union

    select retried.legacy_key::integer as legacy_file_id
    from retried
),

considered as (
    select
        looked_up_file.legacy_file_id,
        looked_up_file.legacy_instruction_id,
        looked_up_file.legacy_product_id,
        looked_up_file.legacy_record_id,
        looked_up_file.file_uid,
        looked_up_file.file_name,
        looked_up_file.file_ext,
        looked_up_file.description,
        looked_up_file.file_type_code,
        looked_up_file.status_code,
        looked_up_file.size_bytes,
        looked_up_file.parameters_text,
        -- parsed here, after the key join: the staging view's own parsed column would be
        -- computed for every staged row (a view written with CTEs is not flattened)
        {{ safe_jsonb('looked_up_file.parameters_text') }} as parameters,  -- noqa: RF04
        looked_up_file.created_at,
        looked_up_file.synced_run,
        looked_up_file.is_deleted_in_source,
        existing_row.file_id as existing_file_id
    from considered_keys
    -- Primary-key lookups: the staging views are written with CTEs, so PostgreSQL does not
    -- flatten them and a plain join would read each whole; a lateral subquery (kept apart by
    -- offset 0) pushes the key down to the table's index.
    inner join lateral (
        select looked_up.* from files as looked_up
        where looked_up.legacy_file_id = considered_keys.legacy_file_id
        offset 0  -- noqa: AM09
    ) as looked_up_file on true
    left join lateral (
        select looked_up.file_id from targets as looked_up
        where looked_up.legacy_file_id = considered_keys.legacy_file_id
        offset 0  -- noqa: AM09
    ) as existing_row on true
    -- an optimisation fence, not a limit
    offset 0  -- noqa: AM09
),

mapped as (
    select
        -- int_files_keyed's rule (the target row's id, else UUID v5; no mapping type is
        -- trusted), resolved for the considered rows only: the key map reads every file
        coalesce(
            considered.existing_file_id,
            {{ legacy_uuid('files', 'considered.legacy_file_id') }}
        ) as id,
        considered.file_uid,
        orders.order_id,
        considered.file_name as filename,
        considered.file_ext as file_type,
        considered.size_bytes as file_size_bytes,
        coalesce(file_types.mime_type, fallback_type.mime_type) as mime_type,
        considered.created_at as uploaded_at,
        considered.created_at,
        considered.legacy_file_id,
        jsonb_build_object('legacy', jsonb_build_object(
            'type', considered.file_type_code,
            'description', considered.description,
            'parameters', case
                when jsonb_typeof(considered.parameters) = 'object' then considered.parameters
            end,
            'status', considered.status_code,
            'product_id', considered.legacy_product_id,
            'record_id', considered.legacy_record_id,
            'instruction_id', considered.legacy_instruction_id
        ) || case
            when considered.parameters_text is not null
                and jsonb_typeof(considered.parameters) is distinct from 'object'
                then jsonb_build_object('parameters_text', considered.parameters_text)
            else '{}'::jsonb
        end) as metadata,
        considered.legacy_instruction_id as _legacy_instruction_id,
        case
            when considered.legacy_instruction_id is null or orders.order_id is not null then null
            when instructions.legacy_instruction_id is null then 'instruction_missing'
            else 'order_not_migrated'
        end as _order_problem,
        considered.file_ext as _legacy_ext,
        file_types.extension is null as _is_unknown_extension,
        (
            considered.parameters_text is not null
            and jsonb_typeof(considered.parameters) is distinct from 'object'
        ) as _is_parameters_invalid,
        considered.is_deleted_in_source as _is_deleted_in_source,
        considered.synced_run > first_sync.synced_run as _is_changed_after_first_sync
    from considered
    cross join fallback_type
    cross join first_sync
    left join file_types
        on ltrim(lower(btrim(considered.file_ext)), '.') = file_types.extension
    left join orders on considered.legacy_instruction_id = orders.legacy_instruction_id
    left join instructions
        on considered.legacy_instruction_id = instructions.legacy_instruction_id
),

-- Target files whose legacy row the mirror never saw (deleted in the source before diffmig's
-- first sync): reported and kept as they are. stg_supabase__files does not read the app's
-- created_at: uploaded_at stands for it.
gone_before_first_sync as (
    select
        {{ gone_from_mirror_columns('files', 'targets.file_id',
            values={'created_at': 'targets.uploaded_at'}, helpers=[
            'null::integer as _legacy_instruction_id',
            'null::text as _order_problem',
            'targets.file_type as _legacy_ext',
            'false as _is_unknown_extension',
            'false as _is_parameters_invalid',
            'true as _is_deleted_in_source',
            'false as _is_changed_after_first_sync',
        ]) }}
    from targets
    where not exists (
            select files.legacy_file_id from files
            where files.legacy_file_id = targets.legacy_file_id
        )
),

all_mapped as (
    select * from mapped
    union all
    select * from gone_before_first_sync
),

compared as (
    select
        mapped.*,
        {{ written_by_earlier_scripts('targets.file_id') }} as _written_by_earlier_scripts,
        -- created_at is not compared: stg_supabase__files does not read the app's value
        {{ drift_columns('files', skip=['created_at']) }} as _drift_columns
    from all_mapped as mapped
    left join lateral (
        select looked_up.* from targets as looked_up
        where looked_up.legacy_file_id = mapped.legacy_file_id
        offset 0  -- noqa: AM09
    ) as targets on true
    left join known on mapped.legacy_file_id::text = known.legacy_key
),

checked as (
    select
        compared.*,
        compared.legacy_file_id::text as _legacy_key,
        {{ issues_array([
            issue_when("compared._order_problem = 'instruction_missing'", "warning",
                "instruction_missing",
                "format('instruction %s is not in the legacy database: order_id left null', compared._legacy_instruction_id)"),
            issue_when("compared._order_problem = 'order_not_migrated'", "warning",
                "order_not_migrated",
                "format('instruction %s has no orders row (held back or not migrated yet): order_id left null', compared._legacy_instruction_id)"),
            issue_when("compared._is_unknown_extension", "warning", "unknown_file_extension",
                "format('extension %s is not in file_types: mime_type %s', coalesce(quote_literal(compared._legacy_ext), 'null'), compared.mime_type)"),
            issue_when("compared._is_parameters_invalid", "warning", "invalid_json_parameters",
                "'parameters is not a JSON object: kept as text in metadata.legacy.parameters_text'"),
            issue_when("compared.uploaded_at < timestamptz '2000-01-01' or compared.uploaded_at > now() + interval '1 day'",
                "warning", "implausible_timestamp",
                "format('created_at %s copied as is', compared.uploaded_at)"),
            issue_when("compared._is_deleted_in_source", "warning", "deleted_in_source",
                "'the legacy file is deleted; files has no soft-delete column: the target row is kept'"),
            drift_issue(applies=drift_applies, unless="compared._is_deleted_in_source"),
        ]) }} as _issues
    from compared
),

decided as (
    select
        checked.*,
        -- no soft-delete column: a file deleted in the source is never written (has_target false)
        {{ apply_decision(applies=drift_applies,
            deleted='checked._is_deleted_in_source', has_target='false') }} as _apply
    from checked
)

select * from decided
