{#- Categories mapped to the Supabase shape (world.md 8.4), with their issues and the decision to
    apply each row. display_order is the legacy id. parent_id is the parent's UUID from the key
    map, so a child and a parent new in the same build land in one statement (the self-reference
    is checked at its end: the parents are set last). A parent gone from the source leaves
    parent_id null (warning); every category on a parent cycle gets parent_id null (warning), the
    legacy parent_id kept in metadata. Considers the categories changed since the last applied
    run, those whose parent changed, those on a cycle, those with open issues to retry, and
    target categories whose legacy row was deleted before diffmig first synced it. categories has
    no soft-delete column (world.md 8.5): a deleted category is reported and its row kept. -#}
{{ config(materialized='table', unlogged=true) }}

{% call entity_inputs('categories', 'stg_legacy__categories', 'legacy_category_id',
    retry=['parent_missing', 'parent_cycle'],
    parents={'stg_legacy__categories': ['legacy_parent_category_id', 'legacy_category_id']},
    reconsider=['staged.legacy_category_id in (select on_cycle.legacy_category_id from on_cycle)'],
    target_id='category_id',
    recursive=true) %}

live as (
    select
        staged.legacy_category_id,
        staged.legacy_parent_category_id
    from staged
    where not staged.is_deleted_in_source
),

-- Each live category walks up its parents until it meets a category it has passed (or a root):
-- it is on a cycle when it meets itself.
walk (start_id, current_id, path) as (
    select
        live.legacy_category_id,
        live.legacy_parent_category_id,
        array[live.legacy_category_id]
    from live
    where live.legacy_parent_category_id is not null
    union all
    select
        walk.start_id,
        live.legacy_parent_category_id,
        walk.path || walk.current_id
    from walk
    inner join live on walk.current_id = live.legacy_category_id
    where
        live.legacy_parent_category_id is not null
        and not walk.current_id = any(walk.path)
),

on_cycle as (
    select distinct walk.start_id as legacy_category_id
    from walk
    where walk.current_id = walk.start_id
),
{% endcall %}

mapped as (
    select
        keyed.target_id as id,
        coalesce(
            nullif(btrim(considered.category_name), ''),
            'Category ' || considered.legacy_category_id
        ) as name,
        case when on_cycle.legacy_category_id is null then parent_keys.target_id end as parent_id,
        considered.legacy_category_id as display_order,
        considered.legacy_category_id,
        jsonb_build_object('legacy', jsonb_build_object(
            'parent_id', considered.legacy_parent_category_id
        )) as metadata,
        considered.category_name as _legacy_name,
        considered.legacy_parent_category_id as _legacy_parent_category_id,
        parents.legacy_category_id is not null as _is_parent_in_source,
        on_cycle.legacy_category_id is not null as _is_on_cycle,
        considered.is_deleted_in_source as _is_deleted_in_source,
        false as _is_gone_before_first_sync,
        {{ changed_after_first_sync({'considered': 'first_sync', 'parents': 'first_sync'}) }}
            as _is_changed_after_first_sync
    from considered
    inner join keyed on considered.legacy_category_id = keyed.legacy_key
    cross join first_sync
    left join staged as parents
        on
            considered.legacy_parent_category_id = parents.legacy_category_id
            and not parents.is_deleted_in_source
    left join keyed as parent_keys on parents.legacy_category_id = parent_keys.legacy_key
    left join on_cycle on considered.legacy_category_id = on_cycle.legacy_category_id
),

{{ entity_decision('categories', 'legacy_category_id',
    issues=[
        issue_when("nullif(btrim(compared._legacy_name), '') is null", "warning", "blank_name",
            "'name set to ' || compared.name"),
        issue_when("compared._legacy_parent_category_id is not null and not compared._is_parent_in_source",
            "warning", "parent_missing",
            "format('parent category %s does not exist in the legacy database: parent_id left null', compared._legacy_parent_category_id)"),
        issue_when("compared._is_on_cycle", "warning", "parent_cycle",
            "format('parent category %s closes a cycle of parents: parent_id left null', compared._legacy_parent_category_id)"),
    ],
    gone=[
        'targets.name as _legacy_name',
        'null::integer as _legacy_parent_category_id',
        'false as _is_parent_in_source',
        'false as _is_on_cycle',
        'true as _is_deleted_in_source',
        'true as _is_gone_before_first_sync',
        'false as _is_changed_after_first_sync',
    ],
    target_id='category_id',
    deletion_reported=true,
    row_name='category',
) }}
