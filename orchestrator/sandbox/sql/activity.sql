-- Simulated use of the legacy Django app after the earlier migration (world.md section 7).
--
-- Loaded into the legacy database (mdw_db) by the app role mdw_admin, which owns every table,
-- after common.sql (schema `sandbox`) and after the legacy data were generated. Entry point:
--
--     select sandbox.simulate_activity(days, seed);   -- returns the new batch number
--
-- Each call is one batch: it moves the simulated clock (sandbox.meta 'activity_clock'; the first
-- batch starts at 2025-11-01 00:00 UTC) on by `days` days and changes the legacy tables as that
-- many days of use would, proportionally to the existing volumes (about 1 % of all rows per week,
-- notifications and files dominating), with at least one or a few changes of each kind in every
-- table that has activity, even at scale 0.01.
--
-- Every changed row is logged in sandbox.activity_log (one row per changed row and batch; a row
-- gets at most one kind per batch), with the statement that changed it. Kinds:
--   insert            a new row (id from the table's serial sequence);
--   update            a real change that also moves updated_at into the batch's days (only the
--                     tables that have updated_at: dispatch_instruction, dispatch_patient);
--   update_untouched  a real change that leaves updated_at alone, or in a table without one
--                     (detectable only by comparing content);
--   update_same       an UPDATE that writes the values the row already has (a new row version,
--                     no change of content);
--   delete            the row is gone (children without FK constraints stay, as orphans);
--   reinsert          the row was deleted and inserted again with the same id and changed content
--                     (updated_at, where there is one, left as it was);
--   schema            a DDL change (table_name set, legacy_id null).
-- The detail column says which column(s) changed, or why.
--
-- Static tables: django_content_type, auth_group and dispatch_course never change; dispatch_product
-- only gets updates (and one new product in the first batch).
--
-- Deterministic: every choice is a hash of (row id or ordinal, salt, seed, batch) through the
-- helpers of common.sql; no random(), no now(). The same database state and (days, seed) give the
-- same changes. Set-based throughout: each change is one statement whose data-modifying CTE feeds
-- the activity_log insert.

-- ============================================================================================
-- Helpers
-- ============================================================================================

-- How many rows of a kind to change in a batch: `weekly` is the fraction of the table's rows per
-- week; at least `min_rows` (1 for tables under 30 rows), at most a fifth of the table.
create or replace function sandbox.act_n(
    row_count bigint, weekly double precision, days integer, min_rows integer
)
returns integer
language sql immutable
as $$
    select case
        when row_count <= 0 or days <= 0 then 0
        else least(
            greatest(
                case when row_count < 30 then least(min_rows, 1) else min_rows end,
                round(row_count * weekly * days / 7.0)::integer
            ),
            greatest(1, (row_count / 5)::integer)
        )
    end
$$;

-- Reserves `n` consecutive ids from a table's serial sequence and returns the first one (never
-- below max(id) + 1, in case rows were loaded with explicit ids and the sequence lags).
create or replace function sandbox.act_reserve(table_name text, n integer)
returns bigint
language plpgsql
as $$
declare
    sequence_name text := pg_get_serial_sequence('public.' || quote_ident(table_name), 'id');
    max_id bigint;
    base_id bigint;
begin
    if n is null or n <= 0 then
        return null;
    end if;
    execute format('select coalesce(max(id), 0) from public.%I', table_name) into max_id;
    base_id := greatest(nextval(sequence_name), max_id + 1);
    perform setval(sequence_name, base_id + n - 1);
    return base_id;
end
$$;

-- Picks up to `n` rows of `table_name` (ids <= max_id, i.e. rows that existed before the batch,
-- not yet picked in this batch, satisfying `condition`) for `kind`, into pg_temp.act_pick.
-- `prefer` is an ordering expression over alias t evaluated before the hash (smaller first).
-- Big tables are sampled by probing random ids (index lookups) before falling back to a scan.
create or replace function sandbox.act_pick(
    table_name text,
    kind text,
    n integer,
    salt integer,
    batch_seed bigint,
    max_id bigint,
    condition text default 'true',
    prefer text default 'null::integer'
)
returns integer
language plpgsql
as $$
declare
    picked integer := 0;
    more integer;
begin
    if n is null or n <= 0 or max_id is null or max_id <= 0 then
        return 0;
    end if;
    if max_id > 200000 then
        execute format(
            $sql$
            insert into pg_temp.act_pick (tbl, id, kind)
            select %1$L, t.id, %2$L
            from public.%1$I as t
            where t.id in (
                    select sandbox.rnd_int(g, %3$s, %4$s, 1, %5$s)
                    from generate_series(1, %6$s * 3 + 20) as g
                )
                and t.id <= %5$s
                and not exists (
                    select from pg_temp.act_pick as p where p.tbl = %1$L and p.id = t.id
                )
                and (%7$s)
            order by %8$s, sandbox.rnd(t.id, %3$s, %4$s), t.id
            limit %6$s
            $sql$,
            table_name, kind, salt, batch_seed, max_id, n, condition, prefer
        );
        get diagnostics picked = row_count;
    end if;
    if picked < n then
        execute format(
            $sql$
            insert into pg_temp.act_pick (tbl, id, kind)
            select %1$L, t.id, %2$L
            from public.%1$I as t
            where t.id <= %5$s
                and not exists (
                    select from pg_temp.act_pick as p where p.tbl = %1$L and p.id = t.id
                )
                and (%7$s)
            order by %8$s, sandbox.rnd(t.id, %3$s, %4$s), t.id
            limit %6$s
            $sql$,
            table_name, kind, salt, batch_seed, max_id, n - picked, condition, prefer
        );
        get diagnostics more = row_count;
        picked := picked + more;
    end if;
    return picked;
end
$$;

-- ============================================================================================
-- The simulation
-- ============================================================================================

create or replace function sandbox.simulate_activity(days integer, seed bigint)
returns integer
language plpgsql
set timezone to 'UTC'
set datestyle to 'ISO, YMD'
set client_min_messages to warning
set search_path to pg_catalog, public
as $$
#variable_conflict use_column
declare
    v_batch integer;
    t0 timestamptz;
    t1 timestamptz;
    bs bigint;          -- the batch's seed: every hash below uses it
    n integer;
    base_id bigint;
    -- row counts and highest ids before the batch
    c_office bigint; mx_office bigint;
    c_user bigint; mx_user bigint;
    c_group_row bigint; mx_group_row bigint;
    c_setting bigint; mx_setting bigint;
    c_office_doctor bigint; mx_office_doctor bigint;
    c_patient bigint; mx_patient bigint;
    c_product bigint; mx_product bigint;
    c_jaw bigint; mx_jaw bigint;
    c_instruction bigint; mx_instruction bigint;
    c_record bigint; mx_record bigint;
    c_file bigint; mx_file bigint;
    c_attachment bigint; mx_attachment bigint;
    c_state bigint; mx_state bigint;
    c_payment bigint; mx_payment bigint;
    c_notification bigint; mx_notification bigint;
    c_doctor_user bigint;
    ct_patient integer;
    ct_user integer;
    ct_instruction integer;
    n_doctor_new integer;
    n_patient_new integer;
    n_instruction_new integer;
