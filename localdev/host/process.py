"""`python -m localdev host` as a child process of the stack and of the tests.

Started, waited for (its HTTP port) and stopped through localdev.processes:
SIGTERM to its process group lets in-flight invocations finish within the
shutdown timeout; SIGKILL follows five seconds after that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from localdev.processes import (
    ROOT,
    ChildProcess,
    Launcher,
    PortOpen,
    ProcessNotReady,
    python_command,
)

__all__ = ["ROOT", "HostProcess", "ProcessNotReady"]


@dataclass
class HostProcess(Launcher):
    """One `python -m localdev host` child (with its instances, one process group)."""

    port: int
    host: str = "127.0.0.1"
    env_overrides: Mapping[str, str] = field(default_factory=dict)
    log_path: Path | None = None  # None: the host writes to our terminal
    app: Path = ROOT / "function_app.py"
    settings: Path = ROOT / "local.settings.json"
    shutdown_timeout: float = 30.0
    extra_args: tuple[str, ...] = ()

    name = "Functions host"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        return [
            *python_command("localdev", "host"),
            *("--host", self.host, "--port", str(self.port)),
            *("--app", str(self.app), "--settings", str(self.settings)),
            *("--shutdown-timeout", str(self.shutdown_timeout)),
            *self.extra_args,
        ]

    def start(self, timeout: float = 30.0) -> HostProcess:
        """Start the host and wait until its HTTP port accepts connections."""
        self.child = ChildProcess(
            name=self.name,
            command=self.command(),
            readiness=[PortOpen(self.host, self.port)],
            cwd=self.app.parent,
            env_overrides=self.env_overrides,
            log_path=self.log_path,
            inherit_output=self.log_path is None,
            # In-flight invocations get their grace period before SIGKILL.
            stop_timeout=self.shutdown_timeout + 5,
        )
        self.child.start(timeout)
        return self
