"""A local Azure Functions host for Python v2 apps: HTTP and Service Bus queue triggers.

`python -m localdev host` (see cli.py). Modules: config (settings, host.json),
discovery (app -> functions), routing, auth (function keys), convert (HTTP and
Service Bus edges), invocation (calling and logging), http_server,
servicebus_trigger, runtime (the running host).
"""
