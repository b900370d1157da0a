"""`python -m bench.pipeline [--quick]`: the pipeline on the local stack against same-run baselines.

Four figures, each a ratio against a baseline measured in this run:

- processor drain: registrations queued while the host is down, then drained
  into the table by the local host running the real function_app, against
  the same conditional writes (the processor's own writer: entity, index
  entry, tombstone read) straight to Azurite in as many processes as the host
  runs processor instances, each on maxConcurrentCalls threads (the storage
  limit); and the host's CPU per processed message against the raw writes'
  CPU per write;
- ingest: signed POSTs through the host (its processor disabled: on Flex
  the HTTP instances share no CPU with it) by concurrent aiohttp clients,
  against the same POSTs to the thinnest possible forwarder on the same
  stack (`bench.forwarder`: an aiohttp handler that sends the raw body to the
  queue, no checks) at the same concurrency; the p99/p50 latency spread; and
  CPU per accepted request of the host's HTTP instances against the
  forwarder's;
- end to end: registrations posted at the ingest concurrency until every one
  is stored (posted -> stored throughput), against raw single-entity writes
  to Azurite at the same concurrency;
- duplicate storm: every registration delivered 10 times, (a) inside the
  broker's duplicate-detection window (same message id, as when the Action
  retries) and (b) past it (each copy reaches the processor), against a
  unique-only drain; the table must hold no extra entity afterwards;
- end-to-end latency: POST to visible in the table at a steady rate,
  against the latency of the POST alone.

The stack (Azurite, emulator, host) runs on free ports in a temporary
directory and is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient
from azure.servicebus import ServiceBusClient, ServiceBusMessage

from bench.cpu import CpuMeter, host_group
from bench.forwarder import Forwarder
from bench.harness import Measurement, percentile, report, run_concurrently, timed
from ingest.service import build_message
from localdev.host.config import load_host_options
from localdev.host.groups import parse_instances
from localdev.host.process import ROOT
from localdev.ports import free_port
from localdev.servicebus.process import connection_string as emulator_connection_string
from localdev.stack import (
    LocalStack,
    StackConfig,
    ensure_local_settings,
)
from ops.ingest_client import synthetic_event
from shared import keys
from shared.events import canonical_json, parse_event
from shared.ids import new_correlation_id, registration_id
from shared.publisher import OutgoingMessage
from shared.registrations import Registration
from shared.runtime import AppContext
from shared.settings import Settings
from shared.signing import signed_headers

TENANT = "bench"
ENTITIES_PER_REGISTRATION = 2  # the registration and its time-index entry
SETTLE_SECONDS = 3.0  # quiet time after a storm before counting entities
WARM_UP = 32  # untimed requests before a timed load (connections, links, caches)


@dataclass(frozen=True)
class Sizes:
    """How much work each benchmark does (`--quick` is a smoke run)."""

    drain: int
    ingest_requests: int
    ingest_seconds: float
    ingest_concurrency: int
    storm_registrations: int
    storm_copies: int
    latency_rate: float
    latency_seconds: float
    end_to_end: int


FULL = Sizes(10_000, 8_000, 20.0, 16, 300, 10, 10.0, 30.0, 3_000)
QUICK = Sizes(1_000, 600, 10.0, 16, 100, 10, 10.0, 8.0, 400)
PROCESSOR_DISABLED = "AzureWebJobs.process_registration.Disabled"
DEFAULT_INSTANCES = "http=2,process_registration=2"  # Flex scales each group out on its own


# -- workload ---------------------------------------------------------------------------------


def new_events(count: int, label: str) -> list[dict[str, Any]]:
    """`count` valid v1 events with unique user ids (synthetic, no real personal data)."""
    run = uuid.uuid4().hex[:8]
    return [synthetic_event(TENANT, f"auth0|{label}-{run}-{n:06d}") for n in range(count)]


def outgoing(event: dict[str, Any]) -> OutgoingMessage:
    """The Service Bus message ingest would build for this event."""
    return build_message(
        parse_event(canonical_json(event)), new_correlation_id(), datetime.now(UTC)
    )


def to_servicebus(message: OutgoingMessage, message_id: str | None = None) -> ServiceBusMessage:
    """The SDK message `shared.publisher.ServiceBusPublisher` sends for `message`."""
    return ServiceBusMessage(
        message.body,
        message_id=message_id or message.message_id,
        content_type=message.content_type,
        subject=message.subject,
        correlation_id=message.correlation_id,
        application_properties=dict(message.application_properties),  # type: ignore[arg-type]
    )


def registration_of(message: OutgoingMessage) -> Registration:
    """The row the processor makes of `message` (first delivery)."""
    now = datetime.now(UTC)
    return Registration.from_event(
        parse_event(message.body),
        message_id=message.message_id,
        correlation_id=message.correlation_id,
        received_at=now,
        processed_at=now,
        delivery_count=1,
    )


# -- the stack --------------------------------------------------------------------------------


class BenchStack:
    """The local stack on free ports in a temporary directory, with what the benchmarks need."""

    def __init__(self, workdir: Path, instances: str | None = None) -> None:
        config = StackConfig.isolated(workdir, host_shutdown_timeout=5.0, host_instances=instances)
        self.workdir = workdir
        ensure_local_settings(config.settings_path, ROOT / "local.settings.example.json")
        assert config.host_log is not None
        self.host_log = config.host_log
        self.stack = LocalStack(config, say=lambda _: None)
        self.values = self.stack.effective_settings()
        self.concurrency = load_host_options(ROOT / "host.json").service_bus.max_concurrent_calls
        counts = parse_instances(instances or "")
        self.processor_instances = counts.get("function:process_registration", 1)
        self._log_offset = 0

    def start_backends(self) -> None:
        (self.stack.config.data_dir / "logs").mkdir(parents=True, exist_ok=True)
        self.stack.start_azurite()
        self.stack.start_emulator()
        self.stack.create_tables()

    def stop(self) -> None:
        self.stack.stop()

    @property
    def servicebus_connection(self) -> str:
        return emulator_connection_string(self.stack.config.servicebus_port)

    @property
    def queue(self) -> str:
        return self.values["REGISTRATIONS_QUEUE"]

    def table(self, name: str | None = None) -> TableClient:
        return TableClient.from_connection_string(
            self.stack.azurite.connection_string, name or self.values["REGISTRATIONS_TABLE"]
        )

    @contextlib.contextmanager
    def settings_values(self, values: dict[str, str]) -> Iterator[None]:
        """`values` added to the stack's local.settings.json for the hosts started inside."""
        path = self.stack.config.settings_path
        original = path.read_text(encoding="utf-8")
        document = json.loads(original)
        document["Values"].update(values)
        path.write_text(json.dumps(document, indent=2), encoding="utf-8")
        try:
            yield
        finally:
            path.write_text(original, encoding="utf-8")

    # -- the host and its log ---------------------------------------------------------------

    def start_host(self) -> None:
        self._log_offset = self.host_log.stat().st_size if self.host_log.exists() else 0
        self.stack.start_host()

    def stop_host(self) -> None:
        self.stack.host.stop()

    @property
    def host_pid(self) -> int | None:
        process = self.stack.host.process
        return process.pid if process is not None else None

    def host_events(self) -> Iterator[dict[str, Any]]:
        """The host's JSON log lines since the last `start_host`."""
        with self.host_log.open("rb") as log:
            log.seek(self._log_offset)
            for raw in log:
                try:
                    yield json.loads(raw)
                except ValueError:
                    continue

    # -- sending ----------------------------------------------------------------------------

    def enqueue(self, messages: Sequence[ServiceBusMessage]) -> None:
        """Send straight to the queue in batches (the host is down: nothing is consumed)."""
        with (
            ServiceBusClient.from_connection_string(self.servicebus_connection) as client,
            client.get_queue_sender(self.queue) as sender,
        ):
            batch = sender.create_message_batch()
            for message in messages:
                try:
                    batch.add_message(message)
                except ValueError:  # the batch is full
                    sender.send_messages(batch)
                    batch = sender.create_message_batch()
                    batch.add_message(message)
            if len(batch):
                sender.send_messages(batch)

    def signed_request(self, event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        """Body and headers as the Auth0 Action sends them."""
        body = canonical_json(event)
        user = event["user"]
        webhook_id = registration_id(event["tenant"]["id"], user["user_id"], user["created_at"])
        headers = {
            "content-type": "application/json",
            "x-functions-key": self.values["LOCALDEV_FUNCTION_KEY"],
            **signed_headers(body, self.values["WEBHOOK_SECRET"].split()[0], webhook_id),
        }
        return body.encode("utf-8"), headers


class InvocationCounter:
    """Counts the host's finished Service Bus invocations, reading its log incrementally."""

    def __init__(self, stack: BenchStack) -> None:
        self._log = stack.host_log
        self._offset = stack.host_log.stat().st_size if stack.host_log.exists() else 0
        self._partial = b""
        self.succeeded = 0
        self.failed = 0
        self.first_started: datetime | None = None
        self.last_finished: datetime | None = None

    def poll(self) -> int:
        """Read what the host logged since the last poll; the number of successes so far."""
        with self._log.open("rb") as log:
            log.seek(self._offset)
            chunk = log.read()
        self._offset += len(chunk)
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        for raw in lines:
            self._count(raw)
        return self.succeeded

    def _count(self, raw: bytes) -> None:
        try:
            line = json.loads(raw)
        except ValueError:
            return
        if line.get("trigger") != "servicebus":
            return
        message = line.get("message")
        if message == "invocation.started" and self.first_started is None:
            self.first_started = datetime.fromisoformat(line["ts"])
        elif message == "invocation":
            if line.get("outcome") == "succeeded":
                self.succeeded += 1
            else:
                self.failed += 1
            self.last_finished = datetime.fromisoformat(line["ts"])

    def wait_for(self, count: int, timeout: float) -> float:
        """Block until `count` invocations succeeded; seconds from the first start to the last."""
        deadline = time.monotonic() + timeout
        while self.poll() < count:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"only {self.succeeded}/{count} invocations succeeded within {timeout:.0f}s "
                    f"({self.failed} failed)"
                )
            time.sleep(0.25)
        assert self.first_started is not None
        assert self.last_finished is not None
        return (self.last_finished - self.first_started).total_seconds()


