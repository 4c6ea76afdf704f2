"""The recorder: when and how the sampler's outcomes are written.

A writer thread stores what the scheduler's jobs submit, in batches (`app.sampling.writer` writes
one batch in one transaction). Jobs do not wait for it; the CLI and re-evaluations do. A
batch that fails is retried item by item, and an item whose sample cannot be stored is
stored as a failed attempt with the reason, so a store failure shows on the Key Result
instead of vanishing in a log.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
from typing import TYPE_CHECKING

from app.sampling.outcomes import Item, Reevaluation, SampleOutcome, SampleToStore, StoreFailed

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from app.sampling.writer import KeyResultWriter

log = logging.getLogger(__name__)


def _points(item: Item) -> int:
    """Return how many samples an item writes (its backfill counts point by point)."""
    backfill = item.backfill if isinstance(item, SampleToStore) else None
    return 1 + len(backfill or ())


class SampleRecorder:
    """Stores sampling outcomes and re-evaluates the Key Results of the sampling process.

    A writer thread stores what jobs submit. It waits up to `linger_seconds` after the first
    pending item so that one transaction carries many samples: the scheduler's jobs do not
    wait for it (`submit`), while `record` callers (the CLI, a re-evaluation) ask for an
    immediate write and wait. A transaction carries at most `max_batch` items and
    `max_batch_points` samples (backfilled history counts point by point); `submit` waits
    while `max_pending_points` are queued, so a slow database holds jobs back instead of
    filling memory.
    """

    def __init__(
        self,
        writer: KeyResultWriter,
        *,
        on_outbox_written: Callable[[], None],
        linger_seconds: float = 0.05,
        max_batch: int = 500,
        max_batch_points: int = 10_000,
        max_pending_points: int = 20_000,
    ) -> None:
        self.writer = writer
        self.on_outbox_written = on_outbox_written
        self.linger_seconds = linger_seconds
        self.max_batch = max_batch
        self.max_batch_points = max_batch_points
        self.max_pending_points = max_pending_points
        self._pending: list[tuple[Item, Future[SampleOutcome]]] = []
        self._pending_points = 0
        self._urgent = 0  # pending items whose caller waits
        self._first_pending_at = 0.0
        self._closing = False
        lock = threading.Lock()
        self._has_work = threading.Condition(lock)  # the writer waits on this
        self._has_room = threading.Condition(lock)  # submitters of a full queue wait on this
        self._write_lock = threading.Lock()
        self._writer: threading.Thread | None = None

    def submit(self, item: Item, *, urgent: bool = False) -> Future[SampleOutcome]:
        """Queue `item` for the writer; the future gives what was stored (or why not)."""
        future: Future[SampleOutcome] = Future()
        with self._has_work:
            if self._closing:
                raise RuntimeError("the recorder is closed")
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._run, name="sample-recorder", daemon=True
                )
                self._writer.start()
            while self._pending_points >= self.max_pending_points and not self._closing:
                self._has_work.notify()  # the writer should not linger now
                self._has_room.wait()
            if self._closing:
                raise RuntimeError("the recorder is closed")
            if not self._pending:
                self._first_pending_at = time.monotonic()
            self._pending.append((item, future))
            self._pending_points += _points(item)
            self._urgent += urgent
            # Wake the writer only when it has a reason to act (not for every item).
            if len(self._pending) == 1 or urgent or self._batch_full():
                self._has_work.notify()
        return future

    def record(self, item: Item) -> SampleOutcome:
        """Store `item` now and return what was stored."""
        return self.submit(item, urgent=True).result()

    def store_now(self, items: Sequence[Item]) -> list[SampleOutcome]:
        """Store `items` in one transaction in the calling thread (tools and benchmarks)."""
        batch: list[tuple[Item, Future[SampleOutcome]]] = [(item, Future()) for item in items]
        with self._write_lock:
            self._store(batch)
        return [future.result() for _, future in batch]

    def reevaluate(self, kr_ids: Iterable[str]) -> int:
        """Re-evaluate these Key Results (and run their alert rules); return how many."""
        futures = [self.submit(Reevaluation(k), urgent=True) for k in kr_ids]
        for future in futures:
            if future.exception() is not None:
                log.error("re-evaluation failed: %s", future.exception())
        return len(futures)

    def close(self) -> None:
        """Store what is pending, then stop the writer thread."""
        with self._has_work:
            self._closing = True
            self._has_work.notify()
            self._has_room.notify_all()
            writer = self._writer
        if writer is not None:
            writer.join()

    def _run(self) -> None:
        while True:
            with self._has_work:
                while not self._pending and not self._closing:
                    self._has_work.wait()
                if not self._pending:
                    return
                deadline = self._first_pending_at + self.linger_seconds
                while not (self._urgent or self._closing or self._batch_full()):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._has_work.wait(remaining)
                batch = self._take_batch()
                self._first_pending_at = time.monotonic()
                self._urgent = 0 if not self._pending else self._urgent
                self._has_room.notify_all()
            with self._write_lock:
                try:
                    self._store(batch)
                except Exception as exc:  # a bug here must not strand waiting callers
                    log.exception("the sample recorder failed")
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)

    def forget(self) -> None:
        """Drop what is remembered; call when another process may have written meanwhile."""
        with self._write_lock:
            self.writer.figures.forget()

    def _batch_full(self) -> bool:
        return (
            len(self._pending) >= self.max_batch
            or self._pending_points >= self.max_batch_points
            or self._pending_points >= self.max_pending_points
        )

    def _take_batch(self) -> list[tuple[Item, Future[SampleOutcome]]]:
        """Take the oldest pending items up to the batch limits (at least one)."""
        taken = points = 0
        for item, _ in self._pending:
            weight = _points(item)
            if taken and (taken >= self.max_batch or points + weight > self.max_batch_points):
                break
            taken += 1
            points += weight
        batch, self._pending = self._pending[:taken], self._pending[taken:]
        self._pending_points -= points
        return batch

    def _store(self, batch: list[tuple[Item, Future[SampleOutcome]]]) -> None:
        """Store a batch in one transaction; on failure, each item on its own."""
        try:
            outcomes = self._write([item for item, _ in batch])
        except Exception as exc:  # the writer dropped what it remembered of these
            if len(batch) > 1:
                for single in batch:
                    self._store([single])
                return
            self._store_failure(batch[0], exc)
            return
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            future.set_result(outcome)

    def _store_failure(self, entry: tuple[Item, Future[SampleOutcome]], exc: Exception) -> None:
        """Record why an item could not be stored, as a failed attempt if even that works."""
        item, future = entry
        if isinstance(item, SampleToStore) and not isinstance(item.error, StoreFailed):
            log.warning("storing the sample of %s failed: %s", item.kr_id, exc)
            reason = f"storing the sample failed: {type(exc).__name__}: {exc}".splitlines()[0]
            failed = SampleToStore(
                item.kr_id,
                item.scheduled_ts,
                item.source,
                error=StoreFailed(reason),
                duration_ms=item.duration_ms,
            )
            self._store([(failed, future)])
            return
        log.error("storing for Key Result %s failed: %s", item.kr_id, exc)
        future.set_exception(exc)

    def _write(self, items: Sequence[Item]) -> list[SampleOutcome]:
        outcomes, raised_alerts = self.writer.write(items)
        if raised_alerts:
            self.on_outbox_written()
        return outcomes
