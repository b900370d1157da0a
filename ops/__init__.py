"""`python -m ops`: the operator and reader CLI (dead-letter queue, audit log, registrations)."""
