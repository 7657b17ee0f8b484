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
