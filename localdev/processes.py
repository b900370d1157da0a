"""Child processes of the local stack: start, wait until ready, log, stop, report exits.

Every child (Azurite, the Service Bus emulator, the Functions host and its
instances, the Auth0 stand-in) goes through `ChildProcess`:

- it runs in its own process group (`start_new_session`), so stopping it also
  stops whatever it started (Azurite's node workers, the host's instances);
- its output goes to a log file (or a private temporary file), never to a
  pipe nobody reads, so the tail can be shown when it dies;
- it is ready when every readiness probe says so: a TCP port accepting
  connections (`PortOpen`), a line in its log (`LogLine`), or an HTTP answer
  (`HttpReady`);
- it stops with SIGTERM to the group, then SIGKILL to the group after a grace
  period; `kill()` is SIGKILL at once (a crash, as far as the child can tell);
- when it has exited, `exit_report()` says which child, its exit code and
  the tail of its log.

The launchers (Azurite, the Service Bus emulator, the Functions host) build
their `ChildProcess` in `start()` and share the rest through `Launcher`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

ROOT = Path(__file__).resolve().parent.parent
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
LOG_TAIL_CHARS = 2000


class ProcessNotReady(RuntimeError):
    """A child exited before it was ready, or did not become ready in time."""


class Readiness(Protocol):
    """One condition a started child must meet before it counts as ready."""

    def met(self, child: ChildProcess) -> bool:
        """True once the condition holds (called repeatedly until the deadline)."""
        ...

    def describe(self) -> str:
        """What is awaited, for the error when it never comes."""
        ...


@dataclass(frozen=True)
class PortOpen:
    """Ready when something accepts TCP connections on host:port."""

    host: str
    port: int

    def met(self, child: ChildProcess) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def describe(self) -> str:
        return f"listening on {self.host}:{self.port}"


@dataclass(frozen=True)
class LogLine:
    """Ready when the child's log contains a line matching `pattern` (a regex)."""

    pattern: str

    def met(self, child: ChildProcess) -> bool:
        return re.search(self.pattern, child.log_text()) is not None

    def describe(self) -> str:
        return f"a log line matching {self.pattern!r}"


@dataclass(frozen=True)
class HttpReady:
    """Ready when `url` answers HTTP at all (any status below 500)."""

    url: str

    def met(self, child: ChildProcess) -> bool:
        # No proxy: the child is local, and a proxy from the environment would answer for it.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(self.url, timeout=1.0):
                return True
        except urllib.error.HTTPError as exc:
            return exc.code < 500
        except (OSError, ValueError):
            return False

    def describe(self) -> str:
        return f"an HTTP answer from {self.url}"


@dataclass(frozen=True)
class ProcessExit:
    """A child that has exited: which one, its exit code and the end of its log."""

    name: str
    code: int
    log_tail: str

    def __str__(self) -> str:
        return self.describe()

    def describe(self, when: str = "") -> str:
        """`NAME exited with code N[ when]; its log ends with: ...`."""
        tail = f"; its log ends with:\n{self.log_tail}" if self.log_tail else ""
        return f"{self.name} exited with code {self.code}{when}{tail}"


def python_command(*args: str) -> list[str]:
    """`python -m ...` with this interpreter (the virtualenv's)."""
    return [sys.executable, "-m", *args]


