"""Code shared by the ingest and processor roles, the ops CLI and the local stack.

Nothing in here imports `azure.functions`: the trigger modules are the only adapters.
"""