begin
    if days is null or days < 1 then
        raise exception 'simulate_activity: days must be >= 1, not %', days;
    end if;

    -- Bookkeeping tables (kept across batches) --------------------------------------------
    create table if not exists sandbox.activity_log (
        id bigserial primary key,
        batch integer not null,
        happened_at timestamptz not null,
        table_name text not null,
        legacy_id bigint,
        kind text not null check (kind in (
            'insert', 'update', 'update_untouched', 'update_same', 'delete', 'reinsert', 'schema'
        )),
        detail text
    );
    create index if not exists activity_log_batch_table_idx
    on sandbox.activity_log (batch, table_name, legacy_id);
    create table if not exists sandbox.meta (key text primary key, value text not null);

    select coalesce(max(batch), 0) + 1 into v_batch from sandbox.activity_log;
    select coalesce(
        (select value::timestamptz from sandbox.meta where key = 'activity_clock'),
        timestamptz '2025-11-01 00:00:00+00'
    ) into t0;
    t1 := t0 + make_interval(days => days);
    insert into sandbox.meta (key, value) values ('activity_clock', t1::text)
    on conflict (key) do update set value = excluded.value;
    bs := seed * 10007 + v_batch;

    drop table if exists pg_temp.act_pick;
    create temp table act_pick (
        tbl text not null,
        id bigint not null,
        kind text not null,
        primary key (tbl, id)
    );

    -- Volumes before the batch ------------------------------------------------------------
    select count(*), coalesce(max(id), 0) into c_office, mx_office from public.dispatch_office;
    select count(*), coalesce(max(id), 0) into c_user, mx_user from public.auth_user;
    select count(*), coalesce(max(id), 0) into c_group_row, mx_group_row
    from public.auth_user_groups;
    select count(*), coalesce(max(id), 0) into c_setting, mx_setting
    from public.dispatch_doctorsetting;
    select count(*), coalesce(max(id), 0) into c_office_doctor, mx_office_doctor
    from public.dispatch_office_doctors;
    select count(*), coalesce(max(id), 0) into c_patient, mx_patient from public.dispatch_patient;
    select count(*), coalesce(max(id), 0) into c_product, mx_product from public.dispatch_product;
    select count(*), coalesce(max(id), 0) into c_jaw, mx_jaw from public.dispatch_jaw;
    select count(*), coalesce(max(id), 0) into c_instruction, mx_instruction
    from public.dispatch_instruction;
    select count(*), coalesce(max(id), 0) into c_record, mx_record from public.dispatch_record;
    select count(*), coalesce(max(id), 0) into c_file, mx_file from public.dispatch_file;
    select count(*), coalesce(max(id), 0) into c_attachment, mx_attachment
    from public.dispatch_record_attachments;
    select count(*), coalesce(max(id), 0) into c_state, mx_state from public.dispatch_state;
    select count(*), coalesce(max(id), 0) into c_payment, mx_payment from public.dispatch_payment;
    select count(*), coalesce(max(id), 0) into c_notification, mx_notification
    from public.dispatch_notification;
    select count(distinct user_id) into c_doctor_user
    from public.auth_user_groups where group_id = 2;
    select id into ct_patient from public.django_content_type
    where app_label = 'dispatch' and model = 'patient';
    select id into ct_user from public.django_content_type
    where app_label = 'auth' and model = 'user';
    select id into ct_instruction from public.django_content_type
    where app_label = 'dispatch' and model = 'instruction';

    -- ==========================================================================================
    -- A. Schema: a new column in dispatch_office (the first batch)
    -- ==========================================================================================
    if not exists (
        select from pg_attribute
        where attrelid = 'public.dispatch_office'::regclass
            and attname = 'email'
            and not attisdropped
    ) then
        alter table public.dispatch_office add column email varchar(254) null;
        insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
        values (v_batch, t0, 'dispatch_office', null, 'schema', 'add column email');
    end if;

    -- ==========================================================================================
    -- B. Changes to rows that existed before the batch
    -- ==========================================================================================

    -- dispatch_office ------------------------------------------------------------------------
    -- Deletes prefer offices nothing points at; otherwise Django's SET_NULL / CASCADE follow:
    -- patients and payments lose the office, the office's doctor links go.
    perform sandbox.act_pick(
        'dispatch_office', 'delete', sandbox.act_n(c_office, 0.0005, days, 1), 101, bs, mx_office,
        'true',
        '(exists (select from public.dispatch_patient as x where x.office_id = t.id))::int'
        ' + (exists (select from public.dispatch_payment as x where x.office_id = t.id))::int'
        ' + (exists (select from public.dispatch_office_doctors as x'
        ' where x.office_id = t.id))::int'
    );
    insert into pg_temp.act_pick (tbl, id, kind)
    select 'dispatch_patient', x.id, 'office_cascade'
    from public.dispatch_patient as x
    inner join pg_temp.act_pick as p
        on p.tbl = 'dispatch_office' and p.kind = 'delete' and p.id = x.office_id
    where x.id <= mx_patient
    on conflict do nothing;
    with changed as (
        update public.dispatch_patient as t
        set office_id = null
        from pg_temp.act_pick as p, pg_temp.act_pick as o
        where p.tbl = 'dispatch_patient' and p.kind = 'office_cascade' and p.id = t.id
            and o.tbl = 'dispatch_office' and o.kind = 'delete' and o.id = t.office_id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 102, bs, t0, t1), 'dispatch_patient', id,
        'update_untouched', 'office_id set null (office deleted)'
    from changed;
    insert into pg_temp.act_pick (tbl, id, kind)
    select 'dispatch_payment', x.id, 'office_cascade'
    from public.dispatch_payment as x
    inner join pg_temp.act_pick as p
        on p.tbl = 'dispatch_office' and p.kind = 'delete' and p.id = x.office_id
    where x.id <= mx_payment
    on conflict do nothing;
    with changed as (
        update public.dispatch_payment as t
        set office_id = null
        from pg_temp.act_pick as p, pg_temp.act_pick as o
        where p.tbl = 'dispatch_payment' and p.kind = 'office_cascade' and p.id = t.id
            and o.tbl = 'dispatch_office' and o.kind = 'delete' and o.id = t.office_id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 103, bs, t0, t1), 'dispatch_payment', id,
        'update_untouched', 'office_id set null (office deleted)'
    from changed;
    insert into pg_temp.act_pick (tbl, id, kind)
    select 'dispatch_office_doctors', x.id, 'office_cascade'
    from public.dispatch_office_doctors as x
    inner join pg_temp.act_pick as p
        on p.tbl = 'dispatch_office' and p.kind = 'delete' and p.id = x.office_id
    on conflict do nothing;
    with changed as (
        delete from public.dispatch_office_doctors as t
        using pg_temp.act_pick as p, pg_temp.act_pick as o
        where p.tbl = 'dispatch_office_doctors' and p.kind = 'office_cascade' and p.id = t.id
            and o.tbl = 'dispatch_office' and o.kind = 'delete' and o.id = t.office_id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 104, bs, t0, t1), 'dispatch_office_doctors', id,
        'delete', 'office deleted'
    from changed;
    with changed as (
        delete from public.dispatch_office as t
        using pg_temp.act_pick as p
        where p.tbl = 'dispatch_office' and p.kind = 'delete' and p.id = t.id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 105, bs, t0, t1), 'dispatch_office', id, 'delete', null
    from changed;

    -- Real changes (no timestamps in the table): name, phone, valid, address.
    perform sandbox.act_pick(
        'dispatch_office', 'update_untouched', sandbox.act_n(c_office, 0.004, days, 2), 106, bs,
        mx_office
    );
    with changed as (
        update public.dispatch_office as t
        set name = case when v = 0 then btrim(t.name) || ' Orthodontics' else t.name end,
            phone = case when v = 1 then '+1 555 01' || lpad((t.id % 100)::text, 2, '0')
                || ' ext ' || v_batch else t.phone end,
            valid = case when v = 2 then not t.valid else t.valid end,
            address = case
                when v = 3 then ((t.id * 7 + v_batch * 13) % 900 + 10) || ' ' || sandbox.pick(
                    t.id, 108, bs,
                    array['Oak Ave', 'Sakura-dori 2-1', 'MG Road', 'Sukhumvit Soi 11']
                )
                else t.address
            end
        from (
            select p.id as pid, floor(sandbox.rnd(p.id, 107, bs) * 4)::integer as v
            from pg_temp.act_pick as p
            where p.tbl = 'dispatch_office' and p.kind = 'update_untouched'
        ) as pv
        where pv.pid = t.id
        returning t.id, pv.v
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 109, bs, t0, t1), 'dispatch_office', id,
        'update_untouched', (array['name', 'phone', 'valid', 'address'])[v + 1]
    from changed;

    -- The new email column, filled for some offices from the first batch on.
    perform sandbox.act_pick(
        'dispatch_office', 'email', sandbox.act_n(c_office, 0.01, days, 2), 110, bs,
        mx_office, 't.email is null'
    );
    with changed as (
        update public.dispatch_office as t
        set email = case
            when sandbox.rnd(t.id, 111, bs) < 0.05 then 'Info@' else 'info@' end
            || coalesce(nullif(regexp_replace(lower(t.name), '[^a-z0-9]', '', 'g'), ''), 'office')
            || t.id || '.' || sandbox.pick(t.id, 112, bs, array['com', 'jp', 'in', 'co.th'])
        from pg_temp.act_pick as p
        where p.tbl = 'dispatch_office' and p.kind = 'email' and p.id = t.id
            and t.email is null
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 113, bs, t0, t1), 'dispatch_office', id,
        'update_untouched', 'email'
    from changed;

    perform sandbox.act_pick(
        'dispatch_office', 'update_same', sandbox.act_n(c_office, 0.001, days, 1), 114, bs,
        mx_office
    );
    with changed as (
        update public.dispatch_office as t
        set name = t.name, valid = t.valid
        from pg_temp.act_pick as p
        where p.tbl = 'dispatch_office' and p.kind = 'update_same' and p.id = t.id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 115, bs, t0, t1), 'dispatch_office', id,
        'update_same', null
    from changed;

    perform sandbox.act_pick(
        'dispatch_office', 'reinsert', sandbox.act_n(c_office, 0.0005, days, 1), 116, bs,
        mx_office
    );
    with removed as (
        delete from public.dispatch_office as t
        using pg_temp.act_pick as p
        where p.tbl = 'dispatch_office' and p.kind = 'reinsert' and p.id = t.id
        returning t.*
    ),
    changed as (
        insert into public.dispatch_office (
            id, name, address, apt, city, state, zip, phone, tax_rate, valid, sq_customer_id,
            emails, country, email
        )
        select id, name, address || ', Suite ' || (100 + id % 400), apt, city, state, zip,
            phone, tax_rate, valid, sq_customer_id, not emails, country, email
        from removed
        returning id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 117, bs, t0, t1), 'dispatch_office', id, 'reinsert',
        'address, emails'
    from changed;

    -- dispatch_notification --------------------------------------------------------------------
    perform sandbox.act_pick(
        'dispatch_notification', 'delete', sandbox.act_n(c_notification, 0.0005, days, 2), 201,
        bs, mx_notification
    );
    with changed as (
        delete from public.dispatch_notification as t
        using pg_temp.act_pick as p
        where p.tbl = 'dispatch_notification' and p.kind = 'delete' and p.id = t.id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 202, bs, t0, t1), 'dispatch_notification', id,
        'delete', null
    from changed;

    -- Read, sent later, or context edited.
    perform sandbox.act_pick(
        'dispatch_notification', 'update_untouched', sandbox.act_n(c_notification, 0.003, days, 5),
        203, bs, mx_notification
    );
    with picked as (
        select p.id as pid,
            case
                when sandbox.rnd(p.id, 204, bs) < 0.70 then 'read'
                when sandbox.rnd(p.id, 204, bs) < 0.95 and x.sent is not true then 'sent'
                when sandbox.rnd(p.id, 204, bs) < 0.95 then 'read'
                else 'template_context'
            end as v
        from pg_temp.act_pick as p
        inner join public.dispatch_notification as x on x.id = p.id
        where p.tbl = 'dispatch_notification' and p.kind = 'update_untouched'
    ),
    changed as (
        update public.dispatch_notification as t
        set read = case when v = 'read' then not t.read else t.read end,
            sent = case when v = 'sent' then true else t.sent end,
            template_context = case
                when v <> 'template_context' then t.template_context
                when btrim(t.template_context) ~ '^\{.*[^{[:space:]].*\}$'
                    then left(rtrim(t.template_context), -1) || ', "resent": true}'
                else '{"resent": ' || v_batch || '}'
            end
        from picked
        where picked.pid = t.id
        returning t.id, v as detail
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 205, bs, t0, t1), 'dispatch_notification', id,
        'update_untouched', detail
    from changed;

    perform sandbox.act_pick(
        'dispatch_notification', 'update_same', sandbox.act_n(c_notification, 0.0005, days, 2),
        206, bs, mx_notification
    );
    with changed as (
        update public.dispatch_notification as t
        set read = t.read, sent = t.sent
        from pg_temp.act_pick as p
        where p.tbl = 'dispatch_notification' and p.kind = 'update_same' and p.id = t.id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 207, bs, t0, t1), 'dispatch_notification', id,
        'update_same', null
    from changed;

    perform sandbox.act_pick(
        'dispatch_notification', 'reinsert', sandbox.act_n(c_notification, 0.0001, days, 1), 208,
        bs, mx_notification
    );
    with removed as (
        delete from public.dispatch_notification as t
        using pg_temp.act_pick as p
        where p.tbl = 'dispatch_notification' and p.kind = 'reinsert' and p.id = t.id
        returning t.*
    ),
    changed as (
        insert into public.dispatch_notification (
            id, created_at, sender, template_name, template_context, read, item_id, item_type_id,
            recipient_id, sent, send
        )
        select id, created_at, sender, template_name, template_context, not read, item_id,
            item_type_id, recipient_id, true, true
        from removed
        returning id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 209, bs, t0, t1), 'dispatch_notification', id,
        'reinsert', 'read, sent, send'
    from changed;

    -- dispatch_payment -------------------------------------------------------------------------
    perform sandbox.act_pick(
        'dispatch_payment', 'delete', sandbox.act_n(c_payment, 0.0005, days, 1), 301, bs,
        mx_payment
    );
    with changed as (
        delete from public.dispatch_payment as t
        using pg_temp.act_pick as p
        where p.tbl = 'dispatch_payment' and p.kind = 'delete' and p.id = t.id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 302, bs, t0, t1), 'dispatch_payment', id, 'delete', null
    from changed;

    perform sandbox.act_pick(
        'dispatch_payment', 'update_untouched', sandbox.act_n(c_payment, 0.005, days, 2), 303, bs,
        mx_payment
    );
    with picked as (
        select p.id as pid, floor(sandbox.rnd(p.id, 304, bs) * 4)::integer as v,
            sandbox.rnd_ts(p.id, 305, bs, t0, t1) as h
        from pg_temp.act_pick as p
        where p.tbl = 'dispatch_payment' and p.kind = 'update_untouched'
    ),
    changed as (
        update public.dispatch_payment as t
        set paid = case when v = 0 then not t.paid else t.paid end,
            made_at = case when v = 0 and not t.paid then h else t.made_at end,
            canceled = case when v = 1 then not t.canceled else t.canceled end,
            total_price = case when v = 2 then t.total_price + 50 else t.total_price end,
            paid_price = case when v = 2 then t.paid_price + 50 else t.paid_price end,
            netsuite = case when v = 3 then not t.netsuite else t.netsuite end
        from picked
        where picked.pid = t.id
        returning t.id, h,
            (array['paid, made_at', 'canceled', 'total_price, paid_price', 'netsuite'])[v + 1]
                as detail
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, h, 'dispatch_payment', id, 'update_untouched', detail
    from changed;

    perform sandbox.act_pick(
        'dispatch_payment', 'update_same', sandbox.act_n(c_payment, 0.0005, days, 1), 306, bs,
        mx_payment
    );
    with changed as (
        update public.dispatch_payment as t
        set paid = t.paid, total_price = t.total_price
        from pg_temp.act_pick as p
        where p.tbl = 'dispatch_payment' and p.kind = 'update_same' and p.id = t.id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 307, bs, t0, t1), 'dispatch_payment', id,
        'update_same', null
    from changed;

    perform sandbox.act_pick(
        'dispatch_payment', 'reinsert', sandbox.act_n(c_payment, 0.0002, days, 1), 308, bs,
        mx_payment
    );
    with removed as (
        delete from public.dispatch_payment as t
        using pg_temp.act_pick as p
        where p.tbl = 'dispatch_payment' and p.kind = 'reinsert' and p.id = t.id
        returning t.*
    ),
    changed as (
        insert into public.dispatch_payment (
            id, made_at, free, tax_rate, tax_value, paid_price, used_credit, custom_price,
            subtotal_price, additional_price, total_price, instruction_id, canceled, paid,
            doctor_id, office_id, installments, netsuite
        )
        select id, made_at, free, tax_rate, tax_value, paid_price, used_credit, custom_price,
            subtotal_price, additional_price + 25, total_price + 25, instruction_id, canceled,
            paid, doctor_id, office_id, installments, netsuite
        from removed
        returning id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 309, bs, t0, t1), 'dispatch_payment', id, 'reinsert',
        'additional_price, total_price'
    from changed;

    -- dispatch_state -----------------------------------------------------------------------------
    perform sandbox.act_pick(
        'dispatch_state', 'delete', sandbox.act_n(c_state, 0.0005, days, 1), 401, bs, mx_state
    );
    with changed as (
        delete from public.dispatch_state as t
        using pg_temp.act_pick as p
        where p.tbl = 'dispatch_state' and p.kind = 'delete' and p.id = t.id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 402, bs, t0, t1), 'dispatch_state', id, 'delete', null
    from changed;

    perform sandbox.act_pick(
        'dispatch_state', 'update_untouched', sandbox.act_n(c_state, 0.005, days, 2), 403, bs,
        mx_state
    );
    with changed as (
        update public.dispatch_state as t
        set "on" = case when sandbox.rnd(t.id, 404, bs) < 0.7 then not t."on" else t."on" end,
            status = case
                when sandbox.rnd(t.id, 404, bs) < 0.7 then t.status
                when t.status = 11 then 12
                else 11
            end
        from pg_temp.act_pick as p
        where p.tbl = 'dispatch_state' and p.kind = 'update_untouched' and p.id = t.id
        returning t.id, case when sandbox.rnd(t.id, 404, bs) < 0.7 then 'on' else 'status' end
            as detail
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 405, bs, t0, t1), 'dispatch_state', id,
        'update_untouched', detail
    from changed;

    perform sandbox.act_pick(
        'dispatch_state', 'update_same', sandbox.act_n(c_state, 0.0005, days, 1), 406, bs,
        mx_state
    );
    with changed as (
        update public.dispatch_state as t
        set "on" = t."on"
        from pg_temp.act_pick as p
        where p.tbl = 'dispatch_state' and p.kind = 'update_same' and p.id = t.id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 407, bs, t0, t1), 'dispatch_state', id,
        'update_same', null
    from changed;

    perform sandbox.act_pick(
        'dispatch_state', 'reinsert', sandbox.act_n(c_state, 0.0002, days, 1), 408, bs, mx_state
    );
    with removed as (
        delete from public.dispatch_state as t
        using pg_temp.act_pick as p
        where p.tbl = 'dispatch_state' and p.kind = 'reinsert' and p.id = t.id
        returning t.*
    ),
    changed as (
        insert into public.dispatch_state (id, status, "on", changed_at, actor_id, instruction_id)
        select id, case when status = 11 then 12 else 11 end, "on", changed_at, actor_id,
            instruction_id
        from removed
        returning id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 409, bs, t0, t1), 'dispatch_state', id, 'reinsert',
        'status'
    from changed;

    -- dispatch_record_attachments --------------------------------------------------------------
    perform sandbox.act_pick(
        'dispatch_record_attachments', 'delete', sandbox.act_n(c_attachment, 0.01, days, 1), 501,
        bs, mx_attachment
    );
    with changed as (
        delete from public.dispatch_record_attachments as t
        using pg_temp.act_pick as p
        where p.tbl = 'dispatch_record_attachments' and p.kind = 'delete' and p.id = t.id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 502, bs, t0, t1), 'dispatch_record_attachments', id,
        'delete', null
    from changed;

    perform sandbox.act_pick(
        'dispatch_record_attachments', 'update_same', sandbox.act_n(c_attachment, 0.005, days, 1),
        503, bs, mx_attachment
    );
    with changed as (
        update public.dispatch_record_attachments as t
        set file_id = t.file_id
        from pg_temp.act_pick as p
        where p.tbl = 'dispatch_record_attachments' and p.kind = 'update_same' and p.id = t.id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 504, bs, t0, t1), 'dispatch_record_attachments', id,
        'update_same', null
    from changed;

    -- dispatch_file ------------------------------------------------------------------------------
    perform sandbox.act_pick(
        'dispatch_file', 'delete', sandbox.act_n(c_file, 0.0005, days, 2), 601, bs, mx_file,
        'not exists (select from public.dispatch_record_attachments as x where x.file_id = t.id)'
    );
    with changed as (
        delete from public.dispatch_file as t
        using pg_temp.act_pick as p
        where p.tbl = 'dispatch_file' and p.kind = 'delete' and p.id = t.id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 602, bs, t0, t1), 'dispatch_file', id, 'delete', null
    from changed;

    perform sandbox.act_pick(
        'dispatch_file', 'update_untouched', sandbox.act_n(c_file, 0.003, days, 3), 603, bs,
        mx_file
    );
    with picked as (
        select p.id as pid, floor(sandbox.rnd(p.id, 604, bs) * 4)::integer as v
        from pg_temp.act_pick as p
        where p.tbl = 'dispatch_file' and p.kind = 'update_untouched'
    ),
    changed as (
        update public.dispatch_file as t
        set status = case when v = 0 then t.status + 1 else t.status end,
            name = case
                when v = 1 then regexp_replace(t.name, '(\.[^./]*)?$', '_v2\1')
                else t.name
            end,
            description = case
                when v = 2 then coalesce(t.description || ' ', '') || '(reviewed)'
                else t.description
            end,
            parameters = case
                when v = 3 then '{"revision": ' || v_batch || ', "source": "activity"}'
                else t.parameters
            end
        from picked
        where picked.pid = t.id
        returning t.id, (array['status', 'name', 'description', 'parameters'])[v + 1] as detail
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 605, bs, t0, t1), 'dispatch_file', id,
        'update_untouched', detail
    from changed;

    perform sandbox.act_pick(
        'dispatch_file', 'update_same', sandbox.act_n(c_file, 0.0005, days, 2), 606, bs, mx_file
    );
    with changed as (
        update public.dispatch_file as t
        set status = t.status, name = t.name
        from pg_temp.act_pick as p
        where p.tbl = 'dispatch_file' and p.kind = 'update_same' and p.id = t.id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 607, bs, t0, t1), 'dispatch_file', id,
        'update_same', null
    from changed;

    perform sandbox.act_pick(
        'dispatch_file', 'reinsert', sandbox.act_n(c_file, 0.0002, days, 1), 608, bs, mx_file
    );
    with removed as (
        delete from public.dispatch_file as t
        using pg_temp.act_pick as p
        where p.tbl = 'dispatch_file' and p.kind = 'reinsert' and p.id = t.id
        returning t.*
    ),
    changed as (
        insert into public.dispatch_file (
            id, uid, name, ext, size, type, instruction_id, created_at, description, product_id,
            parameters, record_id, status
        )
        select id, md5(bs || ':reupload:' || id), name, ext, size + 1024, type, instruction_id,
            created_at, description, product_id, parameters, record_id, status
        from removed
        returning id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 609, bs, t0, t1), 'dispatch_file', id, 'reinsert',
        'uid, size'
    from changed;

    -- dispatch_record ----------------------------------------------------------------------------
    perform sandbox.act_pick(
        'dispatch_record', 'delete', sandbox.act_n(c_record, 0.0005, days, 1), 701, bs, mx_record,
        'not exists (select from public.dispatch_record_attachments as x where x.record_id = t.id)'
    );
    with changed as (
        delete from public.dispatch_record as t
        using pg_temp.act_pick as p
        where p.tbl = 'dispatch_record' and p.kind = 'delete' and p.id = t.id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 702, bs, t0, t1), 'dispatch_record', id, 'delete', null
    from changed;

    perform sandbox.act_pick(
        'dispatch_record', 'update_untouched', sandbox.act_n(c_record, 0.003, days, 2), 703, bs,
        mx_record
    );
    with changed as (
        update public.dispatch_record as t
        set text = case
                when sandbox.rnd(t.id, 704, bs) < 0.6 then t.text || E'\n(edited)'
                else t.text
            end,
            public = case
                when sandbox.rnd(t.id, 704, bs) < 0.6 then t.public
                else not coalesce(t.public, false)
            end
        from pg_temp.act_pick as p
        where p.tbl = 'dispatch_record' and p.kind = 'update_untouched' and p.id = t.id
        returning t.id, case when sandbox.rnd(t.id, 704, bs) < 0.6 then 'text' else 'public' end
            as detail
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 705, bs, t0, t1), 'dispatch_record', id,
        'update_untouched', detail
    from changed;

    perform sandbox.act_pick(
        'dispatch_record', 'update_same', sandbox.act_n(c_record, 0.0005, days, 2), 706, bs,
        mx_record
    );
    with changed as (
        update public.dispatch_record as t
        set text = t.text
        from pg_temp.act_pick as p
        where p.tbl = 'dispatch_record' and p.kind = 'update_same' and p.id = t.id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 707, bs, t0, t1), 'dispatch_record', id,
        'update_same', null
    from changed;

    perform sandbox.act_pick(
        'dispatch_record', 'reinsert', sandbox.act_n(c_record, 0.0002, days, 1), 708, bs,
        mx_record
    );
    with removed as (
        delete from public.dispatch_record as t
        using pg_temp.act_pick as p
        where p.tbl = 'dispatch_record' and p.kind = 'reinsert' and p.id = t.id
        returning t.*
    ),
    changed as (
        insert into public.dispatch_record (
            id, target_type_id, target_id, type, created_at, text, author_id, group_id, public
        )
        select id, target_type_id, target_id, type, created_at,
            text || E'\n(restored)', author_id, group_id, public
        from removed
        returning id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 709, bs, t0, t1), 'dispatch_record', id, 'reinsert',
        'text'
    from changed;

    -- dispatch_instruction -----------------------------------------------------------------------
    -- Hard deletes only where no payment points at the instruction (a declared FK); its files,
    -- states and jaws stay behind.
    perform sandbox.act_pick(
        'dispatch_instruction', 'delete', sandbox.act_n(c_instruction, 0.0003, days, 1), 801, bs,
        mx_instruction,
        'not exists (select from public.dispatch_payment as x where x.instruction_id = t.id)'
    );
    with changed as (
        delete from public.dispatch_instruction as t
        using pg_temp.act_pick as p
        where p.tbl = 'dispatch_instruction' and p.kind = 'delete' and p.id = t.id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 802, bs, t0, t1), 'dispatch_instruction', id,
        'delete', null
    from changed;

    -- Updates through the app (updated_at moves): status progression, soft delete, notes; a
    -- fifth of them replace a jaw (applied in part C, with the new jaw).
    perform sandbox.act_pick(
        'dispatch_instruction', 'update', sandbox.act_n(c_instruction, 0.008, days, 3), 803, bs,
        mx_instruction
    );
    with picked as (
        select p.id as pid,
            case
                when r < 0.6 or (r < 0.7 and x.deleted) then 'status'
                when r < 0.7 then 'deleted'
                else 'notes'
            end as v,
            sandbox.rnd_ts(p.id, 805, bs, t0, t1) as h
        from pg_temp.act_pick as p
        inner join public.dispatch_instruction as x on x.id = p.id
        cross join lateral (select sandbox.rnd(p.id, 804, bs) as r) as rr
        where p.tbl = 'dispatch_instruction' and p.kind = 'update'
            and rr.r < 0.8
    ),
    changed as (
        update public.dispatch_instruction as t
        set status = case
                when v = 'status' then
                    case when t.status between 0 and 6 then t.status + 1 else 1 end
                else t.status
            end,
            deleted = case when v = 'deleted' then true else t.deleted end,
            notes = case
                when v = 'notes' then coalesce(t.notes || ' ', '')
                    || 'Updated on ' || to_char(h, 'YYYY-MM-DD') || '.'
                else t.notes
            end,
            updated_at = h
        from picked
        where picked.pid = t.id
        returning t.id, h, v || ', updated_at' as detail
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, h, 'dispatch_instruction', id, 'update', detail
    from changed;

    perform sandbox.act_pick(
        'dispatch_instruction', 'update_untouched', sandbox.act_n(c_instruction, 0.002, days, 2),
        806, bs, mx_instruction
    );
    with picked as (
        select p.id as pid, floor(sandbox.rnd(p.id, 807, bs) * 3)::integer as v
        from pg_temp.act_pick as p
        where p.tbl = 'dispatch_instruction' and p.kind = 'update_untouched'
    ),
    changed as (
        update public.dispatch_instruction as t
        set price = case when v = 0 then t.price + 100 else t.price end,
            scanner_notes = case
                when v = 1 then t.scanner_notes || ' (rescanned)'
                else t.scanner_notes
            end,
            exports = case
                when v = 2 then '{"exported_batch": ' || v_batch || ', "target": "lab"}'
                else t.exports
            end
        from picked
        where picked.pid = t.id
        returning t.id, (array['price', 'scanner_notes', 'exports'])[v + 1] as detail
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 808, bs, t0, t1), 'dispatch_instruction', id,
        'update_untouched', detail
    from changed;

    perform sandbox.act_pick(
        'dispatch_instruction', 'update_same', sandbox.act_n(c_instruction, 0.0005, days, 2), 809,
        bs, mx_instruction
    );
    with changed as (
        update public.dispatch_instruction as t
        set status = t.status, updated_at = t.updated_at
        from pg_temp.act_pick as p
        where p.tbl = 'dispatch_instruction' and p.kind = 'update_same' and p.id = t.id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 810, bs, t0, t1), 'dispatch_instruction', id,
        'update_same', null
    from changed;

    perform sandbox.act_pick(
        'dispatch_instruction', 'reinsert', sandbox.act_n(c_instruction, 0.0002, days, 1), 811,
        bs, mx_instruction
    );
    with removed as (
        delete from public.dispatch_instruction as t
        using pg_temp.act_pick as p
        where p.tbl = 'dispatch_instruction' and p.kind = 'reinsert' and p.id = t.id
        returning t.*
    ),
    changed as (
        insert into public.dispatch_instruction (
            id, patient_id, submitted_at, updated_at, deleted, status, cbct, model, scanner,
            objective, conditions, "order", lower_jaw_id, upper_jaw_id, comprehensive,
            accept_extraction, scanner_notes, notes, complaint, suffix, course_id, exports, price
        )
        select id, patient_id, submitted_at, updated_at, deleted,
            case when status between 0 and 6 then status + 1 else 1 end, cbct, model, scanner,
            objective, conditions, "order", lower_jaw_id, upper_jaw_id, comprehensive,
            accept_extraction, scanner_notes, notes, complaint || ' (resubmitted)', suffix,
            course_id, exports, price
        from removed
        returning id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 812, bs, t0, t1), 'dispatch_instruction', id,
        'reinsert', 'status, complaint (updated_at unchanged)'
    from changed;

    -- dispatch_jaw -------------------------------------------------------------------------------
    -- Deletes only of jaws no instruction points at (declared FKs), e.g. those of an
    -- instruction deleted above.
    perform sandbox.act_pick(
        'dispatch_jaw', 'delete', sandbox.act_n(c_jaw, 0.0005, days, 1), 901, bs, mx_jaw,
        'not exists (select from public.dispatch_instruction as x where x.upper_jaw_id = t.id)'
        ' and not exists (select from public.dispatch_instruction as x'
        ' where x.lower_jaw_id = t.id)'
    );
    with changed as (
        delete from public.dispatch_jaw as t
        using pg_temp.act_pick as p
        where p.tbl = 'dispatch_jaw' and p.kind = 'delete' and p.id = t.id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 902, bs, t0, t1), 'dispatch_jaw', id, 'delete', null
    from changed;

    perform sandbox.act_pick(
        'dispatch_jaw', 'update_untouched', sandbox.act_n(c_jaw, 0.003, days, 2), 903, bs, mx_jaw
    );
    with picked as (
        select p.id as pid, floor(sandbox.rnd(p.id, 904, bs) * 3)::integer as v
        from pg_temp.act_pick as p
        where p.tbl = 'dispatch_jaw' and p.kind = 'update_untouched'
    ),
    changed as (
        update public.dispatch_jaw as t
        set bond_teeth = case
                when v = 0 then case when t.bond_teeth = '' then '17' else t.bond_teeth || ',17' end
                else t.bond_teeth
            end,
            labial = case when v = 1 then not t.labial else t.labial end,
            reason = case when v = 2 then coalesce(t.reason, 0) % 3 + 1 else t.reason end
        from picked
        where picked.pid = t.id
        returning t.id, (array['bond_teeth', 'labial', 'reason'])[v + 1] as detail
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 905, bs, t0, t1), 'dispatch_jaw', id,
        'update_untouched', detail
    from changed;

    perform sandbox.act_pick(
        'dispatch_jaw', 'update_same', sandbox.act_n(c_jaw, 0.0005, days, 2), 906, bs, mx_jaw
    );
    with changed as (
        update public.dispatch_jaw as t
        set labial = t.labial
        from pg_temp.act_pick as p
        where p.tbl = 'dispatch_jaw' and p.kind = 'update_same' and p.id = t.id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 907, bs, t0, t1), 'dispatch_jaw', id, 'update_same', null
    from changed;

    perform sandbox.act_pick(
        'dispatch_jaw', 'reinsert', sandbox.act_n(c_jaw, 0.0002, days, 1), 908, bs, mx_jaw
    );
    with removed as (
        delete from public.dispatch_jaw as t
        using pg_temp.act_pick as p
        where p.tbl = 'dispatch_jaw' and p.kind = 'reinsert' and p.id = t.id
        returning t.*
    ),
    changed as (
        insert into public.dispatch_jaw (id, bond_teeth, extract_teeth, reason, product_id, labial)
        select id, bond_teeth,
            case when extract_teeth = '' then '28' else extract_teeth || ',28' end, reason,
            product_id, labial
        from removed
        returning id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 909, bs, t0, t1), 'dispatch_jaw', id, 'reinsert',
        'extract_teeth'
    from changed;

    -- dispatch_patient ---------------------------------------------------------------------------
    -- Deletes prefer patients with instructions: the instructions stay, orphaned.
    perform sandbox.act_pick(
        'dispatch_patient', 'delete', sandbox.act_n(c_patient, 0.0005, days, 1), 1001, bs,
        mx_patient, 'true',
        '(not exists (select from public.dispatch_instruction as x where x.patient_id = t.id))::int'
    );
    with changed as (
        delete from public.dispatch_patient as t
        using pg_temp.act_pick as p
        where p.tbl = 'dispatch_patient' and p.kind = 'delete' and p.id = t.id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 1002, bs, t0, t1), 'dispatch_patient', id, 'delete', null
    from changed;

    perform sandbox.act_pick(
        'dispatch_patient', 'update', sandbox.act_n(c_patient, 0.005, days, 3), 1003, bs,
        mx_patient
    );
    with picked as (
        select p.id as pid, floor(sandbox.rnd(p.id, 1004, bs) * 3)::integer as v,
            sandbox.rnd_ts(p.id, 1005, bs, t0, t1) as h
        from pg_temp.act_pick as p
        where p.tbl = 'dispatch_patient' and p.kind = 'update'
    ),
    changed as (
        update public.dispatch_patient as t
        set status = case
                when v = 0 then case t.status when 1 then 4 when 4 then 2 when 2 then 1 else 1 end
                when v = 1 then case when t.archived then 1 else 10 end
                else t.status
            end,
            archived = case when v = 1 then not t.archived else t.archived end,
            suspended = case when v = 2 then not t.suspended else t.suspended end,
            updated_at = h
        from picked
        where picked.pid = t.id
        returning t.id, h,
            (array['status, updated_at', 'archived, status, updated_at',
                'suspended, updated_at'])[v + 1] as detail
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, h, 'dispatch_patient', id, 'update', detail
    from changed;

    perform sandbox.act_pick(
        'dispatch_patient', 'update_untouched', sandbox.act_n(c_patient, 0.003, days, 2), 1006, bs,
        mx_patient
    );
    with picked as (
        select p.id as pid, floor(sandbox.rnd(p.id, 1007, bs) * 4)::integer as v,
            coalesce(
                (
                    select o.id from public.dispatch_office as o
                    where o.id >= sandbox.rnd_int(p.id, 1008, bs, 1, greatest(mx_office, 1))
                    order by o.id limit 1
                ),
                (select min(o.id) from public.dispatch_office as o)
            ) as new_office_id
        from pg_temp.act_pick as p
        where p.tbl = 'dispatch_patient' and p.kind = 'update_untouched'
    ),
    changed as (
        update public.dispatch_patient as t
        set office_id = case
                when v = 0 and new_office_id is distinct from t.office_id then new_office_id
                when v = 0 then null
                else t.office_id
            end,
            birthdate = case
                when v = 1 then coalesce(t.birthdate + 365, date '1990-01-01')
                else t.birthdate
            end,
            suffix = case
                when v = 2 then upper(substr(md5(bs || ':suffix:' || t.id), 1, 4))
                else t.suffix
            end,
            schemes = case
                when v = 3 then '{"scheme": "updated", "batch": ' || v_batch || '}'
                else t.schemes
            end
        from picked
        where picked.pid = t.id
        returning t.id, (array['office_id', 'birthdate', 'suffix', 'schemes'])[v + 1] as detail
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 1009, bs, t0, t1), 'dispatch_patient', id,
        'update_untouched', detail
    from changed;

    perform sandbox.act_pick(
        'dispatch_patient', 'update_same', sandbox.act_n(c_patient, 0.0005, days, 2), 1010, bs,
        mx_patient
    );
    with changed as (
        update public.dispatch_patient as t
        set status = t.status, updated_at = t.updated_at
        from pg_temp.act_pick as p
        where p.tbl = 'dispatch_patient' and p.kind = 'update_same' and p.id = t.id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 1011, bs, t0, t1), 'dispatch_patient', id,
        'update_same', null
    from changed;

    -- Re-inserted with another doctor (the doctor of another patient), updated_at unchanged.
    perform sandbox.act_pick(
        'dispatch_patient', 'reinsert', sandbox.act_n(c_patient, 0.0002, days, 1), 1012, bs,
        mx_patient
    );
    with removed as (
        delete from public.dispatch_patient as t
        using pg_temp.act_pick as p
        where p.tbl = 'dispatch_patient' and p.kind = 'reinsert' and p.id = t.id
        returning t.*
    ),
    changed as (
        insert into public.dispatch_patient (
            id, user_id, doctor_id, office_id, birthdate, sex, suffix, archived, suspended,
            status, schemes, submitted_at, updated_at
        )
        select r.id, r.user_id, coalesce(other.doctor_id, r.doctor_id), r.office_id,
            r.birthdate, r.sex, r.suffix, r.archived, r.suspended, r.status, r.schemes,
            r.submitted_at, r.updated_at
        from removed as r
        left join lateral (
            select x.doctor_id from public.dispatch_patient as x
            where x.doctor_id <> r.doctor_id
                and x.id >= sandbox.rnd_int(r.id, 1013, bs, 1, mx_patient)
            order by x.id limit 1
        ) as other on true
        returning id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 1014, bs, t0, t1), 'dispatch_patient', id, 'reinsert',
        'doctor_id (updated_at unchanged)'
    from changed;

    -- dispatch_doctorsetting ---------------------------------------------------------------------
    perform sandbox.act_pick(
        'dispatch_doctorsetting', 'delete', sandbox.act_n(c_setting, 0.0003, days, 1), 1101, bs,
        mx_setting
    );
    with changed as (
        delete from public.dispatch_doctorsetting as t
        using pg_temp.act_pick as p
        where p.tbl = 'dispatch_doctorsetting' and p.kind = 'delete' and p.id = t.id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 1102, bs, t0, t1), 'dispatch_doctorsetting', id,
        'delete', null
    from changed;

    perform sandbox.act_pick(
        'dispatch_doctorsetting', 'update_untouched', sandbox.act_n(c_setting, 0.005, days, 2),
        1103, bs, mx_setting
    );
    with picked as (
        select p.id as pid, floor(sandbox.rnd(p.id, 1104, bs) * 3)::integer as v,
            sandbox.rnd_ts(p.id, 1105, bs, t0, t1) as h
        from pg_temp.act_pick as p
        where p.tbl = 'dispatch_doctorsetting' and p.kind = 'update_untouched'
    ),
    changed as (
        update public.dispatch_doctorsetting as t
        set credit = case when v = 0 then t.credit + 25 else t.credit end,
            eula_agreed_at = case when v = 1 then h else t.eula_agreed_at end,
            promised_payment = case when v = 2 then not t.promised_payment
                else t.promised_payment end
        from picked
        where picked.pid = t.id
        returning t.id, h, (array['credit', 'eula_agreed_at', 'promised_payment'])[v + 1]
            as detail
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, h, 'dispatch_doctorsetting', id, 'update_untouched', detail
    from changed;

    perform sandbox.act_pick(
        'dispatch_doctorsetting', 'update_same', sandbox.act_n(c_setting, 0.0005, days, 1), 1106,
        bs, mx_setting
    );
    with changed as (
        update public.dispatch_doctorsetting as t
        set credit = t.credit
        from pg_temp.act_pick as p
        where p.tbl = 'dispatch_doctorsetting' and p.kind = 'update_same' and p.id = t.id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 1107, bs, t0, t1), 'dispatch_doctorsetting', id,
        'update_same', null
    from changed;

    perform sandbox.act_pick(
        'dispatch_doctorsetting', 'reinsert', sandbox.act_n(c_setting, 0.0002, days, 1), 1108, bs,
        mx_setting
    );
    with removed as (
        delete from public.dispatch_doctorsetting as t
        using pg_temp.act_pick as p
        where p.tbl = 'dispatch_doctorsetting' and p.kind = 'reinsert' and p.id = t.id
        returning t.*
    ),
    changed as (
        insert into public.dispatch_doctorsetting (
            id, user_id, clinical_preferences, sq_customer_id, promised_payment, credit,
            installment_payments, baa_agreed_at, eula_agreed_at, company_account
        )
        select id, user_id, clinical_preferences, sq_customer_id, promised_payment,
            credit + 100, installment_payments + 1, baa_agreed_at, eula_agreed_at,
            company_account
        from removed
        returning id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 1109, bs, t0, t1), 'dispatch_doctorsetting', id,
        'reinsert', 'credit, installment_payments'
    from changed;

    -- dispatch_office_doctors --------------------------------------------------------------------
    perform sandbox.act_pick(
        'dispatch_office_doctors', 'delete', sandbox.act_n(c_office_doctor, 0.002, days, 1), 1201,
        bs, mx_office_doctor
    );
    with changed as (
        delete from public.dispatch_office_doctors as t
        using pg_temp.act_pick as p
        where p.tbl = 'dispatch_office_doctors' and p.kind = 'delete' and p.id = t.id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 1202, bs, t0, t1), 'dispatch_office_doctors', id,
        'delete', null
    from changed;

    -- A doctor moves to another office (one row per doctor, so moves never collide).
    perform sandbox.act_pick(
        'dispatch_office_doctors', 'update_untouched',
        sandbox.act_n(c_office_doctor, 0.002, days, 1), 1203, bs, mx_office_doctor,
        'not exists (select from public.dispatch_office_doctors as y'
        ' where y.user_id = t.user_id and y.id < t.id)'
    );
    perform sandbox.act_pick(
        'dispatch_office_doctors', 'reinsert', sandbox.act_n(c_office_doctor, 0.001, days, 1),
        1204, bs, mx_office_doctor,
        'not exists (select from public.dispatch_office_doctors as y'
        ' where y.user_id = t.user_id and y.id < t.id)'
        ' and not exists (select from pg_temp.act_pick as q'
        ' inner join public.dispatch_office_doctors as z on z.id = q.id'
        ' where q.tbl = ''dispatch_office_doctors'' and z.user_id = t.user_id)'
    );
    drop table if exists pg_temp.act_moves;
    create temp table act_moves as
    select p.id, p.kind, t.user_id, (
            select o.id from public.dispatch_office as o
            where o.id <> t.office_id
                and not exists (
                    select from public.dispatch_office_doctors as y
                    where y.office_id = o.id and y.user_id = t.user_id
                )
            order by sandbox.rnd(o.id, 1205, bs + p.id), o.id
            limit 1
        ) as new_office_id
    from pg_temp.act_pick as p
    inner join public.dispatch_office_doctors as t on t.id = p.id
    where p.tbl = 'dispatch_office_doctors' and p.kind in ('update_untouched', 'reinsert');
    with changed as (
        update public.dispatch_office_doctors as t
        set office_id = m.new_office_id
        from pg_temp.act_moves as m
        where m.id = t.id and m.kind = 'update_untouched' and m.new_office_id is not null
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 1206, bs, t0, t1), 'dispatch_office_doctors', id,
        'update_untouched', 'office_id'
    from changed;
    with removed as (
        delete from public.dispatch_office_doctors as t
        using pg_temp.act_moves as m
        where m.id = t.id and m.kind = 'reinsert' and m.new_office_id is not null
        returning t.*
    ),
    changed as (
        insert into public.dispatch_office_doctors (id, office_id, user_id)
        select r.id, m.new_office_id, r.user_id
        from removed as r
        inner join pg_temp.act_moves as m on m.id = r.id
        returning id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 1207, bs, t0, t1), 'dispatch_office_doctors', id,
        'reinsert', 'office_id'
    from changed;

    perform sandbox.act_pick(
        'dispatch_office_doctors', 'update_same', sandbox.act_n(c_office_doctor, 0.001, days, 1),
        1208, bs, mx_office_doctor
    );
    with changed as (
        update public.dispatch_office_doctors as t
        set office_id = t.office_id
        from pg_temp.act_pick as p
        where p.tbl = 'dispatch_office_doctors' and p.kind = 'update_same' and p.id = t.id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 1209, bs, t0, t1), 'dispatch_office_doctors', id,
        'update_same', null
    from changed;

    -- auth_user ----------------------------------------------------------------------------------
    -- Deletes only of users no declared FK needs (after the patient deletes above, a deleted
    -- patient's login may qualify); Django cascades to their group memberships. Their
    -- notifications stay (no FK), orphaned.
    perform sandbox.act_pick(
        'auth_user', 'delete', sandbox.act_n(c_user, 0.0002, days, 1), 1301, bs, mx_user,
        'not t.is_superuser'
        ' and not exists (select from public.dispatch_patient as x where x.user_id = t.id)'
        ' and not exists (select from public.dispatch_patient as x where x.doctor_id = t.id)'
        ' and not exists (select from public.dispatch_office_doctors as x where x.user_id = t.id)'
        ' and not exists (select from public.dispatch_doctorsetting as x where x.user_id = t.id)'
        ' and not exists (select from public.dispatch_record as x where x.author_id = t.id)'
        ' and not exists (select from public.dispatch_state as x where x.actor_id = t.id)'
        ' and not exists (select from public.dispatch_payment as x where x.doctor_id = t.id)',
        '(exists (select from public.auth_user_groups as g where g.user_id = t.id'
        ' and g.group_id = 1))::int'
    );
    insert into pg_temp.act_pick (tbl, id, kind)
    select 'auth_user_groups', g.id, 'user_cascade'
    from public.auth_user_groups as g
    inner join pg_temp.act_pick as p
        on p.tbl = 'auth_user' and p.kind = 'delete' and p.id = g.user_id
    on conflict do nothing;
    with changed as (
        delete from public.auth_user_groups as t
        using pg_temp.act_pick as p, pg_temp.act_pick as u
        where p.tbl = 'auth_user_groups' and p.kind = 'user_cascade' and p.id = t.id
            and u.tbl = 'auth_user' and u.kind = 'delete' and u.id = t.user_id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 1302, bs, t0, t1), 'auth_user_groups', id, 'delete',
        'user deleted'
    from changed;
    with changed as (
        delete from public.auth_user as t
        using pg_temp.act_pick as p
        where p.tbl = 'auth_user' and p.kind = 'delete' and p.id = t.id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 1303, bs, t0, t1), 'auth_user', id, 'delete', null
    from changed;

    perform sandbox.act_pick(
        'auth_user', 'update_untouched', sandbox.act_n(c_user, 0.005, days, 2), 1304, bs, mx_user
    );
    with picked as (
        select p.id as pid, sandbox.rnd(p.id, 1305, bs) as r,
            sandbox.rnd_ts(p.id, 1306, bs, t0, t1) as h
        from pg_temp.act_pick as p
        where p.tbl = 'auth_user' and p.kind = 'update_untouched'
    ),
    changed as (
        update public.auth_user as t
        set last_login = case when r < 0.5 then h else t.last_login end,
            email = case
                when r >= 0.5 and r < 0.7 then
                    coalesce(
                        nullif(regexp_replace(lower(t.first_name), '[^a-z]', '', 'g'), ''), 'user'
                    ) || '.' || t.id || '_' || v_batch || '@' || sandbox.pick(
                        t.id, 1307, bs, array['gmail.com', 'yahoo.co.jp', 'outlook.com']
                    )
                else t.email
            end,
            first_name = case
                when r >= 0.7 and r < 0.85 then
                    case
                        when btrim(t.first_name) = '' then 'Alex'
                        when t.first_name <> btrim(t.first_name) then btrim(t.first_name)
                        when t.first_name <> initcap(t.first_name) then initcap(t.first_name)
                        when t.first_name <> upper(t.first_name) then upper(t.first_name)
                        else t.first_name || ' ' || chr(65 + (t.id % 26)::integer) || '.'
                    end
                else t.first_name
            end,
            is_active = case when r >= 0.85 then not t.is_active else t.is_active end
        from picked
        where picked.pid = t.id
        returning t.id, h,
            case
                when r < 0.5 then 'last_login'
                when r < 0.7 then 'email'
                when r < 0.85 then 'first_name'
                else 'is_active'
            end as detail
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, h, 'auth_user', id, 'update_untouched', detail
    from changed;

    perform sandbox.act_pick(
        'auth_user', 'update_same', sandbox.act_n(c_user, 0.001, days, 2), 1308, bs, mx_user
    );
    with changed as (
        update public.auth_user as t
        set first_name = t.first_name, last_login = t.last_login
        from pg_temp.act_pick as p
        where p.tbl = 'auth_user' and p.kind = 'update_same' and p.id = t.id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 1309, bs, t0, t1), 'auth_user', id, 'update_same', null
    from changed;

    perform sandbox.act_pick(
        'auth_user', 'reinsert', sandbox.act_n(c_user, 0.0002, days, 1), 1310, bs, mx_user
    );
    with removed as (
        delete from public.auth_user as t
        using pg_temp.act_pick as p
        where p.tbl = 'auth_user' and p.kind = 'reinsert' and p.id = t.id
        returning t.*
    ),
    changed as (
        insert into public.auth_user (
            id, password, last_login, is_superuser, username, first_name, last_name, email,
            is_staff, is_active, date_joined
        )
        select id, password, last_login, is_superuser, username, first_name,
            case when btrim(last_name) = '' then 'Restored' else last_name || '-Sato' end,
            'restored.' || id || '.' || v_batch || '@example.org', is_staff, is_active, date_joined
        from removed
        returning id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 1311, bs, t0, t1), 'auth_user', id, 'reinsert',
        'last_name, email'
    from changed;

    -- auth_user_groups ---------------------------------------------------------------------------
    -- A user in several groups leaves one of them.
    perform sandbox.act_pick(
        'auth_user_groups', 'delete', sandbox.act_n(c_group_row, 0.0003, days, 1), 1401, bs,
        mx_group_row,
        'exists (select from public.auth_user_groups as y where y.user_id = t.user_id'
        ' and y.id <> t.id)'
        ' and not exists (select from pg_temp.act_pick as q inner join public.auth_user_groups'
        ' as z on z.id = q.id where q.tbl = ''auth_user_groups'' and z.user_id = t.user_id)'
    );
    with changed as (
        delete from public.auth_user_groups as t
        using pg_temp.act_pick as p
        where p.tbl = 'auth_user_groups' and p.kind = 'delete' and p.id = t.id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 1402, bs, t0, t1), 'auth_user_groups', id, 'delete',
        'left group'
    from changed;

    -- A doctor is promoted to master (update in place, or delete + insert with the same id).
    perform sandbox.act_pick(
        'auth_user_groups', 'update_untouched', sandbox.act_n(c_group_row, 0.0003, days, 1), 1403,
        bs, mx_group_row,
        't.group_id = 2 and not exists (select from public.auth_user_groups as y'
        ' where y.user_id = t.user_id and y.group_id = 5)'
    );
    perform sandbox.act_pick(
        'auth_user_groups', 'reinsert', sandbox.act_n(c_group_row, 0.0001, days, 1), 1404,
        bs, mx_group_row,
        't.group_id = 2 and not exists (select from public.auth_user_groups as y'
        ' where y.user_id = t.user_id and y.group_id = 5)'
    );
    with changed as (
        update public.auth_user_groups as t
        set group_id = 5
        from pg_temp.act_pick as p
        where p.tbl = 'auth_user_groups' and p.kind = 'update_untouched' and p.id = t.id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 1405, bs, t0, t1), 'auth_user_groups', id,
        'update_untouched', 'group_id 2 -> 5'
    from changed;
    with removed as (
        delete from public.auth_user_groups as t
        using pg_temp.act_pick as p
        where p.tbl = 'auth_user_groups' and p.kind = 'reinsert' and p.id = t.id
        returning t.*
    ),
    changed as (
        insert into public.auth_user_groups (id, user_id, group_id)
        select id, user_id, 5 from removed
        returning id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 1406, bs, t0, t1), 'auth_user_groups', id, 'reinsert',
        'group_id 2 -> 5'
    from changed;

    perform sandbox.act_pick(
        'auth_user_groups', 'update_same', sandbox.act_n(c_group_row, 0.0003, days, 1), 1407, bs,
        mx_group_row
    );
    with changed as (
        update public.auth_user_groups as t
        set group_id = t.group_id
        from pg_temp.act_pick as p
        where p.tbl = 'auth_user_groups' and p.kind = 'update_same' and p.id = t.id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 1408, bs, t0, t1), 'auth_user_groups', id,
        'update_same', null
    from changed;

    -- dispatch_product (catalogue: descriptions edited now and then) -----------------------------
    perform sandbox.act_pick(
        'dispatch_product', 'update_untouched', 1, 1501, bs, mx_product,
        'not t.deleted'
    );
    with changed as (
        update public.dispatch_product as t
        set description = t.description || ' (rev. ' || v_batch || ')'
        from pg_temp.act_pick as p
        where p.tbl = 'dispatch_product' and p.kind = 'update_untouched' and p.id = t.id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 1502, bs, t0, t1), 'dispatch_product', id,
        'update_untouched', 'description'
    from changed;
    perform sandbox.act_pick('dispatch_product', 'update_same', 1, 1503, bs, mx_product);
    with changed as (
        update public.dispatch_product as t
        set name = t.name
        from pg_temp.act_pick as p
        where p.tbl = 'dispatch_product' and p.kind = 'update_same' and p.id = t.id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 1504, bs, t0, t1), 'dispatch_product', id,
        'update_same', null
    from changed;

    -- ==========================================================================================
    -- C. New rows
    -- ==========================================================================================

    -- New offices ------------------------------------------------------------------------------
    n := sandbox.act_n(c_office, 0.002, days, 1);
    base_id := sandbox.act_reserve('dispatch_office', n);
    with changed as (
        insert into public.dispatch_office (
            id, name, address, apt, city, state, zip, phone, tax_rate, valid, sq_customer_id,
            emails, country, email
        )
        select base_id + g - 1,
            sandbox.pick(g, 1601, bs, array['Bright', 'Family', 'Sakura', 'Harbor', 'Lotus'])
                || ' ' || sandbox.pick(g, 1602, bs, array['Orthodontics', 'Dental', 'Smiles']),
            (100 + g * 7) || ' ' || sandbox.pick(g, 1603, bs, array['Main St', 'Elm St']),
            '', src.city, src.state, src.zip, src.phone, src.tax_rate, true, null, true,
            src.country,
            'contact' || (base_id + g - 1) || '@' || sandbox.pick(
                g, 1604, bs, array['clinic.com', 'dental.jp', 'ortho.in']
            )
        from generate_series(1, n) as g
        cross join lateral (
            select o.city, o.state, o.zip, o.phone, o.tax_rate, o.country
            from public.dispatch_office as o
            where o.id >= sandbox.rnd_int(g, 1605, bs, 1, greatest(mx_office, 1))
            order by o.id limit 1
        ) as src
        order by g
        returning id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 1606, bs, t0, t1), 'dispatch_office', id, 'insert',
        'new office'
    from changed;

    -- New users: a few doctors, more patients (each with a login, a group and a patient row) --
    n_doctor_new := sandbox.act_n(c_doctor_user, 0.003, days, 2);
    n_patient_new := sandbox.act_n(c_patient, 0.004, days, 3);
    base_id := sandbox.act_reserve('auth_user', n_doctor_new + n_patient_new);
    drop table if exists pg_temp.act_new_user;
    create temp table act_new_user as
    select g as ord,
        base_id + g - 1 as id,
        case when g <= n_doctor_new then 'doctor' else 'patient' end as role,
        case when g <= n_doctor_new then g else g - n_doctor_new end as role_ord,
        sandbox.rnd_ts(g, 1701, bs, t0, t1 - interval '1 hour') as joined_at,
        coalesce(fn.first_name, 'Alex') as first_name,
        coalesce(ln.last_name, 'Taylor') as last_name
    from generate_series(1, n_doctor_new + n_patient_new) as g
    left join lateral (
        select btrim(u.first_name) as first_name from public.auth_user as u
        where u.id >= sandbox.rnd_int(g, 1702, bs, 1, greatest(mx_user, 1))
            and btrim(u.first_name) <> ''
        order by u.id limit 1
    ) as fn on true
    left join lateral (
        select btrim(u.last_name) as last_name from public.auth_user as u
        where u.id >= sandbox.rnd_int(g, 1703, bs, 1, greatest(mx_user, 1))
            and btrim(u.last_name) <> ''
        order by u.id limit 1
    ) as ln on true;
    with changed as (
        insert into public.auth_user (
            id, password, last_login, is_superuser, username, first_name, last_name, email,
            is_staff, is_active, date_joined
        )
        select nu.id,
            'pbkdf2_sha256$600000$' || substr(md5(bs || ':salt:' || nu.id), 1, 22) || '$'
                || encode(decode(md5(bs || ':h1:' || nu.id) || md5(bs || ':h2:' || nu.id), 'hex'),
                    'base64'),
            case when sandbox.rnd(nu.id, 1704, bs) < 0.8
                then nu.joined_at + (t1 - nu.joined_at) * sandbox.rnd(nu.id, 1705, bs) end,
            false, e.email, nu.first_name, nu.last_name,
            case when sandbox.rnd(nu.id, 1706, bs) < 0.1 then initcap(e.email) else e.email end,
            false, true, nu.joined_at
        from pg_temp.act_new_user as nu
        cross join lateral (
            select coalesce(nullif(regexp_replace(lower(nu.first_name), '[^a-z]', '', 'g'), ''),
                    'user')
                || '.' || coalesce(
                    nullif(regexp_replace(lower(nu.last_name), '[^a-z]', '', 'g'), ''), 'new')
                || nu.id || '@' || sandbox.pick(
                    nu.id, 1707, bs, array['gmail.com', 'yahoo.co.jp', 'outlook.com', 'icloud.com']
                ) as email
        ) as e
        order by nu.ord
        returning id, date_joined
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, c.date_joined, 'auth_user', c.id, 'insert', 'new ' || nu.role || ' user'
    from changed as c
    inner join pg_temp.act_new_user as nu on nu.id = c.id;

    with changed as (
        insert into public.auth_user_groups (user_id, group_id)
        select nu.id, case when nu.role = 'doctor' then 2 else 1 end
        from pg_temp.act_new_user as nu
        order by nu.ord
        returning id, user_id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, nu.joined_at, 'auth_user_groups', c.id, 'insert', 'group of new ' || nu.role
    from changed as c
    inner join pg_temp.act_new_user as nu on nu.id = c.user_id;

    with changed as (
        insert into public.dispatch_doctorsetting (
            user_id, clinical_preferences, sq_customer_id, promised_payment, credit,
            installment_payments, baa_agreed_at, eula_agreed_at, company_account
        )
        select nu.id, coalesce(src.clinical_preferences, '{}'), null, false, 0, 0,
            null, nu.joined_at + interval '10 minutes', false
        from pg_temp.act_new_user as nu
        left join lateral (
            select s.clinical_preferences from public.dispatch_doctorsetting as s
            where s.id >= sandbox.rnd_int(nu.id, 1708, bs, 1, greatest(mx_setting, 1))
            order by s.id limit 1
        ) as src on true
        where nu.role = 'doctor'
        order by nu.ord
        returning id, user_id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, nu.joined_at + interval '10 minutes', 'dispatch_doctorsetting', c.id,
        'insert', 'new doctor'
    from changed as c
    inner join pg_temp.act_new_user as nu on nu.id = c.user_id;

    -- New doctors join an office (the newest office first, so a new office gets a doctor).
    with changed as (
        insert into public.dispatch_office_doctors (office_id, user_id)
        select o.id, nu.id
        from pg_temp.act_new_user as nu
        cross join lateral (
            select x.id from public.dispatch_office as x
            where x.valid
            order by case when nu.role_ord = 1 then -x.id else 0 end,
                sandbox.rnd(x.id, 1709, bs + nu.id), x.id
            limit 1
        ) as o
        where nu.role = 'doctor'
        order by nu.ord
        returning id, user_id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, nu.joined_at + interval '20 minutes', 'dispatch_office_doctors', c.id,
        'insert', 'new doctor joins office'
    from changed as c
    inner join pg_temp.act_new_user as nu on nu.id = c.user_id;

    -- New patient rows: doctor and office copied from a random existing patient (keeps the
    -- skew of patients per doctor); the first new patients go to the first new doctor.
    base_id := sandbox.act_reserve('dispatch_patient', n_patient_new);
    drop table if exists pg_temp.act_new_patient;
    create temp table act_new_patient as
    select base_id + nu.role_ord - 1 as id,
        nu.role_ord as ord,
        nu.id as user_id,
        case
            when nu.role_ord <= 2 and n_doctor_new > 0
                then (select d.id from pg_temp.act_new_user as d
                    where d.role = 'doctor' and d.role_ord = 1)
            else coalesce(src.doctor_id, nu.id)
        end as doctor_id,
        src.office_id,
        nu.joined_at + interval '30 minutes' as submitted_at,
        src.schemes
    from pg_temp.act_new_user as nu
    left join lateral (
        select x.doctor_id, x.office_id, x.schemes from public.dispatch_patient as x
        where x.id >= sandbox.rnd_int(nu.id, 1710, bs, 1, greatest(mx_patient, 1))
        order by x.id limit 1
    ) as src on true
    where nu.role = 'patient';
    with changed as (
        insert into public.dispatch_patient (
            id, user_id, doctor_id, office_id, birthdate, sex, suffix, archived, suspended,
            status, schemes, submitted_at, updated_at
        )
        select p.id, p.user_id, p.doctor_id, p.office_id,
            date '1960-01-01' + sandbox.rnd_int(p.id, 1711, bs, 0, 18000)::integer,
            sandbox.rnd_int(p.id, 1712, bs, 1, 2)::integer,
            upper(substr(md5(bs || ':new-suffix:' || p.id), 1, 4)),
            false, false, 1, coalesce(p.schemes, '{}'), p.submitted_at, p.submitted_at
        from pg_temp.act_new_patient as p
        order by p.ord
        returning id, submitted_at
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, submitted_at, 'dispatch_patient', id, 'insert', 'new patient'
    from changed;

    -- New instructions: one per new patient, the rest for existing patients; each with its
    -- jaws. Content copied from a random existing instruction.
    n_instruction_new := greatest(
        sandbox.act_n(c_instruction, 0.003, days, 4),
        n_patient_new
    );
    base_id := sandbox.act_reserve('dispatch_instruction', n_instruction_new);
    drop table if exists pg_temp.act_new_instruction;
    create temp table act_new_instruction as
    select base_id + g - 1 as id,
        g as ord,
        pt.id as patient_id,
        pt.suffix as suffix,
        pt.since + (t1 - pt.since) * (0.05 + 0.9 * sandbox.rnd(g, 1720, bs)) as submitted_at,
        src.id as src_id,
        sandbox.rnd(g, 1721, bs) < 0.85 as has_upper,
        false as has_lower,
        null::bigint as upper_jaw_id,
        null::bigint as lower_jaw_id
    from generate_series(1, n_instruction_new) as g
    cross join lateral (
        select coalesce(
            (select p.id from pg_temp.act_new_patient as p where p.ord = g),
            (select x.id from public.dispatch_patient as x
                where x.id >= sandbox.rnd_int(g, 1722, bs, 1, greatest(mx_patient, 1))
                order by x.id limit 1),
            (select max(x.id) from public.dispatch_patient as x)
        ) as pid
    ) as chosen
    cross join lateral (
        select x.id, x.suffix, greatest(x.submitted_at, t0) as since
        from public.dispatch_patient as x where x.id = chosen.pid
    ) as pt
    cross join lateral (
        select i.id from public.dispatch_instruction as i
        where i.id >= sandbox.rnd_int(g, 1723, bs, 1, greatest(mx_instruction, 1))
        order by i.id limit 1
    ) as src;
    update pg_temp.act_new_instruction
    set has_lower = not has_upper or sandbox.rnd(ord, 1724, bs) < 0.85;

    -- Jaws: for the new instructions, and for the picked instruction updates that replace a
    -- jaw (the old jaw stays, now pointed at by nothing).
    drop table if exists pg_temp.act_new_jaw;
    create temp table act_new_jaw as
    with wanted as (
        select i.id as instruction_id, 'upper' as side, true as is_new, i.submitted_at as happened,
            i.ord * 2 - 1 as k
        from pg_temp.act_new_instruction as i where i.has_upper
        union all
        select i.id, 'lower', true, i.submitted_at, i.ord * 2
        from pg_temp.act_new_instruction as i where i.has_lower
        union all
        select p.id, case when t.upper_jaw_id is null then 'lower' else 'upper' end, false,
            sandbox.rnd_ts(p.id, 805, bs, t0, t1), 1000000000 + p.id
        from pg_temp.act_pick as p
        inner join public.dispatch_instruction as t on t.id = p.id
        where p.tbl = 'dispatch_instruction' and p.kind = 'update'
            and sandbox.rnd(p.id, 804, bs) >= 0.8
    )
    select row_number() over (order by k) as ord, w.*
    from wanted as w;
    n := (select count(*) from pg_temp.act_new_jaw);
    base_id := sandbox.act_reserve('dispatch_jaw', n);
    with changed as (
        insert into public.dispatch_jaw (id, bond_teeth, extract_teeth, reason, product_id, labial)
        select base_id + j.ord - 1, coalesce(src.bond_teeth, ''), coalesce(src.extract_teeth, ''),
            case when j.is_new then null else sandbox.rnd_int(j.ord, 1725, bs, 1, 3)::integer end,
            src.product_id, coalesce(src.labial, false)
        from pg_temp.act_new_jaw as j
        left join lateral (
            select x.bond_teeth, x.extract_teeth, x.product_id, x.labial
            from public.dispatch_jaw as x
            where x.id >= sandbox.rnd_int(j.ord, 1726, bs, 1, greatest(mx_jaw, 1))
            order by x.id limit 1
        ) as src on true
        order by j.ord
        returning id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, j.happened, 'dispatch_jaw', c.id, 'insert',
        case when j.is_new then 'jaw of new instruction ' else 'replacement jaw of instruction ' end
            || j.instruction_id
    from changed as c
    inner join pg_temp.act_new_jaw as j on base_id + j.ord - 1 = c.id;

    update pg_temp.act_new_instruction as i
    set upper_jaw_id = (select base_id + j.ord - 1 from pg_temp.act_new_jaw as j
            where j.is_new and j.instruction_id = i.id and j.side = 'upper'),
        lower_jaw_id = (select base_id + j.ord - 1 from pg_temp.act_new_jaw as j
            where j.is_new and j.instruction_id = i.id and j.side = 'lower');

    with changed as (
        insert into public.dispatch_instruction (
            id, patient_id, submitted_at, updated_at, deleted, status, cbct, model, scanner,
            objective, conditions, "order", lower_jaw_id, upper_jaw_id, comprehensive,
            accept_extraction, scanner_notes, notes, complaint, suffix, course_id, exports, price
        )
        select i.id, i.patient_id, i.submitted_at, i.submitted_at, false,
            case when sandbox.rnd(i.id, 1727, bs) < 0.85 then 1 else 0 end,
            s.cbct, s.model, s.scanner, s.objective, s.conditions,
            1 + (select count(*) from public.dispatch_instruction as x
                where x.patient_id = i.patient_id),
            i.lower_jaw_id, i.upper_jaw_id, s.comprehensive, s.accept_extraction,
            s.scanner_notes, s.notes, s.complaint, coalesce(i.suffix, s.suffix), s.course_id,
            s.exports, s.price
        from pg_temp.act_new_instruction as i
        inner join public.dispatch_instruction as s on s.id = i.src_id
        order by i.ord
        returning id, submitted_at
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, submitted_at, 'dispatch_instruction', id, 'insert', 'new instruction'
    from changed;

    -- The picked instruction updates that replace a jaw.
    with changed as (
        update public.dispatch_instruction as t
        set upper_jaw_id = case when j.side = 'upper' then base_id + j.ord - 1
                else t.upper_jaw_id end,
            lower_jaw_id = case when j.side = 'lower' then base_id + j.ord - 1
                else t.lower_jaw_id end,
            updated_at = j.happened
        from pg_temp.act_new_jaw as j
        where not j.is_new and j.instruction_id = t.id
        returning t.id, j.happened, j.side
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, happened, 'dispatch_instruction', id, 'update',
        side || '_jaw_id (jaw replaced), updated_at'
    from changed;

    -- New records: on patients, users and instructions (new ones preferred) --------------------
    n := sandbox.act_n(c_record, 0.004, days, 4);
    base_id := sandbox.act_reserve('dispatch_record', n);
    drop table if exists pg_temp.act_new_record;
    create temp table act_new_record as
    select base_id + g - 1 as id, g as ord, tgt.target_type_id, tgt.target_id,
        sandbox.rnd_ts(g, 1731, bs, t0, t1) as created_at
    from generate_series(1, n) as g
    cross join lateral (
        select case
                when sandbox.rnd(g, 1732, bs) < 0.5 and ct_patient is not null then 'patient'
                when sandbox.rnd(g, 1732, bs) < 0.75 and ct_user is not null then 'user'
                when ct_instruction is not null then 'instruction'
                when ct_patient is not null then 'patient'
                else 'user'
            end as target_kind
    ) as k
    cross join lateral (
        select case k.target_kind
                when 'patient' then ct_patient
                when 'user' then ct_user
                else ct_instruction
            end as target_type_id,
            case k.target_kind
                when 'patient' then coalesce(
                    (select p.id from pg_temp.act_new_patient as p
                        where p.ord = 1 + g % greatest(n_patient_new, 1)
                            and sandbox.rnd(g, 1733, bs) < 0.5),
                    (select x.id from public.dispatch_patient as x
                        where x.id >= sandbox.rnd_int(g, 1734, bs, 1, greatest(mx_patient, 1))
                        order by x.id limit 1),
                    1)
                when 'user' then coalesce(
                    (select x.id from public.auth_user as x
                        where x.id >= sandbox.rnd_int(g, 1735, bs, 1, greatest(mx_user, 1))
                        order by x.id limit 1),
                    1)
                else coalesce(
                    (select i.id from pg_temp.act_new_instruction as i
                        where i.ord = 1 + g % greatest(n_instruction_new, 1)
                            and sandbox.rnd(g, 1736, bs) < 0.5),
                    (select x.id from public.dispatch_instruction as x
                        where x.id >= sandbox.rnd_int(
                            g, 1737, bs, 1, greatest(mx_instruction, 1))
                        order by x.id limit 1),
                    1)
            end as target_id
    ) as tgt;
    with changed as (
        insert into public.dispatch_record (
            id, target_type_id, target_id, type, created_at, text, author_id, group_id, public
        )
        select r.id, r.target_type_id, r.target_id, src.type, r.created_at, src.text,
            au.id, null, src.public
        from pg_temp.act_new_record as r
        left join lateral (
            select x.type, x.text, x.public from public.dispatch_record as x
            where x.id >= sandbox.rnd_int(r.id, 1738, bs, 1, greatest(mx_record, 1))
            order by x.id limit 1
        ) as src on true
        left join lateral (
            select x.author_id as id from public.dispatch_record as x
            inner join public.auth_user as u on u.id = x.author_id
            where x.id >= sandbox.rnd_int(r.id, 1739, bs, 1, greatest(mx_record, 1))
            order by x.id limit 1
        ) as au on true
        order by r.ord
        returning id, created_at
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, created_at, 'dispatch_record', id, 'insert', 'new record'
    from changed;

    -- New files: about half on the new instructions, some on existing ones, the rest without an
    -- instruction; a few attached to a new record. Content copied from a random existing file.
    n := sandbox.act_n(c_file, 0.004, days, 6);
    base_id := sandbox.act_reserve('dispatch_file', n);
    drop table if exists pg_temp.act_new_file;
    create temp table act_new_file as
    select base_id + g - 1 as id, g as ord,
        case
            when sandbox.rnd(g, 1741, bs) < 0.45 then
                (select i.id from pg_temp.act_new_instruction as i
                    where i.ord = 1 + g % greatest(n_instruction_new, 1))
            when sandbox.rnd(g, 1741, bs) < 0.55 then
                (select x.id from public.dispatch_instruction as x
                    where x.id >= sandbox.rnd_int(g, 1742, bs, 1, greatest(mx_instruction, 1))
                    order by x.id limit 1)
        end as instruction_id,
        case
            when g % 10 = 3 then
                (select r.id from pg_temp.act_new_record as r
                    where r.ord = 1 + g % greatest(
                        (select count(*) from pg_temp.act_new_record), 1
                    ))
        end as record_id
    from generate_series(1, n) as g;
    with changed as (
        insert into public.dispatch_file (
            id, uid, name, ext, size, type, instruction_id, created_at, description, product_id,
            parameters, record_id, status
        )
        select f.id, md5(bs || ':uid:' || f.id),
            coalesce(f.instruction_id::text, (100000000 + f.id)::text) || '_'
                || coalesce(nullif(regexp_replace(src.name, '^[0-9]+_', ''), ''), 'upload.bin'),
            src.ext, src.size, src.type, f.instruction_id, ts.created_at, src.description,
            src.product_id, src.parameters, f.record_id, src.status
        from pg_temp.act_new_file as f
        cross join lateral (
            select x.name, x.ext, x.size, x.type, x.description, x.product_id, x.parameters,
                x.status
            from public.dispatch_file as x
            where x.id >= sandbox.rnd_int(f.id, 1743, bs, 1, greatest(mx_file, 1))
            order by x.id limit 1
        ) as src
        cross join lateral (
            select greatest(
                coalesce(
                    (select i.submitted_at from pg_temp.act_new_instruction as i
                        where i.id = f.instruction_id),
                    (select r.created_at from pg_temp.act_new_record as r
                        where r.id = f.record_id),
                    t0
                ),
                t0
            ) as since
        ) as s
        cross join lateral (
            select s.since + (t1 - s.since) * sandbox.rnd(f.id, 1744, bs) as created_at
        ) as ts
        order by f.ord
        returning id, created_at
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, created_at, 'dispatch_file', id, 'insert', 'new file'
    from changed;

    -- New record attachments (the M2M table): a new record with a new file.
    n := sandbox.act_n(c_attachment, 0.05, days, 2);
    with changed as (
        insert into public.dispatch_record_attachments (record_id, file_id)
        select r.id, f.id
        from generate_series(1, n) as g
        inner join pg_temp.act_new_record as r on r.ord = g
        inner join pg_temp.act_new_file as f
            on f.ord = (select count(*) from pg_temp.act_new_file) + 1 - g
        order by g
        returning id, record_id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, r.created_at, 'dispatch_record_attachments', c.id, 'insert', 'new attachment'
    from changed as c
    inner join pg_temp.act_new_record as r on r.id = c.record_id;

    -- New states: status 11 or 12 on recent instructions ---------------------------------------
    n := sandbox.act_n(c_state, 0.004, days, 3);
    with changed as (
        insert into public.dispatch_state (status, "on", changed_at, actor_id, instruction_id)
        select case when sandbox.rnd(g, 1751, bs) < 0.55 then 11 else 12 end,
            sandbox.rnd(g, 1752, bs) < 0.8,
            sandbox.rnd_ts(g, 1753, bs, t0, t1),
            (select x.actor_id from public.dispatch_state as x
                inner join public.auth_user as u on u.id = x.actor_id
                where x.id >= sandbox.rnd_int(g, 1754, bs, 1, greatest(mx_state, 1))
                order by x.id limit 1),
            coalesce(
                (select i.id from pg_temp.act_new_instruction as i
                    where i.ord = 1 + g % greatest(n_instruction_new, 1)
                        and sandbox.rnd(g, 1755, bs) < 0.6),
                (select x.id from public.dispatch_instruction as x
                    where x.id >= sandbox.rnd_int(g, 1756, bs, 1, greatest(mx_instruction, 1))
                    order by x.id limit 1),
                1)
        from generate_series(1, n) as g
        order by g
        returning id, changed_at
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, changed_at, 'dispatch_state', id, 'insert', 'new state'
    from changed;

    -- New payments, mostly for the new instructions --------------------------------------------
    n := sandbox.act_n(c_payment, 0.003, days, 3);
    with targets as (
        select g,
            coalesce(
                (select i.id from pg_temp.act_new_instruction as i
                    where i.ord = 1 + g % greatest(n_instruction_new, 1)
                        and sandbox.rnd(g, 1761, bs) < 0.8),
                (select x.id from public.dispatch_instruction as x
                    where x.id >= sandbox.rnd_int(g, 1762, bs, 1, greatest(mx_instruction, 1))
                    order by x.id limit 1)
            ) as instruction_id
        from generate_series(1, n) as g
    ),
    changed as (
        insert into public.dispatch_payment (
            made_at, free, tax_rate, tax_value, paid_price, used_credit, custom_price,
            subtotal_price, additional_price, total_price, instruction_id, canceled, paid,
            doctor_id, office_id, installments, netsuite
        )
        select sandbox.rnd_ts(tg.g, 1763, bs, t0, t1), src.free, src.tax_rate, src.tax_value,
            src.paid_price, src.used_credit, src.custom_price, src.subtotal_price,
            src.additional_price, src.total_price, tg.instruction_id, false, true,
            (select u.id from public.auth_user as u where u.id = pt.doctor_id),
            (select o.id from public.dispatch_office as o where o.id = pt.office_id),
            src.installments, false
        from targets as tg
        cross join lateral (
            select x.free, x.tax_rate, x.tax_value, x.paid_price, x.used_credit, x.custom_price,
                x.subtotal_price, x.additional_price, x.total_price, x.installments
            from public.dispatch_payment as x
            where x.id >= sandbox.rnd_int(tg.g, 1764, bs, 1, greatest(mx_payment, 1))
            order by x.id limit 1
        ) as src
        left join public.dispatch_instruction as i on i.id = tg.instruction_id
        left join public.dispatch_patient as pt on pt.id = i.patient_id
        order by tg.g
        returning id, made_at
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, made_at, 'dispatch_payment', id, 'insert', 'new payment'
    from changed;

    -- New notifications, copied from random existing ones (template, context, flags), to
    -- random users, created in id order through the batch's days -------------------------------
    n := sandbox.act_n(c_notification, 0.006, days, 30);
    with changed as (
        insert into public.dispatch_notification (
            created_at, sender, template_name, template_context, read, item_id, item_type_id,
            recipient_id, sent, send
        )
        select t0 + (t1 - t0) * ((g - 1 + sandbox.rnd(g, 1771, bs)) / n),
            src.sender, src.template_name, src.template_context, false,
            case
                when src.item_type_id = ct_instruction and n_instruction_new > 0 then
                    (select i.id from pg_temp.act_new_instruction as i
                        where i.ord = 1 + g % n_instruction_new)
                else src.item_id
            end,
            src.item_type_id,
            coalesce(
                (select u.id from public.auth_user as u
                    where u.id >= sandbox.rnd_int(g, 1772, bs, 1, greatest(mx_user, 1))
                    order by u.id limit 1),
                src.recipient_id
            ),
            src.sent, src.send
        from generate_series(1, n) as g
        cross join lateral (
            select x.sender, x.template_name, x.template_context, x.item_id, x.item_type_id,
                x.recipient_id, x.sent, x.send
            from public.dispatch_notification as x
            where x.id >= sandbox.rnd_int(g, 1773, bs, 1, greatest(mx_notification, 1))
            order by x.id limit 1
        ) as src
        order by g
        returning id, created_at
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, created_at, 'dispatch_notification', id, 'insert', 'new notification'
    from changed;

    -- A new product, once (the first batch) ------------------------------------------------------
    if v_batch = 1 and mx_product > 0 then
        base_id := sandbox.act_reserve('dispatch_product', 1);
        with changed as (
            insert into public.dispatch_product (
                id, name, description, free, deleted, customization, type, substitute, course_id
            )
            select base_id, 'Retainer Plus', 'Night-time retainer, introduced in November 2025',
                false, false, p.customization, p.type, false, p.course_id
            from public.dispatch_product as p
            where p.id = (select min(id) from public.dispatch_product)
            returning id
        )
        insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
        select v_batch, t0 + interval '2 days', 'dispatch_product', id, 'insert', 'new product'
        from changed;
    end if;

    -- The second wave's tables (world.md 8.6), on the new instructions where they need one.
    perform sandbox.simulate_activity_wave2(v_batch, days, bs, t0, t1);

    drop table if exists pg_temp.act_pick;
    drop table if exists pg_temp.act_moves;
    drop table if exists pg_temp.act_new_user;
    drop table if exists pg_temp.act_new_patient;
    drop table if exists pg_temp.act_new_instruction;
    drop table if exists pg_temp.act_new_jaw;
    drop table if exists pg_temp.act_new_record;
    drop table if exists pg_temp.act_new_file;
    return v_batch;
end
$$;

-- ============================================================================================
-- The second wave (world.md 8.6): new plans, comments and tasks every day; tasks checked in
-- place; plan notes, template status and role permissions edited; junction rows, plans,
-- comments and tasks deleted (their children stay, orphaned: no FK constraints). None of these
-- tables has updated_at, so every change but inserts and deletes is 'update_untouched'.
-- Called by sandbox.simulate_activity within its batch (pg_temp.act_pick and
-- pg_temp.act_new_instruction exist; v_batch, the batch's seed bs and its days t0..t1 given).
-- ============================================================================================
create or replace function sandbox.simulate_activity_wave2(
    v_batch integer, days integer, bs bigint, t0 timestamptz, t1 timestamptz
)
returns void
language plpgsql
set timezone to 'UTC'
set client_min_messages to warning
set search_path to pg_catalog, public
as $$
#variable_conflict use_column
declare
    n integer;
    j record;
    c_plan bigint; mx_plan bigint;
    c_comment bigint; mx_comment bigint;
    c_task bigint; mx_task bigint;
    c_template bigint; mx_template bigint;
    c_role_permission bigint; mx_role_permission bigint;
    c_table bigint; mx_table bigint;  -- (of the table being deleted from)
    mx_project bigint;
    n_new_instruction integer;
    n_new_plan integer;
begin
    select count(*), coalesce(max(id), 0) into c_plan, mx_plan from public.dispatch_plan;
    select count(*), coalesce(max(id), 0) into c_comment, mx_comment from public.dispatch_comment;
    select count(*), coalesce(max(id), 0) into c_task, mx_task from public.dispatch_task;
    select count(*), coalesce(max(id), 0) into c_template, mx_template
    from public.dispatch_template;
    select count(*), coalesce(max(id), 0) into c_role_permission, mx_role_permission
    from public.dispatch_role_permissions;
    select coalesce(max(id), 0) into mx_project from public.dispatch_project;
    select count(*) into n_new_instruction from pg_temp.act_new_instruction;
    if c_plan = 0 or c_task = 0 then
        return;  -- a legacy database without the second wave
    end if;

    -- B. Changes to rows that existed before the batch ----------------------------------------

    -- Tasks checked in place (done_at set), and a few unchecked again.
    perform sandbox.act_pick(
        'dispatch_task', 'update_untouched', sandbox.act_n(c_task, 0.01, days, 5), 3101, bs,
        mx_task, 'not t.checked or sandbox.rnd(t.id, 3102, ' || bs || ') < 0.05'
    );
    with changed as (
        update public.dispatch_task as t
        set checked = not t.checked,
            done_at = case when t.checked then t.done_at
                else coalesce(t.done_at, sandbox.rnd_ts(t.id, 3103, bs, t0, t1)) end
        from pg_temp.act_pick as p
        where p.tbl = 'dispatch_task' and p.kind = 'update_untouched' and p.id = t.id
        returning t.id, t.checked
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 3103, bs, t0, t1), 'dispatch_task', id, 'update_untouched',
        case when checked then 'checked, done_at' else 'checked' end
    from changed;


    -- Plan notes edited.
    perform sandbox.act_pick(
        'dispatch_plan', 'update_untouched', sandbox.act_n(c_plan, 0.002, days, 2), 3110, bs,
        mx_plan
    );
    with changed as (
        update public.dispatch_plan as t
        set notes = btrim(t.notes || ' Revised: ' || to_char(sandbox.rnd_ts(t.id, 3111, bs, t0, t1),
            'YYYY-MM-DD') || ', IPR updated.')
        from pg_temp.act_pick as p
        where p.tbl = 'dispatch_plan' and p.kind = 'update_untouched' and p.id = t.id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 3111, bs, t0, t1), 'dispatch_plan', id, 'update_untouched',
        'notes'
    from changed;



    -- Template status switched (active <-> inactive).
    perform sandbox.act_pick(
        'dispatch_template', 'update_untouched', sandbox.act_n(c_template, 0.002, days, 1), 3130,
        bs, mx_template
    );
    with changed as (
        update public.dispatch_template as t
        set status = case when t.status = 1 then 0 else 1 end
        from pg_temp.act_pick as p
        where p.tbl = 'dispatch_template' and p.kind = 'update_untouched' and p.id = t.id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 3131, bs, t0, t1), 'dispatch_template', id,
        'update_untouched', 'status'
    from changed;

    -- Role permissions edited: a row points at another permission its role does not hold yet
    -- (the k-th picked row of a role takes the k-th free permission, so the pairs stay unique).
    perform sandbox.act_pick(
        'dispatch_role_permissions', 'update_untouched',
        sandbox.act_n(c_role_permission, 0.002, days, 1), 3140, bs, mx_role_permission,
        'exists (select 1 from public.dispatch_role as r where r.id = t.role_id)'
    );
    with picked as (
        select t.id, t.role_id,
            row_number() over (partition by t.role_id order by t.id) as k
        from public.dispatch_role_permissions as t
        inner join pg_temp.act_pick as p
            on p.tbl = 'dispatch_role_permissions' and p.kind = 'update_untouched' and p.id = t.id
    ),
    changed as (
        update public.dispatch_role_permissions as t
        set permission_id = free.id
        from picked
        cross join lateral (
            select a.id from public.auth_permission as a
            where not exists (
                select 1 from public.dispatch_role_permissions as x
                where x.role_id = picked.role_id and x.permission_id = a.id
            )
            order by sandbox.rnd(a.id, 3141, bs), a.id
            offset picked.k - 1 limit 1
        ) as free
        where t.id = picked.id
        returning t.id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 3142, bs, t0, t1), 'dispatch_role_permissions', id,
        'update_untouched', 'permission_id'
    from changed;

    -- Deletes: junction rows (a template loses a product, a role, a group or a predecessor),
    -- plans, comments and tasks (a plan's comments and tasks stay behind, orphaned).
    -- (a loop over eight tables, not over rows)
    for j in
        select * from (values
            ('dispatch_template_products', 3150, 0.002, 1),
            ('dispatch_template_view_roles', 3152, 0.002, 1),
            ('dispatch_template_edit_roles', 3154, 0.002, 1),
            ('dispatch_template_view_groups', 3156, 0.002, 1),
            ('dispatch_template_predecessors', 3158, 0.002, 1),
            ('dispatch_plan', 3112, 0.0005, 1),
            ('dispatch_comment', 3120, 0.001, 1),
            ('dispatch_task', 3104, 0.0005, 2)
        ) as v (tbl, salt, weekly, min_rows)
    loop
        execute format('select count(*), coalesce(max(id), 0) from public.%I', j.tbl)
        into c_table, mx_table;
        perform sandbox.act_pick(
            j.tbl, 'delete', sandbox.act_n(c_table, j.weekly, days, j.min_rows), j.salt, bs,
            mx_table
        );
        execute format(
            $sql$
            with changed as (
                delete from public.%1$I as t
                using pg_temp.act_pick as p
                where p.tbl = %1$L and p.kind = 'delete' and p.id = t.id
                returning t.id
            )
            insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind,
                detail)
            select %2$s, sandbox.rnd_ts(id, %3$s, %4$s, %5$L, %6$L), %1$L, id, 'delete', null
            from changed
            $sql$,
            j.tbl, v_batch, j.salt + 1, bs, t0, t1
        );
    end loop;

    -- C. New rows ---------------------------------------------------------------------------------

    -- New plans: the new instructions first (number 1, original), then more plans of existing
    -- instructions (the next number); each in an existing project.
    n_new_plan := greatest(sandbox.act_n(c_plan, 0.003, days, 3), n_new_instruction);
    with targets as (
        select g,
            coalesce(
                (select i.id from pg_temp.act_new_instruction as i where i.ord = g),
                (select x.instruction_id from public.dispatch_plan as x
                    where x.id >= sandbox.rnd_int(g, 3160, bs, 1, greatest(mx_plan, 1))
                        and x.instruction_id is not null
                    order by x.id limit 1)
            ) as instruction_id
        from generate_series(1, n_new_plan) as g
    ),
    numbered as (
        select tg.g, tg.instruction_id,
            coalesce((select max(x.number) from public.dispatch_plan as x
                where x.instruction_id = tg.instruction_id), 0)
                + row_number() over (partition by tg.instruction_id order by tg.g) as number
        from targets as tg
    ),
    changed as (
        insert into public.dispatch_plan (instruction_id, project_id, notes, number, name, original)
        select nb.instruction_id,
            sandbox.rnd_int(nb.g, 3161, bs, 1, greatest(mx_project, 1)),
            '', nb.number, 'Plan ' || nb.number, nb.number = 1
        from numbered as nb
        order by nb.g
        returning id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 3162, bs, t0, t1), 'dispatch_plan', id, 'insert', 'new plan'
    from changed;

    -- New comments on recent plans (the new ones first), text from a random existing comment.
    n := sandbox.act_n(c_comment, 0.005, days, 2);
    with changed as (
        insert into public.dispatch_comment (created_at, text, author_id, plan_id)
        select t0 + (t1 - t0) * ((g - 1 + sandbox.rnd(g, 3170, bs)) / n),
            src.text, src.author_id,
            coalesce(
                (select x.id from public.dispatch_plan as x
                    where x.id >= greatest(mx_plan - 50, 1) + sandbox.rnd_int(g, 3171, bs, 0, 60)
                    order by x.id limit 1),
                (select max(x.id) from public.dispatch_plan as x))
        from generate_series(1, n) as g
        cross join lateral (
            select x.text, x.author_id from public.dispatch_comment as x
            where x.id >= sandbox.rnd_int(g, 3172, bs, 1, greatest(mx_comment, 1))
            order by x.id limit 1
        ) as src
        order by g
        returning id, created_at
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, created_at, 'dispatch_comment', id, 'insert', 'new comment'
    from changed;

    -- New tasks: most on the new instructions, the rest on recent ones; content copied from a
    -- random existing task, unchecked.
    n := sandbox.act_n(c_task, 0.003, days, 10);
    with changed as (
        insert into public.dispatch_task (checked, file_id, template_id, done_at, text, plan_id,
            instruction_id, actor_id, jaw, order_id)
        select false, null, src.template_id, null, src.text, null,
            coalesce(
                (select i.id from pg_temp.act_new_instruction as i
                    where i.ord = 1 + g % greatest(n_new_instruction, 1)
                        and sandbox.rnd(g, 3180, bs) < 0.8),
                src.instruction_id
            ),
            src.actor_id, src.jaw, src.order_id
        from generate_series(1, n) as g
        cross join lateral (
            select x.template_id, x.text, x.instruction_id, x.actor_id, x.jaw, x.order_id
            from public.dispatch_task as x
            where x.id >= sandbox.rnd_int(g, 3181, bs, 1, greatest(mx_task, 1))
            order by x.id limit 1
        ) as src
        order by g
        returning id
    )
    insert into sandbox.activity_log (batch, happened_at, table_name, legacy_id, kind, detail)
    select v_batch, sandbox.rnd_ts(id, 3182, bs, t0, t1), 'dispatch_task', id, 'insert', 'new task'
    from changed;
end
$$;
