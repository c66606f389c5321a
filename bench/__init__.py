"""Benchmarks: ``python -m bench.<module>`` from the repository root (``make bench`` runs them all).

The layer's package lives in ``layers/offline_push`` (Lambda mounts it at /opt/python); put that folder on the
import path the way the runtime does, so benchmarks import ``offline_push`` exactly as the functions do.
"""

from __future__ import annotations

import sys
from pathlib import Path

_LAYER = Path(__file__).resolve().parent.parent / "layers" / "offline_push"
if str(_LAYER) not in sys.path:
    sys.path.insert(0, str(_LAYER))
