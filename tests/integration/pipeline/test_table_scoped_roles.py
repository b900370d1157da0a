"""A role scoped to one table: Azure refuses Create Table (403), writes still work.

The deployment creates every table and grants the app's identity Storage Table
Data Contributor on single tables; Create Table is authorized at the table
service, so Azure answers 403 AuthorizationPermissionMismatch even though the
table exists. Azurite has no RBAC, so a small aiohttp server stands in front
of it on a free port: it answers `POST /Tables` the way Azure does for such an
identity and forwards every other request to Azurite. The store talks to it
through the real azure-data-tables SDK over a real socket.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from azure.data.tables import TableServiceClient

from localdev.azurite import Azurite, connection_string
from localdev.ports import free_port
from shared.errors import PermanentError, StorageRejected
from tests.integration.pipeline.conftest import make_store

DENIED = "AuthorizationPermissionMismatch"
ETAG = "W/\"datetime'2026-01-01T00%3A00%3A00Z'\""  # any well-formed ETag: the table is missing
# Headers that describe one hop, not the request: never forwarded.
HOP_HEADERS = frozenset(
    {"host", "connection", "keep-alive", "transfer-encoding", "content-length", "accept-encoding"}
)


class TableScopedRoleService:
    """Azure's answers for a table-scoped identity in front of Azurite (own loop, own thread)."""

    def __init__(self, azurite: Azurite) -> None:
        self.target = f"http://127.0.0.1:{azurite.table_port}"
        self.port = free_port()
        self.create_table_calls = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    def connection_string(self) -> str:
        return connection_string(self.port)

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _start(self) -> None:
        self._session = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.method == "POST" and request.path.rstrip("/").endswith("/Tables"):
            self.create_table_calls += 1
            return _denied()
        return await self._forward(request)

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        async with self._session.request(
            request.method,
            self.target + request.path_qs,
            headers=headers,
            data=body or None,
            skip_auto_headers=("Content-Type", "User-Agent", "Accept-Encoding"),
            allow_redirects=False,
        ) as answer:
            payload = await answer.read()
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_HEADERS}
            return web.Response(status=answer.status, body=payload, headers=kept)


def _denied() -> web.Response:
    """Azure's answer (odata JSON error, `x-ms-error-code`) to an operation the role lacks."""
    message = "This request is not authorized to perform this operation using this permission."
    body: dict[str, Any] = {
        "odata.error": {
            "code": DENIED,
            "message": {"lang": "en-US", "value": f"{message}\nRequestId:00000000-0000\nTime:now"},
        }
    }
    return web.Response(
        status=403,
        reason=message,
        body=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json;odata=minimalmetadata;streaming=true;charset=utf-8",
            "x-ms-error-code": DENIED,
        },
    )


@pytest.fixture
def scoped_role(azurite: Azurite) -> Iterator[TableScopedRoleService]:
    service = TableScopedRoleService(azurite)
    service.start()
    try:
        yield service
    finally:
        service.stop()


def _entity(row: str) -> dict[str, Any]:
    return {"PartitionKey": "tenant", "RowKey": row, "source": "action"}


def _refusal_warnings(caplog: pytest.LogCaptureFixture, table: str) -> list[dict[str, Any]]:
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "tablestore"]
    return [r for r in records if r.get("event") == "table-create-refused" and r["table"] == table]


def test_a_deployed_table_is_written_although_create_table_is_refused(
    scoped_role: TableScopedRoleService,
    tables_connection_string: str,
    table_name_factory: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    name = table_name_factory("scoped")
    with TableServiceClient.from_connection_string(tables_connection_string) as service:
        service.create_table(name)  # what the deployment does
    caplog.set_level(logging.WARNING, logger="tablestore")

    store = make_store(scoped_role.connection_string(), name, create=False)
    etag = store.insert(_entity("a"))
    store.upsert(_entity("b"))
    assert store.replace({**_entity("a"), "source": "reconcile"}, etag)

    # The refusal is remembered: one Create Table for three writes.
    assert scoped_role.create_table_calls == 1
    found = store.get("tenant", "a")
    assert found is not None
    assert found.entity["source"] == "reconcile"
    assert store.get("tenant", "b") is not None

    # Another store on the same table in this process tries once more but warns no more.
    make_store(scoped_role.connection_string(), name, create=False).upsert(_entity("c"))
    assert scoped_role.create_table_calls == 2
    warnings = _refusal_warnings(caplog, name)
    assert warnings == [
        {
            "event": "table-create-refused",
            "outcome": "assumed-deployed",
            "table": name,
            "status": 403,
            "error_type": DENIED,
        }
    ]


@pytest.mark.parametrize("write", ["insert", "upsert", "replace"])
def test_a_table_nobody_created_fails_the_write_as_a_permanent_error_naming_it(
    scoped_role: TableScopedRoleService,
    table_name_factory: Any,
    caplog: pytest.LogCaptureFixture,
    write: str,
) -> None:
    name = table_name_factory("missing")
    store = make_store(scoped_role.connection_string(), name, create=False)
    caplog.set_level(logging.WARNING, logger="tablestore")

    writes: dict[str, Callable[[], object]] = {
        "insert": lambda: store.insert(_entity("a")),
        "upsert": lambda: store.upsert(_entity("a")),
        "replace": lambda: store.replace(_entity("a"), ETAG),
    }
    with pytest.raises(StorageRejected, match=f"table {name} does not exist") as raised:
        writes[write]()

    assert isinstance(raised.value, PermanentError)
    assert len(_refusal_warnings(caplog, name)) == 1
