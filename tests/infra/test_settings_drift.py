"""The Bicep, the code and the emulator config agree (docs/architecture.md "Settings",
"Queue properties").

(a) Every app setting the code reads is provided by the Function App's app
    settings in infra/app/function.bicep. The names come from the code itself:
    the `Settings` model's aliases (shared/settings.py) and the bindings the
    Functions host indexes from function_app.py (`connection=...`,
    `%SETTING%` expressions). A connection may be provided in its identity
    form (`<Name>__fullyQualifiedNamespace`, `<Name>__tableServiceUri`, ...),
    which is the only form this deployment uses.
(b) The queue's properties in Bicep, the emulator's config
    (localdev/servicebus/config.json) and docs/architecture.md's queue properties are the same.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from pydantic import AliasChoices, AliasPath, SecretStr

from localdev.host.config import StartupError
from localdev.host.discovery import load_app_module
from tests.infra.bicep import REPO, BicepTree, app_settings, iso_duration

# Settings the code reads that Azure must NOT get from Bicep, each with why.
NOT_DEPLOYED: dict[str, str] = {
    "LOCALDEV_FUNCTION_KEY": (
        "the local Functions host's own function key (localdev/host); in Azure the "
        "platform issues and stores function keys (`az functionapp keys list`)"
    ),
    "AUTH0_BASE_URL": (
        "points the reconciler at a local Auth0 stand-in (http://127.0.0.1:...); in "
        "Azure the Management API lives at https://AUTH0_DOMAIN, which is the default"
    ),
    "SERVICEBUS_ADMIN_ENDPOINT": (
        "`ops status` only, for the local emulator, which serves the administration "
        "API on a port of its own; in Azure the namespace's host serves it"
    ),
    "SERVICEBUS_ADMIN_CA_BUNDLE": (
        "`ops status` only: the CA of the local emulator's generated certificate; "
        "Azure's certificates chain to public roots"
    ),
}

# Settings named LOCALDEV_* belong to the local stack (its function key, the
# local span file, ...): never deployed, whatever is added later.
LOCAL_ONLY_PREFIX = "LOCALDEV_"

# Secrets: each deployed as a Key Vault reference (an unresolved reference
# reaches the app as the literal text, which the app refuses).
KEY_VAULT_SETTINGS = {
    "WEBHOOK_SECRET": "webhookSecretUri",
    "AUTH0_CLIENT_SECRET": "auth0ClientSecretUri",
    "AUTH0_EVENTS_TOKEN": "auth0EventsTokenUri",
}

# Plain settings whose Bicep parameter default must equal the code's default.
DEFAULTED_SETTINGS = {
    "send_fields": "sendFields",
    "reconcile_schedule": "reconcileSchedule",
    "reconcile_max_rps": "reconcileMaxRps",
    "reconcile_settle_lag_seconds": "reconcileSettleLagSeconds",
}

# Suffixes of identity-based connections (Functions "<Name>__<property>" form):
# any of them stands in for the connection-string setting "<Name>".
IDENTITY_CONNECTION_SUFFIXES = (
    "__fullyQualifiedNamespace",
    "__tableServiceUri",
    "__accountName",
    "__blobServiceUri",
    "__queueServiceUri",
    "__serviceUri",
)

# Flex Consumption rejects these (the runtime lives in functionAppConfig), and
# a connection string would carry a key this deployment never creates.
FORBIDDEN_ON_FLEX = (
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_EXTENSION_VERSION",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "AzureWebJobsStorage",
    "ServiceBusConnection",
    "TablesConnection",
)

# docs/architecture.md, "Queue properties (Bicep and the emulator's config agree)".
DESIGN_QUEUE_DEFAULTS: dict[str, Any] = {
    "MaxDeliveryCount": 10,
    "LockDuration": timedelta(minutes=1),
    "RequiresDuplicateDetection": True,
    "DuplicateDetectionHistoryTimeWindow": timedelta(hours=1),
    "DeadLetteringOnMessageExpiration": True,
    "DefaultMessageTimeToLive": timedelta(days=14),
}

EMULATOR_CONFIG = REPO / "localdev" / "servicebus" / "config.json"


# ---------------------------------------------------------------- helpers


def _field_names(field: Any, python_name: str) -> set[str]:
    """Every environment name a pydantic field accepts."""
    names = {field.alias or python_name}
    validation = field.validation_alias
    if isinstance(validation, str):
        names.add(validation)
    elif isinstance(validation, AliasChoices):
        names |= {choice for choice in validation.choices if isinstance(choice, str)}
    elif isinstance(validation, AliasPath):
        names.add(str(validation.path[0]))
    return names


def settings_the_code_reads() -> dict[str, set[str]]:
    """Field -> the setting names it accepts, from the `Settings` model itself."""
    settings_module = importlib.import_module("shared.settings")
    fields = settings_module.Settings.model_fields
    assert fields, "shared.settings.Settings declares no fields"
    return {name: _field_names(field, name) for name, field in fields.items()}


def binding_settings() -> tuple[set[str], set[str]]:
    """(connection names, %SETTING% names) of every binding the host indexes."""
    # A fresh import, as the host loads it: get_functions() may run only once per app
    # object, and other tests in the same session index the imported `function_app.app`.
    try:
        app = load_app_module(REPO / "function_app.py")
    except StartupError as exc:
        pytest.fail(f"cannot import function_app.py (the Functions entry point): {exc}")
    functions = app.get_functions()
    assert functions, "function_app.app registers no functions"
    connections: set[str] = set()
    expressions: set[str] = set()
    for function in functions:
        for binding in function.get_bindings():
            for key, value in binding.get_dict_repr().items():
                if not isinstance(value, str):
                    continue
                if key == "connection":
                    connections.add(value)
                expressions |= set(re.findall(r"%([^%]+)%", value))
    return connections, expressions


def _local_only(names: set[str]) -> bool:
    return any(name.startswith(LOCAL_ONLY_PREFIX) for name in names)


def provides(deployed: dict[str, Any], name: str) -> bool:
    """Whether the deployed settings give the code `name`, directly or in identity form."""
    if name in deployed:
        return True
    return any(name + suffix in deployed for suffix in IDENTITY_CONNECTION_SUFFIXES)


@pytest.fixture(scope="module")
def deployed(bicep: Callable[[str], BicepTree]) -> dict[str, Any]:
    return app_settings(bicep("app/function.bicep"))


# ------------------------------------------------------- (a) app settings


def test_every_setting_the_code_reads_is_deployed(deployed: dict[str, Any]) -> None:
    missing = []
    for field, names in sorted(settings_the_code_reads().items()):
        if names & NOT_DEPLOYED.keys() or _local_only(names):
            continue
        if not any(provides(deployed, name) for name in names):
            missing.append(f"{field} ({' / '.join(sorted(names))})")
    assert not missing, (
        "settings the code reads but infra/app/function.bicep does not set: "
        f"{', '.join(missing)}. Add them to the app settings, or to NOT_DEPLOYED with the reason."
    )


def test_exclusions_still_name_real_settings() -> None:
    # A stale exclusion would silently hide a future setting of the same name.
    read = set().union(*settings_the_code_reads().values())
    assert set(NOT_DEPLOYED) <= read, f"NOT_DEPLOYED names no setting: {set(NOT_DEPLOYED) - read}"


def test_every_binding_setting_is_deployed(deployed: dict[str, Any]) -> None:
    connections, expressions = binding_settings()
    assert "ServiceBusConnection" in connections, "the processor's trigger connection"
    for connection in sorted(connections):
        assert provides(deployed, connection), f"binding connection {connection} is not set"
    # The host resolves %NAME% from app settings only: a code default does not help it.
    for name in sorted(expressions):
        assert name in deployed, f"binding expression %{name}% has no app setting"


def test_identity_connections_name_the_user_assigned_identity(deployed: dict[str, Any]) -> None:
    # The app has only a user-assigned identity: "managedidentity" without a
    # client id would look for a system-assigned one and fail at runtime.
    prefixes = {
        name.split("__", 1)[0] for name in deployed if name.endswith(IDENTITY_CONNECTION_SUFFIXES)
    }
    assert {"AzureWebJobsStorage", "ServiceBusConnection", "TablesConnection"} <= prefixes
    for prefix in sorted(prefixes):
        assert deployed.get(f"{prefix}__credential") == "managedidentity", prefix
        assert deployed.get(f"{prefix}__clientId") == "identityClientId", prefix


def test_nothing_flex_rejects_and_no_keys(deployed: dict[str, Any]) -> None:
    for name in FORBIDDEN_ON_FLEX:
        assert name not in deployed, f"{name} must not be set on Flex Consumption / keyless"
    for name, value in deployed.items():
        text = json.dumps(value)
        assert "AccountKey=" not in text, name
        assert "SharedAccessKey" not in text, name


def test_local_only_and_excluded_settings_are_not_deployed(deployed: dict[str, Any]) -> None:
    for name in deployed:
        assert not name.startswith(LOCAL_ONLY_PREFIX), f"{name} is a local-stack setting"
    for name, why in NOT_DEPLOYED.items():
        assert name not in deployed, f"{name} must not be set in Azure: {why}"


def test_webhook_secret_is_a_key_vault_reference(deployed: dict[str, Any]) -> None:
    assert deployed["WEBHOOK_SECRET"] == "@Microsoft.KeyVault(SecretUri=${webhookSecretUri})"


def test_auth0_secrets_are_key_vault_references_or_empty(deployed: dict[str, Any]) -> None:
    # Optional secrets: a reference when the secret exists, else empty, never
    # a reference to a secret that was not created.
    for name in ("AUTH0_CLIENT_SECRET", "AUTH0_EVENTS_TOKEN"):
        uri = KEY_VAULT_SETTINGS[name]
        assert deployed[name] == {
            "operator": {
                "type": "conditional",
                "operands": {
                    "condition": {
                        "function": {"type": "empty", "parameters": {"item_to_test": uri}}
                    },
                    "true_value": "",
                    "false_value": f"@Microsoft.KeyVault(SecretUri=${{{uri}}})",
                },
            }
        }, name


def test_every_secret_setting_of_the_code_comes_from_key_vault(deployed: dict[str, Any]) -> None:
    # A new SecretStr setting must be added here, with its Key Vault reference.
    fields = importlib.import_module("shared.settings").Settings.model_fields
    secrets = {
        field.alias
        for field in fields.values()
        if field.annotation is SecretStr
        and field.alias
        and field.alias not in NOT_DEPLOYED
        and not _local_only({field.alias})
    }
    assert secrets == set(KEY_VAULT_SETTINGS)
    for name, uri in KEY_VAULT_SETTINGS.items():
        assert f"SecretUri=${{{uri}}}" in json.dumps(deployed[name]), name


def test_bicep_defaults_equal_the_code_defaults(bicep: Callable[[str], BicepTree]) -> None:
    # Given the code's defaults, and the same setting's parameter in both Bicep files
    fields = importlib.import_module("shared.settings").Settings.model_fields
    function, main = bicep("app/function.bicep"), bicep("main.bicep")
    for field, parameter in DEFAULTED_SETTINGS.items():
        code_default = fields[field].default
        for tree in (function, main):
            bicep_default = tree.tree["parameters"][parameter]["default"]
            # Then both say the same thing (Bicep has no float: RECONCILE_MAX_RPS is a string)
            assert type(code_default)(bicep_default) == code_default, (tree.path.name, parameter)


def test_resource_names_match_the_code_defaults(bicep: Callable[[str], BicepTree]) -> None:
    # main.bicep names the queue and tables; the code's defaults (used by
    # local runs and ops) must name the same ones.
    main = bicep("main.bicep")
    defaults = importlib.import_module("shared.settings").Settings.model_fields
    expected = {
        "registrationsQueueName": defaults["registrations_queue"].default,
        "registrationsTableName": defaults["registrations_table"].default,
        "failuresTableName": defaults["failures_table"].default,
        "auditTableName": defaults["audit_table"].default,
        "tombstonesTableName": defaults["tombstones_table"].default,
        "reconcileStateTableName": defaults["reconcile_state_table"].default,
        "appAuditTableName": defaults["app_audit_table"].default,
    }
    assert {name: main.variable(name) for name in expected} == expected


# ----------------------------------------------------- (b) queue defaults


def _normalise(properties: dict[str, Any]) -> dict[str, Any]:
    """Design-relevant queue properties, keyed PascalCase, durations as timedelta."""
    by_key = {key[0].upper() + key[1:]: value for key, value in properties.items()}
    result = {}
    for key, expected in DESIGN_QUEUE_DEFAULTS.items():
        value = by_key.get(key)
        if isinstance(expected, timedelta) and isinstance(value, str):
            value = iso_duration(value)
        result[key] = value
    return result


def test_bicep_queue_has_the_design_defaults(bicep: Callable[[str], BicepTree]) -> None:
    servicebus = bicep("app/servicebus.bicep")
    (queue,) = servicebus.resources_of_type("Microsoft.ServiceBus/namespaces/queues").values()
    assert _normalise(queue["config"]["properties"]) == DESIGN_QUEUE_DEFAULTS


def test_emulator_queue_has_the_design_defaults(bicep: Callable[[str], BicepTree]) -> None:
    if not EMULATOR_CONFIG.is_file():
        pytest.fail(f"{EMULATOR_CONFIG.relative_to(REPO)} (the emulator's queue config) is missing")
    config = json.loads(EMULATOR_CONFIG.read_text(encoding="utf-8"))
    queue_name = bicep("main.bicep").variable("registrationsQueueName")
    queues = [
        queue
        for namespace in config["UserConfig"]["Namespaces"]
        for queue in namespace.get("Queues", [])
        if queue["Name"] == queue_name
    ]
    assert len(queues) == 1, f"expected one queue {queue_name!r} in {EMULATOR_CONFIG}"
    assert _normalise(queues[0]["Properties"]) == DESIGN_QUEUE_DEFAULTS


def test_iso_duration_reads_the_forms_in_use() -> None:
    assert iso_duration("PT1M") == timedelta(minutes=1)
    assert iso_duration("PT1H") == timedelta(hours=1)
    assert iso_duration("P14D") == timedelta(days=14)
    assert iso_duration("P1DT2H3M4.5S") == timedelta(days=1, hours=2, minutes=3, seconds=4.5)
    for bad in ("P", "PT", "14D", "P1M", "P1Y", "PT1X"):
        with pytest.raises(ValueError):
            iso_duration(bad)
