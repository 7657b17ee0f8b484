"""`diffmig validate`: the dbt project's data tests plus the migration_mappings checks."""

from __future__ import annotations

import click

from orchestrator.cli.context import AppContext
from orchestrator.cli.mappings import SHOWN_KEYS, render_check
from orchestrator.cli.options import common_options, entities_option

pass_app = click.make_pass_decorator(AppContext)


@click.command(
    help="Prove the target: run the dbt project's data tests (failing rows stored in "
    "diffmig_audit) and the migration_mappings checks, and name the keys behind each failure. "
    "Exit 1 on any failing test or mapping problem (warn-level tests and junk mappings are "
    "listed only)."
)
@entities_option(
    "Comma-separated entities (marts, e.g. offices): only their tests and mapping types "
    "(default: all)."
)
@click.option(
    "--select",
    "select",
    default=None,
    help="A dbt selection for the tests instead (e.g. 'offices,test_type:generic').",
)
@click.option(
    "--full",
    is_flag=True,
    help="Prove everything: every dbt test and every bucket of the parity ledger (default: "
    "what changed since each entity's last proof, without the dbt tests).",
)
@common_options
@pass_app
def validate(app: AppContext, entities: list[str] | None, select: str | None, full: bool) -> None:
    from orchestrator.errors import ChecksFailed
    from orchestrator.validate import describe_keys
    from orchestrator.validate import validate as run_validation

    app.start_log("validate")
    report = run_validation(
        app.settings, entities=entities, select=select.split() if select else None, full=full
    )
    doc = report.as_dict()
    app.console.info(f"proved: {report.proved}")
    if report.proofs:
        app.console.table(
            f"proofs ({report.proved})",
            ["entity", "scope", "reason", "buckets touched/slice/ledger", "errors", "warnings"],
            [
                (
                    p.entity,
                    p.scope,
                    p.reason,
                    f"{p.touched_buckets}/{p.slice_buckets}/{p.ledger_buckets}",
                    p.errors,
                    p.warnings,
                )
                for p in report.proofs
            ],
        )
    tests = doc["tests"]
    app.console.table(
        f"dbt tests: {tests['run']:,} run, {tests['failed']:,} failed, {tests['warned']:,} warned",
        ["test", "status", "failures", f"failing rows' keys (first {SHOWN_KEYS})"],
        [(o.name, o.status, o.failures, describe_keys(o, SHOWN_KEYS)) for o in report.outcomes]
        or [("(all)", "pass", 0, "")],
    )
    render_check(app, doc["mappings"], "migration_mappings problems")
    if report.not_applied:
        app.console.warn(
            f"not proven: {', '.join(report.not_applied)} (no run has applied them yet; "
            "`diffmig run --entities <entity>` applies one)"
        )
    if report.unbuilt_models:
        app.console.info(
            f"not tested: {', '.join(report.unbuilt_models)} (models no entity builds: no run "
            "creates them)"
        )
    app.console.result(doc)
    if report.violations:
        failed = [t["test"] for t in doc["failing_tests"] if t["status"] != "warn"]
        parts = []
        if failed:
            parts.append(
                f"{len(failed)} failing tests ({', '.join(failed[:5])}"
                + (", ..." if len(failed) > 5 else "")
                + ")"
            )
        failed_proofs = [p.entity for p in report.proofs if p.errors]
        if failed_proofs:
            parts.append(f"failing proofs of {', '.join(failed_proofs)}")
        if doc["mappings"]["violations"]:
            parts.append(f"{doc['mappings']['violations']:,} migration_mappings problem rows")
        raise ChecksFailed(
            "validation failed: " + " and ".join(parts),
            hint="the keys are listed above (JSON: every key); dbt's failing rows are in the "
            "diffmig_audit tables; `diffmig mappings repair` fixes the mapping problems",
        )
    app.console.info("valid: every test passed and migration_mappings agrees with the target")
