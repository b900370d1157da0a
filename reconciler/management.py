"""Auth0 user search (v3) through the auth0-python SDK, inside the reconciler's ceiling.

`UserSearch` is the interface the listing uses; `ManagementApiSearch` is the
real one. It asks for exactly one page per call (the SDK's pager is never
iterated, so it cannot page past the 1000-result rule), turns the SDK's own
retries off (`max_retries: 0`, so no retry bypasses the ceiling), waits for
the ceiling before every request, and after a 429 holds every request until
`x-ratelimit-reset`.

Errors: `ListingUnavailable` (transient: network, 5xx, too many 429s) and
`ListingRejected` (permanent: bad credentials, missing `read:users`, a query
Auth0 refuses).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from auth0.management import Auth0, ManagementClient
from auth0.management.core.api_error import ApiError
from auth0.management.errors import TooManyRequestsError, UnauthorizedError

from reconciler.throttle import RequestCeiling
from shared.errors import PermanentError, TransientError
from shared.secrets import check_secret
from shared.settings import Settings, SettingsError

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = 20.0  # seconds per Management API request
TOKEN_LEEWAY = 60.0  # renew the token this long before Auth0 says it expires
MAX_THROTTLED = 30  # 429s in a row before a call gives up (each waits for the reset)
MAX_TRANSIENT = 3  # network errors / 5xx in a row before a call gives up
NO_SDK_RETRIES: dict[str, Any] = {"max_retries": 0}


class ListingUnavailable(TransientError):
    """Auth0 could not be reached or kept refusing; the next run tries again."""


class ListingRejected(PermanentError):
    """Auth0 refused the request for a reason retrying cannot fix."""


@dataclass(frozen=True)
class SearchPage:
    """One page of a user search: Management API users as JSON objects, and the total."""

    users: list[dict[str, Any]]
    total: int


class UserSearch(Protocol):
    """One page of `GET /api/v2/users?q=...&sort=created_at:1&include_totals=true`."""

    def search(self, query: str, page: int, per_page: int) -> SearchPage: ...


class ClientCredentialsToken:
    """A Management API token from `{base_url}/oauth/token`, kept until it expires.

    Used with AUTH0_BASE_URL (the SDK's own token provider assumes https://{domain});
    the audience stays `https://{AUTH0_DOMAIN}/api/v2/`.
    """

    def __init__(self, base_url: str, domain: str, client_id: str, client_secret: str) -> None:
        self._url = f"{base_url}/oauth/token"
        self._form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
            "audience": f"https://{domain}/api/v2/",
        }
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires_at - TOKEN_LEEWAY:
                self._fetch()
            assert self._token is not None
            return self._token

    def forget(self) -> None:
        """Drop the cached token (Auth0 answered 401 to it)."""
        with self._lock:
            self._token = None

    def _fetch(self) -> None:
        try:
            answer = httpx.post(self._url, data=self._form, timeout=REQUEST_TIMEOUT)
        except httpx.HTTPError as exc:
            raise ListingUnavailable(f"token request failed: {type(exc).__name__}") from exc
        if answer.status_code >= 500:
            raise ListingUnavailable(f"token request answered {answer.status_code}")
        if answer.status_code != 200:
            reason = _error_text(answer)
            raise ListingRejected(f"token request refused ({answer.status_code}): {reason}")
        document = answer.json()
        self._token = str(document["access_token"])
        self._expires_at = time.monotonic() + float(document.get("expires_in", 86400))


def _error_text(answer: httpx.Response) -> str:
    try:
        document = answer.json()
    except ValueError:
        return answer.reason_phrase
    if isinstance(document, dict):
        return str(document.get("error_description") or document.get("message") or document)
    return answer.reason_phrase


@dataclass
class ManagementApiSearch:
    """`UserSearch` over the SDK's users client, with the ceiling and the 429 backoff."""

    users: Any  # the SDK's users client (`Auth0(...).users` or `ManagementClient(...).users`)
    ceiling: RequestCeiling
    token: ClientCredentialsToken | None = None  # with AUTH0_BASE_URL: forgotten after a 401
    http: httpx.Client | None = None  # the SDK's connections, closed by `close`
    wall_clock: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic
    requests: int = field(default=0, init=False)  # sent, for the benchmark
    throttled: int = field(default=0, init=False)  # 429s received

    def search(self, query: str, page: int, per_page: int) -> SearchPage:
        throttled_in_a_row = transient_in_a_row = 0
        while True:
            self.ceiling.acquire()
            self.requests += 1
            try:
                return self._one_request(query, page, per_page)
            except TooManyRequestsError as exc:
                throttled_in_a_row += 1
                self.throttled += 1
                if throttled_in_a_row > MAX_THROTTLED:
                    raise ListingUnavailable("Auth0 kept answering 429") from exc
                self.ceiling.hold_until(self._reset_moment(exc.headers or {}))
            except UnauthorizedError as exc:
                if self.token is None or transient_in_a_row > 0:
                    raise ListingRejected("Auth0 refused the token (401)") from exc
                self.token.forget()  # revoked or expired early: one fresh token
                transient_in_a_row += 1
            except (ApiError, httpx.HTTPError) as exc:
                transient_in_a_row += 1
                if not _is_transient(exc) or transient_in_a_row > MAX_TRANSIENT:
                    raise _convert(exc) from exc
                self.ceiling.hold_until(self.monotonic() + 2.0**transient_in_a_row)

    def close(self) -> None:
        """Close the HTTP connections the SDK client holds."""
        if self.http is not None:
            self.http.close()

    def _one_request(self, query: str, page: int, per_page: int) -> SearchPage:
        pager = self.users.list(
            q=query,
            page=page,
            per_page=per_page,
            include_totals=True,
            sort="created_at:1",
            search_engine="v3",
            request_options=NO_SDK_RETRIES,
        )
        content = pager.response
        users = [user.dict(exclude_none=True) for user in content.users or []]
        total = int(content.total) if content.total is not None else len(users)
        return SearchPage(users, total)

    def _reset_moment(self, headers: dict[str, str]) -> float:
        """`x-ratelimit-reset` (UNIX seconds) on the monotonic clock; 1 s when absent."""
        lowered = {key.lower(): value for key, value in headers.items()}
        try:
            wait = float(lowered["x-ratelimit-reset"]) - self.wall_clock()
        except (KeyError, ValueError):
            wait = 1.0
        return self.monotonic() + min(max(wait, 0.0), 60.0)


def _is_transient(exc: Exception) -> bool:
    if isinstance(exc, httpx.HTTPStatusError):  # the SDK's token provider: a refused token
        return exc.response.status_code >= 500 or exc.response.status_code == 429
    if isinstance(exc, httpx.HTTPError):
        return True
    status = getattr(exc, "status_code", None)
    return status is None or status >= 500


def _convert(exc: Exception) -> Exception:
    if _is_transient(exc):
        return ListingUnavailable(f"Auth0 search failed: {type(exc).__name__}")
    if isinstance(exc, httpx.HTTPStatusError):
        code = exc.response.status_code
        return ListingRejected(f"Auth0 refused the token request ({code}): check AUTH0_CLIENT_*")
    body = getattr(exc, "body", None)
    message = body.get("message") if isinstance(body, dict) else None
    status = getattr(exc, "status_code", None)
    return ListingRejected(f"Auth0 search refused ({status}): {message or type(exc).__name__}")


def build_user_search(settings: Settings, ceiling: RequestCeiling) -> ManagementApiSearch:
    """The real search from AUTH0_* settings (AUTH0_BASE_URL selects the generated client)."""
    domain, client_id = settings.auth0_domain, settings.auth0_client_id
    if not (domain and client_id):
        raise ListingRejected("set AUTH0_DOMAIN, AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET")
    try:
        # Empty, a placeholder or an unresolved Key Vault reference: refused, never sent.
        secret = check_secret("AUTH0_CLIENT_SECRET", settings.auth0_client_secret)
    except SettingsError as exc:
        raise ListingRejected(str(exc)) from None
    # No redirects: a bearer token must never follow a Location to another host.
    http = httpx.Client(timeout=REQUEST_TIMEOUT, follow_redirects=False)
    if settings.auth0_base_url:
        base = settings.auth0_base_url.rstrip("/")
        token = ClientCredentialsToken(base, domain, client_id, secret)
        api = Auth0(base_url=f"{base}/api/v2", token=token, max_retries=0, httpx_client=http)
        return ManagementApiSearch(api.users, ceiling, token, http)
    client = ManagementClient(
        domain=domain, client_id=client_id, client_secret=secret, httpx_client=http
    )
    return ManagementApiSearch(client.users, ceiling, http=http)
