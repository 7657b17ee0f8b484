-- Verifies the sandbox's Supabase emulation (supabase_roles.sql + supabase_schema.sql) in the
-- current database. One query; one row per check: check_name, ok, detail. Read-only, needs no
-- particular role (catalog reads only) and never raises on a missing object: a missing object is
-- a row with ok = false.

with

app_tables as (
    select table_name, position
    from unnest(array[
        'offices', 'profiles', 'doctors', 'technicians', 'doctor_offices', 'patients', 'products',
        'orders', 'cases', 'order_cases', 'jaws', 'files', 'case_files', 'messages',
        'message_attachments', 'order_states', 'payments', 'system_messages', 'teams',
        'categories', 'roles', 'role_permissions', 'templates', 'template_products',
        'template_view_roles', 'template_edit_roles', 'template_view_groups',
        'template_predecessors', 'projects', 'brackets', 'treatment_plans', 'comments',
        'treatment_discussions', 'case_messages', 'tasks', 'operations', 'offers', 'discounts'
    ]) with ordinality as t (table_name, position)
),

app_relations as (
    select
        app_tables.table_name,
        classes.oid as table_oid,
        classes.relrowsecurity as has_rls,
        pg_get_userbyid(classes.relowner) as owner_name
    from app_tables
    left join pg_class as classes
        on classes.relname = app_tables.table_name
        and classes.relnamespace = 'public'::regnamespace
        and classes.relkind = 'r'
),

expected_enums as (
    select *
    from (values
        ('profile_type', 'patient,doctor,technician,master,sales_person,agent,client'),
        ('gender', 'male,female,other,unknown'),
        ('doctor_status', 'active,inactive'),
        ('employment_status', 'active,inactive,terminated,on_leave'),
        ('patient_status', 'active,on_hold,inactive,archived'),
        ('course_type', 'main,refinement,replacement,any,invoice,merchandise'),
        (
            'order_status',
            'no_product,submitted,approved,in_production,shipped,cancelled,on_hold,add_plan'
        ),
        (
            'case_status',
            'consultation,diagnosis,treatment_plan,active,refinement,retention,completed,'
            'cancelled,on_hold,transferred,revision'
        ),
        ('jaw_type', 'upper,lower'),
        ('payment_status', 'pending,processing,completed,failed,refunded,cancelled,other'),
        (
            'project_type',
            'stl_upper,stl_lower,clinical_photo,treatment_plan,xray,cbct_scan,simulation,'
            'aligner_design,document,other'
        ),
        ('project_status', 'draft,in_review,approved,in_progress,completed,archived,deleted'),
        (
            'comment_type_enum',
            'treatment_discussion,doctor_note,task_note,notification_context,record_annotation,'
            'message'
        ),
        ('case_message_type', 'patient_question,clinical_note,doctor_response,treatment_update'),
        ('task_status', 'pending,in_progress,completed'),
        ('operation_type', 'payment,refund'),
        ('discount_type', 'percentage,fixed_amount')
    ) as e (type_name, labels)
),

actual_enums as (
    select
        types.typname as type_name,
        pg_get_userbyid(types.typowner) as owner_name,
        string_agg(enums.enumlabel, ',' order by enums.enumsortorder) as labels
    from pg_type as types
    inner join pg_enum as enums on enums.enumtypid = types.oid
    where types.typnamespace = 'public'::regnamespace
    group by types.typname, types.typowner
),

roles as (
    select * from pg_roles
    where rolname in (
        'anon', 'authenticated', 'service_role', 'authenticator', 'postgres', 'supabase_admin'
    )
),

postgres_role as (
    select * from pg_roles where rolname = 'postgres'
),

-- Role oids (NULL when a role is missing: the privilege functions then return NULL, not an error).
role_oids as (
    select
        max(oid) filter (where rolname = 'anon') as anon,
        max(oid) filter (where rolname = 'authenticated') as authenticated,
        max(oid) filter (where rolname = 'service_role') as service_role,
        max(oid) filter (where rolname = 'postgres') as postgres
    from pg_roles
),

