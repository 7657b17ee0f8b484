"""comments and treatment_discussions (entities 32 and 33, world.md 8.4 to 8.6) row by row.

One pair of databases, with rows planted for each rule with an issue, goes through a first run
of the two entities alone (their parents as the earlier scripts left them: a new plan has no
treatment_plans row yet), a round of legacy activity and edits, and a delta run that also maps
the plans (the new plan lands, and the discussion waiting for it gets it). After each run every
live legacy comment is a comments row and a treatment_discussions row with the columns the rules
give, or is held back with its reason; every planted defect has its recorded reason; no UUID
issued (by the earlier scripts or by diffmig) changes; deletions are reported, the rows kept.
"""

from __future__ import annotations

import time
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
from tests.integration.expectations import Issues, read_rows
from tests.integration.test_mapping_rules import GONE, duplicate_a_plan, oldest_ids

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings(
        "ignore:Exception ignored in.*dbt\\.log:pytest.PytestUnraisableExceptionWarning"
    ),
]

Row = dict[str, Any]

# The runs' entities: the first maps the comments alone; the delta run maps the plans too, and
# records the mappings.
FIRST_ENTITIES = ["comments", "treatment_discussions"]
DELTA_ENTITIES = ["treatment_plans", "comments", "treatment_discussions", "migration_mappings"]

# Planted comments, by name: (text, author, plan), where "user" is a user with a profile,
# "plan" a plan the earlier scripts migrated (duplicated in the target), "new plan" one without
# treatment_plans row until the delta run maps the plans. They take the tables' next ids, so
# that the activity's picks among existing ids (it samples up to the highest) still work.
PLANTED = {
    "ok": ("  Looks good  ", "user", "plan"),
    "empty": ("", "user", "plan"),
    "spaces": ("   ", "user", "plan"),
    "gone author": ("gone author", "gone", "plan"),
    "no author": ("no author", None, "plan"),
    "gone plan": ("gone plan", "user", "gone"),
    "new plan": ("new plan", "user", "new plan"),
    "deleted later": ("deleted later", "user", "plan"),
}


@dataclass
class Planted:
    user: int  # a user with a profile
    plan: int  # a plan the earlier scripts migrated, with a second (newer) target row
    kept_plan_id: Any  # that plan's kept (oldest) row
    copy_plan_id: Any  # its second row
    new_plan: int  # a plan without treatment_plans row before the delta run
    gone_before_first_sync: int  # an earlier scripts' comment deleted before the first run
    ids: dict[str, int] = field(default_factory=dict)  # PLANTED name -> comment id
    deleted_later: int = 0  # an earlier scripts' comment deleted before the delta run
    edited: int = 0  # an earlier scripts' comment whose text changes before the delta run


@dataclass
class DiscussionsJourney:
    planted: Planted
    earlier: dict[int, Any]  # legacy comment id -> the earlier scripts' comments id
    status: list[str] = field(default_factory=list)
    legacy: list[dict[str, dict[int, Row]]] = field(default_factory=list)
    target: list[dict[str, list[Row]]] = field(default_factory=list)
    issues: list[Issues] = field(default_factory=list)


def run(dbs: DbPair, entities: list[str]) -> str:
    """One `diffmig run` of `entities`: its status and the failed entities."""
    settings = load_settings(environ=dbs.env(), cwd=Path("/nonexistent"))
    outcome = MigrationRun(settings, entities=entities).execute()
    failed = [(e.entity, e.detail) for e in outcome.entities if e.status == "failed"]
    return f"{outcome.status} {failed if failed else ''}".strip()


def read_legacy(conn: psycopg.Connection) -> dict[str, dict[int, Row]]:
    queries = {
        "comments": "select * from dispatch_comment",
        "plans": "select id from dispatch_plan",
        "users": "select id from auth_user",
    }
    return {t: {r["id"]: r for r in read_rows(conn, q)} for t, q in queries.items()}


