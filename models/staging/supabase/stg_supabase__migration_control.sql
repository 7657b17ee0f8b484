with

source as (
    select * from {{ source('supabase', 'migration_control') }}
),

renamed as (
    select
        ---------- ids
        id as migration_control_id,

        ---------- strings
        phase,
        table_name,
        operation,
        status,
        error_message,
        source_query,
        validation_query,

        ---------- numerics
        records_processed,
        total_records,
        batch_size,
        worker_id,

        ---------- booleans
        phase = 'diffmig' as is_written_by_diffmig,
        status = 'completed' as is_completed,

        ---------- timestamps
        -- stored without a time zone; the earlier scripts wrote UTC
        started_at at time zone 'UTC' as started_at,
        completed_at at time zone 'UTC' as completed_at
    from source
)

select * from renamed
