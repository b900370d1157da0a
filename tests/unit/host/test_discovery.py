"""Loading an app and refusing what the local host cannot run."""

import textwrap

import pytest

from localdev.host.cli import main
from localdev.host.config import StartupError
from localdev.host.discovery import (
    HttpFunction,
    ServiceBusFunction,
    TimerFunction,
    discover_functions,
    load_app_module,
)

SETTINGS = {
    "SB": "Endpoint=sb://localhost:1;SharedAccessKeyName=k;SharedAccessKey=v;",
    "QUEUE": "q1",
}


def write_app(tmp_path, body):
    path = tmp_path / "function_app.py"
    path.write_text("import azure.functions as func\n" + textwrap.dedent(body))
    return path


def test_http_and_queue_functions_are_described(tmp_path):
    app = load_app_module(
        write_app(
            tmp_path,
            """
            app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

            @app.route(route="items/{id}", methods=["GET", "post"])
            def get_item(req: func.HttpRequest) -> func.HttpResponse:
                return func.HttpResponse("x")

            @app.route(auth_level=func.AuthLevel.ANONYMOUS)
            async def ping(req, context: func.Context):
                return "pong"

            @app.function_name("consume")
            @app.service_bus_queue_trigger(arg_name="msg", connection="SB", queue_name="%QUEUE%",
                                           auto_complete_messages=False)
            def consume_queue(msg: func.ServiceBusMessage) -> None:
                pass
            """,
        )
    )
    functions = {f.name: f for f in discover_functions(app, SETTINGS)}
    item = functions["get_item"]
    assert isinstance(item, HttpFunction)
    assert (item.route, item.methods, item.auth_level, item.is_async) == (
        "items/{id}",
        frozenset({"GET", "POST"}),
        "function",
        False,
    )
    ping = functions["ping"]
    assert isinstance(ping, HttpFunction)
    assert (ping.route, ping.methods, ping.auth_level, ping.is_async, ping.context_arg) == (
        "ping",
        None,
        "anonymous",
        True,
        "context",
    )
    consume = functions["consume"]
    assert isinstance(consume, ServiceBusFunction)
    assert consume.queue_name == "q1"
    assert consume.connection_string == SETTINGS["SB"]
    assert consume.auto_complete_messages is False
    assert consume.trigger_arg == "msg"


@pytest.mark.parametrize(
    ("decorators", "expected"),
    [
        (
            '@app.event_hub_message_trigger(arg_name="t", connection="SB", event_hub_name="h")',
            r"function 'handler': trigger 'eventHubTrigger'",
        ),
        (
            '@app.timer_trigger(arg_name="t", schedule="%MISSING_SCHEDULE%")',
            r"function 'handler': app setting 'MISSING_SCHEDULE' \(from %MISSING_SCHEDULE%\)",
        ),
        (
            '@app.service_bus_topic_trigger(arg_name="t", connection="SB", topic_name="t",'
            ' subscription_name="s")',
            r"function 'handler': trigger 'Service Bus topic subscription'",
        ),
        (
            '@app.route(route="x")\n@app.blob_output(arg_name="out", path="c/b", connection="S")',
            r"function 'handler': binding 'blob' \('out'\) is not supported",
        ),
        (
            '@app.service_bus_queue_trigger(arg_name="t", connection="SB", queue_name="q",'
            ' cardinality="many")',
            r"function 'handler': cardinality 'many'",
        ),
        (
            '@app.service_bus_queue_trigger(arg_name="t", connection="MISSING", queue_name="q")',
            r"function 'handler': app setting 'MISSING' \(the connection\) is not set",
        ),
    ],
)
def test_unsupported_bindings_name_the_function(tmp_path, decorators, expected):
    app_file = write_app(
        tmp_path,
        "app = func.FunctionApp()\n"
        + decorators
        + "\ndef handler(t=None, req=None, out=None):\n    pass\n",
    )
    with pytest.raises(StartupError, match=expected):
        discover_functions(load_app_module(app_file), SETTINGS)


def test_parameter_without_binding_is_refused(tmp_path):
    app_file = write_app(
        tmp_path,
        """
        app = func.FunctionApp()

        @app.route(route="x")
        def handler(req, extra):
            pass
        """,
    )
    with pytest.raises(StartupError, match="parameter 'extra' has no binding"):
        discover_functions(load_app_module(app_file), SETTINGS)


def test_import_error_is_a_startup_error(tmp_path):
    app_file = write_app(tmp_path, "raise RuntimeError('boom')\n")
    with pytest.raises(StartupError, match="import failed: RuntimeError: boom"):
        load_app_module(app_file)


def test_cli_exits_2_with_one_line_for_an_unsupported_binding(tmp_path, capsys, monkeypatch):
    app_file = write_app(
        tmp_path,
        """
        app = func.FunctionApp()

        @app.timer_trigger(arg_name="t", schedule="0 */10 * * *")
        def nightly(t):
            pass
        """,
    )
    monkeypatch.chdir(tmp_path)
    code = main(["--app", str(app_file), "--settings", str(tmp_path / "none.json"), "--port", "0"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert "function 'nightly': bad timer schedule" in err
    assert "expected 6 fields" in err


def test_timer_schedule_resolves_its_setting_and_monitor_defaults(tmp_path):
    app_file = write_app(
        tmp_path,
        """
        app = func.FunctionApp()

        @app.timer_trigger(arg_name="timer", schedule="%RECONCILE_SCHEDULE%", run_on_startup=True)
        def reconcile(timer):
            pass

        @app.timer_trigger(arg_name="timer", schedule="*/5 * * * * *")
        def often(timer):
            pass

        @app.timer_trigger(arg_name="timer", schedule="0 0 * * * *", use_monitor=False)
        def hourly(timer):
            pass
        """,
    )
    settings = {**SETTINGS, "RECONCILE_SCHEDULE": "0 */10 * * * *"}
    functions = {f.name: f for f in discover_functions(load_app_module(app_file), settings)}
    reconcile, often, hourly = functions["reconcile"], functions["often"], functions["hourly"]
    assert isinstance(reconcile, TimerFunction)
    assert isinstance(often, TimerFunction)
    assert isinstance(hourly, TimerFunction)
    assert reconcile.schedule.expression == "0 */10 * * * *"
    assert (reconcile.run_on_startup, reconcile.use_monitor, reconcile.trigger_arg) == (
        True,
        True,
        "timer",
    )
    # Monitoring defaults on only for schedules a minute or more apart; explicit wins.
    assert (often.run_on_startup, often.use_monitor) == (False, False)
    assert hourly.use_monitor is False
