"""`diffmig mappings check` and `repair` on the destination as the earlier scripts left it.

The expected findings are computed here independently, in Python, from the raw tables (no SQL
shared with orchestrator/mappings.py). Two catalogues of entity types are used: the one the
marts' YAML declares (what the CLI reads), and WORLD, every keyed entity of world.md section 2
under the names the mappings use, so that the planted problems of every entity type (doctor,
patient, order, ...) are covered whatever the marts declare today.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from orchestrator.errors import ConfigError
from orchestrator.mappings import (
    VIOLATIONS,
    CheckReport,
    Convention,
    MappedEntity,
    check_mappings,
    conventions,
    mapped_entities,
    repair_mappings,
)
from orchestrator.settings import Settings, load_settings
from tests.conftest import DbPair

WORLD = [
    MappedEntity("office", "offices", "legacy_office_id"),
    MappedEntity("profile", "profiles", "legacy_user_id"),
    MappedEntity("doctor", "doctors", "legacy_user_id"),
    MappedEntity("technician", "technicians", "legacy_user_id"),
    MappedEntity("patient", "patients", "legacy_patient_id"),
    MappedEntity("product", "products", "legacy_product_id"),
    MappedEntity("order", "orders", "legacy_instruction_id"),
    MappedEntity("case", "cases", "legacy_patient_id"),
    MappedEntity("jaw", "jaws", "legacy_jaw_id"),
    MappedEntity("file", "files", "legacy_file_id"),
    MappedEntity("message", "messages", "legacy_record_id"),
    MappedEntity("order_state", "order_states", "legacy_state_id"),
    MappedEntity("payment", "payments", "legacy_payment_id"),
    MappedEntity("system_message", "system_messages", "legacy_record_id"),
]
# The junk rows the earlier scripts left (earlier_migration.sql, section 19).
PLANTED_JUNK = {
    ("doctor_office", 0),
    ("case_file", 0),
    ("order_case", 0),
    ("office", 0),
    ("profile", 0),
    ("order", 0),
}

Found = dict[tuple[str, str], set[int]]  # (entity_type, problem) -> legacy keys


# --- helpers -------------------------------------------------------------------------------------


def diffmig(dbs: DbPair, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        env={**os.environ, **dbs.env()},
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def settings_for(dbs: DbPair) -> Settings:
    return load_settings(environ=dbs.env(), cwd=Path("/nonexistent"))


def is_junk(legacy_id: int | None, new_id: uuid.UUID | None) -> bool:
    return legacy_id is None or legacy_id <= 0 or new_id is None or len(set(new_id.hex)) == 1


@dataclass
class Snapshot:
    """The raw tables, read once: mappings and, per declared type, its table's (id, key)."""

    mappings: dict[tuple[str, int], uuid.UUID | None]
    rows: dict[str, dict[uuid.UUID, int | None]]  # entity_type -> id -> legacy key
    # convention name -> (entity_type, legacy key -> the UUID a mapping following it holds)
    conventions: dict[str, tuple[str, dict[int, uuid.UUID]]] = field(default_factory=dict)


def snapshot(
    dbs: DbPair, catalogue: list[MappedEntity], declared: list[Convention] | None = None
) -> Snapshot:
    with dbs.target_tool() as conn:
        mappings = {
            (str(t), int(k)): u
            for t, k, u in conn.execute(
                "select entity_type, legacy_id, new_id from public.migration_mappings"
            ).fetchall()
        }
        rows = {
            e.entity_type: dict(
                conn.execute(f"select id, {e.key_column} from public.{e.table}").fetchall()  # noqa: S608
            )
            for e in catalogue
        }
        tables = {e.table for e in catalogue}
        conv = {
            c.name: (
                c.entity_type,
                {
                    int(k): u
                    for k, u in conn.execute(
                        f"select {c.key_column}, {c.column} from public.{c.table} "  # noqa: S608
                        f"where {c.key_column} is not null and {c.column} is not null"
                    ).fetchall()
                },
            )
            for c in declared or []
            if c.table in tables
        }
    return Snapshot(mappings, rows, conv)


