"""Diagnostics and alerts: what reaches Log Analytics, and what pages an operator.

Read from infra/app/diagnostics.bicep, infra/app/alerts.bicep and their
wiring in main.bicep, so a later edit cannot drop a resource's logs or an
alert silently.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.infra.bicep import BicepTree

DIAGNOSTIC_SETTINGS = "Microsoft.Insights/diagnosticSettings"

# Existing resource type -> the log categories (or category groups) it must send.
EXPECTED_DIAGNOSTICS: dict[str, set[str]] = {
    "Microsoft.Web/sites": {"FunctionAppLogs"},
    "Microsoft.ServiceBus/namespaces": {"allLogs"},
    "Microsoft.Storage/storageAccounts/tableServices": {
        "StorageRead",
        "StorageWrite",
        "StorageDelete",
    },
    "Microsoft.KeyVault/vaults": {"AuditEvent"},
}


def _output_of(value: Any) -> tuple[str, str]:
    """(module, output) of a `module.outputs.name` expression as pycep renders it."""
    outer = value["operator"]["operands"]
    inner = outer["operand_2"]["operator"]["operands"]
    assert inner["operand_1"] == "outputs", value
    return outer["operand_1"], inner["operand_2"]


def _module_params(main: BicepTree, module: str) -> dict[str, Any]:
    return dict(main.tree["modules"][module]["config"]["params"])


def _alerts(bicep: Callable[[str], BicepTree]) -> BicepTree:
    return bicep("app/alerts.bicep")


# ------------------------------------------------------------ diagnostics


def test_each_of_the_four_resources_sends_its_logs_and_metrics_to_log_analytics(
    bicep: Callable[[str], BicepTree],
) -> None:
    diagnostics = bicep("app/diagnostics.bicep")
    by_type: dict[str, set[str]] = {}
    for resource in diagnostics.resources_of_type(DIAGNOSTIC_SETTINGS).values():
        config = resource["config"]
        target = diagnostics.resources[config["scope"]]
        assert target.get("existing"), f"{config['scope']} is not one of the deployed resources"
        properties = config["properties"]
        assert properties["workspaceId"] == "logAnalyticsWorkspaceId"
        logs = properties["logs"]
        assert all(entry["enabled"] is True for entry in logs + properties["metrics"])
        assert properties["metrics"], f"{target['type']} sends no metrics"
        by_type[target["type"]] = {
            entry.get("category") or entry["categoryGroup"] for entry in logs
        }
    assert by_type == EXPECTED_DIAGNOSTICS


# ----------------------------------------------------------------- alerts


def _metric_alerts(
    bicep: Callable[[str], BicepTree],
) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Metric name -> (alert properties, its one criterion), for the namespace's alerts."""
    found = {}
    for alert in _alerts(bicep).resources_of_type("Microsoft.Insights/metricAlerts").values():
        properties = alert["config"]["properties"]
        assert properties["scopes"] == ["serviceBusNamespaceId"]
        (criterion,) = properties["criteria"]["allOf"]
        assert criterion["metricNamespace"] == "Microsoft.ServiceBus/namespaces"
        found[criterion["metricName"]] = (properties, criterion)
    return found


def test_dead_letters_alert_on_the_queues_deadlettered_messages_above_zero(
    bicep: Callable[[str], BicepTree],
) -> None:
    properties, criterion = _metric_alerts(bicep)["DeadletteredMessages"]
    assert criterion["operator"] == "GreaterThan"
    assert criterion["threshold"] == 0
    assert criterion["dimensions"] == [
        {"name": "EntityName", "operator": "Include", "values": ["queueName"]}
    ]
    assert properties["actions"] == [
        {
            "actionGroupId": {
                "operator": {
                    "type": "property_accessor",
                    "operands": {"operand_1": "actionGroup", "operand_2": "id"},
                }
            }
        }
    ]


