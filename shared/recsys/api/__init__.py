"""The HTTP API (FastAPI, behind Mangum on Lambda) and direct invoke of the two serving functions."""
