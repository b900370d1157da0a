"""HTTP trigger: POST /api/auth0-events (auth level FUNCTION). Adapts types, nothing else."""

from __future__ import annotations

import azure.functions as func

from events.service import respond
from ingest.service import IngestRequest
from shared.runtime import get_context

bp = func.Blueprint()  # type: ignore[no-untyped-call]


@bp.route(route="auth0-events", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def receive_auth0_event(req: func.HttpRequest) -> func.HttpResponse:
    """Check the bearer token, read one Auth0 CloudEvent, enqueue it (or keep it with its cause)."""
    answer = respond(
        lambda: get_context().event_stream_service,
        IngestRequest(req.get_body(), dict(req.headers)),
    )
    return func.HttpResponse(
        answer.body_bytes(),
        status_code=answer.status,
        headers=answer.headers,
        mimetype=answer.content_type,
    )
