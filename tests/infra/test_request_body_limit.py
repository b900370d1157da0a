"""FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: the host refuses large bodies before buffering them.

The host reads the setting as a count of body bytes (Kestrel's per-request
MaxRequestBodySize; headers never count) and otherwise buffers up to 100 MiB.
The deployed value must never refuse what the ingest contract accepts, and
must stay within what a Standard Service Bus message can carry.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from ingest.service import MAX_BODY_BYTES
from tests.infra.bicep import REPO, BicepTree, app_settings

HOST_DEFAULT_BYTES = 100 * 1024 * 1024
SERVICE_BUS_STANDARD_MESSAGE_BYTES = 256 * 1024


def test_the_limit_is_deployed_from_its_parameter(bicep: Callable[[str], BicepTree]) -> None:
    function = bicep("app/function.bicep")
    assert app_settings(function)["FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"] == {
        "function": {
            "type": "string",
            "parameters": {"value_to_convert": "requestBodySizeLimitBytes"},
        }
    }


def test_the_limit_is_above_the_ingest_contract_and_far_below_the_host_default(
    bicep: Callable[[str], BicepTree],
) -> None:
    parameter = bicep("app/function.bicep").tree["parameters"]["requestBodySizeLimitBytes"]
    bounds = {d["type"]: d["argument"] for d in parameter["decorators"]}
    # Then every value the template allows keeps ingest's own 413 reachable
    assert bounds["min_value"] >= MAX_BODY_BYTES
    # And no allowed value lets the host buffer more than one message's worth
    assert bounds["max_value"] <= SERVICE_BUS_STANDARD_MESSAGE_BYTES < HOST_DEFAULT_BYTES
    assert MAX_BODY_BYTES < parameter["default"] <= bounds["max_value"]


def test_main_does_not_override_the_documented_default(bicep: Callable[[str], BicepTree]) -> None:
    params = bicep("main.bicep").tree["modules"]["functionApp"]["config"]["params"]
    assert "requestBodySizeLimitBytes" not in params


def test_the_local_stack_enforces_the_same_limit(bicep: Callable[[str], BicepTree]) -> None:
    # The local host mirrors Azure: the example settings carry the deployed value.
    example = json.loads((REPO / "local.settings.example.json").read_text(encoding="utf-8"))
    parameter = bicep("app/function.bicep").tree["parameters"]["requestBodySizeLimitBytes"]
    assert example["Values"]["FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"] == str(parameter["default"])
