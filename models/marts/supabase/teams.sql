{{
    config(
        unique_key='legacy_group_id',
        tags=['teams'],
        post_hook=["{{ record_row_issues('teams', 'auth_group', ref('int_teams_mapped')) }}"],
    )
}}

{{ mart_rows() }}
