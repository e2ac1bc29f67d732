"""CandidatesFunction: stage 1 (POST /candidates, GET /items/{id}/similar, /health, /model)."""

from recsys.api.lambda_entry import make_handler

handler = make_handler("candidates")
