"""The Service Bus queue trigger: peek-lock receive, invoke, settle, as the Functions host does.

Semantics (host.json `extensions.serviceBus`, extension 5.x):
- never more than `maxConcurrentCalls` invocations in flight per function:
  one slot per call, each with its own receiver (AMQP connection) that
  receives one message, runs it to settlement, then receives again; a
  message is picked up as soon as it arrives and settles in about a
  millisecond (see `_session` for why not one shared receiver);
  `prefetchCount` is shared out over the slots (rounded up);
- the function returns -> complete; it raises -> abandon (redelivery with
  DeliveryCount + 1, dead-letter past MaxDeliveryCount); with
  `autoCompleteMessages` false the host settles nothing;
- the lock is renewed while the function runs, up to
  `maxAutoLockRenewalDuration`; renewal stops when the function returns
  (the SDK's AutoLockRenewer would keep renewing an unsettled message, so
  the renewal here is a small per-invocation task);
- an unreachable broker is retried with capped exponential backoff, forever,
  with one warning line per attempt.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

from azure.servicebus import ServiceBusReceivedMessage, ServiceBusReceiveMode
from azure.servicebus.aio import ServiceBusClient, ServiceBusReceiver
from azure.servicebus.exceptions import ServiceBusError

from localdev.host.config import ServiceBusOptions
from localdev.host.convert import functions_delivery_count, to_servicebus_message
from localdev.host.discovery import ServiceBusFunction
from localdev.host.invocation import Invoker, elapsed_ms, log_event

# Errors after which the receiver is rebuilt (broker down, restarted, entity missing).
RECONNECTABLE = (ServiceBusError, OSError, ConnectionError, asyncio.TimeoutError)


async def _sleep_unless(stopping: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stopping.wait(), timeout=seconds)
    except TimeoutError:
        return


class QueueListener:
    """Drives one Service Bus queue-triggered function."""

    def __init__(
        self,
        function: ServiceBusFunction,
        options: ServiceBusOptions,
        invoker: Invoker,
        *,
        poll_seconds: float = 1.0,
        reconnect_initial_seconds: float = 0.5,
        reconnect_max_seconds: float = 10.0,
    ) -> None:
        self.function = function
        self.options = options
        self.invoker = invoker
        self.auto_complete = (
            options.auto_complete_messages
            if function.auto_complete_messages is None
            else function.auto_complete_messages
        )
        self._poll_seconds = poll_seconds
        self._reconnect = (reconnect_initial_seconds, reconnect_max_seconds)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._received_once = False
        # host.json prefetchCount is for the whole function: shared out over the slots.
        slots = options.max_concurrent_calls
        self._slot_prefetch = -(-options.prefetch_count // slots)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    async def run(self, stopping: asyncio.Event, shutdown_timeout: float) -> None:
        """Receive until `stopping` is set, then finish in-flight work (bounded) and close."""
        initial, cap = self._reconnect
        delay = initial
        while not stopping.is_set():
            self._received_once = False
            try:
                await self._session(stopping, shutdown_timeout)
            except RECONNECTABLE as exc:
                if self._received_once:
                    delay = initial
                log_event(
                    "servicebus.unreachable",
                    logging.WARNING,
                    function=self.function.name,
                    queue=self.function.queue_name,
                    error=f"{type(exc).__name__}: {exc}".splitlines()[0][:300],
                    retry_in_s=delay,
                )
                await _sleep_unless(stopping, delay)
                delay = min(delay * 2, cap)

    async def _session(self, stopping: asyncio.Event, shutdown_timeout: float) -> None:
        client = ServiceBusClient.from_connection_string(
            self.function.connection_string,
            retry_total=1,
            retry_backoff_factor=0.2,
            retry_backoff_max=1.0,
        )
        async with client:
            # One receiver per concurrency slot, each receiving one message at a time. With
            # one shared receiver, every settlement and lock renewal would wait behind the
            # pending receive call on the same connection (the async SDK holds the socket
            # lock while it polls, ~200 ms a turn), and a batch receive holds a first
            # message back ~200 ms for companions. Either way ~0.2-0.4 s per message.
            session_over = asyncio.Event()
            slots = [
                asyncio.create_task(self._slot(client, stopping, session_over))
                for _ in range(self.options.max_concurrent_calls)
            ]
            stop_wait = asyncio.create_task(stopping.wait())
            try:
                # Slots run until `stopping`; one ending earlier failed (broker gone, ...).
                await asyncio.wait([*slots, stop_wait], return_when=asyncio.FIRST_COMPLETED)
            finally:
                session_over.set()
                stop_wait.cancel()
                await self._drain(shutdown_timeout)
                outcomes = await asyncio.gather(*slots, return_exceptions=True)
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome

    async def _slot(
        self, client: ServiceBusClient, stopping: asyncio.Event, session_over: asyncio.Event
    ) -> None:
        """Receive one message, run it to settlement, repeat; on its own receiver (connection)."""
        receiver = client.get_queue_receiver(
            self.function.queue_name,
            receive_mode=ServiceBusReceiveMode.PEEK_LOCK,
            prefetch_count=self._slot_prefetch,
        )
        async with receiver:
            while not (stopping.is_set() or session_over.is_set()):
                messages = await receiver.receive_messages(
                    max_message_count=1, max_wait_time=self._poll_seconds
                )
                if not self._received_once:
                    self._received_once = True
                    log_event(
                        "servicebus.listening",
                        function=self.function.name,
                        queue=self.function.queue_name,
                    )
                for message in messages:
                    task = asyncio.create_task(self._process(receiver, message))
                    self._in_flight.add(task)
                    task.add_done_callback(self._in_flight.discard)
                    # Not `await task`: a cancelled invocation (shutdown past its grace)
                    # must not cancel the slot, which still closes its receiver.
                    await asyncio.wait([task])

    async def _drain(self, grace_seconds: float) -> None:
        if not self._in_flight:
            return
        pending = set(self._in_flight)
        log_event("servicebus.draining", function=self.function.name, in_flight=len(pending))
        _, still_running = await asyncio.wait(pending, timeout=grace_seconds)
        for task in still_running:
            task.cancel()
        if still_running:
            log_event(
                "servicebus.drain_timeout",
                logging.WARNING,
                function=self.function.name,
                abandoned_to_lock_expiry=len(still_running),
            )
            await asyncio.wait(still_running, timeout=1.0)

    async def _process(
        self, receiver: ServiceBusReceiver, message: ServiceBusReceivedMessage
    ) -> None:
        started = time.perf_counter()
        fields: dict[str, Any] = {
            "function": self.function.name,
            "trigger": "servicebus",
            "message_id": str(message.message_id),
            "delivery_count": functions_delivery_count(message),
            "sequence_number": message.sequence_number,
        }
        log_event("invocation.started", **fields)
        renewal = asyncio.create_task(self._renew_lock(receiver, message))
        failed = False
        try:
            await self.invoker.call(self.function, to_servicebus_message(message))
        except asyncio.CancelledError:
            log_event(
                "invocation",
                logging.WARNING,
                **fields,
                outcome="cancelled",
                settlement="none",
                duration_ms=elapsed_ms(started),
            )
            raise
        except Exception:
            failed = True
            log_event(
                "function.error",
                logging.ERROR,
                exc_info=True,
                function=self.function.name,
                message_id=fields["message_id"],
            )
        finally:
            renewal.cancel()
        settlement = await self._settle(receiver, message, failed)
        log_event(
            "invocation",
            logging.WARNING if failed else logging.INFO,
            **fields,
            outcome="failed" if failed else "succeeded",
            settlement=settlement,
            duration_ms=elapsed_ms(started),
        )

    async def _settle(
        self, receiver: ServiceBusReceiver, message: ServiceBusReceivedMessage, failed: bool
    ) -> str:
        if not self.auto_complete:
            return "left_to_function"
        try:
            if failed:
                await receiver.abandon_message(message)
                return "abandoned"
            await receiver.complete_message(message)
            return "completed"
        except (ServiceBusError, OSError) as exc:
            # The lock is gone (expired, broker restarted): the broker redelivers; nothing is lost.
            return f"settle_failed:{type(exc).__name__}"

    async def _renew_lock(
        self, receiver: ServiceBusReceiver, message: ServiceBusReceivedMessage
    ) -> None:
        budget = self.options.max_auto_lock_renewal_duration.total_seconds()
        started = time.monotonic()
        while True:
            locked_until = message.locked_until_utc
            if locked_until is None:
                return
            remaining = (locked_until - datetime.now(UTC)).total_seconds()
            wait = max(remaining / 2, 0.05)
            if time.monotonic() - started + wait > budget:
                return  # past maxAutoLockRenewalDuration the lock is left to expire
            await asyncio.sleep(wait)
            try:
                await receiver.renew_message_lock(message)
            except (ServiceBusError, OSError) as exc:
                log_event(
                    "servicebus.lock_renewal_failed",
                    logging.WARNING,
                    function=self.function.name,
                    message_id=str(message.message_id),
                    error=type(exc).__name__,
                )
                return
