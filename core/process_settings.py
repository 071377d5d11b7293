"""Process-wide settings, applied once by each entry point (the CLI's main, dashboard/app.py).

Nothing in core changes the process as a side effect of an import; an entry point calls
configure_process() first thing, before anything has run TensorFlow. It never imports TensorFlow
itself, so a dashboard page that does not need a model still starts without it. It also gives NumPy's
BLAS one thread (threadpoolctl), for the NumPy forward and backward passes of the Hidden states page.
"""

from __future__ import annotations

import os
import sys

# A batch cut in more parts than this leaves parts of a few images, whose matmuls are too small to
# gain from a core of their own.
MAX_TRAINING_SHARDS = 8


def available_cpus() -> int:
    """The CPUs this process may run on: its affinity mask where the OS has one (a container or
    taskset may allow fewer than the machine has), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity masks on this OS (macOS, Windows)
        return os.cpu_count() or 1


def training_shards() -> int:
    """How many independent parts the vanilla cell's training step cuts each batch into: one per
    CPU this process may use, so the parts' chains of small matmuls run side by side
    (core/nn/fused_step.py), at most MAX_TRAINING_SHARDS."""
    return max(1, min(available_cpus(), MAX_TRAINING_SHARDS))


TRAINING_SHARDS = training_shards()

# A step's matmuls, (50 x 128) @ (128 x 128), run no faster on two threads than on one, and the
# hand-off costs more than it saves: one thread per op, and TRAINING_SHARDS ops at a time, so the
# shards of a batch run side by side, one per core. TensorFlow reads these variables when its
# runtime starts (at the first op, not at import); a value the user set wins.
TENSORFLOW_ENVIRONMENT = {
    "TF_CPP_MIN_LOG_LEVEL": "2",  # keep TensorFlow's C++ start-up chatter off our log (read at import)
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": str(TRAINING_SHARDS),
}

# NumPy's OpenBLAS starts one thread per core for every matmul. The NumPy passes of the Hidden states
# page multiply small matrices, where those threads spend longer waiting on each other (and on the
# training beside them) than computing: one BLAS thread, then; a value the user set in either
# variable wins.
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
BLAS_THREADS = 1

_configured = False


def configure_process() -> None:
    """Apply the process-wide settings; later calls do nothing (Streamlit reruns app.py often).

    Raises RuntimeError on a first call made after TensorFlow has run an op, when the thread
    settings could no longer take effect: the entry point must call this earlier.
    """
    global _configured
    if _configured:
        return
    for name, value in TENSORFLOW_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    _limit_blas_threads()
    if "tensorflow" in sys.modules:  # imported already: the settings work only until its first op
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(int(os.environ["TF_NUM_INTRAOP_THREADS"]))
            tf.config.threading.set_inter_op_parallelism_threads(int(os.environ["TF_NUM_INTEROP_THREADS"]))
        except RuntimeError as error:
            raise RuntimeError("configure_process() was called after TensorFlow ran its first op, so its "
                               "thread settings cannot take effect; call it first in the entry point") from error
    _configured = True


def _limit_blas_threads() -> None:
    """One BLAS thread for NumPy (and SciPy), unless the user chose a number in the environment.

    threadpoolctl limits the BLAS libraries loaded now (NumPy's); the variable, read by OpenBLAS when it
    loads, covers one loaded later (SciPy ships its own OpenBLAS) and this process's children.
    """
    if any(name in os.environ for name in BLAS_THREAD_VARIABLES):
        return
    import threadpoolctl

    os.environ["OPENBLAS_NUM_THREADS"] = str(BLAS_THREADS)
    threadpoolctl.threadpool_limits(limits=BLAS_THREADS, user_api="blas")  # kept: not used as a context
