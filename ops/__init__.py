"""`python -m ops`: the operator CLI (dead letters, audit log, registrations, status, traces)."""
