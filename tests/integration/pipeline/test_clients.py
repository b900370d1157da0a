"""`shared.clients` as the app builds them: the Tables pool fits the processor's concurrency."""

from __future__ import annotations

import logging
import threading

from azure.core.pipeline.transport import RequestsTransport
from azure.identity import DefaultAzureCredential

from shared.clients import TABLE_CONNECTION_POOL_SIZE, build_table_service_client
from shared.settings import Settings
from tests.integration.pipeline.conftest import make_store

PROCESSOR_CONCURRENCY = 16  # host.json serviceBus.maxConcurrentCalls


def test_sixteen_concurrent_table_calls_keep_every_connection(
    tables_connection_string, table_name_factory, caplog
) -> None:
    store = make_store(tables_connection_string, table_name_factory("pool"))
    start = threading.Barrier(PROCESSOR_CONCURRENCY)
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            start.wait(timeout=10)
            for n in range(10):
                store.get("nobody", f"row{n}")
        except BaseException as exc:
            errors.append(exc)

    # When: as many threads as the processor runs invocations use the one client
    with caplog.at_level(logging.WARNING, logger="urllib3.connectionpool"):
        threads = [threading.Thread(target=reader) for _ in range(PROCESSOR_CONCURRENCY)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    # Then: no connection was thrown away for lack of room in the pool
    assert errors == []
    discarded = [r for r in caplog.records if "Connection pool is full" in r.getMessage()]
    assert discarded == []


def test_identity_based_client_gets_the_same_transport() -> None:
    # Construction only: DefaultAzureCredential asks for a token on the first request.
    settings = Settings(TablesConnection__tableServiceUri="https://acct.table.core.windows.net")
    client = build_table_service_client(settings)
    try:
        assert isinstance(client.credential, DefaultAzureCredential)
        transport = client._client._client._pipeline._transport  # the SDK keeps no public handle
        assert isinstance(transport, RequestsTransport)
        adapter = transport.session.get_adapter("https://acct.table.core.windows.net")
        assert adapter._pool_maxsize == TABLE_CONNECTION_POOL_SIZE >= PROCESSOR_CONCURRENCY
        assert transport.connection_config.read_timeout == 10.0
    finally:
        client.close()
