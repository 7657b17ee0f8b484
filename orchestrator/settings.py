"""Settings, built once from the environment and `.env` before anything connects.

The earlier migration scripts' variable names keep working:
    SOURCE_DB_HOST, SOURCE_DB_PORT, SOURCE_DB_USER, SOURCE_DB_PASSWORD, SOURCE_DB_NAME,
    TARGET_DB_HOST, TARGET_DB_PORT, TARGET_DB_USER, TARGET_DB_PASSWORD, TARGET_DB_NAME,
    SUPABASE_URL, SUPABASE_SERVICE_ROLE.
So do whole URLs: SOURCE_DATABASE_URL and TARGET_DATABASE_URL. A URL is read first; any of the
separate *_DB_* variables that is set overrides the matching part of it.

Nothing here reads the environment at import time. Secrets are wrapped in `Secret`, whose repr and
str never show the value, and every known secret is registered with `redact()`, the one function
that scrubs text before it is printed, logged or reported.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from dotenv import dotenv_values
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from orchestrator.errors import ConfigError

SANDBOX_ENV_FILE = Path(".sandbox") / "sandbox.env"
_MASK = "***"
_known_secrets: set[str] = set()

Side = Literal["source", "target"]
TRANSPORTS = ("auto", "fdw", "copy")
# What dbt writes to logs/dbt.log. Its own default, debug, writes every statement of every node
# (10 MB per delta run) and costs about a tenth of a run's time; info keeps each node's start,
# end and errors.
DBT_LOG_LEVELS = ("debug", "info", "warn", "error", "none")
# Runs whose analysis keys and range checkpoints retention keeps (bookkeeping/store.py).
DEFAULT_KEEP_RUNS = 5
DEFAULT_PROOF_ROTATION = 20  # runs within which every parity bucket is proven again
# Supabase's session pooler caps a user's clients at the pool size: 15 on the smallest plan.
DEFAULT_POOL_SIZE = 15
# DIFFMIG_RANGE_KEYS is a multiple of the sync's checksum bucket width (sync/mirror.py
# BUCKET_WIDTH; a unit test keeps the two equal).
RANGE_KEYS_STEP = 32
# The statement_timeout diffmig sets on every destination session it opens (its own and dbt's),
# from DIFFMIG_STATEMENT_TIMEOUT: hosted Supabase gives every role that sets none a 2-minute
# limit, which one upsert of a large table exceeds. 0 = none: every statement diffmig sends is
# bounded by the data it moves, and a statement cut short would only fail again on resume.
DEFAULT_STATEMENT_TIMEOUT = "0"
_TIMEOUT = re.compile(r"^(?P<n>\d+)\s*(?P<unit>ms|s|min|h|d)?$", re.I)


class Secret:
    """A value that must never be shown. `reveal()` is the only way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        if value:
            _known_secrets.add(value)

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def register_secret(value: str) -> None:
    """Make `redact()` scrub a value that did not come through `Secret` (a sandbox password)."""
    if value:
        _known_secrets.add(value)


_URL_PASSWORD = re.compile(
    r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\s]+)(?P<tail>@)", re.I
)
_KV_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?P<pw>'(?:[^'\\]|\\.)*'|\S+)", re.I)


def redact(text: str) -> str:
    """Remove every known secret and every password-looking part of a DSN from `text`."""
    out = _URL_PASSWORD.sub(lambda m: m["head"] + _MASK + m["tail"], text)
    out = _KV_PASSWORD.sub(lambda m: m["head"] + _MASK, out)
    # Longest first, so that a secret containing another is replaced whole.
    for secret in sorted(_known_secrets, key=len, reverse=True):
        out = out.replace(secret, _MASK)
    return out


def is_local_host(host: str) -> bool:
    """True for loopback addresses, 'localhost' and Unix socket directories."""
    if not host or host.startswith("/") or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class DbSettings:
    """How to reach one database. `conninfo()` is the only place a password leaves its Secret."""

    side: Side
    host: str
    port: int
    user: str
    password: Secret
    dbname: str
    sslmode: str
    application_name: str = "diffmig"
    # Set on every session diffmig opens to this database (the destination's only); None keeps
    # the server's (the source's sessions are the legacy server operator's to limit).
    statement_timeout: str | None = None

    def conninfo(self, **overrides: str | int) -> str:
        params: dict[str, str | int] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "dbname": self.dbname,
            "sslmode": self.sslmode,
            "application_name": self.application_name,
            "connect_timeout": 10,
        }
        if self.password:
            params["password"] = self.password.reveal()
        params.update(overrides)
        return make_conninfo(**{k: str(v) for k, v in params.items()})

    def describe(self) -> str:
        """Where this points, fit for logs and reports (never the password)."""
        return f"{self.user}@{self.host}:{self.port}/{self.dbname} (sslmode={self.sslmode})"

    @property
    def is_local(self) -> bool:
        return is_local_host(self.host)


