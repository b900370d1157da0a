"""The stack launcher's plain parts: first-run settings, port rewriting, the printed command."""

import base64
import json
import stat

import pytest

from localdev.ports import free_ports
from localdev.servicebus.process import connection_string as emulator_connection_string
from localdev.settings_file import (
    SettingsFileError,
    ensure_local_settings,
    new_webhook_secret,
    write_ops_settings,
)
from localdev.stack import LocalStack, StackConfig, StackError
from localdev.up import parse_args


@pytest.fixture
def example(tmp_path):
    path = tmp_path / "local.settings.example.json"
    path.write_text(
        json.dumps({"IsEncrypted": False, "Values": {"WEBHOOK_SECRET": "", "OTHER": "x"}})
    )
    return path


def test_webhook_secret_is_whsec_and_32_random_bytes():
    secret = new_webhook_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert new_webhook_secret() != secret


def test_first_run_creates_private_settings_with_fresh_secrets(tmp_path, example):
    settings = tmp_path / "local.settings.json"
    update = ensure_local_settings(settings, example, auth0_port=4010)
    assert (update.created, update.added) == (True, [])
    values = json.loads(settings.read_text())["Values"]
    assert values["OTHER"] == "x"
    assert values["WEBHOOK_SECRET"].startswith("whsec_")
    assert len(values["LOCALDEV_FUNCTION_KEY"]) >= 40
    # The Auth0 stand-in's wiring: generated credentials, its URL, the local tenant
    assert values["AUTH0_BASE_URL"] == "http://127.0.0.1:4010"
    assert values["AUTH0_DOMAIN"] == "localdev.auth0.invalid"
    assert values["AUTH0_TENANT_ID"] == "local-dev"
    assert values["AUTH0_CLIENT_ID"].startswith("localdev-")
    assert len(values["AUTH0_CLIENT_SECRET"]) >= 40
    assert len(values["AUTH0_EVENTS_TOKEN"]) >= 32
    assert values["SEND_FIELDS"] == "none"
    assert values["LOCALDEV_TRACE_FILE"] == ".localdev/traces/spans.jsonl"
    assert stat.S_IMODE(settings.stat().st_mode) == 0o600
    # Secrets are fresh per file
    other = tmp_path / "other.json"
    ensure_local_settings(other, example)
    others = json.loads(other.read_text())["Values"]
    for key in ("WEBHOOK_SECRET", "AUTH0_CLIENT_SECRET", "AUTH0_EVENTS_TOKEN", "AUTH0_CLIENT_ID"):
        assert others[key] != values[key]


def test_existing_settings_gain_missing_keys_and_keep_their_own(tmp_path, example):
    # Given a file from an older checkout: its own secret, an empty key, no Auth0 keys
    settings = tmp_path / "local.settings.json"
    settings.write_text('{"IsEncrypted": false, "Values": {"WEBHOOK_SECRET": "mine", "OTHER": ""}}')
    # When the stack starts
    update = ensure_local_settings(settings, example)
    # Then the missing keys are added and named, and what was there is untouched
    values = json.loads(settings.read_text())["Values"]
    assert update.created is False
    assert set(update.added) == {
        "LOCALDEV_FUNCTION_KEY",
        "AUTH0_DOMAIN",
        "AUTH0_CLIENT_ID",
        "AUTH0_CLIENT_SECRET",
        "AUTH0_TENANT_ID",
        "AUTH0_BASE_URL",
        "AUTH0_EVENTS_TOKEN",
        "SEND_FIELDS",
        "LOCALDEV_TRACE_FILE",
        "SERVICEBUS_ADMIN_ENDPOINT",
        "SERVICEBUS_ADMIN_CA_BUNDLE",
    }
    assert (values["WEBHOOK_SECRET"], values["OTHER"]) == ("mine", "")
    # ops status reads the counts from the emulator's management API, trusting its own CA
    assert values["SERVICEBUS_ADMIN_ENDPOINT"] == "localhost:5300"
    assert values["SERVICEBUS_ADMIN_CA_BUNDLE"] == ".localdev/servicebus-admin/ca.pem"
    assert len(values["AUTH0_CLIENT_SECRET"]) >= 40
    assert stat.S_IMODE(settings.stat().st_mode) == 0o600
    # And a second run adds nothing and rewrites nothing
    before = settings.read_text()
    assert ensure_local_settings(settings, example).added == []
    assert settings.read_text() == before


