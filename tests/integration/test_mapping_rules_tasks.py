"""Tasks (entity 35, world.md 8.4 to 8.6) row by row: one pair of databases, with a task planted
for each rule with an issue, goes through a first run of tasks and its parents (no reconcile:
the earlier scripts' drift is reported and left alone), then legacy activity (tasks checked in
place, new and deleted tasks) and our own edits, then a delta run with reconcile (the drift
applied). After each run every legacy task is a target row with the columns the rules give, or
is held back with an error; UUIDs never change; a deleted task is reported and its row kept."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from orchestrator.runner import MigrationRun
from orchestrator.sandbox import build
from orchestrator.settings import load_settings
from tests.conftest import ClusterPair, DbPair, make_db_pair
from tests.integration.expectations import Issues, read_rows, seed
from tests.integration.test_mapping_rules import GONE
from tests.integration.world import TARGET_COLUMNS

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings(
        "ignore:Exception ignored in.*dbt\\.log:pytest.PytestUnraisableExceptionWarning"
    ),
]

# tasks and its parents (orders with theirs, templates with its category, the actors' profiles):
# the other entities' tables stay as the earlier scripts left them.
ENTITIES = [
    "offices",
    "profiles",
    "doctors",
    "patients",
    "orders",
    "categories",
    "templates",
    "tasks",
]
# The owned columns (world.md 8.3: every column of tasks but the legacy key and the common ones).
OWNED = sorted(TARGET_COLUMNS["tasks"] - {"legacy_task_id"})

# Planted tasks, at keys the generator never uses.
T_OK, T_NO_INSTRUCTION, T_GONE_INSTRUCTION = 990001, 990002, 990003
T_GONE_ACTOR, T_GONE_TEMPLATE, T_CHECKED_NOT_DONE = 990004, 990005, 990006
T_IN_PROGRESS = 990007

Rows = dict[int, dict[str, Any]]


@dataclass
class TasksJourney:
    """Per run: the target tasks and parents, the issues, the legacy tasks it saw; and the
    earlier scripts' tasks (before any run), with the keys of their newest 20%."""

    earlier: Rows
    earlier_newest: set[int]
    status: list[str] = field(default_factory=list)
    tasks: list[Rows] = field(default_factory=list)
    parents: list[dict[str, dict[int, Any]]] = field(default_factory=list)
    issues: list[Issues] = field(default_factory=list)
    legacy: list[Rows] = field(default_factory=list)
    legacy_parents: list[dict[str, set[int]]] = field(default_factory=list)
    edited: dict[str, int] = field(default_factory=dict)


def read_tasks(conn: psycopg.Connection) -> Rows:
    return {
        r["legacy_task_id"]: r
        for r in read_rows(conn, "select *, status::text as status from public.tasks")
        if r["legacy_task_id"] is not None
    }


def read_parents(conn: psycopg.Connection) -> dict[str, dict[int, Any]]:
    """Legacy key -> the target row's id (templates: (id, name))."""
    return {
        "orders": dict(
            conn.execute(
                "select legacy_instruction_id, id from public.orders"
                " where legacy_instruction_id is not null"
            ).fetchall()
        ),
        "profiles": dict(
            conn.execute(
                "select legacy_user_id, id from public.profiles where legacy_user_id is not null"
            ).fetchall()
        ),
        "templates": {
            k: (i, n)
            for k, i, n in conn.execute(
                "select legacy_template_id, id, name from public.templates"
                " where legacy_template_id is not null"
            ).fetchall()
        },
    }


def read_legacy(conn: psycopg.Connection) -> tuple[Rows, dict[str, set[int]]]:
    tasks = {r["id"]: r for r in read_rows(conn, "select * from dispatch_task")}
    parents = {
        name: {k for (k,) in conn.execute(f"select id from {table}").fetchall()}
        for name, table in (
            ("instructions", "dispatch_instruction"),
            ("users", "auth_user"),
            ("templates", "dispatch_template"),
        )
    }
    return tasks, parents


