"""What can go wrong in an ops command, and the exit code each maps to.

    OpsError                      exit 1: the command ran and failed
     +-- ServiceUnreachable       a broker or table could not be reached
     +-- IncompleteOperation      some selected messages were not handled
    UsageProblem                  exit 2: the command line asks for something invalid

Every error carries one line of text for the operator; the CLI adapter prints
it and never a stack trace. SDK exceptions are converted where the SDK is
called (`raise ... from`), so nothing above the adapters sees them.
"""

from __future__ import annotations

EXIT_OK = 0
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


def one_line(text: str) -> str:
    """Squash an error text to one line: SDK messages often span several."""
    return " ".join(text.split())
