"""The ingest role: HTTP trigger (`ingest.function`) over plain service code (`ingest.service`)."""
