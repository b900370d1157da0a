"""Role assignments: deterministic names, the role's name beside its id, and
exactly the privileges the design needs (a change here is a security review).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.infra.bicep import BicepTree

# Azure built-in role definition ids (identical in every tenant) -> role name.
BUILT_IN_ROLES = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
    "76199698-9eea-4c19-bc75-cec21354c6b6": "Storage Table Data Reader",
    "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39": "Azure Service Bus Data Sender",
    "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0": "Azure Service Bus Data Receiver",
    "090c5cfd-751d-490a-894a-3ce6f1109419": "Azure Service Bus Data Owner",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": "Key Vault Secrets Officer",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
}

APP = "appPrincipalId"
OPERATORS = "operatorPrincipalId"
TABLE_CONTRIBUTOR = "Storage Table Data Contributor"
TABLE_READER = "Storage Table Data Reader"

# (scope resource, role, "?" when a parameter can turn the assignment off) the deployment
# grants the app. Table roles are scoped to one table each: see the tests below for what
# that protects.
APP_GRANTS = {
    ("storage", "Storage Blob Data Owner", ""),
    ("registrationsTable", TABLE_CONTRIBUTOR, ""),
    ("failuresTable", TABLE_CONTRIBUTOR, ""),
    ("tombstonesTable", TABLE_CONTRIBUTOR, ""),
    ("reconcileStateTable", TABLE_CONTRIBUTOR, ""),
    ("appAuditTable", TABLE_CONTRIBUTOR, ""),
    ("queue", "Azure Service Bus Data Sender", ""),
    ("queue", "Azure Service Bus Data Receiver", ""),
    ("queue", "Azure Service Bus Data Owner", "?"),
    ("vault", "Key Vault Secrets User", ""),
    ("applicationInsights", "Monitoring Metrics Publisher", ""),
}

# (scope resource, role) the deployment grants the operators: every one of them is behind
# a condition, as there may be no operator principal at all.
OPERATOR_GRANTS = {
    ("auditTable", TABLE_CONTRIBUTOR),
    ("registrationsTable", TABLE_CONTRIBUTOR),
    ("failuresTable", TABLE_CONTRIBUTOR),
    ("tombstonesTable", TABLE_CONTRIBUTOR),
    ("appAuditTable", TABLE_READER),
    ("queue", "Azure Service Bus Data Owner"),
    ("queue", "Azure Service Bus Data Sender"),
    ("queue", "Azure Service Bus Data Receiver"),
    ("vault", "Key Vault Secrets Officer"),
}

# (principal, scope resource, role, "?" for a conditional assignment)
EXPECTED_GRANTS = {(APP, *grant) for grant in APP_GRANTS} | {
    (OPERATORS, scope, role, "?") for scope, role in OPERATOR_GRANTS
}

TABLE = "Microsoft.Storage/storageAccounts/tableServices/tables"

ROLE_ASSIGNMENT = "Microsoft.Authorization/roleAssignments"


@pytest.fixture
def access(bicep: Callable[[str], BicepTree]) -> BicepTree:
    """access.bicep: the role assignments under test."""
    return bicep("app/access.bicep")


@pytest.fixture
def main(bicep: Callable[[str], BicepTree]) -> BicepTree:
    """main.bicep: what it passes to access.bicep (table names, principals)."""
    return bicep("main.bicep")


def _role_variables(access: BicepTree) -> dict[str, str]:
    """var name -> built-in role name, for every roleDefinitions id variable."""
    roles = {}
    for name, variable in access.tree["variables"].items():
        function = (
            variable["value"].get("function", {}) if isinstance(variable["value"], dict) else {}
        )
        parameters = function.get("parameters", {})
        if parameters.get("resource_type") == "Microsoft.Authorization/roleDefinitions":
            role_id = parameters["resource_name_1"]
            assert role_id in BUILT_IN_ROLES, f"{name}: unknown role definition {role_id}"
            roles[name] = BUILT_IN_ROLES[role_id]
    return roles


def _assignments(access: BicepTree) -> dict[str, tuple[dict[str, Any], bool]]:
    found = {}
    for symbol in access.resources_of_type(ROLE_ASSIGNMENT):
        raw = access.resources[symbol]["config"]
        found[symbol] = (access.resource_config(symbol), "condition" in raw)
    return found


def test_role_variables_carry_the_role_name_in_a_comment(access: BicepTree) -> None:
    lines = access.path.read_text(encoding="utf-8").splitlines()
    roles = _role_variables(access)
    assert roles, "access.bicep defines no role definition variables"
    for variable, role_name in roles.items():
        (index,) = [i for i, line in enumerate(lines) if line.startswith(f"var {variable} =")]
        assert lines[index - 1].strip() == f"// {role_name}", f"var {variable} is {role_name}"


def test_assignment_names_are_guid_of_scope_principal_role(access: BicepTree) -> None:
    for symbol, (config, _) in _assignments(access).items():
        guid = config["name"]["function"]
        assert guid["type"] == "guid", symbol
        parameters = guid["parameters"]
        scope_id = parameters["base_string"]["operator"]["operands"]
        assert scope_id == {"operand_1": config["scope"], "operand_2": "id"}, symbol
        assert parameters["extra_string_1"] == config["properties"]["principalId"], symbol
        assert parameters["extra_string_2"] == config["properties"]["roleDefinitionId"], symbol
        assert len(parameters) == 3, f"{symbol}: guid(scope.id, principal, role) only"


def test_each_assignment_comment_starts_with_its_role_name(access: BicepTree) -> None:
    roles = _role_variables(access)
    text = access.path.read_text(encoding="utf-8")
    for symbol, (config, _) in _assignments(access).items():
        role_name = roles[config["properties"]["roleDefinitionId"]]
        pattern = rf"// {re.escape(role_name)}[ :(].*(\n//.*)*\nresource {symbol} "
        assert re.search(pattern, text), f"resource {symbol} needs a '// {role_name}: why' comment"


def test_grants_are_exactly_the_expected_least_privilege_set(access: BicepTree) -> None:
    roles = _role_variables(access)
    granted = {
        (
            config["properties"]["principalId"],
            config["scope"],
            roles[config["properties"]["roleDefinitionId"]],
            "?" if conditional else "",
        )
        for config, conditional in _assignments(access).values()
    }
    assert granted == EXPECTED_GRANTS


def test_app_identity_is_declared_as_a_service_principal(access: BicepTree) -> None:
    # Without principalType, ARM may look up a just-created identity before
    # Entra replicates it and fail the deployment.
    for symbol, (config, _) in _assignments(access).items():
        if config["properties"]["principalId"] == "appPrincipalId":
            assert config["properties"]["principalType"] == "ServicePrincipal", symbol


def _table_scopes(access: BicepTree) -> dict[str, str]:
    """Existing table symbol -> the access.bicep parameter naming that table."""
    tables = {
        symbol: resource
        for symbol, resource in access.resources.items()
        if resource["type"] == TABLE and resource.get("existing")
    }
    assert tables, "access.bicep declares no table to scope roles to"
    return {symbol: resource["config"]["name"] for symbol, resource in tables.items()}


def _table_name_in_main(main: BicepTree, access_parameter: str) -> str:
    """The table name main.bicep passes to access.bicep for one of its parameters."""
    passed = main.tree["modules"]["access"]["config"]["params"][access_parameter]
    name: str = main.variable(passed)
    return name


def _grants_by_table(access: BicepTree, main: BicepTree, principal: str) -> dict[str, set[str]]:
    """Deployed table name -> the roles `principal` holds on it."""
    roles = _role_variables(access)
    scopes = _table_scopes(access)
    held: dict[str, set[str]] = {}
    for config, _ in _assignments(access).values():
        if config["properties"]["principalId"] != principal or config["scope"] not in scopes:
            continue
        table = _table_name_in_main(main, scopes[config["scope"]])
        held.setdefault(table, set()).add(roles[config["properties"]["roleDefinitionId"]])
    return held


def test_no_storage_data_role_reaches_beyond_the_tables_it_names(access: BicepTree) -> None:
    # An account-scoped table role would cover the operators' audit table too.
    roles = _role_variables(access)
    for symbol, (config, _) in _assignments(access).items():
        role = roles[config["properties"]["roleDefinitionId"]]
        if role.startswith("Storage Table"):
            assert config["scope"] in _table_scopes(access), f"{symbol}: {role} above table scope"


def test_the_app_holds_no_role_on_the_operators_audit_table(
    access: BicepTree, main: BicepTree
) -> None:
    # Given the deployed table names, resolved through main.bicep
    held = _grants_by_table(access, main, APP)
    # Then the app writes its own tables, and the operators' audit log is not among them
    assert main.variable("auditTableName") == "opsaudit"
    assert "opsaudit" not in held
    assert held == {
        name: {TABLE_CONTRIBUTOR}
        for name in (
            "registrations",
            "registrationfailures",
            "tombstones",
            "reconcilestate",
            "apperasures",
        )
    }


def test_operators_write_their_audit_log_and_only_read_the_apps(
    access: BicepTree, main: BicepTree
) -> None:
    held = _grants_by_table(access, main, OPERATORS)
    assert held["opsaudit"] == {TABLE_CONTRIBUTOR}
    assert held["apperasures"] == {TABLE_READER}, "operators must not rewrite the app's record"
    # `ops reconcile` neither reads nor moves the timer's checkpoint
    assert "reconcilestate" not in held


def test_operator_service_bus_roles_are_data_owner_or_sender_receiver_never_both(
    access: BicepTree,
) -> None:
    # Data Owner (Manage rights for `ops status`) already includes send and
    # receive; the parameter picks one set, so the two never overlap.
    roles = _role_variables(access)
    conditions = {
        roles[config["properties"]["roleDefinitionId"]]: access.resources[symbol]["config"][
            "condition"
        ]
        for symbol, (config, _) in _assignments(access).items()
        if config["properties"]["principalId"] == OPERATORS and config["scope"] == "queue"
    }
    manage = {
        "operator": {
            "type": "and",
            "operands": {"operand_1": "hasOperators", "operand_2": "operatorServiceBusManage"},
        }
    }
    assert conditions["Azure Service Bus Data Owner"] == manage
    without_manage = {
        "operator": {
            "type": "and",
            "operands": {
                "operand_1": "hasOperators",
                "operand_2": {
                    "operator": {
                        "type": "not",
                        "operands": {"bool_value": "operatorServiceBusManage"},
                    }
                },
            },
        }
    }
    for role in ("Azure Service Bus Data Sender", "Azure Service Bus Data Receiver"):
        assert conditions[role] == without_manage, role


def test_operators_default_to_the_deploying_principal(main: BicepTree) -> None:
    # A one-person deployment can run `ops` at once; a team names its group.
    fallback = main.variable("operatorPrincipalId")["operator"]
    assert fallback["type"] == "conditional"
    assert fallback["operands"]["true_value"] == "principalId"
    assert fallback["operands"]["false_value"] == "operatorsPrincipalId"
    passed = main.tree["modules"]["access"]["config"]["params"]
    assert passed["operatorPrincipalId"] == "operatorPrincipalId"
