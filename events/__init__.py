"""Event Streams ingest: POST /api/auth0-events (Auth0 CloudEvents user.created / user.deleted)."""
