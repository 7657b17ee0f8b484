{{
    config(
        unique_key='legacy_patient_id',
        tags=['patients'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('patients', 'dispatch_patient', ref('int_patients_mapped')) }}"],
    )
}}

{{ mart_rows() }}