def plant_tasks(legacy: psycopg.Connection, target: psycopg.Connection) -> None:
    """A task for each rule with an issue, on an instruction whose order the earlier scripts
    migrated and an actor and a template they migrated (dispatch_task has no foreign keys)."""
    (instruction,) = target.execute(
        "select min(legacy_instruction_id) from public.orders"
    ).fetchone()
    (actor,) = target.execute(
        "select min(legacy_user_id) from public.profiles where legacy_user_id is not null"
    ).fetchone()
    (template,) = target.execute("select min(legacy_template_id) from public.templates").fetchone()
    rows = [
        (T_OK, True, 11, template, "2025-06-01 10:00+00", "Trim 13", 5, instruction, actor, 1, 77),
        (T_NO_INSTRUCTION, True, None, template, "2025-06-01 10:00+00", None, None, None, actor,
         2, None),
        (T_GONE_INSTRUCTION, False, None, template, None, None, None, GONE, actor, 1, None),
        (T_GONE_ACTOR, False, None, template, "2025-06-02 10:00+00", "x", None, instruction,
         GONE, 3, None),
        (T_GONE_TEMPLATE, False, None, GONE, None, None, None, instruction, None, 1, None),
        (T_CHECKED_NOT_DONE, True, None, template, None, "done?", None, instruction, actor, 2,
         None),
        (T_IN_PROGRESS, False, None, template, "2025-06-03 10:00+00", None, None, instruction,
         actor, 1, None),
    ]  # fmt: skip
    with legacy.cursor() as cur:
        cur.executemany(
            "insert into dispatch_task (id, checked, file_id, template_id, done_at, text,"
            " plan_id, instruction_id, actor_id, jaw, order_id)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            rows,
        )


def edit_tasks(legacy: psycopg.Connection, j: TasksJourney) -> dict[str, int]:
    """Besides the activity: an earlier scripts' task of the newest 20% checked in place (a
    change, applied over its drift), our planted in-progress task checked, and a deletion of a
    planted task and of an earlier one."""
    first = j.tasks[0]
    live = {k for (k,) in legacy.execute("select id from dispatch_task").fetchall()}
    changed = min(k for k in j.earlier_newest & live if k in first and not first[k]["checked"])
    deleted = min(k for k in set(j.earlier) - j.earlier_newest if k in live and k in first)
    legacy.execute(
        "update dispatch_task set checked = true, done_at = '2025-07-01 09:00+00' where id = %s",
        (changed,),
    )
    legacy.execute("update dispatch_task set checked = true where id = %s", (T_IN_PROGRESS,))
    legacy.execute("delete from dispatch_task where id in (%s, %s)", (T_GONE_ACTOR, deleted))
    return {"changed": changed, "deleted": deleted}


def run_tasks(dbs: DbPair, *, reconcile: bool) -> str:
    """One `diffmig run` of tasks and its parents: its status and the failed entities."""
    settings = load_settings(environ=dbs.env(), cwd=Path("/nonexistent"))
    outcome = MigrationRun(settings, entities=ENTITIES, reconcile=reconcile).execute()
    failed = [(e.entity, e.detail) for e in outcome.entities if e.status == "failed"]
    return f"{outcome.status} {failed if failed else ''}".strip()


@pytest.fixture(scope="module")
def tasks_journey(clusters: ClusterPair) -> Iterator[TasksJourney]:
    dbs = make_db_pair(clusters)
    try:
        with dbs.legacy_admin() as legacy, dbs.target_admin() as target:
            plant_tasks(legacy, target)
            earlier = read_tasks(target)
        keys = sorted(earlier)
        newest = set(keys[int(len(keys) * 0.8) :]) if keys else set()
        journey = TasksJourney(earlier, newest)
        for reconcile in (False, True):
            if reconcile:
                build.simulate_activity(dbs.pair, dbs.legacy_db, days=3, seed=11)
                with dbs.legacy_admin() as legacy:
                    journey.edited = edit_tasks(legacy, journey)
            journey.status.append(run_tasks(dbs, reconcile=reconcile))
            with dbs.legacy_admin() as legacy, dbs.target_tool() as target:
                tasks, parents = read_legacy(legacy)
                journey.legacy.append(tasks)
                journey.legacy_parents.append(parents)
                journey.tasks.append(read_tasks(target))
                journey.parents.append(read_parents(target))
                journey.issues.append(Issues.read(target))
        yield journey
    finally:
        build.drop_database(clusters.legacy, dbs.legacy_db)
        build.drop_database(clusters.target, dbs.target_db)


STATUS = {
    (r["has_done_at"] == "true", r["is_checked"] == "true"): r["task_status"]
    for r in seed("task_status")
    if r["is_fallback"] != "true"
}


