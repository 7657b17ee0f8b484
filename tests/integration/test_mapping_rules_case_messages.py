"""Case messages (entity 34, world.md 8.4 to 8.6) row by row: one pair of databases, with planted
comments, goes through a full first run (no reconcile: drift and the earlier scripts' second
copies reported and left alone), legacy activity plus edits and a delta run, then a reconcile run
(drift applied, second copies deleted). After each run every legacy comment is a case message
with the columns the rules give, or has a recorded issue with its reason; the UUIDs the earlier
scripts issued (of a key's copies, the oldest) and diffmig's own never change; deletions are
reported and their rows kept; migration_mappings maps each key to its kept row. Only
order_cases, case_messages and migration_mappings are run, which keeps the module small: the
other parents (profiles, orders, cases) are the earlier scripts' rows, and order_cases (which the
earlier scripts filled for a cohort of orders only) gives every order of those its case."""

from __future__ import annotations

from collections import Counter
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
from tests.integration.test_mapping_rules import GONE, by_oldest

# The row-by-row tier, as the other entities' (a minute of its own: slow-marked). dbt's
# in-process logger leaves logs/dbt.log open when it swaps handlers (dbt_common).
pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings(
        "ignore:Exception ignored in.*dbt\\.log:pytest.PytestUnraisableExceptionWarning"
    ),
]

Row = dict[str, Any]

# Planted rows, at keys the generator never uses (GONE: a parent that does not exist).
PL_CASE, PL_NO_INSTRUCTION, PL_GONE_INSTRUCTION = 990101, 990102, 990103
C_PLEASE_APPROVE = 990101  # 'please' comes first: patient_question (the scripts: doctor_response)
C_TREATMENT_FIRST = 990102  # 'treatment' before 'approve' and '?': treatment_update
C_LOOKS_GOOD = 990103  # 'looks good' first: doctor_response, no response required
C_NOTE = 990104  # no keyword: clinical_note with a warning; no author (null, no warning)
C_BLANK = 990105  # blank: content kept, clinical_note, warned
C_GONE_AUTHOR = 990106  # the author does not exist: lands with sender/author null, warned
C_GONE_PLAN = 990107  # the plan does not exist: no case, held back with a warning
C_NO_INSTRUCTION = 990108  # the plan has no instruction: no case, held back with a warning
C_GONE_INSTRUCTION = 990109  # the plan's instruction does not exist: held back with a warning
C_EDITED = 990110  # its text edited before the delta run: the change lands
C_DELETED = 990111  # deleted before the delta run: reported, its row kept
KEY = "legacy_message_id"
KEYWORDS = sorted(
    (int(r["precedence"]), r["keyword"], r["message_type"])
    for r in seed("case_message_keywords")
    if r["is_fallback"] != "true"
)
FALLBACK = next(
    r["message_type"] for r in seed("case_message_keywords") if r["is_fallback"] == "true"
)


def message_type(text: str) -> tuple[str, bool]:
    """(message_type, whether the fallback) by the first keyword of the lower-cased text: the one
    at the earliest position, a tie at one position going to the seed's order."""
    low = text.lower()
    hits = [(low.find(k), precedence, t) for precedence, k, t in KEYWORDS if k in low]
    return (min(hits)[2], False) if hits else (FALLBACK, True)


@dataclass
class Journey:
    """Per run (first, delta, reconcile): its status, the target's rows and issues, and the
    legacy rows and the parents' target rows the rules read."""

    earlier: dict[int, Any]  # legacy key -> the earlier scripts' kept (oldest) id
    copies: dict[int, list[Any]]  # legacy key -> every earlier row's id, the kept one first
    status: list[str] = field(default_factory=list)
    rows: list[list[Row]] = field(default_factory=list)
    issues: list[Issues] = field(default_factory=list)
    legacy: list[dict[str, dict[int, Row]]] = field(default_factory=list)
    parents: list[dict[str, dict[Any, Any]]] = field(default_factory=list)
    mappings: list[dict[int, Any]] = field(default_factory=list)  # case_message: key -> new_id
    duplicates: dict[str, str] = field(default_factory=dict)  # key -> first run's issue detail


