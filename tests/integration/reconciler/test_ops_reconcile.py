"""`python -m ops reconcile` against the stand-in, Azurite and the Service Bus emulator."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from azure.servicebus import ServiceBusClient

from ops.cli.app import main
from tests.integration.auth0.standin import HOUR, running_standin, seed_users, standin_settings

pytestmark = pytest.mark.timeout(180)
QUEUE = "reconcileq"


@pytest.fixture
def environment(monkeypatch, tmp_path, app_values):
    """Point the CLI at fresh tables and a fresh emulator; yields (settings file, connection)."""
    values = app_values(QUEUE)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings_file = tmp_path / "local.settings.json"
    settings_file.write_text('{"Values": {}}', encoding="utf-8")
    return settings_file, values["ServiceBusConnection"]


def _use_standin(monkeypatch, server) -> None:
    settings = standin_settings(server)
    for name in ("AUTH0_DOMAIN", "AUTH0_CLIENT_ID", "AUTH0_TENANT_ID", "AUTH0_BASE_URL"):
        monkeypatch.setenv(name, str(settings.model_dump(by_alias=True)[name]))
    monkeypatch.setenv("AUTH0_CLIENT_SECRET", settings.auth0_client_secret.get_secret_value())


def _queued_ids(connection: str) -> list[str]:
    with (
        ServiceBusClient.from_connection_string(connection) as client,
        client.get_queue_receiver(QUEUE) as receiver,
    ):
        return [str(m.message_id) for m in receiver.peek_messages(max_message_count=1000)]


@pytest.mark.parametrize(
    ("since", "until", "words"),
    [
        ("yesterday", "2026-11-26", "invalid timestamp"),
        ("2026-11-26T04:00:00Z", "2026-11-26T03:00:00Z", "earlier than --until"),
    ],
)
def test_bad_range_is_one_line_and_exit_2(capsys, since, until, words):
    code = main(["reconcile", "--since", since, "--until", until])
    err = capsys.readouterr().err
    assert code == 2
    assert words in err
    assert err.count("\n") == 1


def test_dry_run_then_real_run_then_again_enqueues_each_user_once(monkeypatch, capsys, environment):
    settings_file, connection = environment
    with running_standin() as server:
        users = seed_users(server, 150, HOUR, timedelta(minutes=20))
        _use_standin(monkeypatch, server)
        args = ["--settings", str(settings_file), "reconcile", "--json",
                "--since", "2026-11-26T03:00:00Z", "--until", "2026-11-26T04:00:00Z"]  # fmt: skip

        assert main([*args, "--dry-run"]) == 0
        dry = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert (dry["scanned"], dry["would_enqueue"], dry["enqueued"]) == (150, 150, 0)
        assert _queued_ids(connection) == []  # --dry-run changed nothing

        assert main(args) == 0
        first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert (first["scanned"], first["already_stored"], first["enqueued"]) == (150, 0, 150)
        assert all(isinstance(first[key], int) for key in ("scanned", "already_stored", "enqueued"))

        assert main(args) == 0  # nothing processed yet: enqueued again, dropped by the broker
        queued = _queued_ids(connection)
        assert len(queued) == len(set(queued)) == len(users)
