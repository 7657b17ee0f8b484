"""The run benchmark (issue 6): `diffmig run` end to end, next to a raw COPY of the same rows.

    .venv/bin/python -m benchmarks.run_benchmark [--scale 1.0] [--seed 7] [--activity-days 7]
        [--transport copy] [--json PATH] [--fast-disk]

On its own throwaway cluster pair (the sync benchmark's machinery: the legacy database generated
at --scale, an empty Supabase destination; `.sandbox/` is never touched; durable clusters, with
PostgreSQL's default fsync, full page writes and synchronous commit, unlike the sandbox's and the
tests' (`--fast-disk` for those), and the Supabase emulation's 2-minute statement_timeout, which diffmig lifts), in one
invocation:

  (a)  raw binary COPY of every declared legacy table into plain tables on the destination
       (the floor for moving the rows once);
  (a') (a), then the legacy primary keys built on those tables after the load;
  (b)  `diffmig run --mode full` on the empty destination: sync every table, map every entity
       with dbt, tests, bookkeeping;
  (w)  one INSERT ... SELECT of the rows (b) left in the app tables into empty copies of them
       (columns, keys, indexes and the foreign keys among the copies), in foreign-key order;
  (f)  the floor of a full run: (b)'s own sync seconds + (w);
  (m)  a plain `INSERT ... SELECT` of every mirrored row into scratch tables in the destination
       (the floor for writing the rows once more), next to the dbt build seconds of (b) (the
       mapping's own cost, issue 5);
       `sandbox activity` for --activity-days days (7: about 1 % of the rows);
  (d1) `diffmig run` after 1 day of activity (run before the --activity-days activity);
  (d)  `diffmig run` after that activity (the delta run);
  (e)  `diffmig run` again, nothing to do.

Every diffmig command is a child process (`python -m orchestrator --output json`); wall time is
measured around it, the peak memory is the child's own peak RSS (os.wait4, in the small parent
benchmarks/peak_rss.py). Targets: (b) at most 1.5x (f), (b)'s sync at most 1.3x (a'), (b)'s
peak memory under 300 MB (issue 20; issue 6's (b) at most 2x (a) is still printed); (d) at most
10 % of (b); (e) under 10 s. Exit 0 when every run succeeded
(a missed target is reported as MISS, not a failure), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from benchmarks.sync_benchmark import (  # noqa: E402 - after the sys.path fix above
    RAW_SCHEMA,
    BenchError,
    Benchmark,
    ChildRun,
    _loadavg,
    log,
)

if TYPE_CHECKING:
    import psycopg

    from orchestrator.catalog import SourceTable

TARGET_FULL_VS_COPY = 2.0
TARGET_FULL_VS_FLOOR = 1.5  # issue 20: (b) against (f), the work a full run cannot avoid
TARGET_SYNC_VS_KEYED_COPY = 1.3
TARGET_PEAK_MB = 300
FLOOR_SCHEMA = "bench_floor"
# The foreign keys of the app tables that reference another app table of the list.
FOREIGN_KEYS_AMONG = """
select child.relname, fk.conname, pg_get_constraintdef(fk.oid)
from pg_constraint as fk
inner join pg_class as child on fk.conrelid = child.oid
inner join pg_class as parent on fk.confrelid = parent.oid
where
    fk.contype = 'f'
    and child.relnamespace = 'public'::regnamespace
    and parent.relnamespace = 'public'::regnamespace
    and child.relname = any(%s)
    and parent.relname = any(%s)