def read_target(conn: psycopg.Connection) -> dict[str, list[Row]]:
    return {
        "comments": read_rows(
            conn, "select * from public.comments where legacy_table = 'dispatch_comment'"
        ),
        "treatment_discussions": read_rows(conn, "select * from public.treatment_discussions"),
        "treatment_plans": read_rows(
            conn, "select id, legacy_plan_id, created_at from public.treatment_plans"
        ),
        "profiles": read_rows(conn, "select id, legacy_user_id from public.profiles"),
        "mappings": read_rows(
            conn,
            "select entity_type, legacy_id, new_id from public.migration_mappings"
            " where entity_type in ('comment', 'treatment_discussion')",
        ),
    }


def plant(legacy: psycopg.Connection, target: psycopg.Connection) -> Planted:
    """A comment for each rule with an issue (dispatch_comment has no foreign keys: its author
    and plan may be gone), a new plan, a duplicated plan, and an earlier scripts' comment
    deleted before the first sync."""
    (user,) = target.execute(
        "select min(legacy_user_id) from public.profiles where legacy_user_id is not null"
    ).fetchone()
    plan, kept, copy = duplicate_a_plan(target)
    (project,) = target.execute(
        "select min(legacy_project_id) from public.projects where legacy_project_id is not null"
    ).fetchone()
    (instruction,) = target.execute(
        "select min(legacy_instruction_id) from public.orders"
    ).fetchone()
    (new_plan,) = legacy.execute(
        "insert into dispatch_plan (instruction_id, project_id, notes, number, name, original)"
        " values (%s, %s, '', 1, 'New plan', true) returning id",
        (instruction, project),
    ).fetchone()
    parents = {"user": user, "gone": GONE, None: None, "plan": plan, "new plan": new_plan}
    ids = {}
    for name, (text, author, on_plan) in PLANTED.items():
        (ids[name],) = legacy.execute(
            "insert into dispatch_comment (created_at, text, author_id, plan_id)"
            " values (now(), %s, %s, %s) returning id",
            (text, parents[author], parents[on_plan]),
        ).fetchone()
    (gone,) = target.execute(
        "select min(legacy_id) from public.comments where legacy_table = 'dispatch_comment'"
    ).fetchone()
    legacy.execute("delete from dispatch_comment where id = %s", (gone,))
    return Planted(user, plan, kept, copy, new_plan, gone, ids)


def edit(legacy: psycopg.Connection, p: Planted, earlier: dict[int, Any]) -> None:
    """Between the runs: an earlier comment and a planted one deleted, an earlier comment's
    text edited, the gone author replaced by a user with a profile."""
    live = {r[0] for r in legacy.execute("select id from dispatch_comment")}
    candidates = sorted(k for k in earlier if k in live)
    p.deleted_later, p.edited = candidates[0], candidates[1]
    legacy.execute(
        "delete from dispatch_comment where id in (%s, %s)",
        (p.deleted_later, p.ids["deleted later"]),
    )
    legacy.execute(
        "update dispatch_comment set text = text || ' (edited)' where id = %s", (p.edited,)
    )
    legacy.execute(
        "update dispatch_comment set author_id = %s where id = %s", (p.user, p.ids["gone author"])
    )


@pytest.fixture(scope="module")
def discussions(clusters: ClusterPair) -> Iterator[DiscussionsJourney]:
    dbs = make_db_pair(clusters)
    try:
        with dbs.legacy_admin() as legacy, dbs.target_admin() as target:
            planted = plant(legacy, target)
            earlier = dict(
                target.execute(
                    "select legacy_id, id from public.comments"
                    " where legacy_table = 'dispatch_comment'"
                ).fetchall()
            )
        journey = DiscussionsJourney(planted, earlier)
        for entities in (FIRST_ENTITIES, DELTA_ENTITIES):
            if entities is DELTA_ENTITIES:
                build.simulate_activity(dbs.pair, dbs.legacy_db, days=4, seed=101)
                with dbs.legacy_admin() as legacy:
                    edit(legacy, planted, earlier)
            started = time.monotonic()
            status = run(dbs, entities)
            journey.status.append(f"{status} ({time.monotonic() - started:.0f} s)")
            with dbs.legacy_admin() as legacy, dbs.target_tool() as target:
                journey.legacy.append(read_legacy(legacy))
                journey.target.append(read_target(target))
                journey.issues.append(Issues.read(target))
        yield journey
    finally:
        build.drop_database(clusters.legacy, dbs.legacy_db)
        build.drop_database(clusters.target, dbs.target_db)


