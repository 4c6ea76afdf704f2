"""Already-serialised representations cached on the database's data version, with ETags.

Every write of what the API shows raises one counter in its own transaction
(`store.bump_data_version`), on whichever replica it happens. A read fetches that counter
(one primary-key read) and answers from bytes built at that version, so a request costs
about what `/healthz` costs, and `If-None-Match` saves even the body. Pages can use the
same cache with their own keys. Why no time bucket: docs/decisions.md, "Read path".
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request, Response
from sqlalchemy import Connection
from sqlmodel import Session

from app.store.versions import read_data_version

if TYPE_CHECKING:
    from app.tracker import Tracker

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
# A safety net for writes that do not raise the version (an older release during a rolling
# upgrade, SQL typed by hand): they show after at most this long.
DEFAULT_MAX_AGE_SECONDS = 60.0
# Clients may keep a copy but must ask again each time (cheap: a 304 carries no body).
CACHE_CONTROL = "no-cache"


@dataclass(frozen=True, slots=True)
class Representation:
    """A response body as sent, its entity tag, and headers that belong to the body."""

    body: bytes
    etag: str
    media_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)


def representation(
    body: bytes, *, media_type: str = "application/json", headers: Mapping[str, str] | None = None
) -> Representation:
    """Wrap `body` with a strong ETag derived from its bytes (equal bodies, equal tags)."""
    digest = hashlib.blake2b(body, digest_size=12).hexdigest()
    return Representation(body, f'"{digest}"', media_type, dict(headers or {}))


@dataclass(slots=True)
class _Entry:
    representation: Representation
    built_at: float


class RepresentationCache:
    """A bounded LRU of representations of one data version; building is single-flight.

    Entries of an older version can never be served again, so a new version empties the
    cache instead of waiting for eviction. Concurrent misses of one key build once: the
    others wait for that build (16 connections after a write would otherwise build 16 times).
    """

    def __init__(
        self,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_bytes = max_bytes
        self.max_age_seconds = max_age_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._version: int | None = None
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._size = 0
        self._building: dict[tuple[int, Hashable], Future[Representation]] = {}
        self.builds = 0

    @property
    def size_bytes(self) -> int:
        """Return the bytes of body held."""
        return self._size

    def __len__(self) -> int:
        return len(self._entries)

    def get(
        self, key: Hashable, *, version: int | None, build: Callable[[], Representation]
    ) -> Representation:
        """Return the representation of `key` at `version`, building it once on a miss.

        `build` must read the database after `version` was read, so what is cached under a
        version is never older than it. With no version (its row missing) nothing is cached.
        """
        if version is None:
            return build()
        with self._lock:
            if version != self._version:
                self._reset(version)
            entry = self._entries.get(key)
            if entry is not None and self.clock() - entry.built_at < self.max_age_seconds:
                self._entries.move_to_end(key)
                return entry.representation
            pending = self._building.get((version, key))
            builder = pending is None
            if pending is None:
                pending = self._building[(version, key)] = Future()
        if not builder:
            return pending.result()
        try:
            built = build()
        except BaseException as exc:
            pending.set_exception(exc)
            raise
        finally:
            with self._lock:
                self._building.pop((version, key), None)
        with self._lock:
            self.builds += 1
            if version == self._version:
                self._store(key, built)
        pending.set_result(built)
        return built

    def _reset(self, version: int) -> None:
        self._version = version
        self._entries.clear()
        self._size = 0

    def _store(self, key: Hashable, built: Representation) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._size -= len(old.representation.body)
        if len(built.body) > self.max_bytes:
            return
        self._entries[key] = _Entry(built, self.clock())
        self._size += len(built.body)
        while self._size > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._size -= len(evicted.representation.body)


def _tags(header: str) -> list[str]:
    """Return the entity tags of an `If-None-Match` header, weak tags as their strong form."""
    return [tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()]


def not_modified(request: Request, etag: str) -> bool:
    """Return whether the client's `If-None-Match` matches `etag` (weak comparison, RFC 9110)."""
    header = request.headers.get("if-none-match")
    if header is None:
        return False
    return header.strip() == "*" or etag in _tags(header)


def respond(
    request: Request, found: Representation, headers: Mapping[str, str] | None = None
) -> Response:
    """Answer with `found`, or 304 without a body when the client already holds it."""
    sent = {"ETag": found.etag, "Cache-Control": CACHE_CONTROL}
    if not_modified(request, found.etag):
        return Response(status_code=304, headers=sent)
    sent = {**found.headers, **(headers or {}), **sent}
    return Response(found.body, media_type=found.media_type, headers=sent)


async def get_representation_cache(request: Request) -> RepresentationCache:
    """Return the app's cache (made by `create_app`; async: no thread-pool hop)."""
    cache: RepresentationCache = request.app.state.representation_cache
    return cache


RepresentationCacheDep = Annotated[RepresentationCache, Depends(get_representation_cache)]


async def get_row_cache(request: Request) -> RepresentationCache:
    """Return the app's cache of single-row representations (see `cached_row`)."""
    cache: RepresentationCache = request.app.state.row_cache
    return cache


RowCacheDep = Annotated[RepresentationCache, Depends(get_row_cache)]


def cached(
    cache: RepresentationCache,
    tracker: Tracker,
    *,
    key: Hashable,
    build: Callable[[Session, int | None], Representation],
) -> Representation:
    """Read the data version, then return `key`'s representation at it (`build` on a miss).

    `build` gets a session and the version read (None when its row is missing). One pooled
    connection serves the version read and, on a miss, the build's session.
    """
    with tracker.engine.connect() as connection:
        version = read_data_version(connection)

        def build_now() -> Representation:
            with Session(bind=connection) as session:
                return build(session, version)

        return cache.get(key, version=version, build=build_now)


def cached_row(
    cache: RepresentationCache,
    tracker: Tracker,
    *,
    key: Hashable,
    read_version: Callable[[Connection], int | None],
    build: Callable[[Session], Representation],
) -> Representation:
    """Return `key`'s representation at its own row's version (`build` on a miss).

    For what shows one row (a Key Result in detail): a sampling batch then invalidates the
    rows it changed, not every entry. `cache` must hold only such entries: they are keyed
    by (key, row version) under one constant cache version. Nothing is cached when the row
    is missing (`build` answers that, e.g. with a 404).
    """
    with tracker.engine.connect() as connection:
        version = read_version(connection)

        def build_now() -> Representation:
            with Session(bind=connection) as session:
                return build(session)

        if version is None:
            return build_now()
        return cache.get((key, version), version=0, build=build_now)
