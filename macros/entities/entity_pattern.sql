{#- The mapping pattern every entity shares (docs/decisions/adr-0002-dbt-mapping-pattern.md).

    An entity is declared once, by its mart (models/marts/supabase/<entity>.sql and .yml):
      - the columns documented in the mart's YAML are the columns diffmig owns and writes, in
        that order (the upsert writes only those);
      - its config: unique_key (the legacy or natural key), merge_jsonb_columns (merged key by
        key into the app's value), insert_only_columns (written once);
      - config.meta.diffmig: legacy_table, legacy_key, mapping_entity_type, soft_delete.
    The entity's mapped model (int_<entity>_mapped) holds its rules: the rows it considers, the
    column expressions, its issue conditions. The steps below are the same for every entity and
    are written only here. -#}

{#- The mart node that declares `entity` (graph lookup; none while dbt parses). -#}
{% macro _entity_mart(entity) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set node = graph.nodes.get('model.' ~ project_name ~ '.' ~ entity) -%}
    {%- if node is none -%}
        {{ exceptions.raise_compiler_error(
            "entity pattern: no mart model named '" ~ entity ~ "' declares this entity "
            ~ "(models/marts/supabase/" ~ entity ~ ".sql and .yml)"
        ) }}
    {%- endif -%}
    {{ return(node) }}
{%- endmacro %}

{#- A documented column's meta (column-level config.meta, or the older top-level meta). -#}
{% macro _column_meta(column) -%}
    {%- set config = column.config if column.config is defined and column.config else {} -%}
    {%- set meta = config.meta if config.meta is defined and config.meta else {} -%}
    {{ return(meta or column.meta or {}) }}
{%- endmacro %}

{#- The columns diffmig owns in the entity's app table: the mart's documented columns, in order,
    but those marked `config: {meta: {owned: false}}` (documented and tested, never written). -#}
{% macro owned_columns(entity) -%}
    {%- set node = _entity_mart(entity) -%}
    {%- if node is none -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set names = [] -%}
    {%- for name, column in node.columns.items() if _column_meta(column).get('owned', true) -%}
        {%- do names.append(name) -%}
    {%- endfor -%}
    {%- if names | length == 0 -%}
        {{ exceptions.raise_compiler_error(
            "entity pattern: the mart '" ~ entity ~ "' documents no column; its YAML columns "
            ~ "are the columns diffmig writes"
        ) }}
    {%- endif -%}
    {{ return(names) }}
{%- endmacro %}

{#- The owned columns an earlier row is compared on (drift): all but the id, the unique key,
    the merged jsonb columns (diffmig writes only its own keys there) and the insert-only ones.
    `skip`: further owned columns not compared (the entity's target staging model does not read
    them, say). -#}
{% macro compared_columns(entity, skip=[]) -%}
    {%- set node = _entity_mart(entity) -%}
    {%- if node is none -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set key = node.config.get('unique_key') -%}
    {%- set keys = [key] if key is string else (key or []) -%}
    {%- set skipped = ['id'] + keys + node.config.get('merge_jsonb_columns', [])
        + node.config.get('insert_only_columns', []) + skip -%}
    {%- set compared = [] -%}
    {%- for name in owned_columns(entity) if name not in skipped -%}
        {%- do compared.append(name) -%}
    {%- endfor -%}
    {{ return(compared) }}
{%- endmacro %}

{#- The text[] of compared columns where `mapped` differs from the target row: `target` is the
    prefix of the target's value of a column (`targets.` for a joined target row, or
    `mapped._target_` where the mapped row carries them). `skip`: as in compared_columns. -#}
{% macro drift_columns(entity, mapped='mapped', target='targets.', skip=[]) -%}
    {%- set columns = compared_columns(entity, skip) -%}
    {%- if columns | length == 0 -%}
        array[]::text[]
    {%- else -%}
    array_remove(array[
        {%- for column in columns %}
        case when {{ mapped }}.{{ column }} is distinct from {{ target }}{{ column }} then '{{ column }}' end{{ "," if not loop.last }}
        {%- endfor %}
    ], null)
    {%- endif -%}
{%- endmacro %}

{#- The legacy keys of the rows diffmig has applied (what makes a later difference a change
    rather than drift). -#}
{% macro applied_keys(entity) -%}
    select applied.legacy_key
    from {{ ref('stg_bookkeeping__entity_rows') }} as applied
    where applied.entity = '{{ entity }}'
{%- endmacro %}

{#- The mirror's first sync of a staged relation: its rows synced later changed since. -#}
{% macro first_synced_run(relation) -%}
    select min({{ relation }}.synced_run) as synced_run from {{ relation }}
{%- endmacro %}

{#- Drift held back (world.md section 6): a row the earlier scripts wrote that differs from the
    mapping, on the very first run over it. A row is applied in full instead when it changed in
    the source since the first sync (`_is_changed_after_first_sync`, which every mapped model
    computes over each mirror row its values derive from: the row, and the parents whose values
    it takes), when one of `applies` holds (a deletion the app table records, say) or on
    reconcile. One rule, read by the drift issue and by the apply decision, so that a row that is
    applied never keeps a drift issue (record_row_issues resolves it). `applies` conditions may
    name the row as `checked.`; they are read on `alias`. -#}
{% macro drift_held(alias='checked', applies=[]) -%}
    ({{ alias }}._written_by_earlier_scripts
        and cardinality({{ alias }}._drift_columns) > 0
        and not coalesce({{ alias }}._is_changed_after_first_sync, false)
        {%- for condition in applies %}
        and not coalesce({{ condition | replace('checked.', alias ~ '.') }}, false)
        {%- endfor %}
        and not {{ var('reconcile', false) }})
{%- endmacro %}

{#- The drift issue, raised only for drift held back (drift_held, with the `applies` the model
    gives its apply_decision). `unless`: a condition under which a difference is no drift (the
    row is being deactivated, say). -#}
{% macro drift_issue(alias='compared', unless=none, applies=[]) -%}
    {%- set condition = drift_held(alias, applies) -%}
    {%- if unless is not none -%}
        {%- set condition = "not (" ~ unless ~ ") and " ~ condition -%}
    {%- endif -%}
    {{ issue_when(condition, "warning", "drift",
        "'earlier scripts'' row differs in: ' || array_to_string(" ~ alias ~ "._drift_columns, ', ')") }}
{%- endmacro %}

{#- Whether a checked row is written (`_apply`): it has no error, its required references are
    there (`requires`: columns that must not be null), it meets `conditions` (as they are: a
    reference that may be missing when the target's values are kept, say, or `not <deleted>`
    where the table has no soft-delete column), and it is not drift held back (drift_held with
    `applies`). `deleted`: the condition of a row gone from the source; such a row is written
    only when it has a target row to soft-delete (`has_target`). -#}
{% macro apply_decision(alias='checked', requires=[], applies=[], deleted=none, has_target=none, conditions=[]) -%}
    not {{ alias }}._issues @> '[{"severity": "error"}]'
    {%- for column in requires %}
    and {{ column }} is not null
    {%- endfor %}
    {%- for condition in conditions %}
    and {{ condition }}
    {%- endfor %}
    {%- if deleted is not none and has_target is not none %}
    and (not ({{ deleted }}) or {{ has_target }})
    {%- endif %}
    and not {{ drift_held(alias, applies) }}
{%- endmacro %}

{#- The body of every mart: the owned columns of the rows its mapped model decided to apply, each
    cast to the app column's type where the YAML gives one (`data_type`: an enum, or a varchar
    of the app's length; longer values are held back by the mapping). -#}
{% macro mart_rows() -%}
    {%- set mapped = ref('int_' ~ model.name ~ '_mapped') -%}
    {%- set columns = owned_columns(model.name) -%}
    {%- set node = _entity_mart(model.name) %}
with

mapped as (
    select * from {{ mapped }}
)

select
    {%- for column in columns %}
    {%- set data_type = node.columns[column].data_type %}
    {% if data_type %}cast({{ column }} as {{ data_type }}) as {{ column }}{% else %}{{ column }}{% endif %}{{ "," if not loop.last }}
    {%- else %}
    *
    {%- endfor %}
from mapped
where _apply
{%- endmacro %}

{#- The columns a deletion in the legacy database sets (the mart's meta.diffmig.soft_delete:
    column -> SQL value, which may read the target row as `targets`); empty when the app table
    has no soft-delete column (the deletion is then reported and the row kept). -#}
{% macro soft_delete_values(entity) -%}
    {%- set node = _entity_mart(entity) -%}
    {%- if node is none -%}
        {{ return({}) }}
    {%- endif -%}
    {%- set declared = node.config.meta.get('diffmig', {}).get('soft_delete', {}) -%}
    {%- if declared is not mapping -%}
        {{ exceptions.raise_compiler_error(
            "entity pattern: meta.diffmig.soft_delete of '" ~ entity ~ "' must map owned "
            ~ "columns to SQL values (or be {}), got " ~ declared
        ) }}
    {%- endif -%}
    {{ return(declared) }}
{%- endmacro %}

{#- The select list of a target row whose legacy row the mirror never saw (deleted in the source
    before diffmig first synced it): the owned columns keep the target's values but for the
    soft-delete columns, metadata gets nothing new, then `helpers` ("<expression> as <name>",
    in the order of the mapped rows' helper columns). `target_id`: the target row's id column.
    `values`: owned column -> SQL value where the entity's gone rows take another value (a column
    the target staging model does not read, a key read from a joined parent row...). -#}
{% macro gone_from_mirror_columns(entity, target_id, helpers=[], targets='targets', values={}) -%}
    {%- set deleted = soft_delete_values(entity) -%}
    {%- set node = _entity_mart(entity) -%}
    {%- set merged = node.config.get('merge_jsonb_columns', []) if node is not none else [] -%}
    {%- set columns = [] -%}
    {%- for column in owned_columns(entity) -%}
        {%- if column in values -%}
            {%- do columns.append(values[column] ~ ' as ' ~ column) -%}
        {%- elif column == 'id' -%}
            {%- do columns.append(target_id ~ ' as id') -%}
        {%- elif column in deleted -%}
            {%- do columns.append(deleted[column] ~ ' as ' ~ column) -%}
        {%- elif column in merged -%}
            {%- do columns.append("'{}'::jsonb as " ~ column) -%}
        {%- else -%}
            {%- do columns.append(targets ~ '.' ~ column) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ (columns + helpers) | join(',\n        ') }}
{%- endmacro %}

{#- Whether a row was written by the earlier scripts: it has a target row (`target_id` not null)
    that diffmig never applied (not_applied). -#}
{% macro written_by_earlier_scripts(target_id, known='known') -%}
    {{ target_id }} is not null and {{ not_applied(known) }}
{%- endmacro %}

{#- Whether diffmig never applied the target row of a key joined with `known` (applied_keys):
    the key is not among the applied keys, and diffmig did not fill the entity's app table from
    empty (`filled`, entity_inputs: then every keyed target row is diffmig's, and its applied
    rows are not listed one by one, record_row_issues). -#}
{% macro not_applied(known='known') -%}
    ({{ known }}.legacy_key is null and not (select filled.is_filled from filled))
{%- endmacro %}

{#- Whether diffmig filled the entity's app table from empty (diffmig.filled_entities, written
    by the app_upsert materialization). -#}
{% macro filled_by_diffmig(entity) -%}
    select exists (
        select from {{ ref('stg_bookkeeping__filled_entities') }} as filled_entities
        where filled_entities.entity = '{{ entity }}'
    ) as is_filled
{%- endmacro %}

{#- The select list of the owned columns of a mapped row that keeps the target's values when
    `condition` holds (a row gone from the source changes only its soft-delete columns): each
    column but the id, the unique key, the merged jsonb columns and the soft-delete columns reads
    the target row (`targets`, or `values`: column -> SQL value) when it holds, else `mapped`;
    those others read `mapped`. -#}
{% macro keep_target_values(entity, condition, mapped='mapped', targets='targets', values={}) -%}
    {%- set node = _entity_mart(entity) -%}
    {%- set key = node.config.get('unique_key') if node is not none else none -%}
    {%- set keys = [key] if key is string else (key or []) -%}
    {%- set merged = node.config.get('merge_jsonb_columns', []) if node is not none else [] -%}
    {%- set mapped_only = ['id'] + keys + merged + (soft_delete_values(entity).keys() | list) -%}
    {%- set columns = [] -%}
    {%- for column in owned_columns(entity) -%}
        {%- if column in mapped_only -%}
            {%- do columns.append(mapped ~ '.' ~ column) -%}
        {%- else -%}
            {%- do columns.append(
                'case when ' ~ condition ~ ' then ' ~ values.get(column, targets ~ '.' ~ column)
                ~ ' else ' ~ mapped ~ '.' ~ column ~ ' end as ' ~ column) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ columns | join(',\n        ') }}
{%- endmacro %}

{#- Whether a mapped row changed in the source after the first sync (`_is_changed_after_first_sync`):
    any of the mirror rows it derives from, itself and the parents whose values it takes, was
    synced after its table's first sync. `rows`: row alias (a left-joined parent may be null)
    -> the CTE holding its table's first synced run (first_synced_run). -#}
{% macro changed_after_first_sync(rows) -%}
    (
        {%- for alias, first in rows.items() %}
        coalesce({{ alias }}.synced_run > {{ first }}.synced_run, false){{ " or" if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{#- The issue of a row whose parent is not migrated (held back, or not yet): one rule for every
    reference, declared on the mart's column (`config: {meta: {reference: optional}}`): an
    optional reference lands the row with the column null and a warning (retried by
    open_issue_keys(retry=[reason]) until the parent lands); any other reference is required and
    holds the row back (an error, retried). `condition`: the parent is missing. The reason comes
    before the condition, so that the issue catalogue's scan reads it. -#}
{% macro missing_parent_issue(entity, column, reason, condition, detail) -%}
    {%- set node = _entity_mart(entity) -%}
    {%- set optional = node is not none and column in node.columns
        and _column_meta(node.columns[column]).get('reference') == 'optional' -%}
    {%- if optional -%}
        {{ issue_when(condition, "warning", reason, detail ~ " || ': " ~ column ~ " left null'") }}
    {%- else -%}
        {{ issue_when(condition, "error", reason, detail ~ " || ': held back'") }}
    {%- endif -%}
{%- endmacro %}

{#- Several target rows of one legacy key (world.md 8.6: the earlier scripts left second rows of
    some keys in an app table without a unique constraint on its legacy key). The mart declares
    it, `meta.diffmig.duplicate_targets: keep_oldest`, and then:
      - kept_target_rows gives its mapped and keyed models one target row per key, the oldest
        (created_at, then id): int_<entity>_keyed resolves the key to it, so diffmig maintains
        that row and never adds another;
      - the upsert (owned_upsert_sql) writes by id (the legacy key has no unique index to
        conflict on);
      - duplicate_target_issue reports the other copies with their ids (warning
        `duplicate_target_rows`), and open_issue_keys considers them again on reconcile;
      - only a reconcile deletes the other copies (owned_upsert_sql), which resolves the
        warning;
      - migration_mappings records the kept row.
    The constraint itself is recommended, never added: the app's schema is the app's.
    Returns the declared policy, or none. -#}
{% macro duplicate_targets(entity) -%}
    {%- set node = _entity_mart(entity) -%}
    {%- if node is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set declared = node.config.meta.get('diffmig', {}).get('duplicate_targets') -%}
    {%- if declared is not none and declared != 'keep_oldest' -%}
        {{ exceptions.raise_compiler_error(
            "entity pattern: meta.diffmig.duplicate_targets of '" ~ entity ~ "' must be "
            ~ "keep_oldest (or absent), got " ~ declared
        ) }}
    {%- endif -%}
    {{ return(declared) }}
{%- endmacro %}

{#- The order that makes a key's oldest target row its first (duplicate_targets): `alias` is
    the row's relation or alias (none: unqualified). -#}
{% macro target_copy_order(alias=none, id_column='id') -%}
    {%- set prefix = alias ~ '.' if alias else '' -%}
    {{ prefix }}created_at, {{ prefix }}{{ id_column }}
{%- endmacro %}

{#- One target row per legacy key of an entity declaring duplicate_targets: the oldest of each
    key's rows in `relation` (its target staging model, with the legacy key, `target_id` and
    created_at), plus `_target_copy_ids`: the ids of every row of the key, the kept one first. -#}
{% macro kept_target_rows(entity, relation, target_id) -%}
    {%- set node = _entity_mart(entity) -%}
    {%- if node is not none and duplicate_targets(entity) is none -%}
        {{ exceptions.raise_compiler_error(
            "entity pattern: kept_target_rows('" ~ entity ~ "') needs the mart to declare "
            ~ "meta.diffmig.duplicate_targets (its target rows are otherwise one per key)"
        ) }}
    {%- endif -%}
    {%- set key = node.config.meta.diffmig.legacy_key if node is not none else 'legacy_key' -%}
    {#- distinct on, not a filter on the window's first id: PostgreSQL estimates it from the
        legacy key's statistics (one row per key), where it guessed 0.5 % of the rows for the
        filter, and the key maps then anti-joined these rows in nested loops (seconds per
        thousand rows). -#}
    select distinct on (target_rows.{{ key }})
        target_rows.*,
        array_agg(target_rows.{{ target_id }}) over (
            partition by target_rows.{{ key }}
            order by {{ target_copy_order('target_rows', target_id) }}
            rows between unbounded preceding and unbounded following
        ) as _target_copy_ids
    from {{ relation }} as target_rows
    order by target_rows.{{ key }}, {{ target_copy_order('target_rows', target_id) }}
{%- endmacro %}

{#- The warning on a key with more than one target row (duplicate_targets), naming the rows:
    `alias`.`_target_copy_ids` comes from kept_target_rows. Not raised on reconcile, which
    deletes the others. -#}
{% macro duplicate_target_issue(entity, alias='compared') -%}
    {{ issue_when(
        "cardinality(coalesce(" ~ alias ~ "._target_copy_ids, array[]::uuid[])) > 1 and not "
            ~ var('reconcile', false),
        "warning", "duplicate_target_rows",
        "format('%s rows of " ~ entity ~ " carry this legacy key: kept the oldest, %s; "
            ~ "the others (%s) are deleted by `diffmig run --reconcile`', cardinality("
            ~ alias ~ "._target_copy_ids), " ~ alias ~ "._target_copy_ids[1], array_to_string("
            ~ alias ~ "._target_copy_ids[2:], ', '))") }}
{%- endmacro %}

{#- A legacy key as text, from the expressions of its parts: one part cast to text, several
    joined with ':' (a junction's pair, '<a>:<b>'). -#}
{% macro _key_text(parts) -%}
    {%- if parts | length == 1 -%}
        {%- set part = parts[0] -%}
        {{ '(' ~ part ~ ')' if (' ' in part or '::' in part) else part }}::text
    {%- else -%}
        {{ parts | join(" || ':' || ") }}
    {%- endif -%}
{%- endmacro %}

{#- The legacy key as text of the row `alias`, whose `keys` columns are its parts (_key_text). -#}
{% macro legacy_key_text(alias, keys) -%}
    {%- set parts = [] -%}
    {%- for column in keys -%}
        {%- do parts.append(alias ~ '.' ~ column) -%}
    {%- endfor -%}
    {{ _key_text(parts) }}
{%- endmacro %}

{#- The frame of a mapped model, first half: `with` and the CTEs every entity reads before its
    own rules, each followed by a comma (the model's CTEs come next):
      staged      the entity's staged legacy model (`source`);
      keyed       int_<entity>_keyed (the UUID of every legacy key);
      targets     stg_supabase__<entity> (the app's rows that carry a legacy key);
      known       applied_keys(entity);
      filled      filled_by_diffmig(entity): one row, whether every keyed target row is
                  diffmig's (read by not_applied, with known);
      retried     open_issue_keys(entity, retry): open errors, open warnings of the `retry`
                  reasons (an optional reference whose parent may land later), drift on reconcile;
      first_sync  first_synced_run('staged');
      considered  the staged rows changed since the last applied run or retried, or whose
                  parent changed since (`parents`: staged parent model -> the staged column
                  holding its key, same-named in the parent: the row takes values from that
                  parent), or meeting one of `reconsider` (conditions on `staged`, which may
                  read the CTEs of a call block: `{% call entity_inputs(...) %} <CTEs, each
                  followed by a comma> {% endcall %}` emits them ahead of considered).
                  `changes`: a CTE of the call block holding the rows the entity maps, by `key`,
                  with the run that last changed each (`synced_run`, its parents' changes
                  included): considered is then the staged rows in it, changed since it or
                  retried, with that run as `changed_run`.
    `key`: the staged column holding the legacy key. A `parents` value may also be a pair
    [staged column, parent column] when the parent names its key otherwise.
    `lookup=true`, for the largest tables, where reading a staged view or the key map whole
    costs too much: considered reads only the keys it considers, by primary-key lookups.
    staged and targets are then `not materialized`, first_sync `materialized`, and there is no
    keyed (mapped resolves the id itself from `existing_<target_id>`, as the key map does);
      considered_keys  the keys of the staged rows changed since, of those whose parent changed
                  since (`parents`), and the retried keys (integers); `reconsider` and
                  `changes` are not read;
      considered  per key, the staged row (a lateral lookup, alias `looked_up_row`) and the
                  id of its target row (`existing_<target_id>`; `target_id` defaults to
                  <entity without its final s>_id); `lookup_columns`: the select list of the
                  staged row (default `looked_up_row.*`; a column parsed once per considered
                  row, say), `lookup_joins`: join clauses on the call block's CTEs that those
                  columns may read, `lookup_fence`: end with `offset 0`, an optimisation fence
                  that keeps its values computed once.
    Further lookup options (system_messages), each off by default:
      `reconsider`: with lookup, selects of further keys to consider (union branches of
                  considered_keys; a lateral lookup keeps one cheap);
      `target_key`: the targets' legacy key column, where it is named otherwise (default `key`);
      `lookup_target_row`: the whole target row is looked up, as `existing_row`, for the
                  `lookup_columns` to read (carried in the mapped rows), instead of its id;
      `lookup_where`: a condition on considered's rows (the rows in scope);
      `lookup_full_scan`: a full build (var since_run 0) reads every staged row once, joined
                  to its target row, without considered_keys.
    `recursive=true`: the `with` is `with recursive`, for a call block holding a recursive CTE
    (categories: the walk up the parents that finds cycles).
    A mart declaring duplicate_targets (treatment_plans) gets, with no argument, targets =
    kept_target_rows(entity, stg_supabase__<entity>, `target_id`): the oldest row of each key
    with `_target_copy_ids` (`target_id` is then the target staging model's id column).
    `key` may also be a list of columns whose values joined with ':' are the legacy key (a
    junction's pair, '<a>:<b>'; not with `lookup`).
    `junction`: the junction declaration (entity_decision says what it holds), given to both
    macros: there is no int_<entity>_keyed (a junction's id is its target row's, else a UUID v5
    of its pair, written in `mapped`), so no `keyed`; staged and targets, which a junction reads
    several times (its pairs, its gone rows), are `not materialized` and first_sync
    `materialized`, as with `lookup`; and considered reads `junction.rows`, a CTE
    of the call block with one or more rows per legacy key (default `staged`), instead of the
    staged rows (its `synced_run` is what changed_since reads, its columns what `key`,
    `parents` and `reconsider` name).
    With `junction.row_keyed` (the legacy rows' own id, `key`, is the legacy key; the target rows
    carry it as `target_key`) the parents' CTEs that `junction.parents` names are written in the
    call block, and considered resolves each row's target row with them (`targets as by_key`
    on the key, `targets as by_pair` on the parents' UUIDs) and carries:
      existing_<target_id>  a deleted row: the row holding its key; a live row: its pair's
                  row, else the one holding its key (else null: a new UUID in `mapped`);
      <parent column>  each parent's UUID, that of the row holding the key for a deleted row
                  (a deletion deactivates that row, on its own pair);
      _is_on_other_pair  a live row whose key a target row holds on another pair (the upsert on
                  the pair would break the unique key: an error the model raises). -#}
{% macro entity_inputs(entity, source, key, retry=[], parents={}, reconsider=[], changes=none,
        lookup=false, target_id=none, lookup_columns=['looked_up_row.*'], lookup_joins=[],
        lookup_fence=false, target_key=none, lookup_target_row=false, lookup_where=none,
        lookup_full_scan=false, recursive=false, junction=none) -%}
{%- set rows = (junction or {}).get('rows', 'staged') -%}
{%- set row_keyed = (junction or {}).get('row_keyed', false) -%}
{%- set keys = [key] if key is string else key -%}
{%- set target_key = target_key or key -%}
{%- set full_scan = lookup_full_scan and (var('since_run', 0) | int) == 0 -%}
{%- set target_id = target_id or (entity[:-1] ~ '_id') -%}
{%- set parent_columns = {} -%}
{%- for parent, column in parents.items() -%}
    {%- do parent_columns.update({parent: [column, column] if column is string else column}) -%}
{%- endfor -%}
{%- set kept_copies = duplicate_targets(entity) is not none -%}
with{% if recursive %} recursive{% endif %}

staged as {% if lookup or junction %}not materialized {% endif %}(
    select * from {{ ref(source) }}
),
{%- if not lookup and junction is none %}

keyed as (
    select * from {{ ref('int_' ~ entity ~ '_keyed') }}
),
{%- endif %}

targets as {% if lookup or junction %}not materialized {% endif %}(
    {% if kept_copies %}{{ kept_target_rows(entity, ref('stg_supabase__' ~ entity), target_id) }}{% else %}select * from {{ ref('stg_supabase__' ~ entity) }}{% endif %}
),

known as (
    {{ applied_keys(entity) }}
),

filled as materialized (
    {{ filled_by_diffmig(entity) }}
),

retried as (
    {{ open_issue_keys(entity, retry=retry) }}
),

first_sync as {% if lookup or junction %}materialized {% endif %}(
    {{ first_synced_run('staged') }}
),
{%- if caller is defined %}
{{ caller() }}
{%- endif %}
{%- if lookup %}
{%- if not full_scan %}

considered_keys as (
    select staged.{{ key }}
    from staged
    where {{ changed_since('staged') }}
    {%- for parent, columns in parent_columns.items() %}

    union

    select staged.{{ key }}
    from staged
    inner join {{ ref(parent) }} as parent on staged.{{ columns[0] }} = parent.{{ columns[1] }}
    where {{ changed_since('parent') }}
    {%- endfor %}

    union

    select retried.legacy_key::integer as {{ key }}
    from retried
    {%- for keys in reconsider %}

    union

    {{ keys }}
    {%- endfor %}
),
{%- endif %}

considered as (
    select
        {%- for column in lookup_columns %}
        {{ column }}{{ "," if not (loop.last and lookup_target_row) }}
        {%- endfor %}
        {%- if not lookup_target_row %}
        existing_row.{{ target_id }} as existing_{{ target_id }}
        {%- endif %}
    {%- if full_scan %}
    from staged as looked_up_row
    left join targets as existing_row
        on looked_up_row.{{ key }} = existing_row.{{ target_key }}
    {%- else %}
    from considered_keys
    -- Primary-key lookups: the staging views are written with CTEs, so PostgreSQL does not
    -- flatten them and a plain join would read each whole; a lateral subquery (kept apart by
    -- offset 0) pushes the key down to the table's index.
    inner join lateral (
        select looked_up.* from staged as looked_up
        where looked_up.{{ key }} = considered_keys.{{ key }}
        offset 0  -- noqa: AM09
    ) as looked_up_row on true
    left join lateral (
        select looked_up.{{ '*' if lookup_target_row else target_id }} from targets as looked_up
        where looked_up.{{ target_key }} = considered_keys.{{ key }}
        offset 0  -- noqa: AM09
    ) as existing_row on true
    {%- endif %}
    {%- for join in lookup_joins %}
    {{ join }}
    {%- endfor %}
    {%- if lookup_where is not none %}
    where
        {{ lookup_where }}
    {%- endif %}
    {%- if lookup_fence %}
    -- an optimisation fence, not a limit
    offset 0  -- noqa: AM09
    {%- endif %}
),
{%- else %}

considered as (
    select
        {{ rows }}.*{% if changes %},
        {{ changes }}.synced_run as changed_run{% endif %}
        {%- if row_keyed %},
        -- a deleted row: the target row holding its key, on that row's pair; a live row: its
        -- parents' pair, the target row of that pair, else the one holding its key
        coalesce(
            case when {{ rows }}.is_deleted_in_source then by_key.{{ target_id }} end,
            by_pair.{{ target_id }},
            by_key.{{ target_id }}
        ) as existing_{{ target_id }},
        {%- for column, parent in junction.parents.items() %}
        case
            when {{ rows }}.is_deleted_in_source and by_key.{{ target_id }} is not null
                then by_key.{{ column }}
            else {{ parent.split('.')[0] }}.{{ column }}
        end as {{ column }},
        {%- endfor %}
        not {{ rows }}.is_deleted_in_source
        and coalesce(
            by_key.{{ target_id }} <> by_pair.{{ target_id }}, by_key.{{ target_id }} is not null
        ) as _is_on_other_pair
        {%- endif %}
    from {{ rows }}
    {%- if changes %}
    inner join {{ changes }} on {% for column in keys -%}
        {{ rows }}.{{ column }} = {{ changes }}.{{ column }}{{ " and " if not loop.last }}
    {%- endfor %}
    {%- endif %}
    {%- if row_keyed %}
    {%- for parent in junction.parents.values() %}
    left join {{ parent.split('.')[0] }} on {{ rows }}.{{ parent.split('.')[1] }} = {{ parent }}
    {%- endfor %}
    left join targets as by_key on {{ rows }}.{{ key }} = by_key.{{ target_key }}
    left join targets as by_pair
        on
        {%- for column, parent in junction.parents.items() %}
            {{ "and " if not loop.first }}{{ parent.split('.')[0] }}.{{ column }} = by_pair.{{ column }}
        {%- endfor %}
    {%- endif %}
    where
        {{ changed_since(changes or rows) }}
        or {{ legacy_key_text(rows, keys) }} in (select retried.legacy_key from retried)
        {%- for parent, columns in parent_columns.items() %}
        or {{ rows }}.{{ columns[0] }} in (
            select parent.{{ columns[1] }} from {{ ref(parent) }} as parent
            where {{ changed_since('parent') }}
        )
        {%- endfor %}
        {%- for condition in reconsider %}
        or {{ condition }}
        {%- endfor %}
),
{%- endif %}
{%- endmacro %}

{#- The frame of a mapped model, second half: the CTEs after the entity's `mapped` CTE (its
    column expressions), ending with the model's final select:
      gone_before_first_sync  target rows whose legacy row is in no staged row (deleted in the
                  source before diffmig first synced it): gone_from_mirror_columns with `gone`
                  (the helper columns, "<expression> as <name>" in the order of mapped's helper
                  columns), when `gone_when` holds (a condition on `targets` and `known`: the
                  row's soft delete is not applied yet, say; default every such row);
      all_mapped  mapped union all gone_before_first_sync;
      compared    each row with its target row (joined on `key`) and `known`:
                  _written_by_earlier_scripts, `compared_columns` ("<expression> as <name>",
                  may read `mapped` and `targets`), _drift_columns (drift_columns, `drift_skip`);
      checked     _legacy_key and _issues: `issues`, a list of issue_when/missing_parent_issue/
                  drift_issue expressions on `compared` (or, as a string, the whole _issues
                  expression), with drift_issue(unless=drift_unless, applies=applies) appended
                  when `drift` (the default);
      decided     _apply: apply_decision(requires, applies, conditions) on `checked`.
    `target_id`: the targets' id column (default <entity without its final s>_id).
    `deletion_reported`: the app table has no soft-delete column and the entity's rows keep
    their target row when deleted in the source (world.md section 6): such a row is never
    written; it gets only a `deleted_in_source` warning (the mapped rows carry
    _is_gone_before_first_sync), or no issue when it never reached the target. `row_name`: the
    row's name in that warning's detail (default <entity without its final s>).
    Optional, for the entities that need them (the defaults change nothing):
      `gone_values`: owned column -> SQL value where a gone row takes another value than the
                  target's (gone_from_mirror_columns' `values`); `gone_joins`: join clauses after
                  `from targets` in gone_before_first_sync, which these values may read (orders:
                  the doctor validate_orders still accepts);
      a call block, `{% call entity_decision(...) %} <CTEs, each followed by a comma>
                  {% endcall %}`: emitted between all_mapped and compared, and may read
                  all_mapped (technicians: the employee ids two rows claim);
      `compared_joins`: join clauses appended to compared's (on the call block's CTEs, say),
                  which `compared_columns` may read;
      `no_issues_when`: a condition on `compared` under which the row has no issue at all (a
                  row deleted in the source that never reached the target);
      `deleted`, `has_target`: passed to apply_decision (a deletion is written only when it
                  has a target row to soft-delete);
      `keep_target_when`: a condition on `decided` under which the written row keeps the
                  target's values but for its soft-delete columns (keep_target_values, with
                  `kept_values`: owned column -> SQL value, and `kept_joins`:
                  join clauses after `decided`'s join to `targets`, which those values may
                  read): a last CTE, `resolved`, then holds the owned columns so resolved, the
                  helper columns named in `gone` and the frame's columns (orders);
      `lateral_targets`: compared finds the target row by a primary-key lookup (a lateral
                  subquery) rather than a join that would read the target staging view whole
                  (entity_inputs(lookup=true): files, messages);
      `staged_key`: the staged column holding the legacy key where the mapped rows and the
                  targets name it `key` and the staged rows otherwise (system_messages);
      `carried_targets`: the mapped rows carry their target row's values (`_has_target_row`,
                  and `_target_<column>` for each compared column), so compared joins no
                  target row and reads the drift from those (system_messages).
      `deleted_issues`: with `deletion_reported`, further issue_when expressions raised beside
                  the deleted_in_source warning of a deleted row that has a target row
                  (treatment_plans: duplicate_target_issue, which its `issues` list holds too).
    A mart declaring duplicate_targets (treatment_plans) needs no argument: compared carries
    `targets._target_copy_ids` (entity_inputs' targets are the kept rows; with
    `carried_targets` the mapped rows carry it), which duplicate_target_issue, written by the
    model among its issues, reads.
    `key` may also be a list of mapped's columns joined with ':' (entity_inputs).
    `junction`: a junction table (no legacy key column; the mart's unique_key is the pair of
    parent UUIDs), declared once in the model and given to both macros, a dict of:
      parents  target foreign key column -> '<relation>.<legacy key column>': a CTE of the model
               with the parent's rows (the foreign key column and the parent's legacy key);
      pairs    the relation with every legacy pair, under the parents' legacy key column names
               (default `staged`);
      rows     the rows considered (entity_inputs; default `staged`);
      row_keyed  true where the legacy rows have an id of their own that the target rows carry
               (`key`, the mart's legacy_key: the template junctions' legacy_id): the legacy
               key is that id, not the pair; entity_inputs' considered then resolves each row's
               target row and parents (existing_<target_id>, the parent columns,
               _is_on_other_pair), for `mapped` to take.
    For a junction, the gone rows are the target rows whose pair (their parents' legacy keys)
    is in no `pairs` row, joined with `known` on their legacy key (the `key` columns' gone
    expressions, from `gone` or `gone_values`); each row is then joined with its target row on
    the natural key (the mart's unique_key) and carries `_is_target_only` (appended by
    all_mapped: true for the gone rows) and `_has_target_row`. A deleted row is written only when
    it has a target row to soft-delete; where the table has no soft-delete column
    (meta.diffmig.soft_delete {}), no deleted or gone row is written (the model reports them).
    With `row_keyed`, the gone rows are the target rows carrying a legacy id that no staged row
    holds (joined with `known` on it), each row is joined with its target row on its id (the
    row it writes: for a deleted row or one held back on another pair, not its parents' pair's
    row), and `live_pairs` (each live `pairs` row's key and its parents' UUIDs, through the
    parents' CTEs) gives `_is_superseded` in compared: a deleted row whose pair lives on in
    another legacy row (removed and added again) is never written. -#}
{% macro entity_decision(entity, key, issues, gone=[], gone_when=none, target_id=none,
        compared_columns=[], drift_skip=[], drift_unless=none, drift=true, applies=[],
        conditions=[], requires=[], deletion_reported=false,
        row_name=none, gone_values={}, gone_joins=[], compared_joins=[], no_issues_when=none,
        deleted=none, has_target=none, keep_target_when=none, kept_values={},
        kept_joins=[], lateral_targets=false, staged_key=none, carried_targets=false,
        deleted_issues=[], junction=none) -%}
{%- set staged_key = staged_key or key -%}
{%- set target_id = target_id or (entity[:-1] ~ '_id') -%}
{%- set keys = [key] if key is string else key -%}
{%- set row_keyed = (junction or {}).get('row_keyed', false) -%}
{%- set all_issues = issues if issues is string else issues_array(
    issues + ([drift_issue(unless=drift_unless, applies=applies)] if drift else [])) -%}
{%- if duplicate_targets(entity) is not none and not carried_targets -%}
    {%- set compared_columns = compared_columns + ['targets._target_copy_ids as _target_copy_ids'] -%}
{%- endif -%}
{%- if deletion_reported -%}
    {%- set row = row_name or entity[:-1] -%}
    {%- set deleted_issue = issues_array([issue_when("true", "warning", "deleted_in_source",
        "case when compared._is_gone_before_first_sync then '" ~ row
        ~ " deleted in the legacy database before the first sync: target row kept' else '" ~ row
        ~ " deleted in the legacy database: target row kept (" ~ entity
        ~ " has no soft-delete column)' end")] + deleted_issues) -%}
    {%- set all_issues = "case when compared._is_deleted_in_source and not compared._has_target_row"
        ~ " then '[]'::jsonb when compared._is_deleted_in_source then " ~ deleted_issue
        ~ " else " ~ all_issues ~ " end" -%}
    {%- set compared_columns = ['targets.' ~ target_id ~ ' is not null as _has_target_row']
        + compared_columns -%}
    {%- set conditions = ['not checked._is_deleted_in_source'] + conditions -%}
{%- endif -%}
{%- if no_issues_when is not none -%}
    {%- set all_issues = "case when " ~ no_issues_when ~ " then '[]'::jsonb else " ~ all_issues
        ~ " end" -%}
{%- endif -%}
{%- if junction is not none -%}
    {%- set node = _entity_mart(entity) -%}
    {%- set unique_key = node.config.get('unique_key') if node is not none else [] -%}
    {%- set natural_key = [unique_key] if unique_key is string else (unique_key or []) -%}
    {%- set pairs = junction.get('pairs', 'staged') -%}
    {%- set compared_columns = ['targets.' ~ target_id ~ ' is not null as _has_target_row']
        + compared_columns -%}
    {%- if row_keyed -%}
        {%- set conditions = conditions + ['not checked._is_superseded'] -%}
    {%- endif -%}
    {%- set deleted = 'checked._is_deleted_in_source' -%}
    {%- if soft_delete_values(entity) -%}
        {%- set has_target = 'checked._has_target_row' -%}
    {%- else -%}
        {%- set has_target = 'false' -%}
        {%- set conditions = conditions + ['not checked._is_target_only'] -%}
    {%- endif -%}
    {#- the legacy key of a target row without a pair: the gone row's expressions of its parts -#}
    {%- set gone_expressions = {} -%}
    {%- do gone_expressions.update(gone_values) -%}
    {%- for helper in gone -%}
        {%- set parts = helper.rsplit(' as ', 1) -%}
        {%- do gone_expressions.update({parts[1]: parts[0]}) -%}
    {%- endfor -%}
    {%- set gone_key = [] -%}
    {%- for column in keys -%}
        {%- do gone_key.append(gone_expressions.get(column, 'targets.' ~ column)) -%}
    {%- endfor -%}
{%- endif -%}
{%- if row_keyed -%}
-- The live legacy pairs, as target pairs: a deleted row whose pair is among them is superseded.
live_pairs as (
    select
        {{ pairs }}.{{ staged_key }},
        {%- for column, parent in junction.parents.items() %}
        {{ parent.split('.')[0] }}.{{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ pairs }}
    {%- for parent in junction.parents.values() %}
    inner join {{ parent.split('.')[0] }} on {{ pairs }}.{{ parent.split('.')[1] }} = {{ parent }}
    {%- endfor %}
    where not {{ pairs }}.is_deleted_in_source
),

{% endif -%}
gone_before_first_sync as (
    select
        {{ gone_from_mirror_columns(entity, 'targets.' ~ target_id, helpers=gone,
            values=gone_values) }}
    from targets
    {%- if junction is none or row_keyed %}
    left join known on targets.{{ key }}::text = known.legacy_key
    {%- else %}
    {%- for column, parent in junction.parents.items() %}
    inner join {{ parent.split('.')[0] }} on targets.{{ column }} = {{ parent.split('.')[0] }}.{{ column }}
    {%- endfor %}
    left join known on {{ _key_text(gone_key) }} = known.legacy_key
    {%- endif %}
    {%- for join in gone_joins %}
    {{ join }}
    {%- endfor %}
    where
    {%- if row_keyed %}
        targets.{{ key }} is not null
        and not exists (
            select staged.{{ staged_key }} from staged
            where staged.{{ staged_key }} = targets.{{ key }}
        )
    {%- elif junction is none %}
        not exists (
            select staged.{{ staged_key }} from staged
            where staged.{{ staged_key }} = targets.{{ key }}
        )
    {%- else %}
        not exists (
            select 1 from {{ pairs }}
            where
            {%- for parent in junction.parents.values() %}
                {{ "and " if not loop.first }}{{ pairs }}.{{ parent.split('.')[1] }} = {{ parent }}
            {%- endfor %}
        )
    {%- endif %}
        {%- if gone_when is not none %}
        and ({{ gone_when }})
        {%- endif %}
),

all_mapped as (
{%- if junction is none %}
    select * from mapped
    union all
    select * from gone_before_first_sync
{%- else %}
    select
        mapped.*,
        false as _is_target_only
    from mapped
    union all
    select
        gone_before_first_sync.*,
        true as _is_target_only
    from gone_before_first_sync
{%- endif %}
),
{%- if caller is defined %}
{{ caller() }}
{%- endif %}

compared as (
    select
        mapped.*,
        {%- if carried_targets %}
        mapped._has_target_row and {{ not_applied() }} as _written_by_earlier_scripts,
        {%- else %}
        {{ written_by_earlier_scripts('targets.' ~ target_id) }} as _written_by_earlier_scripts,
        {%- endif %}
        {%- for column in compared_columns %}
        {{ column }},
        {%- endfor %}
        {%- if row_keyed %}
        mapped._is_deleted_in_source and exists (
            select 1 from live_pairs
            where
            {%- for column in junction.parents %}
                {{ "and " if not loop.first }}live_pairs.{{ column }} = mapped.{{ column }}
            {%- endfor %}
                and live_pairs.{{ staged_key }} <> mapped.{{ key }}
        ) as _is_superseded,
        {%- endif %}
        {%- if carried_targets %}
        {{ drift_columns(entity, target='mapped._target_', skip=drift_skip) }} as _drift_columns
        {%- else %}
        {{ drift_columns(entity, skip=drift_skip) }} as _drift_columns
        {%- endif %}
    from all_mapped as mapped
    {%- if carried_targets %}
    {%- elif lateral_targets %}
    left join lateral (
        select looked_up.* from targets as looked_up
        where looked_up.{{ key }} = mapped.{{ key }}
        offset 0  -- noqa: AM09
    ) as targets on true
    {%- elif row_keyed %}
    left join targets on mapped.id = targets.{{ target_id }}
    {%- elif junction is not none %}
    left join targets
        on
        {%- for column in natural_key %}
            {{ "and " if not loop.first }}mapped.{{ column }} = targets.{{ column }}
        {%- endfor %}
    {%- else %}
    left join targets on mapped.{{ key }} = targets.{{ key }}
    {%- endif %}
    left join known on {{ legacy_key_text('mapped', keys) }} = known.legacy_key
    {%- for join in compared_joins %}
    {{ join }}
    {%- endfor %}
),

checked as (
    select
        compared.*,
        {{ legacy_key_text('compared', keys) }} as _legacy_key,
        {{ all_issues }} as _issues
    from compared
),

decided as (
    select
        checked.*,
        {{ apply_decision(requires=requires, applies=applies, conditions=conditions,
            deleted=deleted, has_target=has_target) }} as _apply
    from checked
)
{%- if keep_target_when is not none %},

resolved as (
    select
        {{ keep_target_values(entity, keep_target_when, mapped='decided',
            values=kept_values) }},
        {%- for helper in gone %}
        decided.{{ helper.split(' as ')[-1] | trim }},
        {%- endfor %}
        decided._written_by_earlier_scripts,
        {%- for column in compared_columns %}
        decided.{{ column.split(' as ')[-1] | trim }},
        {%- endfor %}
        decided._drift_columns,
        decided._legacy_key,
        decided._issues,
        decided._apply
    from decided
    left join targets on decided.{{ key }} = targets.{{ key }}
    {%- for join in kept_joins %}
    {{ join }}
    {%- endfor %}
)

select * from resolved
{%- else %}

select * from decided
{%- endif %}
{%- endmacro %}
