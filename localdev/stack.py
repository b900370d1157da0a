"""The local stack: Azurite, the Service Bus emulator, the Auth0 stand-in and the host.

`LocalStack` starts the four in order, each waited for (readiness), and
stops them in reverse; every child goes through localdev.processes, so each
runs in its own process group and is stopped with SIGTERM, then SIGKILL.
`python -m localdev up` (localdev/up.py) is the command line around it.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azure.data.tables import TableServiceClient

from localdev.azurite import Azurite, AzuriteNotAvailable
from localdev.host.config import load_host_options, load_local_settings
from localdev.host.process import HostProcess
from localdev.ports import free_ports
from localdev.processes import ROOT, ChildProcess, PortOpen, ProcessExit, python_command
from localdev.servicebus.process import DEFAULT_PORT, ServiceBusEmulatorProcess
from localdev.servicebus.process import connection_string as emulator_connection_string
from localdev.settings_file import (
    DEFAULT_AUTH0_PORT,
    DEFAULT_SERVICEBUS_ADMIN_CA,
    DEFAULT_SERVICEBUS_ADMIN_PORT,
    DEFAULT_TRACE_FILE,
    admin_endpoint,
    auth0_url,
    ensure_local_settings,
)

__all__ = ["LocalStack", "StackConfig", "StackError", "ensure_local_settings"]

DEFAULT_HOST_PORT = 7071
DEFAULT_SERVICEBUS_PORT = DEFAULT_PORT
DEFAULT_AZURITE_PORTS = (10000, 10001, 10002)  # blob, queue, table
TABLE_SETTINGS = {
    "REGISTRATIONS_TABLE": "registrations",
    "FAILURES_TABLE": "registrationfailures",
    "AUDIT_TABLE": "opsaudit",
}


class StackError(RuntimeError):
    """A part of the stack cannot start; the message says what to do."""


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.3)
        return probe.connect_ex((host, port)) == 0


@dataclass
class StackConfig:
    """Where everything runs; the defaults are what `make run` uses."""

    host_port: int = DEFAULT_HOST_PORT
    servicebus_port: int = DEFAULT_SERVICEBUS_PORT
    servicebus_admin_port: int = DEFAULT_SERVICEBUS_ADMIN_PORT  # management API, for ops status
    azurite_ports: tuple[int, int, int] = DEFAULT_AZURITE_PORTS
    settings_path: Path = ROOT / "local.settings.json"
    example_path: Path = ROOT / "local.settings.example.json"
    data_dir: Path = ROOT / ".localdev"
    app_path: Path = ROOT / "function_app.py"
    host_log: Path | None = None  # None: host logs go to the terminal
    servicebus_config: Path | None = None  # None: localdev/servicebus/config.json
    host_shutdown_timeout: float = 30.0
    auth0_port: int = DEFAULT_AUTH0_PORT
    host_instances: str | None = None  # e.g. "http=2,process_registration=1"; None: the setting

    @classmethod
    def isolated(cls, workdir: Path, **options: Any) -> StackConfig:
        """A stack in `workdir` on free, distinct ports, with its own settings file and data.

        For tests and benchmarks: it never clashes with a running `make run`.
        """
        host, servicebus, admin, blob, queue, table, auth0 = free_ports(7)  # none repeats
        data_dir = workdir / "data"
        return cls(
            host_port=host,
            servicebus_port=servicebus,
            servicebus_admin_port=admin,
            azurite_ports=(blob, queue, table),
            auth0_port=auth0,
            settings_path=workdir / "local.settings.json",
            data_dir=data_dir,
            host_log=data_dir / "logs" / "host.log",
            **options,
        )

    @property
    def ports(self) -> dict[str, int]:
        blob, queue, table = self.azurite_ports
        return {
            "Functions host": self.host_port,
            "Service Bus emulator": self.servicebus_port,
            "Service Bus management API": self.servicebus_admin_port,
            "Azurite blob": blob,
            "Azurite queue": queue,
            "Azurite table": table,
            "Auth0 stand-in": self.auth0_port,
        }


@dataclass
class LocalStack:
    """The four parts, started and stopped together (and one by one, for fault tests)."""

    config: StackConfig
    say: Callable[[str], None] = print
    azurite: Azurite = field(init=False)
    emulator: ServiceBusEmulatorProcess = field(init=False)
    host: HostProcess = field(init=False)
    auth0: ChildProcess | None = field(default=None, init=False)  # built at start: flags

    def __post_init__(self) -> None:
        c = self.config
        logs = c.data_dir / "logs"
        blob, queue, table = c.azurite_ports
        self.azurite = Azurite(
            table_port=table,
            blob_port=blob,
            queue_port=queue,
            location=c.data_dir / "azurite",
            log_path=logs / "azurite.log",
        )
        self.emulator = ServiceBusEmulatorProcess(
            port=c.servicebus_port,
            config_path=c.servicebus_config,
            data_dir=c.data_dir / "servicebus",
            log_path=logs / "servicebus.log",
            admin_port=c.servicebus_admin_port,
            admin_cert_dir=self.admin_ca_path.parent,
        )
        self.host = HostProcess(
            port=c.host_port,
            app=c.app_path,
            settings=c.settings_path,
            env_overrides=self.endpoint_overrides(),
            log_path=c.host_log,
            shutdown_timeout=c.host_shutdown_timeout,
            extra_args=(
                *("--state-dir", str(c.data_dir / "host")),
                *(("--instances", c.host_instances) if c.host_instances else ()),
            ),
        )

    # -- settings ---------------------------------------------------------------------------

    @property
    def admin_ca_path(self) -> Path:
        """The CA the emulator's management API is signed by (SERVICEBUS_ADMIN_CA_BUNDLE)."""
        return self.config.data_dir / "servicebus-admin" / "ca.pem"

    def endpoint_overrides(self) -> dict[str, str]:
        """Settings the children get instead of the file's, when ports differ from the defaults."""
        c = self.config
        overrides: dict[str, str] = {}
        if c.servicebus_port != DEFAULT_SERVICEBUS_PORT:
            overrides["ServiceBusConnection"] = emulator_connection_string(c.servicebus_port)
        if c.servicebus_admin_port != DEFAULT_SERVICEBUS_ADMIN_PORT:
            overrides["SERVICEBUS_ADMIN_ENDPOINT"] = admin_endpoint(c.servicebus_admin_port)
        if self.admin_ca_path.resolve() != (ROOT / DEFAULT_SERVICEBUS_ADMIN_CA).resolve():
            overrides["SERVICEBUS_ADMIN_CA_BUNDLE"] = str(self.admin_ca_path)
            # A stack with its own data dir (tests, benchmarks) keeps its spans there too,
            # instead of appending them to the developer's .localdev/traces.
            trace_file = load_local_settings(c.settings_path).get("LOCALDEV_TRACE_FILE")
            if trace_file in (None, DEFAULT_TRACE_FILE):
                overrides["LOCALDEV_TRACE_FILE"] = str(c.data_dir / "traces" / "spans.jsonl")
        if c.azurite_ports != DEFAULT_AZURITE_PORTS:
            storage = self.azurite.connection_string
            overrides["TablesConnection"] = storage
            overrides["AzureWebJobsStorage"] = storage
        if c.auth0_port != DEFAULT_AUTH0_PORT and self._uses_local_auth0():
            overrides["AUTH0_BASE_URL"] = auth0_url(c.auth0_port)
        return overrides

    def _uses_local_auth0(self) -> bool:
        """Whether the file points the app at the stand-in (not at a real tenant)."""
        values = load_local_settings(self.config.settings_path)
        return bool(values.get("AUTH0_BASE_URL", "") == auth0_url(DEFAULT_AUTH0_PORT))

    def effective_settings(self) -> dict[str, str]:
        """What the host sees: the file's Values, then the environment, then the port overrides."""
        values = load_local_settings(self.config.settings_path)
        values.update({k: v for k, v in os.environ.items() if k in values})
        values.update(self.endpoint_overrides())
        return values

    @property
    def ingest_url(self) -> str:
        prefix = load_host_options(self.config.app_path.parent / "host.json").route_prefix
        path = "/".join(p for p in (prefix, "registrations") if p)
        return f"{self.host.url}/{path}"

    # -- lifecycle --------------------------------------------------------------------------

    def check_ports(self) -> None:
        by_port: dict[int, list[str]] = {}
        for name, port in self.config.ports.items():
            by_port.setdefault(port, []).append(name)
        shared = [
            f"{' and '.join(names)} on {port}" for port, names in by_port.items() if len(names) > 1
        ]
        if shared:
            raise StackError(f"one port for two parts: {', '.join(shared)}; pass distinct ports")
        busy = [
            f"{name} port {port}" for name, port in self.config.ports.items() if port_in_use(port)
        ]
        if busy:
            raise StackError(
                f"already in use: {', '.join(busy)} (another `make run`?); "
                "stop it or pass other ports"
            )

    def start(self) -> None:
        """Start Azurite, the emulator and the host, each waited for; tables are created."""
        (self.config.data_dir / "logs").mkdir(parents=True, exist_ok=True)
        self.check_ports()
        self._step("Azurite", self.start_azurite)
        self._step("Service Bus emulator", self.start_emulator)
        self._step("tables", self.create_tables)
        self._step("Auth0 stand-in", self.start_auth0)
        self._step("Functions host", self.start_host)

    def _step(self, name: str, action: Callable[[], object]) -> None:
        started = time.monotonic()
        try:
            action()
        except (AzuriteNotAvailable, TimeoutError, RuntimeError, OSError) as exc:
            raise StackError(f"{name} did not start: {exc}") from exc
        self.say(f"  {name:<22} ready in {time.monotonic() - started:4.1f}s")

    def start_azurite(self) -> None:
        self.azurite.start()

    def start_emulator(self) -> None:
        self.emulator.start()

    def start_host(self) -> None:
        self.host.start()

    def auth0_command(self) -> list[str]:
        """`python -m localdev auth0` with the client credentials the app will present."""
        values = self.effective_settings()
        flags = {
            "--client-id": "AUTH0_CLIENT_ID",
            "--client-secret": "AUTH0_CLIENT_SECRET",
            "--domain": "AUTH0_DOMAIN",
            "--tenant-id": "AUTH0_TENANT_ID",
        }
        command = python_command("localdev", "auth0", "--port", str(self.config.auth0_port))
        command += ["--settings", str(self.config.settings_path)]
        # flag=value: a generated secret may start with "-", which argparse takes for a flag
        command += [f"{flag}={values[key]}" for flag, key in flags.items() if values.get(key)]
        return command

    def start_auth0(self) -> None:
        """Start the Auth0 stand-in and wait for its port."""
        self.auth0 = ChildProcess(
            name="Auth0 stand-in",
            command=self.auth0_command(),
            readiness=[PortOpen("127.0.0.1", self.config.auth0_port)],
            log_path=self.config.data_dir / "logs" / "auth0.log",
        )
        self.auth0.start()

    def create_tables(self) -> None:
        settings = self.effective_settings()
        connection = settings.get("TablesConnection") or self.azurite.connection_string
        with TableServiceClient.from_connection_string(connection) as service:
            for setting, default in TABLE_SETTINGS.items():
                service.create_table_if_not_exists(settings.get(setting) or default)

    def _children(self) -> list[ChildProcess]:
        """The parts started so far, in stopping order: the host first (it drains), Azurite last."""
        parts = (self.host.child, self.auth0, self.emulator.child, self.azurite.child)
        return [part for part in parts if part is not None]

    def stop(self) -> None:
        """Stop everything: the host first (it drains), then the emulator, then Azurite."""
        for child in self._children():
            child.stop()

    def kill(self) -> None:
        """SIGKILL every part at once (a second Ctrl-C while stopping)."""
        for child in self._children():
            child.kill()

    def crashed_part(self) -> ProcessExit | None:
        """The first part that has exited: which one, its exit code and its log's tail."""
        for child in self._children():
            report = child.exit_report()
            if report is not None:
                return report
        return None
