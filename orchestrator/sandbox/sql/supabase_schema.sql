-- Sandbox emulation of a Supabase project database: platform schemas, grants, the app's tables.
--
-- Run by the superuser `supabase_admin` in a fresh, empty database, after supabase_roles.sql has
-- been run once in the cluster. The production database is named `postgres`; the sandbox may use
-- any name (test clones, several databases per cluster), so nothing here names the database:
-- database-level statements go through current_database().
-- Not idempotent by design: it refuses a database that already holds the app tables. No psql
-- meta-commands, so it also runs as one psycopg execute(); with psql use -v ON_ERROR_STOP=1, and
-- --single-transaction for all-or-nothing (every statement here is transactional).
--
-- Specification: /work/shared/reference/world.md section 4 (it decides). Platform details mirror
-- supabase/postgres (init scripts and migrations) where world.md is silent.
--
-- Layout of this file:
--   0. preconditions
--   1. platform: database and schema grants, default privileges, extensions, auth, storage,
--      PostgREST's DDL event triggers
--   2. app enums, functions and tables (created as postgres, so postgres owns them)
--   3. bookkeeping tables the earlier scripts left in public, and teams (the app migrated it once)
--   4. row level security and policies

-- ============================================================================================
-- 0. Preconditions
-- ============================================================================================

do $preconditions$
declare
    missing_roles text;
begin
    if not (select rolsuper from pg_roles where rolname = current_user) then
        raise exception 'supabase_schema.sql must be run by a superuser (supabase_admin), not %',
            current_user;
    end if;

    select string_agg(required.role_name, ', ')
    into missing_roles
    from unnest(array[
        'anon', 'authenticated', 'service_role', 'authenticator', 'postgres',
        'supabase_admin', 'supabase_auth_admin', 'supabase_storage_admin'
    ]) as required (role_name)
    where not exists (select from pg_roles where rolname = required.role_name);

    if missing_roles is not null then
        raise exception 'roles missing in this cluster: %', missing_roles
            using hint = 'run supabase_roles.sql first (once per cluster)';
    end if;

    if (select rolsuper from pg_roles where rolname = 'postgres') then
        raise exception 'role postgres is a superuser; Supabase''s postgres is not'
            using hint = 'run supabase_roles.sql, which demotes it';
    end if;

    if to_regclass('public.offices') is not null then
        raise exception 'database % already holds the Supabase app tables', current_database()
            using hint = 'load supabase_schema.sql into a fresh database';
    end if;
end
$preconditions$;

-- ============================================================================================
-- 1. Platform
-- ============================================================================================

-- The database: postgres may connect, create schemas and temporary tables (Supabase grants ALL).
-- Database grants live in pg_database, outside the database: CREATE DATABASE ... TEMPLATE does not
-- copy them, so whoever clones a database loaded with this file must repeat this grant on the
-- clone (supabase_checks.sql reports it as postgres_can_create_schemas).
do $database_grants$
begin
    execute format('grant all on database %I to postgres', current_database());
    execute format('grant connect on database %I to authenticator', current_database());
end
$database_grants$;

-- Schema public (PostgreSQL 15: owned by pg_database_owner, no CREATE for PUBLIC).
grant usage, create on schema public to postgres;
grant usage on schema public to anon, authenticated, service_role;

-- Supabase's default privileges, as a project created since late 2026 has them (world.md section
-- 4): new tables in public are no longer granted to the API roles (sequences and functions still
-- are). Older projects keep the old default, which granted tables too (a test runs diffmig under
-- it). Either way the tool's own objects live in private schemas, which the API does not expose.
-- The app's tables, and the earlier scripts' below, carry the explicit grants their migrations
-- gave them (end of section 3).
alter default privileges for role postgres in schema public
grant all on sequences to anon, authenticated, service_role;
alter default privileges for role postgres in schema public
grant all on functions to anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public
grant all on tables to postgres;
alter default privileges for role supabase_admin in schema public
grant all on sequences to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public
grant all on functions to postgres, anon, authenticated, service_role;

-- Schema extensions: the extensions a new project has, installed by the superuser, as the
-- platform does. pg_stat_statements keeps every statement's text, readable by postgres (through
-- pg_monitor) and the dashboard: no secret may be sent as statement text. postgres_fdw is not
-- installed on a new project (world.md section 4): see the extension guard below.
create schema extensions;
grant usage on schema extensions to postgres, anon, authenticated, service_role;
grant all on schema extensions to postgres;
create extension pgcrypto with schema extensions;
create extension "uuid-ossp" with schema extensions;
create extension pg_stat_statements with schema extensions;

-- Supabase's extension guard (supautils), emulated: postgres may create the allowed extensions
-- that are not trusted (postgres_fdw here) itself. On a real project the guard runs the CREATE
-- EXTENSION as the superuser, then the extension's after-create script makes postgres the
-- wrapper's owner. Here an event trigger does the same when postgres (or a member) starts a
-- CREATE EXTENSION postgres_fdw: it creates the extension as supabase_admin (in the schema named
-- by WITH SCHEMA, else extensions) and hands the wrapper to postgres, so that the statement
-- itself, with IF NOT EXISTS, finds it there (without, it fails as a repeated CREATE would).
create function extensions.sandbox_extension_guard() returns event_trigger
language plpgsql
security definer
set search_path = pg_catalog
as $$
declare
    wanted_schema text;
