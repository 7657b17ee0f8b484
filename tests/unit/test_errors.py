"""errors.diagnose: the operational causes a failed build or run is explained with."""

from __future__ import annotations

import pytest

from orchestrator.errors import diagnose, hint_for


@pytest.mark.parametrize(
    ("text", "sqlstate", "cause", "action"),
    [
        (
            'could not extend file "base/1/2": No space left on device',
            None,
            "out of disk space",
            "free some disk space",
        ),
        ("anything", "53100", "out of disk space", "free some disk space"),
        (
            "canceling statement due to statement timeout",
            None,
            "statement_timeout",
            "DIFFMIG_STATEMENT_TIMEOUT",
        ),
        (
            "cannot execute INSERT in a read-only transaction",
            None,
            "read-only mode",
            "add disk space",
        ),
        ("anything", "25006", "read-only mode", "default_transaction_read_only = off"),
        (
            "terminating connection due to administrator command",
            None,
            "connection to the destination was lost",
            "accepts connections again",
        ),
        ("FATAL: the database system is shutting down", None, "was lost", "doctor"),
        ("permission denied for table offices", None, "privilege", "doctor"),
    ],
)
def test_known_causes_are_named_with_what_to_do(
    text: str, sqlstate: str | None, cause: str, action: str
) -> None:
    found = diagnose(text, sqlstate)
    assert found is not None
    assert cause in found[0]
    assert action in found[1]


def test_other_errors_are_not_guessed() -> None:
    assert diagnose('relation "public.offices" does not exist') is None
    assert diagnose("division by zero", "22012") is None


def test_one_hint_table_names_cause_action_and_how_to_continue() -> None:
    hint = hint_for("could not write block", "53100", "`diffmig sync --resume` continues")
    assert hint.startswith("the destination is out of disk space: free some disk space")
    assert hint.endswith("then `diffmig sync --resume` continues")
    unknown = hint_for("syntax error at or near", "42601", "run the command again")
    assert unknown == "fix the cause named above; then run the command again"
