"""The pipeline code's own cost per registration, without the Functions host.

`python -m bench.code_cost [--count N]` starts Azurite and the project's
Service Bus emulator on free ports, then, in this one process and one thread:

- ingest: `IngestService.handle` for N signed requests, publishing through the
  app's `ServiceBusPublisher` to the emulator;
- processor: `RegistrationProcessor.process` for the N messages ingest built,
  against Azurite through the app's Tables client.

For each it prints wall ms and this process's CPU ms per registration (the
servers' CPU is not counted: this is the code's cost), and for the processor
the HTTP requests to the table service per registration. docs/benchmarks.md
("Code cost") records the figures.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from ingest.service import IngestRequest, IngestService
from localdev.azurite import Azurite
from localdev.ports import free_port
from localdev.servicebus.process import ServiceBusEmulatorProcess
from processor.service import IncomingMessage
from shared import keys
from shared.publisher import InMemoryPublisher, OutgoingMessage
from shared.runtime import AppContext
from shared.settings import Settings
from shared.signing import signed_headers

SECRET = "whsec_" + "Y29kZS1jb3N0LWJlbmNoLXNlY3JldC0zMi1ieXRlcyE="  # 32 bytes


@dataclass(frozen=True)
class Cost:
    """Per-registration figures of one phase."""

    name: str
    count: int
    wall_ms: float
    cpu_ms: float
    requests: float | None = None

    def line(self) -> str:
        calls = "" if self.requests is None else f"  {self.requests:5.2f} table requests"
        return f"{self.name:<28} {self.wall_ms:7.3f} ms wall  {self.cpu_ms:7.3f} ms CPU{calls}"


def body(index: int) -> str:
    created = datetime(2026, 11, 26, tzinfo=UTC) + timedelta(seconds=index)
    return (
        '{"type":"user.registered","schema_version":1,"tenant":{"id":"bench"},'
        f'"user":{{"user_id":"auth0|bench{index:06d}","created_at":"{created.isoformat()}",'
        '"email":"bench@example.com","name":"Bench User","user_metadata":{"plan":"free"}},'
        '"connection":{"id":"con_1","name":"db","strategy":"auth0"}}'
    )


def measure(name: str, count: int, work: Callable[[int], object]) -> Cost:
    wall, cpu = time.perf_counter(), time.process_time()
    for index in range(count):
        work(index)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return Cost(name, count, wall * 1000 / count, cpu * 1000 / count)


def count_requests(context: AppContext) -> list[int]:
    """A one-item counter of the HTTP requests the Tables client sends."""
    counter = [0]
    # The session `shared.clients.table_transport` made, found through the SDK's pipeline.
    transport = context.table_service_client._client._client._pipeline._transport
    session: requests.Session = transport.session  # type: ignore[attr-defined]

    def hook(response: requests.Response, *args: object, **kwargs: object) -> None:
        counter[0] += 1

    session.hooks["response"].append(hook)
    return counter


def run(count: int, settings: Settings) -> list[Cost]:
    context = AppContext(settings)
    requests_sent = [
        IngestRequest(body(i).encode(), {"content-type": "application/json"} | signed_headers(
            body(i), SECRET, f"msg_{i}"
        ))
        for i in range(count)
    ]  # fmt: skip
    memory = InMemoryPublisher()
    in_memory = IngestService(context.webhook_verifier, memory, tracer=context.tracer)
    costs = [measure("ingest (in-memory queue)", count, lambda i: _ok(in_memory, requests_sent[i]))]
    ingest = context.ingest_service
    _ok(ingest, requests_sent[0])  # connect the first sender outside the timing
    costs.append(measure("ingest (emulator)", count, lambda i: _ok(ingest, requests_sent[i])))
    processor = context.processor
    calls = count_requests(context)
    # Create the tables outside the timing, with a message of its own.
    processor.process(_incoming(memory.messages[-1]))
    before = calls[0]
    cost = measure(
        "processor (Azurite)", count - 1, lambda i: processor.process(_incoming(memory.messages[i]))
    )
    per_registration = (calls[0] - before) / (count - 1)
    costs.append(Cost(cost.name, count - 1, cost.wall_ms, cost.cpu_ms, per_registration))
    # Baseline: one bare SDK point read through the same client, per request.
    table = context.table_service_client.get_table_client(context.settings.registrations_table)
    user = f"auth0|bench{count - 1:06d}"  # the warm-up's row: it exists
    pk, rk = keys.partition_key(user), keys.row_key(user, "bench")
    costs.append(measure("one SDK point read", count, lambda i: table.get_entity(pk, rk)))
    context.publisher.close()  # type: ignore[attr-defined]
    context.service_bus_client.close()
    return costs


def _ok(service: IngestService, request: IngestRequest) -> None:
    answer = service.handle(request, "bench-correlation")
    if answer.status != 202:
        raise RuntimeError(f"ingest answered {answer.status}")


def _incoming(message: OutgoingMessage) -> IncomingMessage:
    return IncomingMessage(
        body=message.body.encode(),
        message_id=message.message_id,
        delivery_count=1,
        application_properties=dict(message.application_properties),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-code-cost-") as scratch:
        azurite = Azurite(table_port=free_port(), log_path=Path(scratch) / "azurite.log").start()
        emulator = ServiceBusEmulatorProcess(free_port(), log_path=Path(scratch) / "sb.log")
        emulator.start()
        try:
            settings = Settings.model_validate(
                {
                    "ServiceBusConnection": emulator.connection_string,
                    "TablesConnection": azurite.connection_string,
                    "REGISTRATIONS_TABLE": f"cost{uuid.uuid4().hex[:8]}",
                    "WEBHOOK_SECRET": SECRET,
                }
            )
            for cost in run(args.count, settings):
                print(cost.line())
        finally:
            emulator.stop()
            azurite.stop()


if __name__ == "__main__":
    main()
