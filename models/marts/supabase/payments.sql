{{
    config(
        unique_key='legacy_payment_id',
        tags=['payments'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('payments', 'dispatch_payment', ref('int_payments_mapped')) }}"],
    )
}}

{{ mart_rows() }}
