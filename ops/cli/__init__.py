"""The command line of `python -m ops`: flag parsing, output, exit codes.

One module per command group (`dlq`, `audit`, `registrations`, `smoke`, ...),
each a `typer.Typer` named `app` (or plain command functions), registered with
one line in `ops.cli.app`. Commands open a session (`ops.cli.context`) for the
composition root (`ops.wiring.Wiring`) and the output, call a plain service
module, and print through `ops.cli.output`; errors become exit codes in
`ops.cli.app.main`.
"""