def expected(snap: Snapshot, catalogue: list[MappedEntity], scoped: bool = False) -> Found:
    """What the check must find, computed row by row."""
    declared = {e.entity_type for e in catalogue}
    convention_types = {etype for etype, _ in snap.conventions.values()}
    found: Found = defaultdict(set)
    in_scope = {
        key: u
        for key, u in snap.mappings.items()
        if not scoped or key[0] in declared | convention_types
    }
    ok: dict[tuple[str, int], bool] = {}
    for (etype, key), new_id in in_scope.items():
        if is_junk(key, new_id):
            found[(etype, "junk")].add(key)
            continue
        # An earlier scripts' convention (the row's profile_id, say): that finding only.
        followed = sorted(
            name
            for name, (conv_type, held) in snap.conventions.items()
            if conv_type == etype and held.get(key) == new_id
        )
        if followed:
            found[(etype, followed[0])].add(key)
            continue
        if etype not in declared:
            found[(etype, "undeclared_entity_type")].add(key)
            continue
        assert new_id is not None
        rows = snap.rows[etype]
        ok[(etype, key)] = rows.get(new_id, -1) == key
        if new_id not in rows:
            found[(etype, "dangling")].add(key)
        elif rows[new_id] != key:
            found[(etype, "new_id_of_another_row")].add(key)
    for etype in declared:
        for key in snap.rows[etype].values():
            if key is None:
                continue
            if (etype, key) not in in_scope or is_junk(key, in_scope[(etype, key)]):
                found[(etype, "missing_mapping")].add(key)
    # The same UUID held by several declared mappings, not all right: the wrong ones.
    holders: dict[uuid.UUID, list[tuple[str, int]]] = defaultdict(list)
    for held in ok:
        holders[in_scope[held]].append(held)  # type: ignore[index]
    for group in holders.values():
        if len(group) > 1 and not all(ok[h] for h in group):
            for etype, key in group:
                if not ok[(etype, key)]:
                    found[(etype, "duplicate_new_id")].add(key)
    # The same key under another entity type, to the same row (a row of a declared table).
    all_ids = {i for etype in declared for i in snap.rows[etype]}
    for (etype, key), right in ok.items():
        new_id = in_scope[(etype, key)]
        if right or new_id not in all_ids:
            continue
        for (other, other_key), other_id in in_scope.items():
            if other != etype and other_key == key and other_id == new_id:
                found[(etype, "duplicate_legacy_key")].add(key)
    return found


def found_in(report: CheckReport) -> Found:
    found: Found = defaultdict(set)
    for f in report.findings:
        assert f.count == len(f.keys)
        found[(f.entity_type, f.kind)] |= set(f.keys)
        assert len(f.samples) == min(20, f.count)
    return found


def found_in_json(doc: dict[str, Any]) -> Found:
    found: Found = defaultdict(set)
    for p in doc["problems"]:
        assert p["count"] == len(p["keys"])
        found[(p["entity_type"], p["problem"])] |= set(p["keys"])
    return found


def assert_same(actual: Found, wanted: Found) -> None:
    actual = {k: v for k, v in actual.items() if v}
    wanted = {k: v for k, v in wanted.items() if v}
    assert sorted(actual) == sorted(wanted)
    for group, keys in wanted.items():
        assert actual[group] == keys, group


def violations(found: Found) -> int:
    return sum(len(keys) for (_, problem), keys in found.items() if problem in VIOLATIONS)


