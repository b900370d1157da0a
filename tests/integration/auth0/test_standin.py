"""The Auth0 stand-in over real sockets: tokens, search rules, errors, rate limit, admin, CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import httpx
import pytest

from reconciler.management import ClientCredentialsToken
from tests.fixtures.ports import free_port
from tests.integration.auth0.standin import (
    CLIENT_ID,
    CLIENT_SECRET,
    DOMAIN,
    HOUR,
    running_standin,
    seed_users,
)

pytestmark = pytest.mark.timeout(60)
AUDIENCE = f"https://{DOMAIN}/api/v2/"


def token(base: str, **overrides: str) -> httpx.Response:
    form = {"grant_type": "client_credentials", "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET, "audience": AUDIENCE, **overrides}  # fmt: skip
    return httpx.post(f"{base}/oauth/token", data=form)


def bearer(base: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(base).json()['access_token']}"}


def test_the_client_credentials_token_and_its_refusals():
    with running_standin() as server:
        base = server.base_url
        good = token(base)
        assert good.status_code == 200
        assert good.json()["token_type"] == "Bearer"
        assert good.json()["expires_in"] == 86400
        assert token(base, client_secret="wrong").status_code == 401
        refused = token(base, audience="https://other/api/v2/")
        assert refused.status_code == 403
        assert refused.json()["error"] == "access_denied"
        assert token(base, grant_type="password").status_code == 400
        assert httpx.get(f"{base}/api/v2/users").json()["statusCode"] == 401


def test_search_pages_only_through_the_first_1000_results():
    with running_standin() as server:
        seed_users(server, 1200, HOUR, timedelta(hours=1))
        base, headers = server.base_url, bearer(server.base_url)
        q = "created_at:[2026-11-26T03:00:00.000Z TO 2026-11-26T04:00:00.000Z}"
        params: dict[str, str | int] = {
            "q": q,
            "page": 9,
            "per_page": 100,
            "include_totals": "true",
        }
        last = httpx.get(f"{base}/api/v2/users", headers=headers, params=params)
        assert last.status_code == 200
        assert (last.json()["start"], last.json()["length"], last.json()["total"]) == (
            900,
            100,
            1200,
        )
        beyond = httpx.get(f"{base}/api/v2/users", headers=headers,
                           params={"q": q, "page": 10, "per_page": 100})  # fmt: skip
        assert beyond.status_code == 400
        assert beyond.json()["errorCode"] == "invalid_paging"
        assert beyond.json()["message"].startswith(
            "You can only page through the first 1000 records"
        )
        too_big = httpx.get(f"{base}/api/v2/users", headers=headers, params={"per_page": 101})
        assert too_big.status_code == 400
        bare = httpx.get(f"{base}/api/v2/users", headers=headers, params={"q": q})
        assert isinstance(bare.json(), list)
        assert len(bare.json()) == 50  # Auth0's default page size


def test_bounds_are_inclusive_or_exclusive_as_written():
    with running_standin() as server:
        server.state.directory.add(
            {"user_id": "auth0|edge", "created_at": "2026-11-26T03:00:00.000Z"}
        )
        base, headers = server.base_url, bearer(server.base_url)

        def total(q: str) -> int:
            answer = httpx.get(f"{base}/api/v2/users", headers=headers,
                               params={"q": q, "include_totals": "true"})  # fmt: skip
            return int(answer.json()["total"])

        assert total("created_at:[2026-11-26T03:00:00.000Z TO *]") == 1
        assert total("created_at:{2026-11-26T03:00:00.000Z TO *]") == 0
        assert total("created_at:[* TO 2026-11-26T03:00:00.000Z]") == 1
        assert total("created_at:[* TO 2026-11-26T03:00:00.000Z}") == 0
        refused = httpx.get(f"{base}/api/v2/users", headers=headers, params={"q": "email:x"})
        assert refused.status_code == 400


def test_a_new_user_is_searchable_only_after_the_delay_but_readable_at_once():
    with running_standin(search_delay=3.0) as server:
        base, headers = server.base_url, bearer(server.base_url)
        created = httpx.post(f"{base}/admin/users", json={"email": "a@example.com"}).json()[0]
        user_id = created["user_id"]
        assert httpx.get(f"{base}/api/v2/users/{user_id}", headers=headers).status_code == 200
        assert httpx.get(f"{base}/api/v2/users", headers=headers).json() == []
        time.sleep(3.1)
        assert [
            u["user_id"] for u in httpx.get(f"{base}/api/v2/users", headers=headers).json()
        ] == [user_id]
        assert httpx.delete(f"{base}/admin/users/{user_id}").status_code == 204
        missing = httpx.get(f"{base}/api/v2/users/{user_id}", headers=headers)
        assert missing.status_code == 404
        assert missing.json()["errorCode"] == "inexistent_user"


def test_the_rate_limit_headers_and_the_429():
    # A bucket of 2 refilled every 5 s: a loaded machine cannot refill it between requests.
    with running_standin(rate_per_second=0.2, rate_limit=2) as server:
        base, headers = server.base_url, bearer(server.base_url)
        with httpx.Client(headers=headers) as client:
            answers = [client.get(f"{base}/api/v2/users") for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert answers[0].headers["x-ratelimit-limit"] == "2"
        assert answers[1].headers["x-ratelimit-remaining"] == "0"
        reset = int(answers[2].headers["x-ratelimit-reset"])
        assert time.time() - 1 <= reset <= time.time() + 6
        assert answers[2].json()["errorCode"] == "too_many_requests"


def test_the_token_is_kept_until_it_expires():
    with running_standin(token_lifetime=63) as server:  # 3 s before the 60 s renewal leeway
        provider = ClientCredentialsToken(server.base_url, DOMAIN, CLIENT_ID, CLIENT_SECRET)
        first = provider()
        assert provider() == first
        assert server.state.stats.tokens_issued == 1
        time.sleep(3.1)
        assert provider() != first
        assert server.state.stats.tokens_issued == 2


def test_the_command_serves_a_seed_file_until_sigterm(tmp_path):
    seed = tmp_path / "users.json"
    social = {"user_id": "google-oauth2|1", "created_at": "2026-11-26T03:00:00.000Z"}
    users = [{**social, "connection": "google-oauth2"}, {"email": "b@example.com"}]
    seed.write_text(json.dumps({"users": users}), encoding="utf-8")
    port = free_port()
    command = [sys.executable, "-m", "localdev", "auth0", "--port", str(port), "--domain", DOMAIN,
               "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET, "--seed", str(seed),
               "--search-delay", "0", "--settings", str(tmp_path / "none.json")]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
    try:
        banner = process.stdout.readline() if process.stdout else ""
        assert f"127.0.0.1:{port}" in banner, process.stderr.read() if process.stderr else ""
        base = f"http://127.0.0.1:{port}"
        users = httpx.get(f"{base}/api/v2/users", headers=bearer(base)).json()
        assert len(users) == 2
        assert users[0]["identities"][0]["connection"] == "google-oauth2"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        for stream in (process.stdout, process.stderr):
            if stream:
                stream.close()


def test_the_command_refuses_missing_credentials(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "localdev", "auth0", "--settings", str(tmp_path / "none.json")],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--client-id" in result.stderr
