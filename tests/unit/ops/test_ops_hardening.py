"""Regression tests for what hostile data or a careless command could do through ops."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ops.audit.record import AuditEntry, AuditTrail, entry_from_entity
from ops.audit.who import entra_operator, local_operator, principal, token_claims
from ops.cli import app as cli
from ops.errors import OpsError, UsageProblem
from ops.ingest_client import HttpEventPoster, synthetic_event
from ops.registrations import export
from processor.deletions import audit_entity
from shared.erasure import ErasureResult, UserDeletion
from shared.errors import StorageUnavailable
from shared.registrations import Registration
from tests.unit.ops.local_http import RecordingHandler, serving
from tests.unit.ops.ops_fakes import START, failure, letter
from tests.unit.ops.test_ops_cli import FakeWiring, run

pytestmark = pytest.mark.usefixtures("fake_wiring")


@pytest.fixture
def fake_wiring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "Wiring", FakeWiring)


def registration(**fields: Any) -> Registration:
    values: dict[str, Any] = {
        "tenant_id": "acme",
        "user_id": "auth0|1",
        "created_at": START,
        "message_id": "reg_1",
        "correlation_id": "c",
        "received_at": START,
        "processed_at": START,
        "schema_version": 1,
        "payload_hash": "h",
        "delivery_count": 1,
    }
    return Registration(**(values | fields))


# ---- CSV injection ----------------------------------------------------------


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised() -> None:
    hostile = registration(
        name='=HYPERLINK("https://evil.example","x")',
        nickname="+1+1",
        given_name="-2",
        family_name="@SUM(A1)",
        username="\tcmd",
        picture="\rcmd",
        email="ana@example.com",
    )
    out = io.StringIO()
    export([hostile], "csv", out)
    [row] = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert row["name"] == '\'=HYPERLINK("https://evil.example","x")'
    assert row["nickname"] == "'+1+1"
    assert row["given_name"] == "'-2"
    assert row["family_name"] == "'@SUM(A1)"
    assert row["username"] == "'\tcmd"
    assert row["picture"] == "'\rcmd"
    assert row["email"] == "ana@example.com"  # an inner @ is harmless


# ---- markup injection -------------------------------------------------------


def _hostile_letter(nickname: str) -> Any:
    body = json.dumps(
        {"type": "user.registered", "tenant": {"id": "acme"}, "user": {"user_id": nickname}}
    )
    return letter(4, body=body.encode(), dead_letter_reason=nickname)


@pytest.mark.parametrize("nickname", ["[/]", "[link=https://evil.example]click[/link]", "[bold]"])
def test_human_output_prints_data_as_typed_never_as_markup(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, nickname: str
) -> None:
    def hostile(*args: Any, **kwargs: Any) -> FakeWiring:
        wiring = FakeWiring(*args, **kwargs)
        wiring.dead_letter_queue.add(_hostile_letter(nickname))
        return wiring

    monkeypatch.setattr(cli, "Wiring", hostile)
    code, out, err = run(capsys, "dlq", "show", "4")
    assert code == 0, err
    assert nickname in out.replace("\n", "")
    code, out, err = run(capsys, "dlq", "list")
    assert code == 0, err
    assert "\x1b]8;" not in out  # no terminal hyperlink escape


# ---- ops HTTP clients -------------------------------------------------------


class _Redirecting(RecordingHandler):
    """Redirects every POST to `redirect_to` when one is set, else accepts it."""

    redirect_to = ""

    def do_POST(self) -> None:
        self.record()
        if self.redirect_to:
            self.answer(307, headers={"Location": self.redirect_to})
        else:
            self.answer(202)


def test_a_redirect_is_an_error_naming_the_host_and_the_key_goes_nowhere() -> None:
    with serving(_Redirecting) as (target_port, target):
        steal = f"http://localhost:{target_port}/steal"
        with serving(_Redirecting, redirect_to=steal) as (port, handler):
            url = f"http://127.0.0.1:{port}/api/registrations"
            poster = HttpEventPoster(url, "whsec_" + "A" * 32, "the-function-key")
            with pytest.raises(OpsError, match="307 redirecting to host localhost"):
                poster.post(synthetic_event("t", "auth0|1"))
    assert handler.seen[0]["x-functions-key"] == "the-function-key"
    assert target.seen == []


@pytest.mark.parametrize(
    "url",
    ["http://example.com/api/registrations", "http://10.0.0.1/api", "ftp://127.0.0.1/x", "x"],
)
def test_plain_http_is_refused_for_hosts_that_are_not_loopback(url: str) -> None:
    with pytest.raises(UsageProblem, match="use https"):
        HttpEventPoster(url, "whsec_x", "key")


@pytest.mark.parametrize(
    "url",
    [
        "https://func.example.net/api/registrations",
        "http://127.0.0.1:7071/api/registrations",
        "http://127.8.9.10/api",
        "http://[::1]:7071/api",
        "http://localhost:7071/api",
    ],
)
def test_https_anywhere_and_plain_http_on_loopback_are_accepted(url: str) -> None:
    assert HttpEventPoster(url, "whsec_x", "key").url == url


# ---- exports: 0600, no silent overwrite -------------------------------------


@pytest.mark.parametrize(
    "command", [("registrations", "export", "--format", "csv"), ("dlq", "export")]
)
def test_exports_are_private_and_never_overwrite_without_force(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: tuple[str, ...]
) -> None:
    previous = os.umask(0)  # a permissive umask must not make the export readable by others
    try:
        out = tmp_path / "export.out"
        code, _, err = run(capsys, *command, "--out", str(out))
        assert code == 0, err
        assert stat.S_IMODE(out.stat().st_mode) == 0o600

        out.write_text("precious", encoding="utf-8")
        out.chmod(0o644)
        code, _, err = run(capsys, *command, "--out", str(out))
        assert code == 2
        assert err.count("\n") == 1
        assert "--force" in err
        assert out.read_text(encoding="utf-8") == "precious"

        code, _, err = run(capsys, *command, "--out", str(out), "--force")
        assert code == 0, err
        assert out.read_text(encoding="utf-8") != "precious"
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
    finally:
        os.umask(previous)


# ---- failure records follow their message -----------------------------------


@pytest.mark.parametrize(
    "command", [("purge", "--seq", "2", "--yes"), ("replay", "--seq", "2", "--yes")]
)
def test_purge_and_replay_delete_the_failure_records_of_their_messages(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    def with_failures(*args: Any, **kwargs: Any) -> FakeWiring:
        wiring = FakeWiring(*args, **kwargs)
        for number in (2, 3):
            wiring.app.failure_log.record(
                failure(letter(number).message_id or "", "StorageUnavailable", "503")
            )
        return wiring

    monkeypatch.setattr(cli, "Wiring", with_failures)
    code, _, err = run(capsys, "dlq", *command)
    assert code == 0, err
    failures = FakeWiring.instance.app.failure_log
    assert failures.get(letter(2).message_id or "") is None
    assert failures.get(letter(3).message_id or "") is not None  # not selected: kept


# ---- nothing unaudited ------------------------------------------------------


class UnwritableAuditStore:
    def save(self, entry: AuditEntry) -> None:
        raise OpsError("Table Storage unreachable (opsaudit): connection refused")

    def add_items(self, *args: Any) -> None:
        raise AssertionError("never reached")

    def recent(self, limit: int) -> list[AuditEntry]:
        return []


@pytest.mark.parametrize("action", ["replay", "purge"])
def test_a_change_whose_audit_record_cannot_be_written_does_not_start(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, action: str
) -> None:
    def unaudited(*args: Any, **kwargs: Any) -> FakeWiring:
        wiring = FakeWiring(*args, **kwargs)
        wiring.audit = AuditTrail(UnwritableAuditStore(), wiring.operator)
        return wiring

    monkeypatch.setattr(cli, "Wiring", unaudited)
    code, _out, err = run(capsys, "dlq", action, "--all", "--yes")
    assert code == 1
    assert err.startswith("error: nothing was changed: the audit record cannot be written")
    assert err.count("\n") == 1
    queue = FakeWiring.instance.dead_letter_queue
    assert sorted(queue.letters) == [1, 2, 3]
    assert queue.main_queue == []


# ---- audit: who, and the app's own rows -------------------------------------


def jwt(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        raw = json.dumps(value).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


class TokenOf:
    """A TokenSource (ops' own protocol) handing out one token."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.scopes: tuple[str, ...] = ()

    def get_token(self, *scopes: str) -> Any:
        self.scopes = scopes
        return self


def test_the_operator_in_azure_is_the_principal_the_storage_token_names() -> None:
    person = TokenOf(jwt({"oid": "1111-2222", "upn": "ana@contoso.example", "appid": "az-cli"}))
    assert entra_operator(person) == "entra:ana@contoso.example oid=1111-2222"
    assert person.scopes == ("https://storage.azure.com/.default",)
    robot = TokenOf(jwt({"oid": "3333", "appid": "0000-app"}))
    assert entra_operator(robot, "nightly") == "entra:0000-app oid=3333 (declared: nightly)"
    assert principal(token_claims(jwt({"oid": "4444"}))) == "entra:4444 oid=4444"
    with pytest.raises(OpsError, match="names no principal"):
        principal(token_claims(jwt({"aud": "storage"})))
    with pytest.raises(OpsError, match="not a JWT"):
        token_claims("opaque-token")


def test_the_operator_with_a_connection_string_is_marked_self_declared() -> None:
    assert local_operator("ana") == "local:ana"
    assert local_operator().startswith("local:")
    assert "@" in local_operator()


def test_audit_list_shows_the_apps_own_erasures_beside_the_operators_rows(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def with_erasure(*args: Any, **kwargs: Any) -> FakeWiring:
        wiring = FakeWiring(*args, **kwargs)
        # the app's row, as the processor writes it after erasing a user
        deleted_at = datetime(2026, 11, 27, tzinfo=UTC)
        deletion = UserDeletion.of("acme", "auth0|gone", deleted_at, "event-stream")
        erasure = audit_entity(deletion, "del_1", ErasureResult(deleted_at, entities=1), deleted_at)
        wiring.app_audit.save(entry_from_entity(erasure))
        wiring.audit.begin("purge", "registrations", "all", 0)
        return wiring

    monkeypatch.setattr(cli, "Wiring", with_erasure)
    code, out, err = run(capsys, "audit", "list", "--json")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["action"], r["operator"]) for r in rows] == [
        ("purge", "tester@host"),
        ("erase", "app:processor"),
    ]
    assert "auth0|gone" not in out