# --- the rules ---------------------------------------------------------------------------------


def is_blank(text: str | None) -> bool:
    return (text or "").strip(" ") == ""


def expected(j: DiscussionsJourney, i: int) -> dict[str, dict[int, Row]]:
    """Per table, live legacy comment id -> the owned columns the rules give (world.md 8.4),
    from the legacy rows and the parents' target rows of run `i`."""
    lg, t = j.legacy[i], j.target[i]
    profile = {r["legacy_user_id"]: r["id"] for r in t["profiles"] if r["legacy_user_id"]}
    plan = oldest_ids(t["treatment_plans"], "legacy_plan_id")
    comment = {r["legacy_id"]: r["id"] for r in t["comments"]}
    out: dict[str, dict[int, Row]] = {"comments": {}, "treatment_discussions": {}}
    for k, r in lg["comments"].items():
        out["comments"][k] = {
            "content": "" if is_blank(r["text"]) else r["text"],
            "comment_type": "treatment_discussion",
            "author_id": profile.get(r["author_id"]),
            "legacy_table": "dispatch_comment",
            "created_at": r["created_at"],
        }
        out["treatment_discussions"][k] = {
            "comment_id": comment.get(k),
            "treatment_plan_id": plan.get(r["plan_id"]),
            "is_visible_to_patient": False,
        }
    return out


def expected_reasons(j: DiscussionsJourney, i: int) -> dict[str, dict[int, set[str]]]:
    """Per table, live legacy comment id -> the reasons its open issues must include."""
    lg, t = j.legacy[i], j.target[i]
    profile = {r["legacy_user_id"] for r in t["profiles"] if r["legacy_user_id"]}
    plans = {r["legacy_plan_id"] for r in t["treatment_plans"]}
    out: dict[str, dict[int, set[str]]] = {"comments": {}, "treatment_discussions": {}}
    for k, r in lg["comments"].items():
        author, plan = r["author_id"], r["plan_id"]
        reasons = {"blank_comment"} if is_blank(r["text"]) else set()
        if author is not None and author not in profile:
            reasons.add("author_missing" if author not in lg["users"] else "author_not_migrated")
        out["comments"][k] = reasons
        out["treatment_discussions"][k] = (
            set()
            if plan in plans
            else {"plan_missing" if plan not in lg["plans"] else "plan_not_migrated"}
        )
    return out


def rows_by_key(j: DiscussionsJourney, i: int, table: str) -> dict[int, Row]:
    key = "legacy_id" if table == "comments" else "legacy_comment_id"
    return {r[key]: r for r in j.target[i][table]}


TABLES = ["comments", "treatment_discussions"]


def test_runs_succeed(discussions: DiscussionsJourney) -> None:
    assert [s.split(" (")[0] for s in discussions.status] == ["succeeded", "succeeded"], (
        discussions.status
    )


@pytest.mark.parametrize("run_index", [0, 1])
@pytest.mark.parametrize("table", TABLES)
def test_every_comment_follows_the_mapping_rules_row_by_row(
    discussions: DiscussionsJourney, table: str, run_index: int
) -> None:
    """Every live legacy comment is a row with the columns the rules give, or is held back
    with an error; an earlier scripts' row that differs is left as it was, with a drift
    warning (the first run over it)."""
    j = discussions
    rows, issues = rows_by_key(j, run_index, table), j.issues[run_index]
    wrong = []
    for k, columns in expected(j, run_index)[table].items():
        if issues.held_back(table, k):
            wrong += [(k, "held back", issues.reasons(table, k))] if table == "comments" else []
            continue
        actual = rows.get(k)
        if actual is None:
            wrong.append((k, "no row"))
            continue
        if "drift" in issues.reasons(table, k):
            assert table == "comments", k
            assert actual["id"] == j.earlier[k], k
            continue
        wrong += [(k, c, v, actual[c]) for c, v in columns.items() if actual[c] != v]
        if table == "comments":
            plan = actual["metadata"].get("legacy", {}).get("plan_id")
            if plan != j.legacy[run_index]["comments"][k]["plan_id"]:
                wrong.append((k, "metadata.legacy.plan_id", plan))
    assert not wrong, (len(wrong), wrong[:10])