def test_service_bus_throttling_alerts_on_any_throttled_request(
    bicep: Callable[[str], BicepTree],
) -> None:
    # The first limit reached as load grows (docs/capacity.md).
    properties, criterion = _metric_alerts(bicep)["ThrottledRequests"]
    assert (criterion["operator"], criterion["threshold"]) == ("GreaterThan", 0)
    assert criterion["timeAggregation"] == "Total"
    assert properties["actions"][0]["actionGroupId"]["operator"]["operands"]["operand_1"] == (
        "actionGroup"
    )


def test_there_are_exactly_the_documented_metric_alerts(
    bicep: Callable[[str], BicepTree],
) -> None:
    assert set(_metric_alerts(bicep)) == {"DeadletteredMessages", "ThrottledRequests"}


def _query_alerts(bicep: Callable[[str], BicepTree]) -> dict[str, dict[str, Any]]:
    alerts = _alerts(bicep)
    rules = alerts.resources_of_type("Microsoft.Insights/scheduledQueryRules")
    found = {}
    for resource in rules.values():
        properties = resource["config"]["properties"]
        assert properties["scopes"] == ["applicationInsightsId"]
        assert properties["actions"] == {
            "actionGroups": [
                {
                    "operator": {
                        "type": "property_accessor",
                        "operands": {"operand_1": "actionGroup", "operand_2": "id"},
                    }
                }
            ]
        }
        (criterion,) = properties["criteria"]["allOf"]
        found[criterion["query"]] = criterion
    return found


@pytest.mark.parametrize(
    ("query", "threshold"),
    [
        ("requests | where toint(resultCode) >= 500", 0),
        ('requests | where resultCode == "401"', "unauthorizedThreshold"),
    ],
    ids=["ingest-5xx", "401-spike"],
)
def test_request_alerts_count_application_insights_requests(
    bicep: Callable[[str], BicepTree], query: str, threshold: object
) -> None:
    criterion = _query_alerts(bicep)[query]
    assert criterion["timeAggregation"] == "Count"
    assert criterion["operator"] == "GreaterThan"
    assert criterion["threshold"] == threshold


def test_there_are_exactly_the_documented_request_alerts(
    bicep: Callable[[str], BicepTree],
) -> None:
    assert len(_query_alerts(bicep)) == 2


def test_the_action_group_emails_the_address_parameter(bicep: Callable[[str], BicepTree]) -> None:
    alerts = _alerts(bicep)
    (group,) = alerts.resources_of_type("Microsoft.Insights/actionGroups").values()
    assert group["config"]["properties"]["emailReceivers"] == "emailReceivers"
    receivers = alerts.variable("emailReceivers")["operator"]["operands"]
    assert receivers["true_value"] == []
    (receiver,) = receivers["false_value"]
    assert receiver["emailAddress"] == "alertEmail"
    # main.bicep takes the address from azd (ALERT_EMAIL) and passes it through.
    main = bicep("main.bicep")
    assert _module_params(main, "alerts")["alertEmail"] == "alertEmail"
    assert main.tree["parameters"]["alertEmail"]["default"] == ""


# ------------------------------------------------------- wiring in main.bicep

# main.bicep module -> its parameter -> the (module, output) main.bicep must pass to it: the
# diagnostics go to this deployment's own workspace and resources, and the alerts watch its
# own queue and Application Insights.
MONITORING_WIRING: dict[str, dict[str, tuple[str, str]]] = {
    "diagnostics": {
        "logAnalyticsWorkspaceId": ("monitoring", "logAnalyticsId"),
        "functionAppName": ("functionApp", "name"),
        "serviceBusNamespaceName": ("serviceBus", "name"),
        "storageAccountName": ("storage", "name"),
        "keyVaultName": ("keyVault", "name"),
    },
    "alerts": {
        "serviceBusNamespaceId": ("serviceBus", "id"),
        "queueName": ("serviceBus", "queueName"),
        "applicationInsightsId": ("monitoring", "applicationInsightsId"),
    },
}


@pytest.mark.parametrize("module", MONITORING_WIRING)
def test_monitoring_watches_this_deployments_own_resources(
    bicep: Callable[[str], BicepTree], module: str
) -> None:
    params = _module_params(bicep("main.bicep"), module)
    wiring = MONITORING_WIRING[module]
    assert {name: _output_of(params[name]) for name in wiring} == wiring
