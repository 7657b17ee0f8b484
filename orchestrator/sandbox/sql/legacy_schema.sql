-- Simulated legacy database (the Django app's PostgreSQL `mdw_db`): the DDL of every legacy table
-- in scope (world.md section 3), in schema public, as Django would have created it:
--   * `id serial primary key` everywhere; foreign keys are integer `<name>_id` columns;
--   * foreign key constraints named `<table>_<column>_fk_<table>_id`, DEFERRABLE INITIALLY DEFERRED
--     (Django's style), each with a btree index on the FK column (`<table>_<column>_idx`);
--   * timestamps are timestamptz; JSON is held as text; nullability exactly as world.md lists it
--     (a column is NOT NULL unless world.md says "null");
--   * the reserved words "order" (dispatch_instruction) and "on" (dispatch_state) are quoted;
--   * no column defaults, as Django (< 5.0) creates none, except dispatch_instruction.exports
--     (default '{}', as world.md states).
--   * varchar columns whose length world.md gives keep it; the others are unbounded varchar.
--
-- Foreign keys deliberately LEFT OUT, because the real data violates them and the generator
-- (legacy_generate.sql) plants such orphans (the FK column is still indexed, as Django's
-- db_constraint=False would leave it):
--   * dispatch_instruction.patient_id   -> dispatch_patient     (instructions whose patient is gone)
--   * dispatch_file.instruction_id      -> dispatch_instruction (files pointing at a missing instruction)
--   * dispatch_file.record_id           -> dispatch_record      (files pointing at a missing record)
--   * dispatch_state.instruction_id     -> dispatch_instruction (states whose instruction is gone)
--   * dispatch_notification.recipient_id -> auth_user           (notifications whose recipient is gone)
-- Generic foreign keys (dispatch_record.target_id, dispatch_notification.item_id) are plain
-- integers with no constraint and no index, as in Django.
--
-- sandbox.generate_legacy() drops the FK constraints and the secondary indexes of these tables
-- while it bulk-loads them and recreates them (from their definitions read in the catalog) before
-- it returns, so this file stays the single source of the schema.

-- Django's own tables ---------------------------------------------------------------------------

create table django_content_type (
    id serial primary key,
    app_label varchar(100) not null,
    model varchar(100) not null,
    constraint django_content_type_app_label_model_76bd3d3b_uniq unique (app_label, model)
);

create table auth_group (
    id serial primary key,
    name varchar(150) not null,
    constraint auth_group_name_key unique (name)
);

create table auth_user (
    id serial primary key,
    password varchar(128) not null,
    last_login timestamptz null,
    is_superuser boolean not null,
    username varchar(150) not null,
    first_name varchar(150) not null,
    last_name varchar(150) not null,
    email varchar(254) not null,
    is_staff boolean not null,
    is_active boolean not null,
    date_joined timestamptz not null,
    constraint auth_user_username_key unique (username)
);

create table auth_user_groups (
    id serial primary key,
    user_id integer not null,
    group_id integer not null,
    constraint auth_user_groups_user_id_group_id_94350c0c_uniq unique (user_id, group_id),
    constraint auth_user_groups_user_id_fk_auth_user_id
        foreign key (user_id) references auth_user (id) deferrable initially deferred,
    constraint auth_user_groups_group_id_fk_auth_group_id
        foreign key (group_id) references auth_group (id) deferrable initially deferred
);
create index auth_user_groups_user_id_idx on auth_user_groups (user_id);
create index auth_user_groups_group_id_idx on auth_user_groups (group_id);

-- Offices and doctors ---------------------------------------------------------------------------

create table dispatch_office (
    id serial primary key,
    name varchar not null,
    address varchar not null,
    apt varchar not null,
    city varchar not null,
    state varchar not null,
    zip varchar not null,
    phone varchar not null,
    tax_rate numeric(7, 4) not null,
    valid boolean not null,
    sq_customer_id varchar null,
    emails boolean not null,
    country varchar null
);

create table dispatch_office_doctors (
    id serial primary key,
    office_id integer not null,
    user_id integer not null,
    constraint dispatch_office_doctors_office_id_user_id_uniq unique (office_id, user_id),
    constraint dispatch_office_doctors_office_id_fk_dispatch_office_id
        foreign key (office_id) references dispatch_office (id) deferrable initially deferred,
    constraint dispatch_office_doctors_user_id_fk_auth_user_id
        foreign key (user_id) references auth_user (id) deferrable initially deferred
);
create index dispatch_office_doctors_office_id_idx on dispatch_office_doctors (office_id);
create index dispatch_office_doctors_user_id_idx on dispatch_office_doctors (user_id);

create table dispatch_doctorsetting (
    id serial primary key,
    user_id integer not null,
    clinical_preferences text not null,
    sq_customer_id varchar null,
    promised_payment boolean not null,
    credit numeric(10, 2) not null,
    installment_payments integer not null,
    baa_agreed_at timestamptz null,
    eula_agreed_at timestamptz null,
    company_account boolean not null,
    constraint dispatch_doctorsetting_user_id_key unique (user_id),
    constraint dispatch_doctorsetting_user_id_fk_auth_user_id
        foreign key (user_id) references auth_user (id) deferrable initially deferred
);

-- Patients ---------------------------------------------------------------------------------------

create table dispatch_patient (
    id serial primary key,
    user_id integer not null,
    doctor_id integer not null,
    office_id integer null,
    birthdate date null,
    sex integer null,
    suffix varchar(10) not null,
    archived boolean not null,
    suspended boolean not null,
    status integer not null,
    schemes text not null,
    submitted_at timestamptz not null,
    updated_at timestamptz not null,
    constraint dispatch_patient_user_id_fk_auth_user_id
        foreign key (user_id) references auth_user (id) deferrable initially deferred,
    constraint dispatch_patient_doctor_id_fk_auth_user_id
        foreign key (doctor_id) references auth_user (id) deferrable initially deferred,
    constraint dispatch_patient_office_id_fk_dispatch_office_id
        foreign key (office_id) references dispatch_office (id) deferrable initially deferred
);
create index dispatch_patient_user_id_idx on dispatch_patient (user_id);
create index dispatch_patient_doctor_id_idx on dispatch_patient (doctor_id);
create index dispatch_patient_office_id_idx on dispatch_patient (office_id);

-- Catalogue --------------------------------------------------------------------------------------

create table dispatch_course (
    id serial primary key,
    name varchar not null,
    type integer not null,
    customization text not null
);

create table dispatch_product (
    id serial primary key,
    name varchar not null,
    description text not null,
    free boolean not null,
    deleted boolean not null,
    customization text not null,
    type integer null,
    substitute boolean not null,
    course_id integer not null,
    constraint dispatch_product_course_id_fk_dispatch_course_id
        foreign key (course_id) references dispatch_course (id) deferrable initially deferred
);
create index dispatch_product_course_id_idx on dispatch_product (course_id);

-- Orders (instructions) and their jaws ----------------------------------------------------------

create table dispatch_jaw (
    id serial primary key,
    bond_teeth text not null,
    extract_teeth text not null,
    reason integer null,
    product_id integer null,
    labial boolean not null,
    constraint dispatch_jaw_product_id_fk_dispatch_product_id
        foreign key (product_id) references dispatch_product (id) deferrable initially deferred
);
create index dispatch_jaw_product_id_idx on dispatch_jaw (product_id);

create table dispatch_instruction (
    id serial primary key,
    -- no FK constraint: the generator plants instructions whose patient is gone
    patient_id integer not null,
    submitted_at timestamptz not null,
    updated_at timestamptz not null,
    deleted boolean not null,
    status integer not null,
    cbct boolean not null,
    model integer null,
    scanner integer null,
    objective text not null,
    conditions text not null,
    "order" integer not null,
    lower_jaw_id integer null,
    upper_jaw_id integer null,
    comprehensive boolean null,
    accept_extraction boolean null,
    scanner_notes text not null,
    notes text null,
    complaint text not null,
    suffix varchar(10) not null,
    course_id integer not null,
    exports text not null default '{}',
    price numeric(10, 2) not null,
    constraint dispatch_instruction_lower_jaw_id_fk_dispatch_jaw_id
        foreign key (lower_jaw_id) references dispatch_jaw (id) deferrable initially deferred,
    constraint dispatch_instruction_upper_jaw_id_fk_dispatch_jaw_id
        foreign key (upper_jaw_id) references dispatch_jaw (id) deferrable initially deferred,
    constraint dispatch_instruction_course_id_fk_dispatch_course_id
        foreign key (course_id) references dispatch_course (id) deferrable initially deferred
);
create index dispatch_instruction_patient_id_idx on dispatch_instruction (patient_id);
create index dispatch_instruction_lower_jaw_id_idx on dispatch_instruction (lower_jaw_id);
create index dispatch_instruction_upper_jaw_id_idx on dispatch_instruction (upper_jaw_id);
create index dispatch_instruction_course_id_idx on dispatch_instruction (course_id);

-- Records (messages / notes), files and their attachments ---------------------------------------

create table dispatch_record (
    id serial primary key,
    target_type_id integer null,
    target_id integer not null,
    type integer null,
    created_at timestamptz not null,
    text text not null,
    author_id integer null,
    group_id integer null,
    public boolean null,
    constraint dispatch_record_target_type_id_fk_django_content_type_id
        foreign key (target_type_id) references django_content_type (id) deferrable initially deferred,
    constraint dispatch_record_author_id_fk_auth_user_id
        foreign key (author_id) references auth_user (id) deferrable initially deferred,
    constraint dispatch_record_group_id_fk_auth_group_id
        foreign key (group_id) references auth_group (id) deferrable initially deferred
);
create index dispatch_record_target_type_id_idx on dispatch_record (target_type_id);
create index dispatch_record_author_id_idx on dispatch_record (author_id);
create index dispatch_record_group_id_idx on dispatch_record (group_id);

create table dispatch_file (
    id serial primary key,
    uid varchar not null,
    name varchar not null,
    ext varchar not null,
    size bigint not null,
    type integer not null,
    -- no FK constraint: the generator plants files pointing at a missing instruction
    instruction_id integer null,
    created_at timestamptz not null,
    description text null,
    product_id integer null,
    parameters text not null,
    -- no FK constraint: the generator plants files pointing at a missing record
    record_id integer null,
    status integer not null,
    constraint dispatch_file_product_id_fk_dispatch_product_id
        foreign key (product_id) references dispatch_product (id) deferrable initially deferred
);
create index dispatch_file_instruction_id_idx on dispatch_file (instruction_id);
create index dispatch_file_product_id_idx on dispatch_file (product_id);
create index dispatch_file_record_id_idx on dispatch_file (record_id);

create table dispatch_record_attachments (
    id serial primary key,
    record_id integer not null,
    file_id integer not null,
    constraint dispatch_record_attachments_record_id_file_id_uniq unique (record_id, file_id),
    constraint dispatch_record_attachments_record_id_fk_dispatch_record_id
        foreign key (record_id) references dispatch_record (id) deferrable initially deferred,
    constraint dispatch_record_attachments_file_id_fk_dispatch_file_id
        foreign key (file_id) references dispatch_file (id) deferrable initially deferred
);
create index dispatch_record_attachments_record_id_idx on dispatch_record_attachments (record_id);
create index dispatch_record_attachments_file_id_idx on dispatch_record_attachments (file_id);

-- Status history, payments, notifications -------------------------------------------------------

create table dispatch_state (
    id serial primary key,
    status integer not null,
    "on" boolean not null,
    changed_at timestamptz not null,
    actor_id integer null,
    -- no FK constraint: the generator plants states whose instruction is gone
    instruction_id integer not null,
    constraint dispatch_state_actor_id_fk_auth_user_id
        foreign key (actor_id) references auth_user (id) deferrable initially deferred
);
create index dispatch_state_actor_id_idx on dispatch_state (actor_id);
create index dispatch_state_instruction_id_idx on dispatch_state (instruction_id);

create table dispatch_payment (
    id serial primary key,
    made_at timestamptz null,
    free boolean not null,
    tax_rate numeric not null,
    tax_value numeric not null,
    paid_price numeric not null,
    used_credit numeric not null,
    custom_price numeric null,
    subtotal_price numeric not null,
    additional_price numeric not null,
    total_price numeric not null,
    instruction_id integer null,
    canceled boolean not null,
    paid boolean not null,
    doctor_id integer null,
    office_id integer null,
    installments text not null,
    netsuite boolean not null,
    constraint dispatch_payment_instruction_id_fk_dispatch_instruction_id
        foreign key (instruction_id) references dispatch_instruction (id) deferrable initially deferred,
    constraint dispatch_payment_doctor_id_fk_auth_user_id
        foreign key (doctor_id) references auth_user (id) deferrable initially deferred,
    constraint dispatch_payment_office_id_fk_dispatch_office_id
        foreign key (office_id) references dispatch_office (id) deferrable initially deferred
);
create index dispatch_payment_instruction_id_idx on dispatch_payment (instruction_id);
create index dispatch_payment_doctor_id_idx on dispatch_payment (doctor_id);
create index dispatch_payment_office_id_idx on dispatch_payment (office_id);

create table dispatch_notification (
    id serial primary key,
    created_at timestamptz not null,
    sender varchar not null,
    template_name varchar not null,
    template_context text not null,
    read boolean not null,
    item_id integer null,
    item_type_id integer null,
    -- no FK constraint: the generator plants notifications whose recipient is gone
    recipient_id integer not null,
    sent boolean null,
    send boolean not null,
    constraint dispatch_notification_item_type_id_fk_django_content_type_id
        foreign key (item_type_id) references django_content_type (id) deferrable initially deferred
);
create index dispatch_notification_item_type_id_idx on dispatch_notification (item_type_id);
create index dispatch_notification_recipient_id_idx on dispatch_notification (recipient_id);

-- The second wave (world.md section 8.2) -------------------------------------------------------
-- Every foreign key of these tables points at a gone row in about 0.2% of their rows (a planted
-- defect, as the real data has them), so none of them has an FK constraint: the columns are plain
-- integers with Django's index, as db_constraint=False leaves them. dispatch_task.order_id is no
-- foreign key at all (no index either). The junctions keep Django's unique pair.

create table auth_permission (
    id serial primary key,
    name varchar(255) not null,
    content_type_id integer not null,
    codename varchar(100) not null,
    constraint auth_permission_content_type_id_codename_01ab375a_uniq unique (content_type_id, codename)
);
create index auth_permission_content_type_id_idx on auth_permission (content_type_id);

create table dispatch_category (
    id serial primary key,
    name varchar not null,
    parent_id integer null
);
create index dispatch_category_parent_id_idx on dispatch_category (parent_id);

create table dispatch_role (
    id serial primary key,
    name varchar not null,
    abbrev varchar not null,
    type integer not null,
    "order" integer not null,
    user_id integer null,
    group_id integer null
);
create index dispatch_role_user_id_idx on dispatch_role (user_id);
create index dispatch_role_group_id_idx on dispatch_role (group_id);

create table dispatch_role_permissions (
    id serial primary key,
    role_id integer not null,
    permission_id integer not null,
    constraint dispatch_role_permissions_role_id_permission_id_uniq unique (role_id, permission_id)
);
create index dispatch_role_permissions_role_id_idx on dispatch_role_permissions (role_id);
create index dispatch_role_permissions_permission_id_idx on dispatch_role_permissions (permission_id);

create table dispatch_template (
    id serial primary key,
    task_name varchar not null,
    text_name varchar not null,
    action_name varchar not null,
    category_id integer null,
    duration integer null,
    function integer not null,
    predefined boolean not null,
    read_only boolean not null,
    separate boolean not null,
    status integer not null,
    alerts text not null,
    extensions text not null
);
create index dispatch_template_category_id_idx on dispatch_template (category_id);

create table dispatch_template_products (
    id serial primary key,
    template_id integer not null,
    product_id integer not null,
    constraint dispatch_template_products_template_id_product_id_uniq unique (template_id, product_id)
);
create index dispatch_template_products_template_id_idx on dispatch_template_products (template_id);
create index dispatch_template_products_product_id_idx on dispatch_template_products (product_id);

create table dispatch_template_view_roles (
    id serial primary key,
    template_id integer not null,
    role_id integer not null,
    constraint dispatch_template_view_roles_template_id_role_id_uniq unique (template_id, role_id)
);
create index dispatch_template_view_roles_template_id_idx on dispatch_template_view_roles (template_id);
create index dispatch_template_view_roles_role_id_idx on dispatch_template_view_roles (role_id);

create table dispatch_template_edit_roles (
    id serial primary key,
    template_id integer not null,
    role_id integer not null,
    constraint dispatch_template_edit_roles_template_id_role_id_uniq unique (template_id, role_id)
);
create index dispatch_template_edit_roles_template_id_idx on dispatch_template_edit_roles (template_id);
create index dispatch_template_edit_roles_role_id_idx on dispatch_template_edit_roles (role_id);

create table dispatch_template_view_groups (
    id serial primary key,
    template_id integer not null,
    group_id integer not null,
    constraint dispatch_template_view_groups_template_id_group_id_uniq unique (template_id, group_id)
);
create index dispatch_template_view_groups_template_id_idx on dispatch_template_view_groups (template_id);
create index dispatch_template_view_groups_group_id_idx on dispatch_template_view_groups (group_id);

create table dispatch_template_predecessors (
    id serial primary key,
    template_id integer not null,
    to_template_id integer not null,
    constraint dispatch_template_predecessors_template_id_to_template_id_uniq
        unique (template_id, to_template_id)
);
create index dispatch_template_predecessors_template_id_idx on dispatch_template_predecessors (template_id);
create index dispatch_template_predecessors_to_template_id_idx
    on dispatch_template_predecessors (to_template_id);

create table dispatch_project (
    id serial primary key,
    uid varchar not null,
    created_at timestamptz not null,
    name varchar not null,
    size integer not null,
    public boolean not null,
    type integer not null,
    status integer not null,
    creator_id integer null
);
create index dispatch_project_creator_id_idx on dispatch_project (creator_id);

create table dispatch_bracket (
    id serial primary key,
    name varchar not null,
    project_id integer null,
    type varchar null
);
create index dispatch_bracket_project_id_idx on dispatch_bracket (project_id);

create table dispatch_plan (
    id serial primary key,
    instruction_id integer null,
    project_id integer not null,
    notes text not null,
    number integer null,
    name varchar not null,
    original boolean not null
);
create index dispatch_plan_instruction_id_idx on dispatch_plan (instruction_id);
create index dispatch_plan_project_id_idx on dispatch_plan (project_id);

create table dispatch_comment (
    id serial primary key,
    created_at timestamptz not null,
    text text not null,
    author_id integer null,
    plan_id integer not null
);
create index dispatch_comment_author_id_idx on dispatch_comment (author_id);
create index dispatch_comment_plan_id_idx on dispatch_comment (plan_id);

create table dispatch_task (
    id serial primary key,
    checked boolean not null,
    file_id integer null,
    template_id integer not null,
    done_at timestamptz null,
    text text null,
    plan_id integer null,
    instruction_id integer null,
    actor_id integer null,
    jaw integer not null,
    -- an integer, no foreign key (world.md 8.2)
    order_id integer null
);
create index dispatch_task_file_id_idx on dispatch_task (file_id);
create index dispatch_task_template_id_idx on dispatch_task (template_id);
create index dispatch_task_plan_id_idx on dispatch_task (plan_id);
create index dispatch_task_instruction_id_idx on dispatch_task (instruction_id);
create index dispatch_task_actor_id_idx on dispatch_task (actor_id);

create table dispatch_operation (
    id serial primary key,
    type integer not null,
    made_at timestamptz null,
    price numeric(10, 2) not null,
    sq_order_id varchar not null,
    sq_payment_id varchar not null,
    sq_refund_id varchar not null,
    card_brand varchar not null,
    card_bin varchar not null,
    card_last varchar not null,
    office_card boolean not null,
    payment_id integer not null,
    attempts integer not null
);
create index dispatch_operation_payment_id_idx on dispatch_operation (payment_id);

create table dispatch_offer (
    id serial primary key,
    doctor_id integer null,
    product_id integer not null,
    price_both numeric(10, 2) null,
    price_upper numeric(10, 2) null,
    price_lower numeric(10, 2) null
);
create index dispatch_offer_doctor_id_idx on dispatch_offer (doctor_id);
create index dispatch_offer_product_id_idx on dispatch_offer (product_id);

create table dispatch_discount (
    id serial primary key,
    offer_id integer not null,
    percent integer not null,
    reason varchar not null,
    count integer null,
    start date null,
    finish date null,
    total boolean not null,
    used integer null
);
create index dispatch_discount_offer_id_idx on dispatch_discount (offer_id);
