"""The listings' rows kept in memory, brought up to date from the rows changed since.

While sampling runs, every batch raises the data version and a cached listing is built
again, though only that batch's Key Results changed. Each write stamps the rows it changes
with its version (`store.bump_data_version`), so `ListingMirror.refresh` reads only rows
stamped after the version it holds, and only those rows are serialised again; the listing
is then a join of kept JSON fragments (docs/benchmarks.md, "Read path under load").
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

from app.api.representations import objective_out, summary_of_row
from app.store.key_results import key_result_rows_since, objective_rows_since

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


@dataclass(frozen=True, slots=True)
class _Layout:
    """Which rows a listing shows, in order; it changes only when definitions do."""

    objectives: list[str]
    key_results: list[str]
    by_objective: dict[str, list[str]]


class ListingMirror:
    """Objectives and Key Results' summaries as of one data version, as JSON fragments."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._version: int | None = None
        self._loaded_at = 0.0
        self._objectives: dict[str, _ObjectiveEntry] = {}
        self._key_results: dict[str, _KeyResultEntry] = {}
        self._layouts: dict[bool, _Layout] = {}
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
            self._layouts.clear()
            self._loaded_at = self.clock()
        objectives = objective_rows_since(session, since)
        key_results = key_result_rows_since(session, since)
        for row in objectives:
            entry = _objective_entry(row)
            self._note_layout(self._objectives.get(row.id), entry)
            self._objectives[row.id] = entry
        for row in key_results:
            kr_entry = _key_result_entry(row)
            self._note_layout(self._key_results.get(row.id), kr_entry)
            self._key_results[row.id] = kr_entry
        self.rows_read += len(objectives) + len(key_results)
        self._version = version  # None: no version row, so the next refresh reads all again

    def _note_layout(
        self,
        old: _ObjectiveEntry | _KeyResultEntry | None,
        new: _ObjectiveEntry | _KeyResultEntry,
    ) -> None:
        """Forget the layouts when a row is new, moves, or is archived or restored."""
        if old is None or old.order != new.order or old.archived != new.archived:
            self._layouts.clear()

    def _layout(self, include_archived: bool) -> _Layout:
        layout = self._layouts.get(include_archived)
        if layout is None:
            objectives = sorted(
                (e.order, objective_id)
                for objective_id, e in self._objectives.items()
                if include_archived or not e.archived
            )
            key_results = sorted(
                (e.order, kr_id)
                for kr_id, e in self._key_results.items()
                if include_archived or not e.archived
            )
            by_objective: dict[str, list[str]] = {}
            for (objective_id, _, _), kr_id in key_results:
                by_objective.setdefault(objective_id, []).append(kr_id)
            layout = self._layouts[include_archived] = _Layout(
                [i for _, i in objectives], [i for _, i in key_results], by_objective
            )
        return layout

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
            layout = self._layout(include_archived)
            page = layout.objectives[offset : None if limit is None else offset + limit]
            krs = self._key_results
            body = json_array(
                self._objectives[o].head
                + json_array(krs[k].fragment for k in layout.by_objective.get(o, ()))
                + b"}"
                for o in page
            )
            return body, len(layout.objectives)

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
            layout = self._layout(include_archived)
            ids = (
                layout.key_results
                if objective_id is None
                else layout.by_objective.get(objective_id, [])
            )
            return json_array(self._key_results[k].fragment for k in ids)


async def get_listing_mirror(request: Request) -> ListingMirror:
    """Return the app's mirror (made by `create_app`; async: no thread-pool hop)."""
    mirror: ListingMirror = request.app.state.listing_mirror
    return mirror


ListingMirrorDep = Annotated[ListingMirror, Depends(get_listing_mirror)]
