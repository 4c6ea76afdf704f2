"""The Key Result chart's downsampled points, kept until the Key Result's row changes.

Bucketing a period of 10,000 samples costs the database tens of milliseconds on every view;
every write that changes a Key Result's samples also raises its `row_version` (the read
cache's stamp, `store.bump_data_version`), so the points are reused until that changes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from app.store.samples import SamplePoint

MAX_ENTRIES = 2048


class ChartPointsCache:
    """A bounded, thread-safe map from (Key Result, row version, range) to chart points."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: OrderedDict[tuple[str, int, int, int], list[SamplePoint]] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_entries

    def get(
        self,
        key_result_id: str,
        *,
        version: int | None,
        since: int,
        until: int,
        load: Callable[[], list[SamplePoint]],
    ) -> list[SamplePoint]:
        """Return the cached points, or `load()` them (and keep them) when the row moved."""
        if version is None:  # a database without row stamps: never reuse
            return load()
        key = (key_result_id, version, since, until)
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found
        points = load()
        with self._lock:
            self._entries[key] = points
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return points
