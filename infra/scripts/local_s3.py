"""An embedded S3 (moto's server on 127.0.0.1) for the scripts that show the functions without AWS."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def embedded_s3() -> Iterator[str]:
    """Start moto's S3 on a free local port and point boto3 at it (credentials and region are fake).

    Yields the endpoint URL; the server stops on exit. The process environment keeps the settings,
    as a Lambda container's would.
    """
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": "us-east-1",
            "MODEL_CACHE_DIR": tempfile.mkdtemp(prefix="recsys-local-cache-"),
        }
    )
    try:
        yield endpoint
    finally:
        server.stop()
