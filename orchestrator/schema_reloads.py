"""The schema-cache reloads a run causes on the destination's HTTP API, measured.

On a Supabase project the event triggers `extensions.pgrst_ddl_watch` (ddl_command_end) and
`extensions.pgrst_drop_watch` (sql_drop) send `NOTIFY pgrst, 'reload schema'` for every DDL
statement outside pg_temp, in any schema and by any role; PostgREST, listening on `pgrst`, then
reloads its schema cache (the live app's API answers slower, or with errors, meanwhile).
PostgreSQL folds identical notifications of one transaction into one, so the notifications a
listener receives are the reloads PostgREST does.

For the span of a run one dedicated destination connection listens on `pgrst` and counts them
(no superuser needed: LISTEN takes no privilege). It counts every session's DDL in that span,
the app's own deployments included, not only diffmig's. At the end it notifies itself on a
channel of its own: notifications arrive in commit order, so once its own has arrived every
reload caused before it has been counted.
"""

from __future__ import annotations

import contextlib
import logging
import time

import psycopg

from orchestrator import db
from orchestrator.errors import ConnectionFailed
from orchestrator.settings import DbSettings, redact

log = logging.getLogger("diffmig.schema_reloads")

CHANNEL = "pgrst"
# PostgREST reloads its schema cache on these payloads ('reload config' reloads settings only).
RELOAD_PAYLOADS = frozenset({"reload schema", ""})
FENCE_SECONDS = 10.0


class SchemaReloadCounter:
    """Counts `NOTIFY pgrst, 'reload schema'` between start() and stop().

    stop() returns None when the count is not known: LISTEN was refused (a transaction-mode
    pooler) or the listening connection was lost during the run (reloads sent meanwhile would
    be missed)."""

    def __init__(self, target: DbSettings) -> None:
        self._target = target
        self._conn: psycopg.Connection | None = None
        self._fence = ""
        self._fenced = False
        self.count = 0
        self.lost = False
        self._stopped = False

    def start(self) -> None:
        try:
            conn = db.connect(self._target, application_name="diffmig schema reloads")
            conn.add_notify_handler(self._received)
            self._fence = f"diffmig_reload_fence_{conn.info.backend_pid}"
            conn.execute(f"listen {CHANNEL}")
            conn.execute(f"listen {self._fence}")
        except (psycopg.Error, ConnectionFailed) as exc:
            log.warning("schema reloads not counted: %s", redact(str(exc)).strip())
            self.lost = True
            return
        self._conn = conn

    def _received(self, notify: psycopg.Notify) -> None:
        if notify.channel == self._fence:
            self._fenced = True
        elif notify.channel == CHANNEL and notify.payload in RELOAD_PAYLOADS:
            self.count += 1

    def stop(self) -> int | None:
        """Stop listening (once; later calls return the same); the reloads counted, or None
        when unknown."""
        conn, self._conn = self._conn, None
        if conn is None:
            return self.result()
        self._stopped = True
        try:
            conn.execute(f"notify {self._fence}")
            deadline = time.monotonic() + FENCE_SECONDS
            while not self._fenced and time.monotonic() < deadline:
                time.sleep(0.05)
                conn.execute("select 1")
        except psycopg.Error as exc:
            log.warning("schema reloads not counted: %s", redact(str(exc)).strip())
            self.lost = True
        finally:
            with contextlib.suppress(psycopg.Error):
                conn.close()
        return self.result()

    def result(self) -> int | None:
        if not self._stopped or self.lost or not self._fenced:
            return None
        return self.count
