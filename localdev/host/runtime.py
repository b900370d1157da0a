"""The running host: the HTTP server, one listener per Service Bus and timer function, shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from localdev.host.auth import HostKeys
from localdev.host.config import HostOptions
from localdev.host.discovery import AnyFunction, HttpFunction, ServiceBusFunction, TimerFunction
from localdev.host.http_server import MAX_REQUEST_BODY_BYTES, build_http_app
from localdev.host.invocation import Invoker, log_event
from localdev.host.routing import Router
from localdev.host.servicebus_trigger import QueueListener
from localdev.host.timer_trigger import TimerListener

Listener = QueueListener | TimerListener


@dataclass
class LocalHost:
    """Everything `python -m localdev host` runs, built from the discovered functions."""

    functions: Sequence[AnyFunction]
    options: HostOptions
    keys: HostKeys
    app_directory: Path
    state_dir: Path
    host: str = "127.0.0.1"
    port: int = 7071
    shutdown_timeout: float = 30.0
    max_body_bytes: int = MAX_REQUEST_BODY_BYTES
    threads: int | None = None  # sync functions' pool; None: Python's min(32, CPUs + 4)
    serve_http: bool = True  # False: an instance of a non-HTTP group (no port)
    reuse_port: bool = False  # True: several HTTP instances share the port (SO_REUSEPORT)

    async def run(self, stopping: asyncio.Event) -> int:
        """Serve until `stopping` is set; 0 after a clean stop, 1 if a listener crashed."""
        invoker = Invoker(self.app_directory, self.threads)
        http_functions = [f for f in self.functions if isinstance(f, HttpFunction)]
        runner = await self._serve_http(http_functions, invoker) if self.serve_http else None
        if self.serve_http and runner is None:
            return 2
        self._announce(http_functions)
        listeners = self._listeners(invoker)
        tasks = [
            asyncio.create_task(listener.run(stopping, self.shutdown_timeout))
            for listener in listeners
        ]
        code = await self._wait(stopping, tasks)
        log_event("host.stopping", in_flight_messages=sum(x.in_flight for x in listeners))
        cleanup = [runner.cleanup()] if runner is not None else []
        await asyncio.gather(*cleanup, *tasks, return_exceptions=True)
        invoker.close(wait=False)
        log_event("host.stopped")
        return code

    async def _serve_http(
        self, http_functions: list[HttpFunction], invoker: Invoker
    ) -> web.AppRunner | None:
        router = Router(self.options.route_prefix, http_functions)
        app = build_http_app(router, self.keys, invoker, self.max_body_bytes)
        # lingering_time=0: a refused body is never drained (read and thrown away) for seconds;
        # the connection is closed once the answer is sent.
        runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=self.shutdown_timeout, lingering_time=0
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port, reuse_port=self.reuse_port or None)
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            log_event(
                "host.port_in_use", logging.ERROR, host=self.host, port=self.port, error=str(exc)
            )
            return None
        return runner

    def _listeners(self, invoker: Invoker) -> list[Listener]:
        listeners: list[Listener] = []
        for function in self.functions:
            if isinstance(function, ServiceBusFunction):
                listeners.append(QueueListener(function, self.options.service_bus, invoker))
            elif isinstance(function, TimerFunction):
                listeners.append(TimerListener(function, invoker, self.state_dir / "timers"))
        return listeners

    async def _wait(self, stopping: asyncio.Event, tasks: list[asyncio.Task[None]]) -> int:
        stop = asyncio.create_task(stopping.wait())
        done, _ = await asyncio.wait([stop, *tasks], return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        crashed = [t for t in done if t is not stop and t.exception() is not None]
        for task in crashed:
            log_event("host.listener_crashed", logging.ERROR, error=repr(task.exception()))
        stopping.set()
        return 1 if crashed else 0

    def _announce(self, http_functions: list[HttpFunction]) -> None:
        base = f"http://{self.host}:{self.port}"
        for function in http_functions:
            path = "/".join(p for p in (self.options.route_prefix, function.route) if p)
            log_event(
                "host.function",
                function=function.name,
                trigger="http",
                url=f"{base}/{path}",
                methods=sorted(function.methods) if function.methods else "any",
                auth_level=function.auth_level,
            )
        for other in self.functions:
            if isinstance(other, ServiceBusFunction):
                log_event(
                    "host.function",
                    function=other.name,
                    trigger="servicebus",
                    queue=other.queue_name,
                    connection=other.connection_setting,
                )
            elif isinstance(other, TimerFunction):
                log_event(
                    "host.function",
                    function=other.name,
                    trigger="timer",
                    schedule=other.schedule.expression,
                    use_monitor=other.use_monitor,
                    run_on_startup=other.run_on_startup,
                )
        log_event("host.ready", url=base if self.serve_http else None)