def fingerprints(dbs: DbPair, *, mappings: bool = False) -> dict[str, str | None]:
    """md5 of every row (hence every id) of every app table; the mappings' too if asked."""
    with dbs.target_tool() as conn:
        tables = [
            t
            for (t,) in conn.execute(
                "select c.table_name from information_schema.columns c "
                "join information_schema.tables t using (table_schema, table_name) "
                "where c.table_schema = 'public' and c.column_name = 'id' "
                "and t.table_type = 'BASE TABLE' order by 1"
            ).fetchall()
        ]
        assert {"offices", "profiles", "orders", "system_messages"} <= set(tables)
        out = {
            t: conn.execute(
                f"select md5(string_agg(x::text, ',' order by x.id)) from public.{t} x"  # noqa: S608
            ).fetchone()[0]
            for t in tables
        }
        ids = {
            f"{t} ids": conn.execute(
                f"select md5(string_agg(id::text, ',' order by id)) from public.{t}"  # noqa: S608
            ).fetchone()[0]
            for t in tables
        }
        out.update(ids)
        if mappings:
            out["migration_mappings"] = conn.execute(
                "select md5(string_agg(m::text, ',' order by entity_type, legacy_id)) "
                "from public.migration_mappings m"
            ).fetchone()[0]
    return out


def ok_mappings(dbs: DbPair, entity: MappedEntity, n: int) -> list[tuple[int, uuid.UUID]]:
    """n (legacy_id, new_id) mappings of a type that are right, lowest keys first."""
    with dbs.target_tool() as conn:
        rows = conn.execute(
            f"select m.legacy_id, m.new_id from public.migration_mappings m "  # noqa: S608
            f"join public.{entity.table} t on t.id = m.new_id "
            f"and t.{entity.key_column} = m.legacy_id "
            "where m.entity_type = %s and m.legacy_id > 0 "
            "and not exists (select 1 from public.migration_mappings o "
            "where o.new_id = m.new_id and o.entity_type <> m.entity_type) "
            "order by m.legacy_id limit %s",
            (entity.entity_type, n),
        ).fetchall()
    assert len(rows) == n, f"fewer than {n} good {entity.entity_type} mappings"
    return [(int(k), u) for k, u in rows]


# --- check ---------------------------------------------------------------------------------------


def test_check_finds_the_planted_problems(db_pair: DbPair) -> None:
    report = check_mappings(settings_for(db_pair), declared=WORLD)
    wanted = expected(snapshot(db_pair, WORLD), WORLD)
    assert_same(found_in(report), wanted)

    # What the earlier scripts are known to have left (world.md section 7):
    junk = {(e, k) for (e, p), keys in wanted.items() if p == "junk" for k in keys}
    assert junk >= PLANTED_JUNK
    assert report.count("dangling", "doctor") > 0  # August rows of re-imported doctors
    assert report.count("dangling", "patient") > 0  # August 'patient' rows hold profile UUIDs
    assert report.count("duplicate_legacy_key", "patient") > 0  # ... as 'patient_profile' does
    assert report.count("dangling", "order") >= 1  # a differential order whose insert failed
    for etype in ("technician", "product", "case", "jaw", "file", "payment", "system_message"):
        assert report.count("missing_mapping", etype) > 0, etype  # never mapped by the scripts
    assert report.count("missing_mapping", "order") > 0  # only cohort B2 was mapped
    assert report.count("undeclared_entity_type", "patient_profile") > 0
    assert report.violations == violations(wanted) > 0
    doc = report.as_dict()
    assert doc["clean"] is False
    assert doc["totals"]["junk"] == len(junk)


def test_check_cli_reads_the_marts_declarations(db_pair: DbPair, tmp_path: Path) -> None:
    declared = mapped_entities()
    assert MappedEntity("office", "offices", "legacy_office_id") in declared
    wanted = expected(snapshot(db_pair, declared, conventions()), declared)
    # The earlier scripts' conventions (adr-0010) are their own findings, one per row, and no
    # violation: the August 'patient' rows (the profile's UUID) and the patient_profile rows.
    assert wanted[("patient", "patient_maps_to_profile")]
    assert wanted[("patient_profile", "patient_profile_type")]
    assert not wanted[("patient", "dangling")]
    assert not wanted[("patient", "duplicate_legacy_key")]
    assert not wanted[("patient_profile", "undeclared_entity_type")]

    out = diffmig(db_pair, tmp_path, "mappings", "check", "--output", "json")
    assert out.returncode == (1 if violations(wanted) else 0), out.stderr
    doc = json.loads(out.stdout)
    assert_same(found_in_json(doc), wanted)
    assert sorted(e["entity_type"] for e in doc["entity_types"]) == sorted(
        e.entity_type for e in declared
    )

    # Junk alone does not fail the check, unless asked; the table output names the keys.
    office = diffmig(db_pair, tmp_path, "mappings", "check", "--entities", "offices")
    offices = [e for e in declared if e.entity_type == "office"]
    office_wanted = expected(snapshot(db_pair, offices), offices, scoped=True)
    assert office.returncode == (1 if violations(office_wanted) else 0), office.stderr
    assert "junk" in office.stdout
    assert "placeholder uuid" in office.stdout or "legacy_id missing" in office.stdout
    strict = diffmig(
        db_pair, tmp_path, "mappings", "check", "--entities", "office", "--fail-on-junk"
    )
    assert strict.returncode == 1
    assert "junk" in strict.stderr

    unknown = diffmig(db_pair, tmp_path, "mappings", "check", "--entities", "nonsense")
    assert unknown.returncode == 3
    assert "nonsense" in unknown.stderr


