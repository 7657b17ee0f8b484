"""`diffmig doctor`: preflight checks of both connections, the roles and the destination."""

from __future__ import annotations

import click

from orchestrator.cli.context import AppContext
from orchestrator.cli.options import common_options
from orchestrator.errors import ConfigError

pass_app = click.make_pass_decorator(AppContext)


@click.command(
    help="Check both connections before a migration: reachable, TLS, server versions, no "
    "transaction-mode pooler, the roles' privileges (schemas, postgres_fdw, uuid-ossp, the "
    "legacy tables, the app tables), statement timeouts, disk to provision and the private "
    "schemas' isolation from the API roles. Exit 3 when a check fails."
)
@common_options
@pass_app
def doctor(app: AppContext) -> None:
    from orchestrator.doctor import all_ok, run_doctor, settings_failure

    try:
        settings = app.settings
    except ConfigError as exc:
        findings = [settings_failure(exc)]
    else:
        findings = run_doctor(settings)
    docs = [f.as_dict() for f in findings]
    app.console.table(
        "diffmig doctor",
        ["check", "status", "detail", "fix"],
        [(d["check"], d["status"], d["detail"], d["fix"]) for d in docs],
    )
    ok = all_ok(findings)
    app.console.result({"findings": docs, "ok": ok})
    failed = [f.check for f in findings if f.status == "fail"]
    warned = [f.check for f in findings if f.status == "warn"]
    if warned:
        app.console.warn(f"{len(warned)} warning(s): {', '.join(warned)}")
    if failed:
        raise ConfigError(
            f"{len(failed)} check(s) failed: {', '.join(failed)}",
            hint="apply the fixes in the table above, then run `diffmig doctor` again",
        )
    app.console.info(f"all {len(findings)} checks passed" + (" (with warnings)" if warned else ""))
