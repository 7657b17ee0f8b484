{#- dbt's incremental materialisation widens a target column when the model's column is a longer
    string type (it adds a column, drops the old one with CASCADE and renames): on an app table
    that would drop the app's views and policies. diffmig never alters app tables, so this
    override refuses, naming the column: cast the model's column to the table's exact type. -#}
{% macro postgres__alter_column_type(relation, column_name, new_column_type) -%}
    {{ exceptions.raise_compiler_error(
        "guard: diffmig never alters app tables, but the build would change "
        ~ relation ~ "." ~ column_name ~ " to " ~ new_column_type
        ~ ". Cast the model's column to the table's type (e.g. ::varchar(50))."
    ) }}
{%- endmacro %}
