-- Simulated legacy database: the generator.
--
--   select sandbox.generate_legacy(seed bigint, scale numeric);
--
-- Fills the (empty, or it empties them) legacy tables of legacy_schema.sql with a deterministic,
-- seeded, scaled imitation of the real Django database (world.md section 3). Requires common.sql.
-- Everything random is sandbox.rnd(key, salt, seed) (one salt per decision): no random(), no now(),
-- fixed time window 2018-01-01 .. 2025-10-31 (UTC); the function runs with TimeZone UTC, so the
-- caller's settings change nothing. Same (seed, scale) => byte-identical tables.
--
-- Volumes: the scale-1.0 counts of world.md times `scale` (rounded, at least 1), except the fixed
-- code tables (django_content_type 61 rows, auth_group 10, dispatch_course 8, dispatch_product 12).
-- Some ids are "slots" of rows deleted in the legacy system (gone users, patients, instructions,
-- records): their ids are skipped (gaps), and the sequences are set past all slots.
--   auth_user 9,840 (+ 25 gone slots; each user kind at least 1, so 102 at scale 0.01)
--   dispatch_patient 8,500 slots (0.3% gone)     dispatch_instruction 25,000 slots (0.1% gone)
--   dispatch_record 71,000 slots (0.2% gone)     dispatch_jaw ~1.74 per instruction slot
--   dispatch_file 328,000 (50% with an instruction, 3% with a record)   dispatch_state 5,500
--   dispatch_payment 17,200   dispatch_office 900   dispatch_office_doctors 520 (424 doctors)
--   dispatch_doctorsetting 1,180   dispatch_notification 5,100,000 (40% send and sent)
--   auth_user_groups ~9,900   dispatch_record_attachments max(3, round(12 * scale)).
-- Shapes: 440 doctors have patients (each >= 1, weight 1/(r+12.3)^1.651: median 4, max ~450),
-- ~3 instructions per patient, ~8 records per patient (78% to a patient, 14% a user, 8% an
-- instruction), 0.22 states per instruction (status 11/12), 0.7 payments per instruction (mean
-- total ~$250), offices USA 62% / India 17% / Japan 12% / Thailand 7% / others; English, Japanese,
-- Thai and Indian names; English and Japanese texts; activity grows over time.
--
-- Planted defects. Selection rule (sandbox.lg_defect): a row is picked when
-- rnd(key, salt, seed) < rate, OR when it is one of k evenly spread "forced" keys (k per table,
-- with a seeded offset, so that even scale 0.01 has some of each kind); with several sub-kinds the
-- forced rows cycle through all of them. The key is the row's index among the rows that are
-- inserted, so forced picks never fall on a gone slot. legacy_defects.sql counts each kind.
--   kind (rate, forced k)                                         where
--   json_bad (unescaped quotes / truncated / '' / 'null')         dispatch_patient.schemes (0.2%, 4),
--        dispatch_instruction.exports (0.2%, 4), dispatch_file.parameters (0.05%, 4),
--        dispatch_payment.installments (0.2%, 4), dispatch_notification.template_context
--        (0.002%, 8), dispatch_course.customization (course 8 truncated), dispatch_product.
--        customization (products 9 '', 11 unescaped quotes, 12 'null')
--   email_no_at (0.2%, 3)                                         auth_user.email
--   email_duplicate: a shared front-desk address, also in other case/whitespace (0.3%, 4);
--        (besides, 2% of emails have upper case and a trailing space, 3% of patients none: '')
--   auth_user names (0.7%, 7; exclusive sub-kinds): blank first, blank first and last, whitespace-
--        only first ('   '), whitespace-only last (tab), emoji, right-to-left (Arabic, Hebrew),
--        zero-width character
--   office_name_blank ('' or '  ', 0.3%, 1)                       dispatch_office.name
--   office_tax_rate_percentage, e.g. 10.25 (2%, 2)                dispatch_office.tax_rate
--   office_country_free_text 'usa','US','United States',... (3%, 2); office_country_null (the
--        last 0.4% of the seeded country permutation, and always its last office)
--   instruction_patient_missing: the instructions of gone patients (patients 0.3%, 2; their
--        instruction weight is raised so they have some)
--   patient_doctor_not_in_doctor_group (0.3%, 3): doctor_id is a master/technician/other user
--   doctorsetting_user_not_in_doctor_group: doctor-like users without patients whose group-2 row
--        is missing (1.5%, 2)
--   record_target_missing (0.2%, 3: a gone patient/user/instruction id; plus natural hits on
--        gone ids), record_type_not_routable (1.5%, 5: ('dispatch','plan') 40%, 'comment' 20%,
--        'office' 20%, NULL target_type_id 20%)
--   file_instruction_missing: the files of gone instructions (instructions 0.1%, 2, each with
--        files), file_record_missing (0.3% of record-attached files, 2; plus gone records 0.2%, 2)
--   jaw_unreferenced: replaced jaws (2.5% of instructions, 2) and the jaws of gone instructions
--   state_instruction_missing: the states of gone instructions (each gone instruction has some)
--   payment_without_instruction (0.3%, 3; plus payments of gone instructions, set NULL)
--   notification_recipient_missing (0.03%, 5): recipient is a gone user
--   unknown codes: instruction status 99 (0.1%, 2), patient status 42 (0.1%, 2), sex 7 (0.1%, 2),
--        record type 13 (0.1%, 2), state status 99 (0.2%, 2), file ext 'xyz'/'bak'/'123' (0.02%, 3),
--        file type 77 (0.02%, 2), notification template names matching no keyword
--        ('zz_legacy_blast', 'tmpl_0427', 'xmas_greeting') (0.01%, 3)
--   odd text (emoji / right-to-left / zero-width characters): auth_user names (above),
--        dispatch_instruction.notes (0.3%, 3), dispatch_record.text (0.6%, 3),
--        dispatch_doctorsetting.clinical_preferences (1%, 3), dispatch_file.name (zero-width,
--        0.01%, 1); ~130 KB texts in dispatch_record.text (0.003%, 2), dispatch_instruction.notes
--        (1) and dispatch_doctorsetting.clinical_preferences (1)
--   timestamps far in the past (1900 / 1970) or future (2099): auth_user.last_login 2099 (0.02%, 1),
--        dispatch_instruction submitted_at 1900 / updated_at 2099 (0.02%, 2), dispatch_record.
--        created_at 1900 (0.01%, 1), dispatch_file.created_at 2099 (0.001%, 1), dispatch_payment.
--        made_at 1900 (0.05%, 1), dispatch_notification.created_at 1970 / 2099 (0.0005%, 3);
--        dispatch_patient.birthdate 1900-01-01 / 2099-01-01 (0.1%, 2)
--   user_multi_group: users in two groups (0.8%, 3)
--
-- Performance: set-based inserts from generate_series; the FK constraints and secondary indexes of
-- these tables are dropped during the load and recreated (from the catalog's own definitions)
-- before the function returns; then analyze.

-- Small helpers --------------------------------------------------------------------------------

-- Rows at a scale: round(base * scale), at least 1.
create or replace function sandbox.lg_n(base numeric, scale numeric)
returns integer
language sql immutable parallel safe strict
as $$ select greatest(1, round(base * scale))::integer $$;

-- Defect selection: -1 when the row is not picked, else the sub-kind (0 .. nkinds-1).
-- Picked when rnd(key, salt, seed) < rate (sub-kind from another draw), or when the key is one of
-- k forced keys spread evenly over 1..n with a seeded offset (their sub-kinds cycle through all).
create or replace function sandbox.lg_defect(
    key bigint, salt integer, seed bigint, rate double precision, n bigint, k integer, nkinds integer
)
returns integer
language sql immutable parallel safe
as $$
    select case
        when k > 0 and n > 0
            and ((key + sandbox.rnd_int(0, salt, seed, 0, n - 1)) * k) / n
                <> ((key - 1 + sandbox.rnd_int(0, salt, seed, 0, n - 1)) * k) / n
            then ((((key + sandbox.rnd_int(0, salt, seed, 0, n - 1)) * k) / n) % nkinds)::integer
        when sandbox.rnd(key, salt, seed) < rate
            then floor(sandbox.rnd(key, salt + 7919, seed) * nkinds)::integer
        else -1
    end
$$;

-- A point of the sandbox's time window 2018-01-01 .. 2025-10-31 (UTC) at fraction x, with growth:
-- expo < 1 puts more of the events late (the business grew).
create or replace function sandbox.lg_t(x double precision, expo double precision)
returns timestamptz
language sql immutable parallel safe strict
as $$
    select timestamptz '2018-01-01 00:00:00+00'
        + (timestamptz '2025-10-31 00:00:00+00' - timestamptz '2018-01-01 00:00:00+00')
          * power(least(greatest(x, 0.0), 1.0), expo)
$$;

-- Base-36, 4 characters (patient suffixes such as 00BB).
create or replace function sandbox.lg_b36(n bigint)
returns text
language sql immutable parallel safe strict
as $$
    select substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', ((n / 46656) % 36)::integer + 1, 1)
        || substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', ((n / 1296) % 36)::integer + 1, 1)
        || substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', ((n / 36) % 36)::integer + 1, 1)
        || substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', (n % 36)::integer + 1, 1)
$$;

-- A malformed variant of a JSON text: 0 unescaped quotes, 1 truncated, 2 empty string, 3 'null'.
create or replace function sandbox.lg_badjson(v text, kind integer, is_array boolean)
returns text
language sql immutable parallel safe strict
as $$
    select case kind
        when 0 then case when is_array then '[{"note": "paid "half" now", "amount": 100}]'
                         else '{"note": "patient said "ok" yesterday", "v": 1}' end
        when 1 then left(v, greatest(1, length(v) / 2))
        when 2 then ''
        else 'null'
    end
$$;

-- Does a text parse as JSON? (Used by legacy_defects.sql; not by the generator.)
create or replace function sandbox.lg_json_valid(t text)
returns boolean
language plpgsql immutable parallel unsafe  -- (an exception block: no subtransactions in workers)
as $$
begin
    perform t::jsonb;
    return true;
exception when others then
    return false;
end
$$;

-- A text of about 100 KB (English and Japanese), seeded.
create or replace function sandbox.lg_big_text(key bigint, seed bigint)
returns text
language sql immutable parallel safe strict
as $$
    select 'LONG NOTE ' || key || ': '
        || repeat('Upper arch crowding, see scan and photos; IPR 0.2mm between 12-13. '
                  || '上顎の叢生、スキャンと写真を参照。 ', 1000 + sandbox.rnd_int(key, 9001, seed, 0, 60)::integer)
$$;

-- Odd text: 0 emoji, 1 right-to-left (Arabic or Hebrew), 2 zero-width characters inside.
create or replace function sandbox.lg_odd_text(base text, kind integer, key bigint, seed bigint)
returns text
language sql immutable parallel safe strict
as $$
    select case kind
        when 0 then base || ' ' || sandbox.pick(key, 9011, seed,
            array['😁👍', '🦷✨', '🎉', '🙏🏻', '👩‍⚕️ ok', '😬😬😬'])
        when 1 then sandbox.pick(key, 9012, seed, array[
            'يرجى مراجعة الصور المرفقة',
            'المريض يشعر بألم في الفك العلوي',
            'נא לבדוק את התמונות המצורפות',
            'המטופל מבקש החלפה של קשתית 12']) || ' (' || base || ')'
        else left(base, length(base) / 2) || chr(8203) || substr(base, length(base) / 2 + 1)
             || chr(8205) || chr(65279)
    end
$$;

-- The generator ----------------------------------------------------------------------------------

create or replace function sandbox.generate_legacy(seed bigint, scale numeric)
returns void
language plpgsql
set timezone = 'UTC'
set work_mem = '256MB'
set maintenance_work_mem = '512MB'
set synchronous_commit = off
set client_min_messages = warning
set jit = off
as $fn$
declare
    t0 constant timestamptz := timestamptz '2018-01-01 00:00:00+00';
    t1 constant timestamptz := timestamptz '2025-10-31 00:00:00+00';
    tables constant text[] := array[
        'django_content_type', 'auth_group', 'auth_user', 'auth_user_groups', 'dispatch_office',
        'dispatch_office_doctors', 'dispatch_doctorsetting', 'dispatch_patient', 'dispatch_course',
        'dispatch_product', 'dispatch_jaw', 'dispatch_instruction', 'dispatch_record',
        'dispatch_file', 'dispatch_record_attachments', 'dispatch_state', 'dispatch_payment',
        'dispatch_notification'];
    -- volumes
    c_super int := sandbox.lg_n(5, scale);
    c_admin int := sandbox.lg_n(8, scale);
    c_master int := sandbox.lg_n(12, scale);
    c_tech int := sandbox.lg_n(85, scale);
    c_other int := sandbox.lg_n(30, scale);
    c_doc int := sandbox.lg_n(1200, scale);
    c_gone_u int := greatest(3, round(25 * scale))::int;
    c_pat int := sandbox.lg_n(8500, scale);
    n_uslots int;
    n_office int := sandbox.lg_n(900, scale);
    n_od int := sandbox.lg_n(520, scale);
    n_od_docs int;
    n_docset int;
    n_docpat int;
    n_ins int := sandbox.lg_n(25000, scale);
    n_rec int := sandbox.lg_n(71000, scale);
    n_file int := sandbox.lg_n(328000, scale);
    n_file_ins int;
    n_file_rec int;
    n_state int := sandbox.lg_n(5500, scale);
    n_pay int := sandbox.lg_n(17200, scale);
    n_notif int := sandbox.lg_n(5100000, scale);
    n_plan int := sandbox.lg_n(209000, scale);
    n_comment int := sandbox.lg_n(16300, scale);
    n_att int := greatest(3, round(12 * scale))::int;
    n_live_u int;
    n_gone_p int;
    n_gone_i int;
    n_gone_r int;
    n_live_p int;
    n_live_i int;
    n_live_r int;
    n_nondoc int;
    -- content types
    ct_patient int; ct_user int; ct_instruction int; ct_plan int; ct_comment int; ct_office int;
    ct_file int; ct_record int;
    -- name pools
    en_first constant text[] := array['James','Mary','John','Patricia','Robert','Jennifer','Michael',
        'Linda','William','Elizabeth','David','Barbara','Richard','Susan','Joseph','Jessica','Thomas',
        'Sarah','Charles','Karen','Christopher','Emily','Daniel','Ashley','Matthew','Olivia',
        'Anthony','Emma','Mark','Sophia','Kevin','Chloe'];
    en_last constant text[] := array['Smith','Johnson','Williams','Brown','Jones','Garcia','Miller',
        'Davis','Rodriguez','Martinez','Hernandez','Lopez','Gonzalez','Wilson','Anderson','Thomas',
        'Taylor','Moore','Jackson','Martin','Lee','Perez','Thompson','White','Harris','Sanchez',
        'Clark','Ramirez','Lewis','Robinson','O''Brien','Nguyen'];
    ja_first_k constant text[] := array['太郎','花子','翔太','陽菜','健一','美咲','大輔','由美','拓也',
        'さくら','直樹','愛','蓮','結衣','悠斗','真由美'];
    ja_first_r constant text[] := array['Taro','Hanako','Shota','Hina','Kenichi','Misaki','Daisuke',
        'Yumi','Takuya','Sakura','Naoki','Ai','Ren','Yui','Yuto','Mayumi'];
    ja_last_k constant text[] := array['佐藤','鈴木','高橋','田中','伊藤','渡辺','山本','中村','小林',
        '加藤','吉田','山田','佐々木','山口','松本','井上'];
    ja_last_r constant text[] := array['Sato','Suzuki','Takahashi','Tanaka','Ito','Watanabe',
        'Yamamoto','Nakamura','Kobayashi','Kato','Yoshida','Yamada','Sasaki','Yamaguchi',
        'Matsumoto','Inoue'];
    th_first constant text[] := array['Somchai','Malee','Niran','Siriporn','Anan','Kanya','Prasert',
        'Ratana','Chaiwat','Pornthip'];
    th_last constant text[] := array['Saetang','Srisuk','Chaiyaporn','Wongsawat','Rattanakorn',
        'Boonmee','Kittisak','Thongchai'];
    in_first constant text[] := array['Aarav','Priya','Rohan','Ananya','Vikram','Sneha','Arjun',
        'Kavya'];
    in_last constant text[] := array['Sharma','Patel','Iyer','Reddy','Gupta','Nair','Singh','Das'];
    rec_en constant text[] := array['Please see the attached photos.',
        'Patient reports discomfort on the upper left.', 'Aligners shipped today.',
        'Can we add attachments on 13 and 23?', 'Treatment plan approved, please proceed.',
        'Refinement scan uploaded.', 'Please confirm the IPR amounts.',
        'Patient lost aligner #12, requesting replacement.', 'Case reviewed by technician.',
        'Thank you!', 'Please move tooth 22 labially by 0.5 mm.', 'Patient is moving to Texas.',
        'Retainers requested after stage 24.', 'Invoice sent to the office.',
        'The bite looks open on the left side; please check.'];
    rec_ja constant text[] := array['写真を添付しましたのでご確認ください。',
        '上顎左側に痛みがあるとのことです。', '本日アライナーを発送しました。', '治療計画を承認します。',
        'リファインメント用のスキャンをアップロードしました。', 'IPRの量を確認してください。',
        'アライナー12番を紛失したため、再作製をお願いします。', 'よろしくお願いいたします。',
        '患者様が転居されます。', 'リテーナーを希望されています。'];
begin
    if seed is null or scale is null or scale <= 0 then
        raise exception 'generate_legacy: seed must be set and scale must be > 0 (got %, %)', seed, scale;
    end if;

    -- 0. Drop the FK constraints and secondary indexes (kept in temp tables), empty the tables.
    drop table if exists lg_saved_fk, lg_saved_ix;
    create temp table lg_saved_fk on commit drop as
        select c.conrelid::regclass::text as tbl, c.conname::text as name,
               pg_get_constraintdef(c.oid) as def
        from pg_constraint c
        where c.contype = 'f' and c.conrelid = any (
            select format('public.%I', t)::regclass::oid from unnest(tables) t);
    create temp table lg_saved_ix on commit drop as
        select i.indexrelid::regclass::text as name, pg_get_indexdef(i.indexrelid) as def
        from pg_index i
        where i.indrelid = any (select format('public.%I', t)::regclass::oid from unnest(tables) t)
          and not exists (select 1 from pg_constraint c where c.conindid = i.indexrelid
                                                           and c.contype in ('p', 'u', 'x'));
    -- (these loops run over ~40 catalog rows, not over data)
    declare r record;
    begin
        for r in select * from lg_saved_fk loop
            execute format('alter table %s drop constraint %I', r.tbl, r.name);
        end loop;
        for r in select * from lg_saved_ix loop
            execute format('drop index %s', r.name);
        end loop;
    end;
    execute 'truncate table ' || (select string_agg(format('public.%I', t), ', ') from unnest(tables) t)
        || ' restart identity';

    -- 1. Fixed code tables --------------------------------------------------------------------
    -- django_content_type: ids in the order the real apps were migrated (with gaps left by
    -- removed models); stale types for models that no longer exist are kept, as Django does.
    insert into django_content_type (id, app_label, model) values
        (1, 'admin', 'logentry'), (2, 'auth', 'permission'), (3, 'auth', 'group'),
        (4, 'contenttypes', 'contenttype'), (5, 'sessions', 'session'), (6, 'sites', 'site'),
        (7, 'dispatch', 'office'), (8, 'dispatch', 'course'), (9, 'dispatch', 'product'),
        (10, 'dispatch', 'instruction'), (11, 'dispatch', 'patient'), (12, 'dispatch', 'plan'),
        (13, 'dispatch', 'project'), (14, 'dispatch', 'jaw'), (15, 'dispatch', 'file'),
        (16, 'dispatch', 'state'), (17, 'dispatch', 'record'), (18, 'dispatch', 'comment'),
        (19, 'dispatch', 'task'), (20, 'dispatch', 'template'), (21, 'dispatch', 'category'),
        (22, 'dispatch', 'role'), (24, 'dispatch', 'notification'), (25, 'dispatch', 'payment'),
        (26, 'dispatch', 'operation'), (27, 'dispatch', 'purchase'), (28, 'dispatch', 'offer'),
        (29, 'dispatch', 'discount'), (30, 'dispatch', 'doctorsetting'),
        (31, 'dispatch', 'usersetting'), (32, 'dispatch', 'bracket'), (33, 'dispatch', 'note'),
        (34, 'dispatch', 'action'), (35, 'dispatch', 'event'), (36, 'dispatch', 'globalsetting'),
        (37, 'dispatch', 'ware'), (38, 'dispatch', 'storage'), (39, 'dispatch', 'instance'),
        (40, 'dispatch', 'agent'), (41, 'dispatch', 'client'), (42, 'dispatch', 'client3d'),
        (43, 'dispatch', 'language'), (44, 'dispatch', 'link'), (45, 'dispatch', 'master'),
        (46, 'dispatch', 'reading'), (47, 'dispatch', 'order'), (48, 'dispatch', 'doctor'),
        (49, 'dispatch', 'message'), (51, 'authtoken', 'token'), (52, 'authtoken', 'tokenproxy'),
        (53, 'django_celery_beat', 'periodictask'), (54, 'django_celery_beat', 'crontabschedule'),
        (55, 'django_celery_beat', 'intervalschedule'), (56, 'django_celery_beat', 'periodictasks'),
        (57, 'django_celery_beat', 'solarschedule'), (58, 'auth', 'user'),
        (59, 'django_celery_beat', 'clockedschedule'), (60, 'django_celery_results', 'taskresult'),
        (61, 'django_celery_results', 'chordcounter'), (62, 'django_celery_results', 'groupresult'),
        (64, 'dispatch', 'reminder');
    select id into ct_patient from django_content_type where app_label = 'dispatch' and model = 'patient';
    select id into ct_user from django_content_type where app_label = 'auth' and model = 'user';
    select id into ct_instruction from django_content_type where app_label = 'dispatch' and model = 'instruction';
    select id into ct_plan from django_content_type where app_label = 'dispatch' and model = 'plan';
    select id into ct_comment from django_content_type where app_label = 'dispatch' and model = 'comment';
    select id into ct_office from django_content_type where app_label = 'dispatch' and model = 'office';
    select id into ct_file from django_content_type where app_label = 'dispatch' and model = 'file';
    select id into ct_record from django_content_type where app_label = 'dispatch' and model = 'record';

    insert into auth_group (id, name) values
        (1, 'Patient'), (2, 'Doctor'), (3, 'Sales'), (4, 'Admin'), (5, 'Master'), (6, 'Agent'),
        (7, 'Client'), (9, 'Support'), (11, 'Technician'), (13, 'Designer');

    -- dispatch_course.type: 1 main, 2 refinement, 3 any, 4 replacement, 5 invoice, 6 merchandise.
    -- Course 8's customization is truncated JSON (a planted defect).
    insert into dispatch_course (id, name, type, customization) values
        (1, 'Main', 1, '{"max_aligners": 40, "attachments": true, "ipr": true}'),
        (2, 'Refinement', 2, '{"max_aligners": 20, "requires_scan": true}'),
        (3, 'Any', 3, '{}'),
        (4, 'Replacement', 4, '{"reasons": ["breakage", "complete", "other"]}'),
        (5, 'Invoice', 5, '{"billing_only": true}'),
        (6, 'Merchandise', 6, '{"shipping": "standard"}'),
        (7, 'Lite', 1, '{"max_aligners": 14, "attachments": true}'),
        (8, 'Express refinement', 2, '{"max_aligners": 10, "turnaround_da');

    -- Products 11 and 12 are deleted (the target holds only 10). Planted JSON defects:
    -- product 9 '' , product 11 unescaped quotes, product 12 'null'.
    insert into dispatch_product (id, name, description, free, deleted, customization, type,
                                  substitute, course_id) values
        (1, 'Brius Comprehensive', 'Full treatment, both arches', false, false,
            '{"arches": "both", "stages": 40}', 1, false, 1),
        (2, 'Brius Lite', 'Mild crowding, up to 14 stages', false, false,
            '{"arches": "both", "stages": 14}', 1, false, 7),
        (3, 'Refinement', 'Additional aligners after a main course', true, false,
            '{"stages": 20}', 2, false, 2),
        (4, 'Express Refinement', 'Up to 10 stages, 5-day turnaround', false, false,
            '{"stages": 10, "express": true}', 2, false, 8),
        (5, 'Replacement Aligner', 'Lost or broken aligner', false, false,
            '{"per_arch": true}', 3, true, 4),
        (6, 'Retainer', 'Vivera-style retainer set / リテーナー', false, false,
            '{"sets": 3}', 4, false, 3),
        (7, 'Upper Only', 'Single arch (upper)', false, false, '{"arches": "upper"}', 1, false, 1),
        (8, 'Lower Only', 'Single arch (lower)', false, false, '{"arches": "lower"}', 1, false, 1),
        (9, 'Chewies (pack of 10)', 'Aligner seaters', false, false, '', 5, false, 6),
        (10, 'Invoice Adjustment', 'Manual invoice line', false, false, '{}', null, false, 5),
        (11, 'Brius Classic', 'Discontinued "classic" system', false, true,
            '{"note": "replaced by "Comprehensive" in 2020"}', 1, false, 1),
        (12, 'Starter Kit', 'Discontinued kit', true, true, 'null', 5, false, 6);

    -- 2. Users ---------------------------------------------------------------------------------
    -- User id slots: a seeded permutation decides each slot's kind (slot 1 is the first
    -- superuser); 'gone' slots are users deleted since (their ids are skipped).
    n_uslots := c_super + c_admin + c_master + c_tech + c_other + c_doc + c_gone_u + c_pat;
    drop table if exists lg_u;
    create temp table lg_u on commit drop as
    with s as (
        select k, row_number() over (order by (k = 1) desc, sandbox.rnd(k, 101, seed), k) as r
        from generate_series(1, n_uslots) k
    ), k as (
        select k as id,
            case
                when r <= c_super then 'super'
                when r <= c_super + c_admin then 'admin'
                when r <= c_super + c_admin + c_master then 'master'
                when r <= c_super + c_admin + c_master + c_tech then 'tech'
                when r <= c_super + c_admin + c_master + c_tech + c_other then 'other'
                when r <= c_super + c_admin + c_master + c_tech + c_other + c_doc then 'doctor'
                when r <= c_super + c_admin + c_master + c_tech + c_other + c_doc + c_gone_u then 'gone'
                else 'patient'
            end as kind
        from s
    )
    select id, kind,
        row_number() over (partition by kind order by id)::int as kidx,
        row_number() over (partition by kind = 'gone' order by id)::int as lidx,
        sandbox.lg_t((id - 1 + sandbox.rnd(id, 102, seed)) / n_uslots, 0.6) as date_joined,
        case when kind in ('tech', 'master', 'admin', 'super') then
                 case when sandbox.rnd(id, 103, seed) < 0.8 then 'en' else 'ja' end
             else case when sandbox.rnd(id, 103, seed) < 0.62 then 'en'
                       when sandbox.rnd(id, 103, seed) < 0.84 then 'ja'
                       when sandbox.rnd(id, 103, seed) < 0.94 then 'th'
                       else 'in' end
        end as lang
    from k;
    create unique index on lg_u (id);
    select count(*) into n_live_u from lg_u where kind <> 'gone';

    insert into auth_user (id, password, last_login, is_superuser, username, first_name, last_name,
                           email, is_staff, is_active, date_joined)
    select id, password, last_login, is_superuser, username,
        case name_kind when 0 then '' when 1 then '' when 2 then '   '
             when 4 then first_name || ' 🌸'
             when 5 then sandbox.pick(id, 135, seed, array['محمد', 'فاطمة', 'דוד', 'שרה'])
             else first_name end,
        case name_kind when 1 then '' when 3 then E'\t '
             when 5 then sandbox.pick(id, 136, seed, array['العلي', 'حداد', 'כהן', 'לוי'])
             when 6 then last_name || chr(8203)
             else last_name end,
        case when dup_kind = 0 then 'frontdesk@smileortho.com'
             when dup_kind = 1 then ' FrontDesk@SmileOrtho.com'
             when noat_kind >= 0 and email <> '' then
                 case noat_kind when 0 then replace(email, '@', '')
                                when 1 then replace(email, '@', ' at ')
                                else split_part(email, '@', 1) end
             when noat_kind >= 0 then 'no-email'
             else email end,
        is_staff, is_active, date_joined
    from (
        select u.id, u.kind, u.date_joined,
            case when sandbox.rnd(u.id, 110, seed) < 0.03 and u.kind = 'patient'
                     then '!' || substr(md5('unusable:' || seed || ':' || u.id), 1, 40)
                 else 'pbkdf2_sha256$' || (array['150000','180000','216000','260000','320000','390000'])
                          [1 + least(5, floor(extract(epoch from u.date_joined - t0) / 41000000))::int]
                      || '$' || substr(md5('salt:' || seed || ':' || u.id), 1, 12) || '$'
                      || encode(decode(md5('h1:' || seed || ':' || u.id)
                                       || md5('h2:' || seed || ':' || u.id), 'hex'), 'base64')
            end as password,
            case when sandbox.lg_defect(u.lidx, 111, seed, 0.0002, n_live_u, 1, 1) >= 0
                     then timestamptz '2099-12-31 23:59:59+00'
                 when sandbox.rnd(u.id, 112, seed) < 0.25 then null
                 else sandbox.rnd_ts(u.id, 113, seed, u.date_joined, t1) end as last_login,
            u.kind = 'super' or (u.kind = 'master' and u.kidx = 1) as is_superuser,
            case when u.id = 1 then 'admin'
                 when u.kind = 'tech' then 'tech_' || lower(n.rf) || u.id
                 when u.kind = 'doctor' then 'dr' || lower(n.rl) || u.id
                 else lower(n.rf) || '.' || lower(n.rl) || u.id end as username,
            n.f as first_name, n.l as last_name,
            case when u.kind = 'patient' and sandbox.rnd(u.id, 114, seed) < 0.03 then ''
                 when sandbox.rnd(u.id, 115, seed) < 0.02 then
                     initcap(n.rf) || '.' || n.rl || u.id || '@' || upper(d.dom) || ' '
                 when u.kind = 'doctor' then 'dr.' || lower(n.rl) || u.id || '@' || lower(n.rl) || 'ortho.com'
                 when u.kind in ('tech', 'master', 'admin', 'super') then lower(n.rf) || u.id || '@brius.com'
                 else lower(n.rf) || '.' || lower(n.rl) || u.id || '@' || d.dom end as email,
            u.kind in ('tech', 'master', 'admin', 'super') as is_staff,
            sandbox.rnd(u.id, 116, seed) < case u.kind when 'doctor' then 0.9 else 0.95 end as is_active,
            sandbox.lg_defect(u.lidx, 120, seed, 0.002, n_live_u, 3, 3) as noat_kind,
            sandbox.lg_defect(u.lidx, 121, seed, 0.003, n_live_u, 4, 2) as dup_kind,
            -- names: 0 blank first, 1 blank first and last, 2 whitespace first, 3 whitespace
            -- last, 4 emoji, 5 right-to-left, 6 zero-width (mutually exclusive)
            sandbox.lg_defect(u.lidx, 122, seed, 0.007, n_live_u, 7, 7) as name_kind
        from lg_u u
        cross join lateral (
            select sandbox.rnd_int(u.id, 104, seed, 1, 1000) as fi, sandbox.rnd_int(u.id, 105, seed, 1, 1000) as li
        ) ix
        cross join lateral (
            select
                case u.lang when 'ja' then ja_first_k[1 + ix.fi % 16] when 'th' then th_first[1 + ix.fi % 10]
                            when 'in' then in_first[1 + ix.fi % 8] else en_first[1 + ix.fi % 32] end as f,
                case u.lang when 'ja' then ja_last_k[1 + ix.li % 16] when 'th' then th_last[1 + ix.li % 8]
                            when 'in' then in_last[1 + ix.li % 8] else en_last[1 + ix.li % 32] end as l,
                case u.lang when 'ja' then ja_first_r[1 + ix.fi % 16] when 'th' then th_first[1 + ix.fi % 10]
                            when 'in' then in_first[1 + ix.fi % 8] else en_first[1 + ix.fi % 32] end as rf,
                replace(case u.lang when 'ja' then ja_last_r[1 + ix.li % 16] when 'th' then th_last[1 + ix.li % 8]
                            when 'in' then in_last[1 + ix.li % 8] else en_last[1 + ix.li % 32] end, '''', '') as rl
        ) n
        cross join lateral (
            select case u.lang
                when 'ja' then sandbox.pick(u.id, 106, seed, array['gmail.com','docomo.ne.jp','yahoo.co.jp','ezweb.ne.jp','icloud.com'])
                when 'th' then sandbox.pick(u.id, 106, seed, array['gmail.com','hotmail.co.th','yahoo.com'])
                when 'in' then sandbox.pick(u.id, 106, seed, array['gmail.com','rediffmail.com','yahoo.co.in'])
                else sandbox.pick(u.id, 106, seed, array['gmail.com','yahoo.com','icloud.com','outlook.com','hotmail.com','aol.com'])
            end as dom
        ) d
        where u.kind <> 'gone'
    ) x;

    -- Doctor-like users in seeded orders: d_rank (the first n_docpat have patients), od_rank
    -- (offices), ds_rank (settings).
    n_docpat := least(sandbox.lg_n(440, scale), c_doc, c_pat);
    n_od_docs := least(sandbox.lg_n(424, scale), c_doc, n_od);
    n_docset := least(sandbox.lg_n(1180, scale), c_doc);
    drop table if exists lg_doc;
    create temp table lg_doc on commit drop as
    with d as (
        select u.id as user_id, row_number() over (order by sandbox.rnd(u.id, 140, seed), u.id)::int as d_rank
        from lg_u u where u.kind = 'doctor'
    )
    select d.*,
        row_number() over (order by d.d_rank + sandbox.rnd(d.user_id, 141, seed) * n_docpat * 0.3, d.user_id)::int as od_rank,
        row_number() over (order by sandbox.rnd(d.user_id, 142, seed), d.user_id)::int as ds_rank
    from d;

    -- auth_user_groups: one group per kind (doctor 2, patient 1, technician 11, master 5,
    -- admin 4, others a minor group or none, superusers none); 1.5% of the doctor-like users
    -- without patients (and at least 2) lack their group-2 row; 0.8% of users are in a second group.
    insert into auth_user_groups (id, user_id, group_id)
    select row_number() over (order by user_id, ord), user_id, group_id
    from (
        select u.id as user_id, 1 as ord,
            case u.kind when 'patient' then 1 when 'tech' then 11 when 'master' then 5 when 'admin' then 4
                when 'doctor' then case when d.d_rank > n_docpat and sandbox.lg_defect(d.d_rank - n_docpat, 129,
                                                 seed, 0.015, c_doc - n_docpat, 2, 1) >= 0
                                        then null else 2 end
                when 'other' then case when sandbox.rnd(u.id, 133, seed) < 0.3 then null
                                       else sandbox.pick(u.id, 134, seed, array['3','6','7','9','13'])::int end
            end as group_id
        from lg_u u left join lg_doc d on d.user_id = u.id where u.kind <> 'gone'
        union all
        select u.id, 2,
            case u.kind when 'patient' then 2 when 'doctor' then 5 when 'tech' then 2 when 'master' then 4
                        when 'admin' then 5 when 'other' then 2 else 5 end
        from lg_u u
        where u.kind <> 'gone' and sandbox.lg_defect(u.lidx, 131, seed, 0.008, n_live_u, 3, 1) >= 0
    ) g
    where group_id is not null;

    -- 3. Offices -------------------------------------------------------------------------------
    -- Country by a seeded stratified permutation (USA 62%, India 17%, Japan 12%, Thailand 7%,
    -- others 1.6%, NULL 0.4%); free-text USA variants and NULLs also planted by lg_defect.
    drop table if exists lg_office;
    create temp table lg_office on commit drop as
    with s as (
        select k as id, row_number() over (order by sandbox.rnd(k, 201, seed), k) as r,
            (row_number() over (order by sandbox.rnd(k, 201, seed), k) - 0.5) / n_office as q,
            sandbox.lg_defect(k, 202, seed, 0.03, n_office, 2, 6) as variant
        from generate_series(1, n_office) k
    )
    select id, variant,
        case when r = n_office or q >= 0.996 then 'NULL'
             when variant >= 0 then 'USA'
             when q < 0.62 then 'USA' when q < 0.79 then 'India' when q < 0.91 then 'Japan'
             when q < 0.98 then 'Thailand'
             else sandbox.pick(id, 204, seed, array['Vietnam','Vietnam','Australia','Australia',
                 'Philippines','Singapore','France','New Zealand']) end as cc
    from s;

    insert into dispatch_office (id, name, address, apt, city, state, zip, phone, tax_rate, valid,
                                 sq_customer_id, emails, country)
    select o.id,
        case when sandbox.lg_defect(o.id, 210, seed, 0.003, n_office, 1, 2) = 0 then ''
             when sandbox.lg_defect(o.id, 210, seed, 0.003, n_office, 1, 2) = 1 then '  '
             when sandbox.rnd(o.id, 211, seed) < 0.03 then '  ' || replace(x.name, ' ', '  ') || ' '
             else x.name end,
        x.address,
        case when sandbox.rnd(o.id, 212, seed) < 0.6 then ''
             else sandbox.pick(o.id, 213, seed, array['Suite 100','Suite 210','Ste. 3B','#204','Unit 5','2F','3階']) end,
        x.city, x.state, x.zip, x.phone,
        case when sandbox.lg_defect(o.id, 214, seed, 0.02, n_office, 2, 1) >= 0
                 then case when x.tax = 0 then 10.25 else x.tax * 100 end
             else x.tax end,
        x.valid,
        case when x.valid and o.cc = 'USA' and sandbox.rnd(o.id, 215, seed) < 0.7
                 then upper(substr(md5('sq:' || seed || ':' || o.id), 1, 26)) end,
        sandbox.rnd(o.id, 216, seed) < 0.85,
        case when o.cc = 'NULL' then null
             when o.variant >= 0 then (array['usa','US','United States','U.S.A.',' USA','United States of America'])[o.variant + 1]
             else o.cc end
    from lg_office o
    cross join lateral (
        select
            case o.cc
                when 'Japan' then sandbox.pick(o.id, 220, seed, array['さくら矯正歯科','青山デンタルクリニック',
                    '田中歯科医院','スマイル矯正歯科','Ginza Orthodontics','みなと歯科'])
                when 'Thailand' then sandbox.pick(o.id, 220, seed, array['Bangkok Smile Dental','Siam Dental Clinic',
                    'Thonglor Orthodontics','Chiang Mai Dental Center'])
                when 'India' then sandbox.pick(o.id, 220, seed, array['Dr. Sharma Dental Care','Smile Studio',
                    'Apollo Dental','Bright Smile Orthodontics'])
                else sandbox.pick(o.id, 221, seed, en_last) || sandbox.pick(o.id, 220, seed, array[' Orthodontics',
                    ' Family Dentistry',' Dental Group',' Smile Center',' Orthodontic Specialists'])
            end as name,
            case o.cc
                when 'Japan' then sandbox.pick(o.id, 222, seed, array['渋谷区神宮前','港区南青山','中央区銀座','大阪市北区梅田'])
                    || sandbox.rnd_int(o.id, 223, seed, 1, 6) || '-' || sandbox.rnd_int(o.id, 224, seed, 1, 30)
                else sandbox.rnd_int(o.id, 223, seed, 1, 9999) || ' ' || sandbox.pick(o.id, 224, seed,
                    array['Main St','Oak Ave','Sukhumvit Rd','MG Road','Broadway','Elm Street','Park Blvd','Market St'])
            end as address,
            case o.cc
                when 'USA' then sandbox.pick(o.id, 225, seed, array['San Francisco','Los Angeles','Houston','Austin',
                    'New York','Chicago','Miami','Seattle','Phoenix','Denver','San Jose','Dallas'])
                when 'Japan' then sandbox.pick(o.id, 225, seed, array['Tokyo','Osaka','Yokohama','Nagoya','東京','福岡'])
                when 'Thailand' then sandbox.pick(o.id, 225, seed, array['Bangkok','Chiang Mai','Phuket'])
                when 'India' then sandbox.pick(o.id, 225, seed, array['Mumbai','Bengaluru','Delhi','Chennai'])
                else sandbox.pick(o.id, 225, seed, array['Hanoi','Sydney','Manila','Singapore','Paris','Auckland'])
            end as city,
            case o.cc
                when 'USA' then case when sandbox.rnd(o.id, 226, seed) < 0.05
                                     then sandbox.pick(o.id, 227, seed, array[' ca','tx ','Calif.','n.y.','Texas'])
                                     else sandbox.pick(o.id, 227, seed, array['CA','CA','CA','TX','TX','NY','FL','WA','AZ','CO','IL','NJ']) end
                when 'Japan' then sandbox.pick(o.id, 227, seed, array['Tokyo','Osaka','Kanagawa','東京都',''])
                when 'India' then sandbox.pick(o.id, 227, seed, array['MH','KA','DL','TN'])
                else '' end as state,
            case o.cc
                when 'USA' then lpad(sandbox.rnd_int(o.id, 228, seed, 1001, 99950)::text, 5, '0')
                                || case when sandbox.rnd(o.id, 229, seed) < 0.1 then '-' || lpad(sandbox.rnd_int(o.id, 230, seed, 1, 9999)::text, 4, '0') else '' end
                when 'Japan' then sandbox.rnd_int(o.id, 228, seed, 100, 999) || '-' || lpad(sandbox.rnd_int(o.id, 230, seed, 0, 9999)::text, 4, '0')
                when 'India' then sandbox.rnd_int(o.id, 228, seed, 110001, 699999)::text
                else sandbox.rnd_int(o.id, 228, seed, 10000, 99999)::text end as zip,
            case o.cc
                when 'USA' then '(' || sandbox.rnd_int(o.id, 231, seed, 201, 989) || ') 555-' || lpad(sandbox.rnd_int(o.id, 232, seed, 0, 9999)::text, 4, '0')
                when 'Japan' then '+81 3-' || sandbox.rnd_int(o.id, 231, seed, 1000, 9999) || '-' || sandbox.rnd_int(o.id, 232, seed, 1000, 9999)
                when 'Thailand' then '+66 2 ' || sandbox.rnd_int(o.id, 231, seed, 100, 999) || ' ' || sandbox.rnd_int(o.id, 232, seed, 1000, 9999)
                when 'India' then '+91 ' || sandbox.rnd_int(o.id, 231, seed, 70000, 99999) || ' ' || sandbox.rnd_int(o.id, 232, seed, 10000, 99999)
                else '' end as phone,
            case o.cc
                when 'USA' then (array[0.0000, 0.0600, 0.0625, 0.0700, 0.0725, 0.0825, 0.0875, 0.0950, 0.1025])
                                [sandbox.rnd_int(o.id, 233, seed, 1, 9)]::numeric(7, 4)
                when 'Japan' then case when sandbox.rnd(o.id, 233, seed) < 0.7 then 0.1000 else 0 end
                when 'Thailand' then 0.0700
                when 'India' then 0.1800
                else 0.0000 end::numeric(7, 4) as tax,
            sandbox.rnd(o.id, 234, seed) < 0.61 as valid
    ) x;

    -- 4. Doctors: ranks, offices, settings ----------------------------------------------------
    -- dispatch_office_doctors: n_od_docs doctors with one office, the first (n_od - n_od_docs)
    -- of them in a seeded order with a second, different office.
    insert into dispatch_office_doctors (id, office_id, user_id)
    select row_number() over (order by sandbox.rnd(user_id * 2 + j, 150, seed), user_id, j), office_id, user_id
    from (
        select l.user_id, 1 as j, sandbox.rnd_int(l.user_id, 151, seed, 1, n_office)::int as office_id
        from (select d.user_id from lg_doc d where d.od_rank <= n_od_docs) l
        union all
        select l.user_id, 2,
            (((sandbox.rnd_int(l.user_id, 151, seed, 1, n_office) - 1)
              + sandbox.rnd_int(l.user_id, 152, seed, 1, greatest(1, n_office - 1))) % n_office + 1)::int
        from (select d.user_id, row_number() over (order by sandbox.rnd(d.user_id, 153, seed), d.user_id) as r2
              from lg_doc d where d.od_rank <= n_od_docs) l
        where n_office > 1 and l.r2 <= n_od - n_od_docs
    ) l;

    drop table if exists lg_docoff;
    create temp table lg_docoff on commit drop as
        select user_id, array_agg(office_id order by id) as offs
        from dispatch_office_doctors group by user_id;

    -- dispatch_doctorsetting: n_docset doctor-like users (seeded choice).
    insert into dispatch_doctorsetting (id, user_id, clinical_preferences, sq_customer_id,
        promised_payment, credit, installment_payments, baa_agreed_at, eula_agreed_at, company_account)
    select row_number() over (order by d.user_id), d.user_id,
        case when sandbox.lg_defect(d.ds_rank, 161, seed, 0, n_docset, 1, 1) >= 0
                 then sandbox.lg_big_text(d.user_id, seed)
             when sandbox.lg_defect(d.ds_rank, 160, seed, 0.01, n_docset, 3, 3) >= 0
                 then sandbox.lg_odd_text(case when x.pref = '' then 'Prefers attachments on canines' else x.pref end,
                                          sandbox.lg_defect(d.ds_rank, 160, seed, 0.01, n_docset, 3, 3), d.user_id, seed)
             else x.pref end,
        case when sandbox.rnd(d.user_id, 162, seed) < 0.6
             then upper(substr(md5('sqd:' || seed || ':' || d.user_id), 1, 26)) end,
        sandbox.rnd(d.user_id, 163, seed) < 0.15,
        case when sandbox.rnd(d.user_id, 164, seed) < 0.8 then 0
             else round((25 + sandbox.rnd(d.user_id, 165, seed) * 475)::numeric, 2) end,
        (array[0, 0, 0, 0, 0, 0, 0, 3, 6, 12])[sandbox.rnd_int(d.user_id, 166, seed, 1, 10)],
        case when sandbox.rnd(d.user_id, 167, seed) < 0.5 then null
             else sandbox.rnd_ts(d.user_id, 168, seed, greatest(u.date_joined, timestamptz '2020-03-01 00:00:00+00'), t1) end,
        case when sandbox.rnd(d.user_id, 169, seed) < 0.3 then null
             else sandbox.rnd_ts(d.user_id, 170, seed, u.date_joined, t1) end,
        sandbox.rnd(d.user_id, 171, seed) < 0.05
    from lg_doc d
    join lg_u u on u.id = d.user_id
    cross join lateral (
        select case when sandbox.rnd(d.user_id, 172, seed) < 0.4 then ''
                    when sandbox.rnd(d.user_id, 172, seed) < 0.8 then sandbox.pick(d.user_id, 173, seed, array[
                        'Prefers attachments on canines.', 'No IPR on lower incisors.',
                        'Overcorrect rotations by 10%.', 'Always include passive aligners.',
                        'Send treatment plans on weekdays only.', 'Use bite ramps for deep bites.',
                        'Limit IPR to 0.3 mm per contact.'])
                    else sandbox.pick(d.user_id, 173, seed, array['犬歯にアタッチメントを希望。',
                        '下顎前歯のIPRは不可。', '回転は10%過矯正でお願いします。',
                        'パッシブアライナーを必ず含めてください。'])
               end as pref
    ) x
    where d.ds_rank <= n_docset;

    -- 5. Patients ------------------------------------------------------------------------------
    -- Slot i is the i-th patient-kind user. Doctors: the n_docpat top-ranked doctor-like users,
    -- each with at least one patient, the rest apportioned by weight 1 / (r' + 12.3)^1.651
    -- (r' the rank rescaled to 440 doctors): median ~4, max ~450 patients per doctor at scale 1.
    n_docpat := least(n_docpat, c_pat);
    select count(*) into n_nondoc from lg_u where kind in ('master', 'tech', 'other', 'admin');
    drop table if exists lg_p;
    create temp table lg_p on commit drop as
    with perm as (
        select u.kidx as id, u.id as user_id, u.date_joined,
            row_number() over (order by sandbox.rnd(u.kidx, 301, seed), u.kidx) - 1 as pr
        from lg_u u where u.kind = 'patient'
    ), dw as (
        select d.user_id, d.d_rank,
            (1e9 / power(d.d_rank * 440.0 / n_docpat + 12.3, 1.651))::bigint::numeric as w
        from lg_doc d where d.d_rank <= n_docpat
    ), dc as (
        select user_id, d_rank, w, sum(w) over (order by d_rank) as cw, sum(w) over () as tw from dw
    ), dslot as (
        select dc.user_id, s as pr
        from dc
        cross join lateral generate_series(
            (dc.d_rank - 1) + floor((c_pat - n_docpat) * (dc.cw - dc.w) / dc.tw)::bigint,
            dc.d_rank + floor((c_pat - n_docpat) * dc.cw / dc.tw)::bigint - 1) s
    )
    select p.id, p.user_id, p.date_joined,
        sandbox.lg_defect(p.id, 302, seed, 0.003, c_pat, 2, 1) >= 0 as gone,
        ds.user_id as doctor_id,
        case when sandbox.rnd(p.id, 305, seed) < 0.08 then null
             when o.offs is null then case when sandbox.rnd(p.id, 306, seed) < 0.5
                                           then sandbox.rnd_int(p.id, 307, seed, 1, n_office)::int end
             when sandbox.rnd(p.id, 308, seed) < 0.85 then o.offs[1]
             else o.offs[1 + floor(sandbox.rnd(p.id, 309, seed) * cardinality(o.offs))::int] end as office_id,
        least(t1, p.date_joined + interval '7 days' * sandbox.rnd(p.id, 310, seed)) as submitted_at,
        sandbox.lg_b36(p.id + 406) as suffix0
    from perm p
    join dslot ds on ds.pr = p.pr
    left join lg_docoff o on o.user_id = ds.user_id;
    create unique index on lg_p (id);
    -- defects of the inserted rows are drawn over their live index (1..n_live_p), so that every
    -- forced one lands on a row that exists
    alter table lg_p add column lidx int;
    update lg_p p set lidx = q.l
    from (select id, row_number() over (partition by gone order by id)::int as l from lg_p) q
    where q.id = p.id;
    select count(*) into n_live_p from lg_p where not gone;
    -- patients whose doctor_id is a user outside the doctor group (master, technician, other)
    update lg_p p set doctor_id = nd.user_id
    from (select u.id as user_id, row_number() over (order by u.id) as idx
          from lg_u u where u.kind in ('master', 'tech', 'other', 'admin')) nd
    where not p.gone and sandbox.lg_defect(p.lidx, 303, seed, 0.003, n_live_p, 3, 1) >= 0
      and nd.idx = 1 + sandbox.rnd_int(p.id, 304, seed, 0, greatest(n_nondoc, 1) - 1);

    insert into dispatch_patient (id, user_id, doctor_id, office_id, birthdate, sex, suffix, archived,
        suspended, status, schemes, submitted_at, updated_at)
    select p.id, p.user_id, p.doctor_id, p.office_id,
        case sandbox.lg_defect(p.lidx, 313, seed, 0.001, n_live_p, 2, 2)
            when 0 then date '1900-01-01' when 1 then date '2099-01-01'
            else case when sandbox.rnd(p.id, 314, seed) < 0.08 then null
                      else date '1950-01-01' + (power(sandbox.rnd(p.id, 315, seed), 0.6) * 22000)::int end
        end,
        case when sandbox.lg_defect(p.lidx, 312, seed, 0.001, n_live_p, 2, 1) >= 0 then 7
             when sandbox.rnd(p.id, 316, seed) < 0.35 then 1
             when sandbox.rnd(p.id, 316, seed) < 0.90 then 2
             when sandbox.rnd(p.id, 316, seed) < 0.92 then 0
             else null end,
        case when sandbox.rnd(p.id, 317, seed) < 0.002 then '' else p.suffix0 end,
        x.archived,
        sandbox.rnd(p.id, 318, seed) < 0.02,
        case when sandbox.lg_defect(p.lidx, 311, seed, 0.001, n_live_p, 2, 1) >= 0 then 42
             when x.archived and sandbox.rnd(p.id, 319, seed) < 0.8 then 10
             when sandbox.rnd(p.id, 320, seed) < 0.62 then 1
             when sandbox.rnd(p.id, 320, seed) < 0.82 then 4
             when sandbox.rnd(p.id, 320, seed) < 0.91 then 2
             when sandbox.rnd(p.id, 320, seed) < 0.97 then 3
             else 10 end,
        case when sandbox.lg_defect(p.lidx, 321, seed, 0.002, n_live_p, 4, 4) >= 0
                 then sandbox.lg_badjson(x.schemes, sandbox.lg_defect(p.lidx, 321, seed, 0.002, n_live_p, 4, 4), false)
             else x.schemes end,
        p.submitted_at,
        p.submitted_at + (t1 - p.submitted_at) * sandbox.rnd(p.id, 322, seed)
    from lg_p p
    cross join lateral (
        select sandbox.rnd(p.id, 323, seed) < 0.08 as archived,
            case when sandbox.rnd(p.id, 324, seed) < 0.45 then '{}'
                 when sandbox.rnd(p.id, 324, seed) < 0.75 then
                     '{"plan": "' || sandbox.pick(p.id, 325, seed, array['standard','lite','premium','monthly'])
                     || '", "aligners": ' || sandbox.rnd_int(p.id, 326, seed, 6, 48)
                     || ', "retainers": ' || (sandbox.rnd(p.id, 327, seed) < 0.5)::text || '}'
                 else '{"upper": {"stages": ' || sandbox.rnd_int(p.id, 326, seed, 6, 40)
                     || ', "ipr": true}, "lower": {"stages": ' || sandbox.rnd_int(p.id, 328, seed, 0, 40)
                     || ', "ipr": false}, "notes": "' || sandbox.pick(p.id, 329, seed,
                        array['mild crowding', 'spacing', '叢生', 'deep bite', 'open bite', ''])
                     || '"}'
            end as schemes
    ) x
    where not p.gone;

    -- 6. Instructions and jaws ------------------------------------------------------------------
    -- n_ins slots apportioned over the patient slots (gone patients included: their
    -- instructions are the orphans), ids in submission order; gone instruction slots skipped.
    drop table if exists lg_i;
    create temp table lg_i on commit drop as
    with pw as (
        select p.id as pid,
            (300 + floor(-ln(1 - sandbox.rnd(p.id, 401, seed)) * 1000) + case when p.gone then 3000 else 0 end)::numeric as w
        from lg_p p
    ), pc as (
        select pid, w, sum(w) over (order by pid) as cw, sum(w) over () as tw from pw
    ), pr as (
        select pid, floor(n_ins * (cw - w) / tw)::int as lo, floor(n_ins * cw / tw)::int as hi from pc
    ), sl as (
        select pr.pid, j, pr.hi - pr.lo as cnt,
            case when j = 1 then least(t1, p.submitted_at + interval '5 days' * sandbox.rnd(pr.pid * 64 + j, 402, seed))
                 else least(t1, p.submitted_at + (t1 - p.submitted_at) * ((j - 1 + sandbox.rnd(pr.pid * 64 + j, 402, seed)) / (pr.hi - pr.lo)))
            end as t
        from pr
        join lg_p p on p.id = pr.pid
        cross join lateral generate_series(1, pr.hi - pr.lo) j
    ), ord as (
        select row_number() over (order by t, pid, j)::int as id, pid, j, cnt, t from sl
    ), c as (
        select ord.*,
            case when j = 1 then case when sandbox.rnd(id, 403, seed) < 0.85 then 1
                                      when sandbox.rnd(id, 403, seed) < 0.95 then 7
                                      else sandbox.pick(id, 404, seed, array['2','3','4'])::int end
                 else case when sandbox.rnd(id, 403, seed) < 0.40 then 2
                           when sandbox.rnd(id, 403, seed) < 0.70 then 4
                           when sandbox.rnd(id, 403, seed) < 0.78 then 3
                           when sandbox.rnd(id, 403, seed) < 0.86 then 1
                           when sandbox.rnd(id, 403, seed) < 0.93 then 5
                           when sandbox.rnd(id, 403, seed) < 0.98 then 6
                           else 8 end
            end as course_id,
            sandbox.rnd(id, 405, seed) as rj
        from ord
    ), c2 as (
        select c.*,
            case course_id
                when 1 then case when sandbox.rnd(id, 406, seed) < 0.76 then 1
                                 when sandbox.rnd(id, 406, seed) < 0.86 then 7
                                 when sandbox.rnd(id, 406, seed) < 0.94 then 8 else 11 end
                when 7 then 2 when 2 then 3 when 8 then 4 when 4 then 5 when 3 then 6 when 5 then 10
                else case when sandbox.rnd(id, 406, seed) < 0.8 then 9 else 12 end
            end as product_id,
            course_id not in (5, 6) and rj < 0.94 as has_up,
            course_id not in (5, 6) and (rj < 0.88 or rj between 0.94 and 0.98) as has_low,
            sandbox.lg_defect(id, 410, seed, 0.025, n_ins, 2, 1) >= 0 as extra,
            sandbox.lg_defect(id, 411, seed, 0.001, n_ins, 2, 1) >= 0 as gone
        from c
    )
    select c2.*,
        (sum(c2.has_up::int + c2.has_low::int + c2.extra::int) over (order by c2.id)
         - (c2.has_up::int + c2.has_low::int + c2.extra::int))::int as jaw_base
    from c2;
    create unique index on lg_i (id);
    alter table lg_i add column lidx int;
    update lg_i i set lidx = q.l
    from (select id, row_number() over (partition by gone order by id)::int as l from lg_i) q
    where q.id = i.id;
    select count(*) into n_live_i from lg_i where not gone;
    select count(*) into n_gone_i from lg_i where gone;

    insert into dispatch_jaw (id, bond_teeth, extract_teeth, reason, product_id, labial)
    select j.id,
        case when sandbox.rnd(j.id, 450, seed) < 0.5 then ''
             when j.side = 'l' then sandbox.pick(j.id, 451, seed, array['33,43', '34,44', '33,34,43,44',
                 '35,45', '31,32,41,42', '33,34,35,43,44,45', '36,46'])
             else sandbox.pick(j.id, 451, seed, array['13,23', '14,24', '13,14,23,24', '15,25',
                 '11,12,21,22', '13,14,15,23,24,25', '16,26']) end,
        case when sandbox.rnd(j.id, 452, seed) < 0.9 then ''
             when j.side = 'l' then sandbox.pick(j.id, 453, seed, array['34,44', '35,45', '38,48', '31'])
             else sandbox.pick(j.id, 453, seed, array['14,24', '15,25', '18,28', '12']) end,
        case when j.course_id = 4 then case when sandbox.rnd(j.id, 454, seed) < 0.5 then 1
                                            when sandbox.rnd(j.id, 454, seed) < 0.8 then 2 else 3 end end,
        case when sandbox.rnd(j.id, 455, seed) < 0.05 then null else j.product_id end,
        sandbox.rnd(j.id, 456, seed) < 0.04
    from (
        select i.jaw_base + 1 as id, case when sandbox.rnd(i.id, 457, seed) < 0.5 then 'u' else 'l' end as side,
               i.course_id, i.product_id
        from lg_i i where i.extra
        union all
        select i.jaw_base + i.extra::int + 1, 'u', i.course_id, i.product_id from lg_i i where i.has_up
        union all
        select i.jaw_base + i.extra::int + i.has_up::int + 1, 'l', i.course_id, i.product_id from lg_i i where i.has_low
    ) j;

    insert into dispatch_instruction (id, patient_id, submitted_at, updated_at, deleted, status, cbct,
        model, scanner, objective, conditions, "order", lower_jaw_id, upper_jaw_id, comprehensive,
        accept_extraction, scanner_notes, notes, complaint, suffix, course_id, exports, price)
    select i.id, i.pid,
        case when x.far = 0 then timestamptz '1900-01-01 00:00:00+00' else i.t end,
        case when x.far = 1 then timestamptz '2099-12-31 23:59:59+00' else x.upd end,
        sandbox.rnd(i.id, 420, seed) < 0.04,
        case when sandbox.lg_defect(i.lidx, 421, seed, 0.001, n_live_i, 2, 1) >= 0 then 99
             else 1 + width_bucket(sandbox.rnd(i.id, 422, seed),
                                   array[0.03, 0.13, 0.23, 0.28, 0.88, 0.94, 0.97]::float8[]) - 1 end,
        sandbox.rnd(i.id, 423, seed) < 0.1,
        case when sandbox.rnd(i.id, 424, seed) < 0.3 then null else sandbox.rnd_int(i.id, 425, seed, 1, 3)::int end,
        case when sandbox.rnd(i.id, 426, seed) < 0.4 then null else sandbox.rnd_int(i.id, 427, seed, 1, 7)::int end,
        case when x.ja then sandbox.pick(i.id, 428, seed, array['叢生の改善', '正中の改善', '空隙閉鎖',
                 '前歯の配列', '']) 
             else sandbox.pick(i.id, 428, seed, array['Close spaces', 'Align anterior teeth',
                 'Correct crossbite', 'Level the curve of Spee', 'Improve smile esthetics', '']) end,
        case when x.ja then sandbox.pick(i.id, 429, seed, array['叢生', '過蓋咬合', '開咬', '空隙歯列', ''])
             else sandbox.pick(i.id, 429, seed, array['Class I crowding', 'Class II div 1', 'Open bite',
                 'Deep bite', 'Spacing', 'Crossbite', '']) end,
        i.j,
        case when i.has_low then i.jaw_base + i.extra::int + i.has_up::int + 1 end,
        case when i.has_up then i.jaw_base + i.extra::int + 1 end,
        case when sandbox.rnd(i.id, 430, seed) < 0.3 then null else sandbox.rnd(i.id, 431, seed) < 0.6 end,
        case when sandbox.rnd(i.id, 432, seed) < 0.4 then null else sandbox.rnd(i.id, 433, seed) < 0.2 end,
        case when sandbox.rnd(i.id, 434, seed) < 0.85 then ''
             else sandbox.pick(i.id, 435, seed, array['iTero scan uploaded', 'Scan retaken, use the second one',
                 '3Shape scan', 'スキャン再提出']) end,
        case when sandbox.lg_defect(i.lidx, 436, seed, 0, n_live_i, 1, 1) >= 0 then sandbox.lg_big_text(i.id, seed)
             when sandbox.lg_defect(i.lidx, 437, seed, 0.003, n_live_i, 3, 3) >= 0
                 then sandbox.lg_odd_text(coalesce(nullif(x.notes, ''), 'Please check the bite'),
                                          sandbox.lg_defect(i.lidx, 437, seed, 0.003, n_live_i, 3, 3), i.id, seed)
             else x.notes end,
        case when x.ja then sandbox.pick(i.id, 438, seed, array['前歯のガタガタが気になる', 'すきっ歯', '出っ歯', ''])
             else sandbox.pick(i.id, 438, seed, array['Crooked front teeth', 'Gap between teeth', 'Overbite',
                 'Crowding on the lower teeth', '']) end,
        case when sandbox.rnd(i.id, 439, seed) < 0.95 then p.suffix0
             when sandbox.rnd(i.id, 439, seed) < 0.98 then ''
             else sandbox.lg_b36(i.pid + 50000) end,
        i.course_id,
        case when sandbox.lg_defect(i.lidx, 440, seed, 0.002, n_live_i, 4, 4) >= 0
                 then sandbox.lg_badjson(x.exports, sandbox.lg_defect(i.lidx, 440, seed, 0.002, n_live_i, 4, 4), false)
             else x.exports end,
        case i.course_id
            when 1 then (array[1495, 1695, 1795, 1995, 2495])[sandbox.rnd_int(i.id, 441, seed, 1, 5)]
            when 7 then 995
            when 2 then case when sandbox.rnd(i.id, 441, seed) < 0.8 then 0 else 295 end
            when 8 then 195
            when 4 then (array[99, 149, 199, 249])[sandbox.rnd_int(i.id, 441, seed, 1, 4)]
            when 3 then (array[0, 150, 300, 500])[sandbox.rnd_int(i.id, 441, seed, 1, 4)]
            when 5 then round((25 + sandbox.rnd(i.id, 441, seed) * 475)::numeric, 2)
            else round((15 + sandbox.rnd(i.id, 441, seed) * 105)::numeric, 2)
        end::numeric(10, 2)
    from lg_i i
    join lg_p p on p.id = i.pid
    cross join lateral (
        select sandbox.rnd(i.id, 442, seed) < 0.25 as ja,
            sandbox.lg_defect(i.lidx, 443, seed, 0.0002, n_live_i, 2, 2) as far,
            i.t + (least(t1, i.t + interval '120 days') - i.t) * sandbox.rnd(i.id, 444, seed) as upd,
            case when sandbox.rnd(i.id, 445, seed) < 0.5 then null
                 when sandbox.rnd(i.id, 445, seed) < 0.6 then ''
                 else sandbox.pick(i.id, 446, seed, array['Patient wants to finish before the wedding.',
                     'Rush case', 'Use the older scan for the lower arch.', '至急対応をお願いします。',
                     'Refinement after stage 18.', 'Doctor will do IPR at delivery.']) end as notes,
            case when sandbox.rnd(i.id, 447, seed) < 0.75 then '{}'
                 else '{"stl": "exports/' || substr(md5('exp:' || seed || ':' || i.id), 1, 20)
                      || '.zip", "exported_at": "'
                      || to_char(i.t + interval '3 days', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || '"}' end as exports
    ) x
    where not i.gone;

    -- 7. Records ---------------------------------------------------------------------------------
    -- n_rec slots in time order; targets: patients 78%, users 14%, instructions 8% (ids of rows
    -- that existed by then); not routable types and missing targets planted; gone slots skipped.
    drop table if exists lg_gone;
    create temp table lg_gone on commit drop as
        select 'p'::text as kind, row_number() over (order by id)::int as idx, id from lg_p where gone
        union all
        select 'i', row_number() over (order by id)::int, id from lg_i where gone
        union all
        select 'u', row_number() over (order by id)::int, id from lg_u where kind = 'gone';
    select count(*) into n_gone_p from lg_p where gone;

    drop table if exists lg_r;
    create temp table lg_r on commit drop as
    with b as (
        select k as id, (k - 1 + sandbox.rnd(k, 501, seed)) / n_rec as x,
            sandbox.lg_defect(k, 502, seed, 0.002, n_rec, 2, 1) >= 0 as gone,
            sandbox.lg_defect(k, 503, seed, 0.015, n_rec, 5, 5) as notr,
            sandbox.lg_defect(k, 504, seed, 0.002, n_rec, 3, 3) as miss,
            sandbox.rnd(k, 505, seed) as rk
        from generate_series(1, n_rec) k
    ), t as (
        select b.*,
            case when miss = 0 and n_gone_p > 0 then 'p' when miss = 1 then 'u' when miss = 2 and n_gone_i > 0 then 'i'
                 when notr in (0, 1) then 'plan' when notr = 2 then 'comment' when notr = 3 then 'office'
                 when notr = 4 then 'null'
                 when rk < 0.78 then 'p' when rk < 0.92 then 'u' else 'i' end as tkind,
            miss >= 0 and (miss = 1 or (miss = 0 and n_gone_p > 0) or (miss = 2 and n_gone_i > 0)) as forced_missing
        from b
    ), tt as (
        select t.*,
            case when t.forced_missing then g.id
                 when t.tkind = 'p' then 1 + floor(sandbox.rnd(t.id, 506, seed) * c_pat * power(t.x, 0.833))::int
                 when t.tkind = 'u' then lu.id
                 when t.tkind = 'i' then 1 + floor(sandbox.rnd(t.id, 506, seed) * n_ins * t.x)::int
                 when t.tkind = 'plan' then 1 + floor(sandbox.rnd(t.id, 506, seed) * n_plan * t.x)::int
                 when t.tkind = 'comment' then 1 + floor(sandbox.rnd(t.id, 506, seed) * n_comment * t.x)::int
                 else sandbox.rnd_int(t.id, 506, seed, 1, n_office)::int end as target_id
        from t
        left join lg_gone g on forced_missing and g.kind = t.tkind
            and g.idx = 1 + sandbox.rnd_int(t.id, 507, seed, 0,
                (case t.tkind when 'p' then n_gone_p when 'i' then n_gone_i else c_gone_u end) - 1)
        left join (select id, row_number() over (order by id) as idx from lg_u where kind <> 'gone') lu
            on not t.forced_missing and t.tkind = 'u'
            and lu.idx = 1 + floor(sandbox.rnd(t.id, 508, seed) * n_live_u * power(t.x, 0.833))
    )
    select tt.id, tt.x, tt.gone, tt.tkind, tt.target_id,
        sandbox.lg_t(tt.x, 0.5) as created_at,
        case tt.tkind when 'p' then ct_patient when 'u' then ct_user when 'i' then ct_instruction
                      when 'plan' then ct_plan when 'comment' then ct_comment when 'office' then ct_office
        end as target_type_id,
        case when tt.tkind = 'p' and sandbox.rnd(tt.id, 510, seed) < 0.45 and p.id is not null then p.doctor_id
             when tt.tkind = 'p' and sandbox.rnd(tt.id, 510, seed) >= 0.75
                  and sandbox.rnd(tt.id, 510, seed) < 0.95 and p.id is not null then p.user_id
             else a.id end as author_id
    from tt
    left join lg_p p on tt.tkind = 'p' and p.id = tt.target_id
    left join lg_u a on a.kind = case when sandbox.rnd(tt.id, 511, seed) < 0.6 then 'tech'
                                      when sandbox.rnd(tt.id, 511, seed) < 0.7 then 'master'
                                      when sandbox.rnd(tt.id, 511, seed) < 0.95 then 'doctor'
                                      else 'none' end
        and a.kidx = 1 + sandbox.rnd_int(tt.id, 512, seed, 0,
            (case when sandbox.rnd(tt.id, 511, seed) < 0.6 then c_tech
                  when sandbox.rnd(tt.id, 511, seed) < 0.7 then c_master else c_doc end) - 1);
    create unique index on lg_r (id);
    alter table lg_r add column lidx int;
    update lg_r r set lidx = q.l
    from (select id, row_number() over (partition by gone order by id)::int as l from lg_r) q
    where q.id = r.id;
    select count(*) into n_live_r from lg_r where not gone;
    select count(*) into n_gone_r from lg_r where gone;
    insert into lg_gone select 'r', row_number() over (order by id)::int, id from lg_r where gone;

    insert into dispatch_record (id, target_type_id, target_id, type, created_at, text, author_id,
                                 group_id, public)
    select r.id, r.target_type_id, r.target_id,
        case when sandbox.lg_defect(r.lidx, 520, seed, 0.001, n_live_r, 2, 1) >= 0 then 13
             when sandbox.rnd(r.id, 521, seed) < 0.01 then null
             else (array[3, 5, 6, 8])[1 + width_bucket(sandbox.rnd(r.id, 522, seed), array[0.30, 0.70, 0.89]::float8[])]
        end,
        case when sandbox.lg_defect(r.lidx, 523, seed, 0.0001, n_live_r, 1, 1) >= 0
             then timestamptz '1900-01-01 00:00:00+00' else r.created_at end,
        case when sandbox.lg_defect(r.lidx, 524, seed, 0.00003, n_live_r, 2, 1) >= 0 then sandbox.lg_big_text(r.id, seed)
             when sandbox.lg_defect(r.lidx, 525, seed, 0.006, n_live_r, 3, 3) >= 0
                 then sandbox.lg_odd_text(x.txt, sandbox.lg_defect(r.lidx, 525, seed, 0.006, n_live_r, 3, 3), r.id, seed)
             else x.txt end,
        r.author_id,
        case when sandbox.rnd(r.id, 526, seed) < 0.7 then null
             when sandbox.rnd(r.id, 526, seed) < 0.8 then 2
             when sandbox.rnd(r.id, 526, seed) < 0.95 then 11 else 4 end,
        case when sandbox.rnd(r.id, 527, seed) < 0.15 then null else sandbox.rnd(r.id, 528, seed) < 0.65 end
    from lg_r r
    cross join lateral (
        select case when sandbox.rnd(r.id, 529, seed) < 0.7
                    then sandbox.pick(r.id, 530, seed, rec_en)
                         || case when sandbox.rnd(r.id, 531, seed) < 0.5 then ' ' || sandbox.pick(r.id, 532, seed, rec_en) else '' end
                    else sandbox.pick(r.id, 530, seed, rec_ja)
                         || case when sandbox.rnd(r.id, 531, seed) < 0.5 then sandbox.pick(r.id, 532, seed, rec_ja) else '' end
               end as txt
    ) x
    where not r.gone;

    -- 8. Files ----------------------------------------------------------------------------------
    -- Half of the files belong to an instruction slot (apportioned; the gone slots' files are the
    -- orphans), 3% are attached to a record slot, the rest have neither. Ids in upload order.
    n_file_ins := round(n_file * 0.5);
    n_file_rec := least(n_file - n_file_ins, greatest(3, round(n_file * 0.03)))::int;
    drop table if exists lg_f;
    create temp table lg_f on commit drop as
    with iw as (
        select i.id as iid, i.t,
            (200 + floor(-ln(1 - sandbox.rnd(i.id, 601, seed)) * 1000) + case when i.gone then 3000 else 0 end)::numeric as w
        from lg_i i
    ), ic as (
        select iid, t, w, sum(w) over (order by iid) as cw, sum(w) over () as tw from iw
    ), k as (
        select 1 as src, s as key, ic.iid as instruction_id, null::int as record_id,
            least(t1, ic.t + interval '40 days' * power(sandbox.rnd(s, 602, seed), 3)) as created_at
        from ic
        cross join lateral generate_series(floor(n_file_ins * (ic.cw - ic.w) / ic.tw)::int + 1,
                                           floor(n_file_ins * ic.cw / ic.tw)::int) s
        union all
        select 2, s, null,
            coalesce(g.id, r.id),
            least(t1, r.created_at + interval '60 seconds' * sandbox.rnd(s, 613, seed))
        from generate_series(1, n_file_rec) s
        join lg_r r on r.id = 1 + floor(sandbox.rnd(s, 611, seed) * n_rec)::int
        left join lg_gone g on g.kind = 'r' and sandbox.lg_defect(s, 612, seed, 0.003, n_file_rec, 2, 1) >= 0
            and g.idx = 1 + sandbox.rnd_int(s, 614, seed, 0, greatest(n_gone_r, 1) - 1)
        union all
        select 3, s, null, null, sandbox.lg_t(sandbox.rnd(s, 621, seed), 0.5)
        from generate_series(1, n_file - n_file_ins - n_file_rec) s
    )
    select row_number() over (order by created_at, src, key)::int as id, src, instruction_id,
           record_id, created_at
    from k;

    insert into dispatch_file (id, uid, name, ext, size, type, instruction_id, created_at, description,
                               product_id, parameters, record_id, status)
    select f.id,
        md5('file:' || seed || ':' || f.id),
        case when x.unk >= 0 then 'file_' || f.id || '.' || x.ext
             when sandbox.lg_defect(f.id, 632, seed, 0.0001, n_file, 1, 1) >= 0
                 then replace(x.name, '.', chr(8203) || '.')
             else x.name end,
        case when x.unk >= 0 then x.ext
             when x.cat = 'jpg' and sandbox.rnd(f.id, 634, seed) < 0.02 then 'JPG'
             else x.cat end,
        case x.cat
            when 'stl' then sandbox.rnd_int(f.id, 635, seed, 2000000, 40000000)
            when 'jpg' then sandbox.rnd_int(f.id, 635, seed, 200000, 6000000)
            when 'png' then sandbox.rnd_int(f.id, 635, seed, 100000, 3000000)
            when 'pdf' then sandbox.rnd_int(f.id, 635, seed, 50000, 3000000)
            when 'zip' then sandbox.rnd_int(f.id, 635, seed, 10000000, 200000000)
            when 'dcm' then sandbox.rnd_int(f.id, 635, seed, 50000000, 400000000)
            else sandbox.rnd_int(f.id, 635, seed, 1000000, 20000000) end,
        case when sandbox.lg_defect(f.id, 633, seed, 0.0002, n_file, 2, 1) >= 0 then 77
             when x.unk >= 0 then 0
             else case x.cat
                 when 'stl' then case when f.src = 3 then sandbox.pick(f.id, 636, seed, array['12','13'])::int
                                      else sandbox.pick(f.id, 636, seed, array['6','7','4'])::int end
                 when 'jpg' then sandbox.pick(f.id, 636, seed, array['8','1','2'])::int
                 when 'png' then sandbox.pick(f.id, 636, seed, array['8','9'])::int
                 when 'pdf' then 3 when 'zip' then 10 when 'dcm' then 11 else 5 end
        end,
        f.instruction_id,
        case when sandbox.lg_defect(f.id, 641, seed, 0.00001, n_file, 1, 1) >= 0
             then timestamptz '2099-06-30 12:00:00+00' else f.created_at end,
        case when sandbox.rnd(f.id, 637, seed) < 0.85 then null
             when sandbox.rnd(f.id, 637, seed) < 0.9 then ''
             else sandbox.pick(f.id, 638, seed, array['Upper scan', 'Lower scan', '上顎スキャン',
                 'Photos before treatment', 'Final records', '術前写真']) end,
        case when f.src = 1 and sandbox.rnd(f.id, 639, seed) < 0.2 then i.product_id
             when f.src <> 1 and sandbox.rnd(f.id, 639, seed) < 0.05 then sandbox.rnd_int(f.id, 642, seed, 1, 10)::int end,
        case when sandbox.lg_defect(f.id, 640, seed, 0.0005, n_file, 4, 4) >= 0
                 then sandbox.lg_badjson(x.params, sandbox.lg_defect(f.id, 640, seed, 0.0005, n_file, 4, 4), false)
             else x.params end,
        f.record_id,
        1 + width_bucket(sandbox.rnd(f.id, 643, seed), array[0.9, 0.97]::float8[]) - 1
    from lg_f f
    left join lg_i i on f.src = 1 and i.id = f.instruction_id
    cross join lateral (
        select c.cat, c.unk, c.ext,
            case c.cat
                when 'stl' then sandbox.pick(f.id, 650, seed, array['upper.stl', 'lower.stl', 'UpperJaw.stl',
                    'LowerJaw.stl', f.id * 7 + 136000000 || '_shell_occlusion_l.stl.stl',
                    f.id * 7 + 136000000 || '_shell_occlusion_u.stl.stl', 'scan_' || f.id || '.stl'])
                when 'jpg' then sandbox.pick(f.id, 650, seed, array['IMG_' || lpad((f.id % 9999)::text, 4, '0') || '.jpg',
                    '正面.jpg', '側面.jpg', 'photo_front.jpg', 'smile.jpg', 'intraoral_upper.jpg'])
                when 'png' then 'screenshot_' || f.id || '.png'
                when 'pdf' then sandbox.pick(f.id, 650, seed, array['treatment_plan.pdf', 'invoice_' || f.id || '.pdf',
                    '治療計画書.pdf', 'consent.pdf'])
                when 'zip' then sandbox.pick(f.id, 650, seed, array['scans.zip', 'export_' || f.id || '.zip'])
                when 'dcm' then 'cbct_' || f.id || '.dcm'
                else 'model_' || f.id || '.ply' end as name,
            case when c.cat in ('jpg', 'png') and sandbox.rnd(f.id, 651, seed) < 0.4 then
                     '{"width": ' || (array[4032, 3024, 1920, 1280])[sandbox.rnd_int(f.id, 652, seed, 1, 4)]
                     || ', "height": ' || (array[3024, 2268, 1080, 960])[sandbox.rnd_int(f.id, 652, seed, 1, 4)] || '}'
                 when c.cat = 'stl' and sandbox.rnd(f.id, 651, seed) < 0.5 then
                     '{"jaw": "' || sandbox.pick(f.id, 653, seed, array['upper', 'lower']) || '", "stage": '
                     || sandbox.rnd_int(f.id, 654, seed, 0, 40) || ', "aligner": ' || sandbox.rnd_int(f.id, 655, seed, 1, 40) || '}'
                 else '{}' end as params
        from (
            select case f.src
                    when 1 then (array['stl','jpg','png','pdf','zip','dcm','ply'])[1 + width_bucket(sandbox.rnd(f.id, 630, seed),
                                array[0.45, 0.75, 0.83, 0.91, 0.98, 0.99]::float8[])]
                    when 2 then (array['jpg','png','pdf','stl','zip'])[1 + width_bucket(sandbox.rnd(f.id, 630, seed),
                                array[0.55, 0.70, 0.85, 0.95]::float8[])]
                    else (array['stl','zip','pdf','jpg','png'])[1 + width_bucket(sandbox.rnd(f.id, 630, seed),
                                array[0.50, 0.65, 0.80, 0.95]::float8[])]
                end as cat,
                sandbox.lg_defect(f.id, 631, seed, 0.0002, n_file, 3, 3) as unk,
                (array['xyz', 'bak', '123'])[1 + greatest(0, sandbox.lg_defect(f.id, 631, seed, 0.0002, n_file, 3, 3))] as ext
        ) c
    ) x;

    -- dispatch_record_attachments: a few rows (the real table had 0): one repeats a
    -- dispatch_file.record_id link, the others pair random files and records.
    insert into dispatch_record_attachments (id, record_id, file_id)
    select row_number() over (order by record_id, file_id), record_id, file_id
    from (
        (select f.record_id, f.id as file_id
         from dispatch_file f join dispatch_record r on r.id = f.record_id
         order by sandbox.rnd(f.id, 701, seed), f.id limit 1)
        union
        select r.record_id, f.file_id
        from (select id as file_id, row_number() over (order by sandbox.rnd(id, 702, seed), id) as rn
              from dispatch_file where record_id is null order by 2 limit n_att - 1) f
        join (select id as record_id, row_number() over (order by sandbox.rnd(id, 703, seed), id) as rn
              from dispatch_record order by 2 limit n_att - 1) r on r.rn = f.rn
    ) a;

    -- 9. States --------------------------------------------------------------------------------
    -- n_state apportioned over ~18% of the instruction slots (every gone slot gets some).
    insert into dispatch_state (id, status, "on", changed_at, actor_id, instruction_id)
    select s.id,
        case when sandbox.lg_defect(s.id, 810, seed, 0.002, n_state, 2, 1) >= 0 then 99
             when sandbox.rnd(s.id, 811, seed) < 0.55 then 11 else 12 end,
        sandbox.rnd(s.id, 812, seed) < 0.65,
        s.changed_at,
        a.id,
        s.iid
    from (
        select row_number() over (order by changed_at, iid, j)::int as id, iid, changed_at
        from (
            select ic.iid, j,
                ic.t + (least(t1, ic.t + interval '400 days') - ic.t)
                       * ((j - 1 + sandbox.rnd(ic.iid * 16 + j, 801, seed)) / ic.cnt) as changed_at
            from (
                select iid, t, w, cw, tw,
                    floor(n_state * cw / nullif(tw, 0))::int - floor(n_state * (cw - w) / nullif(tw, 0))::int as cnt
                from (
                select iid, t, w, sum(w) over (order by iid) as cw, sum(w) over () as tw
                from (select i.id as iid, i.t,
                          (case when i.gone then 5000
                                when sandbox.rnd(i.id, 802, seed) < 0.18 then 1000 + floor(sandbox.rnd(i.id, 803, seed) * 2000)
                                else 0 end)::numeric as w
                      from lg_i i) w0
                ) w1
            ) ic
            cross join lateral generate_series(1, ic.cnt) j
        ) s0
    ) s
    left join lg_u a on a.kind = case when sandbox.rnd(s.id, 813, seed) < 0.6 then 'tech'
                                      when sandbox.rnd(s.id, 813, seed) < 0.75 then 'master'
                                      when sandbox.rnd(s.id, 813, seed) < 0.85 then 'doctor' else 'none' end
        and a.kidx = 1 + sandbox.rnd_int(s.id, 814, seed, 0,
            (case when sandbox.rnd(s.id, 813, seed) < 0.6 then c_tech
                  when sandbox.rnd(s.id, 813, seed) < 0.75 then c_master else c_doc end) - 1);

    -- 10. Payments -----------------------------------------------------------------------------
    -- n_pay apportioned over ~55% of the instruction slots; payments of gone instructions and a
    -- few others have no instruction. Mean total about $250.
    insert into dispatch_payment (id, made_at, free, tax_rate, tax_value, paid_price, used_credit,
        custom_price, subtotal_price, additional_price, total_price, instruction_id, canceled, paid,
        doctor_id, office_id, installments, netsuite)
    select y.id,
        case when sandbox.lg_defect(y.id, 911, seed, 0.0005, n_pay, 1, 1) >= 0 then timestamptz '1900-01-01 00:00:00+00'
             when y.paid then y.ts end,
        y.free, y.tax_rate, y.tax_value,
        case when y.paid then y.subtotal + y.additional + y.tax_value - y.used_credit else 0 end,
        y.used_credit,
        case when sandbox.rnd(y.id, 912, seed) < 0.9 then null else round(y.subtotal * 0.8, 2) end,
        y.subtotal, y.additional,
        y.subtotal + y.additional + y.tax_value - y.used_credit,
        case when y.igone or sandbox.lg_defect(y.id, 910, seed, 0.003, n_pay, 3, 1) >= 0 then null else y.iid end,
        y.canceled, y.paid,
        case when sandbox.rnd(y.id, 913, seed) < 0.02 then null else y.doctor_id end,
        y.office_id,
        case when sandbox.lg_defect(y.id, 914, seed, 0.002, n_pay, 4, 4) >= 0
                 then sandbox.lg_badjson(y.inst, sandbox.lg_defect(y.id, 914, seed, 0.002, n_pay, 4, 4), true)
             else y.inst end,
        sandbox.rnd(y.id, 915, seed) < 0.25
    from (
        select z.*,
            round(z.subtotal * case when z.tax_rate > 1 then z.tax_rate / 100 else z.tax_rate end, 2) as tax_value,
            case when z.free or sandbox.rnd(z.id, 920, seed) < 0.9 then 0
                 else least(z.subtotal, (array[50, 100, 150, 200])[sandbox.rnd_int(z.id, 921, seed, 1, 4)]) end as used_credit,
            case when sandbox.rnd(z.id, 922, seed) < 0.85 then 0
                 else (array[25, 50, 100])[sandbox.rnd_int(z.id, 923, seed, 1, 3)] end::numeric as additional,
            case when sandbox.rnd(z.id, 924, seed) < 0.9 then '[]'
                 else '[{"amount": ' || round(z.subtotal / 3, 2) || ', "due": "'
                      || to_char(z.ts + interval '30 days', 'YYYY-MM-DD') || '"}, {"amount": '
                      || round(z.subtotal / 3, 2) || ', "due": "'
                      || to_char(z.ts + interval '60 days', 'YYYY-MM-DD') || '"}, {"amount": '
                      || (z.subtotal - 2 * round(z.subtotal / 3, 2)) || ', "due": "'
                      || to_char(z.ts + interval '90 days', 'YYYY-MM-DD') || '"}]' end as inst
        from (
            select q.*,
                sandbox.rnd(q.id, 930, seed) < 0.08 as free,
                case when sandbox.rnd(q.id, 930, seed) < 0.08 then 0::numeric
                     else (array[0, 0, 29, 49, 49, 99, 99, 149, 199, 249, 299, 349, 399, 499, 599, 995])
                          [sandbox.rnd_int(q.id, 931, seed, 1, 16)]::numeric end as subtotal,
                sandbox.rnd(q.id, 932, seed) < 0.04 as canceled,
                sandbox.rnd(q.id, 932, seed) >= 0.04 and sandbox.rnd(q.id, 933, seed) < 0.88 as paid,
                coalesce(o.tax_rate, 0)::numeric as tax_rate,
                p.doctor_id, p.office_id
            from (
                select row_number() over (order by ts, iid, j)::int as id, iid, igone, pid, ts
                from (
                    select ic.iid, ic.igone, ic.pid, j,
                        least(t1, ic.t + interval '14 days' * sandbox.rnd(ic.iid * 16 + j, 901, seed)) as ts
                    from (
                        select iid, igone, pid, t, w, sum(w) over (order by iid) as cw, sum(w) over () as tw
                        from (select i.id as iid, i.gone as igone, i.pid, i.t,
                                  (case when sandbox.rnd(i.id, 902, seed) < 0.55
                                        then 1000 + floor(sandbox.rnd(i.id, 903, seed) * 1000) else 0 end)::numeric as w
                              from lg_i i) w0
                    ) ic
                    cross join lateral generate_series(1, floor(n_pay * ic.cw / nullif(ic.tw, 0))::int
                                                          - floor(n_pay * (ic.cw - ic.w) / nullif(ic.tw, 0))::int) j
                ) s0
            ) q
            join lg_p p on p.id = q.pid
            left join dispatch_office o on o.id = p.office_id
        ) z
    ) y;

    -- 11. Notifications ------------------------------------------------------------------------
    -- n_notif rows in time order; recipients among the users that existed by then (earlier
    -- users get more); 40% send and sent; gone recipients, bad JSON, unknown templates planted.
    drop table if exists lg_umap;
    create temp table lg_umap on commit drop as
        select row_number() over (order by id)::int as key, id from lg_u where kind <> 'gone'
        union all
        select -row_number() over (order by id)::int, id from lg_u where kind = 'gone';
    create unique index on lg_umap (key);
    analyze lg_umap;

    insert into dispatch_notification (id, created_at, sender, template_name, template_context, read,
                                       item_id, item_type_id, recipient_id, sent, send)
    select b.n,
        case b.far when 0 then timestamptz '1970-01-01 00:00:00+00' when 1 then timestamptz '2099-01-01 00:00:00+00'
                   else sandbox.lg_t(b.x, 0.5) end,
        (array['noreply@brius.com', 'noreply@brius.com', 'noreply@brius.com', 'noreply@brius.com',
               'noreply@brius.com', 'noreply@brius.com', 'noreply@brius.com', 'Brius', 'system',
               'support@brius.com'])[sandbox.rnd_int(b.n, 1012, seed, 1, 10)],
        case when b.unk >= 0 then (array['zz_legacy_blast', 'tmpl_0427', 'xmas_greeting'])[b.unk + 1]
             else (array['order_submitted', 'order_approved', 'order_shipped', 'shipment_tracking',
                         'status_changed', 'case_updated', 'plan_ready', 'new_message', 'payment_received',
                         'payment_failed', 'appointment_reminder', 'reminder_upload_photos', 'welcome_doctor',
                         'welcome_patient', 'password_reset', 'info_newsletter'])[b.tidx] end,
        case when b.bad >= 0 then sandbox.lg_badjson(b.ctx, b.bad, false) else b.ctx end,
        sandbox.rnd(b.n, 1013, seed) < 0.55,
        case when b.unk >= 0 then null
             when b.tidx in (1, 2, 3, 4, 5, 9, 10) then 1 + floor(sandbox.rnd(b.n, 1008, seed) * n_ins * b.x)::int
             when b.tidx in (6, 8, 12) then 1 + floor(sandbox.rnd(b.n, 1008, seed) * c_pat * power(b.x, 0.833))::int
             when b.tidx = 7 then 1 + floor(sandbox.rnd(b.n, 1008, seed) * n_plan * b.x)::int
             when b.tidx in (13, 14, 15) then um.id end,
        case when b.unk >= 0 then null
             when b.tidx in (1, 2, 3, 4, 5, 9, 10) then ct_instruction
             when b.tidx in (6, 8, 12) then ct_patient
             when b.tidx = 7 then ct_plan
             when b.tidx in (13, 14, 15) then ct_user end,
        um.id,
        case when b.ss < 0.40 then true when b.ss < 0.50 then false when b.ss < 0.95 then null else false end,
        b.ss < 0.55
    from (
        select a.*,
            case when a.tidx in (1, 2, 5) then
                     '{"order_number": "' || a.onum || '", "patient_name": "' || a.pname
                     || '", "doctor_name": "' || a.dname || '", "status": "'
                     || (array['submitted', 'approved', 'in_production', 'shipped', 'on_hold'])[sandbox.rnd_int(a.n, 1020, seed, 1, 5)] || '"}'
                 when a.tidx in (3, 4) then
                     '{"order_number": "' || a.onum || '", "patient_name": "' || a.pname
                     || '", "barcode": "BR' || lpad(sandbox.rnd_int(a.n, 1021, seed, 0, 99999999)::text, 8, '0')
                     || '", "tracking_number": "1Z' || lpad(sandbox.rnd_int(a.n, 1022, seed, 0, 999999999999)::text, 16, '0')
                     || '", "carrier": "' || (array['UPS', 'FedEx', 'DHL', 'Yamato', 'USPS'])[sandbox.rnd_int(a.n, 1023, seed, 1, 5)] || '"}'
                 when a.tidx in (9, 10) then
                     '{"order_number": "' || a.onum || '", "amount": "'
                     || (array['99.00', '149.00', '249.00', '1495.00', '1995.00'])[sandbox.rnd_int(a.n, 1024, seed, 1, 5)]
                     || '", "doctor_name": "' || a.dname || '"}'
                 when a.tidx in (6, 7, 12) then
                     '{"patient_name": "' || a.pname || '", "doctor_name": "' || a.dname || '", "message": "'
                     || (array['Your case was updated', 'A new treatment plan is ready', 'Please upload new photos',
                               '治療計画が更新されました', 'Case moved to refinement 🎉'])[sandbox.rnd_int(a.n, 1025, seed, 1, 5)] || '"}'
                 when a.tidx = 8 then
                     '{"patient_name": "' || a.pname || '", "message": "'
                     || (array['New message from your doctor', 'You have a new message', '新しいメッセージがあります'])
                        [sandbox.rnd_int(a.n, 1025, seed, 1, 3)] || '"}'
                 when a.tidx in (11, 16) then '{"message": "' || (array['Reminder: wear your aligners 22h a day',
                     'Newsletter: summer update', 'Your next aligner set starts tomorrow'])[sandbox.rnd_int(a.n, 1025, seed, 1, 3)] || '"}'
                 else '{}' end as ctx
        from (
            select n, x,
                sandbox.lg_defect(n, 1002, seed, 0.000005, n_notif, 3, 2) as far,
                sandbox.lg_defect(n, 1007, seed, 0.0001, n_notif, 3, 3) as unk,
                sandbox.lg_defect(n, 1011, seed, 0.00002, n_notif, 8, 4) as bad,
                1 + width_bucket(sandbox.rnd(n, 1006, seed), array[0.10, 0.18, 0.30, 0.36, 0.50, 0.60, 0.70, 0.82,
                                 0.87, 0.88, 0.92, 0.95, 0.96, 0.98, 0.99]::float8[]) as tidx,
                sandbox.rnd(n, 1010, seed) as ss,
                case when sandbox.lg_defect(n, 1003, seed, 0.0003, n_notif, 5, 1) >= 0
                     then -(1 + sandbox.rnd_int(n, 1004, seed, 0, c_gone_u - 1))::int
                     else least(n_live_u, 1 + floor(sandbox.rnd(n, 1005, seed) * n_live_u * power(x, 0.833))::int) end as ukey,
                sandbox.lg_b36(n % 8500 + 406) || '-' || (1 + n % 25000) as onum,
                case when sandbox.rnd(n, 1030, seed) < 0.7
                     then en_first[sandbox.rnd_int(n, 1031, seed, 1, 32)] || ' ' || en_last[sandbox.rnd_int(n, 1032, seed, 1, 32)]
                     else ja_last_k[sandbox.rnd_int(n, 1032, seed, 1, 16)] || ' ' || ja_first_k[sandbox.rnd_int(n, 1031, seed, 1, 16)] end as pname,
                'Dr. ' || case when sandbox.rnd(n, 1033, seed) < 0.75 then en_last[sandbox.rnd_int(n, 1034, seed, 1, 32)]
                               else ja_last_r[sandbox.rnd_int(n, 1034, seed, 1, 16)] end as dname
            from (select n, (n - 1 + sandbox.rnd(n, 1001, seed)) / n_notif as x
                  from generate_series(1, n_notif) n) g
        ) a
    ) b
    join lg_umap um on um.key = b.ukey;

    -- 12. Indexes, constraints, sequences, statistics -------------------------------------------
    declare r record; mx bigint;
    begin
        for r in select * from lg_saved_ix loop
            execute r.def;
        end loop;
        for r in select * from lg_saved_fk loop
            execute format('alter table %s add constraint %I %s', r.tbl, r.name, r.def);
        end loop;
        for r in select t, case t when 'auth_user' then n_uslots when 'dispatch_patient' then c_pat
                                  when 'dispatch_instruction' then n_ins when 'dispatch_record' then n_rec
                                  else 0 end as slots
                 from unnest(tables) t loop
            execute format('select coalesce(max(id), 0) from public.%I', r.t) into mx;
            mx := greatest(mx, r.slots);
            if mx > 0 then
                perform setval(pg_get_serial_sequence(format('public.%I', r.t), 'id'), mx, true);
            else
                perform setval(pg_get_serial_sequence(format('public.%I', r.t), 'id'), 1, false);
            end if;
            execute format('analyze public.%I', r.t);
        end loop;
    end;

    -- 13. The second wave's tables (world.md 8.2), from the rows above.
    perform sandbox.generate_legacy_wave2(seed, scale);
end
$fn$;

-- The second wave (world.md 8.2) ----------------------------------------------------------------
--
--   select sandbox.generate_legacy_wave2(seed bigint, scale numeric);  (generate_legacy calls it)
--
-- Reads the first wave's rows (users, groups, products, instructions, payments, files) and fills
-- the second wave's tables, with the same rules: sandbox.rnd per decision (salts 2000..2999), no
-- random(), fixed time window. Volumes at scale 1.0 (world.md 8.2), times `scale`:
--   dispatch_project 72,500   dispatch_bracket 1,720   dispatch_plan 209,500
--   dispatch_comment 16,300   dispatch_task 960,000    dispatch_operation 3,750
--   dispatch_offer 800        dispatch_discount 155
-- Reference tables are fixed, as auth_group and dispatch_product are (decision): auth_permission
-- 240, dispatch_category 44, dispatch_role 46 (31 in group 11), dispatch_role_permissions 1,346
-- (29 or 30 per role), dispatch_template 169, the template junctions 183 / 1,111 / 659 / 199 / 210.
-- Shape: projects 52% type 3, else 0, 10, 11; status 0 (99.98%) or 2; 3% without creator.
-- Plans in contiguous runs per live instruction (~8.4 each, number 1..n, the first original) and
-- per project (~2.9 each). Comments on random plans (10% on a few "hot" plans), ~154 characters
-- on average (0 .. 2,174). Tasks in runs of ~38 per live instruction, 85% checked, 88% done_at,
-- 40% on a plan of their instruction. Operations on random payments, 95% type 1, mean $1,148.
-- Offers: distinct (doctor, product) pairs, 55% of them of doctors with patients; 19% of them
-- discounted 13..100%. Template products: products not deleted (and one gone).
--
-- Planted defects (sandbox.lg_defect: rate, forced k), counted by legacy_defects.sql:
--   every foreign key points at a gone row (0.2%, 1): a gap id of auth_user / dispatch_instruction
--     (rows deleted in the legacy system), else 2,000,000,000 + the row's id (a row deleted long ago)
--   task instruction NULL or gone (0.8%, 2); offer doctor a user outside the doctor group (3%, 2)
--   unknown codes: project type 42 (0.05%, 1), project status 7 (0.05%, 1), operation type 3
--     (0.1%, 1)
--   plans without instruction (0.3%, 2), a second original in an instruction (0.3%, 2), plan names
--     over 100 characters (0.1%, 1); blank names (projects, brackets, plans, categories, roles,
--     templates) and blank comments (0.5%, 2); tasks checked without done_at (0.3%, 2); a duplicate
--     project uid (0.1%, 2); offers without prices (0.5%, 1); discounts over 100% (1%, 1) or
--     ending before they start (1%, 1); malformed template extensions (2%, 3); a category cycle
--     (categories 43 and 44).
create or replace function sandbox.generate_legacy_wave2(seed bigint, scale numeric)
returns void
language plpgsql
set timezone = 'UTC'
set work_mem = '256MB'
set maintenance_work_mem = '512MB'
set synchronous_commit = off
set client_min_messages = warning
set jit = off
as $fn$
declare
    t1 constant timestamptz := timestamptz '2025-10-31 00:00:00+00';
    gone_base constant bigint := 2000000000;
    tables constant text[] := array[
        'auth_permission', 'dispatch_category', 'dispatch_role', 'dispatch_role_permissions',
        'dispatch_template', 'dispatch_template_products', 'dispatch_template_view_roles',
        'dispatch_template_edit_roles', 'dispatch_template_view_groups',
        'dispatch_template_predecessors', 'dispatch_project', 'dispatch_bracket', 'dispatch_plan',
        'dispatch_comment', 'dispatch_task', 'dispatch_operation', 'dispatch_offer',
        'dispatch_discount'];
    n_proj int := sandbox.lg_n(72500, scale);
    n_br int := sandbox.lg_n(1720, scale);
    n_plan int := sandbox.lg_n(209500, scale);
    n_com int := sandbox.lg_n(16300, scale);
    n_task int := sandbox.lg_n(960000, scale);
    n_op int := sandbox.lg_n(3750, scale);
    n_off int := sandbox.lg_n(800, scale);
    n_dis int;
    n_u int; n_gu int; n_li int; n_gi int; n_pay int; n_tech int; n_nondoc int; n_file int;
    phrases constant text[] := array['Please approve the plan.', 'Looks good, go ahead.',
        'Question about the IPR on 12?', 'Please move 22 labially.',
        'Treatment to continue with a refinement.', 'Plan updated after the new scan.',
        'Scan uploaded.', 'Attachments removed on 33.', 'Approve with the changes below.',
        '上顎の叢生を確認しました。', 'Bite looks open on the left.', 'Ready for printing.'];
    filler constant text := ' Details: see the scan, the photos and the staging notes attached to this case.';
begin
    -- 0. Drop the secondary indexes (kept in a temp table), empty the tables.
    drop table if exists w2_saved_ix;
    create temp table w2_saved_ix on commit drop as
        select i.indexrelid::regclass::text as name, pg_get_indexdef(i.indexrelid) as def
        from pg_index i
        where i.indrelid = any (select format('public.%I', t)::regclass::oid from unnest(tables) t)
          and not exists (select 1 from pg_constraint c where c.conindid = i.indexrelid
                                                           and c.contype in ('p', 'u', 'x'));
    declare r record;
    begin
        for r in select * from w2_saved_ix loop  -- (catalog rows, not data)
            execute format('drop index %s', r.name);
        end loop;
    end;
    execute 'truncate table ' || (select string_agg(format('public.%I', t), ', ') from unnest(tables) t)
        || ' restart identity';

    -- 1. The first wave's rows, indexed for seeded picks.
    drop table if exists w2_u, w2_gu, w2_i, w2_gi, w2_pay, w2_tech, w2_nondoc, w2_doc;
    create temp table w2_u on commit drop as
        select row_number() over (order by id)::int as idx, id from auth_user;
    create temp table w2_gu on commit drop as
        select row_number() over (order by g)::int as idx, g as id
        from generate_series(1, (select coalesce(max(id), 0) from auth_user)) g
        where not exists (select 1 from auth_user u where u.id = g);
    create temp table w2_i on commit drop as
        select row_number() over (order by id)::int as idx, id, submitted_at from dispatch_instruction;
    create temp table w2_gi on commit drop as
        select row_number() over (order by g)::int as idx, g as id
        from generate_series(1, (select coalesce(max(id), 0) from dispatch_instruction)) g
        where not exists (select 1 from dispatch_instruction i where i.id = g);
    create temp table w2_pay on commit drop as
        select row_number() over (order by id)::int as idx, id, made_at from dispatch_payment;
    create temp table w2_tech on commit drop as
        select row_number() over (order by user_id)::int as idx, user_id as id
        from (select distinct user_id from auth_user_groups where group_id in (11, 5, 4)) t;
    create temp table w2_doc on commit drop as
        select row_number() over (order by user_id)::int as idx, user_id as id
        from (select distinct user_id from auth_user_groups where group_id = 2) t;
    create temp table w2_nondoc on commit drop as
        select row_number() over (order by u.id)::int as idx, u.id
        from auth_user u where not exists (
            select 1 from auth_user_groups g where g.user_id = u.id and g.group_id = 2);
    create unique index on w2_u (idx);
    create unique index on w2_i (idx);
    create unique index on w2_pay (idx);
    create unique index on w2_tech (idx);
    select count(*) into n_u from w2_u;
    select count(*) into n_gu from w2_gu;
    select count(*) into n_li from w2_i;
    select count(*) into n_gi from w2_gi;
    select count(*) into n_pay from w2_pay;
    select count(*) into n_tech from w2_tech;
    select count(*) into n_nondoc from w2_nondoc;
    select coalesce(max(id), 1) into n_file from dispatch_file;
    analyze w2_u, w2_i, w2_pay, w2_tech;

    -- A gone user / instruction for row key k: a gap id, or (no gap) a long-deleted id.
    -- (inline below as: coalesce((select id from w2_gu where idx = 1 + k % n_gu), gone_base + k))

    -- 2. Reference tables (fixed) ----------------------------------------------------------------
    insert into auth_permission (id, name, content_type_id, codename)
    select p.id,
        'Can ' || p.action || ' ' || p.model,
        case when p.id = 240 then 23 else p.ct end,  -- permission 240: its content type is gone
        p.action || '_' || p.model
    from (
        select row_number() over (order by ct.id, a.o)::int as id, ct.id as ct, ct.model, a.action
        from django_content_type ct
        cross join (values (1, 'add'), (2, 'change'), (3, 'delete'), (4, 'view')) a (o, action)
    ) p
    where p.id <= 240;

    insert into dispatch_category (id, name, parent_id)
    select g,
        case when g = 41 then '' else sandbox.pick(g, 2010, seed, array['Design', 'Scanning',
            'Printing', 'Shipping', 'Quality', 'Billing', 'Support', 'Planning', 'Aligners',
            'Retainers', 'Brackets', 'Photos']) || ' ' || g end,
        case when g <= 8 then null
             when g = 42 then gone_base + g
             when g = 43 then 44
             when g = 44 then 43
             else sandbox.rnd_int(g, 2011, seed, 1, least(g - 1, 20))::int end
    from generate_series(1, 44) g;

    insert into dispatch_role (id, name, abbrev, type, "order", user_id, group_id)
    select g,
        case when g = 45 then '  ' else sandbox.pick(g, 2020, seed, array['Designer', 'Scanner',
            'QA', 'Printer', 'Packer', 'Shipper', 'Reviewer', 'Planner', 'Trimmer', 'Support'])
            || ' ' || g end,
        case when sandbox.rnd(g, 2021, seed) < 0.2 then ''
             else upper(left(sandbox.pick(g, 2020, seed, array['Designer', 'Scanner', 'QA',
                 'Printer', 'Packer', 'Shipper', 'Reviewer', 'Planner', 'Trimmer', 'Support']), 3)) end,
        sandbox.rnd_int(g, 2022, seed, 1, 3)::int,
        g * 10,
        case when g = 44 then (select coalesce((select id from w2_gu where idx = 1), gone_base + g))
             when sandbox.rnd(g, 2023, seed) < 0.1
                 then (select id from w2_u where idx = sandbox.rnd_int(g, 2024, seed, 1, n_u)) end,
        case when g = 46 then 12  -- a gone group
             when g <= 31 then 11
             when g <= 40 then (array[4, 5, 9, 13, 3])[1 + g % 5]
             else null end
    from generate_series(1, 46) g;

    insert into dispatch_role_permissions (id, role_id, permission_id)
    select row_number() over (order by r, j)::int,
        case when r = 46 and j = 1 then gone_base + 46 else r end,
        case when (r, j) in ((7, 3), (30, 5)) then gone_base + r * 100 + j
             else ((r * 37 + j * 7) % 240) + 1 end
    from generate_series(1, 46) r
    cross join lateral generate_series(1, 29 + (r <= 12)::int) j;

    insert into dispatch_template (id, task_name, text_name, action_name, category_id, duration,
        function, predefined, read_only, separate, status, alerts, extensions)
    select g,
        case when g in (17, 88) then '' else sandbox.pick(g, 2030, seed, array['Design setup',
            'Scan review', 'Print models', 'Trim aligners', 'Pack order', 'Ship order',
            'QA check', 'Upload photos', 'Approve plan', 'Bond attachments']) || ' ' || g end,
        case when g = 88 then ' ' else 'Step ' || g end,
        sandbox.pick(g, 2031, seed, array['review', 'design', 'print', 'ship', 'approve', 'scan']),
        case when g = 99 then gone_base + g
             when sandbox.rnd(g, 2032, seed) < 0.1 then null
             else sandbox.rnd_int(g, 2033, seed, 1, 44)::int end,
        case when sandbox.rnd(g, 2034, seed) < 0.2 then null else sandbox.rnd_int(g, 2035, seed, 5, 240)::int end,
        sandbox.rnd_int(g, 2036, seed, 0, 5)::int,
        sandbox.rnd(g, 2037, seed) < 0.7,
        sandbox.rnd(g, 2038, seed) < 0.2,
        sandbox.rnd(g, 2039, seed) < 0.3,
        case when sandbox.rnd(g, 2040, seed) < 0.8 then 1 when sandbox.rnd(g, 2040, seed) < 0.95 then 0 else 2 end,
        case when sandbox.rnd(g, 2041, seed) < 0.7 then '' else 'Check the bite before approving.' end,
        case sandbox.lg_defect(g, 2042, seed, 0.02, 169, 3, 3)
            when 0 then '["stl", "pdf"'
            when 1 then 'stl,pdf'
            when 2 then ''
            else sandbox.pick(g, 2043, seed, array['[]', '["stl"]', '["stl", "pdf"]', '["jpg", "png"]', '["dcm"]'])
        end
    from generate_series(1, 169) g;

    -- The junctions: a seeded choice of distinct pairs; one row (two for the larger ones) of each
    -- points at a gone template or a gone other side.
    insert into dispatch_template_products (id, template_id, product_id)
    select id, case when id = 5 then gone_base + id else t end, case when id = 9 then gone_base + id else o end
    from (select row_number() over (order by t, o)::int as id, t, o from (
        select t, o from generate_series(1, 169) t
        cross join (select id as o from dispatch_product where not deleted) p
        order by sandbox.rnd(t * 1000 + o, 2050, seed) limit 183) x) y;
    insert into dispatch_template_view_roles (id, template_id, role_id)
    select id, case when id = 50 then gone_base + id else t end, case when id in (90, 700) then gone_base + id else o end
    from (select row_number() over (order by t, o)::int as id, t, o from (
        select t, o from generate_series(1, 169) t cross join generate_series(1, 46) o
        order by sandbox.rnd(t * 1000 + o, 2051, seed) limit 1111) x) y;
    insert into dispatch_template_edit_roles (id, template_id, role_id)
    select id, case when id = 40 then gone_base + id else t end, case when id = 300 then gone_base + id else o end
    from (select row_number() over (order by t, o)::int as id, t, o from (
        select t, o from generate_series(1, 169) t cross join generate_series(1, 46) o
        order by sandbox.rnd(t * 1000 + o, 2052, seed) limit 659) x) y;
    insert into dispatch_template_view_groups (id, template_id, group_id)
    select id, case when id = 20 then gone_base + id else t end, case when id = 120 then 12 else o end
    from (select row_number() over (order by t, o)::int as id, t, o from (
        select t, o from generate_series(1, 169) t cross join (select id as o from auth_group) g
        order by sandbox.rnd(t * 1000 + o, 2053, seed) limit 199) x) y;
    insert into dispatch_template_predecessors (id, template_id, to_template_id)
    select id, case when id = 30 then gone_base + id else t end, case when id = 130 then gone_base + id else o end
    from (select row_number() over (order by t, o)::int as id, t, o from (
        select t, o from generate_series(1, 169) t cross join generate_series(1, 169) o where t <> o
        order by sandbox.rnd(t * 1000 + o, 2054, seed) limit 210) x) y;

    -- 3. Projects and brackets -------------------------------------------------------------------
    insert into dispatch_project (id, uid, created_at, name, size, public, type, status, creator_id)
    select g,
        case when g > 1 and sandbox.lg_defect(g, 2100, seed, 0.001, n_proj, 2, 1) >= 0
                 then md5(seed::text || ':project:' || (g - 1))
             else md5(seed::text || ':project:' || g) end,
        sandbox.lg_t((g - 1 + sandbox.rnd(g, 2101, seed)) / n_proj, 0.6),
        case sandbox.lg_defect(g, 2102, seed, 0.003, n_proj, 2, 2)
            when 0 then '' when 1 then '   '
            else sandbox.pick(g, 2103, seed, array['Upper scan', 'Lower scan', 'Setup', 'Photos',
                'CBCT', 'Design', 'Simulation', 'Final aligners']) || ' ' || g end,
        sandbox.rnd_int(g, 2104, seed, 1000, 50000000)::int,
        sandbox.rnd(g, 2105, seed) < 0.1,
        case when sandbox.lg_defect(g, 2106, seed, 0.0005, n_proj, 1, 1) >= 0 then 42
             when sandbox.rnd(g, 2107, seed) < 0.52 then 3
             else (array[0, 10, 11])[sandbox.rnd_int(g, 2108, seed, 1, 3)] end,
        case when sandbox.lg_defect(g, 2109, seed, 0.0005, n_proj, 1, 1) >= 0 then 7
             when sandbox.rnd(g, 2110, seed) < 0.9998 then 0 else 2 end,
        case when sandbox.lg_defect(g, 2111, seed, 0.002, n_proj, 1, 1) >= 0
                 then coalesce((select id from w2_gu where idx = 1 + g % greatest(n_gu, 1)), gone_base + g)
             when sandbox.rnd(g, 2112, seed) < 0.03 then null
             else (select id from w2_u where idx = sandbox.rnd_int(g, 2113, seed, 1, n_u)) end
    from generate_series(1, n_proj) g;

    insert into dispatch_bracket (id, name, project_id, type)
    select g,
        case when sandbox.lg_defect(g, 2120, seed, 0.003, n_br, 1, 1) >= 0 then ''
             when sandbox.rnd(g, 2121, seed) < 0.17
                 then sandbox.pick(g, 2122, seed, array['test', 'Test bracket', 'TEST', 'test 2'])
             else sandbox.pick(g, 2123, seed, array['Damon Q', 'Empower 2', 'Clarity Advanced',
                 'Victory Series', 'In-Ovation R', 'Mini Twin']) end,
        case when sandbox.lg_defect(g, 2124, seed, 0.002, n_br, 1, 1) >= 0 then gone_base + g
             when sandbox.rnd(g, 2125, seed) < 0.02 then null
             else least(n_proj, ((g - 1)::bigint * n_proj / n_br)::int + 1
                        + sandbox.rnd_int(g, 2126, seed, 0, greatest(0, n_proj / n_br - 1))::int) end,
        case when sandbox.rnd(g, 2127, seed) < 0.3 then null
             else sandbox.pick(g, 2128, seed, array['metal', 'ceramic', 'self-ligating']) end
    from generate_series(1, n_br) g;

    -- 4. Plans: runs per live instruction (number 1..n, the first original) ----------------------
    insert into dispatch_plan (id, instruction_id, project_id, notes, number, name, original)
    select p.g,
        case when sandbox.lg_defect(p.g, 2200, seed, 0.003, n_plan, 2, 1) >= 0 then null
             when sandbox.lg_defect(p.g, 2201, seed, 0.002, n_plan, 1, 1) >= 0
                 then coalesce((select id from w2_gi where idx = 1 + p.g % greatest(n_gi, 1)), gone_base + p.g)
             else i.id end,
        case when sandbox.lg_defect(p.g, 2202, seed, 0.002, n_plan, 1, 1) >= 0 then gone_base + p.g
             else ((p.g - 1)::bigint * n_proj / n_plan)::int + 1 end,
        case when sandbox.rnd(p.g, 2203, seed) < 0.6 then ''
             else sandbox.pick(p.g, 2204, seed, phrases) end,
        case when sandbox.rnd(p.g, 2205, seed) < 0.01 then null else p.num end,
        case sandbox.lg_defect(p.g, 2206, seed, 0.002, n_plan, 2, 2)
            when 0 then '' when 1 then '  '
            else case when sandbox.lg_defect(p.g, 2207, seed, 0.001, n_plan, 1, 1) >= 0
                          then 'Plan ' || p.num || ': ' || repeat('upper and lower arch with attachments, ', 4)
                      else sandbox.pick(p.g, 2208, seed, array['Plan', 'Setup', 'Refinement', 'Revision'])
                           || ' ' || p.num end end,
        p.num = 1 or (p.num = 2 and sandbox.lg_defect(p.ii, 2209, seed, 0.003, n_li, 2, 1) >= 0)
    from (
        select g, ii, row_number() over (partition by ii order by g)::int as num
        from (select g, ((g - 1)::bigint * n_li / n_plan)::int + 1 as ii
              from generate_series(1, n_plan) g) q
    ) p
    join w2_i i on i.idx = p.ii;

    -- 5. Comments ----------------------------------------------------------------------------------
    insert into dispatch_comment (id, created_at, text, author_id, plan_id)
    select g,
        sandbox.lg_t((g - 1 + sandbox.rnd(g, 2300, seed)) / n_com, 0.5),
        case sandbox.lg_defect(g, 2301, seed, 0.005, n_com, 2, 2)
            when 0 then '' when 1 then '   '
            else left(sandbox.pick(g, 2302, seed, phrases) || repeat(filler, 30),
                      case when g = n_com / 2 + 1 then 2174
                           else least(2174, 5 + floor(-ln(1 - sandbox.rnd(g, 2303, seed)) * 149))::int end) end,
        case when sandbox.lg_defect(g, 2304, seed, 0.002, n_com, 1, 1) >= 0
                 then coalesce((select id from w2_gu where idx = 1 + g % greatest(n_gu, 1)), gone_base + g)
             when sandbox.rnd(g, 2305, seed) < 0.03 then null
             else (select id from w2_u where idx = sandbox.rnd_int(g, 2306, seed, 1, n_u)) end,
        case when sandbox.lg_defect(g, 2307, seed, 0.002, n_com, 1, 1) >= 0 then gone_base + g
             when sandbox.rnd(g, 2308, seed) < 0.1
                 then ((sandbox.rnd_int(g, 2309, seed, 1, greatest(1, n_com / 50)) * 7919) % n_plan)::int + 1
             else sandbox.rnd_int(g, 2310, seed, 1, n_plan)::int end
    from generate_series(1, n_com) g;

    -- 6. Tasks: runs per live instruction ------------------------------------------------------
    insert into dispatch_task (id, checked, file_id, template_id, done_at, text, plan_id,
        instruction_id, actor_id, jaw, order_id)
    select q.g,
        q.checked,
        case when sandbox.lg_defect(q.g, 2400, seed, 0.002, n_task, 1, 1) >= 0 then gone_base + q.g
             when sandbox.rnd(q.g, 2401, seed) < 0.05 then sandbox.rnd_int(q.g, 2402, seed, 1, n_file)::int end,
        case when sandbox.lg_defect(q.g, 2403, seed, 0.002, n_task, 1, 1) >= 0 then gone_base + q.g
             else sandbox.rnd_int(q.g, 2404, seed, 1, 169)::int end,
        case when (q.checked and sandbox.lg_defect(q.g, 2405, seed, 0.003, n_task, 2, 1) < 0)
                  or (not q.checked and sandbox.rnd(q.g, 2406, seed) < 0.2)
                 then least(t1, i.submitted_at + interval '60 days' * sandbox.rnd(q.g, 2407, seed)) end,
        case when sandbox.rnd(q.g, 2408, seed) < 0.8 then null
             else sandbox.pick(q.g, 2409, seed, array['Trim 0.5 mm on 13', 'Redo the setup',
                 'Check attachments', 'Printed twice', 'Use the new scan']) end,
        case when q.pcnt > 0 and sandbox.rnd(q.g, 2410, seed) < 0.4
                 then q.pfirst + sandbox.rnd_int(q.g, 2411, seed, 0, q.pcnt - 1)::int
             when sandbox.lg_defect(q.g, 2412, seed, 0.002, n_task, 1, 1) >= 0 then gone_base + q.g end,
        case sandbox.lg_defect(q.g, 2413, seed, 0.008, n_task, 2, 2)
            when 0 then null
            when 1 then coalesce((select id from w2_gi where idx = 1 + q.g % greatest(n_gi, 1)), gone_base + q.g)
            else i.id end,
        case when sandbox.lg_defect(q.g, 2414, seed, 0.002, n_task, 1, 1) >= 0
                 then coalesce((select id from w2_gu where idx = 1 + q.g % greatest(n_gu, 1)), gone_base + q.g)
             when sandbox.rnd(q.g, 2415, seed) < 0.1 or n_tech = 0 then null
             else t.id end,
        sandbox.rnd_int(q.g, 2416, seed, 0, 2)::int,
        case when sandbox.rnd(q.g, 2417, seed) < 0.3 then sandbox.rnd_int(q.g, 2418, seed, 1, 100000)::int end
    from (
        select g, ii, sandbox.rnd(g, 2419, seed) < 0.85 as checked,
            -- the plans of instruction ii (dispatch_plan's runs): ids pfirst .. pfirst + pcnt - 1
            (ceil((ii - 1)::numeric * n_plan / n_li))::int + 1 as pfirst,
            (ceil(ii::numeric * n_plan / n_li) - ceil((ii - 1)::numeric * n_plan / n_li))::int as pcnt,
            case when n_tech > 0 then sandbox.rnd_int(g, 2420, seed, 1, n_tech)::int end as tidx
        from (select g, ((g - 1)::bigint * n_li / n_task)::int + 1 as ii
              from generate_series(1, n_task) g) q0
    ) q
    join w2_i i on i.idx = q.ii
    left join w2_tech t on t.idx = q.tidx;

    -- 7. Operations ---------------------------------------------------------------------------------
    insert into dispatch_operation (id, type, made_at, price, sq_order_id, sq_payment_id, sq_refund_id,
        card_brand, card_bin, card_last, office_card, payment_id, attempts)
    select q.g, q.typ,
        case when p.made_at is null or sandbox.rnd(q.g, 2500, seed) < 0.02 then null
             else p.made_at + interval '10 minutes' * sandbox.rnd(q.g, 2501, seed) end,
        least(99999999.99, round((-ln(1 - sandbox.rnd(q.g, 2502, seed)) * 1148)::numeric, 2)),
        upper(substr(md5(seed::text || ':sqo:' || q.g), 1, 22)),
        upper(substr(md5(seed::text || ':sqp:' || q.g), 1, 22)),
        case when q.typ = 2 then upper(substr(md5(seed::text || ':sqr:' || q.g), 1, 22)) else '' end,
        sandbox.pick(q.g, 2503, seed, array['VISA', 'MASTERCARD', 'AMERICAN_EXPRESS', 'DISCOVER']),
        lpad(sandbox.rnd_int(q.g, 2504, seed, 400000, 559999)::text, 6, '0'),
        lpad(sandbox.rnd_int(q.g, 2505, seed, 0, 9999)::text, 4, '0'),
        sandbox.rnd(q.g, 2506, seed) < 0.2,
        case when sandbox.lg_defect(q.g, 2507, seed, 0.002, n_op, 1, 1) >= 0 then gone_base + q.g else p.id end,
        sandbox.rnd_int(q.g, 2508, seed, 1, 3)::int
    from (
        select g,
            case when sandbox.lg_defect(g, 2509, seed, 0.001, n_op, 1, 1) >= 0 then 3
                 when sandbox.rnd(g, 2510, seed) < 0.95 then 1 else 2 end as typ,
            sandbox.rnd_int(g, 2511, seed, 1, greatest(n_pay, 1))::int as pidx
        from generate_series(1, n_op) g
    ) q
    join w2_pay p on p.idx = q.pidx;

    -- 8. Offers and discounts -----------------------------------------------------------------------
    insert into dispatch_offer (id, doctor_id, product_id, price_both, price_upper, price_lower)
    select o.id,
        case sandbox.lg_defect(o.id, 2600, seed, 0.03, n_off, 2, 1)
            when 0 then (select id from w2_nondoc where idx = sandbox.rnd_int(o.id, 2601, seed, 1, greatest(n_nondoc, 1)))
            else case when sandbox.lg_defect(o.id, 2602, seed, 0.002, n_off, 1, 1) >= 0
                          then coalesce((select id from w2_gu where idx = 1 + o.id % greatest(n_gu, 1)), gone_base + o.id)
                      when sandbox.rnd(o.id, 2603, seed) < 0.005 then null
                      else o.doctor end end,
        case when sandbox.lg_defect(o.id, 2604, seed, 0.002, n_off, 1, 1) >= 0 then gone_base + o.id else o.product end,
        case when o.noprice then null else o.both end,
        case when o.noprice or sandbox.rnd(o.id, 2605, seed) < 0.4 then null else round(o.both * 0.6, 2) end,
        case when o.noprice or sandbox.rnd(o.id, 2606, seed) < 0.4 then null else round(o.both * 0.6, 2) end
    from (
        select x.*, 5 * sandbox.rnd_int(x.id, 2607, seed, 0, 399)::numeric as both,
            sandbox.lg_defect(x.id, 2608, seed, 0.005, n_off, 1, 1) >= 0 as noprice
        from (
            select row_number() over (order by doctor, product)::int as id, doctor, product
            -- about half of the offers go to doctors with patients (their orders), half to others
            from (
                (select d.id as doctor, p.id as product
                 from w2_doc d cross join dispatch_product p
                 where exists (select 1 from dispatch_patient pa where pa.doctor_id = d.id)
                 order by sandbox.rnd(d.id::bigint * 100 + p.id, 2609, seed)
                 limit round(0.55 * n_off))
                union all
                (select d.id as doctor, p.id as product
                 from w2_doc d cross join dispatch_product p
                 where not exists (select 1 from dispatch_patient pa where pa.doctor_id = d.id)
                 order by sandbox.rnd(d.id::bigint * 100 + p.id, 2609, seed)
                 limit n_off - round(0.55 * n_off))
            ) c
        ) x
    ) o;
    select least(sandbox.lg_n(155, scale), count(*))::int into n_dis from dispatch_offer;

    insert into dispatch_discount (id, offer_id, percent, reason, count, start, finish, total, used)
    select d.id,
        case when sandbox.lg_defect(d.id, 2700, seed, 0.002, n_dis, 1, 1) >= 0 then gone_base + d.id else d.offer end,
        case when sandbox.lg_defect(d.id, 2701, seed, 0.01, n_dis, 1, 1) >= 0 then (array[120, 150])[1 + d.id % 2]
             else sandbox.rnd_int(d.id, 2702, seed, 13, 100)::int end,
        case when sandbox.rnd(d.id, 2703, seed) < 0.3 then ''
             else sandbox.pick(d.id, 2704, seed, array['Loyalty', 'Launch promo', 'Conference deal',
                 'Volume discount', 'Goodwill']) end,
        d.cnt,
        d.start,
        case when d.start is not null and sandbox.lg_defect(d.id, 2705, seed, 0.01, n_dis, 1, 1) >= 0
                 then d.start - 30
             when d.start is null or sandbox.rnd(d.id, 2706, seed) < 0.4 then null
             else d.start + sandbox.rnd_int(d.id, 2707, seed, 30, 365)::int end,
        sandbox.rnd(d.id, 2708, seed) < 0.3,
        case when sandbox.rnd(d.id, 2709, seed) < 0.3 then null
             else sandbox.rnd_int(d.id, 2710, seed, 0, coalesce(d.cnt, 20))::int end
    from (
        select row_number() over (order by offer)::int as id, offer,
            case when sandbox.rnd(offer, 2711, seed) < 0.5 then null
                 else sandbox.rnd_int(offer, 2712, seed, 1, 50)::int end as cnt,
            case when sandbox.rnd(offer, 2713, seed) < 0.2 and offer % 7 <> 0 then null
                 else (sandbox.lg_t(sandbox.rnd(offer, 2714, seed), 0.6))::date end as start
        from (select id as offer from dispatch_offer
              order by sandbox.rnd(id, 2715, seed) limit n_dis) s
    ) d;

    -- 9. Indexes, sequences, statistics -----------------------------------------------------------
    declare r record; mx bigint;
    begin
        for r in select * from w2_saved_ix loop
            execute r.def;
        end loop;
        for r in select t from unnest(tables) t loop
            execute format('select coalesce(max(id), 0) from public.%I', r.t) into mx;
            if mx > 0 then
                perform setval(pg_get_serial_sequence(format('public.%I', r.t), 'id'), mx, true);
            else
                perform setval(pg_get_serial_sequence(format('public.%I', r.t), 'id'), 1, false);
            end if;
            execute format('analyze public.%I', r.t);
        end loop;
    end;
end
$fn$;