def expected_row(r: dict[str, Any], parents: dict[str, dict[int, Any]]) -> dict[str, Any]:
    """The owned columns world.md 8.4 gives a legacy task, with the parents' target rows."""
    template = parents["templates"].get(r["template_id"])
    return {
        "order_id": parents["orders"].get(r["instruction_id"]),
        "assigned_to": parents["profiles"].get(r["actor_id"]),
        "template_id": template[0] if template else None,
        "template_name": template[1] if template else f"Template {r['template_id']}",
        "description": r["text"],
        "jaw_specification": r["jaw"],
        "status": STATUS[(r["done_at"] is not None, r["checked"])],
        "checked": r["checked"],
        "completed_at": r["done_at"],
    }


def expected_reasons(r: dict[str, Any], j: TasksJourney, i: int) -> set[str]:
    """The reasons of a legacy task's planted defects (world.md 8.2) after run `i`."""
    p, lp = j.parents[i], j.legacy_parents[i]
    reasons = {
        "task_without_instruction": r["instruction_id"] is None,
        "instruction_missing": r["instruction_id"] is not None
        and r["instruction_id"] not in lp["instructions"]
        and r["instruction_id"] not in p["orders"],
        "actor_missing": r["actor_id"] is not None
        and r["actor_id"] not in lp["users"]
        and r["actor_id"] not in p["profiles"],
        "template_missing": r["template_id"] not in lp["templates"]
        and r["template_id"] not in p["templates"],
        "checked_without_done_at": r["checked"] and r["done_at"] is None,
    }
    return {reason for reason, holds in reasons.items() if holds}


def test_tasks_runs_succeed(tasks_journey: TasksJourney) -> None:
    assert tasks_journey.status == ["succeeded", "succeeded"]


def test_tasks_keep_every_uuid_issued(tasks_journey: TasksJourney) -> None:
    """The earlier scripts' UUIDs and diffmig's own stay across runs (a deleted task's too)."""
    j = tasks_journey
    first, second = ({k: r["id"] for k, r in t.items()} for t in j.tasks)
    changed = [(k, r["id"]) for k, r in j.earlier.items() if first.get(k) != r["id"]]
    changed += [(k, v) for k, v in first.items() if second.get(k) != v]
    assert not changed, changed[:5]


@pytest.mark.parametrize("run_index", [0, 1])
def test_tasks_follow_the_mapping_rules_row_by_row(
    tasks_journey: TasksJourney, run_index: int
) -> None:
    """Every legacy task holds what the rules give, or is held back with an error (and then
    has no row, or keeps the earlier scripts' one). After the first run (no reconcile) a task
    of the earlier scripts with open drift keeps their values; after the reconcile run none
    has drift left."""
    j = tasks_journey
    rows, issues = j.tasks[run_index], j.issues[run_index]
    wrong: list[tuple[Any, ...]] = []
    for k, r in j.legacy[run_index].items():
        if issues.held_back("tasks", k):
            if k in rows and (k not in j.earlier or rows[k]["id"] != j.earlier[k]["id"]):
                wrong.append((k, "held back, yet written"))
            continue
        actual = rows.get(k)
        if actual is None:
            wrong.append((k, "no row"))
            continue
        if "drift" in issues.reasons("tasks", k):
            if run_index == 1:
                wrong.append((k, "drift left after reconcile"))
            expected = {c: j.earlier[k][c] for c in OWNED}
        else:
            expected = expected_row(r, j.parents[run_index])
        wrong += [(k, c, v, actual[c]) for c, v in expected.items() if actual[c] != v]
        if actual["metadata"].get("legacy") != {
            "plan_id": r["plan_id"],
            "file_id": r["file_id"],
            "order_id": r["order_id"],
        } and "drift" not in issues.reasons("tasks", k):
            wrong.append((k, "metadata", actual["metadata"]))
    assert not wrong, (len(wrong), wrong[:10])


def test_tasks_defects_are_recorded_with_their_reason(tasks_journey: TasksJourney) -> None:
    """Each planted defect of world.md 8.2 (the generator's and ours) is an open issue with its
    reason after the first run, which considers every task; a task without instruction or with
    a gone one is held back."""
    j = tasks_journey
    missing = {
        k: reasons - j.issues[0].reasons("tasks", k)
        for k, r in j.legacy[0].items()
        if (reasons := expected_reasons(r, j, 0)) - j.issues[0].reasons("tasks", k)
    }
    assert not missing, list(missing.items())[:10]
    defects = {
        reason: sum(reason in expected_reasons(r, j, 0) for r in j.legacy[0].values())
        for reason in ("task_without_instruction", "instruction_missing", "checked_without_done_at")
    }
    assert all(n > 1 for n in defects.values()), defects  # the generator's, not only ours


