"""A Service Bus emulator: AMQP 1.0 on the wire, driven by the unmodified azure-servicebus SDK.

`broker/` holds the queue semantics (no AMQP, an injectable clock); `amqp/`
translates proton links and frames into broker calls; `cli.py` is
`python -m localdev servicebus`; `process.py` starts it as a child process.
"""
