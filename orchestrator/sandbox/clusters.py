"""Throwaway local PostgreSQL clusters, made with initdb and started with pg_ctl.

Used by the sandbox (`diffmig sandbox up`) and by the test suite. Each cluster listens on
127.0.0.1 on a free port, with password (scram-sha-256) authentication for every TCP connection,
so every code path that needs a password is exercised as against the real servers. No Unix socket
is opened (its path length limit and permissions would depend on where the checkout lives).

PostgreSQL refuses to run as root: when we are root, the cluster is made and started as the
`postgres` OS user, which must then be able to reach the data directory; if it cannot (a checkout
under /root, say), the data directory moves to a private folder under the system temp directory
and the sandbox folder keeps a symlink to it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from orchestrator.errors import EnvironmentProblem
from orchestrator.settings import register_secret

_PG_BINARIES = ("initdb", "pg_ctl", "postgres")

# Tuned for a disposable sandbox: durability off (nothing here must survive a power loss; see
# FAST_DISK_SETTINGS), enough memory for bulk loads on a 2-core, 24 GB machine.
SANDBOX_SERVER_SETTINGS: dict[str, str] = {
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",
    "max_connections": "200",
    "shared_buffers": "'512MB'",
    "work_mem": "'64MB'",
    "maintenance_work_mem": "'512MB'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_wal_size": "'8GB'",
    "checkpoint_timeout": "'30min'",
    "logging_collector": "off",
    "log_min_messages": "warning",
    "log_min_error_statement": "panic",
    "timezone": "'UTC'",
    "log_timezone": "'UTC'",
}
# What makes every write faster than on a real server's disk: left at PostgreSQL's defaults
# (fsync, full page writes, synchronous commit on, WAL for replicas) by a durable cluster,
# which is what the benchmarks run on.
FAST_DISK_SETTINGS = (
    "fsync",
    "synchronous_commit",
    "full_page_writes",
    "wal_level",
    "max_wal_senders",
)


def find_pg_bindir() -> Path:
    """The directory holding initdb, pg_ctl and postgres (pg_config, then Debian's layout)."""
    candidates: list[Path] = []
    env_dir = os.environ.get("DIFFMIG_PG_BINDIR")
    if env_dir:
        candidates.append(Path(env_dir))
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True
            ).stdout.strip()
            candidates.append(Path(out))
    debian = Path("/usr/lib/postgresql")
    if debian.is_dir():
        versions = sorted(
            (p for p in debian.iterdir() if p.name.isdigit()),
            key=lambda p: int(p.name),
            reverse=True,
        )
        candidates.extend(v / "bin" for v in versions)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for candidate in candidates:
        if all((candidate / b).is_file() for b in _PG_BINARIES):
            return candidate
    raise EnvironmentProblem(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found",
        hint="install them: `apt-get install postgresql` (Debian/Ubuntu; version 15 or newer), "
        "or set DIFFMIG_PG_BINDIR to the directory that holds initdb",
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_is_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _running_as_root() -> bool:
    return os.geteuid() == 0


def _run_as_postgres_user(cmd: list[str]) -> list[str]:
    if not _running_as_root():
        return cmd
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise EnvironmentProblem(
            "running as root, and PostgreSQL refuses to run as root, but there is no `postgres` "
            "OS user to run it as",
            hint="create one (`useradd --system postgres`) or run diffmig as an ordinary user",
        ) from None
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", "postgres", "--", *cmd]
    return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(_shell_quote(c) for c in cmd)]


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def _postgres_can_use(path: Path) -> bool:
    """Whether the postgres OS user can traverse every parent of `path`."""
    probe = path
    while not probe.exists():
        probe = probe.parent
    result = subprocess.run(
        _run_as_postgres_user(["test", "-x", str(probe), "-a", "-r", str(probe)]), check=False
    )
    return result.returncode == 0


