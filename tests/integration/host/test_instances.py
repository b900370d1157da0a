"""Function groups in their own instance processes, under one supervisor (as Flex scales)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import psutil

from tests.fixtures.host_log import instance_pids
from tests.integration.host.conftest import SAMPLE_APP
from tests.integration.host.test_servicebus import wait_for


def get(url: str) -> str:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=10) as response:
        return response.read().decode()


def all_ready(host, count: int = 6) -> dict[str, int]:
    """Wait until `count` instances have said host.ready; their pids by label."""
    wait_for(
        lambda: (
            len({x.get("instance") for x in host.log_lines() if x.get("message") == "host.ready"})
            >= count
        ),
        timeout=60,
    )
    return instance_pids(host.log_lines())


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_each_group_runs_in_its_own_instances_and_http_shares_the_port(sample_host):
    host = sample_host(instances="http=2")
    pids = all_ready(host)
    # HTTP together (2 instances), every other function alone (1 each, the default)
    assert set(pids) == {
        "http#0",
        "http#1",
        "function:flaky#0",
        "function:slow#0",
        "function:concurrent#0",
        "function:tick#0",
    }
    assert len(set(pids.values())) == 6
    # Both HTTP instances answer on the one port
    answered = {int(get(f"{host.url}/api/whoami")) for _ in range(60)}
    assert answered == {pids["http#0"], pids["http#1"]}
    # Each instance tags its own log lines
    tags = {
        line.get("instance") for line in host.log_lines() if line.get("message") == "host.ready"
    }
    assert {"http#0", "http#1", "function:concurrent#0"} <= tags


def test_a_crashed_instance_is_restarted_and_the_port_keeps_answering(sample_host):
    host = sample_host(instances="http=2")
    pids = all_ready(host)
    # When one HTTP instance dies
    os.kill(pids["http#1"], signal.SIGKILL)
    # (connections already queued on its socket are reset with it, as on a crashed VM)
    wait_for(lambda: not alive(pids["http#1"]), timeout=10)
    # Then the other keeps serving (a new http#1 may already share the port)
    psutil.Process(host.process.process.pid)  # the supervisor is still there
    answers = {int(get(f"{host.url}/api/whoami")) for _ in range(20)}
    assert pids["http#1"] not in answers
    assert pids["http#0"] in answers
    # and the supervisor says so and starts a new one
    exited = wait_for(
        lambda: [line for line in host.log_lines() if line.get("message") == "host.instance_exited"]
    )
    assert exited[0]["instance"] == "http#1"
    assert exited[0]["exit_code"] == -9
    wait_for(lambda: instance_pids(host.log_lines())["http#1"] != pids["http#1"])
    new_pid = instance_pids(host.log_lines())["http#1"]
    wait_for(lambda: int(get(f"{host.url}/api/whoami")) == new_pid, timeout=30, interval=0.05)


def test_sigterm_stops_every_instance_and_exits_0(sample_host):
    host = sample_host(instances="http=2")
    pids = all_ready(host)
    assert host.process.stop() == 0
    assert not any(alive(pid) for pid in pids.values())
    stopped = [line for line in host.log_lines() if line.get("message") == "host.stopped"]
    assert len(stopped) == 7, [
        (line.get("instance"), line["ts"]) for line in host.log_lines()[-30:]
    ]


def test_instances_die_with_a_sigkilled_supervisor(sample_host):
    host = sample_host(instances="http=2")
    pids = all_ready(host)
    # Only the supervisor, not its group: its instances must not outlive it
    os.kill(host.process.process.pid, signal.SIGKILL)
    host.process.process.wait(10)
    wait_for(lambda: not any(alive(pid) for pid in pids.values()), timeout=10)


def test_an_unknown_group_is_a_one_line_error(tmp_path: Path):
    result = subprocess.run(
        [
            *(sys.executable, "-m", "localdev", "host", "--app", str(SAMPLE_APP)),
            *("--settings", str(tmp_path / "none.json"), "--port", "0", "--instances", "nope=2"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SAMPLE_TIMER_SCHEDULE": "0 0 0 1 1 *", "FLAKY_QUEUE": "f"}
        | {"SLOW_QUEUE": "s", "COUNT_QUEUE": "c", "ServiceBusConnection": "Endpoint=sb://x/"},
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1
    assert "instances: no group function:nope" in result.stderr
