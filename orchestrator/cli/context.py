"""What every command receives: the console, and the settings built once on first use."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.console import Console, make_console
from orchestrator.runlog import LoggedConsole, RunLog
from orchestrator.settings import Settings, load_settings


@dataclass
class AppContext:
    console: Console
    output: str
    debug: bool
    env_file: Path | None
    _settings: Settings | None = field(default=None, repr=False)
    log: RunLog | None = field(default=None, repr=False)

    @classmethod
    def create(cls, *, env_file: str | None, output: str | None, debug: bool) -> AppContext:
        chosen = output or "table"
        return cls(
            console=make_console(chosen),
            output=chosen,
            debug=debug,
            env_file=Path(env_file) if env_file else None,
        )

    def override(self, *, env_file: str | None, output: str | None) -> None:
        if env_file is not None:
            self.env_file = Path(env_file)
            self._settings = None
        if output is not None and output != self.output:
            self.output = output
            self.console = make_console(output)

    def start_log(self, command: str) -> RunLog:
        """Open the command's JSON-lines log (runlog.py), say where it is, and copy every
        message of the console into it. Closed when the process ends."""
        log = RunLog.open(command, self.settings.log_dir)
        self.log = log
        self.console = LoggedConsole(self.console, log)
        log.write("info", "command_started", command=command, argv=_argv())
        self.console.info(f"log: {log.path}")
        return log

    @property
    def settings(self) -> Settings:
        """Loaded once, on first use, so commands that need no database (sandbox, --help) work
        without a configured .env."""
        if self._settings is None:
            self._settings = load_settings(self.env_file)
        return self._settings


def _argv() -> list[Any]:
    import sys

    return list(sys.argv[1:])