# ---- degrade, don't fail ----------------------------------------------------


class DownFailureLog:
    def get(self, message_id: str) -> None:
        raise StorageUnavailable("ServiceRequestError: Connection refused")

    def clear(self, message_id: str) -> None:
        raise StorageUnavailable("ServiceRequestError: Connection refused")


@pytest.fixture
def tables_down(fake_wiring: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def wiring(*args: Any, **kwargs: Any) -> FakeWiring:
        made = FakeWiring(*args, **kwargs)
        made.app.failure_log = DownFailureLog()  # type: ignore[assignment]
        return made

    monkeypatch.setattr(cli, "Wiring", wiring)


@pytest.mark.usefixtures("tables_down")
def test_dlq_reads_show_the_brokers_reason_and_mark_the_recorded_error_unavailable(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, "dlq", "list", "--json")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["dead_letter_reason"] for r in rows] == ["MaxDeliveryCountExceeded"] * 3
    assert all(r["last_error"] is None and r["last_error_unavailable"] for r in rows)

    code, out, err = run(capsys, "dlq", "list")
    assert code == 0, err
    assert "unavailable" in out

    code, out, err = run(capsys, "dlq", "show", "2", "--json")
    assert code == 0, err
    assert json.loads(out)["last_error_unavailable"] is True

    code, out, err = run(capsys, "dlq", "export", "--out", str(tmp_path / "dlq.jsonl"))
    assert code == 0, err
    assert len((tmp_path / "dlq.jsonl").read_text().splitlines()) == 3


@pytest.mark.usefixtures("tables_down")
def test_filtering_on_an_unreadable_error_refuses_rather_than_guess(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(capsys, "dlq", "list", "--error", "storage")
    assert code == 1
    assert "cannot be read" in err