begin
    if tg_tag <> 'CREATE EXTENSION'
        or coalesce(current_setting('sandbox.extension_guard', true), '') = 'on'
        or (select rolsuper from pg_roles where rolname = session_user)
        or not pg_has_role(session_user, 'postgres', 'member')
        or exists (select from pg_extension where extname = 'postgres_fdw')
        or current_query() !~* 'create\s+extension\s+(if\s+not\s+exists\s+)?"?postgres_fdw\M'
    then
        return;
    end if;
    wanted_schema := coalesce(
        substring(current_query() from '(?i)with\s+schema\s+"?([a-z_][a-z0-9_]*)'),
        'extensions'
    );
    perform set_config('sandbox.extension_guard', 'on', true);
    execute format('create extension postgres_fdw with schema %I', wanted_schema);
    -- The after-create script: a wrapper's owner must be a superuser while it is handed over.
    alter role postgres superuser;
    alter foreign data wrapper postgres_fdw owner to postgres;
    alter role postgres nosuperuser;
    perform set_config('sandbox.extension_guard', 'off', true);
end
$$;
revoke all on function extensions.sandbox_extension_guard() from public;

create event trigger sandbox_extension_guard on ddl_command_start
when tag in ('CREATE EXTENSION')
execute function extensions.sandbox_extension_guard();

-- Schema auth: owned by supabase_admin, its objects by supabase_auth_admin. The API roles may use
-- the schema (policies call auth.uid()) but read none of its tables.
create schema auth authorization supabase_admin;
grant usage on schema auth to anon, authenticated, service_role, postgres;
grant all on schema auth to supabase_auth_admin;

create table auth.users (
    instance_id uuid,
    id uuid not null primary key,
    aud varchar(255),
    role varchar(255),
    email varchar(255),
    encrypted_password varchar(255),
    email_confirmed_at timestamptz,
    last_sign_in_at timestamptz,
    raw_app_meta_data jsonb,
    raw_user_meta_data jsonb,
    is_super_admin boolean,
    phone text,
    is_anonymous boolean not null default false,
    created_at timestamptz,
    updated_at timestamptz,
    deleted_at timestamptz
);
create index users_instance_id_idx on auth.users (instance_id);
create index users_email_idx on auth.users (email);
comment on table auth.users is 'Auth: Stores user login data within a secure schema.';

-- auth.uid() as Supabase defines it: the JWT subject, from either claim setting PostgREST sets;
-- NULL when there is no request context (as for the tool's own connections).
create function auth.uid() returns uuid
language sql stable
as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim.sub', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'
    )::uuid
$$;

create function auth.role() returns text
language sql stable
as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim.role', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role'
    )::text
$$;