@dataclass(frozen=True)
class Settings:
    source: DbSettings
    target: DbSettings
    supabase_url: str | None = None
    supabase_service_role: Secret = field(default_factory=lambda: Secret(""))
    transport: str = "auto"
    env_file: Path | None = None
    dbt_log_level: str = "info"
    keep_runs: int = DEFAULT_KEEP_RUNS  # DIFFMIG_KEEP_RUNS
    range_keys: int | None = None  # DIFFMIG_RANGE_KEYS; None: the sync's default
    log_dir: Path | None = None  # DIFFMIG_LOG_DIR; None: logs/ of the project
    reports_dir: Path | None = None  # DIFFMIG_REPORTS_DIR; None: reports/ of the project
    allow_insecure: bool = False  # DIFFMIG_ALLOW_INSECURE
    pool_size: int = DEFAULT_POOL_SIZE  # DIFFMIG_POOL_SIZE: Supabase's session pooler's cap
    # DIFFMIG_PROOF_ROTATION: every bucket of the parity ledger is proven again within this
    # many runs (proofs.py, ADR 0011)
    proof_rotation: int = DEFAULT_PROOF_ROTATION

    def describe(self) -> dict[str, str]:
        return {
            "source": self.source.describe(),
            "target": self.target.describe(),
            "env_file": str(self.env_file) if self.env_file else "(environment only)",
        }


def _pick_env_file(env_file: Path | None, cwd: Path) -> Path | None:
    if env_file is not None:
        if not env_file.is_file():
            raise ConfigError(
                f"env file {env_file} does not exist",
                hint="pass an existing file to --env-file, or copy .env.example to .env",
            )
        return env_file
    for candidate in (cwd / ".env", cwd / SANDBOX_ENV_FILE):
        if candidate.is_file():
            return candidate
    return None


def _db_from_env(side: Side, env: Mapping[str, str]) -> DbSettings:
    prefix = side.upper()
    params: dict[str, str] = {}
    url = env.get(f"{prefix}_DATABASE_URL", "").strip()
    if url:
        try:
            params = {k: str(v) for k, v in conninfo_to_dict(url).items() if v is not None}
        except Exception as exc:  # noqa: BLE001 - psycopg raises ProgrammingError for bad URLs
            raise ConfigError(
                f"{prefix}_DATABASE_URL is not a valid PostgreSQL URL: {redact(str(exc))}",
                hint="use the form postgresql://user:password@host:5432/dbname",
            ) from None
    for part, key in (
        ("host", "HOST"),
        ("port", "PORT"),
        ("user", "USER"),
        ("password", "PASSWORD"),
        ("dbname", "NAME"),
        ("sslmode", "SSLMODE"),
    ):
        value = env.get(f"{prefix}_DB_{key}")
        if value:
            params[part] = value

    missing = [p for p in ("host", "user", "dbname") if not params.get(p)]
    if missing:
        names = ", ".join(f"{prefix}_DB_{'NAME' if p == 'dbname' else p.upper()}" for p in missing)
        raise ConfigError(
            f"the {side} database is not configured: {names} missing",
            hint=f"set {names} (or {prefix}_DATABASE_URL) in .env, or pass --env-file; "
            "for the local sandbox run `diffmig sandbox up` first",
        )
    try:
        port = int(params.get("port", "5432"))
    except ValueError:
        raise ConfigError(
            f"{prefix}_DB_PORT must be a number, got {params.get('port')!r}",
            hint="set it to the server's TCP port, e.g. 5432",
        ) from None

    host = params["host"]
    insecure_ok = _allow_insecure(env)
    sslmode = params.get("sslmode") or ("prefer" if is_local_host(host) else "require")
    if not is_local_host(host) and sslmode in ("disable", "allow", "prefer") and not insecure_ok:
        raise ConfigError(
            f"the {side} database {host} is not local and sslmode={sslmode} would allow an "
            "unencrypted connection",
            hint=f"remove {prefix}_DB_SSLMODE (TLS is then required), or set "
            "DIFFMIG_ALLOW_INSECURE=1 to opt out explicitly",
        )
    return DbSettings(
        side=side,
        host=host,
        port=port,
        user=params["user"],
        password=Secret(params.get("password", "")),
        dbname=params["dbname"],
        sslmode=sslmode,
    )


def _directory(values: Mapping[str, str], name: str) -> Path | None:
    """A directory setting: None when unset (the command's default under the project)."""
    raw = values.get(name, "").strip()
    return Path(raw) if raw else None


def _allow_insecure(env: Mapping[str, str]) -> bool:
    return env.get("DIFFMIG_ALLOW_INSECURE", "").strip().lower() in ("1", "true", "yes")


def _proof_rotation(env: Mapping[str, str]) -> int:
    raw = env.get("DIFFMIG_PROOF_ROTATION", "").strip()
    if not raw:
        return DEFAULT_PROOF_ROTATION
    try:
        return max(1, int(raw))
    except ValueError:
        raise ConfigError(
            f"DIFFMIG_PROOF_ROTATION must be a number, got {raw!r}",
            hint="set it to the runs within which every ledger bucket is proven again "
            f"(default {DEFAULT_PROOF_ROTATION})",
        ) from None


