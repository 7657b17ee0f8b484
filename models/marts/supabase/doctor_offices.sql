{{
    config(
        unique_key=['doctor_id', 'office_id'],
        tags=['doctor_offices'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('doctor_offices', 'dispatch_office_doctors', ref('int_doctor_offices_mapped')) }}"],
    )
}}

{{ mart_rows() }}
