{#- Every row issue a model can raise is in the catalogue (seeds/issue_reasons.csv), which the
    report and the run's log read to say what it means and what to do about it. Failing rows:
    each (entity, reason, severity) a model raises that the catalogue lacks.

    A model raises an issue with issue_when(<condition>, "<severity>", "<reason>", <detail>)
    (macros/issues/record_row_issues.sql), the shared drift warning with drift_issue() or
    entity_decision() (unless drift=false; with deletion_reported=true also deleted_in_source),
    the duplicate target rows' warning with duplicate_target_issue() and a
    missing parent with missing_parent_issue(entity, column, reason, ...), whose severity is the
    reference's declaration (macros/entities/entity_pattern.sql). The entity is the mart the model feeds:
    int_<entity>_mapped -> <entity>; any other model raising an issue is named as it is, so it
    fails until the catalogue knows it. The calls are found in each model's raw code (the
    condition, the first argument, may span lines and hold commas and quotes). -#}
{%- set raised = [] -%}
{%- if execute -%}
    {%- set quote = '["' ~ "']" -%}
    {%- set call = modules.re.compile(
        '(?s)issue_when[(].*?,[ \t\r\n]*' ~ quote ~ '(error|warning)' ~ quote
        ~ '[ \t\r\n]*,[ \t\r\n]*' ~ quote ~ '([a-z0-9_]+)' ~ quote
    ) -%}
    {%- set parent_call = modules.re.compile(
        'missing_parent_issue[(][ \t\r\n]*' ~ quote ~ '([a-z0-9_]+)' ~ quote
        ~ '[ \t\r\n]*,[ \t\r\n]*' ~ quote ~ '([a-z0-9_]+)' ~ quote
        ~ '[ \t\r\n]*,[ \t\r\n]*' ~ quote ~ '([a-z0-9_]+)' ~ quote
    ) -%}
    {%- set mapped_name = modules.re.compile('^int_([a-z0-9_]+)_mapped$') -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and node.package_name == project_name -%}
        {%- set name_match = mapped_name.match(node.name) -%}
        {%- set entity = name_match.group(1) if name_match else node.name -%}
        {%- set found = [] -%}
        {%- for issue in call.findall(node.raw_code) -%}
            {%- do found.append((entity, issue[1], issue[0])) -%}
        {%- endfor -%}
        {#- entity_decision() raises the drift warning unless told drift=false, and with
            deletion_reported=true the deletion warning -#}
        {%- if 'drift_issue(' in node.raw_code or ('entity_decision(' in node.raw_code
            and 'drift=false' not in node.raw_code) -%}
            {%- do found.append((entity, 'drift', 'warning')) -%}
        {%- endif -%}
        {%- if 'duplicate_target_issue(' in node.raw_code -%}
            {%- do found.append((entity, 'duplicate_target_rows', 'warning')) -%}
        {%- endif -%}
        {%- if 'deletion_reported=true' in node.raw_code -%}
            {%- do found.append((entity, 'deleted_in_source', 'warning')) -%}
        {%- endif -%}
        {#- missing_parent_issue: the severity is the reference's declaration on the mart's
            column (optional: warning, else error) -#}
        {%- for issue in parent_call.findall(node.raw_code) -%}
            {%- set mart = graph.nodes.get('model.' ~ project_name ~ '.' ~ issue[0]) -%}
            {%- set column = mart.columns.get(issue[1]) if mart is not none else none -%}
            {%- set meta = (column.config.meta if column is not none and column.config is defined
                and column.config and column.config.meta else {}) -%}
            {%- do found.append((issue[0], issue[2],
                'warning' if meta.get('reference') == 'optional' else 'error')) -%}
        {%- endfor -%}
        {%- for triple in found if triple not in raised -%}
            {%- do raised.append(triple) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- if raised | length == 0 -%}
        {{ exceptions.raise_compiler_error(
            "assert_every_issue_reason_is_catalogued: no model raises an issue with issue_when() "
            ~ "or drift_issue(); the scan no longer matches how models raise them"
        ) }}
    {%- endif -%}
{%- else -%}
    {%- do raised.append(('', '', '')) -%}
{%- endif %}

with

catalogue as (
    select * from {{ ref('issue_reasons') }}
),

raised (entity, reason, severity) as (
    values
    {%- for entity, reason, severity in raised | sort %}
        ('{{ entity }}', '{{ reason }}', '{{ severity }}'){{ "," if not loop.last }}
    {%- endfor %}
),

missing as (
    select
        raised.entity,
        raised.reason,
        raised.severity
    from raised
    left join catalogue
        on
            raised.entity = catalogue.entity
            and raised.reason = catalogue.reason
            and raised.severity = catalogue.severity
    where catalogue.reason is null
)

select * from missing
