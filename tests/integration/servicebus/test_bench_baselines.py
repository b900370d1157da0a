"""The benchmark's baselines work as measured: the thin forwarder and the CPU meter."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import psutil
from azure.servicebus import ServiceBusClient

from bench.cpu import CpuMeter, host_group
from bench.forwarder import Forwarder
from localdev.servicebus.process import ServiceBusEmulatorProcess
from tests.fixtures.ports import free_port


async def _post_many(url: str, bodies: list[bytes], concurrency: int) -> list[int]:
    limit = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession() as session:

        async def post(body: bytes) -> int:
            async with limit, session.post(url, data=body) as response:
                return response.status

        return list(await asyncio.gather(*(post(body) for body in bodies)))


def test_the_forwarder_sends_every_body_as_is_under_concurrency(
    shared_emulator: ServiceBusEmulatorProcess, queue_name, tmp_path: Path
):
    queue = queue_name("nodup")
    bodies = [f'{{"n": {n}}}'.encode() for n in range(64)]
    with Forwarder(free_port(), shared_emulator.connection_string, queue, tmp_path / "f.log") as f:
        statuses = asyncio.run(_post_many(f.url, bodies, concurrency=16))
    assert statuses == [202] * 64
    with (
        ServiceBusClient.from_connection_string(shared_emulator.connection_string) as client,
        client.get_queue_receiver(queue, receive_mode="receiveanddelete") as receiver,
    ):
        got: list[bytes] = []
        while batch := receiver.receive_messages(max_message_count=64, max_wait_time=2):
            got += [b"".join(m.body) for m in batch]
    assert sorted(got) == sorted(bodies)


def test_the_cpu_meter_counts_a_process_tree_and_filters_by_group():
    burn = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    child = subprocess.Popen([sys.executable, "-c", burn + "\nimport time; time.sleep(5)"])
    try:
        with (
            CpuMeter([child.pid]) as everything,
            CpuMeter([child.pid], only=host_group("http")) as http,
        ):
            process = psutil.Process(child.pid)
            for _ in range(100):  # until the child has burnt its 0.3 s
                if sum(process.cpu_times()[:2]) >= 0.3:
                    break
                time.sleep(0.05)
    finally:
        child.kill()
        child.wait()
    assert everything.seconds >= 0.2
    assert http.seconds == 0.0  # its command line has no `--group http`
    assert host_group("http")(["python", "-m", "localdev", "host", "--group", "http"])
    assert not host_group("http")(["python", "--group", "process_registration"])
