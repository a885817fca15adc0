"""Reliability suite sizes: `make reliability` raises them through MEMSTORE_RELIABILITY_SCALE."""

from __future__ import annotations

import os

SCALE = max(1, int(os.environ.get("MEMSTORE_RELIABILITY_SCALE", "1")))
