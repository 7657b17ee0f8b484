"""Entity watermarks: per entity, the last run whose build applied it (`diffmig
.entity_watermarks`); a delta build maps the mirror rows synced after it."""

from __future__ import annotations

import psycopg

from orchestrator.bookkeeping.schema import SCHEMA


def watermark(conn: psycopg.Connection, entity: str) -> int:
    """The run that last applied `entity`; 0 when none did."""
    row = conn.execute(
        f"select applied_run from {SCHEMA}.entity_watermarks where entity = %s", (entity,)
    ).fetchone()
    return int(row[0]) if row else 0


def set_watermark(conn: psycopg.Connection, entity: str, run_id: int) -> None:
    conn.execute(
        f"insert into {SCHEMA}.entity_watermarks (entity, applied_run) values (%s, %s) "
        "on conflict (entity) do update set applied_run = excluded.applied_run, "
        "applied_at = now()",
        (entity, run_id),
    )


def applied_entities(conn: psycopg.Connection) -> set[str]:
    """The entities some run has applied (built) at least once: those with a watermark. Empty
    when diffmig never ran against this destination (no bookkeeping schema yet)."""
    exists = conn.execute("select to_regclass(%s)", (f"{SCHEMA}.entity_watermarks",)).fetchone()
    if not exists or exists[0] is None:
        return set()
    return {str(r[0]) for r in conn.execute(f"select entity from {SCHEMA}.entity_watermarks")}
