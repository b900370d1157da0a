"""The security and hosting properties the design asks for, read from the Bicep.

checkov covers generic rules; these pin this deployment's own choices
(keyless everywhere, Flex Consumption with Python 3.11, Standard Service Bus
for duplicate detection) so a later edit cannot drop one silently.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tests.infra.bicep import BicepTree


def _only(tree: BicepTree, resource_type: str) -> dict[str, Any]:
    (resource,) = tree.resources_of_type(resource_type).values()
    return dict(resource["config"])


def test_storage_is_keyless_and_private(bicep: Callable[[str], BicepTree]) -> None:
    storage = _only(bicep("app/storage.bicep"), "Microsoft.Storage/storageAccounts")
    properties = storage["properties"]
    assert properties["allowSharedKeyAccess"] is False
    assert properties["allowBlobPublicAccess"] is False
    assert properties["minimumTlsVersion"] == "TLS1_2"
    assert properties["supportsHttpsTrafficOnly"] is True


def test_storage_declares_every_table_and_the_deployment_container(
    bicep: Callable[[str], BicepTree],
) -> None:
    storage = bicep("app/storage.bicep")
    tables = storage.resources_of_type("Microsoft.Storage/storageAccounts/tableServices/tables")
    assert sorted(t["config"]["name"] for t in tables.values()) == [
        "appAuditTableName",
        "auditTableName",
        "failuresTableName",
        "reconcileStateTableName",
        "registrationsTableName",
        "tombstonesTableName",
    ]
    # main.bicep passes each name through (a table missing here has no roles either)
    passed = bicep("main.bicep").tree["modules"]["storage"]["config"]["params"]
    for table in tables.values():
        parameter = table["config"]["name"]
        assert passed[parameter] == parameter, parameter
    containers = storage.resources_of_type(
        "Microsoft.Storage/storageAccounts/blobServices/containers"
    )
    (container,) = containers.values()
    assert container["config"]["properties"]["publicAccess"] == "None"


def test_service_bus_defaults_to_standard_and_is_entra_only(
    bicep: Callable[[str], BicepTree],
) -> None:
    # Basic has no duplicate detection, which the design relies on.
    servicebus = bicep("app/servicebus.bicep")
    assert servicebus.tree["parameters"]["namespaceTier"]["default"] == "Standard"
    allowed = servicebus.tree["parameters"]["namespaceTier"]["decorators"][0]
    assert allowed == {"type": "allowed", "argument": ["Standard", "Premium"]}
    namespace = _only(servicebus, "Microsoft.ServiceBus/namespaces")
    assert namespace["sku"] == "namespaceSku"
    assert namespace["properties"]["disableLocalAuth"] is True
    assert namespace["properties"]["minimumTlsVersion"] == "1.2"


def test_key_vault_uses_rbac_soft_delete_and_purge_protection(
    bicep: Callable[[str], BicepTree],
) -> None:
    vault = _only(bicep("app/keyvault.bicep"), "Microsoft.KeyVault/vaults")["properties"]
    assert vault["enableRbacAuthorization"] is True
    assert vault["enableSoftDelete"] is True
    assert vault["enablePurgeProtection"] is True


def test_application_insights_accepts_only_entra_ingestion(
    bicep: Callable[[str], BicepTree],
) -> None:
    component = _only(bicep("app/monitoring.bicep"), "Microsoft.Insights/components")
    assert component["properties"]["DisableLocalAuth"] is True


def test_function_app_is_flex_consumption_python_311_with_the_identity(
    bicep: Callable[[str], BicepTree],
) -> None:
    function = bicep("app/function.bicep")
    plan = _only(function, "Microsoft.Web/serverfarms")
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    site = _only(function, "Microsoft.Web/sites")
    assert site["identity"]["type"] == "UserAssigned"
    properties = site["properties"]
    assert properties["httpsOnly"] is True
    assert properties["keyVaultReferenceIdentity"] == "identityId"
    config = properties["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.11"}
    storage = config["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    assert storage["authentication"] == {
        "type": "UserAssignedIdentity",
        "userAssignedIdentityResourceId": "identityId",
    }
    scale = config["scaleAndConcurrency"]
    assert {"instanceMemoryMB", "maximumInstanceCount"} <= scale.keys()


def test_outputs_are_upper_snake_and_include_what_the_docs_use(
    bicep: Callable[[str], BicepTree],
) -> None:
    outputs = bicep("main.bicep").tree["outputs"]
    for name in outputs:
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", name), f"output {name} is not UPPER_SNAKE"
    assert {
        "AZURE_LOCATION",
        "AZURE_FUNCTION_APP_NAME",
        "SERVICEBUS_NAMESPACE",
        "TABLES_SERVICE_URI",
        "INGEST_URL",
    } <= outputs.keys()


def test_service_bus_queue_size_follows_the_tier(bicep: Callable[[str], BicepTree]) -> None:
    # 5 GB is Standard's ceiling (15 minutes of backlog at the design peak);
    # Premium allows 80 GB, and the capacity plan counts on it.
    params = bicep("main.bicep").tree["modules"]["serviceBus"]["config"]["params"]
    size = params["maxSizeInMegabytes"]["operator"]
    assert size["type"] == "conditional"
    assert size["operands"]["true_value"] == 81920
    assert size["operands"]["false_value"] == 5120
    assert params["premiumMessagingUnits"] == "serviceBusPremiumMessagingUnits"