def count_entities(stack: BenchStack, table_name: str | None = None) -> int:
    """Every entity in the table (registrations and their time-index entries)."""
    with stack.table(table_name) as table:
        return sum(1 for _ in table.list_entities(select=["PartitionKey"]))


# -- processor drain ----------------------------------------------------------------------------


def drain_through_host(
    stack: BenchStack,
    messages: Sequence[ServiceBusMessage],
    expected: int,
    cpu: CpuMeter | None = None,
) -> tuple[float, float]:
    """Queue `messages` with the host down, then start it: (enqueue seconds, drain seconds).

    The drain is timed from the host's first invocation to its `expected`-th
    success (the host's own log timestamps), so host start-up is not counted.
    `cpu`, if given, measures the host from its readiness to the last success.
    """
    stack.stop_host()
    with timed() as sending:
        stack.enqueue(messages)
    counter = InvocationCounter(stack)
    stack.start_host()
    if cpu is None:
        return sending.elapsed, counter.wait_for(expected, timeout=60 + expected / 20)
    cpu.pids = [pid for pid in (stack.host_pid,) if pid is not None]
    with cpu:
        drained = counter.wait_for(expected, timeout=60 + expected / 20)
    return sending.elapsed, drained


def _raw_writer_process(
    settings: dict[str, str],
    registrations: list[Registration],
    concurrency: int,
    ready: Any,
    go: Any,
    results: Any,
) -> None:
    """One baseline process: the processor's writer on `concurrency` threads, timed from `go`."""
    context = AppContext(Settings.model_validate(settings))
    writer = context.processor_writer
    writer.save(registrations[0])  # connections and tables warm before the timing
    ready.release()
    go.wait()
    started, cpu = time.time(), time.process_time()
    run_concurrently(writer.save, registrations[1:], concurrency)
    results.put((started, time.time(), time.process_time() - cpu, len(registrations) - 1))


