"""The listings' rows kept in memory, brought up to date from the rows changed since.

While sampling runs, every batch raises the data version and a cached listing is built
again, though only that batch's Key Results changed. Each write stamps the rows it changes
with its version (`store.bump_data_version`), so `ListingMirror.refresh` reads only rows
stamped after the version it holds, and only those rows are serialised again; the listing
is then a join of kept JSON fragments (docs/benchmarks.md, section 5).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from sqlmodel import Session

from app.api.schemas import objective_out, summary_of_row
from app.store import key_result_rows_since, objective_rows_since

# A safety net, as for the cache: a full reload at least this often.
FULL_RELOAD_SECONDS = 60.0
_SUMMARY_WIDTH = 15  # the `store.SUMMARY_COLUMNS` at the head of a listing row


@dataclass(frozen=True, slots=True)
class _KeyResultEntry:
    objective_id: str
    order: tuple[str, int, str]
    archived: bool
    fragment: bytes


@dataclass(frozen=True, slots=True)
class _ObjectiveEntry:
    order: tuple[int, str]
    archived: bool
    head: bytes  # the objective's JSON up to its `key_results` list


def json_array(fragments: Iterable[bytes]) -> bytes:
    """Join JSON fragments into one JSON array."""
    return b"[" + b",".join(fragments) + b"]"


def _key_result_entry(row: Any) -> _KeyResultEntry:
    summary = tuple(row[:_SUMMARY_WIDTH])
    # orjson writes NaN and infinities as null; the progress engine never stores them.
    return _KeyResultEntry(
        objective_id=row.objective_id,
        order=(row.objective_id, row.position, row.id),
        archived=row.archived_ts is not None,
        fragment=orjson.dumps(summary_of_row(summary)),
    )


def _objective_entry(row: Any) -> _ObjectiveEntry:
    # `key_results` is the shape's last field: its empty list is cut, fragments go there.
    head = orjson.dumps(objective_out(row, []))[: -len(b"[]}")]
    return _ObjectiveEntry(
        order=(row.position, row.id), archived=row.archived_ts is not None, head=head
    )


class ListingMirror:
    """Objectives and Key Results' summaries as of one data version, as JSON fragments."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._version: int | None = None
        self._loaded_at = 0.0
        self._objectives: dict[str, _ObjectiveEntry] = {}
        self._key_results: dict[str, _KeyResultEntry] = {}
        self.rows_read = 0

    def _refresh(self, session: Session, version: int | None) -> None:
        """Read the rows changed after the version held (all, the first time or when due)."""
        due = self.clock() - self._loaded_at >= FULL_RELOAD_SECONDS
        held = self._version
        if version is not None and held is not None and version <= held and not due:
            return  # as new as asked, or newer (the request read the version earlier)
        since = held if version is not None and held is not None and not due else None
        if since is None:
            self._objectives.clear()
            self._key_results.clear()
            self._loaded_at = self.clock()
        objectives = objective_rows_since(session, since)
        key_results = key_result_rows_since(session, since)
        for row in objectives:
            self._objectives[row.id] = _objective_entry(row)
        for row in key_results:
            self._key_results[row.id] = _key_result_entry(row)
        self.rows_read += len(objectives) + len(key_results)
        self._version = version  # None: no version row, so the next refresh reads all again

    def _key_results_in_order(self, include_archived: bool) -> list[_KeyResultEntry]:
        entries = (e for e in self._key_results.values() if include_archived or not e.archived)
        return sorted(entries, key=lambda e: e.order)

    def objectives_json(
        self,
        session: Session,
        *,
        version: int | None,
        include_archived: bool,
        limit: int | None,
        offset: int,
    ) -> tuple[bytes, int]:
        """Return the objectives listing (a page with `limit`) and how many objectives in all."""
        with self._lock:
            self._refresh(session, version)
            shown = sorted(
                (e.order, e)
                for e in self._objectives.values()
                if include_archived or not e.archived
            )
            page = shown[offset : None if limit is None else offset + limit]
            by_objective: dict[str, list[bytes]] = {order[1]: [] for order, _ in page}
            for entry in self._key_results_in_order(include_archived):
                fragments = by_objective.get(entry.objective_id)
                if fragments is not None:
                    fragments.append(entry.fragment)
            body = json_array(
                e.head + json_array(by_objective[order[1]]) + b"}" for order, e in page
            )
            return body, len(shown)

    def key_results_json(
        self,
        session: Session,
        *,
        version: int | None,
        objective_id: str | None,
        include_archived: bool,
    ) -> bytes:
        """Return the Key Results listing, optionally of one objective."""
        with self._lock:
            self._refresh(session, version)
            return json_array(
                e.fragment
                for e in self._key_results_in_order(include_archived)
                if objective_id is None or e.objective_id == objective_id
            )


async def get_listing_mirror(request: Request) -> ListingMirror:
    """Return the app's mirror (made by `create_app`; async: no thread-pool hop)."""
    mirror: ListingMirror = request.app.state.listing_mirror
    return mirror


ListingMirrorDep = Annotated[ListingMirror, Depends(get_listing_mirror)]
