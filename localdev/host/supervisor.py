"""The host's supervisor: one process per instance of each function group, kept running.

`python -m localdev host` runs this. It starts every instance of every group
(localdev/host/groups.py) as `python -m localdev host --group G --instance N`
through localdev.processes, waits until the HTTP port answers, then:

- restarts an instance that exits, after a backoff (0.5 s doubling to 30 s,
  back to 0.5 s once an instance has run for a minute), with one log line
  naming the group, the instance, its pid and its exit code;
- stops everything if an instance exits with 2 (it cannot start: bad
  settings, port taken), since a restart would fail the same way;
- on SIGTERM or SIGINT, sends SIGTERM to every instance once, gives them the
  shutdown grace period to finish in-flight work, then SIGKILLs what is left;
  a second signal SIGKILLs at once.

Instances share the supervisor's stdout (one log, each line tagged with
`instance`), and die with it even if it is SIGKILLed (die_with_parent).
The HTTP instances share the port through SO_REUSEPORT: the kernel spreads
new connections over them, and a dead instance's share goes to the others.
"""

from __future__ import annotations

import logging
import signal
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from localdev.host.config import StartupError
from localdev.host.groups import FunctionGroup
from localdev.host.invocation import log_event
from localdev.processes import ChildProcess, PortOpen, ProcessNotReady

EXIT_CANNOT_START = 2
BACKOFF_FIRST, BACKOFF_MAX, STABLE_AFTER = 0.5, 30.0, 60.0

CommandFor = Callable[[FunctionGroup, int], list[str]]


@dataclass
class Instance:
    """One running (or restarting) instance of a group."""

    group: FunctionGroup
    index: int
    child: ChildProcess
    started_at: float = 0.0
    backoff: float = BACKOFF_FIRST
    restart_at: float | None = None

    @property
    def label(self) -> str:
        return f"{self.group.name}#{self.index}"


def check_port_free(host: str, port: int) -> None:
    """StartupError if something already listens: SO_REUSEPORT alone would share it silently."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the instances bind: connections of a previous run in TIME_WAIT do not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc


@dataclass
class Supervisor:
    """Starts, watches, restarts and stops the instances of every group."""

    groups: list[FunctionGroup]
    command_for: CommandFor
    host: str
    port: int
    cwd: Path
    env: Mapping[str, str]
    shutdown_timeout: float = 30.0
    start_timeout: float = 60.0
    instances: list[Instance] = field(default_factory=list, init=False)
    _stopping: bool = field(default=False, init=False)
    _exit_code: int = field(default=0, init=False)

    def run(self) -> int:
        """Run until a stop signal (0) or an instance that cannot start (2)."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        try:
            self._start_all()
        except ProcessNotReady as exc:
            log_event("host.instance_not_ready", logging.ERROR, error=str(exc))
            self._stop_all()
            return EXIT_CANNOT_START
        while not self._stopping:
            self._watch()
            time.sleep(0.2)
        self._stop_all()
        return self._exit_code

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._stopping:  # a second signal: no more grace
            for instance in self.instances:
                instance.child.kill()
            raise SystemExit(130)
        self._stopping = True

    def _start_all(self) -> None:
        for group in self.groups:
            for index in range(group.instances):
                readiness = [PortOpen(self.host, self.port)] if group.serves_http else []
                child = ChildProcess(
                    name=f"host instance {group.name}#{index}",
                    command=self.command_for(group, index),
                    readiness=readiness,
                    cwd=self.cwd,
                    env_overrides=self.env,
                    inherit_output=True,
                    stop_timeout=self.shutdown_timeout + 5,
                    die_with_parent=True,
                )
                self.instances.append(Instance(group, index, child))
        for instance in self.instances:  # all at once: each loads the app in parallel
            self._launch(instance)
        for instance in self.instances:
            instance.child.wait_ready(self.start_timeout)
        log_event(
            "host.instances",
            groups={group.name: group.instances for group in self.groups},
            url=f"http://{self.host}:{self.port}",
        )

    def _launch(self, instance: Instance) -> None:
        instance.child.launch()
        instance.started_at = time.monotonic()
        instance.restart_at = None
        log_event("host.instance_started", instance=instance.label, pid=instance.child.pid)

    def _watch(self) -> None:
        now = time.monotonic()
        for instance in self.instances:
            if instance.restart_at is not None:
                if now >= instance.restart_at:
                    self._launch(instance)
                continue
            code = instance.child.poll()
            if code is not None:
                self._exited(instance, code, now)

    def _exited(self, instance: Instance, code: int, now: float) -> None:
        if code == EXIT_CANNOT_START:
            log_event("host.instance_cannot_start", logging.ERROR, instance=instance.label)
            self._stopping, self._exit_code = True, EXIT_CANNOT_START
            return
        if now - instance.started_at >= STABLE_AFTER:
            instance.backoff = BACKOFF_FIRST
        log_event(
            "host.instance_exited",
            logging.WARNING,
            instance=instance.label,
            pid=instance.child.pid,
            exit_code=code,
            restart_in_s=instance.backoff,
        )
        instance.restart_at = now + instance.backoff
        instance.backoff = min(instance.backoff * 2, BACKOFF_MAX)

    def _stop_all(self) -> None:
        running = [i for i in self.instances if i.child.running]
        log_event("host.stopping_instances", count=len(running))
        for instance in running:
            instance.child.send(signal.SIGTERM)
        deadline = time.monotonic() + self.shutdown_timeout + 5
        for instance in running:  # one SIGTERM each: a second one means "no grace" to a worker
            instance.child.wait_exit(max(0.0, deadline - time.monotonic()))
            instance.child.kill()  # only if still running at the deadline
        log_event("host.stopped")
