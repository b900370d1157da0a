"""The Azure Functions entry point: the app and its blueprints, nothing else."""

import azure.functions as func

from events.function import bp as events_blueprint
from ingest.function import bp as ingest_blueprint
from processor.function import bp as processor_blueprint
from reconciler.function import bp as reconciler_blueprint

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(ingest_blueprint)
app.register_functions(processor_blueprint)
app.register_functions(events_blueprint)
app.register_functions(reconciler_blueprint)