def test_the_earlier_scripts_newest_tasks_are_drift_then_reconciled(
    tasks_journey: TasksJourney,
) -> None:
    """The earlier scripts' newest 20% took status and template_name by another rule (world.md
    8.6): the first run reports them as drift, naming the columns, and leaves them; the
    reconcile run writes the mapping over them and resolves the warnings."""
    j = tasks_journey
    first = j.issues[0]
    drift = {
        int(k) for k, found in first.open.get("tasks", {}).items() if ("warning", "drift") in found
    }
    assert drift, "no drift reported"
    assert drift <= set(j.earlier)
    differing = {
        k
        for k in j.earlier_newest
        if k in j.legacy[0]
        and not first.held_back("tasks", k)
        and any(
            j.earlier[k][c] != v
            for c, v in expected_row(j.legacy[0][k], j.parents[0]).items()
            if c in ("status", "template_name")
        )
    }
    assert differing, "the earlier scripts' newest tasks all agree with the mapping"
    assert differing <= drift, sorted(differing - drift)[:10]
    for k in sorted(differing)[:50]:
        assert j.tasks[0][k] == j.earlier[k] | {"metadata": j.tasks[0][k]["metadata"]}, k
    still = {
        int(k)
        for k, found in j.issues[1].open.get("tasks", {}).items()
        if ("warning", "drift") in found
    }
    assert not still, sorted(still)[:10]


def test_planted_tasks_and_edits(tasks_journey: TasksJourney) -> None:
    """The planted tasks through both runs, a task checked in place by the delta run, and
    deletions (world.md 8.5: reported, the row kept)."""
    j = tasks_journey
    issues, tasks, p = j.issues, j.tasks, j.parents[0]
    ok = tasks[0][T_OK]
    assert (ok["status"], ok["completed_at"] is not None, ok["description"]) == (
        "completed",
        True,
        "Trim 13",
    )
    assert ok["metadata"]["legacy"] == {"plan_id": 5, "file_id": 11, "order_id": 77}
    assert issues[0].reasons("tasks", T_OK) == set()
    for key, reason in (
        (T_NO_INSTRUCTION, "task_without_instruction"),
        (T_GONE_INSTRUCTION, "instruction_missing"),
    ):
        assert key not in tasks[0], key
        assert issues[0].reasons("tasks", key) == {reason}
        assert issues[0].held_back("tasks", key)
    gone_actor = tasks[0][T_GONE_ACTOR]
    assert (gone_actor["assigned_to"], gone_actor["status"]) == (None, "in_progress")
    assert issues[0].reasons("tasks", T_GONE_ACTOR) == {"actor_missing"}
    gone_template = tasks[0][T_GONE_TEMPLATE]
    assert (gone_template["template_id"], gone_template["template_name"]) == (
        None,
        f"Template {GONE}",
    )
    assert gone_template["assigned_to"] is None
    assert issues[0].reasons("tasks", T_GONE_TEMPLATE) == {"template_missing"}
    not_done = tasks[0][T_CHECKED_NOT_DONE]
    assert (not_done["status"], not_done["checked"], not_done["completed_at"]) == (
        "pending",
        True,
        None,
    )
    assert issues[0].reasons("tasks", T_CHECKED_NOT_DONE) == {"checked_without_done_at"}
    assert tasks[0][T_IN_PROGRESS]["status"] == "in_progress"
    # the delta run: checked in place (ours and one of the earlier scripts' newest, whose
    # drift gives way to the change), deletions reported with the rows kept
    assert tasks[1][T_IN_PROGRESS]["status"] == "completed"
    changed = tasks[1][j.edited["changed"]]
    assert (changed["status"], changed["checked"]) == ("completed", True)
    assert str(changed["completed_at"].date()) == "2025-07-01"
    for key in (T_GONE_ACTOR, j.edited["deleted"]):
        assert tasks[1][key] == tasks[0][key], key
        assert issues[1].reasons("tasks", key) == {"deleted_in_source"}, key
    assert p["orders"]  # parents read


def test_the_activity_s_new_tasks_land(tasks_journey: TasksJourney) -> None:
    """The delta run lands the tasks the activity made (on new instructions, whose orders the
    same run migrates), or holds them back with an error."""
    j = tasks_journey
    new = [k for k in j.legacy[1] if k not in j.legacy[0]]
    assert new, "the activity made no task"
    missing = [k for k in new if k not in j.tasks[1] and not j.issues[1].held_back("tasks", k)]
    assert not missing, missing[:10]
