"""The Auth0 stand-in's HTTP surface (aiohttp): token, user search, user by id, admin.

Routes, answers and error bodies follow Auth0's documentation:

- `POST /oauth/token` (client credentials, form or JSON): `{access_token, token_type,
  expires_in, scope}`; a wrong client answers 401 `access_denied`, an audience other
  than `https://{domain}/api/v2/` answers 403 `access_denied`.
- `GET /api/v2/users` with `q`, `page`, `per_page` (at most 100), `include_totals`,
  `sort`; only the first 1000 results can be paged through (400 `invalid_paging`).
- `GET /api/v2/users/{id}` (404 `inexistent_user`).
- Management API errors are `{statusCode, error, message, errorCode}`; every
  Management API answer carries the `x-ratelimit-*` headers, 429 when over the limit.
- `POST /admin/users` (one user object or a list), `DELETE /admin/users/{id}`,
  `GET /admin/stats`: not Auth0's, for seeding and tests (loopback only, no auth).
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from aiohttp import web

from localdev.auth0.directory import Directory, QueryError, parse_created_at_range
from localdev.auth0.ratelimit import RateLimit

MAX_PER_PAGE = 100
MAX_PAGED_RESULTS = 1000
DEFAULT_PER_PAGE = 50
PAGING_MESSAGE = (
    "You can only page through the first 1000 records. "
    "See https://auth0.com/docs/users/search/v3/view-search-results-by-page#limitation"
)


@dataclass(frozen=True)
class TenantConfig:
    """Who may get a token, for which audience, and how long it lives."""

    domain: str
    client_id: str
    client_secret: str
    token_lifetime: int = 86400

    @property
    def audience(self) -> str:
        return f"https://{self.domain}/api/v2/"


@dataclass
class Stats:
    """What the stand-in served (for tests and the benchmark)."""

    tokens_issued: int = 0
    api_requests: int = 0
    search_requests: int = 0
    throttled: int = 0


@dataclass
class StandIn:
    """The state behind the routes."""

    tenant: TenantConfig
    directory: Directory
    rate_limit: RateLimit
    stats: Stats = field(default_factory=Stats)
    tenant_id: str = ""  # the AUTH0_TENANT_ID the reconciler stamps; shown in /admin/stats
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (time.time())


def api_error(status: int, error: str, message: str, code: str | None = None) -> web.Response:
    """A Management API error body: `{statusCode, error, message, errorCode}`."""
    body: dict[str, Any] = {"statusCode": status, "error": error, "message": message}
    if code is not None:
        body["errorCode"] = code
    return web.json_response(body, status=status)


def build_app(state: StandIn) -> web.Application:
    """The aiohttp application serving `state`."""
    app = web.Application(middlewares=[_management_api(state)])
    app.router.add_post("/oauth/token", _token(state))
    app.router.add_get("/api/v2/users", _search(state))
    app.router.add_get("/api/v2/users/{user_id}", _get_user(state))
    app.router.add_post("/admin/users", _admin_create(state))
    app.router.add_delete("/admin/users/{user_id}", _admin_delete(state))
    app.router.add_get("/admin/stats", _admin_stats(state))
    return app


def _management_api(state: StandIn) -> Any:
    """Bearer token check, then the rate limit, for every `/api/v2` request."""

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        if not request.path.startswith("/api/v2/"):
            return await handler(request)  # type: ignore[no-any-return]
        state.stats.api_requests += 1
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        expiry = state.tokens.get(token)
        if expiry is None or expiry <= time.time():
            message = "Expired token received for JSON Web Token validation"
            return api_error(401, "Unauthorized", message if expiry else "Invalid token")
        decision = state.rate_limit.take()
        if not decision.allowed:
            state.stats.throttled += 1
            answer = api_error(
                429, "Too Many Requests", "Global limit has been reached", "too_many_requests"
            )
        else:
            answer = await handler(request)
        answer.headers.update(decision.headers)
        return answer

    return middleware


async def _form_or_json(request: web.Request) -> dict[str, str]:
    if request.content_type == "application/json":
        try:
            document = await request.json()
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in document.items()} if isinstance(document, dict) else {}
    return {key: str(value) for key, value in (await request.post()).items()}


def _token(state: StandIn) -> Any:
    async def handler(request: web.Request) -> web.Response:
        form = await _form_or_json(request)
        if form.get("grant_type") != "client_credentials":
            return web.json_response(
                {"error": "unsupported_grant_type", "error_description": "Unsupported grant type"},
                status=400,
            )
        if not (
            secrets.compare_digest(form.get("client_id", ""), state.tenant.client_id)
            and secrets.compare_digest(form.get("client_secret", ""), state.tenant.client_secret)
        ):
            return web.json_response(
                {"error": "access_denied", "error_description": "Unauthorized"}, status=401
            )
        if form.get("audience") != state.tenant.audience:
            description = f"Service not enabled within domain: {form.get('audience', '')}"
            return web.json_response(
                {"error": "access_denied", "error_description": description}, status=403
            )
        token = secrets.token_urlsafe(32)
        state.tokens[token] = time.time() + state.tenant.token_lifetime
        state.stats.tokens_issued += 1
        return web.json_response(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": state.tenant.token_lifetime,
                "scope": "read:users",
            }
        )

    return handler


def _int_param(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"Query validation error: '{name}' must be an integer") from None
    if value < 0:
        raise ValueError(f"Query validation error: '{name}' must be at least 0")
    return value


def _search(state: StandIn) -> Any:
    async def handler(request: web.Request) -> web.Response:
        state.stats.search_requests += 1
        try:
            page = _int_param(request, "page", 0)
            per_page = _int_param(request, "per_page", DEFAULT_PER_PAGE)
            created = parse_created_at_range(request.query.get("q"))
        except (ValueError, QueryError) as exc:
            return api_error(400, "Bad Request", str(exc), "invalid_query_string")
        if per_page > MAX_PER_PAGE:
            message = f"Query validation error: per_page must be at most {MAX_PER_PAGE}"
            return api_error(400, "Bad Request", message, "invalid_query_string")
        if page * per_page + per_page > MAX_PAGED_RESULTS:
            return api_error(400, "Bad Request", PAGING_MESSAGE, "invalid_paging")
        sort = request.query.get("sort", "created_at:1")
        if sort not in {"created_at:1", "created_at:-1"}:
            message = "the stand-in sorts only by created_at:1 or created_at:-1"
            return api_error(400, "Bad Request", message, "invalid_query_string")
        found = state.directory.search(created, descending=sort.endswith("-1"))
        users = found[page * per_page : page * per_page + per_page]
        if request.query.get("include_totals", "false").lower() != "true":
            return web.json_response(users)
        start = page * per_page
        body = {"start": start, "limit": per_page, "length": len(users), "users": users}
        return web.json_response({**body, "total": len(found)})

    return handler


def _get_user(state: StandIn) -> Any:
    async def handler(request: web.Request) -> web.Response:
        user = state.directory.get(request.match_info["user_id"])
        if user is None:
            return api_error(404, "Not Found", "The user does not exist.", "inexistent_user")
        return web.json_response(user)

    return handler


def _admin_create(state: StandIn) -> Any:
    async def handler(request: web.Request) -> web.Response:
        try:
            document = await request.json()
        except ValueError:
            return api_error(400, "Bad Request", "body must be JSON")
        users = document if isinstance(document, list) else [document]
        if not all(isinstance(user, dict) for user in users):
            return api_error(400, "Bad Request", "body must be a user object or a list of them")
        try:
            created = [state.directory.add(user) for user in users]
        except KeyError as exc:
            return api_error(409, "Conflict", f"The user already exists: {exc.args[0]}")
        except ValueError as exc:
            return api_error(400, "Bad Request", str(exc))
        return web.json_response(created, status=201)

    return handler


def _admin_delete(state: StandIn) -> Any:
    async def handler(request: web.Request) -> web.Response:
        if not state.directory.delete(request.match_info["user_id"]):
            return api_error(404, "Not Found", "The user does not exist.", "inexistent_user")
        return web.Response(status=204)

    return handler


def _admin_stats(state: StandIn) -> Any:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "tenant_id": state.tenant_id,
                "users": len(state.directory),
                **asdict(state.stats),
            }
        )

    return handler


def load_seed(text: str) -> list[dict[str, Any]]:
    """Users from a seed file: a JSON list of user objects, or `{"users": [...]}`."""
    document = json.loads(text)
    users = document.get("users") if isinstance(document, dict) else document
    if not isinstance(users, list) or not all(isinstance(user, dict) for user in users):
        raise ValueError('a seed file holds a JSON list of users or {"users": [...]}')
    return users
