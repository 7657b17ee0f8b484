-- Counts of every defect kind that sandbox.generate_legacy() plants in the simulated legacy
-- database (see the header of legacy_generate.sql for rates and selection). One row per kind,
-- (kind, rows); every kind appears, also when its count is 0. The counts are taken from the data
-- (not from the generator's choices), so the query also works after the activity simulation.
-- Needs sandbox.lg_json_valid() (legacy_generate.sql). Content types are resolved by
-- (app_label, model). A "JSON-bad" value is one that does not parse, or is the JSON literal null.
with ct as (
    select
        (select id from django_content_type where app_label = 'dispatch' and model = 'patient') as patient,
        (select id from django_content_type where app_label = 'auth' and model = 'user') as usr,
        (select id from django_content_type where app_label = 'dispatch' and model = 'instruction') as instruction
),
json_cols as (
    select 'dispatch_course.customization' as col, customization as t from dispatch_course
    union all select 'dispatch_product.customization', customization from dispatch_product
    union all select 'dispatch_patient.schemes', schemes from dispatch_patient
    union all select 'dispatch_instruction.exports', exports from dispatch_instruction
    union all select 'dispatch_file.parameters', parameters from dispatch_file
    union all select 'dispatch_payment.installments', installments from dispatch_payment
    union all select 'dispatch_notification.template_context', template_context from dispatch_notification
),
json_bad as materialized (
    select col, t,
        case when t = '' then 'json_empty_string'
             when t = 'null' then 'json_null_literal'
             when right(rtrim(t), 1) in ('}', ']') then 'json_unescaped_quotes'
             else 'json_truncated' end as sub
    from json_cols
    where t is null or t = '' or t = 'null' or not sandbox.lg_json_valid(t)
),
texts as (
    select text as t from dispatch_record
    union all select notes from dispatch_instruction where notes is not null
    union all select clinical_preferences from dispatch_doctorsetting
    union all select first_name || ' ' || last_name from auth_user
    union all select name from dispatch_file where name !~ '^[ -~]*$'
),
stamps as (
    select date_joined as ts from auth_user
    union all select last_login from auth_user where last_login is not null
    union all select baa_agreed_at from dispatch_doctorsetting where baa_agreed_at is not null
    union all select eula_agreed_at from dispatch_doctorsetting where eula_agreed_at is not null
    union all select submitted_at from dispatch_patient
    union all select updated_at from dispatch_patient
    union all select submitted_at from dispatch_instruction
    union all select updated_at from dispatch_instruction
    union all select created_at from dispatch_record
    union all select created_at from dispatch_file
    union all select changed_at from dispatch_state
    union all select made_at from dispatch_payment where made_at is not null
    union all select created_at from dispatch_notification
)
-- malformed JSON, per column and per sub-kind
select 'json_bad:' || c.col as kind, (select count(*) from json_bad b where b.col = c.col) as rows
from (values ('dispatch_course.customization'), ('dispatch_product.customization'),
             ('dispatch_patient.schemes'), ('dispatch_instruction.exports'), ('dispatch_file.parameters'),
             ('dispatch_payment.installments'), ('dispatch_notification.template_context')) c (col)
union all
select s.sub, (select count(*) from json_bad b where b.sub = s.sub)
from (values ('json_unescaped_quotes'), ('json_truncated'), ('json_empty_string'), ('json_null_literal')) s (sub)
-- users
union all
select 'email_no_at', count(*) from auth_user where email <> '' and email not like '%@%'
union all
select 'email_duplicate', count(*) from (
    select count(*) over (partition by lower(btrim(email))) as n
    from auth_user where btrim(email) <> '') e where n > 1
union all
select 'name_blank', count(*) from auth_user where first_name = '' or last_name = ''
union all
select 'name_whitespace_only', count(*) from auth_user
where (first_name <> '' and btrim(first_name, E' \t\r\n') = '')
   or (last_name <> '' and btrim(last_name, E' \t\r\n') = '')
union all
select 'user_multi_group', count(*) from (
    select user_id from auth_user_groups group by user_id having count(*) > 1) g
union all
select 'doctorsetting_user_not_in_doctor_group', count(*) from dispatch_doctorsetting d
where not exists (select 1 from auth_user_groups g where g.user_id = d.user_id and g.group_id = 2)
-- offices
union all
select 'office_name_blank', count(*) from dispatch_office where btrim(name) = ''
union all
select 'office_tax_rate_percentage', count(*) from dispatch_office where tax_rate > 1
union all
select 'office_country_free_text', count(*) from dispatch_office
where country <> 'USA'
  and lower(regexp_replace(country, '[^A-Za-z]', '', 'g'))
      in ('usa', 'us', 'unitedstates', 'unitedstatesofamerica')
union all
select 'office_country_null', count(*) from dispatch_office where country is null
-- orphans and broken references
union all
select 'instruction_patient_missing', count(*) from dispatch_instruction i
where not exists (select 1 from dispatch_patient p where p.id = i.patient_id)
union all
select 'patient_doctor_not_in_doctor_group', count(*) from dispatch_patient p
where not exists (select 1 from auth_user_groups g where g.user_id = p.doctor_id and g.group_id = 2)
union all
select 'record_target_missing', count(*) from dispatch_record r, ct
where (r.target_type_id = ct.patient and not exists (select 1 from dispatch_patient p where p.id = r.target_id))
   or (r.target_type_id = ct.usr and not exists (select 1 from auth_user u where u.id = r.target_id))
   or (r.target_type_id = ct.instruction
       and not exists (select 1 from dispatch_instruction i where i.id = r.target_id))
union all
select 'record_type_not_routable', count(*) from dispatch_record r, ct
where r.target_type_id is null or r.target_type_id not in (ct.patient, ct.usr, ct.instruction)
union all
select 'file_instruction_missing', count(*) from dispatch_file f
where f.instruction_id is not null
  and not exists (select 1 from dispatch_instruction i where i.id = f.instruction_id)
union all
select 'file_record_missing', count(*) from dispatch_file f
where f.record_id is not null and not exists (select 1 from dispatch_record r where r.id = f.record_id)
union all
select 'jaw_unreferenced', count(*) from dispatch_jaw j
where not exists (select 1 from dispatch_instruction i where i.upper_jaw_id = j.id)
  and not exists (select 1 from dispatch_instruction i where i.lower_jaw_id = j.id)
union all
select 'state_instruction_missing', count(*) from dispatch_state s
where not exists (select 1 from dispatch_instruction i where i.id = s.instruction_id)
union all
select 'payment_without_instruction', count(*) from dispatch_payment where instruction_id is null
union all
select 'notification_recipient_missing', count(*) from dispatch_notification n
where not exists (select 1 from auth_user u where u.id = n.recipient_id)
-- codes not in any code table
union all
select 'code_instruction_status_unknown', count(*) from dispatch_instruction where status not between 0 and 7
union all
select 'code_patient_status_unknown', count(*) from dispatch_patient where status not in (1, 2, 3, 4, 10)
union all
select 'code_patient_sex_unknown', count(*) from dispatch_patient where sex not in (0, 1, 2)
union all
select 'code_record_type_unknown', count(*) from dispatch_record where type not in (3, 5, 6, 8)
union all
select 'code_state_status_unknown', count(*) from dispatch_state where status not between 11 and 20
union all
select 'code_file_ext_unknown', count(*) from dispatch_file
where lower(ext) not in ('stl', 'jpg', 'jpeg', 'png', 'pdf', 'zip', 'dcm', 'ply')
union all
select 'code_file_type_unknown', count(*) from dispatch_file where type not between 0 and 13
union all
select 'code_template_name_unknown', count(*) from dispatch_notification
where template_name !~ '(order|instruction|ship|track|payment|invoice|case|plan|message|remind|welcome|status|password|info)'
-- odd text (dispatch_record.text, dispatch_instruction.notes, clinical_preferences, user names,
-- non-ASCII file names)
union all
select 'text_emoji', count(*) from texts where t ~ '[\U0001F300-\U0001FAFF\u2600-\u27BF]'
union all
select 'text_right_to_left', count(*) from texts where t ~ '[\u0590-\u05FF\u0600-\u06FF]'
union all
select 'text_zero_width', count(*) from texts where t ~ '[\u200B-\u200D\uFEFF]'
union all
select 'text_100kb', count(*) from texts where octet_length(t) > 100000
-- timestamps
union all
select 'ts_far_past', count(*) from stamps where ts < timestamptz '2000-01-01 00:00:00+00'
union all
select 'ts_far_future', count(*) from stamps where ts > timestamptz '2030-01-01 00:00:00+00'
union all
select 'birthdate_implausible', count(*) from dispatch_patient
where birthdate < date '1920-01-01' or birthdate > date '2025-10-31'
-- the second wave (world.md 8.2): every foreign key pointing at a gone row
union all
select 'fk_gone:auth_permission.content_type_id', count(*) from auth_permission c
where c.content_type_id is not null and not exists (select 1 from django_content_type p where p.id = c.content_type_id)
union all
select 'fk_gone:dispatch_category.parent_id', count(*) from dispatch_category c
where c.parent_id is not null and not exists (select 1 from dispatch_category p where p.id = c.parent_id)
union all
select 'fk_gone:dispatch_role.user_id', count(*) from dispatch_role c
where c.user_id is not null and not exists (select 1 from auth_user p where p.id = c.user_id)
union all
select 'fk_gone:dispatch_role.group_id', count(*) from dispatch_role c
where c.group_id is not null and not exists (select 1 from auth_group p where p.id = c.group_id)
union all
select 'fk_gone:dispatch_role_permissions.role_id', count(*) from dispatch_role_permissions c
where c.role_id is not null and not exists (select 1 from dispatch_role p where p.id = c.role_id)
union all
select 'fk_gone:dispatch_role_permissions.permission_id', count(*) from dispatch_role_permissions c
where c.permission_id is not null and not exists (select 1 from auth_permission p where p.id = c.permission_id)
union all
select 'fk_gone:dispatch_template.category_id', count(*) from dispatch_template c
where c.category_id is not null and not exists (select 1 from dispatch_category p where p.id = c.category_id)
union all
select 'fk_gone:dispatch_template_products.template_id', count(*) from dispatch_template_products c
where c.template_id is not null and not exists (select 1 from dispatch_template p where p.id = c.template_id)
union all
select 'fk_gone:dispatch_template_products.product_id', count(*) from dispatch_template_products c
where c.product_id is not null and not exists (select 1 from dispatch_product p where p.id = c.product_id)
union all
select 'fk_gone:dispatch_template_view_roles.template_id', count(*) from dispatch_template_view_roles c
where c.template_id is not null and not exists (select 1 from dispatch_template p where p.id = c.template_id)
union all
select 'fk_gone:dispatch_template_view_roles.role_id', count(*) from dispatch_template_view_roles c
where c.role_id is not null and not exists (select 1 from dispatch_role p where p.id = c.role_id)
union all
select 'fk_gone:dispatch_template_edit_roles.template_id', count(*) from dispatch_template_edit_roles c
where c.template_id is not null and not exists (select 1 from dispatch_template p where p.id = c.template_id)
union all
select 'fk_gone:dispatch_template_edit_roles.role_id', count(*) from dispatch_template_edit_roles c
where c.role_id is not null and not exists (select 1 from dispatch_role p where p.id = c.role_id)
union all
select 'fk_gone:dispatch_template_view_groups.template_id', count(*) from dispatch_template_view_groups c
where c.template_id is not null and not exists (select 1 from dispatch_template p where p.id = c.template_id)
union all
select 'fk_gone:dispatch_template_view_groups.group_id', count(*) from dispatch_template_view_groups c
where c.group_id is not null and not exists (select 1 from auth_group p where p.id = c.group_id)
union all
select 'fk_gone:dispatch_template_predecessors.template_id', count(*) from dispatch_template_predecessors c
where c.template_id is not null and not exists (select 1 from dispatch_template p where p.id = c.template_id)
union all
select 'fk_gone:dispatch_template_predecessors.to_template_id', count(*) from dispatch_template_predecessors c
where c.to_template_id is not null and not exists (select 1 from dispatch_template p where p.id = c.to_template_id)
union all
select 'fk_gone:dispatch_project.creator_id', count(*) from dispatch_project c
where c.creator_id is not null and not exists (select 1 from auth_user p where p.id = c.creator_id)
union all
select 'fk_gone:dispatch_bracket.project_id', count(*) from dispatch_bracket c
where c.project_id is not null and not exists (select 1 from dispatch_project p where p.id = c.project_id)
union all
select 'fk_gone:dispatch_plan.instruction_id', count(*) from dispatch_plan c
where c.instruction_id is not null and not exists (select 1 from dispatch_instruction p where p.id = c.instruction_id)
union all
select 'fk_gone:dispatch_plan.project_id', count(*) from dispatch_plan c
where c.project_id is not null and not exists (select 1 from dispatch_project p where p.id = c.project_id)
union all
select 'fk_gone:dispatch_comment.author_id', count(*) from dispatch_comment c
where c.author_id is not null and not exists (select 1 from auth_user p where p.id = c.author_id)
union all
select 'fk_gone:dispatch_comment.plan_id', count(*) from dispatch_comment c
where c.plan_id is not null and not exists (select 1 from dispatch_plan p where p.id = c.plan_id)
union all
select 'fk_gone:dispatch_task.file_id', count(*) from dispatch_task c
where c.file_id is not null and not exists (select 1 from dispatch_file p where p.id = c.file_id)
union all
select 'fk_gone:dispatch_task.template_id', count(*) from dispatch_task c
where c.template_id is not null and not exists (select 1 from dispatch_template p where p.id = c.template_id)
union all
select 'fk_gone:dispatch_task.plan_id', count(*) from dispatch_task c
where c.plan_id is not null and not exists (select 1 from dispatch_plan p where p.id = c.plan_id)
union all
select 'fk_gone:dispatch_task.instruction_id', count(*) from dispatch_task c
where c.instruction_id is not null and not exists (select 1 from dispatch_instruction p where p.id = c.instruction_id)
union all
select 'fk_gone:dispatch_task.actor_id', count(*) from dispatch_task c
where c.actor_id is not null and not exists (select 1 from auth_user p where p.id = c.actor_id)
union all
select 'fk_gone:dispatch_operation.payment_id', count(*) from dispatch_operation c
where c.payment_id is not null and not exists (select 1 from dispatch_payment p where p.id = c.payment_id)
union all
select 'fk_gone:dispatch_offer.doctor_id', count(*) from dispatch_offer c
where c.doctor_id is not null and not exists (select 1 from auth_user p where p.id = c.doctor_id)
union all
select 'fk_gone:dispatch_offer.product_id', count(*) from dispatch_offer c
where c.product_id is not null and not exists (select 1 from dispatch_product p where p.id = c.product_id)
union all
select 'fk_gone:dispatch_discount.offer_id', count(*) from dispatch_discount c
where c.offer_id is not null and not exists (select 1 from dispatch_offer p where p.id = c.offer_id)
-- the second wave's other defects
union all
select 'code_project_type_unknown', count(*) from dispatch_project where type not in (0, 1, 2, 3, 4, 5, 10, 11)
union all
select 'code_project_status_unknown', count(*) from dispatch_project where status not in (0, 1, 2, 3)
union all
select 'code_operation_type_unknown', count(*) from dispatch_operation where type not in (1, 2)
union all
select 'plan_without_instruction', count(*) from dispatch_plan where instruction_id is null
union all
select 'plan_two_originals', count(*) from (
    select instruction_id from dispatch_plan where original and instruction_id is not null
    group by instruction_id having count(*) > 1) o
union all
select 'plan_name_over_100', count(*) from dispatch_plan where length(name) > 100
union all
select 'name_blank_wave2', count(*) from (
    select name from dispatch_project union all select name from dispatch_bracket
    union all select name from dispatch_plan union all select name from dispatch_category
    union all select name from dispatch_role
    union all select task_name || text_name from dispatch_template) n
where btrim(name) = ''
union all
select 'comment_blank', count(*) from dispatch_comment where btrim(text) = ''
union all
select 'task_checked_without_done_at', count(*) from dispatch_task where checked and done_at is null
union all
select 'task_instruction_null', count(*) from dispatch_task where instruction_id is null
union all
select 'project_uid_duplicate', count(*) from (
    select uid from dispatch_project group by uid having count(*) > 1) d
union all
select 'offer_without_prices', count(*) from dispatch_offer
where price_both is null and price_upper is null and price_lower is null
union all
select 'offer_doctor_not_a_doctor', count(*) from dispatch_offer o
where o.doctor_id is not null
  and exists (select 1 from auth_user u where u.id = o.doctor_id)
  and not exists (select 1 from auth_user_groups g where g.user_id = o.doctor_id and g.group_id = 2)
union all
select 'discount_over_100', count(*) from dispatch_discount where percent > 100
union all
select 'discount_ends_before_start', count(*) from dispatch_discount where finish < start
union all
select 'template_extensions_bad', count(*) from dispatch_template
where extensions = '' or not sandbox.lg_json_valid(extensions)
union all
select 'category_cycle', count(*) from dispatch_category c
where exists (select 1 from dispatch_category p where p.id = c.parent_id and p.parent_id = c.id);