def raw_conditional_writes(
    stack: BenchStack, count: int, processes: int, concurrency: int
) -> tuple[float, float, int]:
    """The processor's writes straight to Azurite, laid out as the host runs them.

    `processes` processes (the processor's instances) with `concurrency` threads each
    (maxConcurrentCalls), on a fresh table and tombstone table: (seconds from the
    common start to the last write, their CPU seconds, writes timed).
    """
    table = f"benchraw{uuid.uuid4().hex[:8]}"
    settings = {
        "TablesConnection": stack.stack.azurite.connection_string,
        "REGISTRATIONS_TABLE": table,
        "TOMBSTONES_TABLE": f"{table}tomb",
    }
    spawn = multiprocessing.get_context("spawn")
    ready, go, results = spawn.Semaphore(0), spawn.Event(), spawn.Queue()
    shares = [new_events(count // processes + 1, f"raw{n}") for n in range(processes)]
    workers = []
    for share in shares:
        registrations = [registration_of(outgoing(e)) for e in share]
        arguments = (settings, registrations, concurrency, ready, go, results)
        workers.append(spawn.Process(target=_raw_writer_process, args=arguments))
    for worker in workers:
        worker.start()
    try:
        for _ in workers:
            if not ready.acquire(timeout=120):
                raise RuntimeError("a baseline writer process did not start")
        go.set()
        finished = [results.get(timeout=600) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=30)
    seconds = max(end for _, end, _, _ in finished) - min(start for start, _, _, _ in finished)
    return seconds, sum(cpu for *_, cpu, _ in finished), sum(n for *_, n in finished)


def bench_drain(stack: BenchStack, sizes: Sizes) -> list[Measurement]:
    """Host drain rate against the same conditional writes straight to Azurite.

    The baseline runs the processor's own writer (`AppContext.processor_writer`:
    the entity, its index entry and the tombstone read) in as many processes as
    the host runs processor instances, each on maxConcurrentCalls threads: the
    same writes at the same concurrency, minus the queue and the host.
    """
    concurrency, processes = stack.concurrency, stack.processor_instances
    raw_seconds, raw_cpu, raw_count = raw_conditional_writes(
        stack, sizes.drain, processes, concurrency
    )
    queued = [to_servicebus(outgoing(e)) for e in new_events(sizes.drain, "drain")]
    host_cpu = CpuMeter([])
    _, host_seconds = drain_through_host(stack, queued, len(queued), cpu=host_cpu)
    details = {
        "registrations": sizes.drain,
        "processor_instances": processes,
        "concurrency_per_instance": concurrency,
        "host_seconds": round(host_seconds, 2),
        "raw_writes": raw_count,
        "raw_write_seconds": round(raw_seconds, 2),
    }
    return [
        Measurement("processor drain", sizes.drain / host_seconds, raw_count / raw_seconds,
                    "registrations/s", goal_min=0.9, details=details),
        Measurement("drain CPU per processed message", per_item_ms(host_cpu, sizes.drain),
                    raw_cpu * 1000 / raw_count, "ms CPU (vs raw write)",
                    details={"host_cpu_s": round(host_cpu.seconds, 2),
                             "raw_cpu_s": round(raw_cpu, 2)}),
    ]  # fmt: skip


def per_item_ms(meter: CpuMeter, items: int) -> float:
    """CPU milliseconds per item."""
    return meter.seconds * 1000 / max(items, 1)


def purge_queue(stack: BenchStack) -> int:
    """Receive-and-delete whatever is left on the queue (between phases); how many."""
    purged = 0
    with (
        ServiceBusClient.from_connection_string(stack.servicebus_connection) as client,
        client.get_queue_receiver(stack.queue, receive_mode="receiveanddelete") as receiver,
    ):
        while batch := receiver.receive_messages(max_message_count=500, max_wait_time=1):
            purged += len(batch)
    return purged


# -- ingest -------------------------------------------------------------------------------------


@dataclass
class Load:
    """What a closed-loop load run saw: per-request latencies (s) and statuses."""

    seconds: float
    latencies: list[float]
    statuses: list[int]

    @property
    def accepted(self) -> int:
        return sum(1 for status in self.statuses if status == 202)

    def rate(self) -> float:
        return self.accepted / self.seconds

    def ms(self, pct: float) -> float:
        return percentile(self.latencies, pct) * 1000


async def _post_all(
    url: str, requests: Sequence[tuple[bytes, dict[str, str]]], concurrency: int, seconds: float
) -> Load:
    latencies: list[float] = []
    statuses: list[int] = []
    pending = iter(requests)
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client() -> None:
            for body, headers in pending:
                if time.perf_counter() > deadline:
                    return
                started = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                latencies.append(time.perf_counter() - started)
                statuses.append(response.status)

        with timed() as watch:
            await asyncio.gather(*(client() for _ in range(concurrency)))
    return Load(watch.elapsed, latencies, statuses)


def post_load(stack: BenchStack, sizes: Sizes, cpu: CpuMeter | None = None) -> Load:
    """Signed POSTs by `ingest_concurrency` aiohttp clients, bounded by count and time.

    A short untimed warm-up first: the host opens its Service Bus sender on the first POST.
    `cpu`, if given, measures the timed part.
    """
    url, concurrency = stack.stack.ingest_url, sizes.ingest_concurrency
    warm_up = [stack.signed_request(e) for e in new_events(WARM_UP, "warm")]
    asyncio.run(_post_all(url, warm_up, concurrency, sizes.ingest_seconds))
    requests = [stack.signed_request(e) for e in new_events(sizes.ingest_requests, "ingest")]
    with cpu or CpuMeter([]):
        return asyncio.run(_post_all(url, requests, concurrency, sizes.ingest_seconds))


def forwarder_load(stack: BenchStack, sizes: Sizes) -> tuple[Load, float]:
    """The same signed POSTs to the thin forwarder on the same stack: (load, its CPU seconds)."""
    port = free_port()
    log = stack.workdir / "forwarder.log"
    with Forwarder(port, stack.servicebus_connection, stack.queue, log) as forwarder:
        warm_up = [stack.signed_request(e) for e in new_events(WARM_UP, "warm")]
        concurrency = sizes.ingest_concurrency
        asyncio.run(_post_all(forwarder.url, warm_up, concurrency, sizes.ingest_seconds))
        requests = [stack.signed_request(e) for e in new_events(sizes.ingest_requests, "thin")]
        with CpuMeter([forwarder.pid]) as cpu:
            load = asyncio.run(
                _post_all(forwarder.url, requests, concurrency, sizes.ingest_seconds)
            )
    return load, cpu.seconds


def bench_ingest(stack: BenchStack, sizes: Sizes) -> list[Measurement]:
    """Accepted POSTs/s through the host against the thin forwarder; p99/p50; CPU per request.

    Ingest alone, as on Flex Consumption, where the HTTP instances share no CPU with
    the processor's: the host runs with its Service Bus trigger disabled
    (`AzureWebJobs.process_registration.Disabled`), and no host runs beside the
    forwarder. Each run starts on an empty queue; the host is left stopped.
    """
    http_cpu = CpuMeter([], only=host_group("http"))
    stack.stop_host()
    purge_queue(stack)
    with stack.settings_values({PROCESSOR_DISABLED: "true"}):
        stack.start_host()
        http_cpu.pids = [pid for pid in (stack.host_pid,) if pid is not None]
        posted = post_load(stack, sizes, cpu=http_cpu)
        stack.stop_host()
    purge_queue(stack)
    thin, thin_cpu = forwarder_load(stack, sizes)
    purge_queue(stack)
    details = {
        "concurrency": sizes.ingest_concurrency,
        "requests": len(posted.statuses),
        "accepted": posted.accepted,
        "other_statuses": sorted({s for s in posted.statuses if s != 202}),
        "seconds": round(posted.seconds, 2),
        "p50_ms": round(posted.ms(50), 1),
        "p99_ms": round(posted.ms(99), 1),
        "forwarder_accepted": thin.accepted,
        "forwarder_other_statuses": sorted({s for s in thin.statuses if s != 202}),
        "forwarder_p50_ms": round(thin.ms(50), 1),
        "forwarder_p99_ms": round(thin.ms(99), 1),
    }
    cpu_details = {
        "host_http_cpu_s": round(http_cpu.seconds, 2),
        "forwarder_cpu_s": round(thin_cpu, 2),
    }
    return [
        Measurement("ingest", posted.rate(), thin.rate(), "accepted/s (vs thin forwarder)",
                    goal_min=0.8, details=details),
        Measurement("ingest p99 / p50", posted.ms(99), posted.ms(50), "ms", goal_max=5.0),
        Measurement("ingest CPU per accepted request", per_item_ms(http_cpu, posted.accepted),
                    thin_cpu * 1000 / max(thin.accepted, 1), "ms CPU (vs thin forwarder)",
                    details=cpu_details),
    ]  # fmt: skip


# -- end to end ---------------------------------------------------------------------------------


def raw_single_writes(stack: BenchStack, count: int, concurrency: int) -> tuple[float, float]:
    """`count` single-entity inserts at `concurrency` to a fresh table: (seconds, CPU seconds)."""
    name = f"benchone{uuid.uuid4().hex[:8]}"
    with stack.table(name) as table:
        table.create_table()
        entities = [
            {"PartitionKey": f"p{n % 97}", "RowKey": f"r{n}", "body": "x" * 600}
            for n in range(count)
        ]
        with CpuMeter([os.getpid()]) as cpu:
            seconds = run_concurrently(table.create_entity, entities, concurrency)
    return seconds, cpu.seconds


def bench_end_to_end(stack: BenchStack, sizes: Sizes) -> list[Measurement]:
    """Posted -> stored throughput at the ingest concurrency, against raw single-entity writes."""
    count, concurrency = sizes.end_to_end, sizes.ingest_concurrency
    requests = [stack.signed_request(e) for e in new_events(count, "e2e")]
    counter = InvocationCounter(stack)
    host_cpu = CpuMeter([stack.host_pid])
    with host_cpu:
        began = time.time()
        load = asyncio.run(_post_all(stack.stack.ingest_url, requests, concurrency, 600.0))
        if load.accepted != count:
            raise AssertionError(f"end to end: {load.accepted}/{count} accepted")
        counter.wait_for(count, timeout=60 + count / 10)
    assert counter.last_finished is not None
    seconds = counter.last_finished.timestamp() - began
    raw_seconds, raw_cpu = raw_single_writes(stack, count, concurrency)
    details = {
        "registrations": count,
        "concurrency": concurrency,
        "seconds": round(seconds, 2),
        "raw_write_seconds": round(raw_seconds, 2),
        "host_cpu_ms_per_registration": round(host_cpu.seconds * 1000 / count, 2),
        "raw_cpu_ms_per_write": round(raw_cpu * 1000 / count, 2),
    }
    return [
        Measurement("end to end, posted -> stored", count / seconds, count / raw_seconds,
                    "registrations/s (vs raw single writes)", goal_min=0.4, details=details),
    ]  # fmt: skip


# -- duplicate storm ----------------------------------------------------------------------------


def storm_cost(
    stack: BenchStack, messages: Sequence[OutgoingMessage], copies: int, same_id: bool
) -> tuple[float, int]:
    """Deliver each message `copies` times, shuffled; (seconds to enqueue and drain, deliveries).

    `same_id`: every copy keeps the message id, as when the Action retries a
    POST, so the broker's duplicate detection drops all but one; otherwise
    each copy gets its own id, as a delivery past the detection window or a
    replay would, and every copy reaches the processor.
    """
    rng = random.Random(len(messages))
    copies_in_order = [
        to_servicebus(m, None if same_id else f"{m.message_id}.{n}")
        for n in range(copies)
        for m in messages
    ]
    rng.shuffle(copies_in_order)
    deliveries = len(messages) if same_id else len(copies_in_order)
    sending, draining = drain_through_host(stack, copies_in_order, deliveries)
    return sending + draining, deliveries


def bench_storm(stack: BenchStack, sizes: Sizes) -> list[Measurement]:
    """10 deliveries of every registration against a unique-only run of as many registrations."""
    count, copies = sizes.storm_registrations, sizes.storm_copies
    unique = [outgoing(e) for e in new_events(count, "unique")]
    unique_seconds, _ = storm_cost(stack, unique, 1, same_id=True)
    results = []
    for same_id, name in (
        (True, "duplicate storm, in window"),
        (False, "duplicate storm, past window"),
    ):
        before = count_entities(stack)
        registrations = [outgoing(e) for e in new_events(count, "storm")]
        seconds, deliveries = storm_cost(stack, registrations, copies, same_id)
        time.sleep(SETTLE_SECONDS)  # any delivery the broker should have dropped would show now
        extra = count_entities(stack) - before - ENTITIES_PER_REGISTRATION * count
        per_delivery = not same_id
        value = seconds / deliveries if per_delivery else seconds
        baseline = unique_seconds / count if per_delivery else unique_seconds
        results.append(
            Measurement(
                name + (" (per delivery)" if per_delivery else ""),
                value,
                baseline,
                "s/delivery" if per_delivery else "s",
                goal_max=1.3,
                details={
                    "registrations": count,
                    "copies": copies,
                    "deliveries_processed": deliveries,
                    "seconds": round(seconds, 2),
                    "unique_only_seconds": round(unique_seconds, 2),
                    "extra_entities": extra,
                },
            )
        )
        if extra != 0:
            raise AssertionError(f"{name}: {extra} extra entities in the table")
    return results


# -- end-to-end latency -------------------------------------------------------------------------


async def _post_steadily(
    url: str, requests: Sequence[tuple[bytes, dict[str, str]]], rate: float
) -> tuple[list[float], list[float], list[int]]:
    """POST at a fixed rate (open loop); (wall-clock send times, latencies, statuses)."""
    sent_at: list[float] = [0.0] * len(requests)
    latencies: list[float] = [0.0] * len(requests)
    statuses: list[int] = [0] * len(requests)
    async with aiohttp.ClientSession() as session:

        async def post(index: int) -> None:
            body, headers = requests[index]
            sent_at[index] = time.time()
            began = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
            latencies[index] = time.perf_counter() - began
            statuses[index] = response.status

        tasks = []
        start = time.perf_counter()
        for index in range(len(requests)):
            await asyncio.sleep(max(0.0, start + index / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(post(index)))
        await asyncio.gather(*tasks)
    return sent_at, latencies, statuses


def visible_at(stack: BenchStack, event: dict[str, Any]) -> float | None:
    """When the registration's entity was committed (its Timestamp), as epoch seconds."""
    user_id, tenant_id = event["user"]["user_id"], event["tenant"]["id"]
    with stack.table() as table:
        try:
            entity = table.get_entity(keys.partition_key(user_id), keys.row_key(user_id, tenant_id))
        except ResourceNotFoundError:
            return None
    stamp = entity.metadata["timestamp"]
    return None if stamp is None else stamp.timestamp()


def bench_latency(stack: BenchStack, sizes: Sizes) -> list[Measurement]:
    """POST to visible in the table at a steady rate, against the POST alone (p50 and p99)."""
    count = int(sizes.latency_rate * sizes.latency_seconds)
    warm_up = [stack.signed_request(e) for e in new_events(WARM_UP, "warm")]
    asyncio.run(_post_steadily(stack.stack.ingest_url, warm_up, sizes.latency_rate * 4))
    events = new_events(count, "latency")
    requests = [stack.signed_request(e) for e in events]
    sent_at, post_latencies, statuses = asyncio.run(
        _post_steadily(stack.stack.ingest_url, requests, sizes.latency_rate)
    )
    if any(status != 202 for status in statuses):
        raise AssertionError(f"latency run: statuses {sorted(set(statuses))}")
    end_to_end: list[float] = []
    deadline = time.monotonic() + 60
    for event, posted in zip(events, sent_at, strict=True):
        while (seen := visible_at(stack, event)) is None:
            if time.monotonic() > deadline:
                raise TimeoutError("latency run: registrations not visible within 60 s")
            time.sleep(0.1)
        end_to_end.append(seen - posted)
    details = {"rate_per_s": sizes.latency_rate, "registrations": count}
    return [
        Measurement(f"end-to-end p{pct}", percentile(end_to_end, pct) * 1000,
                    percentile(post_latencies, pct) * 1000, "ms (vs POST alone)", details=details)
        for pct in (50, 99)
    ]  # fmt: skip


# -- main ---------------------------------------------------------------------------------------


def storm_or_failure(stack: BenchStack, sizes: Sizes) -> list[Measurement]:
    """The storm figures; a storm that does not drain is reported as a missed figure, so the
    figures measured before it are still written."""
    try:
        return bench_storm(stack, sizes)
    except TimeoutError as exc:
        print(f"bench.pipeline: duplicate storm did not drain: {exc}", flush=True)
        return [Measurement("duplicate storm (did not drain)", 0.0, 1.0, "s", goal_max=1.3,
                            details={"error": str(exc)})]  # fmt: skip


def run(sizes: Sizes, instances: str | None) -> list[Measurement]:
    """Every benchmark on one stack, in an order that leaves each phase a known queue."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    stack = BenchStack(workdir, instances)
    try:
        stack.start_backends()
        stack.start_host()
        results = bench_latency(stack, sizes)  # first: an empty queue, an idle host
        results += bench_end_to_end(stack, sizes)  # it waits until all are stored
        results += bench_ingest(stack, sizes)  # it leaves the host stopped, the queue empty
        results[:0] = bench_drain(stack, sizes)
        results += storm_or_failure(stack, sizes)
        return results
    finally:
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Run the pipeline benchmarks; print the table and write bench/results/pipeline.json."""
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument(
        "--instances",
        default=DEFAULT_INSTANCES,
        help=f"the local host's instances per function group (default {DEFAULT_INSTANCES})",
    )
    args = parser.parse_args([] if argv is None else argv)  # `python -m bench` passes none
    sizes = QUICK if args.quick else FULL
    print(
        f"bench.pipeline: {'quick' if args.quick else 'full'} run, instances {args.instances},"
        f" sizes {sizes}",
        flush=True,
    )
    with timed() as watch:
        results = run(sizes, args.instances)
    print(f"bench.pipeline: {watch.elapsed:.0f}s", flush=True)
    return report(
        "pipeline",
        results,
        run="quick" if args.quick else "full",
        instances=args.instances,
        sizes=asdict(sizes),
    )


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
