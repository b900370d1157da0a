"""HTTP trigger: POST /api/registrations (auth level FUNCTION). Adapts types, nothing else."""

from __future__ import annotations

import azure.functions as func

from ingest.service import IngestRequest, respond
from shared.runtime import get_context

bp = func.Blueprint()  # type: ignore[no-untyped-call]


@bp.route(route="registrations", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def ingest_registration(req: func.HttpRequest) -> func.HttpResponse:
    """Verify, validate and enqueue one signed registration; 202 with the message id."""
    answer = respond(
        lambda: get_context().ingest_service, IngestRequest(req.get_body(), dict(req.headers))
    )
    return func.HttpResponse(
        answer.body_bytes(),
        status_code=answer.status,
        headers=answer.headers,
        mimetype=answer.content_type,
    )
