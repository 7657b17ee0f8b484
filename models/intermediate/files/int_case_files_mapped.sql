{#- Case files mapped to the Supabase shape (world.md section 5): every legacy file with an
    instruction links the file to the case of the instruction's patient (one case per patient:
    the order's case). The file and the case are read through their marts (built first); a link
    whose file or case is not there is held back (error). file_purpose comes from the file's
    extension (file_types seed). The legacy key of a link is its file (a file has one case).
    Considers the files synced since the last applied run, the files of instructions synced
    since then (the instruction may have moved to another patient), the files with open
    errors, and target links that no current legacy file gives any more (the file was deleted
    before diffmig first synced it, or it moved): those are reported and kept (case_files has
    no soft-delete column), as are links of files deleted in the source. -#}
{{ config(materialized='table', unlogged=true) }}

{#- A target link is one a live legacy file gives when its file and its case's patient are a
    legacy_links pair. -#}
{%- set junction = {
    'parents': {
        'file_id': 'target_files.legacy_file_id',
        'case_id': 'target_cases.legacy_patient_id',
    },
    'pairs': 'legacy_links',
} %}

{{ entity_inputs('case_files', 'stg_legacy__files', 'legacy_file_id',
    parents={'stg_legacy__instructions': 'legacy_instruction_id'}, junction=junction) }}

instructions as not materialized (
    select * from {{ ref('stg_legacy__instructions') }}
),

target_files as not materialized (
    select * from {{ ref('stg_supabase__files') }}
),

target_cases as not materialized (
    select * from {{ ref('stg_supabase__cases') }}
),

legacy_patients as (
    select legacy_patient_id from {{ ref('stg_legacy__patients') }}
),

file_types as (
    select * from {{ ref('file_types') }}
),

-- One row (an aggregate, so the planner knows it): the seed's fallback. The single-row CTEs
-- are materialized so that they are computed once (the planner may otherwise put them on the
-- inner side of a nested loop and compute them again for every considered row).
fallback_type as materialized (
    select max(file_types.file_purpose) filter (where file_types.is_fallback) as file_purpose
    from file_types
),

-- Files and cases that exist after their marts ran.
migrated_files as (
    select
        files.id as file_id,
        files.legacy_file_id
    from {{ ref('files') }} as files
    where files.legacy_file_id is not null
),

migrated_cases as (
    select
        cases.id as case_id,
        cases.legacy_patient_id
    from {{ ref('cases') }} as cases
    where cases.legacy_patient_id is not null
),

-- The (file, patient) link every live legacy file gives now.
legacy_links as (
    select
        staged.legacy_file_id,
        instructions.legacy_patient_id
    from staged
    inner join instructions
        on staged.legacy_instruction_id = instructions.legacy_instruction_id
    where not staged.is_deleted_in_source
),

mapped as (
    select
        coalesce(
            current_links.case_file_id,
            {{ legacy_uuid('case_files',
                "instructions.legacy_patient_id || ':' || considered.legacy_file_id") }}
        ) as id,
        migrated_cases.case_id,
        migrated_files.file_id,
        coalesce(file_types.file_purpose, fallback_type.file_purpose) as file_purpose,
        jsonb_build_object('legacy', jsonb_build_object(
            'file_id', considered.legacy_file_id,
            'instruction_id', considered.legacy_instruction_id,
            'patient_id', instructions.legacy_patient_id
        )) as metadata,
        considered.legacy_file_id as _legacy_file_id,
        considered.legacy_instruction_id as _legacy_instruction_id,
        instructions.legacy_patient_id as _legacy_patient_id,
        instructions.legacy_instruction_id is not null as _is_instruction_staged,
        legacy_patients.legacy_patient_id is not null as _is_patient_staged,
        considered.file_ext as _legacy_ext,
        file_types.extension is null as _is_unknown_extension,
        considered.is_deleted_in_source as _is_deleted_in_source,
        -- the file is the link's source row: an edit of its instruction (notes, status...) is
        -- no change of the link (a new patient gives a new link, not a drifted one)
        considered.synced_run > first_sync.synced_run as _is_changed_after_first_sync
    from considered
    cross join fallback_type
    cross join first_sync
    left join instructions
        on considered.legacy_instruction_id = instructions.legacy_instruction_id
    left join legacy_patients on instructions.legacy_patient_id = legacy_patients.legacy_patient_id
    left join file_types
        on ltrim(lower(btrim(considered.file_ext)), '.') = file_types.extension
    left join migrated_files on considered.legacy_file_id = migrated_files.legacy_file_id
    left join migrated_cases on instructions.legacy_patient_id = migrated_cases.legacy_patient_id
    left join targets as current_links
        on
            migrated_cases.case_id = current_links.case_id
            and migrated_files.file_id = current_links.file_id
    where considered.legacy_instruction_id is not null
),

{# Target links that no live legacy file gives (its file was deleted before diffmig's first
    sync, or the file now belongs to another case or to none): reported, kept as they are. Links
    of files deleted in the source are reported by `mapped`. -#}
{{ entity_decision('case_files', '_legacy_file_id',
    issues=[
        issue_when("not compared._is_deleted_in_source and not compared._is_target_only and compared.file_id is null",
            "error", "file_not_migrated",
            "format('file %s has no files row', compared._legacy_file_id)"),
        issue_when("not compared._is_deleted_in_source and not compared._is_target_only and compared.case_id is null",
            "error", "case_not_migrated",
            "case when not compared._is_instruction_staged then format('instruction %s is not in the legacy database: no case to link', compared._legacy_instruction_id) when not compared._is_patient_staged then format('patient %s (of instruction %s) is not in the legacy database: no case to link', compared._legacy_patient_id, compared._legacy_instruction_id) else format('patient %s (of instruction %s) has no cases row (held back or not migrated yet)', compared._legacy_patient_id, compared._legacy_instruction_id) end"),
        issue_when("not compared._is_target_only and length(compared.file_purpose) > 50", "error",
            "value_too_long",
            "format('file_purpose %s is longer than varchar(50) (file_types)', quote_literal(compared.file_purpose))"),
        issue_when("compared._is_unknown_extension", "warning", "unknown_file_extension",
            "format('extension %s is not in file_types: file_purpose %s', coalesce(quote_literal(compared._legacy_ext), 'null'), compared.file_purpose)"),
        issue_when("compared._is_deleted_in_source", "warning", "deleted_in_source",
            "'the legacy file is deleted; case_files has no soft-delete column: the link is kept'"),
        issue_when("compared._is_target_only", "warning", "link_not_in_source",
            "format('no live legacy file links file %s to patient %s''s case any more: the link is kept', compared._legacy_file_id, compared._legacy_patient_id)"),
    ],
    gone=[
        'target_files.legacy_file_id as _legacy_file_id',
        'null::integer as _legacy_instruction_id',
        'target_cases.legacy_patient_id as _legacy_patient_id',
        'true as _is_instruction_staged',
        'true as _is_patient_staged',
        'null::text as _legacy_ext',
        'false as _is_unknown_extension',
        'false as _is_deleted_in_source',
        'false as _is_changed_after_first_sync',
    ],
    gone_when='not exists (select staged.legacy_file_id from staged where staged.legacy_file_id'
        ~ ' = target_files.legacy_file_id and staged.is_deleted_in_source)',
    drift_unless='compared._is_deleted_in_source',
    junction=junction,
) }}