def test_check_finds_each_kind_of_damage(db_pair: DbPair, tmp_path: Path) -> None:
    profile = WORLD[1]
    (a_key, a_id), (b_key, b_id), (c_key, _), (d_key, d_id), (e_key, _), (f_key, _) = ok_mappings(
        db_pair, profile, 6
    )
    with db_pair.target_tool() as conn:
        max_user = conn.execute("select max(legacy_user_id) from public.profiles").fetchone()[0]
        stray = max_user + 1000
        # deleted: C has a profile and no mapping any more
        conn.execute(
            "delete from public.migration_mappings where entity_type = 'profile' "
            "and legacy_id = %s",
            (c_key,),
        )
        # swapped: A and B hold each other's UUID
        for key, new_id in ((a_key, b_id), (b_key, a_id)):
            conn.execute(
                "update public.migration_mappings set new_id = %s "
                "where entity_type = 'profile' and legacy_id = %s",
                (new_id, key),
            )
        # duplicated: a stray key (no profile) holds D's UUID
        conn.execute(
            "insert into public.migration_mappings values ('profile', %s, %s, now(), 'test')",
            (stray, d_id),
        )
        # dangling: E holds a UUID that is no row
        conn.execute(
            "update public.migration_mappings set new_id = gen_random_uuid() "
            "where entity_type = 'profile' and legacy_id = %s",
            (e_key,),
        )
        # junk: a negative key, a placeholder UUID, and F's row with its UUID gone
        conn.execute(
            "insert into public.migration_mappings values "
            "('profile', -7, gen_random_uuid(), now(), 'test'), "
            "('profile', %s, '22222222-2222-2222-2222-222222222222', now(), 'test')",
            (stray + 1,),
        )
        conn.execute(
            "update public.migration_mappings set new_id = null "
            "where entity_type = 'profile' and legacy_id = %s",
            (f_key,),
        )

    report = check_mappings(settings_for(db_pair), declared=WORLD)
    found = found_in(report)
    assert_same(found, expected(snapshot(db_pair, WORLD), WORLD))
    assert c_key in found[("profile", "missing_mapping")]
    assert {a_key, b_key} <= found[("profile", "new_id_of_another_row")]
    assert stray in found[("profile", "new_id_of_another_row")]
    assert stray in found[("profile", "duplicate_new_id")]
    assert d_key not in found[("profile", "duplicate_new_id")]  # D is the right holder
    assert e_key in found[("profile", "dangling")]
    assert {-7, stray + 1, f_key} <= found[("profile", "junk")]
    assert f_key in found[("profile", "missing_mapping")]  # only a junk mapping is left
    details = {
        (f.kind, s["legacy_id"]): s["detail"]
        for f in report.findings
        if f.entity_type == "profile"
        for s in f.samples
    }
    assert f"it belongs to profile {d_key}" in details[("duplicate_new_id", stray)]
    assert "no row of profiles has this id" in details[("dangling", e_key)]
    assert details[("junk", f_key)] == "new_id missing"
    assert details[("junk", stray + 1)] == "placeholder uuid"

    # The same damage on offices, seen through the CLI (offices.yml declares 'office').
    (oa_key, oa_id), (ob_key, ob_id) = ok_mappings(db_pair, WORLD[0], 2)
    with db_pair.target_tool() as conn:
        for key, new_id in ((oa_key, ob_id), (ob_key, oa_id)):
            conn.execute(
                "update public.migration_mappings set new_id = %s "
                "where entity_type = 'office' and legacy_id = %s",
                (new_id, key),
            )
    out = diffmig(db_pair, tmp_path, "mappings", "check", "--entities", "office", "-o", "json")
    assert out.returncode == 1, out.stderr
    doc = json.loads(out.stdout)
    swapped = found_in_json(doc)[("office", "new_id_of_another_row")]
    assert {oa_key, ob_key} <= swapped
    assert "new_id_of_another_row" in out.stderr


