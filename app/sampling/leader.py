"""The leader's loop: the one process holding the lock runs the sampler and the outbox worker."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from app.alerts.delivery import DeliveryWorker
from app.sampling.scheduler import SamplingScheduler

if TYPE_CHECKING:
    from app.store.leader_lock import LeaderLock
    from app.tracker import Tracker

log = logging.getLogger(__name__)


class LeaderElectedScheduler:
    """Polls the leader lock; on winning it starts the sampler and the delivery worker.

    The outbox worker runs in the leader only: on SQLite one sender per file is required,
    and on PostgreSQL one sender is enough (its claims are safe for more if ever needed).
    """

    def __init__(self, tracker: Tracker, lock: LeaderLock) -> None:
        self.tracker = tracker
        self.lock = lock
        self.sampler: SamplingScheduler | None = None
        self.delivery: DeliveryWorker | None = None
        tracker.on_outbox_written(self._wake_delivery)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leader-election", daemon=True)

    @property
    def is_leader(self) -> bool:
        """Return whether this process runs the sampler now."""
        return self.sampler is not None

    def start(self) -> None:
        """Start polling in a background thread."""
        self._thread.start()

    def _run(self) -> None:
        poll = self.tracker.loaded.config.scheduler.leader_poll_seconds
        standing_by = False
        while not self._stop.is_set():
            try:
                if self.sampler is None and not self.lock.try_acquire():
                    if not standing_by:
                        log.info(
                            "another process is the scheduler leader; standing by "
                            "(checking every %g s)",
                            poll,
                        )
                    standing_by = True
                elif self.sampler is None:
                    standing_by = False
                    log.info("this process is now the scheduler leader")
                    # Another leader may have written since this process last sampled.
                    self.tracker.recorder.forget()
                    self._start_delivery()
                    self.sampler = SamplingScheduler(self.tracker)
                    self.sampler.start()
                elif self.sampler is not None and not self.lock.still_held():
                    log.warning("lost scheduler leadership; stopping the sampler")
                    self._stop_workers()
            except Exception:  # the database may be briefly away: try again next poll
                log.exception("leader election poll failed")
            self._stop.wait(poll)

    def _start_delivery(self) -> None:
        config = self.tracker.loaded.config
        self.delivery = DeliveryWorker(
            self.tracker.engine,
            webhooks=config.webhooks,
            alerts=config.alerts,
            clock=self.tracker.clock,
            redactor=self.tracker.redactor,
            smtp=config.smtp,
        )
        self.delivery.start()

    def _wake_delivery(self) -> None:
        if self.delivery is not None:
            self.delivery.notify()

    def _stop_workers(self) -> None:
        if self.sampler is not None:
            self.sampler.shutdown()
            self.sampler = None
        if self.delivery is not None:
            # A stopped worker records what it was sending; a new leader builds a new one.
            self.delivery.stop()
            self.delivery = None

    def stop(self) -> None:
        """Stop the sampler and the delivery worker, and give the lock up."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._stop_workers()
        self.lock.release()
