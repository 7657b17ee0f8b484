{{
    config(
        unique_key='legacy_patient_id',
        tags=['cases'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('cases', 'dispatch_patient', ref('int_cases_mapped')) }}"],
    )
}}

{{ mart_rows() }}