order by child.relname, fk.conname
"""
TARGET_DELTA_VS_FULL = 0.10
TARGET_IDLE_S = 10.0
SLOWEST_NODES = 12  # dbt nodes listed per run, slowest first (diffmig.build_results)


class RunBenchmark(Benchmark):
    def __init__(self, args: argparse.Namespace) -> None:
        args.transports = [args.transport]
        super().__init__(args)
        self.figures: dict[str, Any] = {"scale": args.scale, "seed": args.seed, "phases": {}}
        self.keys_s = 0.0

    def phase(
        self, key: str, label: str, run: ChildRun | None, seconds: float, **extra: Any
    ) -> None:
        entry = {"label": label, "wall_s": round(seconds, 2)}
        if run is not None:
            entry["peak_rss_mb"] = round(run.peak_rss_mb, 1)
        entry.update(extra)
        self.figures["phases"][key] = entry
        log(f"{label}: {seconds:.1f}s {extra if extra else ''}")

    def diffmig_run(self, env: dict[str, str], key: str, label: str, *args: str) -> dict:
        self.checkpoint()
        log(label)
        run, doc = self.diffmig(env, "run", "--transport", self.args.transport, *args)
        if doc.get("status") != "succeeded":
            self._check(False, f"{label}: run status {doc.get('status')!r}")
        entities = doc.get("entities", [])
        self.phase(
            key,
            label,
            run,
            run.wall_s,
            rows_synced=sum(int(e.get("rows_synced", 0)) for e in entities),
            rows_applied=sum(int(e.get("rows_applied", 0)) for e in entities),
            run_id=doc.get("run_id"),
        )
        return doc

    def step_seconds(self, target_db: str, run_id: int) -> dict[str, float]:
        from orchestrator.sandbox import build

        with self.pair.target.connect(
            target_db, build.TARGET_TOOL_ROLE, self.pair.target_tool_password
        ) as dst:
            steps = dst.execute(
                "select entity, coalesce(sync_seconds, 0), coalesce(build_seconds, 0), "
                "rows_synced, rows_applied from diffmig.run_steps where run_id = %s "
                "order by position",
                (run_id,),
            ).fetchall()
            proofs = dst.execute(
                "select coalesce(sum(seconds), 0) from diffmig.proof_results where run_id = %s",
                (run_id,),
            ).fetchone()
            slowest = dst.execute(
                "select entity, node, resource_type, seconds from diffmig.build_results "
                "where run_id = %s order by seconds desc limit %s",
                (run_id, SLOWEST_NODES),
            ).fetchall()
        return {
            "slowest_nodes": [
                {"entity": n[0], "node": n[1], "type": n[2], "seconds": float(n[3])}
                for n in slowest
            ],
            "sync_s": sum(float(s[1]) for s in steps),
            "build_s": sum(float(s[2]) for s in steps),
            "proof_s": float(proofs[0]) if proofs else 0.0,
            "per_entity": [
                {
                    "entity": s[0],
                    "sync_s": float(s[1]),
                    "build_s": float(s[2]),
                    "rows_synced": int(s[3]),
                    "rows_applied": int(s[4]),
                }
                for s in steps
            ],
        }

    def one_day(self, legacy_db: str) -> None:
        """One day of activity (another seed than the --activity-days one that follows)."""
        from orchestrator.sandbox import build

        log("sandbox activity, 1 day")
        build.simulate_activity(self.pair, legacy_db, days=1, seed=self.args.seed + 1)
        with self.pair.legacy.connect(legacy_db) as conn:
            conn.execute("vacuum analyze")

    def insert_select(self, target_db: str) -> None:
        from psycopg import sql

        from orchestrator.catalog import declared_tables
        from orchestrator.sandbox import build

        self.checkpoint()
        rows = 0
        with self.pair.target.connect(
            target_db, build.TARGET_TOOL_ROLE, self.pair.target_tool_password
        ) as dst:
            dst.execute("create schema bench_insert")
            started = time.monotonic()
            for table in declared_tables():
                mirrored = dst.execute(
                    "select to_regclass(%s) is not null", (f"diffmig_staging.{table.name}",)
                ).fetchone()
                if not (mirrored and mirrored[0]):
                    continue  # a declared table no entity reads (nothing synced)
                mirror = sql.Identifier("diffmig_staging", table.name)
                scratch = sql.Identifier("bench_insert", table.name)
                dst.execute(
                    sql.SQL("create table {} as select * from {} with no data").format(
                        scratch, mirror
                    )
                )
                cur = dst.execute(
                    sql.SQL("insert into {} select * from {} where _deleted_at is null").format(
                        scratch, mirror
                    )
                )
                rows += cur.rowcount
            dst.commit()
            seconds = time.monotonic() - started
            dst.execute("drop schema bench_insert cascade")
        self.phase("m", "(m) plain INSERT ... SELECT of the mirror", None, seconds, rows=rows)

    def primary_keys(self, dst: psycopg.Connection, sources: list[SourceTable]) -> None:
        """(a'): the raw copies get the legacy tables' primary keys, built after the load as a
        bulk loader builds them; (a') is (a) plus these seconds."""
        from psycopg import sql

        started = time.monotonic()
        for source in sources:
            dst.execute(
                sql.SQL("alter table {} add primary key ({})").format(
                    sql.Identifier(RAW_SCHEMA, source.name), sql.Identifier(source.key)
                )
            )
        dst.commit()
        self.keys_s = time.monotonic() - started

    def floor_write(self, target_db: str) -> None:
        """(w): one INSERT ... SELECT of the rows the full run left in the app tables into empty
        copies of those tables (same columns, primary keys, unique constraints, secondary indexes
        and the foreign keys among the copies), in the marts' ref() order, which is foreign-key
        order: what any tool that writes these tables pays."""
        from psycopg import sql

        from orchestrator.project_index import load_index
        from orchestrator.sandbox import build

        self.checkpoint()
        tables = load_index().marts
        with self.pair.target.connect(
            target_db, build.TARGET_TOOL_ROLE, self.pair.target_tool_password
        ) as dst:
            dst.execute(sql.SQL("create schema {}").format(sql.Identifier(FLOOR_SCHEMA)))
            for table in tables:
                dst.execute(
                    sql.SQL("create table {} (like {} including all)").format(
                        sql.Identifier(FLOOR_SCHEMA, table), sql.Identifier("public", table)
                    )
                )
            # Printed with search_path public, a reference to an app table is unqualified, so
            # that with search_path bench_floor it names the copy.
            dst.execute("set search_path = public")
            keys = dst.execute(FOREIGN_KEYS_AMONG, (tables, tables)).fetchall()
            dst.execute(sql.SQL("set search_path = {}").format(sql.Identifier(FLOOR_SCHEMA)))
            for table, name, definition in keys:
                dst.execute(
                    sql.SQL("alter table {} add constraint {} {}").format(
                        sql.Identifier(FLOOR_SCHEMA, table),
                        sql.Identifier(name),
                        sql.SQL(definition),
                    )
                )
            dst.execute("reset search_path")
            dst.commit()
            rows = 0
            started = time.monotonic()
            for table in tables:
                cur = dst.execute(
                    sql.SQL("insert into {} select * from {}").format(
                        sql.Identifier(FLOOR_SCHEMA, table), sql.Identifier("public", table)
                    )
                )
                rows += cur.rowcount
            dst.commit()
            seconds = time.monotonic() - started
            dst.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(FLOOR_SCHEMA)))
        self.phase(
            "w",
            "(w) INSERT ... SELECT into copies of the app tables",
            None,
            seconds,
            rows=rows,
            foreign_keys=len(keys),
        )
        sync_s = float(self.figures["phases"]["b"]["sync_s"])
        self.phase("f", "(f) floor: the full run's sync + (w)", None, sync_s + seconds)

    def run(self) -> Any:  # type: ignore[override]
        from orchestrator.sandbox import build

        self.start_clusters()
        self.build()
        legacy_db, target_db = "legacy_run", "supabase_run"
        build.clone_database(self.pair.legacy, "bench_legacy_tpl", legacy_db)
        build.clone_database(self.pair.target, "bench_supabase_tpl", target_db)
        env = self.env(legacy_db, target_db)
        self.raw_copy(self.args.transport, env, legacy_db, target_db, then=self.primary_keys)
        a = self.results.phases[-1]
        self.phase("a", "(a) raw binary COPY", None, a.wall_s, rows=a.rows_moved)
        self.phase(
            "a2",
            "(a') raw COPY, then its primary keys",
            None,
            a.wall_s + self.keys_s,
            rows=a.rows_moved,
        )
        full = self.diffmig_run(
            env, "b", "(b) diffmig run --mode full, empty target", "--mode", "full"
        )
        self.figures["phases"]["b"].update(self.step_seconds(target_db, int(full["run_id"])))
        self.floor_write(target_db)
        self.insert_select(target_db)
        self.one_day(legacy_db)
        d1 = self.diffmig_run(env, "d1", "(d1) diffmig run after 1 day of activity")
        self.figures["phases"]["d1"].update(self.step_seconds(target_db, int(d1["run_id"])))
        truth = self.activity(self.args.transport, legacy_db)
        self.figures["activity"] = self.results.activity
        del truth
        delta = self.diffmig_run(env, "d", "(d) diffmig run after the activity")
        self.figures["phases"]["d"].update(self.step_seconds(target_db, int(delta["run_id"])))
        self.diffmig_run(env, "e", "(e) diffmig run, nothing to do")
        self.figures["source_rows"] = sum(self.results.source_rows.values())
        self.figures["checks"] = self.results.checks
        self.figures["loadavg_end"] = _loadavg()
        return self.figures


