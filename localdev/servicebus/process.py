"""Start the emulator as a child process (for tests, the local stack and benchmarks)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

from localdev.servicebus.amqp.auth import SAS_KEY_NAME, SAS_KEY_VALUE
from localdev.servicebus.broker.config import DEFAULT_QUEUE_PROPERTIES

ROOT = Path(__file__).resolve().parents[2]


class EmulatorNotAvailable(RuntimeError):
    """The emulator process exited or never started listening."""


DEFAULT_PORT = 5672


def connection_string(port: int = DEFAULT_PORT, host: str = "localhost") -> str:
    """The SDK connection string for an emulator on `port` (no port in it at the default)."""
    endpoint = host if port == DEFAULT_PORT else f"{host}:{port}"
    return (
        f"Endpoint=sb://{endpoint};SharedAccessKeyName={SAS_KEY_NAME};"
        f"SharedAccessKey={SAS_KEY_VALUE};UseDevelopmentEmulator=true;"
    )


def emulator_command(
    host: str, port: int, config_path: Path | None = None, data_dir: Path | None = None
) -> list[str]:
    """The `python -m localdev servicebus` command line for these options."""
    cmd = [sys.executable, "-m", "localdev", "servicebus", "--host", host, "--port", str(port)]
    if config_path is not None:
        cmd += ["--config", str(config_path)]
    if data_dir is not None:
        cmd += ["--data-dir", str(data_dir)]
    return cmd


def write_config(path: Path, queues: dict[str, dict[str, object]]) -> Path:
    """Write a Config.json with these queues; unspecified properties take the project defaults."""
    entries = [
        {"Name": name, "Properties": {**DEFAULT_QUEUE_PROPERTIES, **props}}
        for name, props in queues.items()
    ]
    document = {
        "UserConfig": {
            "Namespaces": [{"Name": "sbemulatorns", "Queues": entries, "Topics": []}],
            "Logging": {"Type": "File"},
        }
    }
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path


class ServiceBusEmulatorProcess:
    """`python -m localdev servicebus` as a child process."""

    def __init__(
        self,
        port: int,
        config_path: Path | None = None,
        data_dir: Path | None = None,
        log_path: Path | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.port = port
        self.config_path = config_path
        self.data_dir = data_dir
        self.log_path = log_path
        self.host = host
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def connection_string(self) -> str:
        return connection_string(self.port)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def command(self) -> list[str]:
        return emulator_command(self.host, self.port, self.config_path, self.data_dir)

    def start(self, timeout: float = 15.0) -> ServiceBusEmulatorProcess:
        """Start the process and wait until it accepts AMQP connections."""
        # Output goes to a file, never a pipe nobody reads (a full pipe would block the emulator).
        self._log = self.log_path.open("a+b") if self.log_path else tempfile.TemporaryFile()  # noqa: SIM115
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            self.command(),
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self._wait_listening(timeout)
        except Exception:
            self.kill()
            raise
        return self

    def _wait_listening(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                detail = self._stderr_tail()
                raise EmulatorNotAvailable(
                    f"the emulator exited with code {code} before listening: {detail}"
                )
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise EmulatorNotAvailable(
            f"the emulator did not listen on {self.host}:{self.port} within {timeout:.0f}s"
        )

    def _stderr_tail(self) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace").strip()[-2000:]

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM: the emulator commits and closes its connections, then exits."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        self._close_log()

    def kill(self) -> None:
        """SIGKILL: no chance to clean up (crash tests)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> ServiceBusEmulatorProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
