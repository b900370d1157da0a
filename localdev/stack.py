"""`python -m localdev up`: Azurite + the Service Bus emulator + the local Functions host.

Starts the three in order, each waited for, prints how to use the stack,
and stops everything on Ctrl-C or when any part exits. Every child runs in
its own process group and is stopped at exit (atexit too), SIGKILL after a
timeout, so nothing is left behind.

Exit codes: 0 stopped by the user, 1 a part failed or crashed, 2 bad usage.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import json
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from azure.data.tables import TableServiceClient

from localdev.azurite import Azurite, AzuriteNotAvailable
from localdev.host.auth import new_key
from localdev.host.config import load_host_options, load_local_settings
from localdev.host.process import HostProcess
from localdev.ports import free_ports
from localdev.processes import ROOT, ProcessExit
from localdev.servicebus.process import DEFAULT_PORT, ServiceBusEmulatorProcess
from localdev.servicebus.process import connection_string as emulator_connection_string

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


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: `whsec_` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def ensure_local_settings(settings_path: Path, example_path: Path) -> bool:
    """Create local.settings.json from the example with fresh secrets; True if it was created."""
    if settings_path.exists():
        return False
    if not example_path.exists():
        raise StackError(f"{example_path} is missing: cannot create {settings_path}")
    document = json.loads(example_path.read_text(encoding="utf-8"))
    values = document.setdefault("Values", {})
    values["WEBHOOK_SECRET"] = new_webhook_secret()
    values["LOCALDEV_FUNCTION_KEY"] = new_key()
    settings_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(settings_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(document, out, indent=2)
        out.write("\n")
    return True


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.3)
        return probe.connect_ex((host, port)) == 0


@dataclass
class StackConfig:
    """Where everything runs; the defaults are what `make run` uses."""

    host_port: int = DEFAULT_HOST_PORT
    servicebus_port: int = DEFAULT_SERVICEBUS_PORT
    azurite_ports: tuple[int, int, int] = DEFAULT_AZURITE_PORTS
    settings_path: Path = ROOT / "local.settings.json"
    example_path: Path = ROOT / "local.settings.example.json"
    data_dir: Path = ROOT / ".localdev"
    app_path: Path = ROOT / "function_app.py"
    host_log: Path | None = None  # None: host logs go to the terminal
    servicebus_config: Path | None = None  # None: localdev/servicebus/config.json
    host_shutdown_timeout: float = 30.0

    @classmethod
    def isolated(cls, workdir: Path, **options: Any) -> StackConfig:
        """A stack in `workdir` on free, distinct ports, with its own settings file and data.

        For tests and benchmarks: it never clashes with a running `make run`.
        """
        host, servicebus, blob, queue, table = free_ports(5)  # together, so none repeats
        data_dir = workdir / "data"
        return cls(
            host_port=host,
            servicebus_port=servicebus,
            azurite_ports=(blob, queue, table),
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
            "Azurite blob": blob,
            "Azurite queue": queue,
            "Azurite table": table,
        }


@dataclass
class LocalStack:
    """The three parts, started and stopped together (and one by one, for fault tests)."""

    config: StackConfig
    say: Callable[[str], None] = print
    azurite: Azurite = field(init=False)
    emulator: ServiceBusEmulatorProcess = field(init=False)
    host: HostProcess = field(init=False)

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
        )
        self.host = HostProcess(
            port=c.host_port,
            app=c.app_path,
            settings=c.settings_path,
            env_overrides=self.endpoint_overrides(),
            log_path=c.host_log,
            shutdown_timeout=c.host_shutdown_timeout,
        )

    # -- settings ---------------------------------------------------------------------------

    def endpoint_overrides(self) -> dict[str, str]:
        """Settings the children get instead of the file's, when ports differ from the defaults."""
        c = self.config
        overrides: dict[str, str] = {}
        if c.servicebus_port != DEFAULT_SERVICEBUS_PORT:
            overrides["ServiceBusConnection"] = emulator_connection_string(c.servicebus_port)
        if c.azurite_ports != DEFAULT_AZURITE_PORTS:
            storage = self.azurite.connection_string
            overrides["TablesConnection"] = storage
            overrides["AzureWebJobsStorage"] = storage
        return overrides

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

    def create_tables(self) -> None:
        settings = self.effective_settings()
        connection = settings.get("TablesConnection") or self.azurite.connection_string
        with TableServiceClient.from_connection_string(connection) as service:
            for setting, default in TABLE_SETTINGS.items():
                service.create_table_if_not_exists(settings.get(setting) or default)

    def stop(self) -> None:
        """Stop everything: the host first (it drains), then the emulator, then Azurite."""
        self.host.stop()
        self.emulator.stop()
        self.azurite.stop()

    def crashed_part(self) -> ProcessExit | None:
        """The first part that has exited: which one, its exit code and its log's tail."""
        for part in (self.host.child, self.emulator.child, self.azurite.child):
            report = part.exit_report() if part is not None else None
            if report is not None:
                return report
        return None


