"""HTTP triggers of the sample app over a real socket."""

import asyncio
import json

import aiohttp

from tests.integration.host.conftest import FUNCTION_KEY, MASTER_KEY


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


async def test_body_over_the_cap_is_413_while_streaming(sample_host):
    host = sample_host()

    async def chunks():
        chunk = b"x" * (1024 * 1024)
        for _ in range(101):  # 101 MiB without a Content-Length: chunked upload
            yield chunk

    status, _, _ = await request(
        "POST", f"{host.url}/api/echo", data=chunks(), headers={"x-functions-key": FUNCTION_KEY}
    )
    assert status == 413


async def test_declared_length_over_the_cap_is_413_at_once(sample_host):
    host = sample_host()
    reader, writer = await asyncio.open_connection(host.process.host, host.process.port)
    writer.write(
        b"POST /api/echo HTTP/1.1\r\nHost: x\r\nx-functions-key: "
        + FUNCTION_KEY.encode()
        + b"\r\nContent-Length: 200000000\r\n\r\n"
    )
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), timeout=5)
    writer.close()
    assert b" 413 " in status_line


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
