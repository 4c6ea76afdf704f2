"""Shift `time.time` of a whole Python process tree by KRTRACKER_TEST_CLOCK_SHIFT_DAYS.

Put this folder first on PYTHONPATH: Python imports `sitecustomize` at start-up, before any
module of the process, so the wall clock krtracker reads (`time.time`, the Tracker's clock)
answers the shifted time; monotonic clocks, sleeps and timeouts are left alone. Used where
libfaketime cannot be: its 0.9.10 timed waits hang or fail with EINVAL in Python's threads
(APScheduler, the recorder, uvicorn).
"""

from __future__ import annotations

import os
import time

_SHIFT = float(os.environ.get("KRTRACKER_TEST_CLOCK_SHIFT_DAYS", "0")) * 86400.0

if _SHIFT:
    _real_time, _real_time_ns = time.time, time.time_ns

    def _shifted_time() -> float:
        return _real_time() + _SHIFT

    def _shifted_time_ns() -> int:
        return _real_time_ns() + int(_SHIFT * 1e9)

    time.time = _shifted_time
    time.time_ns = _shifted_time_ns
