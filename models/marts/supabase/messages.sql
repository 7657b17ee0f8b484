{#- pre_hook: JIT-compiling this model's wide expressions (issues, drift) costs seconds, far
    more than the queries themselves; `set local` turns it off for the model's transaction (the
    upsert and the record_row_issues post-hook included). -#}
{{
    config(
        unique_key='legacy_record_id',
        tags=['messages'],
        merge_jsonb_columns=['metadata'],
        pre_hook=["set local jit = off"],
        post_hook=["{{ record_row_issues('messages', 'dispatch_record', ref('int_messages_mapped')) }}"],
    )
}}

with

mapped as (
    select * from {{ ref('int_messages_mapped') }}
)

-- varchar columns cast to the app's exact type: a wider temp column would make dbt's incremental
-- materialization widen the app's column (longer values are held back by the mapping).
select
    id,
    cast(message_type as varchar(50)) as message_type,
    content,
    sender_id,
    cast(recipient_type as varchar(50)) as recipient_type,
    recipient_id,
    created_at,
    legacy_record_id,
    metadata
from mapped
where _apply