def _keep_runs(env: Mapping[str, str]) -> int:
    raw = env.get("DIFFMIG_KEEP_RUNS", "").strip()
    if not raw:
        return DEFAULT_KEEP_RUNS
    try:
        return max(1, int(raw))
    except ValueError:
        raise ConfigError(
            f"DIFFMIG_KEEP_RUNS must be a number, got {raw!r}",
            hint=f"set it to how many recent runs keep their keys (default {DEFAULT_KEEP_RUNS})",
        ) from None


def _range_keys(env: Mapping[str, str]) -> int | None:
    raw = env.get("DIFFMIG_RANGE_KEYS", "").strip()
    if not raw:
        return None
    try:
        keys = int(raw)
    except ValueError:
        raise ConfigError(
            f"DIFFMIG_RANGE_KEYS must be a number, got {raw!r}",
            hint="remove it for the default (65536 keys per range)",
        ) from None
    if keys < RANGE_KEYS_STEP or keys % RANGE_KEYS_STEP:
        raise ConfigError(
            f"DIFFMIG_RANGE_KEYS must be a multiple of {RANGE_KEYS_STEP}, got {keys}",
            hint="remove it for the default (65536 keys per range)",
        )
    return keys


def _pool_size(env: Mapping[str, str]) -> int:
    raw = env.get("DIFFMIG_POOL_SIZE", "").strip()
    if not raw:
        return DEFAULT_POOL_SIZE
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(
            f"DIFFMIG_POOL_SIZE must be a positive number, got {raw!r}",
            hint=f"set it to your plan's session pooler pool size (default {DEFAULT_POOL_SIZE})",
        )
    return int(raw)


def parse_statement_timeout(raw: str) -> str:
    """DIFFMIG_STATEMENT_TIMEOUT as PostgreSQL takes it: 0 (none), milliseconds, or a number with
    a unit (ms, s, min, h, d), e.g. 30min."""
    value = raw.strip().lower() or DEFAULT_STATEMENT_TIMEOUT
    found = _TIMEOUT.match(value)
    if found is None:
        raise ConfigError(
            f"DIFFMIG_STATEMENT_TIMEOUT must be 0 (none), milliseconds or a number with a unit "
            f"(ms, s, min, h, d), got {raw!r}",
            hint="e.g. DIFFMIG_STATEMENT_TIMEOUT=2h; remove it for none (the default)",
        )
    return found["n"] + (found["unit"] or "")


def statement_timeout_ms(value: str) -> int:
    """A timeout as parse_statement_timeout() returns it, in milliseconds (0 = none)."""
    found = _TIMEOUT.match(value)
    assert found is not None
    factor = {"": 1, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
    return int(found["n"]) * factor[(found["unit"] or "").lower()]


def load_settings(
    env_file: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Build the settings: `.env` (or `env_file`) first, the process environment on top.

    Without --env-file, `./.env` is read, or else the sandbox's `.sandbox/sandbox.env`.
    """
    base = Path.cwd() if cwd is None else cwd
    chosen = _pick_env_file(env_file, base)
    values: dict[str, str] = {}
    if chosen is not None:
        values.update({k: v for k, v in dotenv_values(chosen).items() if v is not None})
    values.update(os.environ if environ is None else environ)

    transport = values.get("DIFFMIG_TRANSPORT", "auto").strip().lower() or "auto"
    if transport not in TRANSPORTS:
        raise ConfigError(
            f"DIFFMIG_TRANSPORT must be one of {', '.join(TRANSPORTS)}, got {transport!r}",
            hint="remove it to let diffmig choose",
        )
    dbt_log_level = values.get("DIFFMIG_DBT_LOG_LEVEL", "info").strip().lower() or "info"
    if dbt_log_level not in DBT_LOG_LEVELS:
        raise ConfigError(
            f"DIFFMIG_DBT_LOG_LEVEL must be one of {', '.join(DBT_LOG_LEVELS)}, "
            f"got {dbt_log_level!r}",
            hint="remove it for info; debug writes every statement dbt runs to logs/dbt.log",
        )
    timeout = parse_statement_timeout(values.get("DIFFMIG_STATEMENT_TIMEOUT", ""))
    return Settings(
        source=_db_from_env("source", values),
        target=replace(_db_from_env("target", values), statement_timeout=timeout),
        supabase_url=values.get("SUPABASE_URL") or None,
        supabase_service_role=Secret(
            values.get("SUPABASE_SERVICE_ROLE") or values.get("SUPABASE_SERVICE_ROLE_KEY") or ""
        ),
        transport=transport,
        env_file=chosen,
        dbt_log_level=dbt_log_level,
        allow_insecure=_allow_insecure(values),
        keep_runs=_keep_runs(values),
        range_keys=_range_keys(values),
        pool_size=_pool_size(values),
        proof_rotation=_proof_rotation(values),
        log_dir=_directory(values, "DIFFMIG_LOG_DIR"),
        reports_dir=_directory(values, "DIFFMIG_REPORTS_DIR"),
    )
