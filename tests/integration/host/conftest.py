"""The sample app on a real socket, one host process per test (a factory that cleans up)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from localdev.host.process import HostProcess
from tests.fixtures.host_log import read_host_log
from tests.fixtures.ports import free_port

SAMPLE_APP = Path(__file__).parent / "sample_app" / "function_app.py"
FUNCTION_KEY = "sample-function-key"
MASTER_KEY = "sample-master-key"


@dataclass
class SampleHost:
    process: HostProcess
    record_dir: Path
    log_path: Path

    @property
    def url(self) -> str:
        return self.process.url

    def records(self, function: str) -> list[dict]:
        path = self.record_dir / f"{function}.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line]

    def log_lines(self) -> list[dict]:
        return read_host_log(self.log_path)


@pytest.fixture
def sample_host(tmp_path: Path) -> Iterator[Callable[..., SampleHost]]:
    """Start the sample app's host; `values` are written to its local.settings.json."""
    started: list[HostProcess] = []

    def start(
        values: dict[str, str] | None = None,
        shutdown_timeout: float = 10.0,
        state_dir: Path | None = None,
        instances: str | None = None,
    ) -> SampleHost:
        record_dir = tmp_path / f"records{len(started)}"
        record_dir.mkdir()
        settings = tmp_path / f"local.settings{len(started)}.json"
        settings.write_text(
            json.dumps(
                {
                    "IsEncrypted": False,
                    "Values": {
                        "LOCALDEV_FUNCTION_KEY": FUNCTION_KEY,
                        "LOCALDEV_MASTER_KEY": MASTER_KEY,
                        "SAMPLE_RECORD_DIR": str(record_dir),
                        "ServiceBusConnection": (
                            f"Endpoint=sb://localhost:{free_port()};SharedAccessKeyName=RootManageSharedAccessKey;"
                            "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;"
                        ),
                        "FLAKY_QUEUE": "flaky",
                        "SLOW_QUEUE": "slow",
                        "COUNT_QUEUE": "count",
                        # Once a year: tests that need the timer set their own schedule.
                        "SAMPLE_TIMER_SCHEDULE": "0 0 0 1 1 *",
                        **(values or {}),
                    },
                }
            )
        )
        log_path = tmp_path / f"host{len(started)}.log"
        process = HostProcess(
            port=free_port(),
            app=SAMPLE_APP,
            settings=settings,
            log_path=log_path,
            shutdown_timeout=shutdown_timeout,
            extra_args=(
                *("--state-dir", str(state_dir or tmp_path / f"state{len(started)}")),
                *(("--instances", instances) if instances else ()),
            ),
        )
        started.append(process)
        try:
            process.start()
        except Exception as exc:
            pytest.fail(
                f"{exc}\n{log_path.read_text() if log_path.exists() else ''}", pytrace=False
            )
        return SampleHost(process, record_dir, log_path)

    yield start
    for process in started:
        process.stop(timeout=15)
