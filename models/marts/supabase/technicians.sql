{{
    config(
        unique_key='legacy_user_id',
        tags=['technicians'],
        post_hook=["{{ record_row_issues('technicians', 'auth_user', ref('int_technicians_mapped')) }}"],
    )
}}

{{ mart_rows() }}
