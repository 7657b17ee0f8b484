-- Sandbox emulation of a Supabase cluster: the cluster-level roles.
--
-- Run once per cluster (roles are cluster-wide) by the bootstrap superuser `supabase_admin`,
-- before supabase_schema.sql is loaded into any database of the cluster. Idempotent: running it
-- again re-asserts the attributes and memberships, and never fails on existing roles.
-- No passwords here: the Python side sets them with ALTER ROLE ... PASSWORD.
--
-- Mirrors supabase/postgres (migrations/db/init-scripts/00000000000000-initial-schema.sql,
-- migrations/db/migrations/10000000000000_demote-postgres.sql and later migrations):
--   anon, authenticated, service_role  NOLOGIN API roles (INHERIT since 2023); service_role BYPASSRLS
--   authenticator                      LOGIN NOINHERIT, the PostgREST login, member of the API roles
--   postgres                           NOSUPERUSER CREATEDB CREATEROLE LOGIN REPLICATION BYPASSRLS,
--                                      member of the API roles (so `set role anon` works, as in the
--                                      dashboard's role impersonation)
--   supabase_auth_admin,               owners of the auth and storage schemas' objects, so that
--   supabase_storage_admin             postgres does not own them (as on a real project). They are
--                                      NOLOGIN here: nothing in the sandbox logs in as them.
--   postgres is also a member of pg_monitor (it reads pg_stat_statements), pg_read_all_data and
--   pg_signal_backend, and may set session_replication_role (supautils' guard; a SET grant here).
-- Not emulated: supautils, which on a real project stops postgres (CREATEROLE) from altering
-- the reserved roles above; the tool must never try. Its extension guard is emulated per
-- database in supabase_schema.sql.

do $roles$
declare
    role_spec record;
begin
    if not (select rolsuper from pg_roles where rolname = current_user) then
        raise exception 'supabase_roles.sql must be run by a superuser (supabase_admin), not %',
            current_user;
    end if;

    if exists (select from pg_roles where rolname = 'postgres' and oid = 10) then
        raise exception 'role postgres is this cluster''s bootstrap superuser and cannot be demoted'
            using hint = 'initdb the Supabase sandbox cluster with -U supabase_admin';
    end if;

    for role_spec in
        select * from (values
            ('anon', 'nologin inherit nobypassrls'),
            ('authenticated', 'nologin inherit nobypassrls'),
            ('service_role', 'nologin inherit bypassrls'),
            ('authenticator', 'login noinherit nobypassrls'),
            ('supabase_auth_admin', 'nologin noinherit nobypassrls'),
            ('supabase_storage_admin', 'nologin noinherit nobypassrls'),
            (
                'postgres',
                'nosuperuser createdb createrole login replication bypassrls inherit'
            )
        ) as spec (role_name, attributes)
    loop
        if not exists (select from pg_roles where rolname = role_spec.role_name) then
            execute format('create role %I %s', role_spec.role_name, role_spec.attributes);
        else
            -- Re-assert the attributes on an existing role (idempotent, and it repairs drift).
            execute format('alter role %I %s', role_spec.role_name, role_spec.attributes);
        end if;
    end loop;
end
$roles$;

-- Memberships, granted only when missing (a repeated GRANT only prints a notice, but the guard
-- keeps reruns quiet).
do $memberships$
declare
    membership record;
begin
    for membership in
        select * from (values
            ('anon', 'authenticator'),
            ('authenticated', 'authenticator'),
            ('service_role', 'authenticator'),
            ('anon', 'postgres'),
            ('authenticated', 'postgres'),
            ('service_role', 'postgres'),
            ('pg_monitor', 'postgres'),
            ('pg_read_all_data', 'postgres'),
            ('pg_signal_backend', 'postgres')
        ) as m (granted_role, member)
    loop
        if not pg_has_role(membership.member, membership.granted_role, 'member') then
            execute format('grant %I to %I', membership.granted_role, membership.member);
        end if;
    end loop;
end
$memberships$;

-- Role settings as on a real project (they apply at login, not after SET ROLE).
alter role postgres set search_path to "$user", public, extensions;
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';
alter role authenticator set statement_timeout = '8s';
alter role authenticator set lock_timeout = '8s';
alter role supabase_auth_admin set search_path = auth;
alter role supabase_storage_admin set search_path = storage;

-- Supabase's extension guard lets postgres set session_replication_role (world.md section 4),
-- superuser-only in plain PostgreSQL: PostgreSQL 15 emulates it with a SET grant on the
-- parameter. diffmig must never use it (tests assert it does not).
grant set on parameter session_replication_role to postgres;
