"""Native thread pools in worker processes: each worker gets its share of the cores.

LightGBM, XGBoost, NumPy's BLAS and friends start one thread per core. Two
worker processes on two cores then run four busy threads, and OpenMP's spinning
makes that many times slower than running the jobs one by one (measured here:
25 s instead of 0.8 s for a LightGBM fit). Worker processes therefore set the
usual thread-count variables before any of those libraries loads, unless the
user has set them.
"""

from __future__ import annotations

import os

THREAD_VARIABLES = (
    # joblib/loky's CPU count: what LightGBM 4's scikit-learn API (n_jobs=None)
    # and scikit-learn's n_jobs=-1 use instead of OMP_NUM_THREADS.
    "LOKY_MAX_CPU_COUNT",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def share_cores(workers: int) -> None:
    """Limit native thread pools of this process to ``cores // workers`` (at least 1)."""
    count = str(max(1, (os.cpu_count() or 1) // max(1, workers)))
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, count)