@pytest.mark.parametrize("run_index", [0, 1])
@pytest.mark.parametrize("table", TABLES)
def test_defects_are_recorded_with_their_reason(
    discussions: DiscussionsJourney, table: str, run_index: int
) -> None:
    """Each defect of world.md 8.2 (blank comments, an author or plan pointing at a gone row:
    the generator's and ours) lands with its open warning, and no row has another issue but
    drift."""
    j = discussions
    issues = j.issues[run_index]
    wrong = []
    for k, reasons in expected_reasons(j, run_index)[table].items():
        found = issues.reasons(table, k) - {"drift"}
        if found != reasons:
            wrong.append((k, sorted(reasons), sorted(found)))
    assert not wrong, (len(wrong), wrong[:10])


def test_planted_comments(discussions: DiscussionsJourney) -> None:
    j, p = discussions, discussions.planted
    c = p.ids
    first, delta = (rows_by_key(j, i, "comments") for i in (0, 1))
    talks = [rows_by_key(j, i, "treatment_discussions") for i in (0, 1)]
    # The text as it is, a blank one ''.
    assert first[c["ok"]]["content"] == "  Looks good  "
    assert first[c["empty"]]["content"] == first[c["spaces"]]["content"] == ""
    assert j.issues[0].reasons("comments", c["spaces"]) == {"blank_comment"}
    # A gone author: null with a warning; replaced by a user with a profile: set, resolved.
    assert first[c["gone author"]]["author_id"] is None
    assert j.issues[0].reasons("comments", c["gone author"]) == {"author_missing"}
    profile = {r["legacy_user_id"]: r["id"] for r in j.target[1]["profiles"]}
    assert delta[c["gone author"]]["author_id"] == profile[p.user]
    assert j.issues[1].reasons("comments", c["gone author"]) == set()
    assert first[c["no author"]]["author_id"] is None
    assert j.issues[0].reasons("comments", c["no author"]) == set()
    # The plan in metadata; the discussion on the kept (oldest) row of a duplicated plan.
    assert first[c["ok"]]["metadata"]["legacy"]["plan_id"] == p.plan
    assert talks[0][c["ok"]]["treatment_plan_id"] == p.kept_plan_id != p.copy_plan_id
    assert talks[0][c["ok"]]["comment_id"] == first[c["ok"]]["id"]
    assert talks[0][c["ok"]]["is_visible_to_patient"] is False
    # A gone plan: the discussion lands without it.
    assert talks[0][c["gone plan"]]["treatment_plan_id"] is None
    assert j.issues[0].reasons("treatment_discussions", c["gone plan"]) == {"plan_missing"}
    # A plan not migrated yet: null with a warning, then set in the run that maps it.
    assert talks[0][c["new plan"]]["treatment_plan_id"] is None
    assert j.issues[0].reasons("treatment_discussions", c["new plan"]) == {"plan_not_migrated"}
    plan = oldest_ids(j.target[1]["treatment_plans"], "legacy_plan_id")
    assert talks[1][c["new plan"]]["treatment_plan_id"] == plan[p.new_plan] is not None
    assert j.issues[1].reasons("treatment_discussions", c["new plan"]) == set()


