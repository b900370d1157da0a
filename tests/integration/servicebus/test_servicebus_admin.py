"""The management REST API over HTTPS, driven by the real `ServiceBusAdministrationClient`."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from azure.core.exceptions import ClientAuthenticationError, ResourceNotFoundError
from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusSubQueue
from azure.servicebus.management import ServiceBusAdministrationClient

from localdev.servicebus.amqp.auth import SAS_KEY_NAME
from localdev.servicebus.process import ServiceBusEmulatorProcess, write_config
from tests.fixtures.ports import free_ports
from tests.integration.servicebus.support import start_or_fail

QUEUES: dict[str, dict[str, object]] = {
    "orders": {"LockDuration": "PT30S", "MaxDeliveryCount": 4},
    "audit": {"RequiresDuplicateDetection": False},
}


class AdminEmulator(ServiceBusEmulatorProcess):
    """The emulator with its management API on `admin_port`, certificates in `admin_cert_dir`."""

    @property
    def cert_dir(self) -> Path:
        """Where the emulator keeps the CA clients verify against (always given here)."""
        assert self.admin_cert_dir is not None
        return self.admin_cert_dir

    def admin_connection_string(self, key: str = "SAS_KEY_VALUE") -> str:
        """The emulator connection string with the management API's port in `Endpoint`."""
        return (
            f"Endpoint=sb://localhost:{self.admin_port};SharedAccessKeyName={SAS_KEY_NAME};"
            f"SharedAccessKey={key};UseDevelopmentEmulator=true;"
        )


@pytest.fixture(scope="module")
def admin_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminEmulator]:
    folder = tmp_path_factory.mktemp("servicebus-admin")
    amqp_port, admin_port = free_ports(2)
    emulator = AdminEmulator(
        amqp_port,
        config_path=write_config(folder / "config.json", QUEUES),
        log_path=folder / "emulator.log",
        admin_port=admin_port,
        admin_cert_dir=folder / "certs",
    )
    start_or_fail(emulator)
    yield emulator
    emulator.stop()


@pytest.fixture
def admin(admin_emulator: AdminEmulator) -> Iterator[ServiceBusAdministrationClient]:
    ca = str(admin_emulator.cert_dir / "ca.pem")
    client = ServiceBusAdministrationClient.from_connection_string(
        admin_emulator.admin_connection_string(), connection_verify=ca
    )
    with client:
        yield client


def test_runtime_counts_follow_the_queue(admin_emulator: AdminEmulator, admin):
    # Given three active, one scheduled and one dead-lettered message in "orders"
    with ServiceBusClient.from_connection_string(admin_emulator.connection_string) as client:
        with client.get_queue_sender("orders") as sender:
            sender.send_messages([ServiceBusMessage(f"m{n}") for n in range(4)])
            later = ServiceBusMessage("later")
            sender.schedule_messages(later, datetime.now(UTC) + timedelta(hours=1))
        with client.get_queue_receiver("orders") as receiver:
            (first,) = receiver.receive_messages(max_message_count=1, max_wait_time=5)
            receiver.dead_letter_message(first, reason="Test", error_description="counted")

        # When the operator reads the runtime properties
        runtime = admin.get_queue_runtime_properties("orders")

        # Then every count is right, and the times are set
        assert (runtime.name, runtime.active_message_count) == ("orders", 3)
        assert runtime.scheduled_message_count == 1
        assert runtime.dead_letter_message_count == 1
        assert runtime.total_message_count == 5
        assert (runtime.transfer_message_count, runtime.transfer_dead_letter_message_count) == (
            0,
            0,
        )
        assert runtime.size_in_bytes > 0
        assert runtime.created_at_utc <= runtime.accessed_at_utc
        assert runtime.updated_at_utc is not None

        # And completing the dead letter is seen at once
        with client.get_queue_receiver("orders", sub_queue=ServiceBusSubQueue.DEAD_LETTER) as dlq:
            (dead,) = dlq.receive_messages(max_wait_time=5)
            dlq.complete_message(dead)
    assert admin.get_queue_runtime_properties("orders").dead_letter_message_count == 0


def test_queue_properties_are_the_configured_ones(admin):
    orders = admin.get_queue("orders")
    assert orders.lock_duration == timedelta(seconds=30)
    assert orders.max_delivery_count == 4
    assert orders.requires_duplicate_detection is True
    assert orders.default_message_time_to_live == timedelta(days=14)
    assert orders.duplicate_detection_history_time_window == timedelta(hours=1)
    assert orders.dead_lettering_on_message_expiration is True
    assert orders.requires_session is False
    assert orders.max_message_size_in_kilobytes == 256
    assert admin.get_queue("AUDIT").requires_duplicate_detection is False  # case-insensitive


def test_list_queues_and_their_runtime_properties(admin):
    assert sorted(q.name for q in admin.list_queues()) == ["audit", "orders"]
    counts = {q.name: q.active_message_count for q in admin.list_queues_runtime_properties()}
    assert set(counts) == {"audit", "orders"}


def test_unknown_queue_is_resource_not_found(admin):
    with pytest.raises(ResourceNotFoundError):
        admin.get_queue_runtime_properties("nope")


def test_a_wrong_key_is_refused(admin_emulator: AdminEmulator):
    ca = str(admin_emulator.cert_dir / "ca.pem")
    client = ServiceBusAdministrationClient.from_connection_string(
        admin_emulator.admin_connection_string(key="not-the-key"), connection_verify=ca
    )
    with client, pytest.raises(ClientAuthenticationError):
        client.get_queue_runtime_properties("orders")


def test_tls_is_verified_against_the_generated_ca(admin_emulator: AdminEmulator):
    # The certificate verifies for localhost with the CA, and not without it.
    ca = ssl.create_default_context(cafile=str(admin_emulator.cert_dir / "ca.pem"))
    with (
        socket.create_connection(("127.0.0.1", admin_emulator.admin_port), timeout=5) as raw,
        ca.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    with (
        pytest.raises(ssl.SSLCertVerificationError),
        socket.create_connection(("127.0.0.1", admin_emulator.admin_port), timeout=5) as raw,
        ssl.create_default_context().wrap_socket(raw, server_hostname="localhost"),
    ):
        pass
    assert (admin_emulator.cert_dir / "server-key.pem").stat().st_mode & 0o077 == 0


def test_a_stalled_tls_client_does_not_block_the_api(admin_emulator: AdminEmulator, admin):
    # A client that connects and never says a word holds its own thread only.
    with socket.create_connection(("127.0.0.1", admin_emulator.admin_port), timeout=5):
        started = time.monotonic()
        assert admin.get_queue_runtime_properties("audit").name == "audit"
        assert time.monotonic() - started < 5
