"""`python -m localdev servicebus`: run the emulator in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from types import FrameType

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
    try:
        server = AmqpServer(broker, args.host, args.port)
    except OSError as exc:
        print(
            f"servicebus: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr
        )
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
        store.close()
    return 0
