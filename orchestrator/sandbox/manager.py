"""The user's local sandbox: `diffmig sandbox up|down|status|reset|activity`.

State lives in `.sandbox/` (git-ignored): `state.json` (ports, passwords, scale, seed; mode 600),
`sandbox.env` (the connection settings of both sides, in the earlier scripts' variable names) and
`clusters/` (the two data directories and their logs).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.errors import SandboxError
from orchestrator.sandbox import build
from orchestrator.sandbox.clusters import LocalCluster, find_pg_bindir, free_port, sandbox_data_root
from orchestrator.settings import register_secret

DEFAULT_SCALE = 0.02
DEFAULT_SEED = 7
DEFAULT_ACTIVITY_DAYS = 21


@dataclass
class SandboxState:
    legacy_port: int
    target_port: int
    legacy_superuser_password: str
    target_superuser_password: str
    legacy_app_password: str
    target_tool_password: str
    data_root: str
    scale: float | None = None
    seed: int | None = None
    built: bool = False
    activity_batches: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        for value in (
            self.legacy_superuser_password,
            self.target_superuser_password,
            self.legacy_app_password,
            self.target_tool_password,
        ):
            register_secret(value)


class Sandbox:
    """The sandbox rooted at `<project>/.sandbox`."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or Path.cwd() / ".sandbox").resolve()
        self.state_file = self.root / "state.json"
        self.env_file = self.root / "sandbox.env"

    # --- state -----------------------------------------------------------------------------

    def load_state(self) -> SandboxState | None:
        if not self.state_file.is_file():
            return None
        try:
            return SandboxState(**json.loads(self.state_file.read_text()))
        except (ValueError, TypeError) as exc:
            raise SandboxError(
                f"{self.state_file} is unreadable ({exc})",
                hint="`diffmig sandbox reset` rebuilds the sandbox from scratch",
            ) from None

    def save_state(self, state: SandboxState) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(state), indent=2))
        tmp.chmod(0o600)
        tmp.replace(self.state_file)

    def _new_state(self) -> SandboxState:
        data_root = sandbox_data_root(self.root / "clusters")
        legacy_port = free_port()
        target_port = free_port()
        while target_port == legacy_port:
            target_port = free_port()
        return SandboxState(
            legacy_port=legacy_port,
            target_port=target_port,
            legacy_superuser_password=secrets.token_urlsafe(18),
            target_superuser_password=secrets.token_urlsafe(18),
            legacy_app_password=secrets.token_urlsafe(18),
            target_tool_password=secrets.token_urlsafe(18),
            data_root=str(data_root),
        )

    def pair(self, state: SandboxState) -> build.SandboxPair:
        bindir = find_pg_bindir()
        data_root = Path(state.data_root)
        legacy = LocalCluster(
            name="legacy",
            data_dir=data_root / "legacy",
            port=state.legacy_port,
            superuser=build.LEGACY_SUPERUSER,
            superuser_password=state.legacy_superuser_password,
            bindir=bindir,
        )
        target = LocalCluster(
            name="supabase",
            data_dir=data_root / "supabase",
            port=state.target_port,
            superuser=build.TARGET_SUPERUSER,
            superuser_password=state.target_superuser_password,
            bindir=bindir,
        )
        return build.SandboxPair(
            legacy=legacy,
            target=target,
            legacy_app_password=state.legacy_app_password,
            target_tool_password=state.target_tool_password,
        )

    def _start(self, state: SandboxState) -> build.SandboxPair:
        pair = self.pair(state)
        for cluster in (pair.legacy, pair.target):
            cluster.init()
            cluster.start()
        # A cluster may have moved to another port if its own was taken while it was down.
        state.legacy_port, state.target_port = pair.legacy.port, pair.target.port
        self.save_state(state)
        return pair

    def require(self) -> tuple[SandboxState, build.SandboxPair]:
        state = self.load_state()
        if state is None or not state.built:
            raise SandboxError(
                "there is no sandbox here yet",
                hint="run `diffmig sandbox up` first",
            )
        return state, self._start(state)

    # --- commands --------------------------------------------------------------------------

    def up(
        self,
        *,
        scale: float | None,
        seed: int | None,
        activity_days: int = DEFAULT_ACTIVITY_DAYS,
        on_step: build.Step | None = None,
    ) -> dict[str, Any]:
        state = self.load_state() or self._new_state()
        pair = self._start(state)
        wanted_scale = scale if scale is not None else (state.scale or DEFAULT_SCALE)
        wanted_seed = (
            seed if seed is not None else (state.seed if state.seed is not None else DEFAULT_SEED)
        )
        reused = state.built and (state.scale, state.seed) == (wanted_scale, wanted_seed)
        if state.built and not reused:
            raise SandboxError(
                f"the sandbox was built with scale {state.scale} and seed {state.seed}, "
                f"not scale {wanted_scale} and seed {wanted_seed}",
                hint="run `diffmig sandbox reset` (with the new --scale/--seed) to rebuild it, "
                "or `diffmig sandbox up` without options to reuse it",
            )
        activity = None
        if not reused:
            state.built = False
            self.save_state(state)
            activity = build.build_all(
                pair,
                legacy_db=build.LEGACY_DB,
                target_db=build.TARGET_DB,
                seed=wanted_seed,
                scale=wanted_scale,
                activity_days=activity_days,
                on_step=on_step,
            )
            state.scale, state.seed, state.built = wanted_scale, wanted_seed, True
            state.activity_batches = [activity.batch] if activity else []
            self.save_state(state)
        self.write_env_file(state)
        result = self.status()
        result["reused"] = reused
        if activity is not None:
            result["activity"] = asdict(activity)
        return result

    def activity(
        self, *, days: int, seed: int | None, on_step: build.Step | None = None
    ) -> dict[str, Any]:
        state, pair = self.require()
        summary = build.simulate_activity(
            pair,
            build.LEGACY_DB,
            days=days,
            seed=seed
            if seed is not None
            else (state.seed or DEFAULT_SEED) + len(state.activity_batches),
            on_step=on_step,
        )
        state.activity_batches.append(summary.batch)
        self.save_state(state)
        return asdict(summary)

    def down(self) -> dict[str, Any]:
        state = self.load_state()
        if state is None:
            return {"stopped": []}
        pair = self.pair(state)
        stopped = []
        for cluster in (pair.legacy, pair.target):
            if cluster.is_running():
                cluster.stop()
                stopped.append(cluster.name)
        return {"stopped": stopped}

    def reset(self, *, destroy_only: bool = False) -> dict[str, Any]:
        state = self.load_state()
        if state is not None:
            pair = self.pair(state)
            pair.legacy.destroy()
            pair.target.destroy()
        for path in (self.state_file, self.env_file):
            path.unlink(missing_ok=True)
        return {"removed": str(self.root), "rebuild": not destroy_only}

    def status(self) -> dict[str, Any]:
        state = self.load_state()
        if state is None:
            return {"exists": False, "sides": []}
        pair = self.pair(state)
        sides = []
        for side, cluster, dbname, schemas in (
            ("legacy", pair.legacy, build.LEGACY_DB, ("public",)),
            ("supabase", pair.target, build.TARGET_DB, ("public",)),
        ):
            running = cluster.is_running()
            entry: dict[str, Any] = {
                "side": side,
                "running": running,
                "port": cluster.port,
                "database": dbname,
                "data_dir": str(cluster.data_dir),
                "tables": [],
            }
            if running and state.built:
                entry.update(table_counts(cluster, dbname, schemas))
            sides.append(entry)
        return {
            "exists": True,
            "built": state.built,
            "scale": state.scale,
            "seed": state.seed,
            "activity_batches": state.activity_batches,
            "env_file": str(self.env_file),
            "sides": sides,
        }

    def write_env_file(self, state: SandboxState) -> None:
        """Connection settings of both sides, in the earlier scripts' names. Never touches .env."""
        lines = [
            "# Written by `diffmig sandbox up`: the local sandbox's connection settings.",
            "# diffmig reads this file when there is no ./.env (or pass --env-file).",
            "SOURCE_DB_HOST=127.0.0.1",
            f"SOURCE_DB_PORT={state.legacy_port}",
            f"SOURCE_DB_USER={build.LEGACY_APP_ROLE}",
            f"SOURCE_DB_PASSWORD={state.legacy_app_password}",
            f"SOURCE_DB_NAME={build.LEGACY_DB}",
            "TARGET_DB_HOST=127.0.0.1",
            f"TARGET_DB_PORT={state.target_port}",
            f"TARGET_DB_USER={build.TARGET_TOOL_ROLE}",
            f"TARGET_DB_PASSWORD={state.target_tool_password}",
            f"TARGET_DB_NAME={build.TARGET_DB}",
            "",
        ]
        self.root.mkdir(parents=True, exist_ok=True)
        self.env_file.write_text("\n".join(lines))
        self.env_file.chmod(0o600)


def table_counts(cluster: LocalCluster, dbname: str, schemas: tuple[str, ...]) -> dict[str, Any]:
    """Exact row counts of every table in `schemas`, and the database size."""
    with cluster.connect(dbname) as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema = any(%s) and table_type = 'BASE TABLE' order by 1, 2",
            (list(schemas),),
        ).fetchall()
        counts = []
        if tables:
            union = " union all ".join(
                f"select {i} as i, count(*) as n from {_qualified(s, t)}"
                for i, (s, t) in enumerate(tables)
            )
            by_index: dict[int, int] = dict(conn.execute(union).fetchall())
            counts = [{"table": t, "rows": int(by_index[i])} for i, (_, t) in enumerate(tables)]
        size = conn.execute("select pg_database_size(current_database())").fetchone()
    return {"tables": counts, "size_bytes": int(size[0]) if size else 0}


def _qualified(schema: str, table: str) -> str:
    return '"' + schema.replace('"', '""') + '"."' + table.replace('"', '""') + '"'
