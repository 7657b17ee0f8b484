"""What diffmig changes inside dbt still matches the dbt installed (docs/decisions/adr-0003 to
adr-0007).

diffmig patches two dbt internals (dbt_runner.py: `_keep_connections_open`, `_link_graph_once`)
and forks four of dbt's default materializations (macros/materializations/view.sql, seed.sql,
table.sql and test.sql, copies of dbt 1.11's with a fast path in front). Nothing else would notice when a dbt upgrade
changes what they were written against: these tests fail then, saying what to re-read.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from pathlib import Path

import pytest

# The signatures of the dbt objects the patches replace or call, as dbt 1.11 has them.
RECORDED_SIGNATURES = {
    "BaseConnectionManager.release": "(self) -> None",
    "BaseConnectionManager.get_if_exists": (
        "(self) -> Optional[dbt.adapters.contracts.connection.Connection]"
    ),
    "Compiler.compile": (
        "(self, manifest: dbt.contracts.graph.manifest.Manifest, write=True, "
        "add_test_edges=False) -> dbt.graph.graph.Graph"
    ),
    "Compiler.initialize": "(self)",
}
# The attributes of dbt's Connection the kept-connection release reads.
CONNECTION_FIELDS = {"state", "transaction_open", "handle"}

# md5 of dbt-adapters' default materializations our forks copy (dbt 1.11, dbt-adapters 1.24).
RECORDED_UPSTREAM_MD5 = {
    "models/view.sql": "be686e66e56de27e2753e6ed4239db03",
    "seeds/seed.sql": "f94f37e587524a26c5af777f15515d3a",
    "models/table.sql": "eac4a9b34117b6afdc815ad8d75f4c6f",
    "tests/test.sql": "275e2148694886939734f585ea4f1d2b",
}
FORKS = {
    "models/view.sql": "macros/materializations/view.sql (ADR 0005)",
    "seeds/seed.sql": "macros/materializations/seed.sql (ADR 0006)",
    "models/table.sql": "macros/materializations/table.sql (ADR 0007)",
    "tests/test.sql": "macros/materializations/test.sql (ADR 0007)",
}


def _released_by_postgres() -> Callable[..., object]:
    """The `release` our patch overrides: the one PostgresConnectionManager inherits (read past
    our own replacement, which may already be in place in this process)."""
    from dbt.adapters.postgres.connections import PostgresConnectionManager

    for cls in PostgresConnectionManager.__mro__[1:]:
        if "release" in cls.__dict__:
            found: Callable[..., object] = cls.__dict__["release"]
            return found
    raise AssertionError("no class above PostgresConnectionManager defines release")


def _current_signatures() -> dict[str, str]:
    from dbt.adapters.base.connections import BaseConnectionManager
    from dbt.compilation import Compiler

    compile_ = getattr(Compiler.compile, "__wrapped__", Compiler.compile)  # past our wrapper
    return {
        "BaseConnectionManager.release": str(inspect.signature(_released_by_postgres())),
        "BaseConnectionManager.get_if_exists": str(
            inspect.signature(BaseConnectionManager.get_if_exists)
        ),
        "Compiler.compile": str(inspect.signature(compile_)),
        "Compiler.initialize": str(inspect.signature(Compiler.initialize)),
    }


def test_patched_dbt_functions_keep_their_signatures() -> None:
    from dbt.adapters.base.connections import BaseConnectionManager

    assert _released_by_postgres() is BaseConnectionManager.__dict__["release"], (
        "PostgresConnectionManager no longer inherits release from BaseConnectionManager: "
        "re-read _keep_connections_open (docs/decisions/adr-0003) against the new dbt"
    )
    current = _current_signatures()
    changed = {k: v for k, v in current.items() if v != RECORDED_SIGNATURES[k]}
    assert not changed, (
        f"dbt changed what diffmig patches: {changed}. Re-read dbt_runner.py "
        "_keep_connections_open (ADR 0003) and _link_graph_once (ADR 0004) against the new dbt, "
        "fix them, then update RECORDED_SIGNATURES here"
    )


def test_kept_connections_find_the_connection_fields_they_read() -> None:
    from dbt.adapters.contracts.connection import Connection

    # `handle` is a property over the `_handle` field; the constructor names them all.
    fields = set(inspect.signature(Connection).parameters)
    assert fields >= CONNECTION_FIELDS, (
        f"dbt's Connection lost {sorted(CONNECTION_FIELDS - fields)}: re-read "
        "_keep_connections_open (docs/decisions/adr-0003) against the new dbt"
    )


def test_patches_still_apply() -> None:
    """The patches install, and the graph cache keeps dbt's original reachable."""
    from dbt.adapters.postgres.connections import PostgresConnectionManager
    from dbt.compilation import Compiler

    from orchestrator.dbt_runner import _keep_connections_open, _link_graph_once

    _keep_connections_open()
    _link_graph_once()
    assert PostgresConnectionManager.__dict__["release"].__module__ == "orchestrator.dbt_runner"
    assert inspect.signature(Compiler.compile.__wrapped__) == inspect.signature(  # type: ignore[attr-defined]
        Compiler.compile
    )


def _upstream(relative: str) -> Path:
    import dbt.include.global_project as global_project

    return Path(global_project.PACKAGE_PATH) / "macros" / "materializations" / relative


@pytest.mark.parametrize("relative", sorted(RECORDED_UPSTREAM_MD5))
def test_forked_materializations_match_their_upstream(relative: str) -> None:
    path = _upstream(relative)
    assert path.is_file(), f"dbt no longer ships {path}: re-read the fork {FORKS[relative]}"
    digest = hashlib.md5(path.read_bytes()).hexdigest()  # noqa: S324 - a file fingerprint
    assert digest == RECORDED_UPSTREAM_MD5[relative], (
        f"dbt's default materialization {path} changed (md5 {digest}). Re-read the fork "
        f"{FORKS[relative]} against the new upstream, port what changed, then update "
        f"RECORDED_UPSTREAM_MD5[{relative!r}] to {digest!r} in {Path(__file__).name}"
    )