@dataclass
class LocalCluster:
    """One throwaway PostgreSQL server."""

    name: str
    data_dir: Path
    port: int
    superuser: str
    superuser_password: str
    bindir: Path
    # True: PostgreSQL's durability defaults (fsync on...), as a real server; False: the fast,
    # disposable settings of the sandbox and the test clusters.
    durable: bool = False

    def __post_init__(self) -> None:
        register_secret(self.superuser_password)

    @property
    def log_file(self) -> Path:
        return self.data_dir.parent / f"{self.name}.log"

    @property
    def exists(self) -> bool:
        return (self.data_dir / "PG_VERSION").is_file()

    def _bin(self, name: str) -> str:
        return str(self.bindir / name)

    def _run(self, cmd: list[str], what: str) -> None:
        result = subprocess.run(
            _run_as_postgres_user(cmd), capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
            raise EnvironmentProblem(
                f"{what} failed for the {self.name} cluster ({self.data_dir}): " + " | ".join(tail),
                hint=f"see {self.log_file}; `diffmig sandbox reset` starts from scratch",
            )

    def init(self) -> None:
        """Create the cluster (initdb) with its superuser and password authentication."""
        if self.exists:
            return
        root = self.data_dir.parent
        root.mkdir(parents=True, exist_ok=True)
        if _running_as_root():
            if not _postgres_can_use(root):
                raise EnvironmentProblem(
                    f"the postgres OS user cannot reach {root}",
                    hint="run from a checkout outside /root, or as an ordinary user",
                )
            shutil.chown(root, "postgres", "postgres")
        with tempfile.NamedTemporaryFile("w", dir=root, delete=False, prefix=".pw-") as fh:
            fh.write(self.superuser_password + "\n")
            pwfile = Path(fh.name)
        try:
            if _running_as_root():
                shutil.chown(pwfile, "postgres", "postgres")
            self._run(
                [
                    self._bin("initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    self.superuser,
                    f"--pwfile={pwfile}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ],
                "initdb",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        settings = "".join(
            f"{k} = {v}\n"
            for k, v in SANDBOX_SERVER_SETTINGS.items()
            if not (self.durable and k in FAST_DISK_SETTINGS)
        )
        conf = self.data_dir / "postgresql.conf"
        with conf.open("a") as fh:
            fh.write(f"\n# diffmig sandbox\nport = {self.port}\n{settings}")

    def is_running(self) -> bool:
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.is_file():
            return False
        try:
            pid = int(pid_file.read_text().splitlines()[0])
            os.kill(pid, 0)
        except (ValueError, IndexError, ProcessLookupError, PermissionError):
            return False
        return _port_is_open(self.port)

    def start(self) -> None:
        if self.is_running():
            return
        if _port_is_open(self.port):
            # Someone else took our port while the cluster was down: move to a free one.
            self.port = free_port()
            conf = self.data_dir / "postgresql.conf"
            conf.write_text(conf.read_text() + f"\nport = {self.port}\n")
        self._run(
            [
                self._bin("pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                "60",
                "start",
            ],
            "pg_ctl start",
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with self.connect("postgres", connect_timeout=2):
                    return
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise EnvironmentProblem(
            f"the {self.name} cluster started but does not accept connections on port {self.port}",
            hint=f"see {self.log_file}",
        )

    def stop(self, mode: str = "fast") -> None:
        if not (self.data_dir / "postmaster.pid").is_file():
            return
        self._run(
            [self._bin("pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop"],
            "pg_ctl stop",
        )

    def restart(self) -> None:
        self.stop()
        self.start()

    def destroy(self) -> None:
        with contextlib.suppress(EnvironmentProblem):
            self.stop("immediate")
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.log_file.unlink(missing_ok=True)

    def conninfo(self, dbname: str, user: str | None = None, password: str | None = None) -> str:
        return psycopg.conninfo.make_conninfo(
            host="127.0.0.1",
            port=str(self.port),
            dbname=dbname,
            user=user or self.superuser,
            password=password if password is not None else self.superuser_password,
            application_name="diffmig-sandbox",
        )

    def connect(
        self,
        dbname: str,
        user: str | None = None,
        password: str | None = None,
        *,
        autocommit: bool = True,
        connect_timeout: int = 10,
    ) -> psycopg.Connection:
        return psycopg.connect(
            self.conninfo(dbname, user, password),
            autocommit=autocommit,
            connect_timeout=connect_timeout,
        )


def sandbox_data_root(base: Path) -> Path:
    """Where cluster data lives: `base`, or (as root, when postgres cannot reach it) a temp dir."""
    base = base.resolve()
    if not _running_as_root() or _postgres_can_use(base.parent):
        return base
    digest = hashlib.sha256(str(base).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"diffmig-{digest}"