def run(dbs: DbPair, *, mode: str = "delta", reconcile: bool = False) -> str:
    settings = load_settings(environ=dbs.env(), cwd=Path("/nonexistent"))
    outcome = MigrationRun(
        settings,
        mode=mode,
        reconcile=reconcile,
        entities=["order_cases", "case_messages", "migration_mappings"],
    ).execute()
    # a failed proof (the entity's dbt tests) fails the journey too
    failed = [
        (e.entity, e.detail) for e in outcome.entities if e.status == "failed" or e.tests_failed
    ]
    return f"{outcome.status} {failed if failed else ''}".strip()


def plant(legacy: psycopg.Connection, target: psycopg.Connection) -> None:
    """A comment for each rule and defect, on planted plans (the legacy tables have no foreign
    keys: parents may be gone). PL_CASE's instruction has an order with a case in the target."""
    (instruction,) = target.execute(
        "select min(o.legacy_instruction_id) from public.orders o"
        " join public.order_cases oc on oc.order_id = o.id where oc.is_active"
    ).fetchone()
    (author,) = target.execute(
        "select min(legacy_user_id) from public.profiles where legacy_user_id is not null"
    ).fetchone()
    (project,) = legacy.execute("select min(id) from dispatch_project").fetchone()
    legacy.execute(
        "insert into dispatch_plan (id, instruction_id, project_id, notes, number, name, original)"
        " values (%s, %s, %s, '', 1, 'Planted', true), (%s, null, %s, '', 1, 'No instr', false),"
        " (%s, %s, %s, '', 1, 'Gone instr', false)",
        (PL_CASE, instruction, project, PL_NO_INSTRUCTION, project,
         PL_GONE_INSTRUCTION, GONE, project),
    )  # fmt: skip
    comments = [
        (C_PLEASE_APPROVE, "Please approve the plan.", author, PL_CASE),
        (C_TREATMENT_FIRST, "TREATMENT: approve? Question later", author, PL_CASE),
        (C_LOOKS_GOOD, "Looks good, plan approved", author, PL_CASE),
        (C_NOTE, "Bite open on the left. " + "x" * 60, None, PL_CASE),
        (C_BLANK, "   ", author, PL_CASE),
        (C_GONE_AUTHOR, "Any question?", GONE, PL_CASE),
        (C_GONE_PLAN, "Approve", author, GONE),
        (C_NO_INSTRUCTION, "Approve", author, PL_NO_INSTRUCTION),
        (C_GONE_INSTRUCTION, "Approve", author, PL_GONE_INSTRUCTION),
        (C_EDITED, "Scan uploaded.", author, PL_CASE),
        (C_DELETED, "Please check", author, PL_CASE),
    ]
    with legacy.cursor() as cur:
        cur.executemany(
            "insert into dispatch_comment (id, created_at, text, author_id, plan_id)"
            " values (%s, '2025-06-01 10:00+00', %s, %s, %s)",
            comments,
        )


def edit(legacy: psycopg.Connection, earlier: dict[int, Any]) -> int:
    """Before the delta run: a planted comment edited, one planted and one earlier comment
    deleted. Returns the earlier comment deleted."""
    legacy.execute(
        "update dispatch_comment set text = 'Treatment to continue?' where id = %s", (C_EDITED,)
    )
    gone = min(earlier)
    legacy.execute("delete from dispatch_comment where id in (%s, %s)", (C_DELETED, gone))
    return gone


def read_parents(target: psycopg.Connection) -> dict[str, dict[Any, Any]]:
    """What the rules read in the target: legacy user -> profile, legacy instruction -> the case
    of its order (order_cases: the active link, else the latest)."""
    profiles = dict(
        target.execute(
            "select legacy_user_id, id from public.profiles where legacy_user_id is not null"
        ).fetchall()
    )
    cases = dict(
        target.execute(
            "select distinct on (o.legacy_instruction_id) o.legacy_instruction_id, oc.case_id"
            " from public.orders o join public.order_cases oc on oc.order_id = o.id"
            " where o.legacy_instruction_id is not null"
            " order by o.legacy_instruction_id, oc.is_active desc, oc.created_at desc"
        ).fetchall()
    )
    return {"profiles": profiles, "cases": cases}


