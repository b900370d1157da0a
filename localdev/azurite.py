"""Start Azurite (pinned in package.json) as a child process, telemetry off.

Used by `python -m localdev up` and by the test fixtures. Azurite comes from
`node_modules/.bin`, installed by `npm ci` (the Makefile does it).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from localdev.processes import ROOT, ChildProcess, Launcher, PortOpen

ACCOUNT_NAME = "devstoreaccount1"
# Azurite's published, well-known development key: not a secret.
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


class AzuriteNotAvailable(RuntimeError):
    """Azurite cannot be started: Node or the npm install is missing."""


def connection_string(
    table_port: int,
    blob_port: int | None = None,
    queue_port: int | None = None,
    host: str = "127.0.0.1",
) -> str:
    """A storage connection string for the given Azurite endpoints."""
    parts = [
        "DefaultEndpointsProtocol=http",
        f"AccountName={ACCOUNT_NAME}",
        f"AccountKey={ACCOUNT_KEY}",
        f"TableEndpoint=http://{host}:{table_port}/{ACCOUNT_NAME}",
    ]
    if blob_port is not None:
        parts.append(f"BlobEndpoint=http://{host}:{blob_port}/{ACCOUNT_NAME}")
    if queue_port is not None:
        parts.append(f"QueueEndpoint=http://{host}:{queue_port}/{ACCOUNT_NAME}")
    return ";".join(parts) + ";"


@dataclass
class Azurite(Launcher):
    """One Azurite process. `tables_only` starts just the Table service (fast, for tests)."""

    table_port: int
    blob_port: int | None = None
    queue_port: int | None = None
    location: Path | None = None  # None: in memory
    host: str = "127.0.0.1"
    log_path: Path | None = None

    @property
    def connection_string(self) -> str:
        return connection_string(self.table_port, self.blob_port, self.queue_port, self.host)

    def command(self) -> list[str]:
        tables_only = self.blob_port is None and self.queue_port is None
        binary = ROOT / "node_modules" / ".bin" / ("azurite-table" if tables_only else "azurite")
        if not binary.exists():
            raise AzuriteNotAvailable(f"{binary} is missing: run `npm ci` (make does it)")
        if shutil.which("node") is None:
            raise AzuriteNotAvailable("node is not on PATH: install Node.js 20+")
        cmd = [
            str(binary),
            "--disableTelemetry",
            "--skipApiVersionCheck",
            "--loose",
            "--tableHost",
            self.host,
            "--tablePort",
            str(self.table_port),
        ]
        if not tables_only:
            cmd += [
                "--blobHost",
                self.host,
                "--blobPort",
                str(self.blob_port),
                "--queueHost",
                self.host,
                "--queuePort",
                str(self.queue_port),
            ]
        if self.location is None:
            cmd.append("--inMemoryPersistence")
        else:
            self.location.mkdir(parents=True, exist_ok=True)
            cmd += ["--location", str(self.location)]
        return cmd

    def start(self, timeout: float = 30.0) -> Azurite:
        """Start the process and wait until every service accepts connections."""
        ports = (self.table_port, self.blob_port, self.queue_port)
        self.child = ChildProcess(
            name="Azurite",
            command=self.command(),
            readiness=[PortOpen(self.host, port) for port in ports if port is not None],
            log_path=self.log_path,
        )
        self.child.start(timeout)
        return self
