"""`shared.runtime.AppContext`, `shared.errors.map_exceptions` and `shared.secrets`."""

from __future__ import annotations

import base64
import logging
import threading
import time

import pytest
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ServiceRequestError,
)
from azure.servicebus.exceptions import MessageSizeExceededError, ServiceBusConnectionError
from pydantic import SecretStr

from shared.errors import (
    SERVICE_BUS_ERRORS,
    TABLE_ERRORS,
    EntityExists,
    ETagMismatch,
    Misconfigured,
    PublishRejected,
    QueueUnavailable,
    StorageRejected,
    StorageUnavailable,
    map_exceptions,
)
from shared.publisher import InMemoryPublisher
from shared.runtime import AppContext, get_context, lazy, set_context
from shared.secrets import check_secret, check_secrets, check_webhook_secrets
from shared.settings import Settings, SettingsError
from shared.tablestore import InMemoryTableStore

GOOD = "whsec_" + base64.b64encode(b"k" * 24).decode()


class _Response:
    def __init__(self, status: int) -> None:
        self.status_code = status
        self.reason = "Reason"
        self.headers: dict[str, str] = {}

    def text(self) -> str:
        return ""


def _http_error(status: int) -> HttpResponseError:
    return HttpResponseError(message="boom", response=_Response(status))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (ResourceExistsError("exists"), EntityExists),  # beats its base HttpResponseError
        (ServiceRequestError("refused"), StorageUnavailable),
        (_http_error(412), ETagMismatch),
        (_http_error(503), StorageUnavailable),
        (_http_error(400), StorageRejected),
    ],
)
def test_table_errors_map_to_the_project_types(raised: Exception, expected: type) -> None:
    with pytest.raises(expected) as caught, map_exceptions(TABLE_ERRORS):
        raise raised
    assert caught.value.__cause__ is raised


def test_service_bus_errors_map_to_rejected_or_unavailable() -> None:
    with pytest.raises(PublishRejected), map_exceptions(SERVICE_BUS_ERRORS):
        raise MessageSizeExceededError(message="too big")
    with pytest.raises(QueueUnavailable), map_exceptions(SERVICE_BUS_ERRORS):
        raise ServiceBusConnectionError(message="reset")
    with pytest.raises(QueueUnavailable), map_exceptions(SERVICE_BUS_ERRORS):
        raise ConnectionRefusedError("refused")


def test_unmapped_errors_pass_through_unchanged() -> None:
    with pytest.raises(KeyError), map_exceptions(TABLE_ERRORS):
        raise KeyError("not an SDK error")


@pytest.mark.parametrize(
    "value",
    ["", "   ", "##WEBHOOK_SECRET##", "changeme", "CHANGE_ME", "<secret>", "${TOKEN}",
     "@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/s/)",
     "@Microsoft.KeyVault(VaultName=v;SecretName=s)"],
)  # fmt: skip
def test_unusable_secrets_are_refused_without_echoing_them(value: str) -> None:
    with pytest.raises(SettingsError, match=r"^AUTH0_CLIENT_SECRET ") as caught:
        check_secret("AUTH0_CLIENT_SECRET", value)
    assert value.strip() == "" or value not in str(caught.value)


def test_an_optional_secret_may_be_empty_but_not_a_placeholder() -> None:
    assert check_secret("LOCALDEV_FUNCTION_KEY", "", required=False) == ""
    with pytest.raises(SettingsError):
        check_secret("LOCALDEV_FUNCTION_KEY", "##KEY##", required=False)
    assert check_secrets("AUTH0_EVENTS_TOKEN", " tok-one  tok-two ") == ["tok-one", "tok-two"]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("whsec_" + base64.b64encode(b"k" * 16).decode(), "at least 24"),
        ("whsec_" + base64.b64encode(b"k" * 24).decode() + "!", "not valid base64"),
        (GOOD + " " + GOOD.removeprefix("whsec_"), "must start with whsec_"),  # 2nd: no prefix
        (base64.b64encode(b"k" * 32).decode(), "must start with whsec_"),
        ("@Microsoft.KeyVault(SecretUri=x)", "Key Vault"),
    ],
)
def test_webhook_secrets_need_whsec_strict_base64_of_24_bytes(value: str, reason: str) -> None:
    with pytest.raises(SettingsError, match=reason):
        check_webhook_secrets(value)


def test_webhook_secrets_accept_a_rotation_pair() -> None:
    other = "whsec_" + base64.b64encode(b"o" * 32).decode()
    assert check_webhook_secrets(f"{GOOD} {other}") == [GOOD, other]


def test_a_bad_webhook_secret_is_logged_once_and_refuses_every_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="runtime")
    context = AppContext(Settings(WEBHOOK_SECRET=SecretStr("@Microsoft.KeyVault(SecretUri=x)")))
    for _ in range(3):
        with pytest.raises(Misconfigured):
            context.webhook_verifier.verify("{}", {})
    assert len(caplog.records) == 1
    assert "WEBHOOK_SECRET" in caplog.text
    assert "KeyVault(" not in caplog.text


def test_the_context_builds_each_part_once_even_under_concurrency() -> None:
    built: list[int] = []

    class Counting(AppContext):
        @lazy
        def thing(self) -> object:
            built.append(1)
            time.sleep(0.01)  # a window for a second builder, were there no lock
            return object()

    context = Counting(Settings())
    seen: list[object] = []
    threads = [threading.Thread(target=lambda: seen.append(context.thing)) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1
    assert len({id(thing) for thing in seen}) == 1


def test_parts_can_be_replaced_before_use() -> None:
    context = AppContext(Settings())
    publisher = InMemoryPublisher()
    context.publisher = publisher
    store = InMemoryTableStore()
    context.set_table_store("registrations", store)
    assert context.publisher is publisher
    assert context.table_store("registrations") is store
    assert context.registration_writer is context.registration_writer


def test_get_context_is_the_process_singleton_until_replaced() -> None:
    mine = AppContext(Settings())
    set_context(mine)
    try:
        assert get_context() is mine
    finally:
        set_context(None)
    assert get_context() is not mine
    set_context(None)


def test_a_missing_connection_fails_the_call_not_the_context() -> None:
    context = AppContext(Settings())
    with pytest.raises(SettingsError, match="ServiceBusConnection"):
        _ = context.publisher


def test_the_tables_session_skips_environment_lookups_unless_a_proxy_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shared.clients import table_transport

    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
    ):
        monkeypatch.delenv(name, raising=False)  # fmt: skip
    plain = table_transport()
    assert plain.session.trust_env is False
    assert plain.connection_config.verify is True
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/corp-ca.pem")
    assert table_transport().connection_config.verify == "/etc/corp-ca.pem"  # still honoured
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert table_transport().session.trust_env is True