# --- repair --------------------------------------------------------------------------------------


def test_repair_rebuilds_the_mappings_from_the_target(db_pair: DbPair, tmp_path: Path) -> None:
    settings = settings_for(db_pair)
    before = fingerprints(db_pair, mappings=True)
    wanted = expected(snapshot(db_pair, WORLD), WORLD)

    # Dry runs change nothing.
    plan = repair_mappings(settings, declared=WORLD)
    dry = diffmig(db_pair, tmp_path, "mappings", "repair", "--delete-junk", "-o", "json")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["applied"] is False
    assert fingerprints(db_pair, mappings=True) == before
    assert plan.applied is False
    assert plan.rows_changed == {}
    # Every target row without a non-junk mapping is added or fixed; every wrong mapping is fixed
    # or deleted.
    missing = sum(len(k) for (_, p), k in wanted.items() if p == "missing_mapping")
    wrong = sum(
        len(k) for (_, p), k in wanted.items() if p in ("dangling", "new_id_of_another_row")
    )
    snap = snapshot(db_pair, WORLD)
    junk_at_rows = sum(
        1
        for (etype, key), new_id in snap.mappings.items()
        if is_junk(key, new_id) and etype in snap.rows and key in set(snap.rows[etype].values())
    )
    assert plan.count("add") + junk_at_rows == missing
    assert plan.count("fix") + plan.count("delete") == wrong + junk_at_rows
    assert plan.junk_kept == sum(len(k) for (_, p), k in wanted.items() if p == "junk")

    # Applied: clean except junk; the app tables untouched.
    applied = repair_mappings(settings, declared=WORLD, apply=True)
    assert applied.rows_changed == {
        "deleted": applied.count("delete"),
        "fixed": applied.count("fix"),
        "added": applied.count("add"),
    }
    after = check_mappings(settings, declared=WORLD)
    assert after.violations == 0, [(f.entity_type, f.kind, f.keys[:5]) for f in after.failing]
    assert after.count("junk") == plan.junk_kept > 0
    assert_same(found_in(after), expected(snapshot(db_pair, WORLD), WORLD))
    now = fingerprints(db_pair)
    assert now == {k: v for k, v in before.items() if k != "migration_mappings"}
    with db_pair.target_tool() as conn:
        batches = {
            b
            for (b,) in conn.execute(
                "select distinct migration_batch from public.migration_mappings "
                "where migration_batch like 'diffmig-repair-%'"
            ).fetchall()
        }
    assert batches == {applied.batch}

    # A second repair has nothing left to do but the junk.
    again = repair_mappings(settings, declared=WORLD)
    assert again.findings == []
    assert again.junk_kept == plan.junk_kept

    # --delete-junk through the CLI: fully clean (the undeclared types' rows stay, unjudged).
    out = diffmig(db_pair, tmp_path, "mappings", "repair", "--apply", "--delete-junk", "-o", "json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["applied"] is True
    assert doc["totals"]["delete_junk"] == plan.junk_kept
    clean = check_mappings(settings, declared=WORLD)
    assert clean.violations == 0
    assert clean.count("junk") == 0
    assert clean.as_dict()["clean"] is True
    assert {f.kind for f in clean.findings} <= {"undeclared_entity_type"}
    check = diffmig(db_pair, tmp_path, "mappings", "check")
    assert check.returncode == 0, check.stderr
    assert fingerprints(db_pair) == {k: v for k, v in before.items() if k != "migration_mappings"}


def test_repair_takes_the_target_row_as_the_truth(db_pair: DbPair) -> None:
    """A mapping whose new_id disagrees with the row carrying its key gets the row's UUID; a
    mapping whose key has no row is deleted; nothing else moves."""
    order = next(e for e in WORLD if e.entity_type == "order")
    with db_pair.target_tool() as conn:
        key, row_id = conn.execute(
            "select legacy_instruction_id, id from public.orders "
            "order by legacy_instruction_id limit 1"
        ).fetchone()
        conn.execute(
            "insert into public.migration_mappings values ('order', %s, gen_random_uuid(), "
            "now(), 'test') on conflict (entity_type, legacy_id) do update "
            "set new_id = excluded.new_id",
            (key,),
        )
        gone = conn.execute("select max(legacy_instruction_id) + 10 from public.orders").fetchone()[
            0
        ]
        conn.execute(
            "insert into public.migration_mappings values ('order', %s, %s, now(), 'test')",
            (gone, row_id),
        )
    settings = settings_for(db_pair)
    repair_mappings(settings, declared=[order], entities=["order"], apply=True)
    with db_pair.target_tool() as conn:
        mapped = dict(
            conn.execute(
                "select legacy_id, new_id from public.migration_mappings where entity_type = 'order'"
            ).fetchall()
        )
        orders = dict(
            conn.execute(
                "select legacy_instruction_id, id from public.orders "
                "where legacy_instruction_id is not null"
            ).fetchall()
        )
        junk = conn.execute(
            "select count(*) from public.migration_mappings where entity_type = 'order' "
            "and legacy_id <= 0"
        ).fetchone()[0]
    assert mapped[key] == row_id
    assert gone not in mapped
    assert {k: v for k, v in mapped.items() if k > 0} == orders
    assert junk == 1  # kept without --delete-junk
    # Scoped to 'order': the other types' problems are still there.
    other = check_mappings(settings, declared=WORLD, entities=["doctor"])
    assert other.count("dangling", "doctor") > 0


def test_repair_refuses_an_unknown_entity(db_pair: DbPair) -> None:
    with pytest.raises(ConfigError, match="nonsense"):
        repair_mappings(settings_for(db_pair), declared=WORLD, entities=["nonsense"])


def test_repair_keeps_the_earlier_scripts_conventions_unless_asked(
    db_pair: DbPair, tmp_path: Path
) -> None:
    settings = settings_for(db_pair)
    before = check_mappings(settings)
    convention_keys = set(
        next(f.keys for f in before.findings if f.kind == "patient_maps_to_profile")
    )
    assert convention_keys
    assert before.count("patient_profile_type", "patient_profile") > 0
    assert not [f for f in before.failing if f.entity_type in ("patient", "patient_profile")]

    # By default a repair leaves them as they are.
    plan = repair_mappings(settings)
    assert (
        not set(k for f in plan.findings if f.entity_type == "patient" for k in f.keys)
        & convention_keys
    )
    assert plan.conventions_kept == before.count("patient_maps_to_profile") + before.count(
        "patient_profile_type"
    )

    # Asked, the declared type's rows get the UUID of the row carrying their key; the
    # patient_profile rows (a type no mart declares) hold what their name says and stay.
    out = diffmig(
        db_pair, tmp_path, "mappings", "repair", "--rewrite-conventions", "--apply", "-o", "json"
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    fixed = {
        k
        for a in doc["actions"]
        if a["entity_type"] == "patient" and a["action"] == "fix"
        for k in a["keys"]
    }
    assert fixed == convention_keys
    after = check_mappings(settings)
    assert after.count("patient_maps_to_profile") == 0
    assert after.count("patient_profile_type") == before.count("patient_profile_type")
    assert after.violations == 0, [(f.entity_type, f.kind, f.keys[:5]) for f in after.failing]
