"""Equivalence fingerprints: proves that a change to the code changes nothing a user sees.

    .venv/bin/python -m benchmarks.equivalence [--scale 0.02] [--seed 4244] [--json PATH]
        [--dump DIR]
    .venv/bin/python -m benchmarks.equivalence --compare A.json B.json

On its own throwaway cluster pair (the sync benchmark's machinery; `.sandbox/` is never touched)
it builds the sandbox as `diffmig sandbox up --scale S --seed N` does (legacy data, Supabase
destination, the earlier migration, 21 days of activity with seed N), fixes the installation's
UUID namespace, runs `diffmig run --mode full --transport copy`, fingerprints, runs 7 days of
activity (seed N + 1, as `diffmig sandbox activity --days 7` right after `up` does), runs
`diffmig run --transport copy` (delta) and fingerprints again.

A fingerprint is, per table, the row count and an md5 over the table's rows (every column as
text, sorted): every app table a mart writes (`models/marts/supabase/*.sql`),
`diffmig.row_issues` as (entity, legacy_key, reason, severity, resolved) and
`public.migration_mappings`. Timestamps the runs write (column defaults, `deleted_at = now()`,
`migrated_at`, ...) are masked: a timestamp or date between one day before the script started
and one day after the fingerprint is taken reads 'RUN' (the sandbox's data is generated from
constants, never from the clock; its far-future defect dates, 2099, stay visible).

Comparing two versions of the code: run this in each checkout with the same options and
`--json`, then `--compare A.json B.json` lists the tables that differ (exit 1 if any). With
`--dump DIR` each table's sorted, masked rows are written to `DIR/<set>/<table>.txt`:
`diff -r` two dump directories to see which rows and columns differ.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from benchmarks.sync_benchmark import BenchError, Benchmark, log  # noqa: E402

FIXED_NAMESPACE = "6f1c2e8a-3b4d-5e6f-8a9b-0c1d2e3f4a5b"
SANDBOX_ACTIVITY_DAYS = 21  # what `diffmig sandbox up` simulates after the earlier migration
MARTS_DIR = PROJECT_ROOT / "models" / "marts" / "supabase"
MASK = "RUN"
SETS = ("after_full", "after_delta")
LEGACY_DB, TARGET_DB = "equiv_legacy", "equiv_supabase"


def fix_namespace(conn: psycopg.Connection, namespace: str = FIXED_NAMESPACE) -> None:
    """Create diffmig's bookkeeping schema and pin the UUID v5 namespace of the UUIDs it issues
    (the one place that knows where the namespace lives)."""
    from orchestrator.bookkeeping import schema

    schema.ensure_schema(conn)
    conn.execute("update diffmig.installation set namespace = %s", (namespace,))


def mart_tables() -> list[str]:
    return sorted(p.stem for p in MARTS_DIR.glob("*.sql") if p.stem != "migration_mappings")


def _columns(conn: psycopg.Connection, table: str) -> list[tuple[str, str]]:
    return [
        (str(n), str(t))
        for n, t in conn.execute(
            "select attname, format_type(atttypid, atttypmod) from pg_attribute "
            "where attrelid = %s::regclass and attnum > 0 and not attisdropped order by attnum",
            (table,),
        )
    ]


Window = tuple[dt.datetime, dt.datetime]


def _masked(name: str, typ: str, run: Window) -> sql.Composable:
    """A column as text, 'RUN' when it is a timestamp or date a run wrote (inside `run`)."""
    col = sql.Identifier(name)
    if typ == "date" or typ.startswith("timestamp"):
        return sql.SQL(
            "case when {c} between {lo}::{t} and {hi}::{t} then {m} else {c}::text end"
        ).format(
            c=col,
            t=sql.SQL(typ),
            lo=sql.Literal(run[0]),
            hi=sql.Literal(run[1]),
            m=sql.Literal(MASK),
        )
    return sql.SQL("{}::text").format(col)


def row_queries(conn: psycopg.Connection, run: Window) -> dict[str, sql.Composable]:
    """Per fingerprinted table: a query of its masked rows as one text column `t`."""
    queries: dict[str, sql.Composable] = {}
    for table in mart_tables():
        cols = _columns(conn, f"public.{table}")
        queries[table] = sql.SQL("select row({})::text as t from {}").format(
            sql.SQL(", ").join(_masked(n, t, run) for n, t in cols),
            sql.Identifier("public", table),
        )
    queries["diffmig.row_issues"] = sql.SQL(
        "select row(entity, legacy_key, reason, severity, resolved_at is not null)::text as t "
        "from diffmig.row_issues"
    )
    queries["migration_mappings"] = sql.SQL(
        "select row(entity_type, legacy_id, new_id, {}, migration_batch)::text as t "
        "from public.migration_mappings"
    ).format(_masked("migrated_at", "timestamp without time zone", run))
    return queries


def _session(conn: psycopg.Connection) -> None:
    for setting in ("timezone = 'UTC'", "datestyle = 'ISO, YMD'", "extra_float_digits = 1"):
        conn.execute(f"set {setting}")


def fingerprint(
    conn: psycopg.Connection, started: dt.datetime, dump: Path | None
) -> dict[str, Any]:
    """Row count and md5 (of the sorted rows' md5s) per table, and one md5 over the tables."""
    _session(conn)
    row = conn.execute("select now()").fetchone()
    now = row[0] if row else dt.datetime.now(dt.timezone.utc)
    run = (started - dt.timedelta(days=1), now + dt.timedelta(days=1))
    tables: dict[str, dict[str, Any]] = {}
    for name, query in row_queries(conn, run).items():
        sorted_rows = sql.SQL('select t from ({}) r order by t collate "C"').format(query)
        agg = sql.SQL(
            "select count(*), md5(coalesce(string_agg(md5(t), '' order by t collate \"C\"), '')) "
            "from ({}) r"
        ).format(query)
        count, digest = conn.execute(agg).fetchone() or (0, "")
        tables[name] = {"rows": int(count), "md5": str(digest)}
        if dump is not None:
            dump.mkdir(parents=True, exist_ok=True)
            copy = sql.SQL("copy ({}) to stdout").format(sorted_rows)
            with (
                (dump / f"{name}.txt").open("wb") as out,
                conn.cursor() as cur,
                cur.copy(copy) as stream,
            ):
                for block in stream:
                    out.write(block)
    return {"tables": tables, "overall": _overall(tables)}


def _overall(tables: dict[str, dict[str, Any]]) -> str:
    text = "\n".join(f"{n}:{t['rows']}:{t['md5']}" for n, t in sorted(tables.items()))
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


class Equivalence(Benchmark):
    def __init__(self, args: argparse.Namespace) -> None:
        args.transports, args.activity_days = ["copy"], 7
        super().__init__(args)
        self.started = dt.datetime.now(dt.timezone.utc)

    def run_diffmig(self, env: dict[str, str], *args: str) -> None:
        log(f"diffmig run {' '.join(args)}")
        run, doc = self.diffmig(env, "run", "--transport", "copy", *args)
        if doc.get("status") != "succeeded":
            raise BenchError(f"diffmig run {' '.join(args)}: status {doc.get('status')!r}")
        log(f"  {run.wall_s:.1f}s, run {doc.get('run_id')}")

    def fingerprint(self, label: str) -> dict[str, Any]:
        dump = Path(self.args.dump) / label if self.args.dump else None
        with self.pair.target.connect(TARGET_DB) as conn:
            return fingerprint(conn, self.started, dump)

    def run(self) -> dict[str, Any]:  # type: ignore[override]
        from orchestrator.sandbox import build

        seed, scale = self.args.seed, self.args.scale
        self.start_clusters()
        build.build_all(
            self.pair,
            legacy_db=LEGACY_DB,
            target_db=TARGET_DB,
            seed=seed,
            scale=scale,
            activity_days=SANDBOX_ACTIVITY_DAYS,
            on_step=log,
        )
        with self.pair.target.connect(
            TARGET_DB, build.TARGET_TOOL_ROLE, self.pair.target_tool_password
        ) as conn:
            fix_namespace(conn)
        env = self.env(LEGACY_DB, TARGET_DB)
        self.run_diffmig(env, "--mode", "full")
        sets = {"after_full": self.fingerprint("after_full")}
        build.simulate_activity(
            self.pair, LEGACY_DB, days=self.args.days, seed=self.args.activity_seed, on_step=log
        )
        self.run_diffmig(env)
        sets["after_delta"] = self.fingerprint("after_delta")
        return {
            "scale": scale,
            "seed": seed,
            "activity_days": self.args.days,
            "activity_seed": self.args.activity_seed,
            "namespace": FIXED_NAMESPACE,
            "sets": sets,
            "overall": hashlib.md5(
                "\n".join(sets[s]["overall"] for s in SETS).encode(), usedforsecurity=False
            ).hexdigest(),
        }


def render(doc: dict[str, Any]) -> str:
    lines = [
        f"equivalence fingerprints: scale {doc['scale']}, seed {doc['seed']}, "
        f"then {doc['activity_days']} days of activity (seed {doc['activity_seed']})"
    ]
    for name in SETS:
        fp = doc["sets"][name]
        lines.append(f"\n{name}: {fp['overall']}")
        for table, entry in fp["tables"].items():
            lines.append(f"  {table:<22} {entry['rows']:>8}  {entry['md5']}")
    lines.append(f"\noverall: {doc['overall']}")
    return "\n".join(lines)


def compare(a_path: str, b_path: str) -> int:
    a, b = (json.loads(Path(p).read_text()) for p in (a_path, b_path))
    for key in ("scale", "seed", "activity_days", "activity_seed", "namespace"):
        if a.get(key) != b.get(key):
            print(f"scenario differs: {key} {a.get(key)!r} vs {b.get(key)!r}")  # noqa: T201
    differ = 0
    for name in SETS:
        ta, tb = a["sets"][name]["tables"], b["sets"][name]["tables"]
        for table in sorted(set(ta) | set(tb)):
            ea, eb = ta.get(table), tb.get(table)
            if ea != eb:
                differ += 1
                rows = f"{ea['rows'] if ea else '-'} vs {eb['rows'] if eb else '-'} rows"
                print(f"{name}: {table} differs ({rows})")  # noqa: T201
    same = a["overall"] == b["overall"] and differ == 0
    print("identical" if same else f"{differ} table fingerprints differ")  # noqa: T201
    return 0 if same else 1


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.equivalence", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--scale", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=4244)
    parser.add_argument("--days", type=int, default=7, help="activity days before the delta run")
    parser.add_argument(
        "--activity-seed", type=int, help="[default: seed + 1, as `sandbox activity`]"
    )
    parser.add_argument(
        "--fast-disk",
        action="store_true",
        help="clusters without fsync (the fingerprints do not depend on it; the runs are faster)",
    )
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--dump", metavar="DIR")
    parser.add_argument("--compare", nargs=2, metavar=("A.json", "B.json"))
    args = parser.parse_args(argv)
    if args.activity_seed is None:
        args.activity_seed = args.seed + 1
    return args


def _on_sigterm(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.compare:
        return compare(*args.compare)
    signal.signal(signal.SIGTERM, _on_sigterm)
    bench = Equivalence(args)
    started = time.monotonic()
    try:
        doc = bench.run()
    except BenchError as exc:
        log(f"FAILED: {exc}")
        return 1
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        bench.destroy()
    doc["wall_s"] = round(time.monotonic() - started, 1)
    sys.stdout.write(render(doc) + "\n")
    log(f"done in {doc['wall_s']:.0f}s")
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
