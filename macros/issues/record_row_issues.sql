{#- Post-hook of every mart: bookkeeping of what the build did with each row it considered.

    `mapped` is the entity's mapped model, with
      _legacy_key  text: the legacy key (a junction's parts joined with ':')
      _issues      jsonb array of {"severity": "error"|"warning", "reason": ..., "detail": ...}
      _apply       the row was written (no error; not drift held back)
    Open issues seen again stay open (last_seen_at moves), new ones are opened, and open issues of
    a considered row whose reason is gone are resolved. Applied rows are recorded in
    diffmig.entity_rows, which is what makes later differences changes rather than drift, but
    for an entity whose app table diffmig filled from empty (diffmig.filled_entities): all its
    keyed target rows are diffmig's, and listing two million of them one by one cost a full run
    as much as a third of writing them into the app table.

    In a delta build (var since_run > 0) each current issue looks up its open issue by key
    (row_issues_open_idx), one lookup per issue: the `offset 0` keeps the planner from making
    the lookups a join, which it would hash over every open issue of the entity, misjudging how
    many issues the considered rows carry (the earlier scripts' system messages hold two million
    open drift warnings: 3.6 of the 4.2 s of a delta build's bookkeeping went to hashing them
    twice, for 7,500 issues; 0.9 s with the lookups). A full build considers every row, and
    there the join is the right plan.
    The open issues resolved are looked for among the mapped model's keys read from the table
    itself, not from `considered`: a CTE read several times is materialized without statistics,
    and the planner, guessing 200 keys, probed the open issues once per key of a full build
    (9.4 s for the two million system messages, with no open issue to find). -#}
{% macro record_row_issues(entity, table_name, mapped) -%}
    {%- set run_id = var('run_id', 0) | int -%}
    {%- set per_issue = var('since_run', 0) | int > 0 -%}
with

considered as (
    select _legacy_key, _issues, _apply, id from {{ mapped }}
),

current_issues as (
    select
        considered._legacy_key as legacy_key,
        issue ->> 'severity' as severity,
        issue ->> 'reason' as reason,
        issue ->> 'detail' as detail
    from considered
    cross join lateral jsonb_array_elements(considered._issues) as issue
    -- most rows raise no issue: not expanding their empty arrays halves this step
    where considered._issues <> '[]'::jsonb
),

resolved as (
    update diffmig.row_issues as open_issue
    set resolved_at = now()
    where
        open_issue.entity = '{{ entity }}'
        and open_issue.resolved_at is null
        and open_issue.legacy_key in (select mapped._legacy_key from {{ mapped }} as mapped)
        and not exists (
            select 1 from current_issues
            where current_issues.legacy_key = open_issue.legacy_key
                and current_issues.reason = open_issue.reason
        )
    returning open_issue.issue_id
),

{%- if per_issue %}

open_seen as (
    select
        open_issue.ctid as issue_ctid,
        current_issues.detail
    from current_issues
    cross join lateral (
        select row_issues.ctid
        from diffmig.row_issues
        where
            row_issues.entity = '{{ entity }}'
            and row_issues.resolved_at is null
            and row_issues.legacy_key = current_issues.legacy_key
            and row_issues.reason = current_issues.reason
        offset 0  -- noqa: AM09
    ) as open_issue
),

seen_again as (
    update diffmig.row_issues as open_issue
    set last_seen_at = now(), run_id = {{ run_id }}, detail = open_seen.detail
    from open_seen
    where open_issue.ctid = open_seen.issue_ctid
    returning open_issue.issue_id
),
{%- else %}

seen_again as (
    update diffmig.row_issues as open_issue
    set last_seen_at = now(), run_id = {{ run_id }}, detail = current_issues.detail
    from current_issues
    where
        open_issue.entity = '{{ entity }}'
        and open_issue.resolved_at is null
        and open_issue.legacy_key = current_issues.legacy_key
        and open_issue.reason = current_issues.reason
    returning open_issue.issue_id
),
{%- endif %}

applied as (
    insert into diffmig.entity_rows as known (entity, legacy_key, target_id, first_run, last_run)
    select '{{ entity }}', considered._legacy_key, considered.id, {{ run_id }}, {{ run_id }}
    from considered
    where considered._apply
        and not exists (select from diffmig.filled_entities where entity = '{{ entity }}')
    on conflict (entity, legacy_key) do update
    set last_run = excluded.last_run, target_id = excluded.target_id
    returning known.legacy_key
)

insert into diffmig.row_issues (run_id, entity, table_name, legacy_key, severity, reason, detail)
select distinct on (current_issues.legacy_key, current_issues.reason)
    {{ run_id }}, '{{ entity }}', '{{ table_name }}', current_issues.legacy_key,
    current_issues.severity, current_issues.reason, current_issues.detail
from current_issues
where not exists (
    select 1 from diffmig.row_issues as open_issue
    where open_issue.entity = '{{ entity }}'
        and open_issue.resolved_at is null
        and open_issue.legacy_key = current_issues.legacy_key
        and open_issue.reason = current_issues.reason
    {%- if per_issue %}
    offset 0  -- noqa: AM09
    {%- endif %}
)
{%- endmacro %}

{#- One issue object for the _issues array, when `condition` holds. -#}
{% macro issue_when(condition, severity, reason, detail) -%}
    case when {{ condition }} then jsonb_build_object(
        'severity', '{{ severity }}', 'reason', '{{ reason }}', 'detail', {{ detail }}
    ) end
{%- endmacro %}

{#- The _issues array from a list of issue_when() expressions (nulls dropped, order kept). An
    array with its nulls removed, then made jsonb: half the cost of filtering a jsonb array with
    a jsonpath (measured on the 2 million system messages of a full build: 8 of its 77 s). -#}
{% macro issues_array(issues) -%}
    to_jsonb(array_remove(array[
        {%- for issue in issues %}
        {{ issue }}{{ "," if not loop.last }}
        {%- endfor %}
    ]::jsonb[], null))
{%- endmacro %}

{#- Keys to consider again in every build: open errors (retried until their cause is gone),
    open warnings of the reasons in `retry` (a row landed with a null reference whose parent may
    land later: missing_parent_issue) and, when reconciling, open drift and duplicate target rows
    (so that a reconcile run reaches rows that did not change: it applies the one and deletes the
    other, entity_pattern's duplicate_targets). -#}
{% macro open_issue_keys(entity, retry=[]) -%}
    select row_issues.legacy_key
    from {{ ref('stg_bookkeeping__row_issues') }} as row_issues
    where row_issues.entity = '{{ entity }}' and row_issues.resolved_at is null
        and (row_issues.severity = 'error'
            {%- for reason in retry %} or row_issues.reason = '{{ reason }}'{% endfor %}
            {%- if var('reconcile', false) %}
            or row_issues.reason in ('drift', 'duplicate_target_rows'){% endif %})
{%- endmacro %}

{#- Records that diffmig filled the entity's app table from empty (app_upsert.sql, in the same
    transaction as the INSERT): see diffmig.filled_entities. -#}
{% macro record_filled_by_diffmig(entity) -%}
    insert into diffmig.filled_entities (entity, run_id)
    values ('{{ entity }}', {{ var('run_id', 0) | int }})
    on conflict (entity) do nothing
{%- endmacro %}
