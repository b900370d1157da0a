"""The stack launcher's plain parts: first-run settings, port rewriting, the printed command."""

import base64
import json
import stat

import pytest

from localdev.ports import free_ports
from localdev.servicebus.process import connection_string as emulator_connection_string
from localdev.stack import (
    LocalStack,
    StackConfig,
    StackError,
    ensure_local_settings,
    new_webhook_secret,
    parse_args,
)


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
    assert ensure_local_settings(settings, example) is True
    values = json.loads(settings.read_text())["Values"]
    assert values["OTHER"] == "x"
    assert values["WEBHOOK_SECRET"].startswith("whsec_")
    assert len(values["LOCALDEV_FUNCTION_KEY"]) >= 40
    assert stat.S_IMODE(settings.stat().st_mode) == 0o600


def test_existing_settings_are_never_rewritten(tmp_path, example):
    settings = tmp_path / "local.settings.json"
    settings.write_text('{"Values": {"WEBHOOK_SECRET": "mine"}}')
    assert ensure_local_settings(settings, example) is False
    assert settings.read_text() == '{"Values": {"WEBHOOK_SECRET": "mine"}}'


def test_missing_example_is_a_clear_error(tmp_path):
    with pytest.raises(StackError, match="example"):
        ensure_local_settings(tmp_path / "a.json", tmp_path / "missing.example.json")


def test_default_ports_pass_the_file_through(tmp_path):
    stack = LocalStack(StackConfig(data_dir=tmp_path, settings_path=tmp_path / "s.json"))
    assert stack.endpoint_overrides() == {}


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
