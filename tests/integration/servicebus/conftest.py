"""One shared emulator for the Service Bus integration tests, with pools of fresh queues.

Every test takes unused queues from a pool (so tests stay independent while
paying for one emulator start), by flavour: project defaults, short locks,
short TTLs, no duplicate detection.
"""

from __future__ import annotations

import gc
import itertools
from collections.abc import Callable, Iterator

import pytest
from azure.servicebus import ServiceBusClient
from azure.servicebus.aio import ServiceBusClient as AsyncServiceBusClient

from localdev.servicebus.process import ServiceBusEmulatorProcess, write_config
from tests.fixtures.ports import free_port
from tests.integration.servicebus.support import start_or_fail

POOL_SIZE = 40
FLAVOURS: dict[str, dict[str, object]] = {
    "std": {},  # the project's defaults (lock 1 min, 10 deliveries, dedupe 1 h, TTL 14 days)
    "fast": {"LockDuration": "PT2S", "MaxDeliveryCount": 3},
    "lock5": {"LockDuration": "PT5S"},  # the async AutoLockRenewer cannot keep up with 2 s locks
    "ttl": {"DefaultMessageTimeToLive": "PT2S", "DeadLetteringOnMessageExpiration": True},
    "ttldrop": {"DefaultMessageTimeToLive": "PT2S", "DeadLetteringOnMessageExpiration": False},
    "nodup": {"RequiresDuplicateDetection": False},
}
QueueFactory = Callable[..., str]


@pytest.fixture(autouse=True)
def _collect_garbage_after_each_test() -> Iterator[None]:
    """Fail the test that leaves a socket open, not whichever test runs when it is collected.

    The SDK's connections sit in reference cycles, so a socket they leave open is finalized,
    with its ResourceWarning, only when the garbage collector next runs: that may be many
    tests later, on an xdist worker, and a different test each run.
    """
    yield
    gc.collect()


@pytest.fixture(scope="session")
def shared_emulator(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServiceBusEmulatorProcess]:
    folder = tmp_path_factory.mktemp("servicebus-shared")
    queues = {
        f"{flavour}-{n}": props for flavour, props in FLAVOURS.items() for n in range(POOL_SIZE)
    }
    config = write_config(folder / "config.json", queues)
    emulator = start_or_fail(
        ServiceBusEmulatorProcess(free_port(), config_path=config, log_path=folder / "emulator.log")
    )
    yield emulator
    emulator.stop()


_counters = {flavour: itertools.count() for flavour in FLAVOURS}


@pytest.fixture
def queue_name() -> QueueFactory:
    """`queue_name("fast")`: a queue nobody else in the session has used."""

    def take(flavour: str = "std") -> str:
        n = next(_counters[flavour])
        if n >= POOL_SIZE:
            raise RuntimeError(f"the {flavour!r} queue pool is used up: raise POOL_SIZE")
        return f"{flavour}-{n}"

    return take


@pytest.fixture
def sb_client(shared_emulator: ServiceBusEmulatorProcess) -> Iterator[ServiceBusClient]:
    with ServiceBusClient.from_connection_string(shared_emulator.connection_string) as client:
        yield client


@pytest.fixture
async def async_sb_client(shared_emulator: ServiceBusEmulatorProcess):
    async with AsyncServiceBusClient.from_connection_string(
        shared_emulator.connection_string
    ) as client:
        yield client
