"""`python -m localdev host`: run a v2 Python Function App without Core Tools.

The command is a supervisor (localdev/host/supervisor.py): it loads the app
once to check it, then runs each function group (the HTTP triggers together,
every other function alone, as Flex Consumption scales them) in its own
instance processes, `--instances http=2,process_registration=1`. Each
instance is this same command with `--group` and `--instance`.

Exit codes: 0 stopped cleanly, 1 crashed, 2 cannot start (bad settings,
unsupported binding, port in use); start-up errors are one line on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from localdev.host.auth import HostKeys
from localdev.host.config import (
    StartupError,
    apply_app_settings,
    load_host_options,
    load_local_settings,
)
from localdev.host.discovery import AnyFunction, discover_functions, load_app_module
from localdev.host.groups import INSTANCES_SETTING, FunctionGroup, function_groups
from localdev.host.http_server import BODY_LIMIT_SETTING, MAX_REQUEST_BODY_BYTES
from localdev.host.invocation import configure_logging, log_event
from localdev.host.runtime import LocalHost
from localdev.host.supervisor import Supervisor, check_port_free
from localdev.processes import python_command

THREADS_SETTING = "PYTHON_THREADPOOL_THREAD_COUNT"
DISABLED_SETTING = "AzureWebJobs.{function}.Disabled"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m localdev host", description=__doc__)
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=7071, help="HTTP port (default 7071)")
    parser.add_argument("--app", type=Path, default=Path("function_app.py"), help="the app file")
    parser.add_argument(
        "--settings",
        type=Path,
        default=Path("local.settings.json"),
        help="local.settings.json to load",
    )
    parser.add_argument(
        "--host-json", type=Path, default=None, help="host.json (default: next to the app file)"
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="timer status and locks (default: .localdev/host next to the app file)",
    )
    parser.add_argument(
        "--shutdown-timeout",
        type=float,
        default=30.0,
        help="seconds to let in-flight invocations finish on SIGINT/SIGTERM (default 30)",
    )
    parser.add_argument(
        "--instances",
        default=None,
        help="instances per function group, e.g. http=2,process_registration=1 "
        f"(default: the setting {INSTANCES_SETTING}, else 1 each)",
    )
    # Internal: the supervisor starts each instance with these.
    parser.add_argument("--group", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--instance", type=int, default=0, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


@dataclass
class LoadedApp:
    """What the supervisor and every instance load first: settings, options, functions."""

    settings: dict[str, str]
    functions: list[AnyFunction]
    disabled: frozenset[str] = frozenset()  # AzureWebJobs.<name>.Disabled

    def groups(self, spec: str = "") -> list[FunctionGroup]:
        """The function groups without disabled functions; a group left empty has no instance
        (HTTP excepted: it still serves the port, and a disabled route answers 404)."""
        groups = []
        for group in function_groups(self.functions, spec):
            enabled = tuple(f for f in group.functions if f.name not in self.disabled)
            if enabled or group.serves_http:
                groups.append(dataclasses.replace(group, functions=enabled))
        return groups


def load_app(args: argparse.Namespace) -> LoadedApp:
    """Settings (environment wins over the file), then the app; StartupError for user errors."""
    kept = apply_app_settings(load_local_settings(args.settings), os.environ)
    if kept and args.group is None:
        log_event("host.settings_from_environment", names=sorted(kept))
    settings = dict(os.environ)
    functions = discover_functions(load_app_module(args.app), settings)
    if not functions:
        raise StartupError(f"{args.app}: the app has no functions")
    disabled = frozenset(f.name for f in functions if is_disabled(f.name, settings))
    if disabled and args.group is None:
        log_event("host.functions_disabled", functions=sorted(disabled))
    body_size_limit(settings)  # refuse a bad value before any instance starts
    thread_count(settings)
    return LoadedApp(settings, functions, disabled)


def is_disabled(function: str, settings: dict[str, str]) -> bool:
    """`AzureWebJobs.<function>.Disabled` is true: the function is not loaded.

    As in Azure: a disabled HTTP function answers 404 and a disabled trigger
    receives nothing (its messages wait in the queue).
    """
    value = settings.get(DISABLED_SETTING.format(function=function), "")
    return value.strip().lower() in {"true", "1"}


def body_size_limit(settings: dict[str, str]) -> int:
    """FUNCTIONS_REQUEST_BODY_SIZE_LIMIT in bytes (unset: the host's 100 MiB default)."""
    raw = settings.get(BODY_LIMIT_SETTING, "").strip()
    if not raw:
        return MAX_REQUEST_BODY_BYTES
    if not raw.isdigit() or int(raw) < 1:
        raise StartupError(f"{BODY_LIMIT_SETTING} must be a positive number of bytes, not {raw!r}")
    return int(raw)


def thread_count(settings: dict[str, str]) -> int | None:
    """PYTHON_THREADPOOL_THREAD_COUNT (1-32) for sync functions; unset: Python's default."""
    raw = settings.get(THREADS_SETTING, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= 32:
        raise StartupError(f"{THREADS_SETTING} must be a number from 1 to 32, not {raw!r}")
    return int(raw)


def state_dir(args: argparse.Namespace) -> Path:
    return Path(args.state_dir or args.app.resolve().parent / ".localdev" / "host").resolve()


def build_instance(args: argparse.Namespace, loaded: LoadedApp) -> LocalHost:
    """The LocalHost of one instance: its group's functions only."""
    group = next(g for g in loaded.groups() if g.name == args.group)
    keys, _ = HostKeys.from_settings(loaded.settings)
    return LocalHost(
        functions=group.functions,
        options=load_host_options(args.host_json or args.app.parent / "host.json"),
        keys=keys,
        app_directory=args.app.resolve().parent,
        state_dir=state_dir(args),
        host=args.host,
        port=args.port,
        shutdown_timeout=args.shutdown_timeout,
        max_body_bytes=body_size_limit(loaded.settings),
        threads=thread_count(loaded.settings),
        serve_http=group.serves_http,
        reuse_port=True,
    )


def build_supervisor(args: argparse.Namespace, loaded: LoadedApp) -> Supervisor:
    """The supervisor of every group's instances; one master key shared by all of them."""
    spec = args.instances if args.instances is not None else loaded.settings.get(INSTANCES_SETTING)
    groups = loaded.groups(spec or "")
    check_port_free(args.host, args.port)
    keys, generated = HostKeys.from_settings(loaded.settings)
    if generated:
        # Printed once, like Core Tools prints its URLs: admin routes need it.
        print(f"localdev host: master key for this run: {keys.master_key}", flush=True)
    if not keys.function_keys:
        log_event(
            "host.no_function_key",
            hint="set LOCALDEV_FUNCTION_KEY; function-level routes accept only the master key",
        )

    def command_for(group: FunctionGroup, index: int) -> list[str]:
        return [*python_command("localdev", "host"), *instance_args(args, group.name, index)]

    return Supervisor(
        groups=groups,
        command_for=command_for,
        host=args.host,
        port=args.port,
        cwd=Path.cwd(),
        env={"LOCALDEV_MASTER_KEY": keys.master_key},
        shutdown_timeout=args.shutdown_timeout,
    )


def instance_args(args: argparse.Namespace, group: str, index: int) -> list[str]:
    """This command's options for one instance of `group`."""
    options = ["--host", args.host, "--port", str(args.port), "--app", str(args.app)]
    options += ["--settings", str(args.settings), "--state-dir", str(state_dir(args))]
    options += ["--shutdown-timeout", str(args.shutdown_timeout)]
    if args.host_json:
        options += ["--host-json", str(args.host_json)]
    return [*options, "--group", group, "--instance", str(index)]


async def _serve(host: LocalHost) -> int:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals_seen = 0

    def on_signal() -> None:
        nonlocal signals_seen
        signals_seen += 1
        if signals_seen > 1:
            log_event("host.forced_exit")
            os._exit(130)
        stopping.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    return await host.run(stopping)


def main(argv: list[str]) -> int:
    """Entry point of `python -m localdev host` (the supervisor, or one instance)."""
    args = parse_args(argv)
    configure_logging(instance=f"{args.group}#{args.instance}" if args.group else None)
    try:
        loaded = load_app(args)
        if args.group is not None:
            instance = build_instance(args, loaded)
        else:
            supervisor = build_supervisor(args, loaded)
    except StartupError as exc:
        print(f"localdev host: {exc}", file=sys.stderr, flush=True)
        return 2
    if args.group is not None:
        return asyncio.run(_serve(instance))
    return supervisor.run()
