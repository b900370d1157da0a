"""HTTP triggers of the sample app over a real socket."""

import asyncio
import json
import socket
import time

import aiohttp
import psutil
import pytest

from tests.integration.host.conftest import FUNCTION_KEY, MASTER_KEY
from tests.integration.host.test_servicebus import wait_for


async def request(method, url, **kwargs):
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, **kwargs) as response,
    ):
        return response.status, dict(response.headers), await response.read()


async def test_anonymous_route_with_parameter(sample_host):
    host = sample_host()
    status, _, body = await request("GET", f"{host.url}/api/hello/ana%20maria")
    assert (status, body) == (200, b"hello ana maria")


async def test_function_level_needs_the_function_or_master_key(sample_host):
    host = sample_host()
    url = f"{host.url}/api/echo"
    assert (await request("POST", url, data=b"x"))[0] == 401
    assert (await request("POST", url, data=b"x", headers={"x-functions-key": "wrong"}))[0] == 401
    assert (await request("POST", url, data=b"x", headers={"x-functions-key": FUNCTION_KEY}))[
        0
    ] == 201
    assert (await request("POST", f"{url}?code={FUNCTION_KEY}", data=b"x"))[0] == 201
    assert (await request("POST", url, data=b"x", headers={"x-functions-key": MASTER_KEY}))[
        0
    ] == 201


async def test_admin_level_needs_the_master_key(sample_host):
    host = sample_host()
    url = f"{host.url}/api/admin/only"
    assert (await request("GET", url, headers={"x-functions-key": FUNCTION_KEY}))[0] == 401
    status, _, body = await request("GET", url, headers={"x-functions-key": MASTER_KEY})
    assert (status, body) == (200, b"admin")


async def test_request_and_response_conversion(sample_host):
    host = sample_host()
    status, headers, body = await request(
        "POST",
        f"{host.url}/api/echo?a=1&code={FUNCTION_KEY}",
        data=b"0123456789",
        headers={"X-Sample": "s"},
    )
    assert status == 201
    assert headers["X-Echo"] == "yes"
    assert headers["Content-Type"].startswith("application/json")
    echoed = json.loads(body)
    assert echoed["method"] == "POST"
    assert echoed["params"] == {"a": "1", "code": FUNCTION_KEY}
    assert echoed["header"] == "s"
    assert echoed["length"] == 10
    assert echoed["function"] == "echo"
    assert echoed["url"].startswith(f"{host.url}/api/echo?")


async def test_unknown_route_404_wrong_method_405_constraint_miss_404(sample_host):
    host = sample_host()
    key = {"x-functions-key": FUNCTION_KEY}
    assert (await request("GET", f"{host.url}/api/nothing"))[0] == 404
    status, headers, _ = await request("POST", f"{host.url}/api/items/3", headers=key)
    assert status == 405
    assert headers["Allow"] == "DELETE, GET"
    assert (await request("GET", f"{host.url}/api/items/abc", headers=key))[0] == 404
    status, _, body = await request("DELETE", f"{host.url}/api/items/3", headers=key)
    assert (status, body) == (200, b"DELETE item 3")


async def test_function_error_is_500_and_logged(sample_host):
    host = sample_host()
    assert (await request("GET", f"{host.url}/api/boom"))[0] == 500
    failed = [
        line
        for line in host.log_lines()
        if line.get("message") == "invocation" and line.get("function") == "boom"
    ]
    assert failed
    assert failed[0]["outcome"] == "failed"
    assert "boom on purpose" in failed[0]["exception"]


LIMIT = {"FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": "65536"}


def body_limit_failures(host) -> list[dict]:
    return [
        line
        for line in host.log_lines()
        if line.get("message") == "invocation" and "Request body too large" in line.get("error", "")
    ]


def rss(pid: int) -> int:
    return psutil.Process(pid).memory_info().rss


