"""A Lambda context object for running handlers outside Lambda (make invoke, the demo, benches, tests)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


@dataclass
class LocalLambdaContext:
    """The attributes Powertools and our handlers read from the real context."""

    function_name: str = "local"
    memory_limit_in_mb: int = 2048
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"
    remaining_millis: int = 900_000

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_millis
