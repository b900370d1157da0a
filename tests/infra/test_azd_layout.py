"""The azd wiring: azure.yaml, main.parameters.json and main.bicep fit together,
and the app settings that tune concurrency agree with host.json.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from tests.infra.bicep import INFRA, INFRA_PYTHON, REPO, BicepTree, run_infra_tool

AZD_VARIABLE = re.compile(r"^\$\{(?P<name>[A-Z][A-Z0-9_]*)(?:=(?P<default>[^}]*))?\}$")


def _azure_yaml() -> dict[str, Any]:
    # PyYAML lives in .venv-infra (checkov's dependency), not in the app's venv.
    done = run_infra_tool(
        [
            str(INFRA_PYTHON),
            "-c",
            "import json, sys, yaml; json.dump(yaml.safe_load(open('azure.yaml')), sys.stdout)",
        ]
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_azure_yaml_declares_the_function_service() -> None:
    document = _azure_yaml()
    assert document["infra"] == {"provider": "bicep", "path": "infra", "module": "main"}
    assert document["services"] == {
        "api": {"project": ".", "language": "python", "host": "function"}
    }


def test_the_app_carries_the_azd_service_tag(bicep: Callable[[str], BicepTree]) -> None:
    # azd finds the app to deploy service "api" to by this tag.
    (site,) = bicep("app/function.bicep").resources_of_type("Microsoft.Web/sites").values()
    union = site["config"]["tags"]["function"]
    assert union["type"] == "union"
    assert union["parameters"] == {"arg_1": "tags", "arg_2": {"'azd-service-name'": "api"}}


def test_parameters_file_maps_every_main_parameter(bicep: Callable[[str], BicepTree]) -> None:
    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))
    mapped: dict[str, str] = {
        name: entry["value"] for name, entry in parameters["parameters"].items()
    }
    declared = bicep("main.bicep").tree["parameters"]
    assert mapped.keys() <= declared.keys(), (
        f"unknown parameters: {mapped.keys() - declared.keys()}"
    )
    required = {name for name, p in declared.items() if p.get("default") is None}
    assert required <= mapped.keys(), f"no value for required {required - mapped.keys()}"
    for name, value in mapped.items():
        assert AZD_VARIABLE.match(value), f"{name}: {value!r} is not an azd ${{VARIABLE}}"
    assert mapped["environmentName"] == "${AZURE_ENV_NAME}"
    assert mapped["location"] == "${AZURE_LOCATION}"
    assert mapped["principalId"] == "${AZURE_PRINCIPAL_ID}"
    assert mapped["webhookSecret"] == "${WEBHOOK_SECRET}", "documented in docs/deploy.md"


def test_parameter_defaults_in_the_file_match_the_bicep_defaults(
    bicep: Callable[[str], BicepTree],
) -> None:
    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))
    declared = bicep("main.bicep").tree["parameters"]
    for name, entry in parameters["parameters"].items():
        match = AZD_VARIABLE.match(entry["value"])
        assert match, name
        if match["default"] is not None:
            default = declared[name]["default"]
            expected = str(default).lower() if isinstance(default, bool) else str(default)
            assert match["default"] == expected, name


def test_python_threads_match_service_bus_concurrency(bicep: Callable[[str], BicepTree]) -> None:
    host = json.loads((REPO / "host.json").read_text(encoding="utf-8"))
    max_concurrent_calls = host["extensions"]["serviceBus"]["maxConcurrentCalls"]
    function = bicep("app/function.bicep")
    threads = function.tree["parameters"]["pythonThreadCount"]["default"]
    assert threads == max_concurrent_calls, (
        "PYTHON_THREADPOOL_THREAD_COUNT must equal host.json maxConcurrentCalls, or sync "
        "Python functions run fewer messages at once than the host hands out"
    )


def test_the_deployment_package_leaves_out_azd_state_and_dev_tools() -> None:
    # azure.yaml packages the repository root; .funcignore decides what ships.
    ignored = {
        line.strip()
        for line in (REPO / ".funcignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    # .azure/<env>/.env holds WEBHOOK_SECRET in clear text.
    assert {".azure/", "infra/", "tests/", "localdev/", ".venv/", ".venv-infra/"} <= ignored
