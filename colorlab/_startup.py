"""TensorFlow's start-up, without its noise: imported first by every module that needs it.

Importing TensorFlow prints lines a student cannot act on, some of them in red: "Could not
find cuda drivers on your machine" (twice), "failed call to cuInit: ... UNKNOWN ERROR
(303)" on every machine without a GPU, CPU-instruction and oneDNN notices. Some are
written before TensorFlow's logging starts, so ``TF_CPP_MIN_LOG_LEVEL`` cannot hide them.
:func:`import_tensorflow` imports TensorFlow with the process's standard error passed
through a filter, line by line as it comes (so a crash inside the import still shows its
last words), and drops only the known notices. The CUDA lines are dropped only on a
machine with no NVIDIA device; where there is one, they say why a GPU was not used.

It also sets ``TF_CPP_MIN_LOG_LEVEL=2`` (unless you set it) so TensorFlow's C++ warnings
stay quiet later, such as libpng's "iCCP: known incorrect sRGB profile" for each PNG with an
old colour profile; set it to 0 to see everything.
"""

from __future__ import annotations

import glob
import os
import re
import sys
import threading

__all__ = ["import_tensorflow"]

#: Start-up notices on every machine (all other lines are passed on).
_NOTICES = (
    r"All log messages before absl::InitializeLog|WARNING: All log messages"
    r"|cpu_feature_guard\.cc.*(This TensorFlow binary is optimized|oneDNN)"
    r"|^This TensorFlow binary is optimized|To enable the following instructions"
    r"|rebuild TensorFlow with the appropriate|oneDNN custom operations are on"
    r"|TF_ENABLE_ONEDNN_OPTS|Unable to register cu(DNN|FFT|BLAS) factory"
    r"|computation placer already registered|TF-TRT Warning|Could not find TensorRT"
)
#: CUDA's start-up lines, noise only where no NVIDIA device exists.
_CUDA = (
    r"|cudart_stub\.cc|Could not find cuda drivers|cuda_platform\.cc|failed call to cuInit"
    r"|cuda_diagnostics|cuda_executor\.cc"
)


def _has_nvidia_device() -> bool:
    return bool(glob.glob("/dev/nvidia[0-9]*")) or sys.platform not in ("linux", "darwin")


def import_tensorflow() -> None:
    """Imports TensorFlow once, passing on its start-up output without the known notices."""
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    gpu = _has_nvidia_device()
    noise = re.compile(_NOTICES + ("" if gpu else _CUDA))
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        read_end, write_end = os.pipe()
    except (OSError, ValueError, AttributeError):  # no usable standard error: import as is
        import tensorflow  # noqa: F401

        return

    def forward() -> None:
        with os.fdopen(read_end, "rb") as lines:
            for line in lines:
                if line.strip() and not noise.search(line.decode("utf-8", "replace")):
                    os.write(saved, line)

    thread = threading.Thread(target=forward, name="colorlab-tf-start-up", daemon=True)
    thread.start()
    os.dup2(write_end, 2)
    os.close(write_end)
    try:
        import tensorflow as tf

        if not gpu:  # the CUDA probe prints its cuInit error now, inside the filter
            tf.config.list_physical_devices("GPU")
    finally:
        os.dup2(saved, 2)  # closes the pipe's last write end: the thread reads to its end
        thread.join(timeout=10)
        os.close(saved)


import_tensorflow()
