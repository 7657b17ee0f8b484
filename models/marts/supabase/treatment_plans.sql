{{
    config(
        unique_key='legacy_plan_id',
        tags=['treatment_plans'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('treatment_plans', 'dispatch_plan', ref('int_treatment_plans_mapped')) }}"],
    )
}}

{{ mart_rows() }}
