"""The thinnest possible ingest: an aiohttp handler that sends the raw body to the queue.

`python -m bench.forwarder --port P --queue Q` with the connection string in
the SERVICEBUS_CONNECTION environment variable. No key, no signature, no
parsing, no validation: a pool of `azure.servicebus.aio` senders, opened at
start and reused, one per request in flight (an aio sender cannot carry
concurrent sends: the first overlap breaks its handler), and 202 once the
send is acknowledged. It is the baseline ingest
is measured against in `bench.pipeline` (same stack, same concurrency, same
requests), so the ratio says what the real ingest's checks and plumbing cost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from aiohttp import web
from azure.servicebus import ServiceBusMessage
from azure.servicebus.aio import ServiceBusClient, ServiceBusSender

from localdev.processes import ChildProcess, PortOpen

SENDERS = web.AppKey("senders", asyncio.Queue)
POOL_SIZE = 16  # the benchmark's concurrency: no request waits for a sender


async def forward(request: web.Request) -> web.Response:
    """Send the body as it came; 202 when the broker has it."""
    body = await request.read()
    senders: asyncio.Queue[ServiceBusSender] = request.app[SENDERS]
    sender = await senders.get()
    try:
        await sender.send_messages(ServiceBusMessage(body))
    finally:
        senders.put_nowait(sender)
    return web.Response(status=202)


def build_app(connection: str, queue: str, pool_size: int = POOL_SIZE) -> web.Application:
    """The app with its senders, opened on start-up and closed on clean-up."""
    app = web.Application(client_max_size=64 * 1024)
    app.router.add_post("/api/registrations", forward)

    async def senders_context(app: web.Application):  # type: ignore[no-untyped-def]
        async with ServiceBusClient.from_connection_string(connection) as client:
            pool: asyncio.Queue[ServiceBusSender] = asyncio.Queue()
            senders = [client.get_queue_sender(queue) for _ in range(pool_size)]
            for sender in senders:
                await sender.__aenter__()
                pool.put_nowait(sender)
            app[SENDERS] = pool
            yield
            for sender in senders:
                await sender.close()

    app.cleanup_ctx.append(senders_context)
    return app


class Forwarder:
    """`python -m bench.forwarder` as a child process on `port`."""

    def __init__(self, port: int, connection: str, queue: str, log_path: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/api/registrations"
        self.child = ChildProcess(
            name="thin forwarder",
            command=[
                sys.executable,
                "-m",
                "bench.forwarder",
                "--port",
                str(port),
                "--queue",
                queue,
            ],
            readiness=[PortOpen("127.0.0.1", port)],
            log_path=log_path,
            env_overrides={"SERVICEBUS_CONNECTION": connection},
        )

    @property
    def pid(self) -> int | None:
        return self.child.pid

    def __enter__(self) -> Forwarder:
        self.child.start(30.0)
        return self

    def __exit__(self, *exc: object) -> None:
        self.child.stop(10.0)


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM / Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m bench.forwarder", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--queue", required=True)
    args = parser.parse_args(argv)
    connection = os.environ.get("SERVICEBUS_CONNECTION")
    if not connection:
        print("bench.forwarder: SERVICEBUS_CONNECTION is not set", file=sys.stderr)
        return 2
    web.run_app(build_app(connection, args.queue), host="127.0.0.1", port=args.port, print=None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
