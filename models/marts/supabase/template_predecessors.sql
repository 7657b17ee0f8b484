{{
    config(
        unique_key=['template_id', 'predecessor_id'],
        tags=['template_predecessors'],
        post_hook=["{{ record_row_issues('template_predecessors', 'dispatch_template_predecessors', ref('int_template_predecessors_mapped')) }}"],
    )
}}

{{ mart_rows() }}
