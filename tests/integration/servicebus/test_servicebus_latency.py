"""Messages reach a receiver with credit at once: new, released, abandoned or lock-expired.

The async SDK is used the way the local Functions host uses it (prefetch 0,
receive calls in a loop, or iteration). Bounds are loose for a busy machine
but far below the one-second and lock-duration stalls they guard against.
"""

from __future__ import annotations

import asyncio
import sys
import time

from azure.servicebus import ServiceBusMessage, ServiceBusReceivedMessage

from localdev.servicebus.process import ServiceBusEmulatorProcess

PROMPT = 0.5  # seconds; what "at once" means here


async def test_messages_sent_to_an_idle_iterating_receiver_arrive_at_once(
    async_sb_client, queue_name
):
    queue = queue_name("nodup")
    arrivals: list[tuple[float, str]] = []
    async with async_sb_client.get_queue_receiver(queue) as receiver:

        async def iterate() -> None:
            async for message in receiver:
                arrivals.append((time.monotonic(), str(message)))
                await receiver.complete_message(message)

        task = asyncio.create_task(iterate())
        try:
            await asyncio.sleep(1.5)  # idle: the receiver waits with its credit outstanding
            async with async_sb_client.get_queue_sender(queue) as sender:
                for n in range(3):
                    sent = time.monotonic()
                    await sender.send_messages(ServiceBusMessage(f"idle-{n}"))
                    arrived = await _wait_for(arrivals, n + 1)
                    assert arrivals[n][1] == f"idle-{n}"
                    assert arrived - sent < PROMPT, f"message {n} took {arrived - sent:.3f}s"
                    await asyncio.sleep(0.7)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_a_released_message_reaches_the_same_receiver_at_once(async_sb_client, queue_name):
    queue = queue_name("nodup")
    async with (
        async_sb_client.get_queue_receiver(queue) as receiver,
        async_sb_client.get_queue_sender(queue) as sender,
    ):
        # Given credit left over from a receive call that returned empty
        assert await receiver.receive_messages(max_message_count=5, max_wait_time=0.3) == []
        await sender.send_messages(ServiceBusMessage("late"))
        await asyncio.sleep(0.2)
        # And the SDK released the message (it arrived while no receive call was active;
        # a management call reads the connection)
        await receiver.peek_messages(1)
        # When the receiver iterates (which grants no new credit while some is left)
        started = time.monotonic()
        async for message in receiver:
            took = time.monotonic() - started
            # Then the message comes at once, with no delivery counted
            assert (str(message), message.delivery_count) == ("late", 0)
            assert took < PROMPT, f"the released message took {took:.3f}s"
            await receiver.complete_message(message)
            break


async def test_an_abandoned_message_reaches_a_waiting_receiver_at_once(async_sb_client, queue_name):
    queue = queue_name("nodup")
    async with (
        async_sb_client.get_queue_receiver(queue) as first,
        async_sb_client.get_queue_receiver(queue) as second,
        async_sb_client.get_queue_sender(queue) as sender,
    ):
        await sender.send_messages(ServiceBusMessage("retry me"))
        (message,) = await first.receive_messages(max_message_count=1, max_wait_time=5)
        waiting = asyncio.create_task(second.receive_messages(max_message_count=1, max_wait_time=5))
        await asyncio.sleep(0.3)
        abandoned = time.monotonic()
        await first.abandon_message(message)
        (again,) = await waiting
        took = time.monotonic() - abandoned
        assert (str(again), again.delivery_count) == ("retry me", 1)
        assert took < PROMPT, f"the abandoned message took {took:.3f}s"
        await second.complete_message(again)


_HOLD_A_LOCK = """
import asyncio, sys
from azure.servicebus.aio import ServiceBusClient

async def main(connection_string, queue):
    async with ServiceBusClient.from_connection_string(connection_string) as client:
        async with client.get_queue_receiver(queue) as receiver:
            (message,) = await receiver.receive_messages(max_message_count=1, max_wait_time=10)
            print("locked", str(message), flush=True)
            await asyncio.sleep(60)

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def test_a_lock_held_by_a_killed_client_goes_to_a_waiting_receiver_when_it_expires(
    shared_emulator: ServiceBusEmulatorProcess, async_sb_client, queue_name
):
    queue = queue_name("fast")  # LockDuration PT2S
    lock_duration = 2.0
    async with async_sb_client.get_queue_sender(queue) as sender:
        await sender.send_messages(ServiceBusMessage("orphan"))
    # Given another process holds the message's lock and is SIGKILLed
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _HOLD_A_LOCK,
        shared_emulator.connection_string,
        queue,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        line = await asyncio.wait_for(holder.stdout.readline(), 30)
        assert line.split() == [b"locked", b"orphan"]
        locked = time.monotonic()
    finally:
        holder.kill()
        await holder.wait()
    # When a receiver waits for it the way the host does (receive calls in a loop)
    async with async_sb_client.get_queue_receiver(queue) as receiver:
        got: list[ServiceBusReceivedMessage] = []
        while not got and time.monotonic() - locked < lock_duration + 10:
            got = await receiver.receive_messages(max_message_count=1, max_wait_time=1)
        took = time.monotonic() - locked
        # Then it arrives as the lock expires, with the failed delivery counted
        assert [(str(m), m.delivery_count) for m in got] == [("orphan", 1)]
        assert took < lock_duration + 1.0, f"redelivered {took:.3f}s after it was locked"
        await receiver.complete_message(got[0])


async def _wait_for(arrivals: list, count: int, within: float = 5.0) -> float:
    deadline = time.monotonic() + within
    while len(arrivals) < count:
        assert time.monotonic() < deadline, f"only {len(arrivals)} of {count} messages arrived"
        await asyncio.sleep(0.005)
    return arrivals[count - 1][0]
