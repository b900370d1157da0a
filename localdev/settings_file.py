"""local.settings.json for the local stack: created on first run, completed on later runs.

First run: a copy of local.settings.example.json with fresh secrets (the
webhook secret, the host's function key, the Auth0 stand-in's client
credentials and the Event Streams token). Later runs ADD the keys a newer
example (or the stand-in's wiring) brings and the file lacks, never touching
a key that is already there, and say which keys were added.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localdev.host.auth import new_key

DEFAULT_AUTH0_PORT = 4010
# The emulator's management API (HTTPS), what `ops status` reads the queue counts from.
DEFAULT_SERVICEBUS_ADMIN_PORT = 5300
# Relative to the project root, where `ops` runs (like LOCALDEV_TRACE_FILE).
DEFAULT_SERVICEBUS_ADMIN_CA = ".localdev/servicebus-admin/ca.pem"
# The tenant id `ops send-test-event` signs up users in: the reconciler must speak for it.
LOCAL_TENANT_ID = "local-dev"
AUTH0_DOMAIN = "localdev.auth0.invalid"  # .invalid: nothing real can ever answer for it


class SettingsFileError(RuntimeError):
    """local.settings.json cannot be created or completed; the message says why."""


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: `whsec_` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


# Generated per file, never shared: a fresh value when the key is missing or empty on creation.
GENERATED: dict[str, Callable[[], str]] = {
    "WEBHOOK_SECRET": new_webhook_secret,
    "LOCALDEV_FUNCTION_KEY": new_key,
    "AUTH0_CLIENT_ID": lambda: "localdev-" + secrets.token_hex(12),
    "AUTH0_CLIENT_SECRET": lambda: secrets.token_urlsafe(48),
    "AUTH0_EVENTS_TOKEN": lambda: secrets.token_urlsafe(32),
}


def auth0_url(port: int) -> str:
    """The Auth0 stand-in's base URL (AUTH0_BASE_URL) on `port`."""
    return f"http://127.0.0.1:{port}"


DEFAULT_TRACE_FILE = ".localdev/traces/spans.jsonl"


def local_values(auth0_port: int = DEFAULT_AUTH0_PORT) -> dict[str, str]:
    """The non-secret keys the local stack needs, pointing at its own Auth0 stand-in."""
    return {
        "AUTH0_DOMAIN": AUTH0_DOMAIN,
        "AUTH0_TENANT_ID": LOCAL_TENANT_ID,
        "AUTH0_BASE_URL": auth0_url(auth0_port),
        "SEND_FIELDS": "none",
        "LOCALDEV_TRACE_FILE": DEFAULT_TRACE_FILE,
        "SERVICEBUS_ADMIN_ENDPOINT": admin_endpoint(DEFAULT_SERVICEBUS_ADMIN_PORT),
        "SERVICEBUS_ADMIN_CA_BUNDLE": DEFAULT_SERVICEBUS_ADMIN_CA,
    }


def admin_endpoint(port: int) -> str:
    """SERVICEBUS_ADMIN_ENDPOINT for the emulator's management API on `port` (host:port)."""
    return f"localhost:{port}"


@dataclass
class SettingsUpdate:
    """What `ensure_local_settings` did: created the file, or added these keys to it."""

    created: bool = False
    added: list[str] = field(default_factory=list)


def ensure_local_settings(
    settings_path: Path, example_path: Path, auth0_port: int = DEFAULT_AUTH0_PORT
) -> SettingsUpdate:
    """Create the file from the example with fresh secrets, or add the keys it lacks."""
    wanted = _wanted_values(example_path, auth0_port)
    if not settings_path.exists():
        document = json.loads(example_path.read_text(encoding="utf-8"))
        document["Values"] = {key: _filled(key, value) for key, value in wanted.items()}
        _write_private(settings_path, document, create=True)
        return SettingsUpdate(created=True)
    document = _read(settings_path)
    values = document.setdefault("Values", {})
    added = [key for key in wanted if key not in values]
    if added:
        values.update({key: _filled(key, wanted[key]) for key in added})
        _write_private(settings_path, document, create=False)
    return SettingsUpdate(added=added)


def write_ops_settings(settings_path: Path, target: Path, overrides: dict[str, str]) -> Path | None:
    """A copy of the settings file with the stack's actual endpoints, for `ops --settings`.

    Only when the stack runs on other ports than the file names (`overrides`
    not empty); otherwise a stale copy is removed and None returned. The
    user's own file is never rewritten: it keeps describing the default stack.
    """
    if not overrides:
        target.unlink(missing_ok=True)
        return None
    document = _read(settings_path)
    document.setdefault("Values", {}).update(overrides)
    target.unlink(missing_ok=True)  # created exclusively below, owner-only: it holds secrets
    _write_private(target, document, create=True)
    return target


def _wanted_values(example_path: Path, auth0_port: int) -> dict[str, Any]:
    if not example_path.exists():
        raise SettingsFileError(f"{example_path} is missing: cannot create local.settings.json")
    example = _read(example_path).get("Values", {})
    wanted: dict[str, Any] = {**example}
    for key, value in local_values(auth0_port).items():
        if not wanted.get(key) or key == "AUTH0_BASE_URL":
            wanted[key] = value
    for key in GENERATED:
        wanted.setdefault(key, "")
    return wanted


def _filled(key: str, value: Any) -> Any:
    return GENERATED[key]() if key in GENERATED and not value else value


def _read(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SettingsFileError(f"{path}: not readable JSON ({exc})") from exc
    if not isinstance(document, dict) or not isinstance(document.get("Values", {}), dict):
        raise SettingsFileError(f"{path}: expected an object with a Values object")
    return document


def _write_private(path: Path, document: dict[str, Any], create: bool) -> None:
    """Write owner-only (it holds secrets); a new file is created exclusively, never clobbered."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, indent=2) + "\n"
    if create:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        return
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    temporary.replace(path)
