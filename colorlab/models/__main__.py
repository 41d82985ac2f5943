"""``python -m colorlab.models``: prints the model comparison table shown in the README."""

from colorlab.models import summary_table

print(summary_table())
