"""Start the emulator as a child process (for tests, the local stack and benchmarks)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from localdev.processes import ChildProcess, Launcher, PortOpen, python_command
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


@dataclass
class ServiceBusEmulatorProcess(Launcher):
    """`python -m localdev servicebus` as a child process (see localdev.processes).

    `stop()` sends SIGTERM: the emulator commits and closes its connections,
    then exits; `kill()` sends SIGKILL: no chance to clean up (crash tests).
    """

    port: int
    config_path: Path | None = None
    data_dir: Path | None = None
    log_path: Path | None = None
    host: str = "127.0.0.1"
    admin_port: int | None = None  # the management API (HTTPS); None: not served
    admin_cert_dir: Path | None = None

    name = "Service Bus emulator"

    @property
    def connection_string(self) -> str:
        return connection_string(self.port)

    def command(self) -> list[str]:
        """The `python -m localdev servicebus` command line; an option left None is not passed."""
        options = {
            "--config": self.config_path,
            "--data-dir": self.data_dir,
            "--admin-port": self.admin_port,
            "--admin-cert-dir": self.admin_cert_dir,
        }
        command = [
            *python_command("localdev", "servicebus"),
            *("--host", self.host, "--port", str(self.port)),
        ]
        for flag, value in options.items():
            if value is not None:
                command += [flag, str(value)]
        return command

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

    def __enter__(self) -> ServiceBusEmulatorProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
