"""``python -m colorlab.models``: prints the model comparison table shown in the README."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from colorlab.models import summary_table  # noqa: E402

print(summary_table())
