"""One trace from the caller's traceparent through ingest, the emulator's queue and the processor.

The app's own `AppContext` (real SDK clients, Azurite tables, the project's Service
Bus emulator) writes the local span file; the row keeps the trace id.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from shared.runtime import AppContext, set_context
from shared.settings import Settings
from tests.integration.pipeline.test_servicebus import deliver_all
from tests.unit.pipeline.conftest import BASE_EVENT, SECRET, body_of, http_request, user_function

INCOMING = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_the_trace_crosses_the_queue_to_the_row(
    servicebus_factory, tables_connection_string, table_name_factory, tmp_path: Path
) -> None:
    # Given: the app wired from settings, as in a Functions process, with a span file
    queue = f"trace{uuid.uuid4().hex[:8]}"
    emulator = servicebus_factory(queues={queue: {"MaxDeliveryCount": 3}})
    spans = tmp_path / "traces" / "spans.jsonl"
    settings = Settings.model_validate(
        {
            "ServiceBusConnection": emulator.connection_string,
            "TablesConnection": tables_connection_string,
            "REGISTRATIONS_QUEUE": queue,
            "REGISTRATIONS_TABLE": table_name_factory("reg"),
            "FAILURES_TABLE": table_name_factory("fail"),
            "TOMBSTONES_TABLE": table_name_factory("tomb"),
            "WEBHOOK_SECRET": SECRET,
            "LOCALDEV_TRACE_FILE": str(spans),
        }
    )
    context = AppContext(settings)
    set_context(context)
    try:
        # When: the Action posts with its traceparent and the processor drains the queue
        response = user_function("ingest_registration")(
            http_request(body_of(BASE_EVENT), headers={"traceparent": INCOMING})
        )
        assert response.status_code == 202
        assert deliver_all(context.service_bus_client, queue) == 1
        [row] = context.registration_reader.get(BASE_EVENT["user"]["user_id"])
    finally:
        set_context(None)
        context.publisher.close()  # type: ignore[attr-defined]
        context.service_bus_client.close()

    # Then: the row and every span carry the caller's trace id, parent to child
    assert row.trace_id == "0af7651916cd43dd8448eb211c80319c"
    records = {r["name"]: r for r in map(json.loads, spans.read_text().splitlines())}
    assert set(records) == {"ingest", "ingest.publish", "processor"}
    assert {r["trace_id"] for r in records.values()} == {row.trace_id}
    assert records["ingest"]["parent_span_id"] == "b7ad6b7169203331"
    assert records["ingest.publish"]["parent_span_id"] == records["ingest"]["span_id"]
    assert records["processor"]["parent_span_id"] == records["ingest.publish"]["span_id"]
    assert records["processor"]["attributes"]["message_id"] == row.message_id
