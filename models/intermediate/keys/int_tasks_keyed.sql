{#- The key map of every task. int_tasks_mapped does not read it (it resolves the id of the tasks
    it considers inline, by the same rule: a million keys are too many to map on every run); it
    is here for the audit and the tests. -#}
{{ resolve_legacy_keys(
    entity='tasks',
    legacy_keys='select legacy_task_id::bigint as legacy_key from ' ~ ref('stg_legacy__tasks'),
    targets='select legacy_task_id as legacy_key, task_id as target_id from '
        ~ ref('stg_supabase__tasks'),
    mapping_types=[],
) }}
