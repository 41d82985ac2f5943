"""TensorFlow's start-up, without its noise: imported first by every module that needs it.

Importing TensorFlow prints lines a student cannot act on, some of them in red: "Could not
find cuda drivers on your machine" (twice), "failed call to cuInit: ... UNKNOWN ERROR
(303)" on every machine without a GPU, CPU-instruction and oneDNN notices. Some are
written before TensorFlow's logging starts, so ``TF_CPP_MIN_LOG_LEVEL`` cannot hide them.
:func:`import_tensorflow` imports TensorFlow (and probes for GPUs, which prints the cuInit
line) with the process's standard error sent to a temporary file, then passes on every
line except the known notices. It also sets ``TF_CPP_MIN_LOG_LEVEL=2`` (unless you set it)
so TensorFlow's C++ warnings stay quiet later, such as libpng's "iCCP: known incorrect
sRGB profile" for each PNG with an old colour profile; set it to 0 to see everything.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

__all__ = ["import_tensorflow"]

#: Start-up lines that say nothing a user can act on (all other lines are passed on).
_NOISE = re.compile(
    r"All log messages before absl::InitializeLog|cudart_stub\.cc|Could not find cuda drivers"
    r"|cuda_platform\.cc|failed call to cuInit|cuda_diagnostics|cuda_executor\.cc"
    r"|cpu_feature_guard\.cc|This TensorFlow binary is optimized"
    r"|To enable the following instructions|rebuild TensorFlow with the appropriate"
    r"|oneDNN custom operations are on|TF_ENABLE_ONEDNN_OPTS"
    r"|Unable to register cu(DNN|FFT|BLAS) factory|computation placer already registered"
    r"|TF-TRT Warning|Could not find TensorRT|Unable to register .* factory"
    r"|disabling MLIR crash reproducer|WARNING: All log messages"
)


def import_tensorflow() -> None:
    """Imports TensorFlow once, passing on its start-up output without the known notices."""
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable standard error: import as is
        import tensorflow  # noqa: F401

        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")  # the CUDA probe prints now, not later
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", "replace")
            kept = [line for line in text.splitlines() if line.strip() and not _NOISE.search(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr)


import_tensorflow()