def read_legacy(legacy: psycopg.Connection) -> dict[str, dict[int, Row]]:
    return {
        t: {r["id"]: r for r in read_rows(legacy, f"select * from {table}")}
        for t, table in (
            ("comments", "dispatch_comment"),
            ("plans", "dispatch_plan"),
            ("instructions", "dispatch_instruction"),
            ("users", "auth_user"),
        )
    }


@pytest.fixture(scope="module")
def journey(clusters: ClusterPair) -> Iterator[Journey]:
    dbs = make_db_pair(clusters)
    try:
        with dbs.legacy_admin() as legacy, dbs.target_admin() as target:
            plant(legacy, target)
            before = read_rows(
                target, f"select id, {KEY}, created_at from public.case_messages"
                f" where {KEY} is not null order by {KEY}, created_at, id",
            )  # fmt: skip
        copies: dict[int, list[Any]] = {}
        for r in before:
            copies.setdefault(r[KEY], []).append(r["id"])
        j = Journey({k: ids[0] for k, ids in copies.items()}, copies)
        for step in ("first", "delta", "reconcile"):
            if step == "delta":
                build.simulate_activity(clusters.pair, dbs.legacy_db, days=3, seed=34)
                with dbs.legacy_admin() as legacy:
                    edit(legacy, j.earlier)
            j.status.append(
                run(dbs, mode="full" if step == "first" else "delta", reconcile=step == "reconcile")
            )
            with dbs.legacy_admin() as legacy, dbs.target_tool() as target:
                j.legacy.append(read_legacy(legacy))
                j.parents.append(read_parents(target))
                j.rows.append(read_rows(target, "select * from public.case_messages"))
                j.issues.append(Issues.read(target))
                j.mappings.append(
                    dict(
                        target.execute(
                            "select legacy_id, new_id from public.migration_mappings"
                            " where entity_type = 'case_message'"
                        ).fetchall()
                    )
                )
                if step == "first":
                    j.duplicates = dict(
                        target.execute(
                            "select legacy_key, detail from diffmig.row_issues where entity ="
                            " 'case_messages' and reason = 'duplicate_target_rows'"
                            " and resolved_at is null"
                        ).fetchall()
                    )
        yield j
    finally:
        build.drop_database(clusters.legacy, dbs.legacy_db)
        build.drop_database(clusters.target, dbs.target_db)


def expected(j: Journey, i: int) -> tuple[dict[int, Row], dict[int, set[str]]]:
    """After run i, from its legacy rows and parents: legacy key -> the owned columns of each
    live comment reaching a case, and legacy key -> the reasons of the issues each live comment
    must have (the holds of those reaching no case included)."""
    lg, parents = j.legacy[i], j.parents[i]
    rows: dict[int, Row] = {}
    reasons: dict[int, set[str]] = {}
    for k, c in lg["comments"].items():
        plan = lg["plans"].get(c["plan_id"])
        instruction = plan["instruction_id"] if plan else None
        case = parents["cases"].get(instruction)
        author = parents["profiles"].get(c["author_id"])
        kind, fallback = message_type(c["text"])
        why = {
            "plan_missing": plan is None,
            "plan_without_instruction": plan is not None and instruction is None,
            "instruction_missing": instruction is not None
            and case is None
            and instruction not in lg["instructions"],
            "case_not_migrated": instruction is not None
            and case is None
            and instruction in lg["instructions"],
            "author_missing": c["author_id"] is not None
            and author is None
            and c["author_id"] not in lg["users"],
            "author_not_migrated": c["author_id"] is not None
            and author is None
            and c["author_id"] in lg["users"],
            "blank_comment": not c["text"].strip(),
            "no_message_keyword": fallback,
        }
        reasons[k] = {r for r, holds in why.items() if holds}
        if case is None:
            continue
        rows[k] = {
            "case_id": case,
            "sender_id": author,
            "author_id": author,
            "message_type": kind,
            "subject": c["text"][:50],
            "content": c["text"],
            "priority": 1,
            "requires_response": kind == "patient_question",
            "sent_at": c["created_at"],
            "legacy_record_id": k,
        }
    return rows, reasons


def test_runs_succeed(journey: Journey) -> None:
    assert journey.status == ["succeeded"] * 3


