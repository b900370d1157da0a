"""The child-process launcher: readiness probes, exit reports, stopping whole process groups."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from localdev.ports import free_port
from localdev.processes import ChildProcess, HttpReady, LogLine, PortOpen, ProcessNotReady


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_ready_when_the_port_listens_and_an_http_answer_comes():
    port = free_port()
    child = ChildProcess(
        "web",
        python(
            "import http.server as h;"
            f"h.HTTPServer(('127.0.0.1', {port}), h.SimpleHTTPRequestHandler).serve_forever()"
        ),
        readiness=[PortOpen("127.0.0.1", port), HttpReady(f"http://127.0.0.1:{port}/")],
    )
    try:
        child.start(timeout=15)
        assert child.running
        assert PortOpen("127.0.0.1", port).met(child)
    finally:
        child.stop()
    assert child.poll() is not None


def test_ready_on_a_log_line(tmp_path: Path):
    child = ChildProcess(
        "logger",
        python("import time; time.sleep(0.3); print('server started', flush=True); time.sleep(60)"),
        readiness=[LogLine(r"server started")],
        log_path=tmp_path / "child.log",
    )
    started = time.monotonic()
    child.start(timeout=10)
    try:
        assert time.monotonic() - started >= 0.3
        assert "server started" in child.log_tail()
    finally:
        child.stop()


def test_exit_before_ready_names_the_child_its_code_and_log_tail():
    child = ChildProcess(
        "broken",
        python("import sys; print('cannot open the data dir'); sys.exit(3)"),
        readiness=[PortOpen("127.0.0.1", free_port())],
    )
    with pytest.raises(ProcessNotReady) as caught:
        child.start(timeout=10)
    message = str(caught.value)
    assert "broken exited with code 3 before it was ready; its log ends with:" in message
    assert "cannot open the data dir" in message


def test_never_ready_is_a_timeout_and_the_child_is_killed():
    port = free_port()
    child = ChildProcess(
        "silent", python("import time; time.sleep(60)"), readiness=[PortOpen("127.0.0.1", port)]
    )
    with pytest.raises(
        ProcessNotReady,
        match=f"silent was not ready after 1s, still waiting for listening on 127.0.0.1:{port}",
    ):
        child.start(timeout=1)
    assert child.poll() is not None


def test_exit_report_after_a_crash(tmp_path: Path):
    child = ChildProcess(
        "crasher",
        python("import time; time.sleep(0.2); raise SystemExit('boom')"),
        log_path=tmp_path / "c.log",
    )
    child.start()
    early = child.exit_report()
    assert early is None or early.code == 1
    assert child.process is not None
    child.process.wait(10)
    report = child.exit_report()
    assert report is not None
    assert (report.name, report.code) == ("crasher", 1)
    assert "boom" in report.log_tail
    assert str(report).startswith("crasher exited with code 1; its log ends with:")
    assert child.stop() == 1


def test_stop_terminates_the_whole_group(tmp_path: Path):
    # Given a child that started a grandchild (as Azurite starts node, the host its instances)
    pid_file = tmp_path / "grandchild.pid"
    code = (
        "import subprocess, sys, time;"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        f"open({str(pid_file)!r}, 'w').write(str(p.pid)); time.sleep(60)"
    )
    child = ChildProcess("parent", python(code))
    child.start()
    deadline = time.monotonic() + 10
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    grandchild = int(pid_file.read_text())
    # When it is stopped
    assert child.stop(timeout=5) == -15
    # Then the grandchild is gone too
    assert wait_gone(grandchild)


def test_sigkill_after_the_grace_period_when_sigterm_is_ignored(tmp_path: Path):
    child = ChildProcess(
        "stubborn",
        python(
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
            "print('up', flush=True); time.sleep(60)"
        ),
        readiness=[LogLine("up")],
        log_path=tmp_path / "s.log",
    )
    child.start(timeout=10)
    started = time.monotonic()
    assert child.stop(timeout=0.5) == -9
    assert 0.5 <= time.monotonic() - started < 5


def test_kill_is_immediate_and_stop_after_exit_is_harmless():
    child = ChildProcess("victim", python("import time; time.sleep(60)"))
    child.start()
    child.kill()
    assert child.poll() == -9
    assert child.stop() == -9
    assert ChildProcess("never started", python("pass")).stop() is None
