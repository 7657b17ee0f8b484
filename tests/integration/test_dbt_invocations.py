"""What each dbt invocation of a run costs, and that the savings change no result.

A delta run builds 19 entities, about 540 dbt nodes, most of them unchanged views and tests of a
few milliseconds: dbt's own cost per node and per invocation was most of it. This scenario pins
what cuts it (orchestrator/dbt_runner.py, macros/materializations/):

- a view or seed that is unchanged is left as it is (the same object, the same rows), and one
  that changed, was dropped, was edited by hand or is built with --full-refresh is built again;
- one connection serves every node of an invocation instead of a new one per node, and a node
  that fails leaves it usable for the next;
- the manifest's graph is linked once, not once per invocation (every build of this module
  after the first relies on it).
"""

from __future__ import annotations

from pathlib import Path

from orchestrator.dbt_runner import BuildResult, DbtProject
from tests.conftest import DbPair
from tests.integration.test_dbt_tests import closing_dbt_logs, statuses, sync

OFFICES = ["+offices"]


def view_oids(dbs: DbPair) -> dict[str, int]:
    with dbs.target_tool() as conn:
        return {
            f"{schema}.{name}": oid
            for schema, name, oid in conn.execute(
                "select n.nspname, c.relname, c.oid::bigint from pg_class c "
                "join pg_namespace n on n.oid = c.relnamespace "
                "where c.relkind = 'v' and n.nspname in ('diffmig_stg', 'diffmig_int')"
            )
        }


def seed_versions(dbs: DbPair) -> dict[str, str]:
    """Per seed table of the offices build, its oid and its rows' xmin: a reload changes them."""
    with dbs.target_tool() as conn:
        tables = [
            str(r[0])
            for r in conn.execute(
                "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                "where c.relkind = 'r' and n.nspname = 'diffmig_codes'"
            )
        ]
        return {
            table: str(
                conn.execute(
                    f"select 'diffmig_codes.{table}'::regclass::oid::text || ':' "
                    f"|| string_agg(xmin::text, ',' order by xmin::text) "
                    f"from diffmig_codes.{table}"
                ).fetchone()
            )
            for table in tables
        }


def sessions(dbs: DbPair) -> int:
    """Sessions ever opened on the destination database (pg_stat_database)."""
    with dbs.target_admin() as conn:
        conn.execute("select pg_stat_clear_snapshot()")
        row = conn.execute(
            "select sessions from pg_stat_database where datname = current_database()"
        ).fetchone()
    assert row is not None
    return int(row[0])


def build(dbt: DbtProject, run_id: int) -> BuildResult:
    with closing_dbt_logs():
        return dbt.build(OFFICES, vars_={"run_id": run_id})


def test_unchanged_views_and_seeds_one_connection_and_a_failing_node(
    db_pair: DbPair, tmp_path: Path
) -> None:
    """One scenario (each build costs seconds): offices built from scratch, then again with
    nothing changed, then after views were dropped, altered and made stale and a seed edited by
    hand, then with a seed refused, then with --full-refresh."""
    settings, run_id = sync(db_pair)
    dbt = DbtProject(settings, target_path=tmp_path / "target", log_path=tmp_path / "logs")
    first = build(dbt, run_id)
    assert first.success, [(n.name, n.message) for n in first.failed]
    built = view_oids(db_pair)
    assert len(built) >= 4
    seeds = seed_versions(db_pair)
    assert "country_aliases" in seeds
    with db_pair.target_tool() as conn:
        recorded = {r[0] for r in conn.execute("select relation from diffmig.build_digests")}
    assert {'"{}"."{}"'.format(*name.split(".")) for name in built} <= recorded

    # Nothing changed: every view is the same object, and the build still passes, the table
    # models among its views included (dbt's relation cache is asked before it is told). One
    # connection serves its nodes (dbt opened one per node).
    before = sessions(db_pair)
    second = build(dbt, run_id)
    opened = sessions(db_pair) - before - 1  # the count's own session
    assert second.success, [(n.name, n.message) for n in second.failed]
    assert view_oids(db_pair) == built
    assert seed_versions(db_pair) == seeds
    assert statuses(second) == statuses(first)
    assert len(second.nodes) >= 20
    assert opened <= 3, f"{opened} sessions for {len(second.nodes)} nodes"

    # A view dropped with its dependents, one whose recorded digest no longer matches (as after
    # a change to its SQL or docs) and one altered by hand are built again; the others are left
    # alone.
    dropped = "diffmig_stg.stg_legacy__offices"
    stale = "diffmig_stg.stg_supabase__offices"
    altered = "diffmig_stg.stg_bookkeeping__migration_mappings"
    assert {dropped, stale, altered} <= set(built)
    with db_pair.target_tool() as conn:
        (usa,) = conn.execute(
            "select country from diffmig_codes.country_aliases where alias = 'usa'"
        ).fetchone() or (None,)
        conn.execute("update diffmig_codes.country_aliases set country = 'XX' where alias = 'usa'")
        conn.execute(f"alter view {altered} rename column legacy_id to legacy_id_by_hand")
        conn.execute(f"drop view {dropped} cascade")
        conn.execute(
            "update diffmig.build_digests set digest = 'changed' where relation = %s",
            ('"{}"."{}"'.format(*stale.split(".")),),
        )
    gone = set(built) - set(view_oids(db_pair))
    assert dropped in gone
    third = build(dbt, run_id)
    assert third.success, [(n.name, n.message) for n in third.failed]
    after = view_oids(db_pair)
    assert set(after) == set(built)
    rebuilt = {name for name in built if after[name] != built[name]}
    assert rebuilt == gone | {stale, altered}
    reloaded = seed_versions(db_pair)
    assert {t for t in seeds if reloaded[t] != seeds[t]} == {"country_aliases"}
    with db_pair.target_tool() as conn:
        assert conn.execute(
            "select country from diffmig_codes.country_aliases where alias = 'usa'"
        ).fetchone() == (usa,)

    # A seed fails (edited by hand, so reloaded, and a check constraint refuses its rows, in
    # the transaction that loads them): what depends on it is skipped, and the nodes that run
    # after it on the same connection still pass.
    with db_pair.target_tool() as conn:
        conn.execute("update diffmig_codes.country_aliases set country = 'XX' where alias = 'us'")
        conn.execute(
            "alter table diffmig_codes.country_aliases add constraint planted_refusal "
            "check (alias <> 'usa') not valid"
        )
    refused = build(dbt, run_id)
    names = [n.name for n in refused.nodes]
    failed = [n for n in refused.nodes if n.status == "error"]
    assert [n.name for n in failed] == ["country_aliases"]
    assert "planted_refusal" in failed[0].message
    later = refused.nodes[names.index("country_aliases") + 1 :]
    assert [n for n in later if n.status in ("pass", "success")], [
        (n.name, n.status) for n in later
    ]

    # --full-refresh builds every view again.
    with closing_dbt_logs():
        result = dbt._invoke(
            ["build", "--full-refresh", "--indirect-selection", "cautious", "--select"]
            + [name.split(".")[1] for name in after]
        )
    assert result.success
    refreshed = view_oids(db_pair)
    assert not [name for name in after if refreshed[name] == after[name]]
