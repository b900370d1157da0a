"""The HTTP side of the host: one aiohttp handler that routes, checks keys, and invokes.

Order per request, as Azure: route (404/405) -> key (401) -> body cap (413,
enforced while the body streams in) -> function -> response (500 on error).
"""

from __future__ import annotations

import logging
import time

from aiohttp import web

from localdev.host.auth import HostKeys, is_authorized, presented_key
from localdev.host.convert import to_http_request, to_web_response
from localdev.host.invocation import Invoker, elapsed_ms, log_event
from localdev.host.routing import RouteMiss, Router

# Azure's front end refuses request bodies over 100 MB (httpRuntime maxRequestLength).
MAX_REQUEST_BODY_BYTES = 100 * 1024 * 1024


def build_http_app(
    router: Router, keys: HostKeys, invoker: Invoker, max_body_bytes: int = MAX_REQUEST_BODY_BYTES
) -> web.Application:
    """An aiohttp application serving every HTTP function of the app."""

    async def handle(request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        route = router.resolve(request.method, request.rel_url.raw_path)
        if isinstance(route, RouteMiss):
            headers = {"Allow": ", ".join(sorted(route.allowed))} if route.allowed else None
            return web.Response(status=route.status, headers=headers)
        function = route.function
        if not is_authorized(
            function.auth_level, presented_key(request.headers, request.query), keys
        ):
            log_event("http.unauthorized", function=function.name, path=request.path)
            return web.Response(status=401)
        if (request.content_length or 0) > max_body_bytes:
            return web.Response(status=413)
        try:
            body = await request.read()  # aiohttp stops reading past client_max_size: 413
        except web.HTTPRequestEntityTooLarge:
            return web.Response(status=413)
        http_request = to_http_request(
            request.method,
            str(request.url),
            request.headers.items(),
            request.query.items(),
            route.route_params,
            body,
        )
        try:
            response = to_web_response(await invoker.call(function, http_request))
        except Exception:
            log_event(
                "invocation",
                logging.ERROR,
                exc_info=True,
                function=function.name,
                trigger="http",
                outcome="failed",
                status=500,
                duration_ms=elapsed_ms(started),
            )
            return web.Response(status=500)
        log_event(
            "invocation",
            function=function.name,
            trigger="http",
            outcome="succeeded",
            status=response.status,
            duration_ms=elapsed_ms(started),
        )
        return response

    app = web.Application(client_max_size=max_body_bytes)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app
