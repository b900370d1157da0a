"""FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: the host refuses large bodies before buffering them.

The host reads the setting as a count of body bytes (Kestrel's per-request
MaxRequestBodySize; headers never count) and otherwise buffers up to 100 MiB.
The deployed value must stay strictly above every route's own limit, so each
route still answers a body just past it (ingest: a problem+json 413; Event
Streams: a 2xx that keeps the delivery), and far below the host's default.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from events.service import MAX_DELIVERY_BYTES
from ingest.service import MAX_BODY_BYTES
from tests.infra.bicep import REPO, BicepTree, app_settings

HOST_DEFAULT_BYTES = 100 * 1024 * 1024
ROUTE_LIMITS = {"ingest": MAX_BODY_BYTES, "auth0-events": MAX_DELIVERY_BYTES}


def _parameter(bicep: Callable[[str], BicepTree]) -> dict[str, object]:
    parameter: dict[str, object] = bicep("app/function.bicep").tree["parameters"][
        "requestBodySizeLimitBytes"
    ]
    return parameter


def test_the_limit_is_deployed_from_its_parameter(bicep: Callable[[str], BicepTree]) -> None:
    function = bicep("app/function.bicep")
    assert app_settings(function)["FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"] == {
        "function": {
            "type": "string",
            "parameters": {"value_to_convert": "requestBodySizeLimitBytes"},
        }
    }


def test_the_default_is_above_every_routes_own_limit(bicep: Callable[[str], BicepTree]) -> None:
    default = _parameter(bicep)["default"]
    assert isinstance(default, int)
    for route, limit in ROUTE_LIMITS.items():
        assert default > limit, f"the host would answer {route}'s bodies just past {limit} bytes"


def test_every_allowed_value_keeps_ingest_reachable_and_bounds_buffering(
    bicep: Callable[[str], BicepTree],
) -> None:
    decorators = _parameter(bicep)["decorators"]
    assert isinstance(decorators, list)
    bounds = {d["type"]: d["argument"] for d in decorators}
    assert bounds["min_value"] >= MAX_BODY_BYTES
    assert bounds["max_value"] <= 1024 * 1024 < HOST_DEFAULT_BYTES


def test_main_does_not_override_the_documented_default(bicep: Callable[[str], BicepTree]) -> None:
    params = bicep("main.bicep").tree["modules"]["functionApp"]["config"]["params"]
    assert "requestBodySizeLimitBytes" not in params


def test_the_local_stack_enforces_the_same_limit(bicep: Callable[[str], BicepTree]) -> None:
    # The local host mirrors Azure: the example settings carry the deployed value.
    example = json.loads((REPO / "local.settings.example.json").read_text(encoding="utf-8"))
    default = _parameter(bicep)["default"]
    assert example["Values"]["FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"] == str(default)
