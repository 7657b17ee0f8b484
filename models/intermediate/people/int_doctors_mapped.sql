{#- Doctors mapped to the Supabase shape (world.md section 5): one per user whose profile type is
    doctor. Considers the doctors whose user, groups, patient rows, doctor setting or office links
    changed since the last applied run, those with open errors or an open
    primary_office_not_migrated warning, and target doctors whose user is gone from the source.
    The profile must be migrated and of type doctor (validate_orders); profiles and offices are
    read through their marts, so they are built first. -#}
{{ config(materialized='table', unlogged=true) }}

{% call entity_inputs('doctors', 'stg_legacy__users', 'legacy_user_id',
    retry=['primary_office_not_migrated'], changes='doctor_changes') %}
typed as (
    select * from {{ ref('int_profiles_typed') }}
),

settings as (
    select * from {{ ref('stg_legacy__doctor_settings') }}
),

office_doctors as (
    select * from {{ ref('stg_legacy__office_doctors') }}
),

setting_changes as (
    select
        settings.legacy_user_id,
        max(settings.synced_run) as synced_run
    from settings
    group by settings.legacy_user_id
),

link_changes as (
    select
        office_doctors.legacy_user_id,
        max(office_doctors.synced_run) as synced_run
    from office_doctors
    group by office_doctors.legacy_user_id
),

doctor_changes as (
    select
        typed.legacy_user_id,
        greatest(typed.synced_run, setting_changes.synced_run, link_changes.synced_run)
            as synced_run
    from typed
    left join setting_changes on typed.legacy_user_id = setting_changes.legacy_user_id
    left join link_changes on typed.legacy_user_id = link_changes.legacy_user_id
    where typed.profile_type = 'doctor'
),
{% endcall %}

profiles as (
    select
        id as profile_id,
        legacy_user_id,
        profile_type::text as profile_type
    from {{ ref('profiles') }}
),

offices as (
    select
        id as office_id,
        legacy_office_id
    from {{ ref('offices') }}
),

-- The doctor's setting as it is (or as it was when the user was deleted with it).
current_settings as (
    select distinct on (settings.legacy_user_id) settings.*
    from settings
    inner join staged on settings.legacy_user_id = staged.legacy_user_id
    where
        not settings.is_deleted_in_source
        or (staged.is_deleted_in_source and settings.synced_run = staged.synced_run)
    order by
        settings.legacy_user_id asc,
        settings.is_deleted_in_source asc,
        settings.legacy_doctor_setting_id asc
),

-- The doctor's first office link (lowest dispatch_office_doctors id) gives the primary office.
first_links as (
    select distinct on (office_doctors.legacy_user_id)
        office_doctors.legacy_user_id,
        office_doctors.legacy_office_id
    from office_doctors
    inner join staged on office_doctors.legacy_user_id = staged.legacy_user_id
    where
        not office_doctors.is_deleted_in_source
        or (staged.is_deleted_in_source and office_doctors.synced_run = staged.synced_run)
    order by office_doctors.legacy_user_id, office_doctors.legacy_office_doctor_id
),

-- The setting's columns as they go to metadata.legacy (timestamps as ISO 8601 UTC text).
setting_values as (
    select
        current_settings.legacy_user_id,
        jsonb_build_object(
            'doctorsetting_id', current_settings.legacy_doctor_setting_id,
            'clinical_preferences', current_settings.clinical_preferences,
            'sq_customer_id', current_settings.square_customer_id,
            'promised_payment', current_settings.has_promised_payment,
            'credit', current_settings.credit,
            'installment_payments', current_settings.installment_payments,
            'baa_agreed_at', to_char(
                current_settings.baa_agreed_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
            ),
            'eula_agreed_at', to_char(
                current_settings.eula_agreed_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
            ),
            'company_account', current_settings.is_company_account
        ) as legacy_values
    from current_settings
),

mapped as (
    select
        keyed.target_id as id,
        profiles.profile_id,
        'DOC-' || case
            when staged.legacy_user_id < 1000000 then lpad(staged.legacy_user_id::text, 6, '0')
            else staged.legacy_user_id::text
        end as doctor_number,
        offices.office_id as primary_office_id,
        case
            when staged.is_active and not staged.is_deleted_in_source then 'active'
            else 'inactive'
        end as status,
        staged.joined_at as joined_practice_at,
        staged.legacy_user_id,
        jsonb_build_object('legacy', coalesce(setting_values.legacy_values, '{}'::jsonb))
            as metadata,
        profiles.profile_type as _profile_type,
        first_links.legacy_office_id as _legacy_primary_office_id,
        other_doctors.doctor_id as _other_doctor_id,
        other_doctors.legacy_user_id as _other_doctor_user_id,
        false as _is_target_only,
        staged.is_deleted_in_source as _is_deleted_in_source,
        considered.changed_run > first_sync.synced_run as _is_changed_after_first_sync
    from considered
    inner join typed on considered.legacy_user_id = typed.legacy_user_id
    inner join staged on typed.legacy_user_id = staged.legacy_user_id
    inner join keyed on typed.legacy_user_id = keyed.legacy_key
    cross join first_sync
    left join profiles on typed.legacy_user_id = profiles.legacy_user_id
    left join setting_values on typed.legacy_user_id = setting_values.legacy_user_id
    left join first_links on typed.legacy_user_id = first_links.legacy_user_id
    left join offices on first_links.legacy_office_id = offices.legacy_office_id
    left join targets as other_doctors
        on
            profiles.profile_id = other_doctors.profile_id
            and other_doctors.legacy_user_id is distinct from typed.legacy_user_id
),

{{ entity_decision('doctors', 'legacy_user_id',
    issues=[
        issue_when("not compared._is_target_only and compared.profile_id is null", "error",
            "profile_not_migrated",
            "format('the profile of user %s is not in profiles', compared.legacy_user_id)"),
        issue_when("not compared._is_target_only and compared._profile_type <> 'doctor'", "error",
            "profile_not_doctor",
            "format('profile %s of user %s has profile_type %s, not doctor (validate_orders)', compared.profile_id, compared.legacy_user_id, compared._profile_type)"),
        issue_when("compared._other_doctor_id is not null", "error", "profile_has_other_doctor",
            "format('profile %s already belongs to doctor %s (legacy user %s); doctors.profile_id is unique', compared.profile_id, compared._other_doctor_id, coalesce(compared._other_doctor_user_id::text, 'none'))"),
        issue_when("compared._legacy_primary_office_id is not null and compared.primary_office_id is null",
            "warning", "primary_office_not_migrated",
            "format('office %s (first office link) is not in offices: primary_office_id left null', compared._legacy_primary_office_id)"),
        issue_when("compared._is_deleted_in_source", "warning", "deleted_in_source",
            "format('user %s is gone from auth_user: doctors row kept, status inactive', compared.legacy_user_id)"),
    ],
    gone=[
        'null::text as _profile_type',
        'null::integer as _legacy_primary_office_id',
        'null::uuid as _other_doctor_id',
        'null::integer as _other_doctor_user_id',
        'true as _is_target_only',
        'true as _is_deleted_in_source',
        'false as _is_changed_after_first_sync',
    ],
    gone_when="targets.legacy_user_id is not null and (targets.status is distinct from 'inactive' or " ~ not_applied() ~ ")",
    applies=['checked._is_deleted_in_source'],
) }}
