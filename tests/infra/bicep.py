"""Read the Bicep under `infra/` through the tools in `.venv-infra`.

No Bicep CLI runs here, so the checks use pycep-parser (the parser checkov
itself uses) and checkov, both installed in `.venv-infra` because checkov's
pins conflict with pytest. pytest runs in `.venv`, so every call into those
tools is a subprocess.

pycep renders Bicep as JSON where string literals and identifiers both
become plain strings (`'managedidentity'` and `identityClientId` alike), and
function calls and operators become nested `{"function": ...}` /
`{"operator": ...}` objects.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
INFRA_VENV = REPO / ".venv-infra"
INFRA_PYTHON = INFRA_VENV / "bin" / "python"
CHECKOV = INFRA_VENV / "bin" / "checkov"
DUMP_SCRIPT = Path(__file__).with_name("_pycep_dump.py")


def bicep_files() -> list[Path]:
    """Every `.bicep` file under `infra/`, sorted."""
    return sorted(INFRA.rglob("*.bicep"))


def require_infra_venv() -> None:
    """Fail (never skip) when `.venv-infra` is missing: `make setup` creates it."""
    missing = [tool for tool in (INFRA_PYTHON, CHECKOV) if not tool.exists()]
    if missing:
        pytest.fail(
            f"{', '.join(map(str, missing))} not found: "
            "the infra checks need checkov and pycep-parser in .venv-infra; "
            "run `make setup` to create it",
            pytrace=False,
        )


def run_infra_tool(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a command from `.venv-infra` at the repository root."""
    require_infra_venv()
    return subprocess.run(
        args, cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False
    )


def parse_bicep(paths: list[Path]) -> dict[Path, dict[str, Any]]:
    """pycep results per file: `{"tree": ...}` or `{"error": "..."}`."""
    done = run_infra_tool([str(INFRA_PYTHON), str(DUMP_SCRIPT), *map(str, paths)])
    if done.returncode != 0:
        pytest.fail(f"pycep-parser crashed (exit {done.returncode}):\n{done.stderr}", pytrace=False)
    raw: dict[str, dict[str, Any]] = json.loads(done.stdout)
    return {Path(path): result for path, result in raw.items()}


@dataclass(frozen=True)
class BicepTree:
    """One parsed Bicep file."""

    path: Path
    tree: dict[str, Any]

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return dict(self.tree.get("resources") or {})

    def resource_config(self, symbol: str) -> dict[str, Any]:
        """The resource's body, looking through an `if (...)` deploy condition."""
        config: dict[str, Any] = self.resources[symbol]["config"]
        if "condition" in config and "config" in config:
            return dict(config["config"])
        return config

    def variable(self, name: str) -> Any:
        return self.tree["variables"][name]["value"]

    def resources_of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            symbol: resource
            for symbol, resource in self.resources.items()
            if resource["type"] == resource_type and not resource.get("existing")
        }


def app_settings(function_bicep: BicepTree) -> dict[str, Any]:
    """The Function App's app settings as name -> (pycep) value.

    Read from the site's `siteConfig.appSettings`, following it to a `var`
    when it names one, so the test sees what Azure will see.
    """
    (site,) = function_bicep.resources_of_type("Microsoft.Web/sites").values()
    entries: Any = site["config"]["properties"]["siteConfig"]["appSettings"]
    if isinstance(entries, str):
        entries = function_bicep.variable(entries)
    settings: dict[str, Any] = {}
    for entry in entries:
        name = entry["name"]
        assert name not in settings, f"app setting {name} is set twice"
        settings[name] = entry["value"]
    return settings


_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


def iso_duration(text: str) -> timedelta:
    """An ISO 8601 duration (`PT1M`, `P14D`, `P1DT2H`) as a timedelta.

    Years and months have no fixed length, so they are refused.
    """
    match = _DURATION.match(text)
    if match is None or text in ("P", "PT") or text.endswith("T"):
        raise ValueError(f"not an ISO 8601 duration with fixed units: {text!r}")
    parts = {key: float(value) for key, value in match.groupdict().items() if value}
    return timedelta(**parts)
