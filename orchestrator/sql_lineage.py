"""Column lineage of the dbt mapping, read from the model files (no dbt import, no parse).

The project's index (project_index.py) says which marts there are, what each declares
(`config.meta.diffmig`) and which columns each writes (its owned columns: the mart's YAML
columns). Two facts are not in the index, and come from here:
    - which columns of each legacy table the staging models select (a source column no model
      selects is "not used by the mapping"; a selected column the source lost stops the sync);
    - which legacy columns fill each mart column (for the notes and the recommendations).

dbt's manifest has no column lineage, the mirror holds every source column (used or not), and
PostgreSQL's catalogs know which columns a view reads but not which output each feeds, nothing
before the first build, and nothing of the marts (tables); so they come from a deliberately small
reading of the SQL:
    1. Jinja comments go; `{{ ref('x') }}` and `{{ source('a', 'b') }}` become relation tokens;
       `{{ config(...) }}` goes; in any other `{{ ... }}` (macro calls such as
       `safe_jsonb('schemes')`) quoted names become plain identifiers; `{% ... %}` tags go.
    2. Every `select` list is split on its top-level commas; each item gives its output name
       (`expr as name`, `t.name`, `name`) and the identifiers its expression mentions. WHERE,
       JOIN and GROUP BY clauses are not lineage and are not read.
    3. A mart column's lineage follows those identifiers: through the model's own items (CTE
       chains), into every model it refs that produces the name, down to a model that selects from
       `source('legacy', T)`, where an identifier that is a live column of T is the answer.
The result over-approximates a little (every identifier of an expression counts, a CASE's
conditions included) and misses what macros build from string concatenation (the key-resolution
macros); the notes say "computed" where nothing legacy was found. Good enough to say which legacy
column fills which app column and to recommend a mapping for a new one; it never decides a run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from orchestrator.project_index import LEGACY_SOURCE, PROJECT_ROOT, ProjectIndex, load_index

MODELS_DIR = PROJECT_ROOT / "models"

_JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.S)
_FRAME_SOURCE = re.compile(
    r"entity_inputs\(\s*['\"][^'\"]+['\"]\s*,\s*(?:['\"]([^'\"]+)['\"]|"
    r"[^)]*?source\s*=\s*['\"]([^'\"]+)['\"])"
)
_JINJA_TAG = re.compile(r"\{%.*?%\}", re.S)
_JINJA_EXPR = re.compile(r"\{\{(.*?)\}\}", re.S)
_REF = re.compile(r"""\bref\(\s*['"]([\w.]+)['"]\s*\)""")
_SOURCE = re.compile(r"""\bsource\(\s*['"](\w+)['"]\s*,\s*['"](\w+)['"]\s*\)""")
_QUOTED_NAME = re.compile(r"""'([A-Za-z_][A-Za-z0-9_]*)'""")
_DOUBLE_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_TOKEN = re.compile(
    r"""
    (?P<string>'(?:[^']|'')*')
  | (?P<qident>"(?:[^"]|"")+")
  | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
  | (?P<number>\d+(?:\.\d*)?)
  | (?P<cast>::)
  | (?P<punct>[(),.\[\]*])
  | (?P<other>[^\sA-Za-z0-9_'"(),.\[\]*]+)
    """,
    re.X,
)
_CLAUSE_END = {
    "from",
    "where",
    "group",
    "order",
    "limit",
    "union",
    "except",
    "intersect",
    "having",
    "window",
    "offset",
    "fetch",
    "into",
}
_KEYWORDS = {
    "select", "distinct", "on", "as", "case", "when", "then", "else", "end", "and", "or", "not",
    "is", "null", "true", "false", "in", "like", "ilike", "between", "cast", "coalesce",
    "nullif", "over", "partition", "by", "filter", "within", "array", "exists", "any", "all",
    "from", "where",
    "asc", "desc", "nulls", "first", "last", "lateral", "row", "some", "similar", "to",
    "escape", "at", "time", "zone", "with", "without",
}  # fmt: skip


@dataclass(frozen=True)
class Token:
    kind: str
    text: str

    @property
    def name(self) -> str | None:
        """The identifier this token is (lower-cased word, or a quoted identifier), else None."""
        if self.kind == "word":
            return self.text.lower()
        if self.kind == "qident":
            return self.text[1:-1].replace('""', '"')
        if self.kind == "rel":
            return None
        return None


@dataclass
class SelectItem:
    alias: str | None  # None for `*` and `t.*`
    identifiers: frozenset[str]
    star: bool = False


@dataclass
class Model:
    name: str
    path: Path
    items: list[SelectItem]
    final_items: list[SelectItem]  # the last top-level select: what the model outputs
    refs: tuple[str, ...]
    sources: tuple[tuple[str, str], ...]

    def produces(self, column: str) -> bool:
        return any(i.alias == column for i in self.items) or any(i.star for i in self.items)

    @property
    def legacy_tables(self) -> list[str]:
        return [t for s, t in self.sources if s == LEGACY_SOURCE]

    @property
    def output_columns(self) -> list[str] | None:
        """The model's output column names, or None when its last select is `*`."""
        if any(i.star for i in self.final_items):
            return None
        return [i.alias for i in self.final_items if i.alias]


def _strip_config(text: str) -> str:
    """Remove `{{ config(...) }}`, whose arguments may hold `{{ ... }}` strings themselves."""
    match = re.search(r"\{\{\s*config\s*\(", text)
    if match is None:
        return text
    depth, i, quote = 1, match.end(), ""
    while i < len(text) and depth:
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        i += 1
    end = text.find("}}", i)
    return text[: match.start()] + " " + (text[end + 2 :] if end >= 0 else "")


def _preprocess(text: str) -> tuple[str, list[str], list[tuple[str, str]]]:
    refs: list[str] = []
    sources: list[tuple[str, str]] = []
    text = _strip_config(_JINJA_COMMENT.sub(" ", text))
    # The frame's entity_inputs(entity, source, ...), called as {{ }} or {% call %}, selects its
    # staged rows from ref(source) (macros/entities/entity_pattern.sql).
    refs.extend(m.group(1) or m.group(2) for m in _FRAME_SOURCE.finditer(text))

    def expr(match: re.Match[str]) -> str:
        inner = match.group(1)
        stripped = inner.strip()
        if stripped.startswith("config("):
            return " "
        ref = _REF.fullmatch(stripped)
        if ref:
            refs.append(ref.group(1))
            return f" __rel_{len(refs) - 1}__ "
        src = _SOURCE.fullmatch(stripped)
        if src:
            sources.append((src.group(1), src.group(2)))
            return f" __src_{len(sources) - 1}__ "
        # A macro call: its refs/sources still count, its quoted names become identifiers and
        # its double-quoted SQL snippets become SQL.
        refs.extend(_REF.findall(inner))
        sources.extend(_SOURCE.findall(inner))
        inner = _DOUBLE_QUOTED.sub(lambda m: " " + m.group(1) + " ", inner)
        inner = _QUOTED_NAME.sub(lambda m: " " + m.group(1) + " ", inner)
        return " " + inner + " "

    text = _JINJA_EXPR.sub(expr, text)
    text = _JINJA_TAG.sub(" ", text)
    # SQL line comments (after the Jinja, whose strings may hold '--'). Strings are kept whole.
    text = re.sub(r"--[^\n]*", " ", text)
    return text, refs, sources


def tokenize(text: str) -> list[Token]:
    return [Token(m.lastgroup or "other", m.group(m.lastgroup or 0)) for m in _TOKEN.finditer(text)]


def _split_items(tokens: list[Token], start: int) -> tuple[list[list[Token]], int]:
    """The items of the select list beginning at `start` (after SELECT); returns them and the
    index where the list ends."""
    items: list[list[Token]] = []
    current: list[Token] = []
    depth = 0
    i = start
    while i < len(tokens):
        tok = tokens[i]
        low = tok.text.lower() if tok.kind == "word" else tok.text
        if tok.kind == "punct" and tok.text in "([":
            depth += 1
        elif tok.kind == "punct" and tok.text in ")]":
            if depth == 0:
                break
            depth -= 1
        elif depth == 0 and tok.kind == "word" and low in _CLAUSE_END:
            break
        if depth == 0 and tok.kind == "punct" and tok.text == ",":
            items.append(current)
            current = []
        else:
            current.append(tok)
        i += 1
    if current:
        items.append(current)
    return items, i


def _item(tokens: list[Token]) -> SelectItem | None:
    while tokens and tokens[0].kind == "word" and tokens[0].text.lower() in ("distinct", "all"):
        tokens = tokens[1:]
        if tokens and tokens[0].kind == "word" and tokens[0].text.lower() == "on":
            # distinct on (...): skip the parenthesised list
            depth = 0
            for j, tok in enumerate(tokens[1:], start=1):
                if tok.text == "(":
                    depth += 1
                elif tok.text == ")":
                    depth -= 1
                    if depth == 0:
                        tokens = tokens[j + 1 :]
                        break
    if not tokens:
        return None
    if tokens[-1].text == "*":
        return SelectItem(None, frozenset(), star=True)
    alias: str | None = None
    expr = tokens
    if len(tokens) >= 2 and tokens[-2].kind == "word" and tokens[-2].text.lower() == "as":
        alias = tokens[-1].name
        expr = tokens[:-2]
    elif len(tokens) == 1:
        alias = tokens[0].name
    elif len(tokens) == 3 and tokens[1].text == ".":
        alias = tokens[2].name
    idents: set[str] = set()
    for j, tok in enumerate(expr):
        name = tok.name
        if name is None or name.startswith("__rel_") or name.startswith("__src_"):
            continue
        after = expr[j + 1] if j + 1 < len(expr) else None
        if after is not None and after.text == ".":
            continue  # a qualifier (table or CTE name)
        if after is not None and after.text == "(" and tok.kind == "word":
            continue  # a function name
        before = expr[j - 1] if j > 0 else None
        if before is not None and (
            before.kind == "cast" or (before.kind == "word" and before.text.lower() == "as")
        ):
            continue  # a type name: after :: or in cast(x as type)
        if after is not None and after.kind == "string" and tok.kind == "word":
            continue  # a typed literal: date '2020-01-01', interval '1 day'
        if tok.kind == "word" and name in _KEYWORDS:
            continue
        idents.add(name)
    return SelectItem(alias, frozenset(idents))


def parse_select_items(tokens: list[Token]) -> tuple[list[SelectItem], list[SelectItem]]:
    """Every select item of the file, and the items of its last top-level select."""
    items: list[SelectItem] = []
    final: list[SelectItem] = []
    depth = 0
    for i, tok in enumerate(tokens):
        if tok.kind == "punct" and tok.text in "([":
            depth += 1
        elif tok.kind == "punct" and tok.text in ")]":
            depth = max(depth - 1, 0)
        if tok.kind == "word" and tok.text.lower() == "select":
            raw, _ = _split_items(tokens, i + 1)
            parsed = [it for it in (_item(r) for r in raw) if it is not None]
            items.extend(parsed)
            if depth == 0:
                final = parsed
    return items, final


def parse_model(path: Path) -> Model:
    text, refs, sources = _preprocess(path.read_text(encoding="utf-8"))
    tokens = tokenize(text)
    items, final = parse_select_items(tokens)
    return Model(
        name=path.stem,
        path=path,
        items=items,
        final_items=final,
        refs=tuple(dict.fromkeys(refs)),
        sources=tuple(dict.fromkeys(sources)),
    )


class Project:
    """The dbt project's models, parsed once, with column lineage down to the legacy tables."""

    def __init__(self, index: ProjectIndex | None = None, models_dir: Path = MODELS_DIR) -> None:
        index = index or load_index()
        self.models: dict[str, Model] = {}
        for path in sorted(models_dir.rglob("*.sql")):
            model = parse_model(path)
            self.models[model.name] = model
        self.marts = sorted(index.marts)
        for mart in self.marts:
            self._mart_rows(mart)
        self._written = {e.name: list(e.owned_columns) for e in index.entities}
        self._declared_tables = {e.name: e.meta.legacy_table for e in index.entities}
        self._memo: dict[tuple[str, str], frozenset[tuple[str, str]]] = {}
        self._legacy_columns: dict[str, set[str]] = {}

    def _mart_rows(self, mart: str) -> None:
        """A mart whose body is `{{ mart_rows() }}` (macros/entities) selects its owned columns,
        by name, from its mapped model int_<mart>_mapped: read as a `select *` of it."""
        model = self.models.get(mart)
        if model is None or model.refs or "mart_rows()" not in model.path.read_text("utf-8"):
            return
        star = [SelectItem(alias=None, identifiers=frozenset(), star=True)]
        self.models[mart] = Model(
            name=mart,
            path=model.path,
            items=star,
            final_items=star,
            refs=(f"int_{mart}_mapped",),
            sources=(),
        )

    def use_source_columns(self, columns: Mapping[str, Iterable[str]]) -> None:
        """The live source columns per legacy table: an identifier is a legacy column only if the
        table has it."""
        self._legacy_columns = {t: set(cols) for t, cols in columns.items()}
        self._memo.clear()

    # --- what the staging models use --------------------------------------------------------

    def used_source_columns(self) -> dict[str, set[str]]:
        """Per legacy table, the columns that a model selecting from it names in a select item."""
        used: dict[str, set[str]] = {}
        for model in self.models.values():
            for table in model.legacy_tables:
                live = self._legacy_columns.get(table, set())
                names = {n for item in model.items for n in item.identifiers}
                used.setdefault(table, set()).update(names & live)
        return used

    def missing_source_columns(self) -> dict[str, set[str]]:
        """Per legacy table, the names its reading models select that the table lacks (a column
        the mapping uses and the source dropped). Only models that read one legacy table and ref
        nothing are considered (the staging models), so every name there is a source column, an
        alias of the model itself, or one of the mirror's own `_` columns."""
        missing: dict[str, set[str]] = {}
        for model in self.models.values():
            if len(model.legacy_tables) != 1 or model.refs:
                continue
            table = model.legacy_tables[0]
            live = self._legacy_columns.get(table)
            if live is None:
                continue
            computed = {i.alias for i in model.items if i.alias and i.alias not in i.identifiers}
            names = {n for i in model.items for n in i.identifiers}
            gone = {n for n in names - live - computed if not n.startswith("_")}
            if gone:
                missing.setdefault(table, set()).update(gone)
        return missing

    def staging_models(self) -> dict[str, list[str]]:
        """Per legacy table, the models that select from it."""
        out: dict[str, list[str]] = {}
        for model in self.models.values():
            for table in model.legacy_tables:
                out.setdefault(table, []).append(model.name)
        return out

    # --- what the marts write ---------------------------------------------------------------

    def mart_columns(self, mart: str) -> list[str] | None:
        """The columns the mart writes (its owned columns, from the index), or None for a mart
        the index does not know."""
        return self._written.get(mart)

    def lineage(self, model_name: str, column: str) -> frozenset[tuple[str, str]]:
        """The (legacy table, column) pairs that feed `column` of `model_name`."""
        return self._lineage(model_name, column, set())

    def _lineage(
        self, model_name: str, column: str, visiting: set[tuple[str, str]]
    ) -> frozenset[tuple[str, str]]:
        key = (model_name, column)
        if key in self._memo:
            return self._memo[key]
        if key in visiting:
            return frozenset()
        model = self.models.get(model_name)
        if model is None:
            return frozenset()
        visiting.add(key)
        found: set[tuple[str, str]] = set()
        producing = [i for i in model.items if i.alias == column]
        names: set[str] = set()
        for item in producing:
            names |= item.identifiers
        if not producing:
            names = {column}  # passed through a `select *`
        for table in model.legacy_tables:
            live = self._legacy_columns.get(table, set())
            found |= {(table, n) for n in names if n in live}
        for name in names:
            if name != column and any(i.alias == name for i in model.items):
                found |= self._lineage(model_name, name, visiting)
            for ref in model.refs:
                parent = self.models.get(ref)
                if parent is not None and parent.produces(name):
                    found |= self._lineage(ref, name, visiting)
        visiting.discard(key)
        result = frozenset(found)
        self._memo[key] = result
        return result

    def main_legacy_tables(self, mart: str) -> list[str]:
        """The legacy tables a mart is about, main one first: those its YAML names in
        meta.diffmig.legacy_table (free text such as "dispatch_file.record_id,
        dispatch_record_attachments" is read for table names), else the table that feeds most
        of its columns."""
        model = self.models.get(mart)
        if model is None:
            return []
        known = {t for m in self.models.values() for t in m.legacy_tables}
        declared = self._declared_tables.get(mart)
        if isinstance(declared, str):
            named = [w for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", declared) if w in known]
            if named:
                return list(dict.fromkeys(named))
        counts: dict[str, int] = {}
        for column in self.mart_columns(mart) or model.output_columns or []:
            for table in {t for t, _ in self.lineage(mart, column)}:
                counts[table] = counts.get(table, 0) + 1
        if not counts:
            return []
        return [max(sorted(counts), key=lambda t: counts[t])]

    def main_legacy_table(self, mart: str) -> str | None:
        tables = self.main_legacy_tables(mart)
        return tables[0] if tables else None
