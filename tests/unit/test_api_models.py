"""The API's answers are typed: OpenAPI documents each route's response model and the error shape."""

from __future__ import annotations

import pytest
from recsys.api.app import create_app

ROUTES = [
    ("/recommendations/{user_id}", "get", "Recommendations"),
    ("/rerank", "post", "Reranked"),
    ("/candidates", "post", "CandidateList"),
    ("/items/{item_id}/similar", "get", "SimilarItems"),
    ("/model", "get", "ModelInfo"),
    ("/health", "get", "Health"),
]


@pytest.mark.parametrize(("path", "method", "model"), ROUTES)
def test_openapi_documents_every_answer_and_the_error_shape(path: str, method: str, model: str) -> None:
    schema = create_app().openapi()
    responses = schema["paths"][path][method]["responses"]
    assert responses["200"]["content"]["application/json"]["schema"]["$ref"] == f"#/components/schemas/{model}"
    for status in ("404", "422", "503"):
        assert responses[status]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/ErrorBody"
    fields = schema["components"]["schemas"][model]["properties"]
    if model not in ("Health", "ModelInfo"):
        assert "items" in fields


def test_each_function_serves_only_its_routes() -> None:
    rerank = set(create_app("rerank").openapi()["paths"])
    candidates = set(create_app("candidates").openapi()["paths"])
    assert rerank == {"/recommendations/{user_id}", "/rerank", "/model", "/health"}
    assert candidates == {"/candidates", "/items/{item_id}/similar", "/model", "/health"}
    with pytest.raises(ValueError, match="unknown function"):
        create_app("batch")
