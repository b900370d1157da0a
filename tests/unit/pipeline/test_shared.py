"""Settings, signing, retry policy, structured logs, failure records."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.errors import SignatureError, StorageUnavailable
from shared.failures import FailureLog, ProcessingFailure
from shared.log import log_outcome
from shared.retries import INGEST_PUBLISH_RETRY, PROCESSOR_TABLE_RETRY, RetryPolicy
from shared.settings import Settings, SettingsError, load_settings
from shared.signing import SignatureVerifier, signed_headers
from shared.tablestore import InMemoryTableStore
from tests.unit.pipeline.conftest import OTHER_SECRET, SECRET


def write_local_settings(path: Path, values: dict) -> Path:
    path.write_text(json.dumps({"IsEncrypted": False, "Values": values}))
    return path


def test_environment_wins_over_local_settings(tmp_path, monkeypatch) -> None:
    path = write_local_settings(
        tmp_path / "local.settings.json",
        {
            "REGISTRATIONS_QUEUE": "from-file",
            "REGISTRATIONS_TABLE": "filetable",
            "WEBHOOK_SECRET": f"{SECRET} {OTHER_SECRET}",
            "Unrelated": "x",
        },
    )
    monkeypatch.setenv("REGISTRATIONS_QUEUE", "from-env")
    monkeypatch.delenv("REGISTRATIONS_TABLE", raising=False)
    monkeypatch.delenv("WEBHOOK_SECRET", raising=False)
    settings = load_settings(path)
    assert settings.registrations_queue == "from-env"
    assert settings.registrations_table == "filetable"
    assert settings.webhook_secrets == [SECRET, OTHER_SECRET]
    assert settings.failures_table == "registrationfailures"
    assert settings.audit_table == "opsaudit"


def test_identity_settings_are_read(monkeypatch) -> None:
    monkeypatch.setenv("ServiceBusConnection__fullyQualifiedNamespace", "ns.servicebus.windows.net")
    monkeypatch.setenv("TablesConnection__tableServiceUri", "https://acct.table.core.windows.net")
    monkeypatch.setenv("TablesConnection__clientId", "00000000-0000-0000-0000-000000000001")
    settings = load_settings()
    settings.require_service_bus()
    settings.require_tables()
    assert settings.tables_client_id == "00000000-0000-0000-0000-000000000001"


def test_missing_connections_are_clear_errors() -> None:
    with pytest.raises(SettingsError, match="TablesConnection"):
        Settings.model_validate({}).require_tables()


def test_malformed_local_settings_is_a_settings_error(tmp_path) -> None:
    path = tmp_path / "local.settings.json"
    path.write_text("{oops")
    with pytest.raises(SettingsError, match="cannot read"):
        load_settings(path)
    assert load_settings(tmp_path / "absent.json").registrations_queue


def test_example_settings_parse() -> None:
    settings = load_settings(Path("local.settings.example.json"))
    assert "127.0.0.1:10002" in (settings.tables_connection or "")
    assert "UseDevelopmentEmulator=true" in (settings.service_bus_connection or "")


def test_signature_round_trip_and_rotation() -> None:
    headers = signed_headers('{"a":1}', SECRET, "msg_1")
    SignatureVerifier([SECRET]).verify('{"a":1}', headers)
    SignatureVerifier([OTHER_SECRET, SECRET]).verify('{"a":1}', headers)
    with pytest.raises(SignatureError):
        SignatureVerifier([OTHER_SECRET]).verify('{"a":1}', headers)
    old = signed_headers("{}", SECRET, "m", datetime(2020, 1, 1, tzinfo=UTC))
    with pytest.raises(SignatureError, match="too old"):
        SignatureVerifier([SECRET]).verify("{}", old)


@pytest.mark.parametrize("secrets", [[], ["whsec_!!!"]])
def test_bad_secret_configuration_is_a_settings_error(secrets) -> None:
    with pytest.raises(SettingsError):
        SignatureVerifier(secrets)


def test_retry_policy_retries_only_transient_errors_and_is_bounded() -> None:
    sleeps: list[float] = []
    calls = []

    def flaky():
        calls.append(1)
        raise StorageUnavailable("503")

    with pytest.raises(StorageUnavailable):
        PROCESSOR_TABLE_RETRY.retrying(sleep=sleeps.append)(flaky)
    assert len(calls) == PROCESSOR_TABLE_RETRY.max_attempts
    assert all(s <= PROCESSOR_TABLE_RETRY.max_delay + PROCESSOR_TABLE_RETRY.jitter for s in sleeps)
    assert sum(sleeps) <= PROCESSOR_TABLE_RETRY.worst_case_waiting()

    def not_retried() -> int:
        calls.append(1)
        return int("x")  # ValueError: not a TransientError

    calls.clear()
    with pytest.raises(ValueError):
        PROCESSOR_TABLE_RETRY.retrying(sleep=sleeps.append)(not_retried)
    assert len(calls) == 1


def test_documented_bounds() -> None:
    # docs/pipeline.md quotes these numbers.
    assert PROCESSOR_TABLE_RETRY.worst_case_waiting() == pytest.approx(9.5)
    assert INGEST_PUBLISH_RETRY.worst_case_waiting() == pytest.approx(1.0)
    assert PROCESSOR_TABLE_RETRY.total_budget + 10 < 60  # + one read timeout, inside the lock


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy("p", 10, initial_delay=1, max_delay=4, jitter=0, total_budget=100)
    assert [policy.compute_backoff(n) for n in range(1, 6)] == [1, 2, 4, 4, 4]


def test_log_outcome_writes_json_and_refuses_personal_fields(caplog) -> None:
    logger = logging.getLogger("test.pipeline")
    caplog.set_level("INFO", logger="test.pipeline")
    log_outcome(logger, "x", message_id="m", outcome="created", duration_ms=1.5)
    assert json.loads(caplog.records[-1].getMessage()) == {
        "event": "x",
        "message_id": "m",
        "outcome": "created",
        "duration_ms": 1.5,
    }
    with pytest.raises(ValueError, match="personal data"):
        log_outcome(logger, "x", email="ana@example.com")


def test_failure_log_round_trip() -> None:
    log = FailureLog(InMemoryTableStore())
    failure = ProcessingFailure(
        message_id="reg_1",
        user_id="samlp|acme|jdoe",
        tenant_id="acme",
        delivery_count=4,
        error_type="InvalidEvent",
        error_message="user.created_at: is required",
        permanent=True,
        correlation_id="c1",
        failed_at=datetime(2026, 11, 26, 3, tzinfo=UTC),
    )
    log.record(failure)
    assert log.get("reg_1") == failure
    assert list(log.iter_all()) == [failure]
    log.record(failure.model_copy(update={"delivery_count": 5}))
    updated = log.get("reg_1")
    assert updated is not None
    assert updated.delivery_count == 5
    log.clear("reg_1")
    assert log.get("reg_1") is None
