"""The management API without HTTP: routing, authorisation, the ATOM documents, durations."""

from __future__ import annotations

import threading
import time
import xml.etree.ElementTree as ET
from base64 import b64encode
from hashlib import sha256
from hmac import new as hmac_new
from urllib.parse import quote_plus

import pytest

from localdev.servicebus.admin.atom import ATOM, CONNECT, COUNTS, iso_duration
from localdev.servicebus.admin.server import ManagementApi
from localdev.servicebus.amqp.auth import SAS_KEY_NAME, SAS_KEY_VALUE
from localdev.servicebus.broker import (
    Broker,
    IncomingMessage,
    ManualClock,
    MemoryStore,
    QueueSettings,
)


def xml(body: str) -> ET.Element:
    return ET.fromstring(body)  # noqa: S314 - the emulator's own output, not untrusted input


def sas(key: str = SAS_KEY_VALUE) -> str:
    uri, expiry = "https://localhost:1", int(time.time()) + 60
    signed = hmac_new(key.encode(), f"{quote_plus(uri)}\n{expiry}".encode(), sha256).digest()
    sig = quote_plus(b64encode(signed).decode())
    return f"SharedAccessSignature sr={quote_plus(uri)}&sig={sig}&se={expiry}&skn={SAS_KEY_NAME}"


@pytest.fixture
def api() -> ManagementApi:
    broker = Broker(
        [QueueSettings("orders", lock_duration=30), QueueSettings("audit")],
        clock=ManualClock(),
        store=MemoryStore(),
    )
    broker.send("orders", [IncomingMessage(payload=b"x" * 10), IncomingMessage(payload=b"yy")])
    later = IncomingMessage(payload=b"z", scheduled_enqueue_time=broker.clock.now() + 3600)
    broker.send("orders", [later])
    return ManagementApi(broker, threading.Lock(), "https://localhost:1")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(60, "PT1M"), (14 * 86400, "P14D"), (0.5, "PT0.5S"), (3661, "PT1H1M1S"), (0, "PT0S")],
)
def test_durations_are_iso_8601(seconds: float, text: str):
    assert iso_duration(seconds) == text


def test_a_queue_entry_carries_its_counts(api: ManagementApi):
    status, body = api.answer("GET", "/orders?enrich=false&api-version=2021-05", sas())
    assert status == 200
    entry = xml(body)
    description = entry.find(f"{{{ATOM}}}content/{{{CONNECT}}}QueueDescription")
    assert description is not None
    counts = description.find(f"{{{CONNECT}}}CountDetails")
    assert counts is not None
    assert counts.findtext(f"{{{COUNTS}}}ActiveMessageCount") == "2"
    assert counts.findtext(f"{{{COUNTS}}}ScheduledMessageCount") == "1"
    assert description.findtext(f"{{{CONNECT}}}MessageCount") == "3"
    assert description.findtext(f"{{{CONNECT}}}SizeInBytes") == "13"
    assert description.findtext(f"{{{CONNECT}}}LockDuration") == "PT30S"


def test_the_feed_pages_with_skip_and_top(api: ManagementApi):
    _, body = api.answer("GET", "/$Resources/queues?$skip=1&$top=5&api-version=2021-05", sas())
    titles = [e.findtext(f"{{{ATOM}}}title") for e in xml(body).iter(f"{{{ATOM}}}entry")]
    assert titles == ["audit"]


def test_an_unknown_queue_is_an_empty_feed(api: ManagementApi):
    status, body = api.answer("GET", "/nope?api-version=2021-05", sas())
    assert status == 200
    assert list(xml(body).iter(f"{{{ATOM}}}entry")) == []


@pytest.mark.parametrize("authorization", [None, "", "Bearer x", sas(key="wrong")])
def test_requests_without_a_valid_signature_are_401(api: ManagementApi, authorization):
    status, body = api.answer("GET", "/orders", authorization)
    assert status == 401
    assert xml(body).findtext("Code") == "401"


def test_changes_are_refused(api: ManagementApi):
    assert api.answer("PUT", "/newqueue", sas())[0] == 405
