"""The one typed settings object, built once at the edge and passed down.

Field aliases are the app setting names (a **contract** shared with
`local.settings.json` and Bicep). Only this module reads the environment.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(ValueError):
    """The settings cannot be loaded (unreadable local.settings.json, missing connection)."""


class Settings(BaseSettings):
    """App settings. Python names are snake_case; the aliases are the setting names."""

    model_config = SettingsConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    service_bus_connection: str | None = Field(default=None, alias="ServiceBusConnection")
    service_bus_namespace: str | None = Field(
        default=None, alias="ServiceBusConnection__fullyQualifiedNamespace"
    )
    service_bus_credential: str | None = Field(
        default=None, alias="ServiceBusConnection__credential"
    )
    service_bus_client_id: str | None = Field(default=None, alias="ServiceBusConnection__clientId")

    tables_connection: str | None = Field(default=None, alias="TablesConnection")
    tables_service_uri: str | None = Field(default=None, alias="TablesConnection__tableServiceUri")
    tables_credential: str | None = Field(default=None, alias="TablesConnection__credential")
    tables_client_id: str | None = Field(default=None, alias="TablesConnection__clientId")

    registrations_queue: str = Field(default="registrations", alias="REGISTRATIONS_QUEUE")
    registrations_table: str = Field(default="registrations", alias="REGISTRATIONS_TABLE")
    failures_table: str = Field(default="registrationfailures", alias="FAILURES_TABLE")
    audit_table: str = Field(default="opsaudit", alias="AUDIT_TABLE")
    webhook_secret: SecretStr = Field(default=SecretStr(""), alias="WEBHOOK_SECRET")
    azure_web_jobs_storage: str | None = Field(default=None, alias="AzureWebJobsStorage")
    localdev_function_key: SecretStr = Field(default=SecretStr(""), alias="LOCALDEV_FUNCTION_KEY")

    # Every user, every path: the tenant the reconciler and Event Streams speak for.
    auth0_domain: str | None = Field(default=None, alias="AUTH0_DOMAIN")
    auth0_client_id: str | None = Field(default=None, alias="AUTH0_CLIENT_ID")
    auth0_client_secret: SecretStr = Field(default=SecretStr(""), alias="AUTH0_CLIENT_SECRET")
    auth0_tenant_id: str | None = Field(default=None, alias="AUTH0_TENANT_ID")
    auth0_base_url: str | None = Field(default=None, alias="AUTH0_BASE_URL")
    auth0_events_token: SecretStr = Field(default=SecretStr(""), alias="AUTH0_EVENTS_TOKEN")
    send_fields: str = Field(default="none", alias="SEND_FIELDS")
    reconcile_schedule: str = Field(default="0 */10 * * * *", alias="RECONCILE_SCHEDULE")
    reconcile_max_rps: float = Field(default=1.0, gt=0, alias="RECONCILE_MAX_RPS")
    reconcile_settle_lag_seconds: int = Field(
        default=120, ge=0, alias="RECONCILE_SETTLE_LAG_SECONDS"
    )
    reconcile_state_table: str = Field(default="reconcilestate", alias="RECONCILE_STATE_TABLE")
    tombstones_table: str = Field(default="tombstones", alias="TOMBSTONES_TABLE")
    app_audit_table: str = Field(default="apperasures", alias="APP_AUDIT_TABLE")
    # Tracing: spans as JSON lines here when set (the local stack); OpenTelemetry to
    # Application Insights when the connection string is set (Azure).
    localdev_trace_file: str | None = Field(default=None, alias="LOCALDEV_TRACE_FILE")
    applicationinsights_connection_string: str | None = Field(
        default=None, alias="APPLICATIONINSIGHTS_CONNECTION_STRING"
    )
    # `ops status`: the management (HTTPS) endpoint when it is not the namespace itself
    # (the local emulator serves it on a port of its own), and a PEM CA bundle to trust.
    service_bus_admin_endpoint: str | None = Field(default=None, alias="SERVICEBUS_ADMIN_ENDPOINT")
    service_bus_admin_ca_bundle: str | None = Field(
        default=None, alias="SERVICEBUS_ADMIN_CA_BUNDLE"
    )

    @property
    def auth0_events_tokens(self) -> list[str]:
        """Every accepted Event Streams bearer token (several during a rotation)."""
        return self.auth0_events_token.get_secret_value().split()

    @property
    def auth0_api_base(self) -> str | None:
        """Where `/oauth/token` and `/api/v2` live: AUTH0_BASE_URL, else https://AUTH0_DOMAIN."""
        if self.auth0_base_url:
            return self.auth0_base_url.rstrip("/")
        return f"https://{self.auth0_domain}" if self.auth0_domain else None

    @property
    def webhook_secrets(self) -> list[str]:
        """Every configured `whsec_...` secret (several during a rotation)."""
        return self.webhook_secret.get_secret_value().split()

    def require_service_bus(self) -> None:
        """Raise `SettingsError` unless a Service Bus connection is configured."""
        if not (self.service_bus_connection or self.service_bus_namespace):
            raise SettingsError(
                "set ServiceBusConnection or ServiceBusConnection__fullyQualifiedNamespace"
            )

    def require_tables(self) -> None:
        """Raise `SettingsError` unless a Table Storage connection is configured."""
        if not (self.tables_connection or self.tables_service_uri):
            raise SettingsError("set TablesConnection or TablesConnection__tableServiceUri")


def _aliases() -> list[str]:
    return [field.alias or name for name, field in Settings.model_fields.items()]


def _read_local_settings(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise SettingsError(f"cannot read {path}: {exc}") from exc
    values = document.get("Values", {}) if isinstance(document, dict) else None
    if not isinstance(values, dict):
        raise SettingsError(f"{path}: 'Values' must be a JSON object")
    return {str(key): value for key, value in values.items() if value is not None}


def load_settings(local_settings_path: Path | None = None) -> Settings:
    """Build `Settings`: the environment wins over `local.settings.json` `Values`.

    With no path only the environment is read (what runs in Azure). A path that
    does not exist counts as empty; a malformed file raises `SettingsError`.
    """
    merged: dict[str, Any] = {}
    if local_settings_path is not None:
        merged.update(_read_local_settings(local_settings_path))
    for alias in _aliases():
        if alias in os.environ:
            merged[alias] = os.environ[alias]
    known = set(_aliases())
    return Settings.model_validate({key: value for key, value in merged.items() if key in known})
