"""A legacy change always reaches the target (issue 22, points 1, 2 and 8; world.md section 6):
drift is what differs on the very first run over the earlier scripts' rows; a source row changed
since it was synced is modified and applied in full, drifted or not; a value derived from a
parent follows the parent; an issue the row no longer has is resolved; an optional reference
whose parent is held back lands null with a warning.

One pair for the module: a first run (no reconcile), legacy changes, a second run, then an app
edit and a full run over one entity; the tests read what the runs leave, in order."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from orchestrator.sandbox import build
from tests.conftest import ClusterPair, DbPair, make_db_pair


@dataclass
class Story:
    dbs: DbPair
    cwd: Path
    # chosen after the first run
    changed_office: int = 0
    unchanged_office: int = 0
    drifted_order: int = 0
    moved_patient: int = 0
    new_office: int = 0
    notes: dict[str, object] = field(default_factory=dict)

    def run(self, *args: str) -> None:
        out = subprocess.run(
            [sys.executable, "-m", "orchestrator", "run", *args],
            env={**os.environ, **self.dbs.env()},
            cwd=self.cwd,
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )
        assert out.returncode in (0, 1), out.stderr[-3000:]

    def open_issue(self, entity: str, key: int, reason: str) -> bool:
        with self.dbs.target_admin() as conn:
            row = conn.execute(
                "select count(*) from diffmig.row_issues where entity = %s and legacy_key = %s "
                "and reason = %s and resolved_at is null",
                (entity, str(key), reason),
            ).fetchone()
        assert row is not None
        return int(row[0]) > 0


def _drifted(dbs: DbPair, entity: str, limit: int) -> list[int]:
    with dbs.target_admin() as conn:
        return [
            int(r[0])
            for r in conn.execute(
                "select legacy_key::int from diffmig.row_issues where entity = %s "
                "and reason = 'drift' and resolved_at is null order by legacy_key::int limit %s",
                (entity, limit),
            )
        ]


@pytest.fixture(scope="module")
def story(clusters: ClusterPair, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    dbs = make_db_pair(clusters)
    s = Story(dbs, tmp_path_factory.mktemp("changes"))
    s.run()
    offices = _drifted(dbs, "offices", 2)
    assert len(offices) == 2, "the earlier scripts left no two drifted offices"
    s.changed_office, s.unchanged_office = offices
    with dbs.target_admin() as conn:
        s.notes["unchanged_before"] = conn.execute(
            "select name, city, phone from public.offices where legacy_office_id = %s",
            (s.unchanged_office,),
        ).fetchone()
    # An order the earlier scripts wrote that drifted, and its patient: the patient moves to
    # another migrated office, which the order's office_id must follow.
    orders = _drifted(dbs, "orders", 50)
    with dbs.legacy_admin() as legacy, dbs.target_admin() as target:
        migrated = {
            int(r[0])
            for r in target.execute(
                "select legacy_office_id from public.offices where legacy_office_id is not null"
            )
        }
        for order in orders:
            row = legacy.execute(
                "select i.patient_id, p.office_id from dispatch_instruction i "
                "join dispatch_patient p on p.id = i.patient_id where i.id = %s",
                (order,),
            ).fetchone()
            if row is None:
                continue
            other = sorted(o for o in migrated if o != row[1] and o != s.changed_office)
            if other:
                s.drifted_order, s.moved_patient, s.new_office = order, int(row[0]), other[0]
                break
        assert s.drifted_order, "no drifted order with a patient found"
        legacy.execute(
            "update dispatch_office set city = coalesce(city, '') || ' North' where id = %s",
            (s.changed_office,),
        )
        legacy.execute(
            "update dispatch_patient set office_id = %s where id = %s",
            (s.new_office, s.moved_patient),
        )
        legacy.commit()
    s.run()
    # The app edits an owned column of a discussion diffmig wrote into the table it filled from
    # empty (no key of it is listed in entity_rows); a full run over the entity restores it.
    with dbs.target_admin() as conn:
        row = conn.execute(
            "update public.treatment_discussions set is_visible_to_patient = true where id = "
            "(select min(id::text)::uuid from public.treatment_discussions) "
            "returning legacy_comment_id"
        ).fetchone()
        conn.commit()
    assert row is not None, "no treatment discussion landed"
    s.notes["edited_discussion"] = int(row[0])
    s.run("--mode", "full", "--entities", "treatment_discussions")
    yield s
    build.drop_database(clusters.legacy, dbs.legacy_db)
    build.drop_database(clusters.target, dbs.target_db)


def test_a_drifted_row_changed_in_the_source_is_applied_and_its_drift_resolved(
    story: Story,
) -> None:
    with story.dbs.legacy_admin() as legacy, story.dbs.target_admin() as target:
        city = legacy.execute(
            "select nullif(regexp_replace(btrim(city), '\\s+', ' ', 'g'), '') "
            "from dispatch_office where id = %s",
            (story.changed_office,),
        ).fetchone()
        landed = target.execute(
            "select city from public.offices where legacy_office_id = %s",
            (story.changed_office,),
        ).fetchone()
    assert city is not None
    assert landed is not None
    assert landed[0] == city[0]
    assert not story.open_issue("offices", story.changed_office, "drift")


def test_an_unchanged_drifted_row_stays_as_it_is_until_reconcile(story: Story) -> None:
    with story.dbs.target_admin() as target:
        now = target.execute(
            "select name, city, phone from public.offices where legacy_office_id = %s",
            (story.unchanged_office,),
        ).fetchone()
    assert now == story.notes["unchanged_before"]
    assert story.open_issue("offices", story.unchanged_office, "drift")


def test_a_value_derived_from_a_changed_parent_is_derived_again(story: Story) -> None:
    with story.dbs.target_admin() as target:
        row = target.execute(
            "select o.office_id = f.id from public.orders o, public.offices f "
            "where o.legacy_instruction_id = %s and f.legacy_office_id = %s",
            (story.drifted_order, story.new_office),
        ).fetchone()
    assert row is not None
    assert row[0], (story.drifted_order, story.new_office)


def test_a_payment_whose_order_is_held_back_lands_with_order_id_null_and_a_warning(
    story: Story,
) -> None:
    """world.md section 5, payments: order by instruction (none -> order_id NULL with a
    warning); order_id is declared an optional reference (payments.yml)."""
    with story.dbs.target_admin() as target:
        held = [
            int(r[0])
            for r in target.execute(
                "select legacy_key::int from diffmig.row_issues where entity = 'payments' "
                "and reason = 'order_not_migrated' and resolved_at is null"
            )
        ]
        errors = target.execute(
            "select count(*) from diffmig.row_issues where entity = 'payments' "
            "and reason = 'order_not_migrated' and severity = 'error' and resolved_at is null"
        ).fetchone()
        landed = {
            int(r[0])
            for r in target.execute(
                "select legacy_payment_id from public.payments where order_id is null "
                "and legacy_payment_id = any(%s)",
                (held,),
            )
        }
    assert errors is not None
    assert errors[0] == 0
    assert held, "no payment whose order is held back in the test data"
    assert landed == set(held)


def test_an_app_table_filled_from_empty_holds_only_diffmigs_rows(story: Story) -> None:
    """ADR 0012: the first run INSERTs into the empty treatment_discussions and records the
    entity as filled by diffmig instead of listing its keys in entity_rows; a row of it the app
    changed is diffmig's, so a full run applies the mapping over it (no drift held back).
    Tables with the earlier scripts' rows, and junctions, are not recorded."""
    with story.dbs.target_admin() as conn:
        filled = {str(r[0]) for r in conn.execute("select entity from diffmig.filled_entities")}
        listed = dict(
            conn.execute(
                "select entity, count(*) from diffmig.entity_rows "
                "where entity in ('treatment_discussions', 'profiles') group by entity"
            ).fetchall()
        )
        landed = conn.execute("select count(*) from public.treatment_discussions").fetchone()
        edited = conn.execute(
            "select is_visible_to_patient from public.treatment_discussions "
            "where legacy_comment_id = %s",
            (story.notes["edited_discussion"],),
        ).fetchone()
        empty_junction = conn.execute(
            "select count(*) from diffmig_staging.dispatch_template_view_groups"
        ).fetchone()
    assert "treatment_discussions" in filled
    assert "profiles" not in filled, "profiles holds the earlier scripts' rows"
    assert empty_junction is not None
    if empty_junction[0]:
        assert "template_view_groups" not in filled, "a junction is never recorded"
    assert landed is not None
    assert landed[0] > 0
    assert "treatment_discussions" not in listed
    assert listed.get("profiles", 0) > 0
    assert edited == (False,)
    assert not story.open_issue("treatment_discussions", story.notes["edited_discussion"], "drift")
