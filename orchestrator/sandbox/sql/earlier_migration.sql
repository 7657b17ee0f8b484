-- The earlier migration, simulated: fills the Supabase destination as the earlier one-off scripts
-- left it (world.md section 7; legacy-facts.md sections 3 to 6 describe the scripts).
--
--     select sandbox.simulate_earlier_migration(seed);
--
-- Run by the superuser supabase_admin in the destination database, after supabase_schema.sql,
-- with common.sql loaded (schema `sandbox`) and the legacy tables imported as postgres_fdw foreign
-- tables into schema `sandbox_legacy` (build.py does that wiring and removes it afterwards).
-- The legacy database is read as it is at the end of the generated data (2025-10-31); the
-- activity simulation runs only after this.
--
-- Everything is set-based (insert ... select); every foreign table is read once, into a temporary
-- table. Deterministic: UUIDs come from sandbox.uuid_for(entity, legacy key, seed) (random-looking,
-- reproducible), every skip is a hash of the legacy id, every timestamp is a legacy one or a fixed
-- constant of the run that wrote the row (never now()). The rows satisfy every constraint and
-- trigger of the destination (validate_orders: orders.doctor_id is a doctor-profile doctors row, or
-- NULL). The big tables (jaws .. system_messages) are written with session_replication_role =
-- replica (superuser only) to skip the per-row foreign key checks; one set-based check per foreign
-- key (sandbox.em_check_foreign_keys) runs instead and raises on any dangling reference.
--
-- What the earlier scripts left (each quirk is something the tool must detect, report or survive):
--   timeline   the runs, as migration_control records them by hand: 2025-08-15 offices, profiles;
--              08-16/17 notifications full load, orders, files, messages, states, payments; 08-18
--              order_cases; 10-16 doctors deleted and re-imported; 10-18/19 cases, case_files,
--              technicians, missing doctors, notifications up to then; 10-27 the differential batch
--              (messages, notifications delta); 10-31 early the differential runs of orders,
--              profiles, patients, files, states and payments (so that every row up to 10-31 was
--              seen), then a validation run and a run left 'running'.
--   offices    only valid ones; name/address/city lower-cased with spaces collapsed, zip and phone
--              reduced to digits, is_active and email_notifications always true; an office with
--              the same (name, address, city, state, zip) as an earlier one got no row, only a
--              migration_mappings row pointing at the earlier office's UUID.
--   profiles   every user except ~2 % of the non-patient users (failed inserts; at least one);
--              profile_type by the scripts' rule (patient row, else the lowest of groups 2/4/5/11,
--              else superuser/staff -> master, else patient: never 'client'); blank names and the
--              text 'null' written as 'Unknown'; email lower-cased, NULL without '@' (a row
--              whose email would break the email_format check failed, so is absent).
--   doctors    one per doctor profile; doctors with a non-archived patient were re-imported on
--              10-16 with an unpadded doctor_number 'DOC-<id>' (others 'DOC-000123'); their
--              August migration_mappings rows still hold the UUIDs of the deleted rows.
--   patients   every patient whose profile exists, except ~0.4 % of those with at most one
--              instruction (at least one); status 3 and unknown codes written as 'active';
--              suffix NULL for archived patients; patient_number unpadded for the October cohort.
--   orders     cohort A (orders-migration.ts, 08-17, re-run 10-18; instructions up to 10-18):
--              non-deleted instructions with parseable exports and a doctor that has a doctors
--              row; order_number '<patient suffix>-<id>', course_type from course_id (not the
--              course's type), exports '{}' -> NULL; the canonical status mapping.
--              Cohort B1 (orders-migration-comprehensive.ts, 10-19): the other instructions up to
--              10-18 (deleted ones, broken exports, doctors not in the doctor group):
--              order_number 'ORD-<yyyymmdd>-<000123>', the comprehensive status mapping (0
--              no_product, 1 submitted, 2 on_hold, 3 submitted, 4 approved, else submitted).
--              Cohort B2 (differential-orders-migration.ts, 10-31): every instruction after
--              10-18: order_number '00BB-<id>', course_type 'main', the differential status
--              mapping (0 submitted, 1 approved, 2 shipped, 3 'completed' -> insert failed, row
--              absent (at least one row fails), 4 cancelled, else submitted); doctor, notes,
--              complaint, amount NULL.
--              Plus ~0.04 % skipped (at least one). Instructions whose patient is missing are
--              absent.
--   cases      one per migrated patient submitted before 10-18; a case without a doctor got the
--              first doctor row; order_cases only for cohort-A orders submitted before 08-18.
--   jaws       those whose instruction has an order; jaw type 'upper' unless only lower_jaw_id
--              points at it.
--   files      all but ~0.01 % (at least one); mime type from a short extension list (stl, JPG
--              -> application/octet-stream); case_files only for files up to 10-19.
--   messages   records up to 10-18 routed by content type: patient and user targets only
--              (instruction targets skipped); records 10-18..10-27 by the differential script:
--              recipient_type 'system', recipient_id NULL, another message_type map.
--   message_attachments  files with a record_id, ~97 % of them.
--   order_states, payments  those with an order (payments without an instruction absent).
--   system_messages  send-and-sent notifications up to a high-water id (10-27): up to 10-19 the
--              full load (message_type 'info', no order link, no barcode/carrier, broken context
--              kept as raw_context); 10-19..10-27 the delta (keyword types, barcode/carrier/
--              tracking from the context, order_id from item_type_id between 6 and 15 taken as
--              an instruction id, broken contexts skipped for good).
--   migration_mappings  office, profile, patient (the profile's UUID for the August cohort, the
--              patients row's UUID for later ones), patient_profile, doctor (partly stale) and
--              order (cohort B2 only, including the rows whose insert failed: UUIDs with no row),
--              plus junk rows with legacy_id 0 and placeholder UUIDs.
--   migration_control  hand-written rows, timestamps 2025-08-15 .. 2025-10-31 (no time zone).
--   teams      auth_group, once (by the app; diffmig keeps it since entity 19).
--   the second wave (entities 20 to 38): sandbox.simulate_earlier_migration_wave2, below.

-- A JSON text parsed, or NULL when it does not parse (the JSON literal null parses).
create or replace function sandbox.em_jsonb(value text)
returns jsonb
language plpgsql immutable parallel safe
as $$
begin
    if value is null then
        return null;
    end if;
    return value::jsonb;
exception when others then
    return null;
end
$$;

-- Whitespace trimmed at both ends and collapsed inside.
create or replace function sandbox.em_squish(value text)
returns text
language sql immutable parallel safe
as $$
    select regexp_replace(regexp_replace(value, '^\s+|\s+$', '', 'g'), '\s+', ' ', 'g')
$$;

-- Raises when a row of one of the given public tables breaks one of its (single-column)
-- foreign keys: the set-based replacement of the per-row checks skipped in replica mode.
create or replace function sandbox.em_check_foreign_keys(table_names text[])
returns void
language plpgsql
as $$
declare
    fk record;
    broken bigint;
begin
    for fk in
        select c.conname, c.conrelid::regclass as child, a.attname as child_column,
            c.confrelid::regclass as parent, pa.attname as parent_column
        from pg_constraint as c
        inner join pg_attribute as a
            on a.attrelid = c.conrelid and a.attnum = c.conkey[1]
        inner join pg_attribute as pa
            on pa.attrelid = c.confrelid and pa.attnum = c.confkey[1]
        where c.contype = 'f'
            and cardinality(c.conkey) = 1
            and c.conrelid in (
                select ('public.' || quote_ident(t))::regclass from unnest(table_names) as t
            )
        order by 1
    loop
        execute format(
            'select count(*) from %s as c where c.%I is not null'
            ' and not exists (select from %s as p where p.%I = c.%I)',
            fk.child, fk.child_column, fk.parent, fk.parent_column, fk.child_column
        ) into broken;
        if broken > 0 then
            raise exception 'simulate_earlier_migration: % rows of % break foreign key %',
                broken, fk.child, fk.conname;
        end if;
    end loop;
end
$$;

create or replace function sandbox.simulate_earlier_migration(seed bigint)
returns void
language plpgsql
set timezone to 'UTC'
set search_path to pg_catalog, public
set client_min_messages to warning
as $$
declare
    -- High-water ids (rows that existed when a run happened), from the legacy timestamps.
    hw_instruction_aug17 bigint;
    hw_instruction_oct18 bigint;
    hw_instruction_aug18 bigint;
    hw_patient_aug17 bigint;
    hw_patient_oct18 bigint;
    hw_record_oct18 bigint;
    hw_record_oct27 bigint;
    hw_file_oct19 bigint;
    hw_notification_oct19 bigint;
    hw_notification_oct27 bigint;
    first_doctor uuid;
    n_notification_full bigint;
    n_notification_full_bad bigint;
    n_notification_delta bigint;
begin
    -- ==========================================================================================
    -- 1. The legacy rows, read once through postgres_fdw
    -- ==========================================================================================
    drop table if exists pg_temp.l_content_type, pg_temp.l_group, pg_temp.l_user,
        pg_temp.l_user_group, pg_temp.l_office, pg_temp.l_office_doctor, pg_temp.l_setting,
        pg_temp.l_patient, pg_temp.l_course, pg_temp.l_product, pg_temp.l_jaw,
        pg_temp.l_instruction, pg_temp.l_record, pg_temp.l_file, pg_temp.l_state,
        pg_temp.l_payment, pg_temp.l_notification;

    create temp table l_content_type as select * from sandbox_legacy.django_content_type;
    create temp table l_group as select * from sandbox_legacy.auth_group;
    create temp table l_user as select * from sandbox_legacy.auth_user;
    create temp table l_user_group as select * from sandbox_legacy.auth_user_groups;
    create temp table l_office as select * from sandbox_legacy.dispatch_office;
    create temp table l_office_doctor as select * from sandbox_legacy.dispatch_office_doctors;
    create temp table l_setting as select * from sandbox_legacy.dispatch_doctorsetting;
    create temp table l_patient as select * from sandbox_legacy.dispatch_patient;
    create temp table l_course as select * from sandbox_legacy.dispatch_course;
    create temp table l_product as select * from sandbox_legacy.dispatch_product;
    create temp table l_jaw as select * from sandbox_legacy.dispatch_jaw;
    create temp table l_instruction as select * from sandbox_legacy.dispatch_instruction;
    create temp table l_record as select * from sandbox_legacy.dispatch_record;
    create temp table l_file as
    select id, uid, name, ext, size, type, instruction_id, created_at, description, product_id,
        parameters, record_id, status
    from sandbox_legacy.dispatch_file;
    create temp table l_state as select * from sandbox_legacy.dispatch_state;
    create temp table l_payment as select * from sandbox_legacy.dispatch_payment;

    alter table pg_temp.l_user add primary key (id);
    alter table pg_temp.l_patient add primary key (id);
    alter table pg_temp.l_instruction add primary key (id);
    alter table pg_temp.l_record add primary key (id);
    alter table pg_temp.l_file add primary key (id);
    create index on pg_temp.l_patient (user_id);
    create index on pg_temp.l_instruction (patient_id);
    create index on pg_temp.l_instruction (upper_jaw_id);
    create index on pg_temp.l_instruction (lower_jaw_id);
    create index on pg_temp.l_user_group (user_id);
    analyze pg_temp.l_user, pg_temp.l_user_group, pg_temp.l_office, pg_temp.l_office_doctor,
        pg_temp.l_setting, pg_temp.l_patient, pg_temp.l_product, pg_temp.l_jaw,
        pg_temp.l_instruction, pg_temp.l_record, pg_temp.l_file, pg_temp.l_state,
        pg_temp.l_payment;

    -- High-water ids. Timestamps outside 2018..2025-10-31 (planted defects) do not count.
    select coalesce(max(id), 0) into hw_instruction_aug17 from pg_temp.l_instruction
    where submitted_at >= '2018-01-01' and submitted_at < '2025-08-17 12:00+00';
    select coalesce(max(id), 0) into hw_instruction_oct18 from pg_temp.l_instruction
    where submitted_at >= '2018-01-01' and submitted_at < '2025-10-18 09:00+00';
    select coalesce(max(id), 0) into hw_instruction_aug18 from pg_temp.l_instruction
    where submitted_at >= '2018-01-01' and submitted_at < '2025-08-18 09:00+00';
    select coalesce(max(id), 0) into hw_patient_aug17 from pg_temp.l_patient
    where submitted_at >= '2018-01-01' and submitted_at < '2025-08-17 12:00+00';
    select coalesce(max(id), 0) into hw_patient_oct18 from pg_temp.l_patient
    where submitted_at >= '2018-01-01' and submitted_at < '2025-10-18 09:00+00';
    select coalesce(max(id), 0) into hw_record_oct18 from pg_temp.l_record
    where created_at >= '2018-01-01' and created_at < '2025-10-18 09:00+00';
    select coalesce(max(id), 0) into hw_record_oct27 from pg_temp.l_record
    where created_at >= '2018-01-01' and created_at < '2025-10-27 09:00+00';
    select coalesce(max(id), 0) into hw_file_oct19 from pg_temp.l_file
    where created_at >= '2018-01-01' and created_at < '2025-10-19 09:00+00';

    -- Notifications: only the send-and-sent ones up to the 10-27 high-water mark are needed.
    -- The high-water marks come from the remote table (index on id, filter on created_at).
    select coalesce(max(id), 0) into hw_notification_oct19 from sandbox_legacy.dispatch_notification
    where created_at >= '2018-01-01' and created_at < '2025-10-19 06:00+00';
    select coalesce(max(id), 0) into hw_notification_oct27 from sandbox_legacy.dispatch_notification
    where created_at >= '2018-01-01' and created_at < '2025-10-27 06:00+00';
    create temp table l_notification as
    select id, created_at, sender, template_name, template_context, read, item_id, item_type_id,
        recipient_id, sent, send, sandbox.em_jsonb(template_context) as ctx
    from sandbox_legacy.dispatch_notification
    where send and sent and id <= hw_notification_oct27;
    select count(*) filter (where id <= hw_notification_oct19),
        count(*) filter (where id <= hw_notification_oct19 and ctx is null),
        count(*) filter (where id > hw_notification_oct19)
    into n_notification_full, n_notification_full_bad, n_notification_delta
    from pg_temp.l_notification;

    -- ==========================================================================================
    -- 2. teams (auth_group, migrated once by the app)
    -- ==========================================================================================
    insert into public.teams (id, name, description, is_active, legacy_group_id, metadata,
        created_at, updated_at)
    select sandbox.uuid_for('team', g.id, seed), g.name, 'Migrated from auth_group', true, g.id,
        jsonb_build_object('migration', jsonb_build_object('script', 'phase-7-teams')),
        timestamptz '2025-08-16 09:12:00+00', timestamptz '2025-08-16 09:12:00+00'
    from pg_temp.l_group as g
    order by g.id;

    -- ==========================================================================================
    -- 3. offices (office-migration.ts, 08-15; valid offices only)
    -- ==========================================================================================
    drop table if exists pg_temp.m_office;
    create temp table m_office as
    select o.*,
        row_number() over (order by o.id) as rn,
        first_value(o.id) over (
            partition by lower(sandbox.em_squish(o.name)), lower(sandbox.em_squish(o.address)),
                lower(sandbox.em_squish(o.city)), upper(btrim(o.state)),
                regexp_replace(o.zip, '\D', '', 'g')
            order by o.id
        ) as kept_id
    from pg_temp.l_office as o
    where o.valid;

    insert into public.offices (id, name, address, apartment, city, state, zip_code, country,
        phone, email, tax_rate, square_customer_id, is_active, email_notifications,
        legacy_office_id, metadata, created_at, updated_at)
    select sandbox.uuid_for('office', o.id, seed),
        coalesce(nullif(lower(sandbox.em_squish(o.name)), ''), 'Office ' || o.id),
        nullif(lower(sandbox.em_squish(o.address)), ''),
        nullif(btrim(o.apt), ''),
        nullif(lower(sandbox.em_squish(o.city)), ''),
        nullif(upper(btrim(o.state)), ''),
        nullif(regexp_replace(o.zip, '\D', '', 'g'), ''),
        case
            when lower(btrim(o.country)) in ('usa', 'us', 'united states') then 'USA'
            else o.country
        end,
        nullif(regexp_replace(o.phone, '\D', '', 'g'), ''),
        null,
        case when o.tax_rate > 1 then least(o.tax_rate / 100, 0.9999) else o.tax_rate end,
        o.sq_customer_id,
        true,
        true,
        o.id,
        jsonb_build_object(
            'migration', jsonb_strip_nulls(jsonb_build_object(
                'script', 'office-migration.ts',
                'batch', 'office_migration_20250815_100512',
                'original_tax_rate', case when o.tax_rate > 1 then o.tax_rate end
            ))
        ),
        timestamptz '2025-08-15 10:05:12+00' + o.rn * interval '550 milliseconds',
        timestamptz '2025-08-15 10:05:12+00' + o.rn * interval '550 milliseconds'
    from pg_temp.m_office as o
    where o.kept_id = o.id
    order by o.id;

    -- ==========================================================================================
    -- 4. profiles (profile-migration.ts 08-15, complete-final-differential-migration.ts 10-27)
    -- ==========================================================================================
    drop table if exists pg_temp.m_profile;
    create temp table m_profile as
    with groups as (
        select ug.user_id,
            min(ug.group_id) filter (where ug.group_id in (2, 4, 5, 11)) as first_known_group
        from pg_temp.l_user_group as ug
        group by ug.user_id
    ),
    patient_rows as (
        select distinct on (p.user_id) p.*
        from pg_temp.l_patient as p
        order by p.user_id, p.id
    ),
    instruction_counts as (
        select i.patient_id, count(*) as n from pg_temp.l_instruction as i group by i.patient_id
    )
    select u.*,
        p.id as patient_id, p.birthdate, p.sex, p.suffix, p.archived, p.suspended,
        p.doctor_id as patient_doctor_id, p.office_id as patient_office_id, p.status,
        p.submitted_at as patient_submitted_at, p.updated_at as patient_updated_at,
        coalesce(ic.n, 0) as patient_instructions,
        case
            when p.id is not null then 'patient'
            when g.first_known_group = 2 then 'doctor'
            when g.first_known_group in (4, 5) then 'master'
            when g.first_known_group = 11 then 'technician'
            when u.is_superuser or u.is_staff then 'master'
            else 'patient'
        end as profile_type,
        case
            when u.email !~ '@' then null
            else lower(btrim(u.email))
        end as clean_email,
        sandbox.rnd(u.id, 401, seed) as r
    from pg_temp.l_user as u
    left join groups as g on g.user_id = u.id
    left join patient_rows as p on p.user_id = u.id
    left join instruction_counts as ic on ic.patient_id = p.id;

    -- Skipped: ~2 % of the users without a patient row (failed inserts), at least one; and the
    -- rows whose email broke the email_format check.
    alter table pg_temp.m_profile add column skipped boolean;
    update pg_temp.m_profile
    set skipped = (patient_id is null and r < 0.02)
        or (clean_email is not null and clean_email !~ '^[^@]+@[^@]+$');
    update pg_temp.m_profile
    set skipped = true
    where id = (
        select m.id from pg_temp.m_profile as m
        where m.patient_id is null
        order by m.r, m.id
        limit 1
    );

    insert into public.profiles (id, profile_type, first_name, last_name, email, phone,
        date_of_birth, gender, username, password_hash, is_active, is_verified, archived,
        suspended, patient_suffix, last_login_at, legacy_user_id, legacy_patient_id, metadata,
        created_at, updated_at)
    select sandbox.uuid_for('profile', m.id, seed),
        m.profile_type::public.profile_type,
        case
            when sandbox.em_squish(m.first_name) in ('', 'null') then 'Unknown'
            else sandbox.em_squish(m.first_name)
        end,
        case
            when sandbox.em_squish(m.last_name) in ('', 'null') then 'Unknown'
            else sandbox.em_squish(m.last_name)
        end,
        m.clean_email,
        null,
        m.birthdate,
        (case m.sex when 1 then 'male' when 2 then 'female' when 0 then 'other'
            else 'unknown' end)::public.gender,
        m.username,
        m.password,
        m.is_active,
        false,
        coalesce(m.archived, false),
        coalesce(m.suspended, false),
        m.suffix,
        m.last_login,
        m.id,
        m.patient_id,
        jsonb_build_object(
            'migration', jsonb_build_object(
                'script', case when m.date_joined < '2025-08-15'
                    then 'profile-migration.ts' else 'complete-final-differential-migration.ts'
                    end
            ),
            'patient_data', case when m.patient_id is not null then jsonb_build_object(
                'doctor_id', m.patient_doctor_id, 'office_id', m.patient_office_id,
                'status', m.status, 'submitted_at', m.patient_submitted_at,
                'updated_at', m.patient_updated_at
            ) end
        ),
        m.date_joined,
        case when m.date_joined < '2025-08-15'
            then timestamptz '2025-08-15 13:40:00+00' else timestamptz '2025-10-31 06:10:00+00' end
    from pg_temp.m_profile as m
    where not m.skipped
    order by m.id;

    -- ==========================================================================================
    -- 5. doctors (deleted and re-imported 10-16 for the doctors with patients; the others
    --    created 10-19 by create-missing-doctor-records.ts)
    -- ==========================================================================================
    drop table if exists pg_temp.m_doctor;
    create temp table m_doctor as
    select pr.id as profile_id, pr.legacy_user_id,
        exists (
            select from pg_temp.l_patient as p
            where p.doctor_id = pr.legacy_user_id and not p.archived
        ) as reimported,
        u.is_active, u.date_joined,
        (
            select o.id from public.offices as o
            where o.legacy_office_id = (
                select od.office_id from pg_temp.l_office_doctor as od
                where od.user_id = pr.legacy_user_id
                order by od.id limit 1
            )
        ) as primary_office_id,
        s.id as setting_id, s.clinical_preferences, s.sq_customer_id, s.promised_payment,
        s.credit, s.installment_payments, s.baa_agreed_at, s.eula_agreed_at, s.company_account
    from public.profiles as pr
    inner join pg_temp.l_user as u on u.id = pr.legacy_user_id
    left join pg_temp.l_setting as s on s.user_id = pr.legacy_user_id
    where pr.profile_type = 'doctor';

    insert into public.doctors (id, profile_id, doctor_number, specialty, primary_office_id,
        status, is_accepting_patients, max_patient_load, joined_practice_at, legacy_user_id,
        metadata, created_at, updated_at)
    select sandbox.uuid_for('doctor', d.legacy_user_id, seed),
        d.profile_id,
        case when d.reimported then 'DOC-' || d.legacy_user_id
            else 'DOC-' || lpad(d.legacy_user_id::text, 6, '0') end,
        'orthodontics',
        d.primary_office_id,
        (case when d.reimported or d.is_active then 'active' else 'inactive' end)
            ::public.doctor_status,
        true,
        500,
        d.date_joined,
        d.legacy_user_id,
        jsonb_build_object(
            'migration', jsonb_build_object(
                'script', case when d.reimported then 'execute-doctor-migration-fixed.ts'
                    else 'create-missing-doctor-records.ts' end
            ),
            'doctor_settings', case when d.setting_id is not null then jsonb_build_object(
                'clinical_preferences', d.clinical_preferences,
                'sq_customer_id', d.sq_customer_id, 'promised_payment', d.promised_payment,
                'credit', d.credit, 'installment_payments', d.installment_payments,
                'baa_agreed_at', d.baa_agreed_at, 'eula_agreed_at', d.eula_agreed_at,
                'company_account', d.company_account
            ) end
        ),
        case when d.reimported then timestamptz '2025-10-16 15:02:00+00'
            else timestamptz '2025-10-19 10:30:00+00' end,
        case when d.reimported then timestamptz '2025-10-16 15:02:00+00'
            else timestamptz '2025-10-19 10:30:00+00' end
    from pg_temp.m_doctor as d
    order by d.legacy_user_id;

    -- The first doctor row, which migrate-cases.ts gave every case without a doctor.
    select d.id into first_doctor from public.doctors as d order by d.created_at, d.id limit 1;

    -- ==========================================================================================
    -- 6. technicians (migrate-complete-technicians-corrected.ts, 10-18)
    -- ==========================================================================================
    insert into public.technicians (id, profile_id, employee_id, status, is_active, hire_date,
        legacy_user_id, metadata, created_at, updated_at)
    select sandbox.uuid_for('technician', u.id, seed), pr.id, u.username,
        (case when u.is_active then 'active' else 'inactive' end)::public.employment_status,
        u.is_active, u.date_joined::date, u.id,
        jsonb_build_object('migration', jsonb_build_object(
            'script', 'migrate-complete-technicians-corrected.ts',
            'legacy_technician_id', u.id
        )),
        timestamptz '2025-10-18 16:45:00+00', timestamptz '2025-10-18 16:45:00+00'
    from public.profiles as pr
    inner join pg_temp.l_user as u on u.id = pr.legacy_user_id
    where pr.profile_type = 'technician'
    order by u.id;

    -- ==========================================================================================
    -- 7. doctor_offices (migrate-doctor-offices.ts, 10-19)
    -- ==========================================================================================
    insert into public.doctor_offices (id, doctor_id, office_id, is_primary, is_active, metadata,
        created_at, updated_at)
    select sandbox.uuid_for('doctor_office', od.id, seed), d.id, o.id, false, true,
        jsonb_build_object('migration', jsonb_build_object(
            'script', 'migrate-doctor-offices.ts', 'legacy_office_doctors_id', od.id
        )),
        timestamptz '2025-10-19 11:05:00+00', timestamptz '2025-10-19 11:05:00+00'
    from pg_temp.l_office_doctor as od
    inner join public.doctors as d on d.legacy_user_id = od.user_id
    inner join public.offices as o on o.legacy_office_id = od.office_id
    order by od.id;

    -- ==========================================================================================
    -- 8. patients (patient-migration.ts 08-17, differential 10-27; fix scripts for doctor,
    --    office and suffix)
    -- ==========================================================================================
    drop table if exists pg_temp.m_patient;
    create temp table m_patient as
    select p.*, pr.id as profile_uuid,
        (select count(*) from pg_temp.l_instruction as i where i.patient_id = p.id)
            as instructions,
        sandbox.rnd(p.id, 402, seed) as r
    from pg_temp.l_patient as p
    inner join public.profiles as pr on pr.legacy_user_id = p.user_id;
    alter table pg_temp.m_patient add column skipped boolean;
    update pg_temp.m_patient set skipped = instructions <= 1 and r < 0.004;
    update pg_temp.m_patient
    set skipped = true
    where id = (
        select m.id from pg_temp.m_patient as m
        where m.instructions <= 1
        order by m.r, m.id
        limit 1
    );

    insert into public.patients (id, profile_id, patient_number, suffix, sex, date_of_birth,
        primary_doctor_id, assigned_office_id, status, archived, suspended, schemes, enrolled_at,
        legacy_patient_id, legacy_user_id, legacy_doctor_id, metadata, created_at, updated_at)
    select sandbox.uuid_for('patient', p.id, seed),
        p.profile_uuid,
        case when p.id <= hw_patient_aug17 then 'PAT-' || lpad(p.id::text, 6, '0')
            else 'PAT-' || p.id end,
        case when not p.archived and btrim(p.suffix) <> '' then p.suffix end,
        (case p.sex when 1 then 'male' when 2 then 'female' when 0 then 'other'
            else 'unknown' end)::public.gender,
        p.birthdate,
        d.id,
        o.id,
        (case p.status when 1 then 'active' when 4 then 'active' when 2 then 'on_hold'
            when 10 then 'archived' else 'active' end)::public.patient_status,
        p.archived,
        p.suspended,
        coalesce(sandbox.em_jsonb(p.schemes), jsonb_build_object('legacy_schemes', p.schemes)),
        p.submitted_at,
        p.id,
        p.user_id,
        p.doctor_id,
        jsonb_build_object('migration', jsonb_build_object(
            'script', case when p.id <= hw_patient_aug17 then 'patient-migration.ts'
                else 'patients-complete-migration-pg.ts' end,
            'legacy_status', p.status
        )),
        p.submitted_at,
        case when p.id <= hw_patient_aug17 then timestamptz '2025-10-18 12:00:00+00'
            else timestamptz '2025-10-31 06:25:00+00' end
    from pg_temp.m_patient as p
    left join public.doctors as d on d.legacy_user_id = p.doctor_id
    left join public.offices as o on o.legacy_office_id = p.office_id
    where not p.skipped
    order by p.id;

    -- ==========================================================================================
    -- 9. products (catalogue, 08-16; deleted products left out)
    -- ==========================================================================================
    insert into public.products (id, name, course_type, description, is_active, customization,
        legacy_product_id, metadata, created_at, updated_at)
    select sandbox.uuid_for('product', p.id, seed), p.name,
        (case c.type when 1 then 'main' when 2 then 'refinement' when 3 then 'any'
            when 4 then 'replacement' when 5 then 'invoice' when 6 then 'merchandise'
            else 'main' end)::public.course_type,
        p.description, not p.deleted, sandbox.em_jsonb(p.customization), p.id,
        jsonb_build_object('migration', jsonb_build_object('script', 'migrate-products.ts'),
            'legacy_course_id', p.course_id, 'type', p.type, 'free', p.free,
            'substitute', p.substitute),
        timestamptz '2025-08-16 11:00:00+00', timestamptz '2025-08-16 11:00:00+00'
    from pg_temp.l_product as p
    left join pg_temp.l_course as c on c.id = p.course_id
    where not p.deleted
    order by p.id;

    -- ==========================================================================================
    -- 10. orders
    -- ==========================================================================================
    drop table if exists pg_temp.m_order;
    create temp table m_order as
    select i.*,
        pa.id as patient_uuid,
        lp.suffix as patient_suffix,
        d.id as doctor_uuid,
        o.id as office_uuid,
        sandbox.em_jsonb(i.exports) as exports_json,
        sandbox.rnd(i.id, 403, seed) as r,
        null::text as cohort
    from pg_temp.l_instruction as i
    inner join public.patients as pa on pa.legacy_patient_id = i.patient_id
    inner join pg_temp.l_patient as lp on lp.id = i.patient_id
    left join public.doctors as d on d.legacy_user_id = lp.doctor_id
    left join public.offices as o on o.legacy_office_id = lp.office_id;
    update pg_temp.m_order
    set cohort = case
        when r < 0.0004 then 'skipped'
        when id <= hw_instruction_oct18 and not deleted and exports_json is not null
            and doctor_uuid is not null then 'A'
        when id <= hw_instruction_oct18 then 'B1'
        when status = 3 then 'B2_failed'
        else 'B2'
    end;
    update pg_temp.m_order
    set cohort = 'skipped'
    where id = (
        select m.id from pg_temp.m_order as m where m.cohort = 'A' order by m.r, m.id limit 1
    );
    -- At least one failed differential insert (its mapping row then points at nothing).
    update pg_temp.m_order
    set cohort = 'B2_failed'
    where id = (
        select m.id from pg_temp.m_order as m where m.cohort = 'B2' order by m.r, m.id limit 1
    )
        and not exists (select from pg_temp.m_order as m where m.cohort = 'B2_failed');

    -- Cohort A: orders-migration.ts (08-17; deleted = false, doctor required).
    insert into public.orders (id, order_number, patient_id, doctor_id, office_id, course_type,
        status, notes, complaint, amount, submitted_at, approved_at, shipped_at, deleted,
        deleted_at, exports, suffix, legacy_instruction_id, metadata, created_at, updated_at)
    select sandbox.uuid_for('order', m.id, seed),
        coalesce(m.patient_suffix, '') || '-' || m.id,
        m.patient_uuid,
        m.doctor_uuid,
        m.office_uuid,
        (case m.course_id when 1 then 'main' when 2 then 'refinement' when 3 then 'replacement'
            when 4 then 'any' when 7 then 'invoice' when 8 then 'merchandise'
            else 'main' end)::public.course_type,
        (case m.status when 0 then 'no_product' when 1 then 'submitted' when 2 then 'approved'
            when 3 then 'in_production' when 4 then 'shipped' when 5 then 'cancelled'
            when 6 then 'on_hold' when 7 then 'add_plan' else 'submitted' end)
            ::public.order_status,
        m.notes,
        m.complaint,
        m.price,
        m.submitted_at,
        case when m.status >= 2 then m.updated_at end,
        case when m.status = 4 then m.updated_at end,
        false,
        null,
        case when m.exports = '{}' then null else m.exports_json end,
        m.suffix,
        m.id,
        jsonb_build_object('migration', jsonb_build_object(
            'script', 'orders-migration.ts',
            'legacy_data', jsonb_build_object(
                'model', m.model, 'order', m."order", 'scanner', m.scanner,
                'scanner_notes', m.scanner_notes, 'cbct', m.cbct, 'deleted', m.deleted,
                'conditions', m.conditions, 'accept_extraction', m.accept_extraction,
                'objective', m.objective, 'comprehensive', m.comprehensive,
                'upper_jaw_id', m.upper_jaw_id, 'lower_jaw_id', m.lower_jaw_id
            )
        )),
        case when m.id <= hw_instruction_aug17 then timestamptz '2025-08-17 14:20:00+00'
            else timestamptz '2025-10-18 13:10:00+00' end,
        case when m.id <= hw_instruction_aug17 then timestamptz '2025-08-17 14:20:00+00'
            else timestamptz '2025-10-18 13:10:00+00' end
    from pg_temp.m_order as m
    where m.cohort = 'A'
    order by m.id;

    -- Cohort B1: orders-migration-comprehensive.ts (10-19), its own status mapping.
    insert into public.orders (id, order_number, patient_id, doctor_id, office_id, course_type,
        status, notes, complaint, amount, submitted_at, approved_at, shipped_at, deleted,
        deleted_at, exports, suffix, legacy_instruction_id, metadata, created_at, updated_at)
    select sandbox.uuid_for('order', m.id, seed),
        'ORD-' || to_char(m.submitted_at, 'YYYYMMDD') || '-' || lpad(m.id::text, 6, '0'),
        m.patient_uuid,
        m.doctor_uuid,
        m.office_uuid,
        (case c.type when 1 then 'main' when 2 then 'refinement' when 3 then 'any'
            when 4 then 'replacement' when 5 then 'invoice' when 6 then 'merchandise'
            else 'main' end)::public.course_type,
        (case m.status when 0 then 'no_product' when 1 then 'submitted' when 2 then 'on_hold'
            when 3 then 'submitted' when 4 then 'approved' else 'submitted' end)
            ::public.order_status,
        m.notes,
        m.complaint,
        m.price,
        m.submitted_at,
        case when m.status >= 2 then m.updated_at end,
        null,
        m.deleted,
        case when m.deleted then m.updated_at end,
        m.exports_json,
        m.suffix,
        m.id,
        jsonb_build_object('migration', jsonb_build_object(
            'script', 'orders-migration-comprehensive.ts',
            'legacy_status', m.status
        )),
        timestamptz '2025-10-19 08:00:00+00',
        timestamptz '2025-10-19 08:00:00+00'
    from pg_temp.m_order as m
    left join pg_temp.l_course as c on c.id = m.course_id
    where m.cohort = 'B1'
    order by m.id;

    -- Cohort B2: differential-orders-migration.ts (10-31), the differential status mapping;
    -- status 3 became 'completed', which the enum rejects: those rows are absent.
    insert into public.orders (id, order_number, patient_id, doctor_id, office_id, course_type,
        status, notes, complaint, amount, submitted_at, approved_at, shipped_at, deleted,
        deleted_at, exports, suffix, legacy_instruction_id, metadata, created_at, updated_at)
    select sandbox.uuid_for('order', m.id, seed),
        '00BB-' || m.id,
        m.patient_uuid,
        null,
        m.office_uuid,
        'main',
        (case m.status when 0 then 'submitted' when 1 then 'approved' when 2 then 'shipped'
            when 4 then 'cancelled' else 'submitted' end)::public.order_status,
        null,
        null,
        null,
        m.submitted_at,
        null,
        null,
        m.deleted,
        case when m.deleted then m.updated_at end,
        null,
        m.suffix,
        m.id,
        jsonb_build_object('migration', jsonb_build_object(
            'script', 'differential-orders-migration.ts',
            'batch', 'orders_differential_20251031_051500'
        )),
        timestamptz '2025-10-31 05:15:00+00',
        timestamptz '2025-10-31 05:15:00+00'
    from pg_temp.m_order as m
    where m.cohort = 'B2'
    order by m.id;

    -- ==========================================================================================
    -- 11. cases (migrate-cases.ts, 10-18) and order_cases (08-18)
    -- ==========================================================================================
    insert into public.cases (id, patient_id, primary_doctor_id, office_id, case_number, status,
        deleted, legacy_patient_id, metadata, created_at, updated_at)
    select sandbox.uuid_for('case', pa.legacy_patient_id, seed), pa.id,
        coalesce(pa.primary_doctor_id, first_doctor),
        pa.assigned_office_id,
        'CASE-' || lp.suffix || '-' || lp.id,
        (case lp.status when 1 then 'consultation' when 2 then 'diagnosis'
            when 3 then 'treatment_plan' when 4 then 'active' when 5 then 'refinement'
            when 6 then 'retention' when 7 then 'completed' when 8 then 'cancelled'
            when 9 then 'on_hold' when 10 then 'transferred' when 11 then 'revision'
            else 'consultation' end)::public.case_status,
        lp.archived or lp.suspended,
        lp.id,
        jsonb_build_object('migration', jsonb_build_object('script', 'migrate-cases.ts'),
            'legacy_status', lp.status),
        lp.submitted_at,
        timestamptz '2025-10-18 15:30:00+00'
    from public.patients as pa
    inner join pg_temp.l_patient as lp on lp.id = pa.legacy_patient_id
    where lp.id <= hw_patient_oct18
    order by lp.id;

    insert into public.order_cases (id, order_id, case_id, relationship_type, is_active, metadata,
        created_at, updated_at)
    select sandbox.uuid_for('order_case', o.legacy_instruction_id, seed), o.id, c.id, 'primary',
        true, '{}'::jsonb,
        timestamptz '2025-08-18 10:40:00+00', timestamptz '2025-08-18 10:40:00+00'
    from public.orders as o
    inner join public.cases as c on c.patient_id = o.patient_id
    where o.legacy_instruction_id <= hw_instruction_aug18
        and o.metadata -> 'migration' ->> 'script' = 'orders-migration.ts'
    order by o.legacy_instruction_id;

    -- From here on the tables are big (millions of rows at scale 1) and have no user trigger
    -- that fires on insert: their foreign keys' per-row checks are skipped (replica mode,
    -- superuser only) and replaced by one set-based check per foreign key after section 18.
    set local session_replication_role = replica;

    -- ==========================================================================================
    -- 12. jaws (differential-jaws-migration.ts; type 'upper' unless only lower points at it)
    -- ==========================================================================================
    insert into public.jaws (id, order_id, product_id, jaw_type, labial, bond_teeth,
        extract_teeth, replacement_reason, legacy_jaw_id, metadata, created_at, updated_at)
    select sandbox.uuid_for('jaw', j.id, seed), o.id, pr.id,
        (case when up.id is null and lo.id is not null then 'lower' else 'upper' end)
            ::public.jaw_type,
        j.labial, j.bond_teeth, j.extract_teeth,
        case j.reason when 1 then 'breakage' when 2 then 'complete' else 'other' end,
        j.id,
        jsonb_build_object('migration', jsonb_build_object(
            'script', 'differential-jaws-migration.ts',
            'instruction_id', coalesce(up.id, lo.id)),
            'reason', j.reason),
        timestamptz '2025-10-27 10:05:00+00', timestamptz '2025-10-27 10:05:00+00'
    from pg_temp.l_jaw as j
    left join lateral (
        select min(i.id) as id from pg_temp.l_instruction as i where i.upper_jaw_id = j.id
    ) as up on true
    left join lateral (
        select min(i.id) as id from pg_temp.l_instruction as i where i.lower_jaw_id = j.id
    ) as lo on true
    inner join public.orders as o on o.legacy_instruction_id = coalesce(up.id, lo.id)
    left join public.products as pr on pr.legacy_product_id = j.product_id
    order by j.id;

    -- ==========================================================================================
    -- 13. files (migrate-files.ts, differential-files-migration.ts) and case_files
    -- ==========================================================================================
    insert into public.files (id, file_uid, order_id, uploaded_by, filename, file_type,
        file_size_bytes, mime_type, uploaded_at, legacy_file_id, metadata, created_at, updated_at)
    select sandbox.uuid_for('file', f.id, seed), f.uid, o.id, null,
        coalesce(nullif(f.name, ''), 'unknown'), f.ext, f.size,
        case f.ext
            when 'pdf' then 'application/pdf'
            when 'jpg' then 'image/jpeg'
            when 'jpeg' then 'image/jpeg'
            when 'png' then 'image/png'
            when 'gif' then 'image/gif'
            when 'doc' then 'application/msword'
            when 'docx'
                then 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'
            when 'txt' then 'text/plain'
            when 'zip' then 'application/zip'
            when 'rar' then 'application/x-rar-compressed'
            else 'application/octet-stream'
        end,
        f.created_at, f.id,
        jsonb_build_object(
            'type', f.type, 'description', f.description,
            'parameters', coalesce(sandbox.em_jsonb(f.parameters), '{}'::jsonb),
            'record_id', f.record_id, 'status', f.status, 'product_id', f.product_id,
            'instruction_id', f.instruction_id
        ),
        f.created_at,
        case when f.id <= hw_file_oct19 then timestamptz '2025-10-18 20:00:00+00'
            else timestamptz '2025-10-31 06:40:00+00' end
    from pg_temp.l_file as f
    left join public.orders as o on o.legacy_instruction_id = f.instruction_id
    where sandbox.rnd(f.id, 404, seed) >= 0.0001
        and f.id <> (
            select x.id from pg_temp.l_file as x order by sandbox.rnd(x.id, 404, seed), x.id
            limit 1
        )
    order by f.id;

    insert into public.case_files (id, case_id, file_id, file_purpose, display_order, metadata,
        created_at, updated_at)
    select sandbox.uuid_for('case_file', fi.legacy_file_id, seed), c.id, fi.id,
        case
            when (fi.metadata ->> 'type')::integer in (1, 3, 4, 5) then 'photos'
            when (fi.metadata ->> 'type')::integer = 2 then 'models'
            when (fi.metadata ->> 'type')::integer in (6, 7, 8) then 'treatment_plan'
            when (fi.metadata ->> 'type')::integer between 9 and 13 then 'instruction_files'
            else 'other'
        end,
        null, '{}'::jsonb,
        timestamptz '2025-10-19 07:30:00+00', timestamptz '2025-10-19 07:30:00+00'
    from public.files as fi
    inner join public.orders as o on o.id = fi.order_id
    inner join public.cases as c on c.patient_id = o.patient_id
    where fi.legacy_file_id <= hw_file_oct19
    order by fi.legacy_file_id;

    -- ==========================================================================================
    -- 14. messages (migrate-dispatch-records.ts up to 10-18; differential 10-18..10-27)
    -- ==========================================================================================
    insert into public.messages (id, message_type, title, content, sender_id, recipient_type,
        recipient_id, is_read, legacy_record_id, metadata, created_at, updated_at)
    select sandbox.uuid_for('message', r.id, seed),
        case r.type when 3 then 'support' when 5 then 'clinical_note' when 6 then 'notification'
            when 8 then 'status_update' else 'general' end,
        case
            when r.text ilike '%treatment plan%' then 'Treatment Plan Update'
            when r.text ilike '%scan%' then 'Scan Related'
            when r.text ilike '%thank%' then 'Thank You'
        end,
        r.text,
        sender.id,
        case when ct.model = 'patient' then 'patient' else 'user' end,
        coalesce(pa.id, pr.id),
        false,
        r.id,
        jsonb_build_object('type', r.type, 'target_type_id', r.target_type_id,
            'target_id', r.target_id, 'group_id', r.group_id, 'public', r.public),
        r.created_at,
        r.created_at
    from pg_temp.l_record as r
    inner join pg_temp.l_content_type as ct on ct.id = r.target_type_id
    left join public.patients as pa
        on ct.app_label = 'dispatch' and ct.model = 'patient' and pa.legacy_patient_id = r.target_id
    left join public.profiles as pr
        on ct.app_label = 'auth' and ct.model = 'user' and pr.legacy_user_id = r.target_id
    left join public.profiles as sender on sender.legacy_user_id = r.author_id
    where r.id <= hw_record_oct18
        and coalesce(pa.id, pr.id) is not null
    order by r.id;

    insert into public.messages (id, message_type, title, content, sender_id, recipient_type,
        recipient_id, is_read, legacy_record_id, metadata, created_at, updated_at)
    select sandbox.uuid_for('message', r.id, seed),
        case r.type when 1 then 'notification' when 2 then 'update' when 3 then 'comment'
            when 4 then 'system' when 5 then 'alert' else 'general' end,
        null,
        r.text,
        sender.id,
        'system',
        null,
        false,
        r.id,
        jsonb_build_object('migration', jsonb_build_object(
            'script', 'differential-messages-migration.ts'), 'type', r.type),
        r.created_at,
        timestamptz '2025-10-27 09:55:00+00'
    from pg_temp.l_record as r
    left join public.profiles as sender on sender.legacy_user_id = r.author_id
    where r.id > hw_record_oct18 and r.id <= hw_record_oct27
    order by r.id;

    -- ==========================================================================================
    -- 15. message_attachments (migrate-message-attachments-incremental-fixed.ts, ~97 %)
    -- ==========================================================================================
    insert into public.message_attachments (id, message_id, file_id, attachment_type,
        display_name, file_size, mime_type, attached_at, legacy_record_id, legacy_file_id,
        metadata, created_at, updated_at)
    select sandbox.uuid_for('message_attachment', fi.legacy_file_id, seed), me.id, fi.id, 'file',
        fi.filename, fi.file_size_bytes, fi.mime_type, me.created_at, me.legacy_record_id,
        fi.legacy_file_id, '{}'::jsonb,
        timestamptz '2025-10-18 18:15:00+00', timestamptz '2025-10-18 18:15:00+00'
    from public.files as fi
    inner join public.messages as me
        on me.legacy_record_id = (fi.metadata ->> 'record_id')::integer
    where fi.metadata ->> 'record_id' is not null
        and sandbox.rnd(fi.legacy_file_id, 405, seed) >= 0.03
    order by fi.legacy_file_id;

    -- ==========================================================================================
    -- 16. order_states (migrate-order-states.ts)
    -- ==========================================================================================
    insert into public.order_states (id, order_id, status_code, status_name, is_active,
        changed_by, changed_at, legacy_state_id, legacy_instruction_id, metadata, created_at,
        updated_at)
    select sandbox.uuid_for('order_state', s.id, seed), o.id, s.status,
        case s.status when 11 then 'review_approval' when 12 then 'processing'
            when 13 then 'manufacturing' when 14 then 'shipped' when 15 then 'delivered'
            when 16 then 'completed' when 17 then 'cancelled' when 18 then 'on_hold'
            when 19 then 'returned' when 20 then 'refunded' else 'unknown_' || s.status end,
        s."on", pr.id, s.changed_at, s.id, s.instruction_id,
        jsonb_build_object('legacy_actor_id', s.actor_id),
        s.changed_at, timestamptz '2025-10-31 06:50:00+00'
    from pg_temp.l_state as s
    inner join public.orders as o on o.legacy_instruction_id = s.instruction_id
    left join public.profiles as pr on pr.legacy_user_id = s.actor_id
    order by s.id;

    -- ==========================================================================================
    -- 17. payments (migrate-payments-complete.ts; no order -> dropped)
    -- ==========================================================================================
    insert into public.payments (id, order_id, amount, currency, status, payment_method,
        processed_at, legacy_payment_id, metadata, created_at, updated_at)
    select sandbox.uuid_for('payment', p.id, seed), o.id, p.total_price, 'USD',
        (case when p.canceled then 'cancelled' when p.paid then 'completed' else 'pending' end)
            ::public.payment_status,
        case when p.free then null when p.netsuite then 'other' else 'card' end,
        p.made_at, p.id,
        jsonb_build_object(
            'tax_rate', p.tax_rate, 'tax_value', p.tax_value, 'paid_price', p.paid_price,
            'used_credit', p.used_credit, 'custom_price', p.custom_price,
            'subtotal_price', p.subtotal_price, 'additional_price', p.additional_price,
            'installments', p.installments, 'legacy_doctor_id', p.doctor_id,
            'legacy_office_id', p.office_id, 'legacy_instruction_id', p.instruction_id
        ),
        coalesce(p.made_at, timestamptz '2025-08-16 17:00:00+00'),
        timestamptz '2025-10-31 06:55:00+00'
    from pg_temp.l_payment as p
    inner join public.orders as o on o.legacy_instruction_id = p.instruction_id
    where abs(p.total_price) < 100000000
    order by p.id;

    -- ==========================================================================================
    -- 18. system_messages (full load up to 10-19; high-water delta 10-19..10-27)
    -- ==========================================================================================
    insert into public.system_messages (id, message_type, order_id, recipient_id, message_code,
        message_data, message, barcode, tracking_number, carrier, processed, processed_at,
        is_active, legacy_record_id, metadata, created_at, updated_at)
    select sandbox.uuid_for('system_message', n.id, seed), 'info', null, pr.id, n.template_name,
        jsonb_build_object(
            'id', n.id, 'created_at', n.created_at, 'sender', n.sender,
            'template_name', n.template_name,
            'template_context', coalesce(ctx.value, jsonb_build_object('raw_context',
                n.template_context)),
            'read', n.read, 'item_id', n.item_id, 'item_type_id', n.item_type_id,
            'recipient_id', n.recipient_id, 'sent', n.sent, 'send', n.send
        ),
        n.template_name || ': ' || coalesce(
            case when jsonb_typeof(ctx.value) = 'object' then
                coalesce(ctx.value ->> 'patient_name', ctx.value ->> 'doctor_name') end,
            'System notification'),
        null, null, null,
        n.sent, n.created_at, true, n.id,
        jsonb_build_object('source_system', 'dispatch_notification'),
        n.created_at, timestamptz '2025-08-17 20:10:00+00'
    from pg_temp.l_notification as n
    cross join lateral (select n.ctx as value) as ctx
    left join public.profiles as pr on pr.legacy_user_id = n.recipient_id
    where n.id <= hw_notification_oct19
    order by n.id;

    insert into public.system_messages (id, message_type, order_id, recipient_id, message_code,
        message_data, message, barcode, tracking_number, carrier, processed, processed_at,
        is_active, legacy_record_id, metadata, created_at, updated_at)
    select sandbox.uuid_for('system_message', n.id, seed),
        case
            when n.template_name ilike '%order%' then 'order_update'
            when n.template_name ilike '%ship%' then 'shipment_update'
            when n.template_name ilike '%payment%' then 'payment_update'
            when n.template_name ilike '%case%' then 'case_update'
            when n.template_name ilike '%reminder%' then 'reminder'
            when n.template_name ilike '%welcome%' then 'welcome'
            when n.template_name ilike '%status%' then 'status_update'
            else 'notification'
        end,
        case when n.item_type_id between 6 and 15 then o.id end,
        pr.id, n.template_name,
        jsonb_build_object(
            'id', n.id, 'created_at', n.created_at, 'sender', n.sender,
            'template_name', n.template_name, 'template_context', ctx.value,
            'item_id', n.item_id, 'item_type_id', n.item_type_id,
            'recipient_id', n.recipient_id
        ),
        n.template_name || ': ' || coalesce(ctx.value ->> 'patient_name',
            ctx.value ->> 'doctor_name', 'System notification'),
        ctx.value ->> 'barcode', ctx.value ->> 'tracking_number', ctx.value ->> 'carrier',
        n.sent, n.created_at, true, n.id,
        jsonb_build_object('source_system', 'legacy_dispatch_system',
            'script', 'differential-system-messages-optimized.ts'),
        n.created_at, timestamptz '2025-10-27 06:40:00+00'
    from pg_temp.l_notification as n
    cross join lateral (select n.ctx as value) as ctx
    left join public.profiles as pr on pr.legacy_user_id = n.recipient_id
    left join public.orders as o on o.legacy_instruction_id = n.item_id
    where n.id > hw_notification_oct19
        and n.template_context <> ''
        and jsonb_typeof(ctx.value) = 'object'
    order by n.id;

    set local session_replication_role = origin;
    perform sandbox.em_check_foreign_keys(array[
        'jaws', 'files', 'case_files', 'messages', 'message_attachments', 'order_states',
        'payments', 'system_messages'
    ]);

    -- ==========================================================================================
    -- 19. migration_mappings (written by a few scripts only), plus junk rows
    -- ==========================================================================================
    -- office: one row per valid office; a duplicate office points at the UUID of the first.
    insert into public.migration_mappings (entity_type, legacy_id, new_id, migrated_at,
        migration_batch)
    select 'office', o.id, sandbox.uuid_for('office', o.kept_id, seed),
        timestamp '2025-08-15 10:05:12' + o.rn * interval '550 milliseconds',
        'office_migration_20250815_100512'
    from pg_temp.m_office as o;

    -- profile: every migrated user; patient: the profile's UUID for the August cohort (written
    -- first, by the profile migration), the patients row's UUID for the later ones;
    -- patient_profile: the profile's UUID.
    insert into public.migration_mappings (entity_type, legacy_id, new_id, migrated_at,
        migration_batch)
    select 'profile', pr.legacy_user_id, pr.id,
        case when pr.created_at < '2025-08-15'
            then timestamp '2025-08-15 13:40:00'
                + row_number() over (order by pr.legacy_user_id) * interval '59 milliseconds'
            else timestamp '2025-10-31 06:10:00'
                + row_number() over (order by pr.legacy_user_id) * interval '10 milliseconds'
        end,
        case when pr.created_at < '2025-08-15' then 'profile_migration_20250815_134000'
            else 'profile_differential_20251031_061000' end
    from public.profiles as pr;

    insert into public.migration_mappings (entity_type, legacy_id, new_id, migrated_at,
        migration_batch)
    select 'patient', pa.legacy_patient_id,
        case when pa.legacy_patient_id <= hw_patient_aug17 then pa.profile_id else pa.id end,
        case when pa.legacy_patient_id <= hw_patient_aug17
            then timestamp '2025-08-15 13:40:00'
                + row_number() over (order by pa.legacy_patient_id) * interval '60 milliseconds'
            else timestamp '2025-10-31 06:25:00'
                + row_number() over (order by pa.legacy_patient_id) * interval '40 milliseconds'
        end,
        case when pa.legacy_patient_id <= hw_patient_aug17 then 'profile_migration_20250815_134000'
            else 'patients_complete_20251031_062500' end
    from public.patients as pa;

    insert into public.migration_mappings (entity_type, legacy_id, new_id, migrated_at,
        migration_batch)
    select 'patient_profile', pa.legacy_patient_id, pa.profile_id,
        timestamp '2025-08-17 09:05:00'
            + row_number() over (order by pa.legacy_patient_id) * interval '45 milliseconds',
        'patient_migration_20250817_090500'
    from public.patients as pa;

    -- doctor: the August rows of the re-imported doctors still hold the deleted rows' UUIDs;
    -- the doctors created on 10-19 were mapped correctly.
    insert into public.migration_mappings (entity_type, legacy_id, new_id, migrated_at,
        migration_batch)
    select 'doctor', d.legacy_user_id,
        case when d.doctor_number ~ '^DOC-0'
            then d.id else sandbox.uuid_for('doctor_before_reimport', d.legacy_user_id, seed) end,
        case when d.doctor_number ~ '^DOC-0'
            then timestamp '2025-10-19 10:30:00'
                + row_number() over (order by d.legacy_user_id) * interval '120 milliseconds'
            else timestamp '2025-08-15 15:12:00'
                + row_number() over (order by d.legacy_user_id) * interval '300 milliseconds'
        end,
        case when d.doctor_number ~ '^DOC-0' then 'create_missing_doctors_20251019_103000'
            else 'doctor_migration_20250815_151200' end
    from public.doctors as d;

    -- order: the differential cohort only, including the rows whose insert then failed.
    insert into public.migration_mappings (entity_type, legacy_id, new_id, migrated_at,
        migration_batch)
    select 'order', m.id, sandbox.uuid_for('order', m.id, seed),
        timestamp '2025-10-31 05:15:00'
            + row_number() over (order by m.id) * interval '280 milliseconds',
        'orders_differential_20251031_051500'
    from pg_temp.m_order as m
    where m.cohort in ('B2', 'B2_failed');

    -- Junk: placeholder rows written for the junction-table "migrations", and a stray test row.
    insert into public.migration_mappings (entity_type, legacy_id, new_id, migrated_at,
        migration_batch)
    values
        ('doctor_office', 0, '00000000-0000-0000-0000-000000000000', '2025-08-18 11:00:00',
            'junction_placeholder'),
        ('case_file', 0, '00000000-0000-0000-0000-000000000001', '2025-08-18 11:00:00',
            'junction_placeholder'),
        ('order_case', 0, '00000000-0000-0000-0000-000000000002', '2025-08-18 11:00:00',
            'junction_placeholder'),
        ('office', 0, '00000000-0000-0000-0000-000000000000', '2025-08-15 09:58:00',
            'test_run'),
        ('profile', 0, null, '2025-08-15 13:39:00', 'test_run'),
        ('order', 0, 'ffffffff-ffff-ffff-ffff-ffffffffffff', '2025-10-31 05:14:00',
            'orders_differential_20251031_051500');

    -- ==========================================================================================
    -- 20. migration_control (filled by hand after the fact)
    -- ==========================================================================================
    insert into public.migration_control (phase, table_name, operation, status,
        records_processed, total_records, started_at, completed_at, error_message, batch_size,
        worker_id, source_query, validation_query)
    select v.phase, v.table_name, v.operation, v.status, v.records_processed, v.total_records,
        v.started_at, v.completed_at, v.error_message, v.batch_size, v.worker_id,
        v.source_query, v.validation_query
    from (values
        (1, 'phase_1_foundation', 'offices', 'migrate', 'completed',
            (select count(*) from public.offices)::integer,
            (select count(*) from pg_temp.l_office where valid)::integer,
            timestamp '2025-08-15 10:00:00', timestamp '2025-08-15 10:12:00', null::text, 500,
            1, 'SELECT * FROM dispatch_office WHERE valid IS TRUE ORDER BY id',
            'SELECT COUNT(*) FROM offices'),
        (2, 'phase_1_foundation', 'profiles', 'migrate', 'completed',
            (select count(*) from public.profiles where created_at < '2025-08-15')::integer,
            (select count(*) from pg_temp.l_user where date_joined < '2025-08-15')::integer,
            timestamp '2025-08-15 13:40:00', timestamp '2025-08-15 22:55:00',
            (select count(*) || ' rows failed (email_format check or insert error)'
                from pg_temp.m_profile where skipped), 500, 1,
            'SELECT u.*, p.* FROM auth_user u LEFT JOIN dispatch_patient p ON p.user_id = u.id',
            'SELECT COUNT(*) FROM profiles'),
        (3, 'phase_2_core', 'doctors', 'migrate', 'completed',
            (select count(*) from pg_temp.l_setting)::integer,
            (select count(*) from pg_temp.l_setting)::integer,
            timestamp '2025-08-15 15:12:00', timestamp '2025-08-15 15:20:00', null, 100, 1,
            'SELECT * FROM auth_user u JOIN dispatch_doctorsetting s ON s.user_id = u.id', null),
        (4, 'phase_2_core', 'patients', 'migrate', 'completed',
            (select count(*) from public.patients
                where legacy_patient_id <= hw_patient_aug17)::integer,
            (select count(*) from pg_temp.l_patient where id <= hw_patient_aug17)::integer,
            timestamp '2025-08-17 09:05:00', timestamp '2025-08-17 11:48:00', null, 500, 1,
            'SELECT * FROM dispatch_patient p JOIN auth_user u ON u.id = p.user_id',
            'SELECT COUNT(*) FROM patients'),
        (5, 'phase_6_system', 'system_messages', 'migrate', 'completed',
            n_notification_full::integer,
            n_notification_full::integer,
            timestamp '2025-08-16 08:00:00', timestamp '2025-08-17 18:02:00',
            n_notification_full_bad
                || ' rows with invalid JSON in template_context kept as raw_context', 50, 2,
            'SELECT * FROM dispatch_notification WHERE sent = true AND send = true ORDER BY id'
                || ' LIMIT 1000 OFFSET $1',
            null),
        (6, 'phase_3_orders', 'orders', 'migrate', 'completed',
            (select count(*) from public.orders
                where metadata -> 'migration' ->> 'script' = 'orders-migration.ts')::integer,
            (select count(*) from pg_temp.l_instruction
                where not deleted and id <= hw_instruction_oct18)::integer,
            timestamp '2025-08-17 14:20:00', timestamp '2025-08-17 15:02:00',
            (select count(*) || ' rows skipped: patient or doctor not mapped'
                from pg_temp.l_instruction as i
                where not i.deleted and i.id <= hw_instruction_oct18
                    and not exists (
                        select from pg_temp.m_order as m where m.id = i.id and m.cohort = 'A'
                    )), 5000, 1,
            'SELECT i.* FROM dispatch_instruction i JOIN dispatch_patient p ON p.id = i.patient_id'
                || ' WHERE i.deleted = false',
            'SELECT COUNT(*) FROM orders'),
        (7, 'phase_4_files', 'files', 'migrate', 'completed',
            (select count(*) from public.files where legacy_file_id <= hw_file_oct19)::integer,
            (select count(*) from pg_temp.l_file where id <= hw_file_oct19)::integer,
            timestamp '2025-08-17 16:00:00', timestamp '2025-08-17 23:31:00', null, 1000, 3,
            'SELECT * FROM dispatch_file', null),
        (8, 'phase_5_relationships', 'order_cases', 'migrate', 'completed',
            (select count(*) from public.order_cases)::integer, null,
            timestamp '2025-08-18 10:40:00', timestamp '2025-08-18 10:44:00', null, null, null,
            null, null),
        (9, 'case_files_relationships', 'case_files', 'migrate', 'completed',
            (select count(*) from public.case_files)::integer,
            (select count(*) from public.files where order_id is not null)::integer,
            timestamp '2025-08-18 11:00:00', timestamp '2025-10-19 07:52:00', null, 500, 1,
            null, null),
        (10, 'phase_7_patient_events', 'patient_events', 'migrate', 'skipped', 0, 0,
            timestamp '2025-08-18 12:00:00', null, 'source table dispatch_patient_event not found',
            null, null, null, null),
        (11, 'doctor_cleanup', 'doctors', 'reimport', 'completed',
            (select count(*) from public.doctors where doctor_number !~ '^DOC-0')::integer,
            (select count(*) from pg_temp.l_setting)::integer,
            timestamp '2025-10-16 15:00:00', timestamp '2025-10-16 15:02:00',
            'DELETE FROM doctors before re-import', null, null, null, null),
        (12, 'october_migration', 'cases', 'migrate', 'completed',
            (select count(*) from public.cases)::integer,
            (select count(*) from pg_temp.l_patient)::integer,
            timestamp '2025-10-18 15:30:00', timestamp '2025-10-18 15:41:00', null, 500, 1,
            null, null),
        (13, 'october_migration', 'technicians', 'migrate', 'completed',
            (select count(*) from public.technicians)::integer,
            (select count(*) from pg_temp.l_user_group where group_id = 11)::integer,
            timestamp '2025-10-18 16:45:00', timestamp '2025-10-18 16:46:00', null, null, null,
            'SELECT * FROM auth_user u JOIN auth_user_groups g ON g.user_id = u.id'
                || ' WHERE g.group_id = 11', null),
        (13.5, 'october_migration', 'orders', 'gap_fill', 'completed',
            (select count(*) from public.orders
                where metadata -> 'migration' ->> 'script'
                    = 'orders-migration-comprehensive.ts')::integer,
            (select count(*) from pg_temp.m_order where cohort = 'B1')::integer,
            timestamp '2025-10-19 08:00:00', timestamp '2025-10-19 08:06:00', null, 500, 1,
            'SELECT i.*, c.type FROM dispatch_instruction i JOIN dispatch_course c'
                || ' ON c.id = i.course_id WHERE i.id NOT IN (...)', null),
        (14, 'differential', 'orders', 'differential_sync', 'completed',
            (select count(*) from public.orders
                where metadata -> 'migration' ->> 'script'
                    = 'differential-orders-migration.ts')::integer,
            (select count(*) from pg_temp.m_order where cohort in ('B2', 'B2_failed'))::integer,
            timestamp '2025-10-31 05:15:00', timestamp '2025-10-31 05:31:00',
            'invalid input value for enum order_status: "completed"', 50, 1,
            'SELECT * FROM dispatch_instruction WHERE id NOT IN (...)', null),
        (15, 'differential', 'messages', 'differential_sync', 'completed',
            (select count(*) from public.messages where recipient_type = 'system')::integer,
            (select count(*) from pg_temp.l_record
                where id > hw_record_oct18 and id <= hw_record_oct27)::integer,
            timestamp '2025-10-27 09:55:00', timestamp '2025-10-27 10:02:00', null, 100, 1,
            'SELECT * FROM dispatch_record WHERE id NOT IN (...)', null),
        (16, 'differential', 'jaws', 'differential_sync', 'failed', null,
            (select count(*) from pg_temp.l_jaw)::integer,
            timestamp '2025-10-27 10:05:00', timestamp '2025-10-27 10:06:00',
            'relation "dispatch_doctor" does not exist', 100, 1, null, null),
        (17, 'differential', 'system_messages', 'differential_sync', 'completed',
            (select count(*) from public.system_messages
                where legacy_record_id > hw_notification_oct19)::integer,
            n_notification_delta::integer,
            timestamp '2025-10-27 06:40:00', timestamp '2025-10-27 07:02:00',
            (select count(*) || ' rows skipped: invalid JSON in template_context'
                from pg_temp.l_notification as n
                where n.id > hw_notification_oct19
                    and not exists (
                        select from public.system_messages as sm where sm.legacy_record_id = n.id
                    )), 1000, 2,
            'SELECT * FROM dispatch_notification WHERE id > $1 AND send = true'
                || ' AND template_context <> '''' AND recipient_id IS NOT NULL ORDER BY id',
            null),
        (18, 'validation', 'all', 'validate', 'completed', null, null,
            timestamp '2025-10-31 16:00:00', timestamp '2025-10-31 16:20:00', null, null, null,
            null, 'SELECT COUNT(*) FROM each table'),
        (19, 'differential', 'payments', 'differential_sync', 'running',
            (select count(*) from public.payments)::integer,
            (select count(*) from pg_temp.l_payment)::integer,
            timestamp '2025-10-31 17:05:00', null, null, 500, 1, null, null)
    ) as v (ord, phase, table_name, operation, status, records_processed, total_records,
        started_at, completed_at, error_message, batch_size, worker_id, source_query,
        validation_query)
    order by v.ord;

    drop table if exists pg_temp.l_content_type, pg_temp.l_group, pg_temp.l_user,
        pg_temp.l_user_group, pg_temp.l_office, pg_temp.l_office_doctor, pg_temp.l_setting,
        pg_temp.l_patient, pg_temp.l_course, pg_temp.l_product, pg_temp.l_jaw,
        pg_temp.l_instruction, pg_temp.l_record, pg_temp.l_file, pg_temp.l_state,
        pg_temp.l_payment, pg_temp.l_notification, pg_temp.m_office, pg_temp.m_profile,
        pg_temp.m_doctor, pg_temp.m_patient, pg_temp.m_order;

    perform sandbox.simulate_earlier_migration_wave2(seed);
end
$$;

-- The earlier migration of the second wave (world.md 8.6), as the target stood on 2025-11-17:
-- the real counts applied as shares of the legacy rows at any scale.
--   categories, role_permissions, templates, brackets: every row that can land (100%);
--     brackets' catalogue columns guessed from the names, the project link only in metadata.
--   roles      the legacy roles plus 2 test rows without legacy id; team_id NULL on all.
--   junctions  template_products 97%, view and edit roles and predecessors 92% (August counts),
--              view groups none; only rows whose two sides landed.
--   projects   99.5% (a hash of the id skips the rest); the newest 5% (by id) typed by the third
--              map of project type codes (world.md "Open questions"), the rest by the seed's;
--              no (or no migrated) creator -> the system profile 'system@brius.com', which the
--              earlier scripts created (no legacy id).
--   treatment_plans  every plan with a migrated project and an order (by instruction), plus a
--              second row (another UUID) for 0.3% of them; doctor_id NULL; patient_id on 90%.
--   comments   87% (up to the scripts' August high-water id), blank texts skipped.
--   treatment_discussions  none.
--   case_messages  each comment reaching a case (plan -> instruction -> order -> the patient's
--              case) copied twice (1% once): legacy_message_id is not unique.
--   tasks      every task with an order (by instruction); the newest 20% (by id) by another rule:
--              status completed if checked else pending, template_name = text or 'Task'.
--   operations 99%, payment_id NULL, all on one arbitrary case (the first patient's).
--   offers     the offers of doctors with a doctors row and an order (order_id = that doctor's
--              latest order); discounts 87%, offer_id NULL (the link in metadata).
--   migration_mappings  nothing for the second wave.
create or replace function sandbox.simulate_earlier_migration_wave2(seed bigint)
returns void
language plpgsql
set timezone to 'UTC'
set search_path to pg_catalog, public
set client_min_messages to warning
as $$
declare
    system_profile uuid := sandbox.uuid_for('system_profile', 1, seed);
    the_case uuid;
    hw_comment bigint;
    newest_projects bigint;
    newest_tasks bigint;
    ran constant timestamptz := timestamptz '2025-10-30 22:00:00+00';
begin
    drop table if exists pg_temp.w2_perm, pg_temp.w2_task, pg_temp.w2_plan, pg_temp.w2_comment,
        pg_temp.w2_reach;
    create temp table w2_perm as select * from sandbox_legacy.auth_permission;
    create temp table w2_plan as select * from sandbox_legacy.dispatch_plan;
    create temp table w2_comment as select * from sandbox_legacy.dispatch_comment;
    create temp table w2_task as select * from sandbox_legacy.dispatch_task;
    alter table pg_temp.w2_plan add primary key (id);
    analyze pg_temp.w2_perm, pg_temp.w2_plan, pg_temp.w2_comment, pg_temp.w2_task;

    -- The system profile the scripts gave rows without a creator.
    insert into public.profiles (id, profile_type, first_name, last_name, email, is_active,
        metadata, created_at, updated_at)
    values (system_profile, 'master', 'System', 'User', 'system@brius.com', true,
        jsonb_build_object('system', true, 'migration', jsonb_build_object(
            'script', 'migrate-projects.ts')),
        ran, ran);

    -- 20. categories (parents set where the parent exists; display_order = id)
    insert into public.categories (id, name, display_order, legacy_category_id, metadata,
        created_at, updated_at)
    select sandbox.uuid_for('category', c.id, seed),
        coalesce(nullif(btrim(c.name), ''), 'Category ' || c.id), c.id, c.id,
        jsonb_build_object('legacy_parent_id', c.parent_id), ran, ran
    from sandbox_legacy.dispatch_category as c
    order by c.id;
    update public.categories as c
    set parent_id = p.id
    from sandbox_legacy.dispatch_category as l
    inner join public.categories as p on p.legacy_category_id = l.parent_id
    where c.legacy_category_id = l.id;

    -- 21. roles, plus two test rows without legacy id; team_id NULL everywhere.
    insert into public.roles (id, name, description, team_id, is_active, legacy_id, metadata,
        created_at, updated_at)
    select sandbox.uuid_for('role', r.id, seed),
        coalesce(nullif(btrim(r.name), ''), 'Role ' || r.id),
        coalesce(nullif(btrim(r.abbrev), ''), 'Role: ' || btrim(r.name)),
        null::uuid, true, r.id,
        jsonb_build_object('type', r.type, 'order', r."order", 'user_id', r.user_id,
            'group_id', r.group_id),
        ran, ran
    from sandbox_legacy.dispatch_role as r
    union all
    select sandbox.uuid_for('role_test', n, seed), 'Test role ' || n, 'Role: Test role ' || n,
        null, true, null, jsonb_build_object('test', true), ran, ran
    from generate_series(1, 2) as n;

    -- 22. role_permissions (every row whose role landed)
    insert into public.role_permissions (id, role_id, permission, resource, is_active, legacy_id,
        metadata, created_at, updated_at)
    select sandbox.uuid_for('role_permission', rp.id, seed), r.id,
        coalesce(p.name, 'unknown_permission'), coalesce(p.codename, 'unknown_resource'), true,
        rp.id, jsonb_build_object('permission_id', rp.permission_id), ran, ran
    from sandbox_legacy.dispatch_role_permissions as rp
    inner join public.roles as r on r.legacy_id = rp.role_id
    left join pg_temp.w2_perm as p on p.id = rp.permission_id
    order by rp.id;

    -- 23. templates
    insert into public.templates (id, name, action_name, category_id, estimated_duration_minutes,
        is_active, legacy_template_id, metadata, created_at, updated_at)
    select sandbox.uuid_for('template', t.id, seed),
        coalesce(nullif(btrim(t.task_name), ''), nullif(btrim(t.text_name), ''), 'Template ' || t.id),
        t.action_name, c.id, t.duration, t.status = 1, t.id,
        jsonb_build_object('text_name', t.text_name, 'function', t.function,
            'predefined', t.predefined, 'read_only', t.read_only, 'separate', t.separate,
            'status', t.status, 'alerts', t.alerts,
            'extensions', coalesce(sandbox.em_jsonb(nullif(t.extensions, '')),
                jsonb_build_object('raw_extensions', t.extensions))),
        ran, ran
    from sandbox_legacy.dispatch_template as t
    left join public.categories as c on c.legacy_category_id = t.category_id
    order by t.id;

    -- 24-28. the junctions (shares of the rows whose two sides landed)
    insert into public.template_products (id, template_id, product_id, legacy_id, created_at,
        updated_at)
    select sandbox.uuid_for('template_product', j.id, seed), t.id, p.id, j.id, ran, ran
    from sandbox_legacy.dispatch_template_products as j
    inner join public.templates as t on t.legacy_template_id = j.template_id
    inner join public.products as p on p.legacy_product_id = j.product_id
    where sandbox.rnd(j.id, 3001, seed) < 0.97;
    insert into public.template_view_roles (id, template_id, role_id, legacy_id, created_at,
        updated_at)
    select sandbox.uuid_for('template_view_role', j.id, seed), t.id, r.id, j.id, ran, ran
    from sandbox_legacy.dispatch_template_view_roles as j
    inner join public.templates as t on t.legacy_template_id = j.template_id
    inner join public.roles as r on r.legacy_id = j.role_id
    where sandbox.rnd(j.id, 3002, seed) < 0.92;
    insert into public.template_edit_roles (id, template_id, role_id, legacy_id, created_at,
        updated_at)
    select sandbox.uuid_for('template_edit_role', j.id, seed), t.id, r.id, j.id, ran, ran
    from sandbox_legacy.dispatch_template_edit_roles as j
    inner join public.templates as t on t.legacy_template_id = j.template_id
    inner join public.roles as r on r.legacy_id = j.role_id
    where sandbox.rnd(j.id, 3003, seed) < 0.92;
    insert into public.template_predecessors (id, template_id, predecessor_id, legacy_id,
        created_at, updated_at)
    select sandbox.uuid_for('template_predecessor', j.id, seed), t.id, p.id, j.id, ran, ran
    from sandbox_legacy.dispatch_template_predecessors as j
    inner join public.templates as t on t.legacy_template_id = j.template_id
    inner join public.templates as p on p.legacy_template_id = j.to_template_id
    where sandbox.rnd(j.id, 3004, seed) < 0.92;

    -- 29. projects (99.5%; the newest 5% typed by the third map)
    select coalesce(percentile_disc(0.95) within group (order by id), 0) into newest_projects
    from sandbox_legacy.dispatch_project;
    insert into public.projects (id, name, project_type, status, creator_id, file_uid,
        file_size_bytes, is_public, legacy_project_id, metadata, created_at, updated_at)
    select sandbox.uuid_for('project', p.id, seed),
        coalesce(nullif(btrim(p.name), ''), 'Project ' || p.id),
        (case when p.id > newest_projects then
                case p.type when 1 then 'treatment_plan' when 2 then 'stl_upper'
                    when 3 then 'stl_lower' when 4 then 'clinical_photo' when 5 then 'xray'
                    when 6 then 'cbct_scan' when 7 then 'simulation' when 8 then 'aligner_design'
                    when 9 then 'document' else 'other' end
            else
                case p.type when 0 then 'stl_upper' when 1 then 'stl_lower'
                    when 2 then 'clinical_photo' when 3 then 'treatment_plan' when 4 then 'xray'
                    when 5 then 'cbct_scan' when 10 then 'simulation' when 11 then 'aligner_design'
                    else 'other' end
            end)::public.project_type,
        (case p.status when 1 then 'in_progress' when 2 then 'completed' when 3 then 'archived'
            else 'draft' end)::public.project_status,
        coalesce(pr.id, system_profile), p.uid, p.size, p.public, p.id,
        jsonb_build_object('type', p.type, 'status', p.status, 'creator_id', p.creator_id),
        p.created_at, ran
    from sandbox_legacy.dispatch_project as p
    left join public.profiles as pr on pr.legacy_user_id = p.creator_id
    where sandbox.rnd(p.id, 3005, seed) >= 0.005
    order by p.id;

    -- 30. brackets (catalogue guessed from the names; the project only in metadata)
    insert into public.brackets (id, name, bracket_type, project_id, active, manufacturer,
        model_number, material, legacy_bracket_id, legacy_project_id, metadata, created_at,
        updated_at)
    select sandbox.uuid_for('bracket', b.id, seed),
        coalesce(nullif(btrim(b.name), ''), 'Bracket ' || b.id), 'standard', null, true,
        case when b.name ilike 'damon%' then 'Ormco' when b.name ilike 'empower%'
                then 'American Orthodontics' when b.name ilike 'clarity%' then '3M'
             when b.name ilike 'victory%' then '3M' when b.name ilike 'in-ovation%' then 'Dentsply'
             when b.name ilike 'mini twin%' then 'Ortho Technology' end,
        case when b.name !~* 'test' and btrim(b.name) <> '' then b.name end,
        case when b.name ilike 'clarity%' then 'ceramic'
             when b.name !~* 'test' and btrim(b.name) <> '' then 'metal' end,
        b.id, b.project_id,
        jsonb_build_object('type', b.type, 'project_id', b.project_id), ran, ran
    from sandbox_legacy.dispatch_bracket as b
    order by b.id;

    -- 31. treatment_plans (plans with a project and an order; 0.3% twice)
    insert into public.treatment_plans (id, project_id, order_id, patient_id, doctor_id,
        plan_number, plan_name, plan_notes, is_original, legacy_plan_id, legacy_instruction_id,
        metadata, created_at, updated_at)
    select sandbox.uuid_for(case when copy = 1 then 'treatment_plan' else 'treatment_plan_copy' end,
            pl.id, seed),
        pj.id, o.id,
        case when sandbox.rnd(pl.id, 3006, seed) < 0.9 then pa.profile_id end,
        null, pl.number, left(pl.name, 100), pl.notes, pl.original, pl.id, pl.instruction_id,
        jsonb_build_object('name', pl.name), ran, ran
    from pg_temp.w2_plan as pl
    inner join public.projects as pj on pj.legacy_project_id = pl.project_id
    inner join public.orders as o on o.legacy_instruction_id = pl.instruction_id
    left join public.patients as pa on pa.id = o.patient_id
    cross join generate_series(1, 2) as copy
    where copy = 1 or sandbox.rnd(pl.id, 3007, seed) < 0.003
    order by pl.id, copy;

    -- 32. comments (87%, to the August high-water id; blank texts skipped)
    select coalesce(percentile_disc(0.87) within group (order by id), 0) into hw_comment
    from pg_temp.w2_comment;
    insert into public.comments (id, content, comment_type, author_id, legacy_table, legacy_id,
        metadata, created_at, updated_at)
    select sandbox.uuid_for('comment', c.id, seed), c.text, 'treatment_discussion', pr.id,
        'dispatch_comment', c.id, jsonb_build_object('plan_id', c.plan_id), c.created_at, ran
    from pg_temp.w2_comment as c
    left join public.profiles as pr on pr.legacy_user_id = c.author_id
    where c.id <= hw_comment and btrim(c.text) <> ''
    order by c.id;

    -- 34. case_messages (each comment reaching a case, twice; 1% once)
    insert into public.case_messages (id, case_id, sender_id, author_id, message_type, subject,
        content, priority, is_urgent, requires_response, is_confidential, sent_at,
        legacy_message_id, legacy_record_id, metadata, created_at, updated_at)
    select sandbox.uuid_for('case_message_' || copy, c.id, seed), cs.id, pr.id, pr.id,
        k.message_type::public.case_message_type, left(c.text, 50), c.text, 1, false,
        k.message_type = 'patient_question', false, c.created_at, c.id, c.id,
        jsonb_build_object('plan_id', c.plan_id), c.created_at, ran
    from pg_temp.w2_comment as c
    inner join pg_temp.w2_plan as pl on pl.id = c.plan_id
    inner join public.orders as o on o.legacy_instruction_id = pl.instruction_id
    inner join public.patients as pa on pa.id = o.patient_id
    inner join public.cases as cs on cs.legacy_patient_id = pa.legacy_patient_id
    left join public.profiles as pr on pr.legacy_user_id = c.author_id
    cross join lateral (
        select case
            when lower(c.text) like '%approve%' or lower(c.text) like '%looks good%'
                then 'doctor_response'
            when lower(c.text) like '%question%' or lower(c.text) like '%please%'
                or c.text like '%?%' then 'patient_question'
            when lower(c.text) like '%treatment%' or lower(c.text) like '%plan%'
                then 'treatment_update'
            else 'clinical_note' end as message_type
    ) as k
    cross join generate_series(1, 2) as copy
    where copy = 1 or sandbox.rnd(c.id, 3008, seed) >= 0.01
    order by c.id, copy;

    -- From here on the table is big (a million rows at scale 1): its foreign keys' per-row checks
    -- are skipped (replica mode) and replaced by one set-based check, as sections 12 to 18 do.
    set local session_replication_role = replica;

    -- 35. tasks (every task with an order; the newest 20% by the other rule)
    select coalesce(percentile_disc(0.8) within group (order by id), 0) into newest_tasks
    from pg_temp.w2_task;
    insert into public.tasks (id, order_id, assigned_to, template_id, template_name, description,
        jaw_specification, status, checked, completed_at, legacy_task_id, metadata, created_at,
        updated_at)
    select sandbox.uuid_for('task', t.id, seed), o.id, pr.id, tp.id,
        case when t.id > newest_tasks then coalesce(t.text, 'Task')
             else coalesce(tp.name, 'Template ' || t.template_id) end,
        t.text, t.jaw,
        (case when t.id > newest_tasks then
                case when t.checked then 'completed' else 'pending' end
            when t.done_at is null then 'pending'
            when t.checked then 'completed' else 'in_progress' end)::public.task_status,
        t.checked, t.done_at, t.id,
        jsonb_build_object('file_id', t.file_id, 'plan_id', t.plan_id, 'order_id', t.order_id,
            'instruction_id', t.instruction_id, 'actor_id', t.actor_id),
        ran, ran
    from pg_temp.w2_task as t
    inner join public.orders as o on o.legacy_instruction_id = t.instruction_id
    left join public.profiles as pr on pr.legacy_user_id = t.actor_id
    left join public.templates as tp on tp.legacy_template_id = t.template_id;

    set local session_replication_role = origin;
    perform sandbox.em_check_foreign_keys(array['tasks']);

    -- 36. operations (99%; payment_id NULL, all on one case)
    select c.id into the_case from public.cases as c order by c.legacy_patient_id limit 1;
    insert into public.operations (id, payment_id, case_id, operation_type, amount, status,
        operation_data, legacy_operation_id, legacy_id, metadata, created_at, updated_at)
    select sandbox.uuid_for('operation', op.id, seed), null, the_case,
        (case op.type when 2 then 'refund' else 'payment' end)::public.operation_type,
        op.price, case when op.made_at is null then 'pending' else 'completed' end,
        jsonb_build_object('sq_order_id', op.sq_order_id, 'sq_payment_id', op.sq_payment_id,
            'sq_refund_id', op.sq_refund_id, 'card_brand', op.card_brand,
            'card_bin', op.card_bin, 'card_last', op.card_last,
            'office_card', op.office_card, 'attempts', op.attempts),
        op.id, op.id, jsonb_build_object('payment_id', op.payment_id, 'type', op.type),
        coalesce(op.made_at, ran), ran
    from sandbox_legacy.dispatch_operation as op
    where sandbox.rnd(op.id, 3009, seed) >= 0.01
    order by op.id;

    -- 37. offers (doctors with an order; order_id = the doctor's latest order)
    insert into public.offers (id, doctor_id, product_id, order_id, offer_amount, description,
        is_accepted, is_active, legacy_offer_id, metadata, created_at, updated_at)
    select sandbox.uuid_for('offer', f.id, seed), d.id, p.id, lo.id,
        greatest(f.price_both, f.price_upper, f.price_lower),
        nullif(concat_ws(', ', 'Both: $' || f.price_both, 'Upper: $' || f.price_upper,
            'Lower: $' || f.price_lower), ''),
        false, true, f.id,
        jsonb_build_object('price_both', f.price_both, 'price_upper', f.price_upper,
            'price_lower', f.price_lower, 'doctor_id', f.doctor_id),
        ran, ran
    from sandbox_legacy.dispatch_offer as f
    inner join public.doctors as d on d.legacy_user_id = f.doctor_id
    inner join lateral (
        select o.id from public.orders as o where o.doctor_id = d.id
        order by o.submitted_at desc nulls last, o.legacy_instruction_id desc limit 1
    ) as lo on true
    left join public.products as p on p.legacy_product_id = f.product_id
    order by f.id;

    -- 38. discounts (87%; the offer only in metadata)
    insert into public.discounts (id, offer_id, name, code, discount_type, percentage, max_uses,
        current_uses, valid_from, valid_until, is_active, legacy_discount_id, metadata,
        created_at, updated_at)
    select sandbox.uuid_for('discount', d.id, seed), null,
        coalesce(nullif(btrim(d.reason), ''), 'Discount ' || d.percent || '%'), 'LEGACY' || d.id,
        'percentage', d.percent, d.count, coalesce(d.used, 0), d.start, d.finish, true, d.id,
        jsonb_build_object('offer_id', d.offer_id, 'total', d.total), ran, ran
    from sandbox_legacy.dispatch_discount as d
    where sandbox.rnd(d.id, 3010, seed) >= 0.13
    order by d.id;

    drop table if exists pg_temp.w2_perm, pg_temp.w2_task, pg_temp.w2_plan, pg_temp.w2_comment;
end
$$;
