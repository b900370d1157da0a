"""The HTTP side of the host: one aiohttp handler that routes, checks keys, and invokes.

Order per request, as Azure: route (404/405) -> key (401) -> body limit ->
function -> response (500 on error).

The body limit is FUNCTIONS_REQUEST_BODY_SIZE_LIMIT (bytes; Azure's default
100 MiB). The Functions host sets Kestrel's MaxRequestBodySize per request
and reads the body when it binds `req`; a body over the limit makes that
binding fail, so Azure answers 500 with no body and never calls the function
(azure-functions-host issue #10519, still open). We answer the same, checking
Content-Length first and then counting bytes as they stream in: nothing past
the limit is read, and the connection is closed instead of draining the rest.
"""

from __future__ import annotations

import logging
import time

from aiohttp import web

from localdev.host.auth import HostKeys, is_authorized, presented_key
from localdev.host.convert import to_http_request, to_web_response
from localdev.host.invocation import Invoker, elapsed_ms, log_event
from localdev.host.routing import RouteMiss, Router

# FUNCTIONS_REQUEST_BODY_SIZE_LIMIT's default in the Functions host: 100 MiB.
MAX_REQUEST_BODY_BYTES = 100 * 1024 * 1024
BODY_LIMIT_SETTING = "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"


class BodyTooLarge(Exception):
    """The request body exceeds the limit; `read` is how many bytes were taken in."""

    def __init__(self, read: int) -> None:
        super().__init__(f"request body over the limit after {read} bytes")
        self.read = read


async def read_body(request: web.Request, limit: int) -> bytes:
    """The body, read chunk by chunk; BodyTooLarge as soon as it passes `limit` bytes."""
    if (request.content_length or 0) > limit:
        raise BodyTooLarge(0)
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.readany():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(size)
        chunks.append(chunk)
    return b"".join(chunks)


def body_too_large(function: str, limit: int, error: BodyTooLarge, started: float) -> web.Response:
    """Azure's answer to an oversized body: the binding fails, 500, no body; connection closed."""
    log_event(
        "invocation",
        logging.WARNING,
        function=function,
        trigger="http",
        outcome="failed",
        status=500,
        error=f"Request body too large. The max request body size is {limit} bytes.",
        bytes_read=error.read,
        duration_ms=elapsed_ms(started),
    )
    response = web.Response(status=500)
    response.force_close()  # no keep-alive: the rest of the body is never read
    return response


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
        try:
            body = await read_body(request, max_body_bytes)
        except BodyTooLarge as exc:
            return body_too_large(function.name, max_body_bytes, exc, started)
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

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app
