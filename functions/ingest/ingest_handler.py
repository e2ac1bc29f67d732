"""IngestFunction: POST /events (Personalize PutEvents shape) and POST /events/batch."""

from recsys.api.lambda_entry import make_handler

handler = make_handler("ingest")
