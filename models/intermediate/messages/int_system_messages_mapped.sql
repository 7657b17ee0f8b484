-- sqlfluff:indentation:template_blocks_indent:False
{#- System messages mapped to the Supabase shape (world.md section 5) from dispatch_notification,
    with the declared filter: only notifications with send and sent true become system messages
    (a notification that has a target row and no longer passes the filter is deactivated).
    The recipient is read through the profiles mart (a recipient that is not there is held
    back: error); order_id is set when the item's content type routes to orders
    (content_type_routing: ('dispatch', 'instruction')) and that order exists.

    Cost: dispatch_notification is by far the largest table (5.1 million rows at scale 1.0), so
      - a delta build (var since_run > 0) first selects the considered keys (a plain filter on
        the mirror's synced_run, primary-key lookups for retried keys, and the notifications of
        content types synced since), then reads only those notifications; a full build
        (since_run 0) reads every notification once, without a key list;
      - the UUID of a row is resolved inline, as int_system_messages_keyed does (the target
        row's id, else UUID v5 of 'system_messages:<id>'; no migration_mappings type is
        trusted), because that key map reads every notification;
      - the template context is parsed once per considered row, after the filter
        (diffmig.try_jsonb costs a subtransaction and is parallel unsafe): `parsed` is an
        optimisation fence (offset 0); the staging view's own parsed column is not used, since
        a view written with CTEs is not flattened and would parse every notification it reads;
      - the template name -> message_type keyword match runs once per distinct name (a lateral
        lookup the planner memoizes);
      - target rows whose notification was gone before diffmig's first sync are looked for by
        full builds only (see gone_before_first_sync). -#}
{%- set since_run = var('since_run', 0) | int -%}
{%- set full_build = since_run == 0 %}
{{ config(materialized='table', unlogged=true) }}

{#- considered: the notifications in scope (send and sent), and those that have a target row,
    with their target row's current values (_target_*). A delta build also considers the open
    `order_not_migrated` warnings whose order has landed since (a primary-key lookup of each
    one's item; most stay open, their order being held back for good) and the notifications of
    content types synced since (none, almost always). -#}
{% call entity_inputs('system_messages', 'stg_legacy__notifications', 'legacy_notification_id',
    lookup=true,
    lookup_full_scan=true,
    target_key='legacy_record_id',
    lookup_target_row=true,
    reconsider=[
        "select row_issues.legacy_key::integer as legacy_notification_id"
        ~ " from " ~ ref('stg_bookkeeping__row_issues') ~ " as row_issues"
        ~ " inner join lateral (select notifications.legacy_item_id from staged as notifications"
        ~ " where notifications.legacy_notification_id = row_issues.legacy_key::integer"
        ~ " offset 0) as items on true"
        ~ " inner join orders on items.legacy_item_id = orders.legacy_instruction_id"
        ~ " where row_issues.entity = 'system_messages' and row_issues.resolved_at is null"
        ~ " and row_issues.reason = 'order_not_migrated'",
        "select item_notifications.legacy_notification_id from content_types"
        ~ " inner join lateral (select notifications.legacy_notification_id"
        ~ " from staged as notifications"
        ~ " where notifications.legacy_item_type_id = content_types.legacy_content_type_id"
        ~ " offset 0) as item_notifications on true"
        ~ " where " ~ changed_since('content_types'),
    ],
    lookup_columns=[
        'looked_up_row.legacy_notification_id',
        'looked_up_row.legacy_recipient_user_id',
        'looked_up_row.legacy_item_type_id',
        'looked_up_row.legacy_item_id',
        'looked_up_row.sender',
        'looked_up_row.template_name',
        'looked_up_row.template_context_text',
        'looked_up_row.is_read',
        'looked_up_row.is_to_send',
        'looked_up_row.is_sent',
        'looked_up_row.created_at',
        'looked_up_row.synced_run',
        'looked_up_row.is_deleted_in_source',
        'existing_row.system_message_id as _target_id',
        'existing_row.message_type as _target_message_type',
        'existing_row.order_id as _target_order_id',
        'existing_row.recipient_id as _target_recipient_id',
        'existing_row.message_code as _target_message_code',
        'existing_row.message_data as _target_message_data',
        'existing_row.message as _target_message',
        'existing_row.barcode as _target_barcode',
        'existing_row.tracking_number as _target_tracking_number',
        'existing_row.carrier as _target_carrier',
        'existing_row.processed as _target_processed',
        'existing_row.processed_at as _target_processed_at',
        'existing_row.is_active as _target_is_active',
        'coalesce(looked_up_row.is_to_send and looked_up_row.is_sent, false) as is_in_scope',
    ],
    lookup_where="(looked_up_row.is_to_send and looked_up_row.is_sent)"
        ~ " or existing_row.system_message_id is not null") %}
content_types as not materialized (
    select * from {{ ref('stg_legacy__content_types') }}
),

-- Orders that exist after the orders mart ran (an order held back is not there).
orders as (
    select
        orders.id as order_id,
        orders.legacy_instruction_id
    from {{ ref('orders') }} as orders
    where orders.legacy_instruction_id is not null
),
{% endcall %}

-- The content types whose rows are orders (legacy instructions), by (app_label, model).
order_content_types as (
    select content_types.legacy_content_type_id
    from content_types
    inner join {{ ref('content_type_routing') }} as routing
        on
            content_types.app_label = routing.app_label
            and content_types.model_name = routing.model_name
    where routing.recipient_type = 'order' and not routing.is_fallback
),

template_types as (
    select * from {{ ref('template_message_types') }}
),

-- One row (an aggregate, so the planner knows it): the seed's fallback. The single-row CTE is
-- materialized so that it is computed once (the planner may otherwise put it on the inner side
-- of a nested loop and compute it again for every considered row).
fallback_type as materialized (
    select
        max(template_types.message_type) filter (where template_types.is_fallback)
            as message_type
    from template_types
),

-- Profiles that exist after the profiles mart ran (a row held back is not there).
profiles as (
    select
        profiles.id as profile_id,
        profiles.legacy_user_id
    from {{ ref('profiles') }} as profiles
    where profiles.legacy_user_id is not null
),

-- The legacy rows a notification can point at (to tell a missing one from one held back).
legacy_users as (
    select legacy_user_id from {{ ref('stg_legacy__users') }}
),

legacy_instructions as (
    select legacy_instruction_id from {{ ref('stg_legacy__instructions') }}
),

-- The context parsed once per considered row, after the filter (the staging view's own parsed
-- column would be computed for every notification it reads); offset 0 keeps this a fence, so
-- the later references reuse the parsed value.
parsed as (
    select
        considered.*,
        {{ safe_jsonb('considered.template_context_text') }} as context
    from considered
    -- an optimisation fence, not a limit
    offset 0  -- noqa: AM09
),

mapped_values as (
    select
        parsed.*,
        coalesce(
            parsed._target_id,
            {{ legacy_uuid('system_messages', 'parsed.legacy_notification_id') }}
        ) as id,
        jsonb_typeof(parsed.context) = 'object' as is_context_object,
        coalesce(
            parsed.legacy_item_type_id in (
                select order_content_types.legacy_content_type_id from order_content_types
            ),
            false
        ) as is_order_item,
        coalesce(template_type.message_type, fallback_type.message_type) as template_message_type,
        template_type.message_type is null as is_unknown_template,
        profiles.profile_id,
        legacy_users.legacy_user_id is not null as is_recipient_in_source,
        orders.order_id as item_order_id,
        legacy_instructions.legacy_instruction_id is not null as is_item_instruction_in_source,
        (parsed.is_deleted_in_source or not parsed.is_in_scope) as is_removed
    from parsed
    cross join fallback_type
    left join lateral (
        select template_types.message_type
        from template_types
        where
            not template_types.is_fallback
            and strpos(lower(parsed.template_name), template_types.keyword) > 0
        order by template_types.precedence
        limit 1
    ) as template_type on true
    left join profiles on parsed.legacy_recipient_user_id = profiles.legacy_user_id
    left join legacy_users on parsed.legacy_recipient_user_id = legacy_users.legacy_user_id
    left join orders on parsed.legacy_item_id = orders.legacy_instruction_id
    left join legacy_instructions
        on parsed.legacy_item_id = legacy_instructions.legacy_instruction_id
),

-- A notification deleted in the source, or no longer sent, only deactivates its target row
-- (the row's other values are left as they are); any other row takes the mapped values.
mapped as (
    select
        mapped_values.id,
        case
            when mapped_values.is_removed then mapped_values._target_message_type
            else mapped_values.template_message_type
        end as message_type,
        case
            when mapped_values.is_removed then mapped_values._target_order_id
            when mapped_values.is_order_item then mapped_values.item_order_id
        end as order_id,
        case
            when mapped_values.is_removed then mapped_values._target_recipient_id
            else mapped_values.profile_id
        end as recipient_id,
        case
            when mapped_values.is_removed then mapped_values._target_message_code
            else mapped_values.template_name
        end as message_code,
        case
            when mapped_values.is_removed then mapped_values._target_message_data
            when mapped_values.is_context_object then mapped_values.context
            when mapped_values.template_context_text is not null
                then jsonb_build_object('raw_context', mapped_values.template_context_text)
        end as message_data,
        case
            when mapped_values.is_removed then mapped_values._target_message
            when mapped_values.is_context_object
                then coalesce(
                        nullif(btrim(mapped_values.context ->> 'message'), ''),
                        mapped_values.template_name
                    )
            else mapped_values.template_name
        end as message,
        case
            when mapped_values.is_removed then mapped_values._target_barcode
            when mapped_values.is_context_object
                then nullif(btrim(mapped_values.context ->> 'barcode'), '')
        end as barcode,
        case
            when mapped_values.is_removed then mapped_values._target_tracking_number
            when mapped_values.is_context_object
                then nullif(btrim(mapped_values.context ->> 'tracking_number'), '')
        end as tracking_number,
        case
            when mapped_values.is_removed then mapped_values._target_carrier
            when mapped_values.is_context_object
                then nullif(btrim(mapped_values.context ->> 'carrier'), '')
        end as carrier,
        case
            when mapped_values.is_removed then mapped_values._target_processed
            else mapped_values.is_sent
        end as processed,
        case
            when mapped_values.is_removed then mapped_values._target_processed_at
            when mapped_values.is_sent then mapped_values.created_at
        end as processed_at,
        not mapped_values.is_removed as is_active,
        mapped_values.created_at,
        mapped_values.legacy_notification_id as legacy_record_id,
        case
            when mapped_values.is_removed then '{}'::jsonb
            else jsonb_build_object('legacy', jsonb_build_object(
                    'sender', mapped_values.sender,
                    'template_name', mapped_values.template_name,
                    'item_type_id', mapped_values.legacy_item_type_id,
                    'item_id', mapped_values.legacy_item_id,
                    'recipient_id', mapped_values.legacy_recipient_user_id,
                    'read', mapped_values.is_read,
                    'send', mapped_values.is_to_send,
                    'sent', mapped_values.is_sent
                ))
        end as metadata,
        mapped_values.legacy_recipient_user_id as _legacy_recipient_user_id,
        mapped_values.legacy_item_id as _legacy_item_id,
        mapped_values.template_name as _legacy_template_name,
        mapped_values.is_recipient_in_source as _is_recipient_in_source,
        case
            when
                mapped_values.is_removed
                or not mapped_values.is_order_item
                or mapped_values.item_order_id is not null
                then null
            when mapped_values.is_item_instruction_in_source then 'order_not_migrated'
            else 'instruction_missing'
        end as _order_problem,
        (
            not mapped_values.is_removed and mapped_values.is_unknown_template
        ) as _is_unknown_template,
        (
            not mapped_values.is_removed
            and not mapped_values.is_context_object
            and mapped_values.template_context_text is not null
        ) as _is_context_invalid,
        mapped_values.is_removed as _is_removed,
        mapped_values.is_deleted_in_source as _is_deleted_in_source,
        (
            not mapped_values.is_in_scope and not mapped_values.is_deleted_in_source
        ) as _is_out_of_scope,
        mapped_values._target_id is not null as _has_target_row,
        {%- if full_build %}
        mapped_values.synced_run > (select first_sync.synced_run from first_sync)
        {%- else %}
        mapped_values.synced_run > {{ since_run }}
        {%- endif %} as _is_changed_after_first_sync,
        mapped_values._target_message_type,
        mapped_values._target_order_id,
        mapped_values._target_recipient_id,
        mapped_values._target_message_code,
        mapped_values._target_message_data,
        mapped_values._target_message,
        mapped_values._target_barcode,
        mapped_values._target_tracking_number,
        mapped_values._target_carrier,
        mapped_values._target_processed,
        mapped_values._target_processed_at,
        mapped_values._target_is_active
    from mapped_values
),

-- Active target rows whose notification the mirror never saw (deleted in the source before
-- diffmig's first sync) are deactivated, their other values left as they are; created_at is
-- null (written on insert only; stg_supabase__system_messages does not read it). Full builds
-- only: a delta build skips this anti-join of every target row with every notification (most
-- of a delta build's cost at scale 1.0; gone_when false): the mirror never drops a key, so the
-- set is fixed after the first sync, and the full build deactivated all of it (a removal is
-- always applied). The mapped rows carry their target's values, so compared reads no target
-- row; a removed notification that never reached the target has nothing to deactivate.
{{ entity_decision('system_messages', 'legacy_record_id',
    issues=[
        issue_when("not compared._is_removed and compared.recipient_id is null", "error",
            "recipient_not_migrated",
            "format('recipient user %s %s', compared._legacy_recipient_user_id, case when compared._is_recipient_in_source then 'has no profiles row (held back or not migrated yet)' else 'is not in the legacy database' end)"),
        issue_when("not compared._is_removed and compared.message_type not in ('info', 'order_update', 'shipment_update', 'payment_update', 'case_update', 'reminder', 'welcome', 'status_update', 'notification')",
            "error", "message_type_not_allowed",
            "format('message_type %s breaks system_messages_message_type_check (template_message_types)', quote_literal(compared.message_type))"),
        issue_when("compared._order_problem = 'order_not_migrated'", "warning",
            "order_not_migrated",
            "format('item instruction %s has no orders row (held back or not migrated yet): order_id left null', compared._legacy_item_id)"),
        issue_when("compared._order_problem = 'instruction_missing'", "warning",
            "instruction_missing",
            "format('item instruction %s is not in the legacy database: order_id left null', compared._legacy_item_id)"),
        issue_when("compared._is_unknown_template", "warning", "unknown_template_name",
            "format('template_name %s matches no keyword of template_message_types: message_type %s', coalesce(quote_literal(compared._legacy_template_name), 'null'), compared.message_type)"),
        issue_when("compared._is_context_invalid", "warning", "invalid_json_template_context",
            "'template_context is not a JSON object: message_data is {\"raw_context\": <text>}'"),
        issue_when("not compared._is_removed and (compared.created_at < timestamptz '2000-01-01' or compared.created_at > now() + interval '1 day')",
            "warning", "implausible_timestamp",
            "format('created_at %s copied as is', compared.created_at)"),
        issue_when("compared._is_out_of_scope", "warning", "out_of_scope",
            "'the notification is no longer sent (send and sent): its system message is deactivated'"),
    ],
    gone=[
        'null::integer as _legacy_recipient_user_id',
        'null::integer as _legacy_item_id',
        'null::text as _legacy_template_name',
        'true as _is_recipient_in_source',
        'null::text as _order_problem',
        'false as _is_unknown_template',
        'false as _is_context_invalid',
        'true as _is_removed',
        'true as _is_deleted_in_source',
        'false as _is_out_of_scope',
        'true as _has_target_row',
        'false as _is_changed_after_first_sync',
        'targets.message_type as _target_message_type',
        'targets.order_id as _target_order_id',
        'targets.recipient_id as _target_recipient_id',
        'targets.message_code as _target_message_code',
        'targets.message_data as _target_message_data',
        'targets.message as _target_message',
        'targets.barcode as _target_barcode',
        'targets.tracking_number as _target_tracking_number',
        'targets.carrier as _target_carrier',
        'targets.processed as _target_processed',
        'targets.processed_at as _target_processed_at',
        'targets.is_active as _target_is_active',
    ],
    gone_values={'created_at': 'null::timestamptz'},
    gone_when="targets.is_active is distinct from false" if full_build else "false",
    target_id='system_message_id',
    staged_key='legacy_notification_id',
    carried_targets=true,
    drift_unless='compared._is_removed',
    applies=['checked._is_removed'],
    deleted='checked._is_removed',
    has_target='checked._has_target_row',
) }}
