"""The reconciler: finds Auth0 users the table is missing and enqueues them (timer + ops CLI)."""
