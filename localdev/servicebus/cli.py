"""`python -m localdev servicebus`: run the emulator in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from localdev.servicebus.admin.server import AdminServer
from localdev.servicebus.amqp.message_format import check_stored_payload
from localdev.servicebus.amqp.server import AmqpServer
from localdev.servicebus.broker import (
    Broker,
    ConfigError,
    MemoryStore,
    SqliteStore,
    Store,
    load_config,
)

DEFAULT_CONFIG = Path(__file__).resolve().parent / "config.json"
DEFAULT_ADMIN_CERT_DIR = Path(__file__).resolve().parents[2] / ".localdev" / "servicebus-admin"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m localdev servicebus",
        description="Service Bus emulator: AMQP 1.0 for the azure-servicebus SDK (queues only).",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=5672, help="AMQP port (default 5672)")
    parser.add_argument(
        "--config", type=Path, default=DEFAULT_CONFIG, help="Config.json with the queues"
    )
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="keep messages here across restarts"
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    parser.add_argument(
        "--admin-port",
        type=int,
        default=None,
        help="also serve the management REST API over HTTPS on this port (off by default)",
    )
    parser.add_argument(
        "--admin-cert-dir",
        type=Path,
        default=DEFAULT_ADMIN_CERT_DIR,
        help="where the management API's CA and certificate are kept (created on first start)",
    )
    return parser


def main(argv: list[str]) -> int:
    """Parse options, load the config, serve until a stop signal. Exit 2 on a bad config."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    try:
        queues = load_config(args.config)
    except ConfigError as exc:
        print(f"servicebus: bad config: {exc}", file=sys.stderr)
        return 2
    try:
        store: Store = (
            SqliteStore(args.data_dir, payload_check=check_stored_payload)
            if args.data_dir
            else MemoryStore()
        )
    except Exception as exc:  # unreadable directory, corrupt database
        print(f"servicebus: cannot open data dir {args.data_dir}: {exc}", file=sys.stderr)
        return 2
    broker = Broker(queues, store=store)
    lock = threading.Lock()  # the AMQP loop and the management API share the broker
    # The management API first: once the AMQP port answers, both are up.
    admin = _start_admin(args, broker, lock) if args.admin_port is not None else None
    if args.admin_port is not None and admin is None:
        store.close()
        return 1
    try:
        server = AmqpServer(broker, args.host, args.port, lock=lock)
    except OSError as exc:
        print(
            f"servicebus: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr
        )
        if admin is not None:
            admin.close()
        store.close()
        return 1
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    names = ", ".join(broker.queue_names())
    where = args.data_dir or "memory"
    logging.getLogger("localdev.servicebus").info(
        "listening on %s:%s (queues: %s; data: %s)", args.host, server.address[1], names, where
    )
    try:
        server.serve(lambda: stopping)
    finally:
        if admin is not None:
            admin.close()
        store.close()
    return 0


def _start_admin(
    args: argparse.Namespace, broker: Broker, lock: threading.Lock
) -> AdminServer | None:
    """The HTTPS management API next to the AMQP loop; None (after one line) if it cannot start."""
    try:
        admin = AdminServer(broker, lock, args.host, args.admin_port, args.admin_cert_dir)
    except (OSError, ValueError) as exc:
        print(f"servicebus: cannot serve the management API: {exc}", file=sys.stderr)
        return None
    admin.start()
    logging.getLogger("localdev.servicebus").info(
        "management API on https://localhost:%s (CA: %s)", admin.port, admin.certificates.ca
    )
    return admin
