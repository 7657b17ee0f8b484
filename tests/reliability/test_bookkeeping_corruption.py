"""Scenario 6, corrupted bookkeeping: public.migration_mappings with deleted, duplicated,
swapped and junk rows (and a mapping that offers an existing row's UUID to a new legacy key);
diffmig's own checkpoints and watermarks deleted between two runs and, from another connection,
during a run. `mappings check` finds every planted case, `repair --apply` restores the mapping,
and no run ever changes a UUID already issued (the target ids are fingerprinted before and
after every step).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from orchestrator.mappings import check_mappings, repair_mappings
from orchestrator.runner import MigrationRun
from orchestrator.sandbox import build
from orchestrator.settings import Settings, load_settings
from tests.conftest import TEST_SCALE, TEST_SEED, ClusterPair, DbPair, make_db_pair
from tests.reliability.conftest import RecordFigures

pytestmark = pytest.mark.db

ENTITIES = ["offices", "profiles"]
TYPES = {"office": ("offices", "legacy_office_id"), "profile": ("profiles", "legacy_user_id")}

Fingerprint = dict[tuple[str, int], str]


@dataclass
class Books:
    dbs: DbPair
    settings: Settings
    cwd: Path
    figures: dict[str, float]

    def run(self, label: str, mode: str = "delta", entities: list[str] = ENTITIES) -> str:
        started = time.monotonic()
        outcome = MigrationRun(self.settings, mode=mode, entities=entities).execute()
        self.figures[f"run_{label}_s"] = round(time.monotonic() - started, 1)
        failed = [(e.entity, e.detail) for e in outcome.entities if e.status == "failed"]
        assert not failed, failed
        return outcome.status

    def fingerprint(self) -> Fingerprint:
        out: Fingerprint = {}
        with self.dbs.target_admin() as conn:
            for table, key in TYPES.values():
                for legacy, target_id in conn.execute(
                    f"select {key}, id::text from public.{table} "  # noqa: S608
                    f"where {key} is not null"
                ):
                    out[(table, int(legacy))] = str(target_id)
        return out


def assert_no_uuid_changed(before: Fingerprint, after: Fingerprint, step: str) -> None:
    changed = {k: (v, after.get(k)) for k, v in before.items() if after.get(k) != v}
    assert not changed, f"{step}: issued UUIDs changed or vanished: {list(changed.items())[:10]}"


@pytest.fixture(scope="module")
def books(clusters: ClusterPair, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Books]:
    dbs = make_db_pair(clusters)
    settings = load_settings(environ=dbs.env(), cwd=Path("/nonexistent"))
    b = Books(dbs, settings, tmp_path_factory.mktemp("books_cwd"), {})
    b.run("first")
    # The earlier scripts' mappings set right first (what `mappings repair` is for): from here,
    # every problem `check` finds is one this test planted.
    repair_mappings(settings, apply=True, entities=list(TYPES))
    assert check_mappings(settings, entities=list(TYPES)).violations == 0
    yield b
    build.drop_database(clusters.legacy, dbs.legacy_db)
    build.drop_database(clusters.target, dbs.target_db)


def _keys(conn: psycopg.Connection, entity_type: str, n: int, offset: int) -> list[tuple[int, str]]:
    table, key = TYPES[entity_type]
    return [
        (int(k), str(i))
        for k, i in conn.execute(
            "select m.legacy_id, m.new_id::text from public.migration_mappings m "  # noqa: S608
            f"join public.{table} t on t.id = m.new_id and t.{key} = m.legacy_id "
            "where m.entity_type = %s order by m.legacy_id limit %s offset %s",
            (entity_type, n, offset),
        )
    ]


def test_mapping_corruption_is_found_repaired_and_never_moves_a_uuid(
    books: Books, record_figures: RecordFigures
) -> None:
    before = books.fingerprint()
    with books.dbs.legacy_admin() as src:
        # A new legacy office, not yet migrated: the corrupted mappings will offer it the UUID
        # of an existing office.
        new_office = src.execute(
            "insert into dispatch_office (name, address, apt, city, state, zip, phone, tax_rate, "
            "valid, emails) values ('Lure Office', '', '', '', '', '', '', 0.1, true, true) "
            "returning id"
        ).fetchone()
        assert new_office is not None
    new_key = int(new_office[0])
    with books.dbs.target_admin() as conn:
        offices = _keys(conn, "office", 8, 0)
        profiles = _keys(conn, "profile", 6, 0)
        assert len(offices) == 8, offices
        assert len(profiles) == 6, profiles
        deleted = [offices[0][0]]
        deleted_profiles = [k for k, _ in profiles[2:4]]
        (a, ida), (b, idb) = offices[1], offices[2]
        dup_key, _ = offices[3]
        dangling_key, _ = offices[5]
        lure_uuid = offices[6][1]
        conn.execute(
            "delete from public.migration_mappings where (entity_type = 'office' "
            "and legacy_id = any(%s)) or (entity_type = 'profile' and legacy_id = any(%s))",
            (deleted, deleted_profiles),
        )
        # Swapped UUIDs.
        conn.execute(
            "update public.migration_mappings set new_id = case legacy_id when %s then %s::uuid "
            "else %s::uuid end where entity_type = 'office' and legacy_id in (%s, %s)",
            (a, idb, ida, a, b),
        )
        # Duplicated: office dup_key's mapping holds office offices[4]'s UUID too.
        conn.execute(
            "update public.migration_mappings set new_id = %s::uuid "
            "where entity_type = 'office' and legacy_id = %s",
            (offices[4][1], dup_key),
        )
        # Dangling: a UUID that is no row.
        conn.execute(
            "update public.migration_mappings set new_id = %s::uuid "
            "where entity_type = 'office' and legacy_id = %s",
            (str(uuid.uuid4()), dangling_key),
        )
        # The lure: the not yet migrated office is mapped to an existing office's UUID.
        conn.execute(
            "insert into public.migration_mappings (entity_type, legacy_id, new_id, migrated_at, "
            "migration_batch) values ('office', %s, %s::uuid, now(), 'corrupt')",
            (new_key, lure_uuid),
        )
        # Junk: negative legacy ids, placeholder UUIDs, a NULL new_id.
        conn.execute(
            "insert into public.migration_mappings (entity_type, legacy_id, new_id, migrated_at, "
            "migration_batch) values "
            "('office', -7, '00000000-0000-0000-0000-000000000000', now(), 'junk'), "
            "('office', -5, %s::uuid, now(), 'junk'), "
            "('profile', 987654321, '11111111-1111-1111-1111-111111111111', now(), 'junk'), "
            "('profile', 987654322, null, now(), 'junk')",
            (profiles[0][1],),
        )
        # A profile mapping swapped with an office's UUID (cross-type).
        conn.execute(
            "update public.migration_mappings set new_id = %s::uuid "
            "where entity_type = 'profile' and legacy_id = %s",
            (offices[7][1], profiles[1][0]),
        )

    started = time.monotonic()
    report = check_mappings(books.settings, entities=list(TYPES))
    check_s = time.monotonic() - started

    def keys(problem: str, entity_type: str) -> set[int]:
        return {
            k
            for f in report.findings
            if f.kind == problem and f.entity_type == entity_type
            for k in f.keys
        }

    assert set(deleted) <= keys("missing_mapping", "office")
    assert set(deleted_profiles) <= keys("missing_mapping", "profile")
    assert {a, b} <= keys("new_id_of_another_row", "office")
    assert dup_key in keys("new_id_of_another_row", "office") | keys("duplicate_new_id", "office")
    assert dangling_key in keys("dangling", "office")
    assert new_key in keys("new_id_of_another_row", "office") | keys("duplicate_new_id", "office")
    assert {-7, -5} <= keys("junk", "office")
    assert {987654321, 987654322} <= keys("junk", "profile")
    assert profiles[1][0] in keys("new_id_of_another_row", "profile") | keys("dangling", "profile")
    assert report.violations > 0

    # A run on the corrupted mappings: nothing issued moves, the lured key gets its own UUID.
    books.run("on_corrupt_mappings")
    after = books.fingerprint()
    assert_no_uuid_changed(before, after, "run on corrupted mappings")
    lured = after.get(("offices", new_key))
    assert lured is None or lured != lure_uuid, "a new key took an existing row's UUID"
    with books.dbs.target_admin() as conn:
        owner = conn.execute(
            "select legacy_office_id from public.offices where id = %s", (lure_uuid,)
        ).fetchone()
    assert owner is not None
    assert int(owner[0]) == offices[6][0]

    started = time.monotonic()
    repaired = repair_mappings(books.settings, apply=True, entities=list(TYPES), delete_junk=True)
    repair_s = time.monotonic() - started
    clean = check_mappings(books.settings, entities=list(TYPES))
    assert clean.violations == 0, [f.as_dict("problem") for f in clean.failing]
    assert clean.count("junk") == 0
    assert_no_uuid_changed(before, books.fingerprint(), "repair")
    with books.dbs.target_admin() as conn:
        wrong = conn.execute(
            "select count(*) from public.offices o left join public.migration_mappings m "
            "on m.entity_type = 'office' and m.legacy_id = o.legacy_office_id "
            "where o.legacy_office_id is not null and m.new_id is distinct from o.id"
        ).fetchone()
    assert wrong is not None
    assert wrong[0] == 0
    books.run("after_repair")
    assert_no_uuid_changed(before, books.fingerprint(), "run after repair")
    record_figures(
        "mappings",
        {
            "planted": {
                "deleted": len(deleted) + len(deleted_profiles), "swapped": 2, "duplicated": 1, "dangling": 1,
                "lure": 1, "junk": 4, "cross_type": 1,
            },
            "check_violations": report.violations,
            "check_junk": report.count("junk"),
            "check_s": round(check_s, 2),
            "repair_actions": {k: repaired.count(k) for k in ("fix", "delete", "add", "delete_junk")},
            "repair_s": round(repair_s, 2),
            "uuids_fingerprinted": len(before),
            "scale": TEST_SCALE,
            "uuids_changed": 0,
            **books.figures,
        },
    )  # fmt: skip


def test_checkpoints_and_watermarks_deleted_never_move_a_uuid(
    books: Books, record_figures: RecordFigures
) -> None:
    before = books.fingerprint()
    build.simulate_activity(books.dbs.pair, books.dbs.legacy_db, days=3, seed=TEST_SEED + 1)

    # Between two runs: the checkpoints and the watermarks are gone.
    with books.dbs.target_admin() as conn:
        gone = conn.execute("delete from diffmig.checkpoints").rowcount
        gone += conn.execute("delete from diffmig.entity_watermarks").rowcount
    assert gone > 0
    books.run("after_books_deleted")
    after = books.fingerprint()
    assert_no_uuid_changed(before, after, "run after checkpoints and watermarks were deleted")

    # During a run: another connection keeps deleting them until the run ends.
    stop = threading.Event()
    deletions = [0]

    def vandal() -> None:
        with books.dbs.target_admin() as conn:
            conn.autocommit = True
            while not stop.is_set():
                deletions[0] += conn.execute("delete from diffmig.checkpoints").rowcount
                deletions[0] += conn.execute("delete from diffmig.entity_watermarks").rowcount
                time.sleep(0.05)

    thread = threading.Thread(target=vandal, daemon=True)
    thread.start()
    started = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "orchestrator", "run", "--mode", "full",
             "--entities", "offices"],
            env={**os.environ, **books.dbs.env()},
            cwd=books.cwd, capture_output=True, text=True, check=False, timeout=600,
        )  # fmt: skip
    finally:
        stop.set()
        thread.join(timeout=30)
    during_s = time.monotonic() - started
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    assert_no_uuid_changed(before, books.fingerprint(), "run while its books were deleted")
    books.run("after_vandal", entities=["offices"])
    final = books.fingerprint()
    assert_no_uuid_changed(before, final, "run after the vandalised run")
    assert check_mappings(books.settings, entities=list(TYPES)).count("dangling") == 0
    record_figures(
        "checkpoints",
        {
            "deleted_between_runs": gone,
            "deleted_during_run": deletions[0],
            "run_during_deletions_s": round(during_s, 1),
            "run_during_deletions_exit": proc.returncode,
            "uuids_fingerprinted": len(before),
            "scale": TEST_SCALE,
            "new_keys_since": len(set(final) - set(before)),
            "uuids_changed": 0,
            **books.figures,
        },
    )