def render(fig: dict[str, Any]) -> str:
    p = fig["phases"]
    rows = fig["source_rows"]
    lines = [
        f"diffmig run benchmark: scale {fig['scale']}, {rows:,} legacy rows, "
        f"load average at the end {fig['loadavg_end']}",
        "",
        f"{'phase':<48} {'wall s':>8} {'rows/s':>10} {'peak MB':>8}",
    ]
    for key in ("a", "a2", "b", "w", "f", "m", "d1", "d", "e"):
        if key not in p:
            continue
        e = p[key]
        moved = e.get("rows") or e.get("rows_synced") or 0
        rate = f"{moved / e['wall_s']:,.0f}" if e["wall_s"] and moved else ""
        peak = f"{e['peak_rss_mb']:.0f}" if "peak_rss_mb" in e else ""
        lines.append(f"{e['label']:<48} {e['wall_s']:>8.1f} {rate:>10} {peak:>8}")
        if "build_s" in e:
            lines.append(
                f"{'    of which sync / dbt build / proofs':<48} "
                f"{e['sync_s']:>8.1f} / {e['build_s']:.1f} / {e.get('proof_s', 0.0):.1f}"
            )
        for n in e.get("slowest_nodes", []):
            lines.append(
                f"      {n['seconds']:>8.1f}s  {n['entity']:<16} {n['type']:<9} {n['node']}"
            )
    lines.append("")

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    if "a" in p and "b" in p:
        r = p["b"]["wall_s"] / p["a"]["wall_s"]
        lines.append(
            f"(b)/(a) full run vs raw COPY     {r:6.2f}  target <= {TARGET_FULL_VS_COPY}  {verdict(r <= TARGET_FULL_VS_COPY)}"
        )
    if "f" in p and "b" in p:
        r = p["b"]["wall_s"] / p["f"]["wall_s"]
        lines.append(
            f"(b)/(f) full run vs its floor    {r:6.2f}  target <= {TARGET_FULL_VS_FLOOR}  {verdict(r <= TARGET_FULL_VS_FLOOR)}"
        )
    if "a2" in p and "b" in p and "sync_s" in p["b"]:
        r = p["b"]["sync_s"] / p["a2"]["wall_s"]
        lines.append(
            f"sync of (b) vs (a')              {r:6.2f}  target <= {TARGET_SYNC_VS_KEYED_COPY}  {verdict(r <= TARGET_SYNC_VS_KEYED_COPY)}"
        )
    if "b" in p and "peak_rss_mb" in p["b"]:
        mb = p["b"]["peak_rss_mb"]
        lines.append(
            f"peak memory of (b)               {mb:6.0f} MB target < {TARGET_PEAK_MB} MB {verdict(mb < TARGET_PEAK_MB)}"
        )
    if "m" in p and "b" in p:
        r = p["b"]["build_s"] / p["m"]["wall_s"]
        lines.append(
            f"dbt build of (b) vs (m)          {r:6.2f}  (the mapping's cost over writing the rows once)"
        )
    if "d" in p and "b" in p:
        r = p["d"]["wall_s"] / p["b"]["wall_s"]
        lines.append(
            f"(d)/(b) delta run vs full run    {r:6.3f}  target <= {TARGET_DELTA_VS_FULL}  {verdict(r <= TARGET_DELTA_VS_FULL)}"
        )
    if "d" in p and "sync_s" in p["d"] and p["d"]["sync_s"]:
        r = p["d"]["wall_s"] / p["d"]["sync_s"]
        lines.append(
            f"(d) delta run vs its own sync     {r:6.2f}  target <= 3.0  {verdict(r <= 3.0)}"
        )
    if "d1" in p:
        s1 = p["d1"]["wall_s"]
        lines.append(
            f"(d1) delta after 1 day          {s1:6.1f}s target < 10.0s {verdict(s1 < 10.0)}"
        )
    if "e" in p:
        s = p["e"]["wall_s"]
        lines.append(
            f"(e) nothing to do                {s:6.1f}s target < {TARGET_IDLE_S}s  {verdict(s < TARGET_IDLE_S)}"
        )
    if fig.get("activity"):
        act = fig["activity"]
        lines.append(
            f"activity: {act['rows_changed']:,} rows changed ({act['fraction_changed']:.2%})"
        )
    lines.extend(["", *fig.get("checks", [])])
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run_benchmark", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--activity-days", type=int, default=7)
    parser.add_argument("--transport", choices=["copy", "fdw"], default="copy")
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument(
        "--fast-disk",
        action="store_true",
        help="clusters without fsync etc., as the sandbox and the tests (default: durable)",
    )
    args = parser.parse_args(argv)
    args.skip_reladiff = True
    return args


def _on_sigterm(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    bench = RunBenchmark(args)
    started = time.monotonic()
    try:
        fig = bench.run()
    except BenchError as exc:
        log(f"FAILED: {exc}")
        bench.figures.setdefault("source_rows", sum(bench.results.source_rows.values()))
        bench.figures.setdefault("loadavg_end", _loadavg())
        bench.figures["checks"] = [*bench.results.checks, f"FAILED: {str(exc)[:2000]}"]
        sys.stdout.write(render(bench.figures) + "\n")
        if args.json:
            Path(args.json).write_text(json.dumps(bench.figures, indent=2, default=str))
        return 1
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        log("destroying the benchmark clusters")
        bench.destroy()
    sys.stdout.write(render(fig) + "\n")
    log(f"benchmark done in {time.monotonic() - started:.0f}s")
    if args.json:
        Path(args.json).write_text(json.dumps(fig, indent=2, default=str))
    return 1 if any(c.startswith("WRONG") for c in fig["checks"]) else 0


if __name__ == "__main__":
    sys.exit(main())
