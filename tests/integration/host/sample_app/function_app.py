"""A small v2 app that exercises the local host: every auth level, route parameters,
sync and async functions, and Service Bus functions that fail, dawdle, or count.

Service Bus functions append one JSON line per event to $SAMPLE_RECORD_DIR/<function>.jsonl
so tests (in another process) can see what the host did.
"""

import asyncio
import json
import os
import threading
import time
from pathlib import Path

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

_lock = threading.Lock()
_in_flight = 0


def record(function: str, **fields) -> None:
    line = json.dumps({"at": time.time(), **fields}, default=str) + "\n"
    path = Path(os.environ["SAMPLE_RECORD_DIR"]) / f"{function}.jsonl"
    with _lock, path.open("a", encoding="utf-8") as out:
        out.write(line)


@app.route(route="hello/{name}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def hello(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"hello {req.route_params['name']}")


@app.route(route="echo", methods=["POST"])
async def echo(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    body = {
        "method": req.method,
        "url": req.url,
        "params": dict(req.params),
        "header": req.headers.get("x-sample"),
        "length": len(req.get_body()),
        "function": context.function_name,
    }
    return func.HttpResponse(
        json.dumps(body), status_code=201, mimetype="application/json", headers={"X-Echo": "yes"}
    )


@app.route(route="items/{id:int}", methods=["GET", "DELETE"])
def item(req: func.HttpRequest) -> str:
    return f"{req.method} item {req.route_params['id']}"


@app.route(route="admin/only", auth_level=func.AuthLevel.ADMIN)
def admin_only(req: func.HttpRequest) -> str:
    return "admin"


@app.route(route="boom", auth_level=func.AuthLevel.ANONYMOUS)
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("boom on purpose")


@app.route(route="sleep/{seconds}", auth_level=func.AuthLevel.ANONYMOUS)
async def sleep(req: func.HttpRequest) -> str:
    await asyncio.sleep(float(req.route_params["seconds"]))
    return "slept"


@app.service_bus_queue_trigger(
    arg_name="msg", connection="ServiceBusConnection", queue_name="%FLAKY_QUEUE%"
)
def flaky(msg: func.ServiceBusMessage) -> None:
    """Fails on the first `fail_times` deliveries (delivery_count is 1 on the first)."""
    props = msg.application_properties
    record(
        "flaky",
        message_id=msg.message_id,
        delivery_count=msg.delivery_count,
        sequence_number=msg.sequence_number,
        body=msg.get_body().decode(),
        properties=props,
        content_type=msg.content_type,
        correlation_id=msg.correlation_id,
        subject=msg.subject,
        label=msg.label,
        lock_token=msg.lock_token,
        locked_until=msg.locked_until,
        enqueued_time_utc=msg.enqueued_time_utc,
        user_properties=msg.user_properties,
        metadata_message_id=(msg.metadata or {}).get("MessageId"),
    )
    assert msg.delivery_count is not None  # the host always sets it
    if msg.delivery_count <= int(props.get("fail_times", 0)):
        raise RuntimeError("failing on purpose")


@app.service_bus_queue_trigger(
    arg_name="msg", connection="ServiceBusConnection", queue_name="%SLOW_QUEUE%"
)
async def slow(msg: func.ServiceBusMessage) -> None:
    """Runs for `seconds` (from the body), longer than the queue's lock duration."""
    record("slow", event="start", message_id=msg.message_id, delivery_count=msg.delivery_count)
    await asyncio.sleep(float(msg.get_body()))
    record("slow", event="end", message_id=msg.message_id, delivery_count=msg.delivery_count)


@app.service_bus_queue_trigger(
    arg_name="msg", connection="ServiceBusConnection", queue_name="%COUNT_QUEUE%"
)
def concurrent(msg: func.ServiceBusMessage) -> None:
    """Records how many invocations are in flight at once (sync: runs in the thread pool)."""
    global _in_flight
    with _lock:
        _in_flight += 1
        now = _in_flight
    record("concurrent", event="start", message_id=msg.message_id, in_flight=now)
    time.sleep(float(msg.get_body()))
    with _lock:
        _in_flight -= 1
    record("concurrent", event="end", message_id=msg.message_id)


@app.timer_trigger(arg_name="timer", schedule="%SAMPLE_TIMER_SCHEDULE%", use_monitor=True)
def tick(timer: func.TimerRequest) -> None:
    """Records each run (start and end) and dawdles SAMPLE_TIMER_SLEEP seconds in between."""
    started = time.time()
    record("tick_started", past_due=timer.past_due, pid=os.getpid())
    time.sleep(float(os.environ.get("SAMPLE_TIMER_SLEEP", "0")))
    record("tick", started=started, past_due=timer.past_due, pid=os.getpid())


@app.route(route="whoami", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def whoami(req: func.HttpRequest) -> func.HttpResponse:
    """The pid of the instance that answered (several HTTP instances share the port)."""
    return func.HttpResponse(str(os.getpid()))