def banner(stack: LocalStack, created: bool) -> str:
    """What the user needs next: URL, key, where the secret is, and a command to try it."""
    settings = stack.effective_settings()
    settings_path = stack.config.settings_path
    lines = [
        "",
        "Local stack is up. Ctrl-C stops everything.",
        f"  ingest URL     POST {stack.ingest_url}",
        f"  function key   {settings.get('LOCALDEV_FUNCTION_KEY') or '(none)'}"
        "   (header x-functions-key)",
        f"  webhook secret Values.WEBHOOK_SECRET in {settings_path}"
        + ("  (created just now, fresh secrets)" if created else ""),
        "  logs           the host's below; Azurite's and the emulator's in "
        f"{stack.config.data_dir / 'logs'}",
        "",
        "Send a signed test signup:",
        f"  {send_command(stack)}",
        "",
    ]
    return "\n".join(lines)


def ops_has_send_test_event() -> bool:
    """Whether the ops CLI (built separately) offers `send-test-event` yet."""
    package = ROOT / "ops"
    return any("send-test-event" in p.read_text(errors="ignore") for p in package.glob("*.py"))


def send_command(stack: LocalStack) -> str:
    """`ops send-test-event` when it exists, else a self-contained signed POST in Python."""
    if ops_has_send_test_event():
        url = "" if stack.config.host_port == DEFAULT_HOST_PORT else f" --url {stack.ingest_url}"
        return f".venv/bin/python -m ops send-test-event{url}"
    script = (
        "import json,time,datetime as d,urllib.request as u;"
        "from standardwebhooks import Webhook;from shared.ids import registration_id as r;"
        f"v=json.load(open({str(stack.config.settings_path)!r}))['Values'];"
        "n=d.datetime.now(d.timezone.utc);uid='auth0|test'+str(int(time.time()));"
        "e={'type':'user.registered','schema_version':1,'tenant':{'id':'local'},"
        "'user':{'user_id':uid,'email':'test@example.com','created_at':n.isoformat()}};"
        "b=json.dumps(e);i=r('local',uid);"
        "h={'content-type':'application/json','x-functions-key':v['LOCALDEV_FUNCTION_KEY'],"
        "'webhook-id':i,'webhook-timestamp':str(int(n.timestamp())),"
        "'webhook-signature':Webhook(v['WEBHOOK_SECRET'].split()[0]).sign(i,n,b)};"
        f"q=u.Request({stack.ingest_url!r},b.encode(),h,method='POST');"
        "print(u.urlopen(q).read().decode())"
    )
    return f'.venv/bin/python -c "{script}"'


def parse_args(argv: list[str]) -> StackConfig:
    parser = argparse.ArgumentParser(
        prog="python -m localdev up", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host-port", type=int, default=DEFAULT_HOST_PORT)
    parser.add_argument("--servicebus-port", type=int, default=DEFAULT_SERVICEBUS_PORT)
    parser.add_argument(
        "--azurite-ports",
        default=",".join(map(str, DEFAULT_AZURITE_PORTS)),
        help="blob,queue,table (default 10000,10001,10002)",
    )
    parser.add_argument("--settings", type=Path, default=ROOT / "local.settings.json")
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".localdev")
    args = parser.parse_args(argv)
    try:
        blob, queue, table = (int(p) for p in args.azurite_ports.split(","))
    except ValueError:
        parser.error("--azurite-ports takes three ports: blob,queue,table")
    return StackConfig(
        host_port=args.host_port,
        servicebus_port=args.servicebus_port,
        azurite_ports=(blob, queue, table),
        settings_path=args.settings.resolve(),
        data_dir=args.data_dir.resolve(),
    )


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    """Entry point of `python -m localdev up` (and `make run`)."""
    config = parse_args(argv)
    started = time.monotonic()
    try:
        created = ensure_local_settings(config.settings_path, config.example_path)
    except (StackError, OSError, ValueError) as exc:
        print(f"localdev up: {exc}", file=sys.stderr)
        return 1
    if created:
        print(
            f"Created {config.settings_path} from the example, with a fresh webhook secret and key."
        )
    stack = LocalStack(config)
    atexit.register(stack.stop)
    # SIGINT too: a shell may start us with SIGINT ignored (a background job).
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, _raise_interrupt)
    try:
        print("Starting the local stack:")
        stack.start()
        print(banner(stack, created))
        print(f"Ready in {time.monotonic() - started:.1f}s.", flush=True)
        return watch(stack)
    except StackError as exc:
        print(f"localdev up: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping the local stack...", flush=True)
        return 0
    finally:
        stack.stop()
        atexit.unregister(stack.stop)


def watch(stack: LocalStack, interval: float = 0.5) -> int:
    """Block until a part exits (1) or the user interrupts (KeyboardInterrupt propagates)."""
    while True:
        crashed = stack.crashed_part()
        if crashed:
            print(f"localdev up: {crashed}\nStopping the stack.", file=sys.stderr)
            return 1
        time.sleep(interval)
