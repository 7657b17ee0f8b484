{#- Profiles mapped to the Supabase shape (world.md section 5), with their issues and the decision
    to apply each row. Considers the users whose auth_user row, groups or patient rows changed
    since the last applied run, those with open errors, and target profiles whose user is gone
    from the source (deleted before diffmig first synced) that are still active. -#}
{{ config(materialized='table', unlogged=true) }}

{% call entity_inputs('profiles', 'stg_legacy__users', 'legacy_user_id', changes='typed') %}
typed as (
    select * from {{ ref('int_profiles_typed') }}
),
{% endcall %}

patients as (
    select * from {{ ref('stg_legacy__patients') }}
),

genders as (
    select * from {{ ref('sex_to_gender') }}
),

-- One row (an aggregate, so the planner knows it): the seed's fallback gender.
fallback_gender as (
    select max(genders.gender) filter (where genders.is_fallback) as gender from genders
),

-- Whitespace (also no-break, ideographic and zero-width spaces) trimmed at both ends.
cleaned_users as (
    select
        staged.*,
        regexp_replace(
            staged.first_name,
            '^[\s\u00a0\u200b\u3000\ufeff]+|[\s\u00a0\u200b\u3000\ufeff]+$',
            '',
            'g'
        ) as clean_first_name,
        regexp_replace(
            staged.last_name,
            '^[\s\u00a0\u200b\u3000\ufeff]+|[\s\u00a0\u200b\u3000\ufeff]+$',
            '',
            'g'
        ) as clean_last_name,
        lower(regexp_replace(
            staged.email,
            '^[\s\u00a0\u200b\u3000\ufeff]+|[\s\u00a0\u200b\u3000\ufeff]+$',
            '',
            'g'
        )) as clean_email
    from staged
),

-- Valid addresses used by more than one current user (allowed: reported, not fixed).
shared_emails as (
    select
        cleaned_users.clean_email,
        array_agg(cleaned_users.legacy_user_id order by cleaned_users.legacy_user_id) as user_ids
    from cleaned_users
    where
        not cleaned_users.is_deleted_in_source
        and cleaned_users.clean_email ~ '^[^@]+@[^@]+$'
    group by cleaned_users.clean_email
    having count(*) > 1
),

mapped as (
    select
        keyed.target_id as id,
        typed.profile_type,
        cleaned_users.clean_first_name as first_name,
        cleaned_users.clean_last_name as last_name,
        case
            when cleaned_users.clean_email ~ '^[^@]+@[^@]+$' then cleaned_users.clean_email
        end as email,
        null::text as phone,
        case
            when kept_patients.profile_id is not null then kept_patients.date_of_birth
            else patients.birth_date
        end as date_of_birth,
        case
            when kept_patients.profile_id is not null then kept_patients.gender
            when patients.sex_code is null then fallback_gender.gender
            else coalesce(genders.gender, fallback_gender.gender)
        end as gender,
        cleaned_users.username,
        cleaned_users.password_hash,
        cleaned_users.is_active and not cleaned_users.is_deleted_in_source as is_active,
        case
            when kept_patients.profile_id is not null then kept_patients.archived
            else coalesce(patients.is_archived, false)
        end as archived,
        case
            when kept_patients.profile_id is not null then kept_patients.suspended
            else coalesce(patients.is_suspended, false)
        end as suspended,
        case
            when kept_patients.profile_id is not null then kept_patients.patient_suffix
            else patients.suffix
        end as patient_suffix,
        cleaned_users.last_login_at,
        cleaned_users.legacy_user_id,
        coalesce(typed.legacy_patient_id, kept_patients.legacy_patient_id) as legacy_patient_id,
        cleaned_users.joined_at as created_at,
        jsonb_build_object('legacy', jsonb_strip_nulls(jsonb_build_object(
            'groups', to_jsonb(typed.group_ids),
            'is_staff', cleaned_users.is_staff,
            'is_superuser', cleaned_users.is_superuser,
            'email', case
                when
                    cleaned_users.clean_email <> ''
                    and cleaned_users.clean_email !~ '^[^@]+@[^@]+$'
                    then cleaned_users.email
            end
        ))) as metadata,
        cleaned_users.email as _legacy_email,
        cleaned_users.clean_email <> ''
        and cleaned_users.clean_email !~ '^[^@]+@[^@]+$' as _is_email_invalid,
        array_remove(shared_emails.user_ids, cleaned_users.legacy_user_id) as _email_shared_with,
        patients.sex_code as _legacy_sex_code,
        patients.sex_code is not null and genders.sex_code is null as _is_sex_unknown,
        typed.rule_profile_type as _rule_profile_type,
        typed.is_kept_doctor as _is_kept_doctor,
        typed.group_ids as _group_ids,
        typed.unknown_group_ids as _unknown_group_ids,
        typed.current_patient_rows as _current_patient_rows,
        typed.current_patient_ids as _current_patient_ids,
        cleaned_users.is_deleted_in_source as _is_deleted_in_source,
        typed.synced_run > first_sync.synced_run as _is_changed_after_first_sync,
        patients.updated_at as _patient_updated_at
    from considered
    inner join typed on considered.legacy_user_id = typed.legacy_user_id
    inner join cleaned_users on typed.legacy_user_id = cleaned_users.legacy_user_id
    inner join keyed on typed.legacy_user_id = keyed.legacy_key
    cross join first_sync
    cross join fallback_gender
    left join patients on typed.legacy_patient_id = patients.legacy_patient_id
    left join genders on patients.sex_code = genders.sex_code and not genders.is_fallback
    left join shared_emails on cleaned_users.clean_email = shared_emails.clean_email
    -- a profile whose patient row is in no staged row (deleted before diffmig first synced)
    -- keeps the patient values it has
    left join targets as kept_patients
        on
            typed.legacy_user_id = kept_patients.legacy_user_id
            and typed.legacy_patient_id is null
            and kept_patients.legacy_patient_id is not null
),

{{ entity_decision('profiles', 'legacy_user_id',
    issues=[
        issue_when("compared._is_email_invalid", "warning", "invalid_email",
            "format('email %L is not a valid address: written as null, kept in metadata.legacy.email', compared._legacy_email)"),
        issue_when("cardinality(compared._email_shared_with) > 0", "warning", "duplicate_email",
            "format('email %s is also used by users %s', compared.email, array_to_string(compared._email_shared_with, ', '))"),
        issue_when("not compared._is_deleted_in_source and (compared.first_name = '' or compared.last_name = '')",
            "warning", "blank_name",
            "concat_ws(' and ', case when compared.first_name = '' then 'first_name' end, case when compared.last_name = '' then 'last_name' end) || ' blank (kept blank)'"),
        issue_when("compared._is_sex_unknown", "warning", "unknown_sex",
            "format('sex %s of patient %s is not in sex_to_gender: gender %s', compared._legacy_sex_code, compared.legacy_patient_id, compared.gender)"),
        issue_when("cardinality(compared._unknown_group_ids) > 0", "warning", "unknown_group",
            "format('groups %s are not in group_to_profile_type: ignored', array_to_string(compared._unknown_group_ids, ', '))"),
        issue_when("cardinality(compared._group_ids) > 1", "warning", "several_groups",
            "format('groups %s: profile_type %s', array_to_string(compared._group_ids, ', '), compared.profile_type)"),
        issue_when("compared._current_patient_rows > 1", "warning", "several_patient_rows",
            "format('patients %s: the profile copies patient %s', array_to_string(compared._current_patient_ids, ', '), compared.legacy_patient_id)"),
        issue_when("compared._is_kept_doctor", "warning", "profile_type_kept_doctor",
            "format('the rule gives %s, kept doctor: the user has a doctors row (validate_orders needs a doctor profile)', compared._rule_profile_type)"),
        issue_when("compared.last_login_at > now() + interval '1 day'", "warning",
            "implausible_last_login", "format('last_login %s is in the future (copied)', compared.last_login_at)"),
        issue_when("compared.date_of_birth < date '1900-01-02' or compared.date_of_birth > current_date",
            "warning", "implausible_birth_date",
            "format('birthdate %s of patient %s (copied)', compared.date_of_birth, compared.legacy_patient_id)"),
    ],
    gone=[
        'null::text as _legacy_email',
        'false as _is_email_invalid',
        'null::integer [] as _email_shared_with',
        'null::integer as _legacy_sex_code',
        'false as _is_sex_unknown',
        'targets.profile_type as _rule_profile_type',
        'false as _is_kept_doctor',
        'null::integer [] as _group_ids',
        'null::integer [] as _unknown_group_ids',
        '0::bigint as _current_patient_rows',
        'null::integer [] as _current_patient_ids',
        'true as _is_deleted_in_source',
        'false as _is_changed_after_first_sync',
        'null::timestamptz as _patient_updated_at',
    ],

    gone_when='targets.is_active is distinct from false or ' ~ not_applied(),
    compared_columns=[
        'coalesce(mapped._patient_updated_at > targets.updated_at, false) as _is_patient_newer',
    ],
    applies=['checked._is_deleted_in_source', 'checked._is_patient_newer'],
) }}