def test_unreadable_settings_are_a_clear_error(tmp_path, example):
    settings = tmp_path / "local.settings.json"
    settings.write_text("{not json")
    with pytest.raises(SettingsFileError, match="not readable JSON"):
        ensure_local_settings(settings, example)
    assert settings.read_text() == "{not json"


def test_missing_example_is_a_clear_error(tmp_path):
    with pytest.raises(SettingsFileError, match="example"):
        ensure_local_settings(tmp_path / "a.json", tmp_path / "missing.example.json")


def test_the_project_example_holds_every_local_key():
    from localdev.processes import ROOT

    values = json.loads((ROOT / "local.settings.example.json").read_text())["Values"]
    for key in ("AUTH0_BASE_URL", "AUTH0_TENANT_ID", "SEND_FIELDS", "LOCALDEV_TRACE_FILE"):
        assert values[key]
    # The local host enforces the same body limit as the deployment (Bicep's parameter)
    assert int(values["FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"]) >= 64 * 1024


def test_default_ports_pass_the_file_through(tmp_path):
    stack = LocalStack(StackConfig(settings_path=tmp_path / "s.json"))
    assert stack.endpoint_overrides() == {}
    command = stack.emulator.command()
    assert command[command.index("--admin-port") + 1] == "5300"


def test_admin_settings_a_user_set_are_kept(tmp_path, example):
    settings = tmp_path / "local.settings.json"
    mine = {"SERVICEBUS_ADMIN_ENDPOINT": "sb-prod.example:443", "SERVICEBUS_ADMIN_CA_BUNDLE": ""}
    settings.write_text(json.dumps({"Values": mine}))
    update = ensure_local_settings(settings, example)
    values = json.loads(settings.read_text())["Values"]
    assert "SERVICEBUS_ADMIN_ENDPOINT" not in update.added
    assert {key: values[key] for key in mine} == mine


def test_the_management_api_runs_on_the_stack_s_port_with_its_own_ca(tmp_path):
    # Given a stack on another management port and its own data dir
    config = StackConfig(
        data_dir=tmp_path, settings_path=tmp_path / "s.json", servicebus_admin_port=15300
    )
    stack = LocalStack(config)
    # Then the emulator serves it there, with the CA in the data dir, and ops is told so
    command = stack.emulator.command()
    assert command[command.index("--admin-port") + 1] == "15300"
    assert command[command.index("--admin-cert-dir") + 1] == str(tmp_path / "servicebus-admin")
    overrides = stack.endpoint_overrides()
    assert overrides["SERVICEBUS_ADMIN_ENDPOINT"] == "localhost:15300"
    assert overrides["SERVICEBUS_ADMIN_CA_BUNDLE"] == str(tmp_path / "servicebus-admin/ca.pem")
    assert "Service Bus management API" in config.ports
    assert parse_args(["--servicebus-admin-port", "15300"]).servicebus_admin_port == 15300


def test_isolated_stacks_pick_every_port_free_and_distinct(tmp_path):
    config = StackConfig.isolated(tmp_path)
    ports = list(config.ports.values())
    assert len(set(ports)) == len(ports) == 7
    assert config.servicebus_admin_port != 5300


def test_other_ports_give_ops_a_settings_copy_and_leave_the_file_alone(tmp_path):
    settings = tmp_path / "local.settings.json"
    settings.write_text(json.dumps({"Values": {"ServiceBusConnection": "file", "X": "mine"}}))
    target = tmp_path / "data" / "ops.settings.json"
    # With other ports: a private copy with this stack's endpoints
    written = write_ops_settings(settings, target, {"ServiceBusConnection": "here"})
    assert written == target
    assert json.loads(target.read_text())["Values"] == {"ServiceBusConnection": "here", "X": "mine"}
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert json.loads(settings.read_text())["Values"]["ServiceBusConnection"] == "file"
    # Back on the defaults: the stale copy goes
    assert write_ops_settings(settings, target, {}) is None
    assert not target.exists()


