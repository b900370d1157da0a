"""Service Bus emulator benchmark: batched send and receive+complete through the real SDK.

Runs N messages of 1 KiB through one emulator process and reports, from the same
run, the throughput and the CPU time per message of the emulator process next
to that of the client (this process, which runs the SDK). The goal is an
emulator that costs less CPU per message than the SDK that drives it.

    python -m bench.servicebus [--messages 10000] [--size 1024]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil
from azure.servicebus import ServiceBusClient, ServiceBusMessage

from bench.harness import Measurement, report
from localdev.ports import free_port
from localdev.servicebus.process import ServiceBusEmulatorProcess, write_config

QUEUE = "bench"


@dataclass
class Phase:
    """One measured phase."""

    name: str
    messages: int
    seconds: float
    emulator_cpu_seconds: float
    client_cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    @property
    def emulator_cpu_us_per_message(self) -> float:
        return 1e6 * self.emulator_cpu_seconds / self.messages

    @property
    def client_cpu_us_per_message(self) -> float:
        return 1e6 * self.client_cpu_seconds / self.messages


class CpuMeter:
    """CPU time (user + system) of the emulator and of this process over a phase."""

    def __init__(self, emulator_pid: int) -> None:
        self.emulator = psutil.Process(emulator_pid)
        self.client = psutil.Process()

    def sample(self) -> tuple[float, float, float]:
        e, c = self.emulator.cpu_times(), self.client.cpu_times()
        return time.perf_counter(), e.user + e.system, c.user + c.system

    def phase(self, name: str, messages: int, start: tuple[float, float, float]) -> Phase:
        end = self.sample()
        return Phase(name, messages, end[0] - start[0], end[1] - start[1], end[2] - start[2])


def send_batched(client: ServiceBusClient, bodies: list[bytes]) -> None:
    with client.get_queue_sender(QUEUE) as sender:
        batch = sender.create_message_batch()
        for body in bodies:
            message = ServiceBusMessage(body)
            try:
                batch.add_message(message)
            except ValueError:  # batch full
                sender.send_messages(batch)
                batch = sender.create_message_batch()
                batch.add_message(message)
        if len(batch):
            sender.send_messages(batch)


def receive_and_complete(client: ServiceBusClient, expected: int) -> int:
    done = 0
    with client.get_queue_receiver(QUEUE, prefetch_count=100) as receiver:
        while done < expected:
            messages = receiver.receive_messages(max_message_count=100, max_wait_time=5)
            if not messages:
                break
            for message in messages:
                receiver.complete_message(message)
            done += len(messages)
    return done


def run(messages: int, size: int) -> list[Phase]:
    """Start an emulator, run both phases, stop it."""
    folder = Path(tempfile.mkdtemp(prefix="bench-servicebus-"))
    # Duplicate detection on, as in the project's queue: the emulator pays for it.
    config = write_config(folder / "config.json", {QUEUE: {}})
    emulator = ServiceBusEmulatorProcess(
        free_port(), config_path=config, log_path=folder / "emulator.log"
    )
    emulator.start()
    try:
        assert emulator.pid is not None
        meter = CpuMeter(emulator.pid)
        bodies = [bytes([65 + n % 26]) * size for n in range(messages)]
        with ServiceBusClient.from_connection_string(emulator.connection_string) as client:
            send_batched(client, bodies[:100])  # warm-up: connections, imports, first CBS
            receive_and_complete(client, 100)
            start = meter.sample()
            send_batched(client, bodies)
            send = meter.phase("send (batched)", messages, start)
            start = meter.sample()
            received = receive_and_complete(client, messages)
            receive = meter.phase("receive + complete", received, start)
        if received != messages:
            raise RuntimeError(f"received {received} of {messages} messages")
        return [send, receive]
    finally:
        emulator.stop()


def phase_table(phases: list[Phase], size: int) -> str:
    """Throughput and CPU per message of both processes, per phase."""
    lines = [
        f"{'phase':<20} {'msgs':>7} {'seconds':>8} {'msg/s':>9} {'emulator CPU us/msg':>20} "
        f"{'client CPU us/msg':>18}",
    ]
    for p in phases:
        lines.append(
            f"{p.name:<20} {p.messages:>7} {p.seconds:>8.2f} {p.rate:>9.0f} "
            f"{p.emulator_cpu_us_per_message:>20.1f} {p.client_cpu_us_per_message:>18.1f}"
        )
    lines.append(f"{size}-byte messages; client = this process running azure-servicebus (sync)")
    return "\n".join(lines)


def measurements(phases: list[Phase]) -> list[Measurement]:
    """Emulator CPU per message against the client's in the same run (goal: below it)."""
    return [
        Measurement(
            name=f"emulator CPU/msg vs client, {p.name}",
            value=p.emulator_cpu_us_per_message,
            baseline=p.client_cpu_us_per_message,
            unit="us CPU/msg",
            goal_max=1.0,
            details={"messages_per_second": round(p.rate, 1), **asdict(p)},
        )
        for p in phases
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the tables, write bench/results/servicebus.json."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.servicebus", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=1024)
    args = parser.parse_args([] if argv is None else argv)
    phases = run(args.messages, args.size)
    print(phase_table(phases, args.size), flush=True)
    return report("servicebus", measurements(phases), message_size=args.size)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
