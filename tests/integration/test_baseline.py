"""`diffmig baseline`'s counts are those of a key-by-key comparison of both databases.

The destination here is as the earlier scripts left it (partial coverage, orphans, junk), plus
damage planted for the test: target rows whose legacy keys are above and below every source
key, and the source keys they had, now without their target rows; a second target row with the
same orphaned key (its unique constraint dropped): orphans are counted as rows; the earlier
scripts' data already has target keys inside the source's gaps. The
expected counts are computed in Python from every key of both sides.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from psycopg import sql

from orchestrator.baseline import run_baseline
from orchestrator.errors import ConfigError
from orchestrator.marts import EntitySpec, entity_specs
from orchestrator.settings import load_settings
from tests.conftest import DbPair


def expected_gaps(dbs: DbPair, spec: EntitySpec) -> tuple[int, int, int]:
    """(source rows in scope, missing in target, orphaned in target), key by key."""
    legacy_table, legacy_key = spec.legacy_table, spec.legacy_key
    assert legacy_table
    assert legacy_key
    scope = spec.scope or "true"
    with dbs.legacy_app() as conn:
        rows = conn.execute(
            sql.SQL("select {k}::bigint, coalesce(({scope}), false) from {t}").format(
                k=sql.Identifier(spec.source_key),
                scope=sql.SQL(scope),
                t=sql.Identifier("public", legacy_table),
            )
        ).fetchall()
    every = {int(k) for k, _ in rows}
    in_scope = {int(k) for k, s in rows if s}
    with dbs.target_tool() as conn:
        targets = [
            int(r[0])
            for r in conn.execute(
                sql.SQL("select {k} from {t} where {k} is not null").format(
                    k=sql.Identifier(legacy_key),
                    t=sql.Identifier("public", spec.entity),
                )
            )
        ]
    present = set(targets)
    return (
        len(in_scope),
        len(in_scope - present),
        sum(1 for k in targets if k not in every),
    )


def test_counts_are_those_of_every_key(db_pair: DbPair) -> None:
    settings = load_settings(environ=db_pair.env(), cwd=Path("/nonexistent"))
    specs = [
        s
        for s in entity_specs()
        if re.fullmatch(r"\w+", s.legacy_table or "") and re.fullmatch(r"\w+", s.legacy_key or "")
    ]
    assert len(specs) >= 10
    # The target row of the lowest office now claims the legacy key after the source's highest,
    # which the source has never had: an orphan, and that office is missing.
    with db_pair.legacy_app() as conn:
        (highest,) = conn.execute("select max(id) from public.dispatch_office").fetchone() or (0,)
    with db_pair.target_admin() as conn:
        (lowest,) = conn.execute("select min(legacy_office_id) from public.offices").fetchone() or (
            None,
        )
        assert lowest is not None
        conn.execute(
            "update public.offices set legacy_office_id = %s where legacy_office_id = %s",
            (highest + 1, lowest),
        )
        # A target table without a unique legacy key may hold a key twice: orphaned rows are
        # rows, so that orphan counts twice.
        conn.execute("alter table public.offices drop constraint offices_legacy_office_id_key")
        conn.execute(
            "create temp table twin as select * from public.offices where legacy_office_id = %s",
            (highest + 1,),
        )
        conn.execute("update pg_temp.twin set id = gen_random_uuid()")
        conn.execute("insert into public.offices select * from pg_temp.twin")
        # And one below the source's lowest key (the earlier scripts' data already has target
        # keys inside the source's gaps: rows deleted in the legacy app).
        conn.execute(
            "update public.offices set legacy_office_id = -5 "
            "where legacy_office_id = (select max(legacy_office_id) from public.offices "
            "where legacy_office_id <= %s)",
            (highest,),
        )

    expected = {s.entity: expected_gaps(db_pair, s) for s in specs}
    assert expected["offices"][1] >= 2
    assert expected["offices"][2] >= 3
    report = {e["entity"]: e for e in run_baseline(settings)["entities"]}
    found = {
        entity: (
            report[entity]["source_rows"],
            report[entity]["missing_in_target"],
            report[entity]["orphaned_in_target"],
        )
        for entity in expected
    }
    assert found == expected


def test_a_key_column_gone_from_the_source_is_named(db_pair: DbPair) -> None:
    settings = load_settings(environ=db_pair.env(), cwd=Path("/nonexistent"))
    with db_pair.legacy_admin() as conn:
        conn.execute("alter table public.dispatch_office rename column id to office_id")
    with pytest.raises(ConfigError) as caught:
        run_baseline(settings)
    message = str(caught.value)
    assert "baseline of offices" in message
    assert "dispatch_office.id" in message
    assert "offices.legacy_office_id" in message
    assert "does not exist" in message
    assert "schema diff" in (caught.value.hint or "")
