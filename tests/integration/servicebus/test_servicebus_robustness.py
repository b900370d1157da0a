"""One client's garbage or abrupt disconnect never hurts another; many clients at once."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter

from azure.servicebus import ServiceBusClient, ServiceBusMessage
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from localdev.servicebus.process import ServiceBusEmulatorProcess
from tests.integration.servicebus.support import assert_receives, assert_round_trip

AMQP_HEADER = b"AMQP\x00\x01\x00\x00"
SASL_HEADER = b"AMQP\x03\x01\x00\x00"
# A valid SASL init (ANONYMOUS) then the AMQP header: fuzzed bytes after it hit the AMQP layer.
SASL_INIT = bytes.fromhex("0000001b02010000005341c00e02a309414e4f4e594d4f5553a000")


def _blast(port: int, payload: bytes, wait: float = 0.05) -> None:
    # A short timeout: an incomplete frame gets no answer, the emulator just waits for more.
    with socket.create_connection(("127.0.0.1", port), timeout=0.3) as sock:
        try:
            sock.sendall(payload)
            time.sleep(wait)
            sock.recv(65536)
        except OSError:
            pass  # the emulator may close on us: that is the point


def _round_trip(connection_string: str, queue: str, body: str) -> None:
    with ServiceBusClient.from_connection_string(connection_string, retry_total=0) as client:
        assert_round_trip(client, queue, body)


def test_malformed_frames_never_take_the_emulator_down(
    shared_emulator: ServiceBusEmulatorProcess, queue_name
):
    port = shared_emulator.port

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        prefix=st.sampled_from(
            [AMQP_HEADER, SASL_HEADER, SASL_HEADER + SASL_INIT + AMQP_HEADER, b""]
        ),
        junk=st.binary(min_size=1, max_size=300),
    )
    def fuzz(prefix: bytes, junk: bytes) -> None:
        _blast(port, prefix + junk, wait=0.0)

    fuzz()
    # Frames that parse but say absurd things: huge sizes, bad performatives, a half frame.
    for junk in (
        b"\xff\xff\xff\xff\x02\x00\x00\x00",
        b"\x00\x00\x00\x0c\x02\x00\x00\x00\x00\x53\x99\x45",
        b"\x00\x00\x10\x00\x02\x00\x00\x00\x00\x53\x10",
    ):
        _blast(port, SASL_HEADER + SASL_INIT + AMQP_HEADER + junk)
    assert shared_emulator.process is not None
    assert shared_emulator.process.poll() is None
    _round_trip(shared_emulator.connection_string, queue_name(), "still alive")


def test_a_client_that_vanishes_mid_transfer_does_not_disturb_others(
    shared_emulator: ServiceBusEmulatorProcess, queue_name
):
    queue = queue_name()
    client = ServiceBusClient.from_connection_string(shared_emulator.connection_string)
    with (
        client,
        client.get_queue_receiver(queue) as receiver,
        client.get_queue_sender(queue) as sender,
    ):
        # a raw client that starts a connection and disappears halfway through a frame
        for _ in range(5):
            _blast(
                shared_emulator.port,
                SASL_HEADER + SASL_INIT + AMQP_HEADER + b"\x00\x00\x01\x00\x02\x00",
            )
        sender.send_messages(ServiceBusMessage("unaffected"))
        assert_receives(receiver, "unaffected")


def test_sixteen_concurrent_receivers_share_the_queue_exactly_once(
    shared_emulator: ServiceBusEmulatorProcess, queue_name
):
    queue = queue_name()
    total = 320
    received: Counter[str] = Counter()
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[BaseException] = []

    def consume() -> None:
        try:
            with (
                ServiceBusClient.from_connection_string(
                    shared_emulator.connection_string
                ) as client,
                client.get_queue_receiver(queue) as receiver,
            ):
                while not stop.is_set():
                    for message in receiver.receive_messages(max_message_count=5, max_wait_time=1):
                        receiver.complete_message(message)
                        with lock:
                            received[str(message)] += 1
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    def produce(offset: int) -> None:
        client = ServiceBusClient.from_connection_string(shared_emulator.connection_string)
        with client, client.get_queue_sender(queue) as sender:
            for n in range(offset, total, 2):
                sender.send_messages(ServiceBusMessage(f"m{n}"))

    consumers = [threading.Thread(target=consume) for _ in range(16)]
    producers = [threading.Thread(target=produce, args=(k,)) for k in range(2)]
    for thread in consumers + producers:
        thread.start()
    for thread in producers:
        thread.join(60)
    deadline = time.monotonic() + 60
    while sum(received.values()) < total and time.monotonic() < deadline:
        time.sleep(0.2)
    stop.set()
    for thread in consumers:
        thread.join(30)
    assert errors == []
    assert sum(received.values()) == total
    assert set(received) == {f"m{n}" for n in range(total)}
    assert max(received.values()) == 1
