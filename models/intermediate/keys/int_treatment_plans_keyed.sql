{#- A key with several target rows resolves to its kept one, the oldest (duplicate_targets). -#}
{{ resolve_legacy_keys(
    entity='treatment_plans',
    legacy_keys='select legacy_plan_id as legacy_key from ' ~ ref('stg_legacy__plans'),
    targets='select kept.legacy_plan_id as legacy_key, kept.plan_id as target_id from ('
        ~ kept_target_rows('treatment_plans', ref('stg_supabase__treatment_plans'), 'plan_id')
        ~ ') as kept',
    mapping_types=['treatment_plan'],
) }}