@dataclass
class ChildProcess:
    """One child process in its own group; `start()` returns once it is ready.

    `log_path=None` with `inherit_output=False` captures output in a private
    temporary file (deleted on stop); `inherit_output=True` lets the child
    write to our terminal (then no log tail can be reported).
    `die_with_parent=True` has the kernel SIGKILL the child when we die
    (Linux PR_SET_PDEATHSIG): a supervisor's instances never outlive it, even
    when it is SIGKILLed, while a SIGTERM to its group still reaches only it,
    so it alone decides how its instances stop.
    """

    name: str
    command: Sequence[str]
    readiness: Sequence[Readiness] = ()
    cwd: Path = ROOT
    env_overrides: Mapping[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    inherit_output: bool = False
    stop_timeout: float = 10.0
    die_with_parent: bool = False
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _log: IO[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def environment(self) -> dict[str, str]:
        """Ours, plus the overrides; the project importable and Python output unbuffered."""
        env = {**os.environ, **self.env_overrides}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def start(self, timeout: float = 30.0) -> ChildProcess:
        """Start the child and wait until every readiness probe is met (or raise, child killed)."""
        self.launch()
        try:
            self.wait_ready(timeout)
        except ProcessNotReady:
            self.kill()
            raise
        return self

    def launch(self) -> None:
        """Start the child without waiting for it (`wait_ready` waits)."""
        self._close_log()
        self._log = self._open_log()
        self.process = subprocess.Popen(
            list(self.command),
            cwd=self.cwd,
            env=self.environment(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT if self._log else None,
            start_new_session=True,
            # preexec_fn is unsafe only in threaded parents; the supervisor has one thread.
            preexec_fn=die_with_parent if self.die_with_parent else None,
        )
        if self.log_path is not None:
            self._close_log()  # the child holds its own descriptor; the file is read by path

    def _open_log(self) -> IO[bytes] | None:
        if self.inherit_output and self.log_path is None:
            return None
        if self.log_path is None:
            return tempfile.TemporaryFile()  # closed in _close_log
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        return self.log_path.open("ab")

    def wait_ready(self, timeout: float) -> None:
        """Poll the probes until all are met; ProcessNotReady on exit or timeout."""
        deadline = time.monotonic() + timeout
        pending = list(self.readiness)
        while pending:
            exited = self.exit_report()
            if exited is not None:
                raise ProcessNotReady(exited.describe(" before it was ready"))
            pending = [probe for probe in pending if not probe.met(self)]
            if not pending:
                return
            if time.monotonic() >= deadline:
                awaited = ", ".join(probe.describe() for probe in pending)
                where = f" (log: {self.log_path})" if self.log_path else ""
                raise ProcessNotReady(
                    f"{self.name} was not ready after {timeout:.0f}s, "
                    f"still waiting for {awaited}{where}"
                )
            time.sleep(0.05)

    def poll(self) -> int | None:
        """The exit code if the child has exited, else None (also None if never started)."""
        return None if self.process is None else self.process.poll()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def exit_report(self) -> ProcessExit | None:
        """Which child exited, with what code and the end of its log; None while it runs."""
        code = self.poll()
        if code is None:
            return None
        return ProcessExit(self.name, code, self.log_tail())

    def log_text(self) -> str:
        """Everything the child has written so far (empty when output goes to the terminal)."""
        if self._log is not None and self.log_path is None:
            self._log.flush()
            self._log.seek(0)
            return self._log.read().decode(errors="replace")
        if self.log_path is not None and self.log_path.exists():
            return self.log_path.read_bytes().decode(errors="replace")
        return ""

    def log_tail(self, chars: int = LOG_TAIL_CHARS) -> str:
        """The last `chars` characters of the log, stripped."""
        return self.log_text().strip()[-chars:]

    def stop(self, timeout: float | None = None) -> int | None:
        """SIGTERM to the group, SIGKILL after `timeout` (default `stop_timeout`); the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.send(signal.SIGTERM)
            try:
                self.process.wait(self.stop_timeout if timeout is None else timeout)
            except subprocess.TimeoutExpired:
                self._kill_group()
        self._close_log()
        return self.process.returncode

    def wait_exit(self, timeout: float) -> int | None:
        """Wait up to `timeout` for the child to exit; its code, or None if still running."""
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        """SIGKILL the whole group at once: it dies mid-work, like a crash."""
        if self.process is not None and self.process.poll() is None:
            self._kill_group()
        self._close_log()

    def _kill_group(self) -> None:
        assert self.process is not None
        self.send(signal.SIGKILL)
        self.process.wait(10)

    def send(self, sig: signal.Signals) -> None:
        """Signal the child's process group."""
        if self.process is not None:
            signal_group(self.process, sig)

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


class Launcher:
    """A part of the stack whose `start()` builds its `ChildProcess` as `child`.

    Everything after the start goes to that child; before it, there is no
    process, the queries answer None and stopping does nothing.
    """

    child: ChildProcess | None = None

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        """The running child, if started (fault tests signal it)."""
        return self.child.process if self.child else None

    @property
    def pid(self) -> int | None:
        return self.child.pid if self.child else None

    def poll(self) -> int | None:
        """The exit code if the child has exited, else None."""
        return self.child.poll() if self.child else None

    def stop(self, timeout: float | None = None) -> int | None:
        """SIGTERM its process group (and wait), SIGKILL after `timeout`; the exit code.

        The default timeout is the child's `stop_timeout`.
        """
        return self.child.stop(timeout) if self.child else None

    def kill(self) -> None:
        """SIGKILL its process group: it dies mid-work, like a crash (fault tests)."""
        if self.child is not None:
            self.child.kill()


def die_with_parent() -> None:
    """In the child, before exec: be SIGKILLed when the parent dies (Linux prctl)."""
    parent = os.getppid()
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """Send `sig` to the child's process group (it leads its own session)."""
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return
