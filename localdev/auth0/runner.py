"""Run the stand-in on a real socket, in the foreground (CLI) or in a thread (tests, bench)."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

from aiohttp import web

from localdev.auth0.directory import Directory
from localdev.auth0.ratelimit import RateLimit
from localdev.auth0.server import StandIn, TenantConfig, build_app

START_TIMEOUT = 10.0


@dataclass(frozen=True)
class StandInOptions:
    """Everything the stand-in is started with."""

    tenant: TenantConfig
    host: str = "127.0.0.1"
    port: int = 4010
    search_delay: float = 0.0
    rate_limit: int = 2  # burst (bucket size); Auth0's Free plan: 2
    rate_per_second: float = 2.0  # sustained; <= 0 turns the limit off


def build_state(options: StandInOptions) -> StandIn:
    """The stand-in's state for `options` (empty directory)."""
    return StandIn(
        tenant=options.tenant,
        directory=Directory(search_delay=options.search_delay),
        rate_limit=RateLimit(options.rate_limit, options.rate_per_second),
    )


class ThreadedStandIn:
    """The stand-in served from a background thread with its own event loop."""

    def __init__(self, options: StandInOptions) -> None:
        self.options = options
        self.state = build_state(options)
        self._loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(build_app(self.state), access_log=None)
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """What AUTH0_BASE_URL should be set to."""
        return f"http://{self.options.host}:{self.options.port}"

    def start(self) -> None:
        """Listen on the port; raises OSError when it cannot."""
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        future.result(timeout=START_TIMEOUT)

    async def _start(self) -> None:
        await self._runner.setup()
        await web.TCPSite(self._runner, self.options.host, self.options.port).start()

    def stop(self) -> None:
        """Close the socket and the loop."""
        future = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
        future.result(timeout=START_TIMEOUT)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=START_TIMEOUT)
        self._loop.close()