-- Default privileges in schema public, exploded: (owner, object type, grantee, privileges).
default_privileges as (
    select
        pg_get_userbyid(acl.defaclrole) as owner_name,
        acl.defaclobjtype as object_type,
        case when grants.grantee = 0 then 'PUBLIC' else pg_get_userbyid(grants.grantee) end
            as grantee_name,
        string_agg(grants.privilege_type, ',' order by grants.privilege_type) as privileges
    from pg_default_acl as acl
    cross join lateral aclexplode(acl.defaclacl) as grants
    where acl.defaclnamespace = 'public'::regnamespace
    group by acl.defaclrole, acl.defaclobjtype, grants.grantee
),

expected_default_privileges as (
    select owners.owner_name, objects.object_type, grantees.grantee_name, objects.privileges
    from unnest(array['postgres', 'supabase_admin']) as owners (owner_name)
    cross join unnest(array['anon', 'authenticated', 'service_role']) as grantees (grantee_name)
    cross join (values
        -- Since late 2026 new tables are not granted to the API roles (world.md section 4).
        ('r', null),
        ('S', 'SELECT,UPDATE,USAGE'),
        ('f', 'EXECUTE')
    ) as objects (object_type, privileges)
),

extensions_found as (
    select
        wanted.extension_name,
        ext.extnamespace::regnamespace::text as schema_name
    from unnest(array['pgcrypto', 'uuid-ossp', 'pg_stat_statements']) as wanted (extension_name)
    left join pg_extension as ext on ext.extname = wanted.extension_name
),

expected_columns as (
    select *
    from (values
        (
            'migration_mappings',
            'entity_type:character varying:t,legacy_id:integer:t,new_id:uuid:f,'
            'migrated_at:timestamp without time zone:t,migration_batch:character varying:t'
        ),
        (
            'migration_control',
            'id:integer:t,phase:character varying:t,table_name:character varying:t,'
            'operation:character varying:t,status:character varying:t,'
            'records_processed:integer:f,total_records:integer:f,'
            'started_at:timestamp without time zone:f,completed_at:timestamp without time zone:f,'
            'error_message:text:f,batch_size:integer:f,worker_id:integer:f,source_query:text:f,'
            'validation_query:text:f'
        )
    ) as e (table_name, columns)
),

actual_columns as (
    select
        classes.relname as table_name,
        string_agg(
            attrs.attname || ':' || format_type(attrs.atttypid, null) || ':'
            || case when attrs.attnotnull then 't' else 'f' end,
            ',' order by attrs.attnum
        ) as columns
    from pg_class as classes
    inner join pg_attribute as attrs
        on attrs.attrelid = classes.oid and attrs.attnum > 0 and not attrs.attisdropped
    where classes.relnamespace = 'public'::regnamespace
    group by classes.relname
),

