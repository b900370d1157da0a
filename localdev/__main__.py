"""`python -m localdev {servicebus,host,auth0,up}`: the local stack's entry points."""

from __future__ import annotations

import sys

USAGE = """usage: python -m localdev COMMAND [options]

commands:
  servicebus   the Service Bus emulator (AMQP 1.0 on 127.0.0.1:5672)
  host         the local Functions host (function_app.py on 127.0.0.1:7071)
  auth0        the Auth0 stand-in (token + Management API user search on 127.0.0.1:4010)
  up           Azurite + the emulator + the Auth0 stand-in + the host, in the foreground
"""


def main(argv: list[str] | None = None) -> int:
    """Dispatch to the command's own `main`; each parses its own options."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in {"-h", "--help"}:
        print(USAGE, end="")
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "servicebus":
        from localdev.servicebus.cli import main as run
    elif command == "host":
        from localdev.host.cli import main as run
    elif command == "auth0":
        from localdev.auth0.cli import main as run
    elif command == "up":
        from localdev.up import main as run
    else:
        print(f"localdev: unknown command {command!r}; try --help", file=sys.stderr)
        return 2
    return run(rest)


if __name__ == "__main__":
    sys.exit(main())
