"""`python -m localdev up`: the whole local stack in the foreground (`make run`).

Creates or completes local.settings.json, starts Azurite, the Service Bus
emulator, the Auth0 stand-in and the Functions host, prints how to use them,
and stops everything on Ctrl-C, SIGTERM, or when any part exits (naming it,
with its exit code and the end of its log). Nothing is left behind: every
child is stopped at exit (atexit too).

Exit codes: 0 stopped by the user, 1 a part failed or crashed, 2 bad usage.
"""

from __future__ import annotations

import argparse
import atexit
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from localdev.processes import ROOT
from localdev.settings_file import (
    DEFAULT_AUTH0_PORT,
    DEFAULT_SERVICEBUS_ADMIN_PORT,
    SettingsFileError,
    SettingsUpdate,
    ensure_local_settings,
    write_ops_settings,
)
from localdev.stack import (
    DEFAULT_AZURITE_PORTS,
    DEFAULT_HOST_PORT,
    DEFAULT_SERVICEBUS_PORT,
    LocalStack,
    StackConfig,
    StackError,
)


def banner(stack: LocalStack, created: bool, ops_settings: Path | None = None) -> str:
    """What the user needs next: URL, key, where the secret is, and a command to try it."""
    settings = stack.effective_settings()
    settings_path = stack.config.settings_path
    ops = "" if ops_settings is None else f" --settings {_shown(ops_settings)}"
    lines = [
        "",
        "Local stack is up. Ctrl-C stops everything.",
        f"  ingest URL     POST {stack.ingest_url}",
        f"  function key   {settings.get('LOCALDEV_FUNCTION_KEY') or '(none)'}"
        "   (header x-functions-key)",
        f"  webhook secret Values.WEBHOOK_SECRET in {settings_path}"
        + ("  (created just now, fresh secrets)" if created else ""),
        f"  Auth0 stand-in {settings.get('AUTH0_BASE_URL') or '(not configured)'}"
        "   (seed users: POST /admin/users; see docs/localdev.md)",
        "  logs           the host's below; Azurite's, the emulator's and the stand-in's in "
        f"{stack.config.data_dir / 'logs'}",
        "",
        f"  ops            .venv/bin/python -m ops{ops} status"
        + (f"   (this stack's ports; {settings_path.name} keeps the defaults)" if ops else ""),
        "",
        "Send a signed test signup:",
        f"  {send_command(stack, ops)}",
        "",
    ]
    return "\n".join(lines)


def send_command(stack: LocalStack, ops_options: str = "") -> str:
    """The `ops send-test-event` command line for this stack."""
    url = "" if stack.config.host_port == DEFAULT_HOST_PORT else f" --url {stack.ingest_url}"
    return f".venv/bin/python -m ops{ops_options} send-test-event{url}"


def _shown(path: Path) -> str:
    """The path relative to the project root (where ops runs) when it is inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def parse_args(argv: list[str]) -> StackConfig:
    parser = argparse.ArgumentParser(
        prog="python -m localdev up", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host-port", type=int, default=DEFAULT_HOST_PORT)
    parser.add_argument("--servicebus-port", type=int, default=DEFAULT_SERVICEBUS_PORT)
    parser.add_argument(
        "--servicebus-admin-port",
        type=int,
        default=DEFAULT_SERVICEBUS_ADMIN_PORT,
        help="the emulator's management API, HTTPS, read by `ops status`"
        f" (default {DEFAULT_SERVICEBUS_ADMIN_PORT})",
    )
    parser.add_argument(
        "--auth0-port",
        type=int,
        default=DEFAULT_AUTH0_PORT,
        help=f"the Auth0 stand-in (default {DEFAULT_AUTH0_PORT})",
    )
    parser.add_argument(
        "--azurite-ports",
        default=",".join(map(str, DEFAULT_AZURITE_PORTS)),
        help="blob,queue,table (default 10000,10001,10002)",
    )
    parser.add_argument(
        "--instances",
        default=None,
        help="host instances per function group, e.g. http=2,process_registration=1 "
        "(default: LOCALDEV_HOST_INSTANCES, else 1 each)",
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
        servicebus_admin_port=args.servicebus_admin_port,
        auth0_port=args.auth0_port,
        host_instances=args.instances,
        azurite_ports=(blob, queue, table),
        settings_path=args.settings.resolve(),
        data_dir=args.data_dir.resolve(),
    )


def report_settings(path: Path, update: SettingsUpdate) -> None:
    """Say what happened to local.settings.json (created, or which keys were added)."""
    if update.created:
        print(f"Created {path} from the example, with fresh secrets and keys.")
    elif update.added:
        print(f"Added to {path} (existing keys untouched): {', '.join(update.added)}")


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    """Entry point of `python -m localdev up` (and `make run`)."""
    config = parse_args(argv)
    started = time.monotonic()
    try:
        update = ensure_local_settings(config.settings_path, config.example_path)
    except (SettingsFileError, OSError, ValueError) as exc:
        print(f"localdev up: {exc}", file=sys.stderr)
        return 1
    report_settings(config.settings_path, update)
    created = update.created
    stack = LocalStack(config)
    atexit.register(stack.stop)
    # SIGINT too: a shell may start us with SIGINT ignored (a background job).
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, _raise_interrupt)
    try:
        print("Starting the local stack:")
        stack.start()
        ops_settings = write_ops_settings(
            config.settings_path, config.data_dir / "ops.settings.json", stack.endpoint_overrides()
        )
        print(banner(stack, created, ops_settings))
        print(f"Ready in {time.monotonic() - started:.1f}s.", flush=True)
        return watch(stack)
    except StackError as exc:
        print(f"localdev up: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping the local stack...", flush=True)
        return 0
    finally:
        stop_or_kill(stack)
        atexit.unregister(stack.stop)


def stop_or_kill(stack: LocalStack) -> None:
    """Graceful stop; a second Ctrl-C (or SIGTERM) while waiting SIGKILLs what is left."""
    try:
        stack.stop()
    except KeyboardInterrupt:
        print("Interrupted again: killing the stack now.", file=sys.stderr, flush=True)
        stack.kill()


def watch(stack: LocalStack, interval: float = 0.5) -> int:
    """Block until a part exits (1) or the user interrupts (KeyboardInterrupt propagates)."""
    while True:
        crashed = stack.crashed_part()
        if crashed:
            print(f"localdev up: {crashed}\nStopping the stack.", file=sys.stderr)
            return 1
        time.sleep(interval)
