"""The figures in README.md and docs/quality.md come from `make train` on the bundled data, byte for byte.

The committed model card was written from a training with the default thread pools (every core for
numpy, pyarrow, scipy and OpenMP); this one runs with one OpenMP and one BLAS thread. LightGBM's and
ALS's own thread counts are settings (`ranker.num_threads`, ALS on one thread), the same in both.
`model_card.py --check` compares the metrics tables and the digest of every model file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ..conftest import DEMO_DATA, ROOT

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def test_the_demo_training_reproduces_the_committed_figures_with_one_thread(tmp_path: Path) -> None:
    env = {**os.environ, **dict.fromkeys(THREAD_VARIABLES, "1")}
    recsys = Path(sys.executable).with_name("recsys")
    model = tmp_path / "demo"
    data = ["--interactions", str(DEMO_DATA / "ratings.dat"), "--items", str(DEMO_DATA / "movies.dat")]
    trained = subprocess.run(
        [str(recsys), "train", *data, "--out", str(model), "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert trained.returncode == 0, trained.stderr
    checked = subprocess.run(
        [sys.executable, str(ROOT / "infra" / "scripts" / "model_card.py"), "--model", str(model), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
