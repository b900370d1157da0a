"""Start the emulator as a child process (for tests, the local stack and benchmarks)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from localdev.processes import ChildProcess, PortOpen
from localdev.servicebus.amqp.auth import SAS_KEY_NAME, SAS_KEY_VALUE
from localdev.servicebus.broker.config import DEFAULT_QUEUE_PROPERTIES

DEFAULT_PORT = 5672


def connection_string(port: int = DEFAULT_PORT, host: str = "localhost") -> str:
    """The SDK connection string for an emulator on `port` (no port in it at the default)."""
    endpoint = host if port == DEFAULT_PORT else f"{host}:{port}"
    return (
        f"Endpoint=sb://{endpoint};SharedAccessKeyName={SAS_KEY_NAME};"
        f"SharedAccessKey={SAS_KEY_VALUE};UseDevelopmentEmulator=true;"
    )


def emulator_command(
    host: str,
    port: int,
    config_path: Path | None = None,
    data_dir: Path | None = None,
    admin_port: int | None = None,
    admin_cert_dir: Path | None = None,
) -> list[str]:
    """The `python -m localdev servicebus` command line for these options."""
    cmd = [sys.executable, "-m", "localdev", "servicebus", "--host", host, "--port", str(port)]
    if config_path is not None:
        cmd += ["--config", str(config_path)]
    if data_dir is not None:
        cmd += ["--data-dir", str(data_dir)]
    if admin_port is not None:
        cmd += ["--admin-port", str(admin_port)]
    if admin_cert_dir is not None:
        cmd += ["--admin-cert-dir", str(admin_cert_dir)]
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
    """`python -m localdev servicebus` as a child process (see localdev.processes)."""

    name = "Service Bus emulator"

    def __init__(
        self,
        port: int,
        config_path: Path | None = None,
        data_dir: Path | None = None,
        log_path: Path | None = None,
        host: str = "127.0.0.1",
        admin_port: int | None = None,
        admin_cert_dir: Path | None = None,
    ) -> None:
        self.port = port
        self.admin_port = admin_port  # the management API (HTTPS); None: not served
        self.admin_cert_dir = admin_cert_dir
        self.config_path = config_path
        self.data_dir = data_dir
        self.log_path = log_path
        self.host = host
        self.child: ChildProcess | None = None

    @property
    def connection_string(self) -> str:
        return connection_string(self.port)

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        return self.child.process if self.child else None

    @property
    def pid(self) -> int | None:
        return self.child.pid if self.child else None

    def command(self) -> list[str]:
        return emulator_command(
            self.host,
            self.port,
            self.config_path,
            self.data_dir,
            self.admin_port,
            self.admin_cert_dir,
        )

    def start(self, timeout: float = 15.0) -> ServiceBusEmulatorProcess:
        """Start the process and wait until it accepts AMQP connections.

        The emulator opens its management port before the AMQP one, so with
        `admin_port` both answer once this returns.
        """
        self.child = ChildProcess(
            name=self.name,
            command=self.command(),
            readiness=[PortOpen(self.host, self.port)],
            log_path=self.log_path,
        )
        self.child.start(timeout)
        return self

    def poll(self) -> int | None:
        """The exit code if the emulator has exited, else None."""
        return self.child.poll() if self.child else None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM: the emulator commits and closes its connections, then exits."""
        if self.child is not None:
            self.child.stop(timeout)

    def kill(self) -> None:
        """SIGKILL: no chance to clean up (crash tests)."""
        if self.child is not None:
            self.child.kill()

    def __enter__(self) -> ServiceBusEmulatorProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
