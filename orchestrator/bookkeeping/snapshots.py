"""Schema snapshots: the catalog of each side as `diffmig schema diff` last saved it, in
`diffmig.schema_snapshots`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timezone
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from orchestrator.bookkeeping.schema import SCHEMA


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: int
    taken_at: str
    catalog: dict[str, Any]


def last_snapshot(conn: psycopg.Connection, side: str) -> Snapshot | None:
    exists = conn.execute("select to_regclass(%s)", (f"{SCHEMA}.schema_snapshots",)).fetchone()
    if not exists or exists[0] is None:
        return None
    row = conn.execute(
        f"select snapshot_id, taken_at, catalog from {SCHEMA}.schema_snapshots where side = %s "
        "order by snapshot_id desc limit 1",
        (side,),
    ).fetchone()
    if row is None:
        return None
    catalog = row[2] if isinstance(row[2], dict) else json.loads(row[2])
    taken = row[1].astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return Snapshot(int(row[0]), taken, catalog)


def save_snapshot(conn: psycopg.Connection, side: str, catalog: dict[str, Any]) -> int:
    row = conn.execute(
        f"insert into {SCHEMA}.schema_snapshots (side, catalog) values (%s, %s) "
        "returning snapshot_id",
        (side, Jsonb(catalog)),
    ).fetchone()
    assert row is not None
    return int(row[0])
