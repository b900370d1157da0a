"""The broker through `azure.servicebus.aio`: send, receive, settle, DLQ, defer, peek, schedule."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from azure.servicebus import (
    ServiceBusMessage,
    ServiceBusReceivedMessage,
    ServiceBusReceiveMode,
    ServiceBusSubQueue,
)
from azure.servicebus.aio import AutoLockRenewer
from azure.servicebus.aio import ServiceBusClient as AsyncServiceBusClient
from azure.servicebus.exceptions import MessagingEntityNotFoundError


async def _drain(receiver, expected: int, wait: float = 10):
    got: list[ServiceBusReceivedMessage] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while len(got) < expected and loop.time() < deadline:
        got += await receiver.receive_messages(
            max_message_count=expected - len(got), max_wait_time=1
        )
    return got


async def test_async_send_receive_complete_abandon_dead_letter(async_sb_client, queue_name):
    queue = queue_name("fast")  # MaxDeliveryCount 3
    async with async_sb_client.get_queue_sender(queue) as sender:
        await sender.send_messages(ServiceBusMessage("a", application_properties={"n": 1}))
        await sender.send_messages([ServiceBusMessage("b"), ServiceBusMessage("c")])
        batch = await sender.create_message_batch()
        batch.add_message(ServiceBusMessage("d"))
        await sender.send_messages(batch)
    async with async_sb_client.get_queue_receiver(queue) as receiver:
        a, b, c, d = await _drain(receiver, 4)
        assert [str(m) for m in (a, b, c, d)] == ["a", "b", "c", "d"]
        assert a.application_properties == {b"n": 1}
        await receiver.complete_message(a)
        await receiver.abandon_message(b)
        await receiver.dead_letter_message(c, reason="Async", error_description="from aio")
        await receiver.defer_message(d)
        (again,) = await _drain(receiver, 1)
        assert str(again) == "b"
        assert again.delivery_count == 1
        await receiver.complete_message(again)
        (deferred,) = await receiver.receive_deferred_messages([d.sequence_number])
        await receiver.complete_message(deferred)
    async with async_sb_client.get_queue_receiver(
        queue, sub_queue=ServiceBusSubQueue.DEAD_LETTER
    ) as dlq:
        (dead,) = await _drain(dlq, 1)
        assert (dead.dead_letter_reason, dead.dead_letter_error_description) == (
            "Async",
            "from aio",
        )
        await dlq.complete_message(dead)


async def test_async_iteration_peek_and_receive_and_delete(async_sb_client, queue_name):
    queue = queue_name()
    async with async_sb_client.get_queue_sender(queue) as sender:
        await sender.send_messages([ServiceBusMessage(f"i{n}") for n in range(4)])
    async with async_sb_client.get_queue_receiver(queue, max_wait_time=2) as receiver:
        peeked = await receiver.peek_messages(max_message_count=10)
        assert [str(m) for m in peeked] == ["i0", "i1", "i2", "i3"]
        seen = []
        async for message in receiver:
            seen.append(str(message))
            await receiver.complete_message(message)
            if len(seen) == 2:
                break
    mode = ServiceBusReceiveMode.RECEIVE_AND_DELETE
    async with async_sb_client.get_queue_receiver(queue, receive_mode=mode) as receiver:
        rest = await _drain(receiver, 2)
        assert [str(m) for m in rest] == ["i2", "i3"]
        assert await receiver.peek_messages(max_message_count=10, sequence_number=1) == []


async def test_async_schedule_and_cancel(async_sb_client, queue_name):
    queue = queue_name()
    async with (
        async_sb_client.get_queue_sender(queue) as sender,
        async_sb_client.get_queue_receiver(queue) as receiver,
    ):
        at = datetime.now(UTC) + timedelta(seconds=1.5)
        (kept,) = await sender.schedule_messages(ServiceBusMessage("kept"), at)
        dropped = await sender.schedule_messages(ServiceBusMessage("dropped"), at)
        await sender.cancel_scheduled_messages(dropped)
        (message,) = await _drain(receiver, 1, wait=6)
        assert str(message) == "kept"
        assert message.sequence_number == kept
        await receiver.complete_message(message)
        assert await _drain(receiver, 1, wait=1) == []


async def test_async_auto_lock_renewer_outlives_the_lock(async_sb_client, queue_name):
    queue = queue_name("lock5")
    async with (
        async_sb_client.get_queue_sender(queue) as sender,
        async_sb_client.get_queue_receiver(queue) as receiver,
    ):
        await sender.send_messages(ServiceBusMessage("long job"))
        (message,) = await _drain(receiver, 1)
        async with AutoLockRenewer(max_lock_renewal_duration=20) as renewer:
            renewer.register(receiver, message)
            await asyncio.sleep(6)  # longer than the 5 s lock
            await receiver.complete_message(message)
        assert message.delivery_count == 0


async def test_async_unknown_queue(shared_emulator):
    client = AsyncServiceBusClient.from_connection_string(
        shared_emulator.connection_string, retry_total=0
    )
    async with client:
        with pytest.raises(MessagingEntityNotFoundError):
            async with client.get_queue_sender("missing-queue") as sender:
                await sender.send_messages(ServiceBusMessage("x"))