def test_uuids_never_change(discussions: DiscussionsJourney) -> None:
    """The earlier scripts' comments keep their UUIDs, and so does every row diffmig wrote."""
    j = discussions
    for table in TABLES:
        first, delta = ({k: r["id"] for k, r in rows_by_key(j, i, table).items()} for i in (0, 1))
        before = j.earlier if table == "comments" else {}
        changed = [(k, v) for k, v in before.items() if first.get(k) != v]
        changed += [(k, v) for k, v in first.items() if delta.get(k) != v]
        assert not changed, (table, changed[:5])
        # migration_mappings records each row's id under the entity's type.
        kind = "comment" if table == "comments" else "treatment_discussion"
        mapped = {
            int(m["legacy_id"]): m["new_id"]
            for m in j.target[1]["mappings"]
            if m["entity_type"] == kind
        }
        wrong = [(k, v, mapped.get(k)) for k, v in delta.items() if mapped.get(k) != v]
        assert not wrong, (table, wrong[:5])


def test_the_earlier_migration_is_found_and_completed(discussions: DiscussionsJourney) -> None:
    """The earlier scripts left 87% of the comments (to an August high-water id, the blank ones
    skipped) and no discussion: the first run finds theirs (no drift: the rules are theirs) and
    adds every other live comment, blank ones included, and a discussion for each."""
    j = discussions
    live = set(j.legacy[0]["comments"])
    blank = {k for k, r in j.legacy[0]["comments"].items() if is_blank(r["text"])}
    assert j.earlier
    assert not blank & set(j.earlier)
    assert live - set(j.earlier) - set(j.planted.ids.values()), "nothing left for diffmig to add"
    for table in TABLES:
        assert live <= set(rows_by_key(j, 0, table)), table
    drift = [k for k in live if "drift" in j.issues[0].reasons("comments", k)]
    assert not drift, drift[:10]


def test_deletions_are_reported_and_the_rows_kept(discussions: DiscussionsJourney) -> None:
    """No soft-delete column (world.md 8.5): a comment deleted in the legacy database keeps its
    comments and treatment_discussions rows, unchanged, with a deleted_in_source warning; one
    deleted before the first sync keeps the earlier scripts' row (and has no discussion)."""
    j, p = discussions, discussions.planted
    first, delta = (rows_by_key(j, i, "comments") for i in (0, 1))
    talks = [rows_by_key(j, i, "treatment_discussions") for i in (0, 1)]
    gone = p.gone_before_first_sync
    assert first[gone]["id"] == j.earlier[gone]
    # Every earlier comment deleted before the first sync (ours, the template's activity's).
    before = [k for k in j.earlier if k not in j.legacy[0]["comments"]]
    assert gone in before
    for k in before:
        assert first[k]["id"] == j.earlier[k], k
        assert j.issues[0].reasons("comments", k) == {"deleted_in_source"}, k
        assert k not in talks[0], k
        assert not j.issues[0].reasons("treatment_discussions", k), k
    # Every comment deleted between the runs (ours, the activity's).
    deleted = [k for k in j.legacy[0]["comments"] if k not in j.legacy[1]["comments"]]
    assert {p.deleted_later, p.ids["deleted later"]} <= set(deleted)
    for k in deleted:
        assert delta[k] == first[k], k
        assert talks[1][k] == talks[0][k], k
        assert j.issues[1].reasons("comments", k) == {"deleted_in_source"}, k
        assert j.issues[1].reasons("treatment_discussions", k) == {"deleted_in_source"}, k


def test_changes_are_applied_on_the_delta_run(discussions: DiscussionsJourney) -> None:
    """An earlier comment edited in the legacy database is a change, not drift; the activity's
    new comments land with their discussion."""
    j, p = discussions, discussions.planted
    delta = rows_by_key(j, 1, "comments")
    assert delta[p.edited]["content"].endswith(" (edited)")
    assert delta[p.edited]["id"] == j.earlier[p.edited]
    new = set(j.legacy[1]["comments"]) - set(j.legacy[0]["comments"])
    assert new, "the activity added no comment"
    assert new <= set(delta)
    assert new <= set(rows_by_key(j, 1, "treatment_discussions"))