@pytest.mark.parametrize("i", [0, 1, 2], ids=["first", "delta", "reconcile"])
def test_case_messages_follow_the_rules_row_by_row(journey: Journey, i: int) -> None:
    """Every live comment reaching a case has a kept (oldest) row with the columns the rules
    give, except, before the reconcile run, an earlier scripts' row left as it was with an open
    drift warning naming the columns that differ; every live comment has the issues of its
    defects; one reaching no case is held back (no row of diffmig's)."""
    j = journey
    rows, reasons = expected(j, i)
    kept = by_oldest(j.rows[i], KEY)
    issues = j.issues[i]
    wrong: list[Any] = []
    for k, want in rows.items():
        actual = kept.get(k)
        if actual is None:
            wrong.append((k, "no row", issues.reasons("case_messages", k)))
            continue
        differ = [c for c, v in want.items() if actual[c] != v]
        if differ and not (i < 2 and "drift" in issues.reasons("case_messages", k)):
            wrong.append((k, [(c, want[c], actual[c]) for c in differ]))
    missing = {
        k: need - issues.reasons("case_messages", k)
        for k, need in reasons.items()
        if need - issues.reasons("case_messages", k)
    }
    # (after the first run only: a plan deleted since keeps the row diffmig wrote)
    landed_without_case = [
        k
        for k in kept
        if i == 0 and k in j.legacy[i]["comments"] and k not in rows and k not in j.earlier
    ]
    assert not wrong, (len(wrong), wrong[:10])
    assert not missing, list(missing.items())[:10]
    assert not landed_without_case, landed_without_case[:10]
    assert issues.open.get("case_messages"), "no issue recorded at all"


def test_reconcile_leaves_no_drift(journey: Journey) -> None:
    """The first run reports the earlier scripts' differences (the keyword rule they applied
    differently, among others) as drift; the reconcile run applies them."""
    first, last = journey.issues[0], journey.issues[2]
    drifted = [k for k in journey.earlier if "drift" in first.reasons("case_messages", k)]
    assert drifted
    assert not [k for k in journey.earlier if "drift" in last.reasons("case_messages", k)]


def test_planted_comments(journey: Journey) -> None:
    """The planted rows through the three runs: the keyword rule, the blank comment, a gone
    author, the three ways to reach no case, a change applied by the delta run, a deletion
    reported and its row kept."""
    j = journey
    kept = [by_oldest(rows, KEY) for rows in j.rows]
    issues = j.issues
    profile = j.parents[0]["profiles"]
    types = {
        k: (kept[0][k]["message_type"], kept[0][k]["requires_response"])
        for k in (C_PLEASE_APPROVE, C_TREATMENT_FIRST, C_LOOKS_GOOD, C_NOTE, C_BLANK)
    }
    assert types == {
        C_PLEASE_APPROVE: ("patient_question", True),
        C_TREATMENT_FIRST: ("treatment_update", False),
        C_LOOKS_GOOD: ("doctor_response", False),
        C_NOTE: ("clinical_note", False),
        C_BLANK: ("clinical_note", False),
    }
    note = kept[0][C_NOTE]
    assert (note["sender_id"], note["author_id"], note["priority"]) == (None, None, 1)
    assert note["subject"] == ("Bite open on the left. " + "x" * 60)[:50]
    assert issues[0].reasons("case_messages", C_NOTE) == {"no_message_keyword"}
    approve = kept[0][C_PLEASE_APPROVE]
    assert approve["sender_id"] == approve["author_id"] is not None
    assert approve["author_id"] in profile.values()
    assert approve["metadata"]["legacy"] == {
        "plan_id": PL_CASE,
        "author_id": j.legacy[0]["comments"][C_PLEASE_APPROVE]["author_id"],
        "keyword": "please",
    }
    assert approve["legacy_record_id"] == C_PLEASE_APPROVE
    assert issues[0].reasons("case_messages", C_PLEASE_APPROVE) == set()
    assert (kept[0][C_BLANK]["content"], kept[0][C_BLANK]["subject"]) == ("   ", "   ")
    assert issues[0].reasons("case_messages", C_BLANK) == {"blank_comment", "no_message_keyword"}
    gone_author = kept[0][C_GONE_AUTHOR]
    assert (gone_author["author_id"], gone_author["message_type"]) == (None, "patient_question")
    assert issues[0].reasons("case_messages", C_GONE_AUTHOR) == {"author_missing"}
    for k, reason in (
        (C_GONE_PLAN, "plan_missing"),
        (C_NO_INSTRUCTION, "plan_without_instruction"),
        (C_GONE_INSTRUCTION, "instruction_missing"),
    ):
        assert k not in kept[0], k
        assert k not in kept[2], k
        assert issues[0].reasons("case_messages", k) == {reason}, k
        assert not issues[0].held_back("case_messages", k)  # a warning: no retry, no error
    # the delta run applies the edit; the deletion is reported and the row kept
    assert kept[0][C_EDITED]["message_type"] == "clinical_note"
    edited = kept[1][C_EDITED]
    assert (edited["id"], edited["content"], edited["message_type"]) == (
        kept[0][C_EDITED]["id"],
        "Treatment to continue?",
        "treatment_update",
    )
    assert edited["requires_response"] is False
    assert issues[1].reasons("case_messages", C_EDITED) == set()
    assert kept[1][C_DELETED] == kept[0][C_DELETED]
    assert kept[2][C_DELETED]["id"] == kept[0][C_DELETED]["id"]
    assert issues[1].reasons("case_messages", C_DELETED) == {"deleted_in_source"}


