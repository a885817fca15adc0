"""Reliability suite settings: `make reliability` raises the counts through MEMSTORE_RELIABILITY_SCALE."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

SCALE = max(1, int(os.environ.get("MEMSTORE_RELIABILITY_SCALE", "1")))
