{{
    config(
        unique_key='legacy_offer_id',
        tags=['offers'],
        merge_jsonb_columns=['metadata'],
        post_hook=["{{ record_row_issues('offers', 'dispatch_offer', ref('int_offers_mapped')) }}"],
    )
}}

{{ mart_rows() }}
