"""Serialise the listings from per-Key Result JSON fragments, memoised by the row's content.

While sampling runs, every batch raises the data version and the cached listing is built
again, though only the Key Results of that batch changed. A summary row that reads the same
as before gives the same bytes, so only the changed rows are formatted and serialised again
(docs/benchmarks.md, section 5). The memo is keyed by the whole row, so it can never hand
out another row's bytes; it is emptied when it outgrows the rows it serves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from app.api.schemas import objective_out, summary_of_row

MEMO_MIN_ENTRIES = 4096
_memo: dict[tuple[Any, ...], bytes] = {}


def summary_fragments(rows: Sequence[Any]) -> list[bytes]:
    """Return each `store.SUMMARY_COLUMNS` row as its summary's JSON bytes."""
    if len(_memo) > max(MEMO_MIN_ENTRIES, 4 * len(rows)):
        _memo.clear()  # old rows of changed Key Results; dict operations are thread-safe
    fragments = []
    for row in rows:
        key = tuple(row)
        fragment = _memo.get(key)
        if fragment is None:
            # orjson writes NaN and infinities as null; the progress engine never stores them.
            fragment = _memo[key] = orjson.dumps(summary_of_row(row))
        fragments.append(fragment)
    return fragments


def json_array(fragments: Iterable[bytes]) -> bytes:
    """Join JSON fragments into one JSON array."""
    return b"[" + b",".join(fragments) + b"]"


def objective_json(objective: Any, key_results: Sequence[bytes]) -> bytes:
    """Return an objective row with its Key Results' fragments, as `objective_out` shapes it."""
    key = ("objective", *objective)  # never equal to a summary row's key
    head = _memo.get(key)
    if head is None:
        # `key_results` is the last field: its empty list is cut, the fragments go there.
        head = _memo[key] = orjson.dumps(objective_out(objective, []))[: -len(b"[]}")]
    return head + json_array(key_results) + b"}"
