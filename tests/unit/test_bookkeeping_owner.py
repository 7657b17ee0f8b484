"""The private schema `diffmig` is owned by orchestrator/bookkeeping/: no SQL outside that
package names it (a bookkeeping table or function behind `diffmig.`, the schema constant in an
f-string or a psycopg Identifier, or the constant imported at all). The other diffmig_* schemas
(diffmig_staging, diffmig_source) are not concerned."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import orchestrator

PACKAGE = Path(orchestrator.__file__).parent
OWNER = PACKAGE / "bookkeeping"
SCHEMA_NAME = "diffmig"
SCHEMA_CONSTANTS = {"SCHEMA"}
# A qualified name in the schema: `diffmig.` then an identifier, not part of a longer dotted
# name (config.meta.diffmig.legacy_key is YAML, not SQL) nor of another schema (diffmig_staging).
QUALIFIED = re.compile(r"(?<![\w.])\"?diffmig\"?\.\"?([a-z_][a-z0-9_]*)", re.IGNORECASE)
SQL_WORDS = re.compile(
    r"\b(select|insert|update|delete|copy|analyze|join|from|into|create|alter|drop|truncate|"
    r"to_regclass|returning)\b",
    re.IGNORECASE,
)


def bookkeeping_objects() -> set[str]:
    """The tables, indexes and functions the DDL creates in the schema."""
    found = {"schema_version"}
    for path in (OWNER / "ddl").glob("*.sql"):
        text = path.read_text(encoding="utf-8")
        found |= {m.lower() for m in QUALIFIED.findall(text)}
    return found


def _text_of(node: ast.AST) -> str | None:
    """A string literal's text; an f-string's with `{}` for each interpolation."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            str(part.value) if isinstance(part, ast.Constant) else "{}" for part in node.values
        )
    return None


def _names_constant(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id in SCHEMA_CONSTANTS) or (
        isinstance(node, ast.Attribute) and node.attr in SCHEMA_CONSTANTS
    )


def _docstrings(tree: ast.AST) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def violations(source: str, objects: set[str]) -> list[str]:
    """Where `source` (a Python module outside the owner) names the schema in SQL."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "orchestrator.bookkeeping"
        ):
            found += [
                f"line {node.lineno}: imports {a.name}"
                for a in node.names
                if a.name in SCHEMA_CONSTANTS
            ]
        if isinstance(node, ast.JoinedStr):
            parts = node.values
            for before, after in zip(parts, parts[1:], strict=False):
                if (
                    isinstance(before, ast.FormattedValue)
                    and _names_constant(before.value)
                    and isinstance(after, ast.Constant)
                    and str(after.value).startswith(".")
                ):
                    found.append(f"line {node.lineno}: f-string {{SCHEMA}}{str(after.value)[:20]}")
        if isinstance(node, ast.Call) and node.args:
            callee = node.func
            name = callee.attr if isinstance(callee, ast.Attribute) else getattr(callee, "id", "")
            first = node.args[0]
            if name == "Identifier" and (
                _names_constant(first)
                or (isinstance(first, ast.Constant) and first.value == SCHEMA_NAME)
            ):
                found.append(f"line {node.lineno}: Identifier of the schema")
        if id(node) in skip:
            continue
        text = _text_of(node)
        if text is None or not SQL_WORDS.search(text):
            continue
        for name in QUALIFIED.findall(text):
            if name.lower() in objects:
                found.append(f"line {getattr(node, 'lineno', 0)}: SQL names diffmig.{name}")
    return found


def test_the_detector_sees_each_form() -> None:
    objects = bookkeeping_objects()
    assert {"runs", "run_steps", "checkpoints", "mirror_buckets", "row_issues"} <= objects
    samples = {
        'conn.execute("select max(run_id) from diffmig.runs")': 1,
        'conn.execute(f"update {SCHEMA}.runs set status = %s")': 1,
        'conn.execute(f"delete from {store.SCHEMA}.checkpoints")': 1,
        'sql.SQL("insert into {} values (1)").format(sql.Identifier(SCHEMA, "retries"))': 1,
        'sql.Identifier("diffmig", "row_issues")': 1,
        "from orchestrator.bookkeeping.schema import SCHEMA": 1,
        'x = ("select 1 from "\n     "diffmig.mirror_buckets")': 1,
        # Not the bookkeeping schema's tables in SQL:
        'sql.Identifier("diffmig_staging", table)': 0,
        'conn.execute("select count(*) from diffmig_staging.dispatch_office")': 0,
        "hint = 'config.meta.diffmig.legacy_key names the column'": 0,
        "conn.execute(\"select current_setting('diffmig.run_id')\")": 0,
        'log = "their keys: the log file, and diffmig.row_issues"': 0,
        'def f() -> None:\n    """Reads diffmig.runs: select from it."""': 0,
    }
    for source, expected in samples.items():
        assert len(violations(source, objects)) == expected, source


def test_no_module_outside_bookkeeping_names_the_schema_in_sql() -> None:
    objects = bookkeeping_objects()
    offenders: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if OWNER in path.parents:
            continue
        for where in violations(path.read_text(encoding="utf-8"), objects):
            offenders.append(f"{path.relative_to(PACKAGE.parent)} {where}")
    for path in sorted(PACKAGE.rglob("*.sql")):
        if OWNER in path.parents:
            continue
        for name in QUALIFIED.findall(path.read_text(encoding="utf-8")):
            if name.lower() in objects:
                offenders.append(f"{path.relative_to(PACKAGE.parent)} names diffmig.{name}")
    assert not offenders, (
        "read and write the bookkeeping through orchestrator/bookkeeping/ functions:\n"
        + "\n".join(offenders)
    )
