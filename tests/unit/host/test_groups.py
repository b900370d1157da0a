"""Function groups as Flex Consumption scales them, and the --instances spec."""

import pytest

from localdev.host.cli import LoadedApp, is_disabled
from localdev.host.config import StartupError
from localdev.host.discovery import HttpFunction, ServiceBusFunction
from localdev.host.groups import function_groups, parse_instances


def http(name: str) -> HttpFunction:
    return HttpFunction(
        name, print, "req", None, False, route=name, methods=None, auth_level="function"
    )


def queue(name: str) -> ServiceBusFunction:
    return ServiceBusFunction(
        name, print, "msg", None, False, queue_name="q", connection_setting="SB",
        connection_string="Endpoint=sb://x/", auto_complete_messages=None,
    )  # fmt: skip


def test_http_triggers_share_a_group_and_every_other_function_has_its_own():
    groups = function_groups([http("ingest"), queue("process"), http("events"), queue("other")])
    assert [(g.name, [f.name for f in g.functions], g.instances) for g in groups] == [
        ("http", ["ingest", "events"], 1),
        ("function:process", ["process"], 1),
        ("function:other", ["other"], 1),
    ]
    assert [g.serves_http for g in groups] == [True, False, False]


def test_instance_counts_by_group_or_function_name():
    assert parse_instances("http=2, process=3,function:other=1") == {
        "http": 2,
        "function:process": 3,
        "function:other": 1,
    }
    groups = function_groups([http("ingest"), queue("process")], "http=4,process=2")
    assert [(g.name, g.instances) for g in groups] == [("http", 4), ("function:process", 2)]


def test_an_app_without_http_still_has_the_http_group_for_its_port():
    assert [g.name for g in function_groups([queue("process")])] == ["http", "function:process"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("http", "is not GROUP=COUNT"),
        ("http=two", "is not GROUP=COUNT"),
        ("http=0", "1 to 16 instances"),
        ("http=17", "1 to 16 instances"),
        ("nope=1", r"no group function:nope \(groups: http, function:process\)"),
    ],
)
def test_bad_specs_are_clear_errors(spec, message):
    with pytest.raises(StartupError, match=message):
        function_groups([http("ingest"), queue("process")], spec)


@pytest.mark.parametrize(
    ("value", "disabled"),
    [("true", True), ("True", True), ("1", True), ("false", False), ("0", False), ("", False)],
)
def test_azure_webjobs_disabled_setting(value: str, disabled: bool) -> None:
    assert is_disabled("process", {"AzureWebJobs.process.Disabled": value}) is disabled


def test_disabled_functions_leave_their_group_but_http_keeps_serving() -> None:
    app = LoadedApp(
        {}, [http("ingest"), queue("process"), http("events")], frozenset({"process", "ingest"})
    )
    groups = app.groups("process=2")
    assert [(g.name, [f.name for f in g.functions]) for g in groups] == [("http", ["events"])]