alter table auth.users owner to supabase_auth_admin;
alter function auth.uid() owner to supabase_auth_admin;
alter function auth.role() owner to supabase_auth_admin;
-- postgres (the dashboard's role) can read and write auth.users on a real project; anon and
-- authenticated get nothing.
grant all on auth.users to postgres;

-- Schema storage: owned by supabase_admin, its objects by supabase_storage_admin.
create schema storage authorization supabase_admin;
grant usage on schema storage to postgres, anon, authenticated, service_role;
grant all on schema storage to supabase_storage_admin;

create table storage.buckets (
    id text not null primary key,
    name text not null,
    owner uuid,
    public boolean default false,
    created_at timestamptz default now(),
    updated_at timestamptz default now()
);
create unique index bname on storage.buckets (name);

create table storage.objects (
    id uuid not null default gen_random_uuid() primary key,
    bucket_id text references storage.buckets (id),
    name text,
    owner uuid,
    created_at timestamptz default now(),
    updated_at timestamptz default now(),
    last_accessed_at timestamptz default now(),
    metadata jsonb,
    version text
);
create unique index bucketid_objname on storage.objects (bucket_id, name);

alter table storage.buckets owner to supabase_storage_admin;
alter table storage.objects owner to supabase_storage_admin;
alter table storage.buckets enable row level security;
alter table storage.objects enable row level security;
-- A real project also grants these tables to anon (RLS, with no policy, then hides every row);
-- the sandbox grants anon nothing in storage, so "anon cannot read storage" holds at both levels.
grant all on storage.buckets, storage.objects to postgres, authenticated, service_role;

-- PostgREST's schema-cache watchers (extensions.pgrst_ddl_watch / pgrst_drop_watch): every DDL
-- statement outside pg_temp, in any schema and by any role, sends NOTIFY pgrst. On a real project
-- each one makes PostgREST reload its schema cache, so a tool that creates and drops staging
-- tables in a loop costs the API something; temporary tables do not.
create function extensions.pgrst_ddl_watch() returns event_trigger
language plpgsql
as $$
declare
    cmd record;
begin
    for cmd in select * from pg_event_trigger_ddl_commands()
    loop
        if cmd.command_tag in (
            'CREATE SCHEMA', 'ALTER SCHEMA',
            'CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'ALTER TABLE',
            'CREATE FOREIGN TABLE', 'ALTER FOREIGN TABLE',
            'CREATE VIEW', 'ALTER VIEW',
            'CREATE MATERIALIZED VIEW', 'ALTER MATERIALIZED VIEW',
            'CREATE FUNCTION', 'ALTER FUNCTION',
            'CREATE TRIGGER',
            'CREATE TYPE', 'ALTER TYPE',
            'CREATE RULE',
            'COMMENT'
        )
        and cmd.schema_name is distinct from 'pg_temp'
        then
            notify pgrst, 'reload schema';
        end if;
    end loop;
end
$$;

create function extensions.pgrst_drop_watch() returns event_trigger
language plpgsql
as $$
declare
    obj record;
begin
    for obj in select * from pg_event_trigger_dropped_objects()
    loop
        if obj.object_type in (
            'schema', 'table', 'foreign table', 'view', 'materialized view',
            'function', 'trigger', 'type', 'rule'
        )
        and obj.is_temporary is false
        then
            notify pgrst, 'reload schema';
        end if;
    end loop;
end
$$;

create event trigger pgrst_ddl_watch on ddl_command_end
execute function extensions.pgrst_ddl_watch();
create event trigger pgrst_drop_watch on sql_drop
execute function extensions.pgrst_drop_watch();

-- ============================================================================================
-- 2. The app (schema public), owned by postgres
-- ============================================================================================

set role postgres;

-- Enums: real PostgreSQL enum types, labels in the order world.md lists them.
create type public.profile_type as enum (
    'patient', 'doctor', 'technician', 'master', 'sales_person', 'agent', 'client'
);
create type public.gender as enum ('male', 'female', 'other', 'unknown');
create type public.doctor_status as enum ('active', 'inactive');
create type public.employment_status as enum ('active', 'inactive', 'terminated', 'on_leave');
create type public.patient_status as enum ('active', 'on_hold', 'inactive', 'archived');
create type public.course_type as enum (
    'main', 'refinement', 'replacement', 'any', 'invoice', 'merchandise'
);
create type public.order_status as enum (
    'no_product', 'submitted', 'approved', 'in_production', 'shipped', 'cancelled', 'on_hold',
    'add_plan'
);
create type public.case_status as enum (
    'consultation', 'diagnosis', 'treatment_plan', 'active', 'refinement', 'retention',
    'completed', 'cancelled', 'on_hold', 'transferred', 'revision'
);
create type public.jaw_type as enum ('upper', 'lower');
create type public.payment_status as enum (
    'pending', 'processing', 'completed', 'failed', 'refunded', 'cancelled', 'other'
);
-- The second wave's (world.md 8.3).
create type public.project_type as enum (
    'stl_upper', 'stl_lower', 'clinical_photo', 'treatment_plan', 'xray', 'cbct_scan', 'simulation',
    'aligner_design', 'document', 'other'
);
create type public.project_status as enum (
    'draft', 'in_review', 'approved', 'in_progress', 'completed', 'archived', 'deleted'
);
create type public.comment_type_enum as enum (
    'treatment_discussion', 'doctor_note', 'task_note', 'notification_context', 'record_annotation',
    'message'
);
create type public.case_message_type as enum (
    'patient_question', 'clinical_note', 'doctor_response', 'treatment_update'
);
create type public.task_status as enum ('pending', 'in_progress', 'completed');
create type public.operation_type as enum ('payment', 'refund');
create type public.discount_type as enum ('percentage', 'fixed_amount');

-- Keeps updated_at on every app table. Unconditional, as such triggers usually are: whatever
-- value an UPDATE writes into updated_at is replaced by now().
create function public.set_updated_at() returns trigger
language plpgsql
set search_path = ''
as $$
begin
    new.updated_at := now();
    return new;
end
$$;

-- ---------------------------------------------------------------------------------- offices
create table public.offices (
    id uuid primary key default gen_random_uuid(),
    name text not null,
    address text,
    apartment text,
    city text,
    state text,
    zip_code text,
    country text,
    phone text,
    email text,
    tax_rate numeric(5, 4),
    square_customer_id text,
    is_active boolean not null default true,
    email_notifications boolean not null default true,
    legacy_office_id integer unique,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now()
);

-- --------------------------------------------------------------------------------- profiles
create table public.profiles (
    id uuid primary key default gen_random_uuid(),
    profile_type public.profile_type not null,
    first_name text,
    last_name text,
    -- Named as on the real project (legacy-facts: "an email_format CHECK constraint").
    email text constraint email_format check (email is null or email ~ '^[^@]+@[^@]+$'),
    phone text,
    date_of_birth date,
    gender public.gender not null default 'unknown',
    username text,
    password_hash text,
    is_active boolean,
    is_verified boolean default false,
    archived boolean default false,
    suspended boolean default false,
    patient_suffix varchar(10),
    last_login_at timestamptz,
    legacy_user_id integer unique,
    legacy_patient_id integer,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now()
);
create index profiles_legacy_patient_id_idx on public.profiles (legacy_patient_id);

-- ---------------------------------------------------------------------------------- doctors
create table public.doctors (
    id uuid primary key default gen_random_uuid(),
    profile_id uuid not null unique references public.profiles (id),
    doctor_number text,
    specialty text default 'orthodontics',
    primary_office_id uuid references public.offices (id),
    status public.doctor_status,
    is_accepting_patients boolean default true,
    max_patient_load integer default 500,
    joined_practice_at timestamptz,
    legacy_user_id integer unique,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now()
);
create index doctors_primary_office_id_idx on public.doctors (primary_office_id);

-- ------------------------------------------------------------------------------ technicians
create table public.technicians (
    id uuid primary key default gen_random_uuid(),
    profile_id uuid not null references public.profiles (id),
    employee_id text unique,
    status public.employment_status,
    is_active boolean,
    hire_date date,
    legacy_user_id integer unique,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now()
);
create index technicians_profile_id_idx on public.technicians (profile_id);

-- --------------------------------------------------------------------------- doctor_offices
create table public.doctor_offices (
    id uuid primary key default gen_random_uuid(),
    doctor_id uuid not null references public.doctors (id),
    office_id uuid not null references public.offices (id),
    is_primary boolean default false,
    is_active boolean default true,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now(),
    unique (doctor_id, office_id)
);
create index doctor_offices_office_id_idx on public.doctor_offices (office_id);

-- --------------------------------------------------------------------------------- patients
create table public.patients (
    id uuid primary key default gen_random_uuid(),
    profile_id uuid not null references public.profiles (id),
    patient_number text,
    suffix text,
    sex public.gender,
    date_of_birth date,
    primary_doctor_id uuid references public.doctors (id),
    assigned_office_id uuid references public.offices (id),
    status public.patient_status,
    archived boolean,
    suspended boolean,
    schemes jsonb,
    enrolled_at timestamptz,
    legacy_patient_id integer unique,
    legacy_user_id integer,
    legacy_doctor_id integer,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now()
);
create index patients_profile_id_idx on public.patients (profile_id);
create index patients_primary_doctor_id_idx on public.patients (primary_doctor_id);
create index patients_assigned_office_id_idx on public.patients (assigned_office_id);
create index patients_legacy_user_id_idx on public.patients (legacy_user_id);
create index patients_legacy_doctor_id_idx on public.patients (legacy_doctor_id);

-- --------------------------------------------------------------------------------- products
create table public.products (
    id uuid primary key default gen_random_uuid(),
    name text not null,
    course_type public.course_type,
    description text,
    is_active boolean default true,
    customization jsonb,
    legacy_product_id integer unique,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now()
);

-- ----------------------------------------------------------------------------------- orders
create table public.orders (
    id uuid primary key default gen_random_uuid(),
    order_number text,
    patient_id uuid not null references public.patients (id),
    doctor_id uuid references public.doctors (id),
    office_id uuid references public.offices (id),
    course_type public.course_type,
    status public.order_status,
    notes text,
    complaint text,
    amount numeric(10, 2),
    submitted_at timestamptz,
    approved_at timestamptz,
    shipped_at timestamptz,
    deleted boolean not null default false,
    deleted_at timestamptz,
    exports jsonb,
    suffix text,
    legacy_instruction_id integer unique,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now()
);
create index orders_patient_id_idx on public.orders (patient_id);
create index orders_doctor_id_idx on public.orders (doctor_id);
create index orders_office_id_idx on public.orders (office_id);

-- The app's order guard. It fires on every insert and on every update, whatever the columns
-- changed: an update that only sets deleted = true still fails when the order's doctor no longer
-- has a doctor profile. Raised with the default SQLSTATE P0001 (raise_exception), as a
-- hand-written trigger does; the message starts with 'validate_orders:'.
create function public.validate_orders() returns trigger
language plpgsql
set search_path = ''
as $$
declare
    doctor_profile_type public.profile_type;
begin
    if new.patient_id is not null
        and not exists (select from public.patients where id = new.patient_id)
    then
        raise exception 'validate_orders: patient % does not exist', new.patient_id
            using detail = format(
                'orders.id %s, legacy_instruction_id %s',
                new.id, coalesce(new.legacy_instruction_id::text, 'null')
            );
    end if;

    if new.doctor_id is not null then
        select p.profile_type
        into doctor_profile_type
        from public.doctors as d
        inner join public.profiles as p on p.id = d.profile_id
        where d.id = new.doctor_id;

        if not found then
            raise exception 'validate_orders: doctor % does not exist', new.doctor_id
                using detail = format(
                    'orders.id %s, legacy_instruction_id %s',
                    new.id, coalesce(new.legacy_instruction_id::text, 'null')
                ),
                hint = 'orders.doctor_id must be a doctors.id';
        end if;

        if doctor_profile_type is distinct from 'doctor' then
            raise exception 'validate_orders: doctor % has a profile of type %, not doctor',
                new.doctor_id, doctor_profile_type
                using detail = format(
                    'orders.id %s, legacy_instruction_id %s',
                    new.id, coalesce(new.legacy_instruction_id::text, 'null')
                ),
                hint = 'orders.doctor_id must be a doctors row whose profile_type is doctor';
        end if;
    end if;

    return new;
end
$$;

create trigger validate_orders
before insert or update on public.orders
for each row execute function public.validate_orders();

-- ------------------------------------------------------------------------------------ cases
create table public.cases (
    id uuid primary key default gen_random_uuid(),
    patient_id uuid not null references public.patients (id),
    primary_doctor_id uuid references public.doctors (id),
    office_id uuid references public.offices (id),
    case_number text unique,
    status public.case_status,
    deleted boolean default false,
    legacy_patient_id integer unique,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now()
);
create index cases_patient_id_idx on public.cases (patient_id);
create index cases_primary_doctor_id_idx on public.cases (primary_doctor_id);
create index cases_office_id_idx on public.cases (office_id);

-- ------------------------------------------------------------------------------ order_cases
create table public.order_cases (
    id uuid primary key default gen_random_uuid(),
    order_id uuid not null references public.orders (id) on delete cascade,
    case_id uuid not null references public.cases (id) on delete cascade,
    relationship_type varchar(50) default 'primary',
    is_active boolean default true,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now(),
    unique (order_id, case_id)
);
create index order_cases_case_id_idx on public.order_cases (case_id);

-- ------------------------------------------------------------------------------------- jaws
create table public.jaws (
    id uuid primary key default gen_random_uuid(),
    order_id uuid not null references public.orders (id),
    product_id uuid references public.products (id),
    jaw_type public.jaw_type,
    labial boolean,
    bond_teeth text,
    extract_teeth text,
    -- breakage, complete or other; no check constraint (world.md lists none).
    replacement_reason text,
    legacy_jaw_id integer unique,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now()
);
create index jaws_order_id_idx on public.jaws (order_id);
create index jaws_product_id_idx on public.jaws (product_id);

-- ------------------------------------------------------------------------------------ files
create table public.files (
    id uuid primary key default gen_random_uuid(),
    file_uid text,
    order_id uuid references public.orders (id),
    uploaded_by uuid references public.profiles (id),
    filename text,
    file_type text,
    file_size_bytes bigint,
    mime_type text,
    uploaded_at timestamptz,
    legacy_file_id integer unique,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now()
);
create index files_order_id_idx on public.files (order_id);
create index files_uploaded_by_idx on public.files (uploaded_by);

-- ------------------------------------------------------------------------------- case_files
create table public.case_files (
    id uuid primary key default gen_random_uuid(),
    case_id uuid not null references public.cases (id) on delete cascade,
    file_id uuid not null references public.files (id) on delete cascade,
    file_purpose varchar(50),
    display_order integer,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now(),
    unique (case_id, file_id)
);
create index case_files_file_id_idx on public.case_files (file_id);

-- --------------------------------------------------------------------------------- messages
create table public.messages (
    id uuid primary key default gen_random_uuid(),
    message_type varchar(50) default 'general',
    title varchar(255),
    content text not null,
    sender_id uuid references public.profiles (id),
    -- patient, user, order or system; no check constraint (world.md lists none).
    recipient_type varchar(50) not null,
    recipient_id uuid,
    is_read boolean default false,
    legacy_record_id integer unique,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now()
);
create index messages_sender_id_idx on public.messages (sender_id);
create index messages_recipient_idx on public.messages (recipient_type, recipient_id);
comment on column public.messages.recipient_id is
'Polymorphic, no foreign key: a patients.id (recipient_type patient), profiles.id (user) or '
'orders.id (order).';

-- ---------------------------------------------------------------------- message_attachments
create table public.message_attachments (
    id uuid primary key default gen_random_uuid(),
    message_id uuid not null references public.messages (id) on delete cascade,
    file_id uuid not null references public.files (id) on delete cascade,
    attachment_type text default 'file',
    display_name text,
    file_size bigint,
    mime_type text,
    attached_at timestamptz,
    legacy_record_id integer,
    legacy_file_id integer,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now(),
    unique (message_id, file_id)
);
create index message_attachments_file_id_idx on public.message_attachments (file_id);
create index message_attachments_legacy_record_id_idx
on public.message_attachments (legacy_record_id);
create index message_attachments_legacy_file_id_idx on public.message_attachments (legacy_file_id);

-- ----------------------------------------------------------------------------- order_states
create table public.order_states (
    id uuid primary key default gen_random_uuid(),
    order_id uuid not null references public.orders (id) on delete cascade,
    status_code integer not null,
    status_name varchar(100),
    is_active boolean not null,
    changed_by uuid references public.profiles (id),
    changed_at timestamptz not null,
    legacy_state_id integer not null unique,
    legacy_instruction_id integer not null,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now()
);
create index order_states_order_id_idx on public.order_states (order_id);
create index order_states_changed_by_idx on public.order_states (changed_by);
create index order_states_legacy_instruction_id_idx on public.order_states (legacy_instruction_id);

-- --------------------------------------------------------------------------------- payments
create table public.payments (
    id uuid primary key default gen_random_uuid(),
    order_id uuid references public.orders (id),
    amount numeric(10, 2),
    currency text default 'USD',
    status public.payment_status,
    payment_method text,
    processed_at timestamptz,
    legacy_payment_id integer unique,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now()
);
create index payments_order_id_idx on public.payments (order_id);

-- -------------------------------------------------------------------------- system_messages
create table public.system_messages (
    id uuid primary key default gen_random_uuid(),
    message_type text check (message_type in (
        'info', 'order_update', 'shipment_update', 'payment_update', 'case_update', 'reminder',
        'welcome', 'status_update', 'notification'
    )),
    order_id uuid references public.orders (id),
    recipient_id uuid references public.profiles (id),
    message_code text,
    message_data jsonb,
    message text,
    barcode text,
    tracking_number text,
    carrier text,
    processed boolean,
    processed_at timestamptz,
    is_active boolean default true,
    legacy_record_id integer unique,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now()
);
create index system_messages_order_id_idx on public.system_messages (order_id);
create index system_messages_recipient_id_idx on public.system_messages (recipient_id);

-- ============================================================================================
-- 3. Bookkeeping tables the tool does not own, and teams
-- ============================================================================================

-- Bookkeeping the earlier scripts left, in their existing shapes (world.md section 4). They were
-- created with plain SQL through the project's exec_sql RPC, as postgres, when the default
-- privileges still granted new tables to anon and authenticated (the grant at the end of this
-- section replays that), and nothing enabled row level security
-- (only the dashboard's table editor does that by default). So, as on the real project, they are
-- readable and writable over the HTTP API: a finding for the tool's report, not something the
-- sandbox hides. They are not app tables, and the "RLS on every app table" rule does not cover
-- them.
create table public.migration_mappings (
    entity_type varchar not null,
    legacy_id integer,
    new_id uuid,
    migrated_at timestamp not null,
    migration_batch varchar not null,
    primary key (entity_type, legacy_id)
);

create table public.migration_control (
    id serial primary key,
    phase varchar not null,
    table_name varchar not null,
    operation varchar not null,
    status varchar not null,
    records_processed integer,
    total_records integer,
    started_at timestamp,
    completed_at timestamp,
    error_message text,
    batch_size integer,
    worker_id integer,
    source_query text,
    validation_query text
);

-- Teams (auth_group; world.md 8.3): the app migrated the groups into it once (the earlier
-- scripts' section 2); diffmig now keeps it (entity 19). No soft-delete column.
create table public.teams (
    id uuid primary key default gen_random_uuid(),
    name text not null,
    description text,
    is_active boolean default true,
    legacy_group_id integer unique,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now()
);

-- ============================================================================================
-- 3b. The second wave's tables (world.md 8.3): the app's shapes, as the earlier scripts filled
-- them. "(added)" columns of world.md are links real rows held in metadata only.
-- ============================================================================================

create table public.categories (
    id uuid primary key default gen_random_uuid(),
    name text not null,
    parent_id uuid references public.categories (id),
    display_order integer,
    legacy_category_id integer unique,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now()
);
create index categories_parent_id_idx on public.categories (parent_id);

create table public.roles (
    id uuid primary key default gen_random_uuid(),
    name text not null,
    description text,
    team_id uuid references public.teams (id),
    is_active boolean default true,
    legacy_id integer unique,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now()
);
create index roles_team_id_idx on public.roles (team_id);

create table public.role_permissions (
    id uuid primary key default gen_random_uuid(),
    role_id uuid not null references public.roles (id),
    permission text,
    resource text,
    is_active boolean default true,
    legacy_id integer unique,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now()
);
create index role_permissions_role_id_idx on public.role_permissions (role_id);

create table public.templates (
    id uuid primary key default gen_random_uuid(),
    name text not null,
    action_name text,
    category_id uuid references public.categories (id),
    estimated_duration_minutes integer,
    is_active boolean default true,
    legacy_template_id integer unique,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now()
);
create index templates_category_id_idx on public.templates (category_id);

create table public.template_products (
    id uuid primary key default gen_random_uuid(),
    template_id uuid not null references public.templates (id) on delete cascade,
    product_id uuid not null references public.products (id),
    is_active boolean default true,
    legacy_id integer unique,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now(),
    unique (template_id, product_id)
);
create index template_products_product_id_idx on public.template_products (product_id);

create table public.template_view_roles (
    id uuid primary key default gen_random_uuid(),
    template_id uuid not null references public.templates (id) on delete cascade,
    role_id uuid not null references public.roles (id),
    is_active boolean default true,
    legacy_id integer unique,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now(),
    unique (template_id, role_id)
);
create index template_view_roles_role_id_idx on public.template_view_roles (role_id);

create table public.template_edit_roles (
    id uuid primary key default gen_random_uuid(),
    template_id uuid not null references public.templates (id) on delete cascade,
    role_id uuid not null references public.roles (id),
    is_active boolean default true,
    legacy_id integer unique,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now(),
    unique (template_id, role_id)
);
create index template_edit_roles_role_id_idx on public.template_edit_roles (role_id);

create table public.template_view_groups (
    id uuid primary key default gen_random_uuid(),
    template_id uuid not null references public.templates (id) on delete cascade,
    team_id uuid not null references public.teams (id),
    is_active boolean default true,
    legacy_id integer unique,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now(),
    unique (template_id, team_id)
);
create index template_view_groups_team_id_idx on public.template_view_groups (team_id);

create table public.template_predecessors (
    id uuid primary key default gen_random_uuid(),
    template_id uuid not null references public.templates (id) on delete cascade,
    predecessor_id uuid not null references public.templates (id),
    is_active boolean default true,
    legacy_id integer unique,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now(),
    unique (template_id, predecessor_id)
);
create index template_predecessors_predecessor_id_idx on public.template_predecessors (predecessor_id);

create table public.projects (
    id uuid primary key default gen_random_uuid(),
    name text not null,
    project_type public.project_type,
    status public.project_status,
    creator_id uuid not null references public.profiles (id),
    file_uid text,
    file_size_bytes bigint,
    is_public boolean,
    legacy_project_id integer unique,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now()
);
create index projects_creator_id_idx on public.projects (creator_id);

-- The catalogue columns (manufacturer .. slot_size) are the app's; world.md 8.3 leaves their
-- names open (these are the sandbox's decision) and the tool does not own them.
create table public.brackets (
    id uuid primary key default gen_random_uuid(),
    name text not null,
    bracket_type varchar(100) not null default 'standard',
    project_id uuid references public.projects (id),
    active boolean default true,
    manufacturer varchar(100),
    model_number varchar(100),
    material varchar(50),
    slot_size varchar(20),
    legacy_bracket_id integer unique,
    legacy_project_id integer,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now()
);
create index brackets_project_id_idx on public.brackets (project_id);

-- The unique constraint on legacy_plan_id was dropped on the real project (world.md 8.3); its
-- plain index is kept. patient_id and doctor_id are profiles (world.md 8.3, 8.4; legacy-facts.md
-- 2.4), like every person reference of this table.
create table public.treatment_plans (
    id uuid primary key default gen_random_uuid(),
    project_id uuid not null references public.projects (id) on delete cascade,
    order_id uuid references public.orders (id),
    patient_id uuid references public.profiles (id),
    doctor_id uuid references public.profiles (id),
    plan_number integer,
    plan_name varchar(100),
    plan_notes text,
    is_original boolean,
    treatment_type varchar(50),
    revision_count integer,
    legacy_plan_id integer,
    legacy_instruction_id integer,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now()
);
create index treatment_plans_project_id_idx on public.treatment_plans (project_id);
create index treatment_plans_order_id_idx on public.treatment_plans (order_id);
create index treatment_plans_legacy_plan_id_idx on public.treatment_plans (legacy_plan_id);

create table public.comments (
    id uuid primary key default gen_random_uuid(),
    content text not null,
    comment_type public.comment_type_enum not null,
    author_id uuid references public.profiles (id),
    parent_comment_id uuid references public.comments (id),
    legacy_table varchar(50),
    legacy_id integer,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now(),
    unique (legacy_table, legacy_id)
);
create index comments_author_id_idx on public.comments (author_id);

create table public.treatment_discussions (
    id uuid primary key default gen_random_uuid(),
    comment_id uuid not null unique references public.comments (id) on delete cascade,
    treatment_plan_id uuid references public.treatment_plans (id) on delete cascade,
    is_visible_to_patient boolean default false,
    legacy_comment_id integer unique,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now()
);
create index treatment_discussions_treatment_plan_id_idx
    on public.treatment_discussions (treatment_plan_id);

-- legacy_message_id is not unique: the earlier scripts copied each comment about twice.
create table public.case_messages (
    id uuid primary key default gen_random_uuid(),
    case_id uuid not null references public.cases (id),
    sender_id uuid references public.profiles (id),
    author_id uuid references public.profiles (id),
    recipient_id uuid,
    message_type public.case_message_type,
    subject text,
    content text not null,
    priority integer,
    is_urgent boolean default false,
    requires_response boolean default false,
    is_confidential boolean default false,
    sent_at timestamptz,
    legacy_message_id integer,
    legacy_record_id integer,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now()
);
create index case_messages_case_id_idx on public.case_messages (case_id);
create index case_messages_legacy_message_id_idx on public.case_messages (legacy_message_id);

create table public.tasks (
    id uuid primary key default gen_random_uuid(),
    order_id uuid not null references public.orders (id),
    assigned_to uuid references public.profiles (id),
    template_id uuid references public.templates (id),
    template_name text,
    description text,
    jaw_specification integer,
    status public.task_status,
    checked boolean,
    completed_at timestamptz,
    legacy_task_id integer unique,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now()
);
create index tasks_order_id_idx on public.tasks (order_id);
create index tasks_assigned_to_idx on public.tasks (assigned_to);
create index tasks_template_id_idx on public.tasks (template_id);

create table public.operations (
    id uuid primary key default gen_random_uuid(),
    payment_id uuid references public.payments (id),
    case_id uuid references public.cases (id),
    operation_type public.operation_type not null,
    amount numeric(10, 2),
    status text,
    operation_data jsonb,
    legacy_operation_id integer unique,
    legacy_id integer,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now()
);
create index operations_payment_id_idx on public.operations (payment_id);
create index operations_case_id_idx on public.operations (case_id);

create table public.offers (
    id uuid primary key default gen_random_uuid(),
    doctor_id uuid references public.doctors (id),
    product_id uuid references public.products (id),
    price_both numeric(10, 2),
    price_upper numeric(10, 2),
    price_lower numeric(10, 2),
    order_id uuid references public.orders (id),
    offer_amount numeric(10, 2),
    description text,
    is_accepted boolean default false,
    is_active boolean default true,
    legacy_offer_id integer unique,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now()
);
create index offers_doctor_id_idx on public.offers (doctor_id);
create index offers_product_id_idx on public.offers (product_id);
create index offers_order_id_idx on public.offers (order_id);

create table public.discounts (
    id uuid primary key default gen_random_uuid(),
    offer_id uuid references public.offers (id),
    name text,
    code text unique,
    discount_type public.discount_type,
    percentage numeric(5, 2),
    fixed_amount numeric,
    max_uses integer,
    current_uses integer default 0,
    valid_from date,
    valid_until date,
    is_active boolean default true,
    legacy_discount_id integer unique,
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now()
);
create index discounts_offer_id_idx on public.discounts (offer_id);

-- set_updated_at on every app table.
do $updated_at_triggers$
declare
    table_name text;
begin
    foreach table_name in array array[
        'offices', 'profiles', 'doctors', 'technicians', 'doctor_offices', 'patients', 'products',
        'orders', 'cases', 'order_cases', 'jaws', 'files', 'case_files', 'messages',
        'message_attachments', 'order_states', 'payments', 'system_messages', 'teams',
        'categories', 'roles', 'role_permissions', 'templates', 'template_products',
        'template_view_roles', 'template_edit_roles', 'template_view_groups',
        'template_predecessors', 'projects', 'brackets', 'treatment_plans', 'comments',
        'treatment_discussions', 'case_messages', 'tasks', 'operations', 'offers', 'discounts'
    ]
    loop
        execute format(
            'create trigger set_updated_at before update on public.%I '
            'for each row execute function public.set_updated_at()',
            table_name
        );
    end loop;
end
$updated_at_triggers$;

-- The grants the app's migrations (and the earlier scripts) gave their tables: under the new
-- default privileges nothing grants them on its own. Row level security (below) filters rows.
grant all on all tables in schema public to anon, authenticated, service_role;

-- ============================================================================================
-- 4. Row level security
-- ============================================================================================

-- Enabled (not forced) on every app table: postgres (BYPASSRLS, and owner) and service_role
-- (BYPASSRLS) see every row; anon has the grants but no policy, so it sees nothing; authenticated
-- sees what the policies below allow.
do $enable_rls$
declare
    table_name text;
begin
    foreach table_name in array array[
        'offices', 'profiles', 'doctors', 'technicians', 'doctor_offices', 'patients', 'products',
        'orders', 'cases', 'order_cases', 'jaws', 'files', 'case_files', 'messages',
        'message_attachments', 'order_states', 'payments', 'system_messages', 'teams',
        'categories', 'roles', 'role_permissions', 'templates', 'template_products',
        'template_view_roles', 'template_edit_roles', 'template_view_groups',
        'template_predecessors', 'projects', 'brackets', 'treatment_plans', 'comments',
        'treatment_discussions', 'case_messages', 'tasks', 'operations', 'offers', 'discounts'
    ]
    loop
        execute format('alter table public.%I enable row level security', table_name);
    end loop;
end
$enable_rls$;

-- A few of the app's policies; none is for anon (or PUBLIC).
create policy "Authenticated users can read active offices"
on public.offices for select to authenticated
using (is_active);

create policy "Authenticated users can read active products"
on public.products for select to authenticated
using (is_active);

create policy "Authenticated users can read teams"
on public.teams for select to authenticated
using (true);

create policy "Users can read their own profile"
on public.profiles for select to authenticated
using (id = (select auth.uid()));

create policy "Users can update their own profile"
on public.profiles for update to authenticated
using (id = (select auth.uid()))
with check (id = (select auth.uid()));

create policy "Doctors can read their own doctor row"
on public.doctors for select to authenticated
using (profile_id = (select auth.uid()));

create policy "Patients and their doctors can read the patient"
on public.patients for select to authenticated
using (
    profile_id = (select auth.uid())
    or primary_doctor_id in (
        select d.id from public.doctors as d where d.profile_id = (select auth.uid())
    )
);

create policy "Patients and their doctors can read orders"
on public.orders for select to authenticated
using (
    patient_id in (
        select p.id from public.patients as p where p.profile_id = (select auth.uid())
    )
    or doctor_id in (
        select d.id from public.doctors as d where d.profile_id = (select auth.uid())
    )
);

create policy "Users can read messages they sent or received"
on public.messages for select to authenticated
using (
    sender_id = (select auth.uid())
    or (recipient_type = 'user' and recipient_id = (select auth.uid()))
);

reset role;
