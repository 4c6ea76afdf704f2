"""The sampler: every polled Key Result sampled on its own schedule, by the one leader process.

Job settings, chosen deliberately:
- one job per Key Result, id `sample:<kr id>`, rebuilt from the config at every start;
- `coalesce=True`: after a pause, several missed runs collapse into one (the sample is for
  the latest instant anyway, so running the backlog would only rewrite the same row);
- `max_instances=1`: a slow source never piles up concurrent runs of the same Key Result;
- `misfire_grace_time` = half the interval (at least 30 s): a run that starts late still
  counts for its instant, one that would run into the next instant is skipped;
- a thread pool of `[scheduler] max_workers`, plus a small pool per connector
  (`per_connector_concurrency`) so one slow source cannot take every worker;
- a failing source (unreachable, rate limited, timed out) backs off (`app.core.backoff`): one
  failure per sampling instant, a delay doubling up to `backoff_max`, then one probe; its
  skipped Key Results store an error saying since when and until when; others go on;
- each Key Result's instant is claimed once, so the catch-up run and the scheduled job
  never sample one instant twice; instants missed in an outage are filled from the
  source's history by the next job that reaches it (`app.sampling.gaps`);
- a job measures, hands the result to the tracker's recorder and returns without waiting
  for the database (`app.sampling.recorder` writes batches from its own thread).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING

from apscheduler.executors.pool import ThreadPoolExecutor as JobPool
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlmodel import Session

from app.core import backoff
from app.core.backoff import Decision, SourceHealth
from app.core.domain import SOURCE_AWAY_KINDS
from app.rhythm.digest_schedule import enqueue_due_digests
from app.rhythm.period_events import raise_period_closed
from app.rhythm.reminders import enqueue_due_reminders
from app.sampling.gaps import SampleCoverage
from app.sampling.measure import measure_key_result
from app.sampling.outcomes import SampleOutcome, SampleToStore
from app.sampling.triggers import trigger_of
from app.store.attempts import latest_scheduled_instants
from connectors.base import ConnectorError
from connectors.durations import parse_duration

if TYPE_CHECKING:
    from app.tracker import Tracker

log = logging.getLogger(__name__)


class BackingOff(ConnectorError):
    """The Key Result was not sampled: its source is away and backs off."""

    kind = "backing_off"


class SamplingScheduler:
    """Runs the sampling jobs of one tracker (only in the leader process)."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker
        settings = tracker.loaded.config.scheduler
        self.settings = settings
        self.backoff_max = parse_duration(settings.backoff_max)
        self.pools: dict[str, ThreadPoolExecutor] = {}
        self.health: dict[str, SourceHealth] = {}
        self.coverage = SampleCoverage(tracker)
        # The latest instant each Key Result was sampled for in this process: its write may
        # still be queued in the recorder, where `catch_up` cannot see it.
        self.sampled_instants: dict[str, int] = {}
        self._lock = threading.Lock()
        self.scheduler = BackgroundScheduler(
            timezone="UTC",
            executors={"default": JobPool(settings.max_workers)},
            job_defaults={"coalesce": True, "max_instances": 1},
        )

    def _pool(self, connector: str) -> ThreadPoolExecutor:
        with self._lock:
            if connector not in self.pools:
                self.pools[connector] = ThreadPoolExecutor(
                    self.settings.per_connector_concurrency, thread_name_prefix=f"kr-{connector}"
                )
            return self.pools[connector]

    def start(self) -> None:
        """Add one job per polled Key Result, a re-evaluation job, and a catch-up run."""
        for kr_id, entry in self.tracker.entries.items():
            if not self.tracker.is_polled(kr_id):
                continue
            assert entry.schedule is not None
            grace = max(30, entry.schedule.approx_interval_seconds() // 2)
            self.scheduler.add_job(
                self.run_sample,
                trigger_of(entry.schedule),
                args=[kr_id],
                id=f"sample:{kr_id}",
                name=f"sample {kr_id}",
                replace_existing=True,
                misfire_grace_time=grace,
            )
        self.scheduler.add_job(
            self.reevaluate,
            IntervalTrigger(seconds=parse_duration(self.settings.reevaluate_every)),
            id="reevaluate",
            replace_existing=True,
            misfire_grace_time=60,
        )
        self.scheduler.add_job(self.catch_up, id="catch-up", replace_existing=True)
        if self.tracker.loaded.config.digests or self.tracker.loaded.config.reminders.webhooks:
            # Every minute, and once now: a digest missed while down goes out on start.
            self.scheduler.add_job(
                self.enqueue_digests_and_reminders,
                IntervalTrigger(seconds=60),
                id="digests",
                replace_existing=True,
                misfire_grace_time=60,
            )
            self.scheduler.add_job(
                self.enqueue_digests_and_reminders, id="digests-now", replace_existing=True
            )
        self.scheduler.start()

    def enqueue_digests_and_reminders(self) -> None:
        """Enqueue due digests and check-in reminders not yet in the outbox."""
        config = self.tracker.loaded.config
        with Session(self.tracker.engine) as session:
            written = enqueue_due_digests(
                session,
                config,
                now_ts=self.tracker.now(),
                thresholds=self.tracker.thresholds,
                redactor=self.tracker.redactor,
            )
            written += enqueue_due_reminders(
                session, config, self.tracker.routing, now_ts=self.tracker.now()
            )
        if written:
            self.tracker.notify_outbox()

    def catch_up(self) -> None:
        """Sample now every Key Result whose latest scheduled instant has no attempt yet."""
        now = self.tracker.now()
        with Session(self.tracker.engine) as session:
            latest = latest_scheduled_instants(session)
        for kr_id, entry in self.tracker.entries.items():
            if self.tracker.is_polled(kr_id) and entry.schedule is not None:
                instant = entry.schedule.instant_at_or_before(now)
                if self.sampled_instants.get(kr_id, -1) >= instant:
                    continue
                if latest.get(kr_id) is None or latest[kr_id] < instant:
                    self.scheduler.add_job(
                        self.run_sample,
                        args=[kr_id],
                        id=f"catch-up:{kr_id}",
                        replace_existing=True,
                    )

    def run_sample(self, kr_id: str) -> Future[SampleOutcome] | None:
        """Sample one Key Result for its latest scheduled instant, unless its source backs off.

        The job hands the measurement (or, while the source backs off, why there is none)
        to the recorder and returns without waiting for the write; the future says what was
        stored. None when this process already took this instant (a catch-up run and the
        scheduled job that start together).
        """
        entry = self.tracker.entries[kr_id]
        assert entry.schedule is not None and entry.connector is not None
        connector = entry.connector
        now = self.tracker.now()
        instant = entry.schedule.instant_at_or_before(now)
        with self._lock:
            if self.sampled_instants.get(kr_id, -1) >= instant:
                return None
            self.sampled_instants[kr_id] = instant
            health = self.health.get(connector, SourceHealth())
            decision, claimed = backoff.decide(health, now=now)
            self.health[connector] = claimed
        if decision is Decision.SKIP:
            skipped = BackingOff(backoff.skip_reason(health, now=now))
            return self.tracker.recorder.submit(
                SampleToStore(kr_id, instant, connector, error=skipped)
            )
        probe = claimed.probe_id if decision is Decision.PROBE else None
        claim = None
        try:
            claim = self.coverage.claim(kr_id, instant)
            item = measure_key_result(
                self.tracker,
                kr_id,
                scheduled_ts=instant,
                pool=self._pool(connector),
                timeout=self.settings.attempt_timeout_seconds,
                missed=claim.missed,
            )
        except BaseException:
            if claim is not None:
                self.coverage.release(claim)
            with self._lock:  # another job may probe
                if probe is not None and self.health[connector].probe_id == probe:
                    self.health[connector] = replace(self.health[connector], probing=False)
            raise
        interval = entry.schedule.approx_interval_seconds()
        self._note(connector, instant=instant, error=item.error, probe=probe, interval=interval)
        future = self.tracker.recorder.submit(item)
        history = item.backfill is not None
        future.add_done_callback(lambda done: self.coverage.settle(claim, done, history=history))
        return future

    def _note(
        self,
        connector: str,
        *,
        instant: int,
        error: ConnectorError | None,
        probe: int | None,
        interval: int,
    ) -> None:
        """Update the connector's health after an attempt; log only when its state changes."""
        failure = error.reason if error is not None and error.kind in SOURCE_AWAY_KINDS else None
        now = self.tracker.now()
        with self._lock:
            health, change = backoff.after_attempt(
                self.health.get(connector, SourceHealth()),
                instant=instant,
                now=now,
                failure=failure,
                probe=probe,
                interval=interval,
                backoff_max=self.backoff_max,
            )
            before = self.health.get(connector, SourceHealth())
            self.health[connector] = health
        if change is not None:
            line = backoff.change_message(change, connector, before=before, after=health, now=now)
            log.log(logging.INFO if change is backoff.Change.UP else logging.WARNING, "%s", line)

    def reevaluate(self) -> None:
        """Re-evaluate every Key Result: status moves with time even without new data.

        Polled Key Results go through the recorder, which owns their alert state in this
        process; the others (manual values, which any replica's API may write) are read
        from the database.
        """
        polled = self.tracker.polled_ids()
        self.tracker.recorder.reevaluate(polled)
        self.tracker.writer.reevaluate_each(skip=set(polled))
        raise_period_closed(self.tracker.engine, self.tracker.routing, now_ts=self.tracker.now())
        self.tracker.notify_outbox()

    def shutdown(self) -> None:
        """Stop the jobs and the connector pools."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        for pool in self.pools.values():
            pool.shutdown(wait=False, cancel_futures=True)
