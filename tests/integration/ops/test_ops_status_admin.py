"""`ops status` through the real ServiceBusAdministrationClient over HTTPS.

Against the emulator's own management API (`--admin-port`, its generated
CA), and against a small HTTPS server answering the one
request `get_queue_runtime_properties` makes (the Atom entry of a queue,
as Service Bus answers it), behind a certificate signed by a CA generated
for the test (as the emulator generates its own): it proves the SDK call,
SERVICEBUS_ADMIN_ENDPOINT, SERVICEBUS_ADMIN_CA_BUNDLE (`connection_verify`)
and the error lines. The dead letter whose age is shown is a real one, in
the emulator.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.servicebus import ServiceBusClient, ServiceBusMessage

from localdev.servicebus.admin.certs import ensure_certificates
from localdev.servicebus.process import ServiceBusEmulatorProcess
from tests.fixtures.ports import free_port
from tests.integration.ops.conftest import run_ops
from tests.integration.ops.test_ops_outage import with_setting
from tests.unit.ops.local_http import RecordingHandler, serving

ENTRY = """<entry xmlns="http://www.w3.org/2005/Atom"><title type="text">{queue}</title>
<content type="application/xml"><QueueDescription
 xmlns="http://schemas.microsoft.com/netservices/2010/10/servicebus/connect"
 xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><MessageCount>{total}</MessageCount>
<CountDetails xmlns:d2p1="http://schemas.microsoft.com/netservices/2011/06/servicebus">
<d2p1:ActiveMessageCount>{active}</d2p1:ActiveMessageCount>
<d2p1:DeadLetterMessageCount>{dead}</d2p1:DeadLetterMessageCount>
<d2p1:ScheduledMessageCount>{scheduled}</d2p1:ScheduledMessageCount>
<d2p1:TransferMessageCount>0</d2p1:TransferMessageCount>
<d2p1:TransferDeadLetterMessageCount>0</d2p1:TransferDeadLetterMessageCount>
</CountDetails></QueueDescription></content></entry>"""


ATOM = {"Content-Type": "application/atom+xml;type=entry;charset=utf-8"}


class ManagementApi(RecordingHandler):
    counts = {"active": 0, "dead": 0, "scheduled": 0}
    refuse = False
    requests: list[str] = []

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        signed = self.headers.get("Authorization", "").startswith("SharedAccessSignature ")
        if self.refuse or not signed:
            refusal = b"<Error><Code>401</Code><Detail>Manage claim required</Detail></Error>"
            self.answer(401, refusal, ATOM)
            return
        queue = self.path.split("?")[0].strip("/")
        total = sum(self.counts.values())
        self.answer(200, ENTRY.format(queue=queue, total=total, **self.counts).encode(), ATOM)


@pytest.fixture
def management_api(tmp_path: Path) -> Iterator[tuple[int, Path, type[ManagementApi]]]:
    # A CA and a localhost certificate it signed, made as the emulator makes its own.
    certificates = ensure_certificates(tmp_path)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(certificates.certificate, certificates.key)
    with serving(ManagementApi, tls, requests=[], refuse=False) as (port, handler):
        yield port, certificates.ca, handler


def test_status_reads_the_counts_through_the_sdk_and_the_dlqs_oldest_age(
    ops_env, management_api
) -> None:
    port, ca, api = management_api
    env = ops_env()
    env.seed(["auth0|status-1"])
    api.counts = {"active": 2, "dead": 1, "scheduled": 0}
    with_setting(env, "SERVICEBUS_ADMIN_ENDPOINT", f"localhost:{port}")
    with_setting(env, "SERVICEBUS_ADMIN_CA_BUNDLE", str(ca))

    [row] = env.json_lines("status")
    assert (row["active_messages"], row["scheduled_messages"], row["dead_letter_messages"]) == (
        2,
        0,
        1,
    )
    assert 0 <= row["oldest_dead_letter_age_seconds"] < 120
    assert api.requests[0].startswith("/registrations?")
    human = env.ops("status")
    assert human.returncode == 0, human.stderr
    assert "dead-lettered" in human.stdout


def test_status_errors_are_one_line_naming_the_fix(ops_env, management_api) -> None:
    port, ca, api = management_api
    env = ops_env()
    with_setting(env, "SERVICEBUS_ADMIN_ENDPOINT", f"localhost:{port}")

    untrusted = env.ops("status")  # no CA bundle: the certificate is not trusted
    assert untrusted.returncode == 1
    assert untrusted.stderr.count("\n") == 1
    assert "SERVICEBUS_ADMIN_CA_BUNDLE" in untrusted.stderr

    with_setting(env, "SERVICEBUS_ADMIN_CA_BUNDLE", str(ca))
    api.refuse = True
    refused = env.ops("status", "--json")
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert "needs Manage rights" in refused.stderr
    assert json.dumps(refused.stderr).count("\\n") == 1


class EmulatorWithAdmin(ServiceBusEmulatorProcess):
    """The emulator with its HTTPS management API on a second port."""

    def __init__(self, port: int, admin_port: int, cert_dir: Path, log_path: Path) -> None:
        super().__init__(port, log_path=log_path)
        self.admin_port = admin_port
        self.cert_dir = cert_dir

    def command(self) -> list[str]:
        admin = ["--admin-port", str(self.admin_port), "--admin-cert-dir", str(self.cert_dir)]
        return [*super().command(), *admin]


@pytest.fixture
def emulator_with_admin(tmp_path: Path) -> Iterator[EmulatorWithAdmin]:
    amqp_port = free_port()
    admin_port = free_port()
    while admin_port == amqp_port:
        admin_port = free_port()
    emulator = EmulatorWithAdmin(amqp_port, admin_port, tmp_path / "admin", tmp_path / "sb.log")
    emulator.start()
    try:
        deadline = time.monotonic() + 15
        while not _accepts(admin_port):
            assert time.monotonic() < deadline, "the management API did not start"
            time.sleep(0.1)
        yield emulator
    finally:
        emulator.stop()


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_status_against_the_emulators_management_api(
    emulator_with_admin: EmulatorWithAdmin, tmp_path: Path
) -> None:
    # Given: two waiting messages, one scheduled for later, one dead-lettered
    emulator = emulator_with_admin
    with ServiceBusClient.from_connection_string(emulator.connection_string) as client:
        with client.get_queue_sender("registrations") as sender:
            sender.send_messages([ServiceBusMessage(f"m{n}") for n in range(3)])
            later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
            sender.schedule_messages(ServiceBusMessage("later"), later)
        with client.get_queue_receiver("registrations") as receiver:
            [first] = receiver.receive_messages(max_message_count=1, max_wait_time=5)
            receiver.dead_letter_message(first, reason="ops-status-test")
    values = {
        "ServiceBusConnection": emulator.connection_string,
        "SERVICEBUS_ADMIN_ENDPOINT": f"localhost:{emulator.admin_port}",
        "SERVICEBUS_ADMIN_CA_BUNDLE": str(emulator.cert_dir / "ca.pem"),
    }
    settings = tmp_path / "local.settings.json"
    settings.write_text(json.dumps({"Values": values}))

    # When / Then: the counts are the emulator's, read with the real SDK over HTTPS
    done = run_ops("status", "--json", settings=settings)
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout)
    assert row["active_messages"] == 2
    assert row["scheduled_messages"] == 1
    assert row["dead_letter_messages"] == 1
    assert 0 <= row["oldest_dead_letter_age_seconds"] < 60
