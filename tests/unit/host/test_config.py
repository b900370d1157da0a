"""Settings loading and host.json parsing."""

import json
from datetime import timedelta

import pytest

from localdev.host.config import (
    HostOptions,
    StartupError,
    apply_app_settings,
    load_host_options,
    load_local_settings,
    parse_timespan,
    resolve_setting_expressions,
)


def test_environment_wins_over_local_settings():
    environ = {"KEPT": "from-env"}
    kept = apply_app_settings({"KEPT": "from-file", "NEW": "x"}, environ)
    assert environ == {"KEPT": "from-env", "NEW": "x"}
    assert kept == ["KEPT"]


def test_local_settings_values_become_strings(tmp_path):
    path = tmp_path / "local.settings.json"
    path.write_text(json.dumps({"IsEncrypted": False, "Values": {"A": "1", "B": 2, "C": None}}))
    assert load_local_settings(path) == {"A": "1", "B": "2", "C": ""}


def test_missing_local_settings_is_empty(tmp_path):
    assert load_local_settings(tmp_path / "absent.json") == {}


def test_encrypted_local_settings_is_refused(tmp_path):
    path = tmp_path / "local.settings.json"
    path.write_text(json.dumps({"IsEncrypted": True, "Values": {}}))
    with pytest.raises(StartupError, match="encrypted"):
        load_local_settings(path)


def test_malformed_local_settings_names_the_file(tmp_path):
    path = tmp_path / "local.settings.json"
    path.write_text("{not json")
    with pytest.raises(StartupError, match=r"local\.settings\.json: not valid JSON"):
        load_local_settings(path)


def test_host_json_defaults_when_missing(tmp_path):
    assert load_host_options(tmp_path / "host.json") == HostOptions()


def test_host_json_service_bus_and_route_prefix(tmp_path):
    path = tmp_path / "host.json"
    path.write_text(
        json.dumps(
            {
                "version": "2.0",
                "extensions": {
                    "http": {"routePrefix": "/v1/"},
                    "serviceBus": {
                        "prefetchCount": 5,
                        "autoCompleteMessages": False,
                        "maxConcurrentCalls": 4,
                        "maxAutoLockRenewalDuration": "00:02:30",
                    },
                },
            }
        )
    )
    options = load_host_options(path)
    assert options.route_prefix == "v1"
    assert options.service_bus.prefetch_count == 5
    assert options.service_bus.auto_complete_messages is False
    assert options.service_bus.max_concurrent_calls == 4
    assert options.service_bus.max_auto_lock_renewal_duration == timedelta(minutes=2, seconds=30)


def test_empty_route_prefix_is_allowed(tmp_path):
    path = tmp_path / "host.json"
    path.write_text(json.dumps({"extensions": {"http": {"routePrefix": ""}}}))
    assert load_host_options(path).route_prefix == ""


def test_zero_concurrency_is_refused(tmp_path):
    path = tmp_path / "host.json"
    path.write_text(json.dumps({"extensions": {"serviceBus": {"maxConcurrentCalls": 0}}}))
    with pytest.raises(StartupError, match="maxConcurrentCalls"):
        load_host_options(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("00:05:00", timedelta(minutes=5)),
        ("1.02:00:00", timedelta(days=1, hours=2)),
        ("00:00:01.5", timedelta(seconds=1.5)),
    ],
)
def test_parse_timespan(text, expected):
    assert parse_timespan(text) == expected


def test_parse_timespan_rejects_iso_durations():
    with pytest.raises(StartupError, match="timespan"):
        parse_timespan("PT5M")


def test_setting_expressions_resolve_from_app_settings():
    settings = {"QUEUE": "registrations", "ENV": "dev"}
    assert resolve_setting_expressions("%QUEUE%", settings, "f") == "registrations"
    assert resolve_setting_expressions("%ENV%-%QUEUE%", settings, "f") == "dev-registrations"
    assert resolve_setting_expressions("plain", settings, "f") == "plain"


def test_unknown_setting_expression_names_the_function_and_setting():
    with pytest.raises(StartupError, match=r"function 'p': app setting 'MISSING'"):
        resolve_setting_expressions("%MISSING%", {}, "function 'p'")