def post_chunked(port: int, total: int, chunk: int = 64 * 1024) -> tuple[bytes, int]:
    """POST `total` bytes chunked on a raw socket; (status line, bytes sent before the answer)."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"x-functions-key: " + FUNCTION_KEY.encode() + b"\r\n\r\n"
        )
        piece = f"{chunk:x}\r\n".encode() + b"x" * chunk + b"\r\n"
        sock.setblocking(False)
        answer = b""
        while sent < total and not answer:
            try:
                answer = sock.recv(200)
                break
            except BlockingIOError:
                pass
            try:
                sock.sendall(piece)
                sent += chunk
            except BlockingIOError:
                time.sleep(0.01)  # the host is not reading: wait for its answer
            except (BrokenPipeError, ConnectionResetError):
                break
        sock.setblocking(True)
        if not answer:
            answer = sock.recv(200)
    return answer.split(b"\r\n", 1)[0], sent


def test_a_10_mb_body_over_a_64_kib_limit_is_refused_without_buffering(sample_host):
    # Given a host whose FUNCTIONS_REQUEST_BODY_SIZE_LIMIT is 64 KiB
    host = sample_host(LIMIT)
    pid = host.process.process.pid
    post_chunked(host.process.port, 128 * 1024)  # warm up the code path before measuring
    before = rss(pid)
    # When a client streams 10 MB (chunked: no Content-Length to refuse it up front)
    status_line, _ = post_chunked(host.process.port, 10 * 1024 * 1024)
    # Then the host answers as Azure does (the binding fails: 500, no invocation)
    assert b" 500 " in status_line
    failure = wait_for(
        lambda: len(body_limit_failures(host)) == 2 and body_limit_failures(host), timeout=5
    )[1]
    # having read the limit plus at most aiohttp's read-ahead (its flow control pauses the
    # socket a few hundred KiB ahead), far from the 10 MB, and without growing by the body
    assert 65536 < failure["bytes_read"] <= 1024 * 1024
    assert rss(pid) - before < 4 * 1024 * 1024
    assert failure["function"] == "echo"
    assert not any(
        line.get("message") == "invocation" and line.get("outcome") == "succeeded"
        for line in host.log_lines()
    )


async def test_declared_length_over_the_limit_is_refused_before_reading(sample_host):
    host = sample_host(LIMIT)
    reader, writer = await asyncio.open_connection(host.process.host, host.process.port)
    writer.write(
        b"POST /api/echo HTTP/1.1\r\nHost: x\r\nx-functions-key: "
        + FUNCTION_KEY.encode()
        + b"\r\nContent-Length: 200000000\r\n\r\n"
    )
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), timeout=5)
    # The connection is closed: the rest of the body is never drained.
    assert await asyncio.wait_for(reader.read(), timeout=5) is not None
    writer.close()
    assert b" 500 " in status_line
    assert body_limit_failures(host)[0]["bytes_read"] == 0


async def test_a_body_at_the_limit_is_accepted(sample_host):
    host = sample_host(LIMIT)
    status, _, body = await request(
        "POST", f"{host.url}/api/echo", data=b"x" * 65536, headers={"x-functions-key": FUNCTION_KEY}
    )
    assert status == 201
    assert json.loads(body)["length"] == 65536


def test_a_bad_limit_setting_stops_the_host(sample_host):
    with pytest.raises(pytest.fail.Exception, match="FUNCTIONS_REQUEST_BODY_SIZE_LIMIT must be"):
        sample_host({"FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": "64k"})


async def test_sync_and_async_functions_run_concurrently(sample_host):
    host = sample_host()
    # Given five 1-second async sleeps and a sync function at the same time
    started = asyncio.get_running_loop().time()
    results = await asyncio.gather(
        *[request("GET", f"{host.url}/api/sleep/1") for _ in range(5)],
        request("GET", f"{host.url}/api/hello/x"),
    )
    # Then they overlap instead of queueing
    assert all(status == 200 for status, _, _ in results)
    assert asyncio.get_running_loop().time() - started < 3


async def test_a_disabled_function_is_not_loaded_as_in_azure(sample_host):
    # AzureWebJobs.<name>.Disabled: a disabled route answers 404, a disabled queue trigger
    # never listens, and a group left without functions gets no instance.
    disabled = {"AzureWebJobs.hello.Disabled": "true", "AzureWebJobs.flaky.Disabled": "1"}
    host = sample_host(disabled, instances="flaky=2")
    assert (await request("GET", f"{host.url}/api/hello/ana"))[0] == 404
    assert (await request("GET", f"{host.url}/api/whoami"))[0] == 200
    lines = host.log_lines()
    announced = [line for line in lines if line["message"] == "host.functions_disabled"]
    assert [line["functions"] for line in announced] == [["flaky", "hello"]]
    assert not any(line.get("function") == "flaky" for line in lines)
    assert not any(str(line.get("instance", "")).startswith("function:flaky") for line in lines)
