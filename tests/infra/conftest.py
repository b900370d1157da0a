"""Fixtures for the infra checks: one pycep run per session, shared by all tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.infra.bicep import INFRA, BicepTree, bicep_files, parse_bicep


@pytest.fixture(scope="session")
def parsed_bicep() -> dict[Path, dict[str, Any]]:
    """pycep's result for every `.bicep` file under `infra/`."""
    files = bicep_files()
    assert files, f"no .bicep files under {INFRA}"
    return parse_bicep(files)


@pytest.fixture(scope="session")
def bicep(parsed_bicep: dict[Path, dict[str, Any]]) -> Callable[[str], BicepTree]:
    """Look up a parsed file by its path under `infra/`, e.g. `bicep("app/function.bicep")`."""

    def load(relative: str) -> BicepTree:
        path = INFRA / relative
        result = parsed_bicep[path]
        if "error" in result:
            pytest.fail(f"{path} does not parse: {result['error']}", pytrace=False)
        return BicepTree(path, result["tree"])

    return load