checks as (

    -- ------------------------------------------------------------------------- roles
    select
        10 as sort_group,
        0 as sort_position,
        'roles_exist' as check_name,
        count(*) = 6 as ok,
        'found: ' || coalesce(string_agg(rolname, ', ' order by rolname), 'none') as detail
    from roles

    union all

    select
        11, 0,
        'postgres_attributes',
        coalesce(bool_and(
            not rolsuper and rolcreatedb and rolcreaterole and rolcanlogin and rolreplication
            and rolbypassrls and rolinherit
        ), false),
        coalesce(string_agg(format(
            'superuser=%s createdb=%s createrole=%s login=%s replication=%s bypassrls=%s',
            rolsuper, rolcreatedb, rolcreaterole, rolcanlogin, rolreplication, rolbypassrls
        ), ''), 'role postgres missing')
    from postgres_role

    union all

    select
        12, 0,
        'postgres_can_set_session_replication_role',
        coalesce(bool_and(
            not rolsuper
            and has_parameter_privilege(oid, 'session_replication_role', 'SET')
        ), false),
        'as on Supabase (its extension guard allows it); diffmig must never do it'
    from postgres_role

    union all

    select
        12, 1,
        'postgres_monitoring_roles',
        coalesce(bool_and(
            pg_has_role(oid, 'pg_monitor', 'member')
            and pg_has_role(oid, 'pg_read_all_data', 'member')
            and pg_has_role(oid, 'pg_signal_backend', 'member')
        ), false),
        'postgres is a member of pg_monitor, pg_read_all_data and pg_signal_backend'
    from postgres_role

    union all

    select
        13, 0,
        'api_roles_attributes',
        count(*) = 3 and bool_and(
            not rolcanlogin and not rolsuper
            and rolbypassrls = (rolname = 'service_role')
        ),
        coalesce(string_agg(
            format('%s: login=%s bypassrls=%s', rolname, rolcanlogin, rolbypassrls),
            '; ' order by rolname
        ), 'none found')
    from roles
    where rolname in ('anon', 'authenticated', 'service_role')

    union all

    select
        14, 0,
        'authenticator_role',
        coalesce(bool_and(
            rolcanlogin and not rolinherit and not rolsuper
            and pg_has_role(roles.oid, role_oids.anon, 'member')
            and pg_has_role(roles.oid, role_oids.authenticated, 'member')
            and pg_has_role(roles.oid, role_oids.service_role, 'member')
        ), false),
        'login noinherit, member of anon, authenticated, service_role'
    from roles
    cross join role_oids
    where roles.rolname = 'authenticator'

    union all

    select
        15, 0,
        'postgres_can_set_role_to_api_roles',
        coalesce(
            pg_has_role(role_oids.postgres, role_oids.anon, 'member')
            and pg_has_role(role_oids.postgres, role_oids.authenticated, 'member')
            and pg_has_role(role_oids.postgres, role_oids.service_role, 'member'),
            false
        ),
        'postgres is a member of anon, authenticated and service_role'
    from role_oids

    union all

    -- ---------------------------------------------------------- database and schemas
    select
        20, 0,
        'postgres_can_create_schemas',
        coalesce(bool_and(
            has_database_privilege(oid, current_database(), 'CREATE')
            and has_database_privilege(oid, current_database(), 'TEMPORARY')
        ), false),
        'CREATE and TEMPORARY on database ' || current_database()
        || case
            when coalesce(bool_and(has_database_privilege(oid, current_database(), 'CREATE')),
                false)
                then ''
            else ' missing (a database cloned with CREATE DATABASE ... TEMPLATE does not inherit'
                || ' database grants: grant all on database ' || quote_ident(current_database())
                || ' to postgres)'
        end
    from postgres_role

    union all

    select
        21, 0,
        'postgres_can_create_in_public',
        coalesce(bool_and(
            has_schema_privilege(oid, 'public', 'USAGE')
            and has_schema_privilege(oid, 'public', 'CREATE')
        ), false),
        'USAGE and CREATE on schema public'
    from postgres_role

    union all

    select
        22, 0,
        'schemas_exist',
        count(*) = 4,
        'found: ' || coalesce(string_agg(nspname, ', ' order by nspname), 'none')
    from pg_namespace
    where nspname in ('public', 'auth', 'extensions', 'storage')

    union all

    select
        23, 0,
        'api_roles_use_public_and_extensions',
        coalesce(count(*) = 4 and bool_and(
            has_schema_privilege(grantees.oid, 'public'::regnamespace, 'USAGE')
            and has_schema_privilege(grantees.oid, to_regnamespace('extensions'), 'USAGE')
        ), false),
        'USAGE on public and extensions for anon, authenticated, service_role, postgres'
    from pg_roles as grantees
    where grantees.rolname in ('anon', 'authenticated', 'service_role', 'postgres')

    union all

    select
        24, 0,
        'auth_users_not_readable_by_anon_or_authenticated',
        coalesce(bool_and(
            not has_table_privilege(role_oids.anon, users.oid, 'SELECT')
            and not has_table_privilege(role_oids.authenticated, users.oid, 'SELECT')
        ), false),
        'auth.users owner: ' || coalesce(max(pg_get_userbyid(users.relowner)), 'missing')
    from pg_class as users
    cross join role_oids
    where users.oid = to_regclass('auth.users')

    union all

    select
        25, 0,
        'storage_objects_not_readable_by_anon',
        coalesce(bool_and(
            not has_table_privilege(role_oids.anon, objects.oid, 'SELECT')
            and objects.relrowsecurity
        ), false),
        'storage.objects owner: ' || coalesce(max(pg_get_userbyid(objects.relowner)), 'missing')
    from pg_class as objects
    cross join role_oids
    where objects.oid = to_regclass('storage.objects')

    union all

    select
        26, 0,
        'auth_uid_function',
        to_regprocedure('auth.uid()') is not null,
        coalesce(to_regprocedure('auth.uid()')::text, 'auth.uid() missing')

    union all

    -- ----------------------------------------------------------------- extensions
    select
        30, 0,
        'extension_in_schema_extensions:' || extension_name,
        coalesce(schema_name = 'extensions', false),
        coalesce('installed in schema ' || schema_name, 'not installed')
    from extensions_found

    union all

    select
        31, 0,
        'postgres_fdw_absent_or_owned_by_postgres',
        coalesce(bool_and(pg_get_userbyid(fdw.fdwowner) = 'postgres'), true),
        coalesce(
            'installed; wrapper owner: ' || max(pg_get_userbyid(fdw.fdwowner)),
            'not installed, as on a new project'
        )
    from pg_foreign_data_wrapper as fdw
    where fdw.fdwname = 'postgres_fdw'

    union all

    select
        32, 0,
        'extension_guard_lets_postgres_create_postgres_fdw',
        count(*) = 1,
        coalesce(max(evtname) || ' on ' || max(evtevent), 'event trigger missing')
    from pg_event_trigger
    where evtname = 'sandbox_extension_guard' and evtenabled = 'O'

    union all

    -- ------------------------------------------------------------- default privileges
    select
        40, 0,
        'default_privileges_public',
        count(*) filter (where found.privileges is distinct from expected.privileges) = 0,
        coalesce(string_agg(
            format(
                '%s -> %s on %s: %s',
                expected.owner_name, expected.grantee_name, expected.object_type,
                coalesce(found.privileges, 'none')
            ),
            '; '
        ) filter (where found.privileges is distinct from expected.privileges),
        'sequences and functions of postgres and supabase_admin are granted to anon, '
        || 'authenticated, service_role; tables are not (new projects)')
    from expected_default_privileges as expected
    left join default_privileges as found
        on found.owner_name = expected.owner_name
        and found.object_type = expected.object_type
        and found.grantee_name = expected.grantee_name

    union all

    -- ------------------------------------------------------------------------ enums
    select
        50, 0,
        'enum:' || expected.type_name,
        coalesce(actual.labels = expected.labels and actual.owner_name = 'postgres', false),
        coalesce(actual.owner_name || ': ' || actual.labels, 'missing')
    from expected_enums as expected
    left join actual_enums as actual on actual.type_name = expected.type_name

    union all

    -- ------------------------------------------------------------------- app tables
    select
        60, app_relations_position.position::integer,
        'app_table:' || app_relations.table_name,
        coalesce(
            app_relations.has_rls
            and app_relations.owner_name = 'postgres'
            and grants.anon_has_all
            and grants.authenticated_has_all
            and grants.service_role_has_all
            and common.columns_ok
            and triggers.has_updated_at_trigger,
            false
        ),
        case
            when app_relations.table_oid is null then 'missing'
            else format(
                'owner=%s rls=%s anon_grants=%s authenticated_grants=%s common_columns=%s '
                'set_updated_at=%s',
                app_relations.owner_name,
                app_relations.has_rls,
                grants.anon_has_all,
                grants.authenticated_has_all,
                common.columns_ok,
                triggers.has_updated_at_trigger
            )
        end
    from app_relations
    cross join role_oids
    inner join app_tables as app_relations_position
        on app_relations_position.table_name = app_relations.table_name
    -- has_table_privilege with a list of privileges is true when ANY of them is held: test each.
    left join lateral (
        select
            bool_and(has_table_privilege(role_oids.anon, app_relations.table_oid, priv))
                as anon_has_all,
            bool_and(has_table_privilege(role_oids.authenticated, app_relations.table_oid, priv))
                as authenticated_has_all,
            bool_and(has_table_privilege(role_oids.service_role, app_relations.table_oid, priv))
                as service_role_has_all
        from unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE']) as privs (priv)
    ) as grants on true
    left join lateral (
        select count(*) = 4 as columns_ok
        from pg_attribute as attrs
        left join pg_attrdef as defaults
            on defaults.adrelid = attrs.attrelid and defaults.adnum = attrs.attnum
        where attrs.attrelid = app_relations.table_oid
            and not attrs.attisdropped
            and (
                (
                    attrs.attname = 'id'
                    and attrs.atttypid = 'uuid'::regtype
                    and pg_get_expr(defaults.adbin, defaults.adrelid) = 'gen_random_uuid()'
                    and exists (
                        select from pg_constraint as pk
                        where pk.conrelid = attrs.attrelid and pk.contype = 'p'
                            and pk.conkey = array[attrs.attnum]
                    )
                )
                or (
                    attrs.attname in ('created_at', 'updated_at')
                    and attrs.atttypid = 'timestamptz'::regtype
                    and pg_get_expr(defaults.adbin, defaults.adrelid) = 'now()'
                )
                or (
                    attrs.attname = 'metadata'
                    and attrs.atttypid = 'jsonb'::regtype
                    and attrs.attnotnull
                    and pg_get_expr(defaults.adbin, defaults.adrelid) = '''{}''::jsonb'
                )
            )
    ) as common on true
    left join lateral (
        select count(*) = 1 as has_updated_at_trigger
        from pg_trigger as trig
        where trig.tgrelid = app_relations.table_oid
            and not trig.tgisinternal
            and trig.tgfoid = to_regprocedure('public.set_updated_at()')
            and trig.tgtype & 2 = 2   -- before
            and trig.tgtype & 16 = 16 -- update
            and trig.tgenabled = 'O'
    ) as triggers on true

    union all

    select
        61, 0,
        'no_policy_for_anon_on_app_tables',
        count(*) = 0,
        coalesce(
            'policies for anon or PUBLIC: '
            || string_agg(tablename || '.' || policyname, ', '),
            'none'
        )
    from pg_policies
    where schemaname = 'public'
        and tablename in (select table_name from app_tables)
        and (roles && array['anon', 'public']::name[])

    union all

    select
        62, 0,
        'validate_orders_trigger',
        count(*) = 1,
        coalesce(string_agg(pg_get_triggerdef(trig.oid), '; '), 'missing')
    from pg_trigger as trig
    where trig.tgrelid = to_regclass('public.orders')
        and trig.tgname = 'validate_orders'
        and not trig.tgisinternal
        and trig.tgtype & 2 = 2    -- before
        and trig.tgtype & 4 = 4    -- insert
        and trig.tgtype & 16 = 16  -- update
        and trig.tgenabled = 'O'

    union all

    -- ------------------------------------------------------------- bookkeeping and others
    select
        70, 0,
        'bookkeeping_table:' || expected.table_name,
        coalesce(actual.columns = expected.columns, false),
        coalesce(actual.columns, 'missing')
    from expected_columns as expected
    left join actual_columns as actual on actual.table_name = expected.table_name


)

select check_name, ok, detail
from checks
order by sort_group, sort_position, check_name
