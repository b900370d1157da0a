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


def _module_outputs_used(node: Any) -> set[tuple[str, str]]:
    """Every `module.outputs.name` reference anywhere under `node`, as (module, output)."""
    found: set[tuple[str, str]] = set()
    if isinstance(node, dict):
        operator = node.get("operator")
        if isinstance(operator, dict) and operator.get("type") == "property_accessor":
            operands = operator["operands"]
            inner = operands.get("operand_2")
            if isinstance(inner, dict) and isinstance(inner.get("operator"), dict):
                accessed = inner["operator"]["operands"]
                if accessed.get("operand_1") == "outputs" and isinstance(
                    accessed.get("operand_2"), str
                ):
                    found.add((operands["operand_1"], accessed["operand_2"]))
        for value in node.values():
            found |= _module_outputs_used(value)
    elif isinstance(node, list):
        for value in node:
            found |= _module_outputs_used(value)
    return found


def test_module_calls_match_the_modules_parameters(bicep: Callable[[str], BicepTree]) -> None:
    # No Bicep CLI here: a misspelt or missing parameter would only fail in ARM.
    main = bicep("main.bicep")
    for symbol, module in (main.tree.get("modules") or {}).items():
        target = bicep(module["detail"]["path"])
        declared = target.tree.get("parameters") or {}
        passed = set(module["config"].get("params") or {})
        assert passed <= declared.keys(), f"module {symbol}: unknown {passed - declared.keys()}"
        required = {name for name, p in declared.items() if p.get("default") is None}
        assert required <= passed, f"module {symbol}: missing {required - passed}"


def test_every_module_output_main_reads_exists(bicep: Callable[[str], BicepTree]) -> None:
    main = bicep("main.bicep")
    modules = main.tree.get("modules") or {}
    used = _module_outputs_used(main.tree)
    assert used, "main.bicep reads no module output"
    for symbol, output in sorted(used):
        assert symbol in modules, f"{symbol}.outputs.{output}: no module {symbol}"
        outputs = bicep(modules[symbol]["detail"]["path"]).tree.get("outputs") or {}
        assert output in outputs, f"{symbol}.outputs.{output} is not an output of {symbol}"