def test_deleted_earlier_comment_is_reported_and_its_rows_kept(journey: Journey) -> None:
    """An earlier scripts' comment deleted in the source: its rows stay (no soft-delete
    column), the deletion is reported, with its second copies until the reconcile deletes
    them; the kept row stays after."""
    j = journey
    gone = min(j.earlier)
    assert gone not in j.legacy[1]["comments"]
    ids = [{r["id"] for r in rows if r[KEY] == gone} for rows in j.rows]
    assert ids[0] == ids[1] == set(j.copies[gone])
    assert ids[2] == {j.earlier[gone]}
    assert "deleted_in_source" in j.issues[1].reasons("case_messages", gone)
    if len(j.copies[gone]) > 1:
        assert "duplicate_target_rows" in j.issues[1].reasons("case_messages", gone)


def test_earlier_copies_reported_then_deleted_on_reconcile(journey: Journey) -> None:
    """The earlier scripts copied each comment reaching a case about twice: the first runs
    maintain the oldest copy of each key and report the others by id; the reconcile run deletes
    them and keeps the oldest, whose id never changes."""
    j = journey
    duplicated = {k for k, ids in j.copies.items() if len(ids) > 1}
    assert len(duplicated) > len(j.copies) / 2  # about twice
    assert set(j.duplicates) == {str(k) for k in duplicated}
    for k in duplicated:
        detail = j.duplicates[str(k)]
        assert f"kept the oldest, {j.copies[k][0]}" in detail, detail
        assert all(str(other) in detail for other in j.copies[k][1:]), detail
    for i in (0, 1):
        counts = Counter(r[KEY] for r in j.rows[i])
        assert all(counts[k] == len(ids) for k, ids in j.copies.items()), i
    after = Counter(r[KEY] for r in j.rows[2] if r[KEY] is not None)
    assert not [k for k, n in after.items() if n > 1]
    still = [
        k for k in duplicated if "duplicate_target_rows" in j.issues[2].reasons("case_messages", k)
    ]
    assert not still, still[:5]


def test_every_uuid_issued_is_kept(journey: Journey) -> None:
    """The earlier scripts' kept UUIDs and diffmig's own stay across the three runs."""
    j = journey
    kept = [{k: r["id"] for k, r in by_oldest(rows, KEY).items()} for rows in j.rows]
    changed = [(k, v) for k, v in j.earlier.items() if kept[0].get(k) != v]
    for before, after in zip(kept, kept[1:], strict=False):
        changed += [(k, v) for k, v in before.items() if after.get(k) != v]
    assert not changed, changed[:5]
    assert {C_PLEASE_APPROVE, C_EDITED} <= set(kept[0])


def test_migration_mappings_map_each_key_to_its_kept_row(journey: Journey) -> None:
    """migration_mappings (entity type case_message) maps every key with a row to its kept
    (oldest) row, never to a second copy, from the first run on."""
    j = journey
    for i, rows in enumerate(j.rows):
        kept = {k: r["id"] for k, r in by_oldest(rows, KEY).items()}
        wrong = [(k, v, j.mappings[i].get(k)) for k, v in kept.items() if j.mappings[i].get(k) != v]
        assert not wrong, (i, wrong[:5])
