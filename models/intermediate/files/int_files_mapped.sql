{#- Files mapped to the Supabase shape (world.md section 5), with their issues and the decision to
    apply each row. Considers the files synced since the last applied run, the files of
    instructions synced since then, the files with open errors or an open `order_not_migrated`
    warning (their order may have landed since), and target files whose legacy row was deleted
    before diffmig first synced it (reported, kept). files has no soft-delete column: a file
    deleted in the source is reported (`deleted_in_source`) and its target row left alone.
    The JSON parameters are parsed once per considered row (diffmig.try_jsonb costs a
    subtransaction and is parallel unsafe): `considered` (entity_inputs' lookup) parses them after
    the key join and is an optimisation fence, so later references reuse the parsed value. -#}
{{ config(materialized='table', unlogged=true) }}

{#- parameters is parsed in considered, after the key join: the staging view's own parsed column
    would be computed for every staged row (a view written with CTEs is not flattened). -#}
{{ entity_inputs('files', 'stg_legacy__files', 'legacy_file_id',
    retry=['order_not_migrated'],
    parents={'stg_legacy__instructions': 'legacy_instruction_id'},
    lookup=true,
    lookup_columns=[
        'looked_up_row.legacy_file_id',
        'looked_up_row.legacy_instruction_id',
        'looked_up_row.legacy_product_id',
        'looked_up_row.legacy_record_id',
        'looked_up_row.file_uid',
        'looked_up_row.file_name',
        'looked_up_row.file_ext',
        'looked_up_row.description',
        'looked_up_row.file_type_code',
        'looked_up_row.status_code',
        'looked_up_row.size_bytes',
        'looked_up_row.parameters_text',
        safe_jsonb('looked_up_row.parameters_text') ~ ' as parameters',
        'looked_up_row.created_at',
        'looked_up_row.synced_run',
        'looked_up_row.is_deleted_in_source',
    ],
    lookup_fence=true) }}

instructions as not materialized (
    select * from {{ ref('stg_legacy__instructions') }}
),

file_types as (
    select * from {{ ref('file_types') }}
),

-- One row (an aggregate, so the planner knows it): the seed's fallback. The single-row CTE is
-- materialized so that it is computed once (the planner may otherwise put it on the inner side
-- of a nested loop and compute it again for every considered row).
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
-- first sync) are reported and kept as they are. stg_supabase__files does not read the app's
-- created_at: uploaded_at stands for it, and created_at is not compared. files has no
-- soft-delete column: a file deleted in the source is never written (has_target false).
{{ entity_decision('files', 'legacy_file_id',
    issues=[
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
    ],
    gone=[
        'null::integer as _legacy_instruction_id',
        'null::text as _order_problem',
        'targets.file_type as _legacy_ext',
        'false as _is_unknown_extension',
        'false as _is_parameters_invalid',
        'true as _is_deleted_in_source',
        'false as _is_changed_after_first_sync',
    ],
    gone_values={'created_at': 'targets.uploaded_at'},
    lateral_targets=true,
    drift_skip=['created_at'],
    drift_unless='compared._is_deleted_in_source',
    deleted='checked._is_deleted_in_source',
    has_target='false',
) }}
