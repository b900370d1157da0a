"""Settings: an unusable AUTH0_EVENTS_TOKEN or no AUTH0_TENANT_ID is one log line and 503s."""

from __future__ import annotations

import json
import logging

import pytest

from events.dependencies import build_event_stream_service
from events.service import respond
from ingest.service import IngestRequest
from shared.publisher import InMemoryPublisher
from shared.rejections import RejectionLog
from shared.settings import Settings
from shared.tablestore import InMemoryTableStore, TableStore
from shared.tracing import NO_TRACER
from tests.unit.events.conftest import TOKEN, body, cloud_event, headers


class Parts:
    def __init__(self, **values: str) -> None:
        self.settings = Settings.model_validate(values)
        self.publisher = InMemoryPublisher()
        self.tracer = NO_TRACER
        self.stores: dict[str, InMemoryTableStore] = {}

    def table_store(self, table_name: str) -> TableStore:
        return self.stores.setdefault(table_name, InMemoryTableStore())

    @property
    def rejections(self) -> RejectionLog:
        return RejectionLog(self.table_store("failures"), self.settings.auth0_tenant_id)


@pytest.mark.parametrize(
    ("values", "setting"),
    [
        ({"AUTH0_TENANT_ID": "acme"}, "AUTH0_EVENTS_TOKEN"),
        (
            {"AUTH0_TENANT_ID": "acme", "AUTH0_EVENTS_TOKEN": "##AUTH0_EVENTS_TOKEN##"},
            "AUTH0_EVENTS_TOKEN",
        ),
        ({"AUTH0_TENANT_ID": "acme", "AUTH0_EVENTS_TOKEN": "changeme"}, "AUTH0_EVENTS_TOKEN"),
        (
            {
                "AUTH0_TENANT_ID": "acme",
                "AUTH0_EVENTS_TOKEN": "@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/t)",
            },
            "AUTH0_EVENTS_TOKEN",
        ),
        ({"AUTH0_EVENTS_TOKEN": TOKEN}, "AUTH0_TENANT_ID"),
    ],
)
def test_unusable_settings_log_once_and_answer_503(
    values: dict[str, str], setting: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="events")
    service = build_event_stream_service(Parts(**values))
    answers = [
        respond(lambda: service, IngestRequest(body(cloud_event()), headers())) for _ in range(3)
    ]

    assert [answer.status for answer in answers] == [503, 503, 503]
    configuration = [
        json.loads(r.getMessage()) for r in caplog.records if '"configuration"' in r.getMessage()
    ]
    assert [line["setting"] for line in configuration] == [setting]
    assert "vault.azure.net" not in caplog.text


def test_good_settings_accept_and_use_send_fields() -> None:
    parts = Parts(
        AUTH0_TENANT_ID="acme",
        AUTH0_EVENTS_TOKEN=f"{TOKEN} second-token-abcdef0123456789",
        SEND_FIELDS="all",
    )
    service = build_event_stream_service(parts)
    answer = respond(lambda: service, IngestRequest(body(cloud_event()), headers()))
    assert answer.status == 202
    assert json.loads(parts.publisher.messages[0].body)["user"]["name"] == "Nick Tester"


def test_unknown_send_fields_names_are_one_warning_and_the_known_ones_still_apply(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="events")
    parts = Parts(AUTH0_TENANT_ID="acme", AUTH0_EVENTS_TOKEN=TOKEN, SEND_FIELDS="email passwd")
    service = build_event_stream_service(parts)
    answer = respond(lambda: service, IngestRequest(body(cloud_event()), headers()))

    assert answer.status == 202
    user = json.loads(parts.publisher.messages[0].body)["user"]
    assert user["email"] == "nick@example.com"
    assert "name" not in user
    [warning] = [json.loads(r.getMessage()) for r in caplog.records]
    assert (warning["setting"], warning["outcome"]) == ("SEND_FIELDS", "ignored")
    assert "passwd" in warning["error"]
