"""Every Bicep file parses (pycep-parser stands in for the Bicep CLI here)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.infra import bicep as bicep_module
from tests.infra.bicep import REPO, BicepTree, bicep_files


@pytest.mark.parametrize("path", bicep_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_bicep_file_parses(path: Path, parsed_bicep: dict[Path, dict[str, Any]]) -> None:
    result = parsed_bicep[path]
    assert "error" not in result, f"{path.relative_to(REPO)}: {result.get('error')}"


def test_every_module_reference_points_at_a_file(bicep: Callable[[str], BicepTree]) -> None:
    # Given the entry point's module declarations
    main = bicep("main.bicep")
    modules: dict[str, Any] = main.tree.get("modules") or {}
    assert modules, "main.bicep declares no modules"
    # Then each local module path exists next to main.bicep
    for symbol, module in modules.items():
        target = main.path.parent / module["detail"]["path"]
        assert target.is_file(), f"module {symbol} -> {target} does not exist"


def test_main_is_subscription_scoped_and_creates_the_resource_group(
    bicep: Callable[[str], BicepTree],
) -> None:
    main = bicep("main.bicep")
    assert main.tree["globals"]["scope"]["value"] == "subscription"
    assert main.resources_of_type("Microsoft.Resources/resourceGroups"), "no resource group"


def test_a_missing_infra_venv_fails_and_names_make_setup(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(bicep_module, "INFRA_PYTHON", tmp_path / "python")
    monkeypatch.setattr(bicep_module, "CHECKOV", tmp_path / "checkov")
    with pytest.raises(pytest.fail.Exception, match=r"run `make setup`"):
        bicep_module.require_infra_venv()
