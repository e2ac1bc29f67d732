"""What every Lambda function shares, HTTP or not: settings, the model provider, telemetry, entry plumbing."""

import os

# One request is one user's few hundred candidate rows: too little work to share. Idle BLAS
# and OpenMP worker threads fall asleep between requests and take milliseconds to wake (we
# measured p50 8 ms with two threads against 5 ms with one), so serving computes on one
# thread. These must be set before numpy and LightGBM load; the template sets them as well.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
