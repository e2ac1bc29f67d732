"""RerankFunction: both stages (GET /recommendations/{user_id}), POST /rerank, /health, /model."""

from recsys.api.lambda_entry import make_handler

handler = make_handler("rerank")