def test_other_ports_rewrite_the_endpoints_for_the_children(tmp_path):
    settings = tmp_path / "s.json"
    settings.write_text(
        json.dumps({"Values": {"ServiceBusConnection": "file", "LOCALDEV_FUNCTION_KEY": "k"}})
    )
    config = StackConfig(
        host_port=17071,
        servicebus_port=15672,
        azurite_ports=(20000, 20001, 20002),
        data_dir=tmp_path,
        settings_path=settings,
    )
    stack = LocalStack(config)
    overrides = stack.endpoint_overrides()
    assert overrides["ServiceBusConnection"] == emulator_connection_string(15672)
    assert "localhost:15672" in overrides["ServiceBusConnection"]
    assert "TableEndpoint=http://127.0.0.1:20002/" in overrides["TablesConnection"]
    assert "BlobEndpoint=http://127.0.0.1:20000/" in overrides["AzureWebJobsStorage"]
    assert stack.effective_settings()["ServiceBusConnection"] == overrides["ServiceBusConnection"]
    assert json.loads(settings.read_text())["Values"]["ServiceBusConnection"] == "file"
    assert stack.ingest_url == "http://127.0.0.1:17071/api/registrations"


def test_another_auth0_port_points_the_app_at_it_only_if_it_used_the_stand_in(tmp_path):
    settings = tmp_path / "s.json"
    settings.write_text(json.dumps({"Values": {"AUTH0_BASE_URL": "http://127.0.0.1:4010"}}))
    config = StackConfig(data_dir=tmp_path, settings_path=settings, auth0_port=14010)
    assert LocalStack(config).endpoint_overrides()["AUTH0_BASE_URL"] == "http://127.0.0.1:14010"
    # A file pointing at a real tenant is left alone
    settings.write_text(json.dumps({"Values": {"AUTH0_BASE_URL": ""}}))
    assert "AUTH0_BASE_URL" not in LocalStack(config).endpoint_overrides()
    assert parse_args(["--auth0-port", "14010"]).auth0_port == 14010


def test_parse_args_reads_the_three_azurite_ports(tmp_path):
    config = parse_args(
        ["--azurite-ports", "1,2,3", "--host-port", "9", "--data-dir", str(tmp_path)]
    )
    assert config.azurite_ports == (1, 2, 3)
    assert config.host_port == 9
    with pytest.raises(SystemExit):
        parse_args(["--azurite-ports", "1,2"])


def test_the_emulator_gets_the_stack_s_queue_config(tmp_path):
    config_path = tmp_path / "servicebus-config.json"
    stack = LocalStack(
        StackConfig(
            data_dir=tmp_path, settings_path=tmp_path / "s.json", servicebus_config=config_path
        )
    )
    command = stack.emulator.command()
    assert command[command.index("--config") + 1] == str(config_path)
    default = LocalStack(StackConfig(data_dir=tmp_path, settings_path=tmp_path / "s.json"))
    assert "--config" not in default.emulator.command()  # the emulator's own config.json


def test_one_port_for_two_parts_is_refused_before_anything_starts(tmp_path):
    # Given the emulator asked for Azurite's table port
    emulator, blob, queue = free_ports(3)
    config = StackConfig(
        data_dir=tmp_path,
        settings_path=tmp_path / "s.json",
        servicebus_port=emulator,
        azurite_ports=(blob, queue, emulator),
    )
    # Then the stack names both parts instead of letting them race for the port
    with pytest.raises(StackError, match="one port for two parts"):
        LocalStack(config).check_ports()


def test_free_ports_are_distinct():
    ports = free_ports(50)
    assert len(set(ports)) == 50


def test_a_generated_secret_starting_with_a_dash_reaches_the_stand_in(tmp_path):
    from localdev.auth0.cli import build_parser

    # Given a client secret token_urlsafe made with a leading "-" (one run in 64)
    settings = tmp_path / "s.json"
    values = {"AUTH0_CLIENT_ID": "-id", "AUTH0_CLIENT_SECRET": "-Xy_z", "AUTH0_DOMAIN": "d"}
    settings.write_text(json.dumps({"Values": values}))
    stack = LocalStack(StackConfig(data_dir=tmp_path, settings_path=settings))
    # Then the stand-in's own parser reads it as the secret, not as a flag
    command = stack.auth0_command()
    options = build_parser().parse_args(command[command.index("auth0") + 1 :])
    assert (options.client_id, options.client_secret) == ("-id", "-Xy_z")
