"""What can go wrong in an ops command, the exit code each maps to, and the SDK error table.

    OpsError                      exit 1: the command ran and failed
     +-- ServiceUnreachable       a broker or table could not be reached
     +-- IncompleteOperation      some selected messages were not handled
    UsageProblem                  exit 2: the command line asks for something invalid

Every error carries one line of text for the operator; the CLI adapter prints
it and never a stack trace. SDK exceptions are converted where the SDK is
called, through `sdk_errors(where)` and its one table `SDK_ERRORS`
(`shared.errors.map_exceptions`: the most specific class wins), so nothing
above the adapters sees them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from azure.core.exceptions import AzureError, ClientAuthenticationError, ServiceRequestError
from azure.servicebus.exceptions import (
    MessagingEntityNotFoundError,
    OperationTimeoutError,
    ServiceBusAuthenticationError,
    ServiceBusAuthorizationError,
    ServiceBusCommunicationError,
    ServiceBusConnectionError,
    ServiceBusError,
)

from shared.errors import map_exceptions

EXIT_FAILED = 1
EXIT_USAGE = 2


class OpsError(Exception):
    """A command ran and failed; the message is one line for the operator."""

    exit_code = EXIT_FAILED


class ServiceUnreachable(OpsError):
    """Service Bus or Table Storage did not answer (wrong endpoint, down, refused)."""


class IncompleteOperation(OpsError):
    """Some of the selected messages were not replayed or purged; see the report."""


class UsageProblem(Exception):
    """The command line is invalid (missing selection, conflicting flags, bad value)."""

    exit_code = EXIT_USAGE


def one_line(text: object) -> str:
    """Squash an error text to one line: SDK messages often span several."""
    return " ".join(str(text).split())


# SDK error -> (ops error, text); `{where}` names the queue or table, `{error}` the SDK's words.
# Service Bus errors derive from AzureError, so the most specific entry must (and does) win.
SDK_ERRORS: Mapping[type[Exception], tuple[type[OpsError], str]] = {
    ServiceBusConnectionError: (ServiceUnreachable, "Service Bus unreachable ({where}): {error}"),
    ServiceBusCommunicationError: (
        ServiceUnreachable,
        "Service Bus unreachable ({where}): {error}",
    ),
    OperationTimeoutError: (ServiceUnreachable, "Service Bus unreachable ({where}): {error}"),
    ServiceBusAuthenticationError: (OpsError, "Service Bus refused access ({where}): {error}"),
    ServiceBusAuthorizationError: (OpsError, "Service Bus refused access ({where}): {error}"),
    MessagingEntityNotFoundError: (OpsError, "{where} does not exist: {error}"),
    ServiceBusError: (OpsError, "Service Bus error ({where}): {error}"),
    ServiceRequestError: (ServiceUnreachable, "Table Storage unreachable ({where}): {error}"),
    ClientAuthenticationError: (
        OpsError,
        "Table Storage refused the credentials ({where}): {error}",
    ),
    AzureError: (OpsError, "Table Storage error ({where}): {error}"),
}


@contextmanager
def sdk_errors(where: str) -> Iterator[None]:
    """Convert SDK exceptions raised inside into one-line ops errors naming `where`."""
    with map_exceptions({kind: _factory(where, *rule) for kind, rule in SDK_ERRORS.items()}):
        yield


def _factory(where: str, kind: type[OpsError], text: str) -> Callable[[Exception], Exception]:
    return lambda exc: kind(text.format(where=where, error=one_line(exc)))
