"""The emulator's management REST API (ATOM XML over HTTPS) for the administration client."""
