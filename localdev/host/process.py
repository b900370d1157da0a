"""Child processes of the stack: `python -m localdev host` and friends (also used by tests).

The child gets its own process group, so stopping it also stops anything
the app started; SIGTERM first (graceful: in-flight work finishes), SIGKILL
after the timeout.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from localdev.azurite import wait_for_port

ROOT = Path(__file__).resolve().parents[2]


def stop_process_group(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM the child's group, then SIGKILL it if it has not exited within `timeout`."""
    if process.poll() is not None:
        return
    _signal_group(process, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        kill_process_group(process)


def kill_process_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's group (a crash, as far as the child can tell) and reap it."""
    _signal_group(process, signal.SIGKILL)
    process.wait(10)


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return


class ProcessNotReady(RuntimeError):
    """A child process exited or never listened on its port."""


HostNotReady = ProcessNotReady


@dataclass
class ManagedProcess:
    """A child process in its own group, ready once it listens on `port`."""

    port: int
    host: str = "127.0.0.1"
    env_overrides: Mapping[str, str] = field(default_factory=dict)
    log_path: Path | None = None  # None: inherit stdout/stderr (the terminal)
    stop_timeout: float = 10.0
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    name = "process"

    def command(self) -> list[str]:
        raise NotImplementedError

    def working_directory(self) -> Path:
        return ROOT

    def start(self, timeout: float = 30.0) -> ManagedProcess:
        """Start the child and wait until it accepts connections on its port."""
        env = {**os.environ, **self.env_overrides}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        if self.log_path:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
        output = self.log_path.open("ab") if self.log_path else None
        try:
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.working_directory(),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT if output else None,
                start_new_session=True,
            )
        finally:
            if output:
                output.close()
        try:
            wait_for_port(self.host, self.port, timeout, self.process)
        except Exception as exc:
            self.kill()
            where = f" (log: {self.log_path})" if self.log_path else ""
            raise ProcessNotReady(f"{self.name} did not start: {exc}{where}") from exc
        return self

    def stop(self, timeout: float | None = None) -> int | None:
        """Graceful stop (SIGTERM, then SIGKILL after the timeout); returns the exit code."""
        if self.process is None:
            return None
        stop_process_group(self.process, self.stop_timeout if timeout is None else timeout)
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL the child's group: it dies mid-work, like a crash."""
        if self.process is not None and self.process.poll() is None:
            kill_process_group(self.process)

    def poll(self) -> int | None:
        """The exit code if the process has exited, else None."""
        return None if self.process is None else self.process.poll()


@dataclass
class HostProcess(ManagedProcess):
    """One `python -m localdev host` child process."""

    app: Path = ROOT / "function_app.py"
    settings: Path = ROOT / "local.settings.json"
    shutdown_timeout: float = 30.0

    name = "local Functions host"

    def __post_init__(self) -> None:
        # Give in-flight invocations their grace period before SIGKILL.
        self.stop_timeout = self.shutdown_timeout + 5

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def working_directory(self) -> Path:
        return self.app.parent

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "localdev",
            "host",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--app",
            str(self.app),
            "--settings",
            str(self.settings),
            "--shutdown-timeout",
            str(self.shutdown_timeout),
        ]
