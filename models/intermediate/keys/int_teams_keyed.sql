{{ resolve_legacy_keys(
    entity='teams',
    legacy_keys='select legacy_group_id as legacy_key from ' ~ ref('stg_legacy__groups'),
    targets='select legacy_group_id as legacy_key, team_id as target_id from '
        ~ ref('stg_supabase__teams'),
    mapping_types=['team'],
) }}
