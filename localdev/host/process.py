"""Run `python -m localdev host` as a child process (for the stack and the tests).

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


class HostNotReady(RuntimeError):
    """The host process exited or never listened."""


@dataclass
class HostProcess:
    """One local Functions host child process."""

    port: int
    app: Path = ROOT / "function_app.py"
    settings: Path = ROOT / "local.settings.json"
    host: str = "127.0.0.1"
    env_overrides: Mapping[str, str] = field(default_factory=dict)
    log_path: Path | None = None  # None: inherit stdout/stderr (the terminal)
    shutdown_timeout: float = 30.0
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

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

    def start(self, timeout: float = 30.0) -> HostProcess:
        """Start the host and wait until it accepts HTTP connections."""
        env = {**os.environ, **self.env_overrides}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        output = self.log_path.open("ab") if self.log_path else None
        try:
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.app.parent,
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
            raise HostNotReady(f"local Functions host did not start: {exc}{where}") from exc
        return self

    def stop(self, timeout: float | None = None) -> int | None:
        """Graceful stop (SIGTERM, in-flight work finishes); returns the exit code."""
        if self.process is None:
            return None
        grace = self.shutdown_timeout + 5 if timeout is None else timeout
        stop_process_group(self.process, grace)
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL: the host dies mid-work, like a crashed worker."""
        if self.process is not None and self.process.poll() is None:
            kill_process_group(self.process)

    def poll(self) -> int | None:
        """The exit code if the process has exited, else None."""
        return None if self.process is None else self.process.poll()
