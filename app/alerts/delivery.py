"""The outbox worker: deliver each queued event at least once, in order per Key Result.

How a delivery moves (`deliveries.state`):
- `pending` → claimed as `sending` with a lease (`next_attempt_ts` = lease end) by one
  atomic compare-and-set UPDATE, so several processes on one PostgreSQL database never
  send the same row at once; a worker that dies mid-send leaves a lease that expires and
  the row is sent again (at least once: receivers deduplicate on `webhook-id`/event id).
  SQLite serialises writers, so the same code is safe there too; run one worker per file.
- Only the oldest open delivery per (webhook, Key Result) may be claimed, so a receiver
  sees a Key Result's events in order even across retries. Each webhook has its own small
  thread pool (`concurrency` sends at once), so a slow receiver only slows itself.
- 2xx → `delivered`. Anything else — 3xx included (redirects are never followed), a
  timeout, a refused connection — is a failure: retried after an exponential backoff with
  full jitter (base 5 s, cap 1 h, at least 1 s) until `created_ts + max_retry_age`, then
  `failed` (kept and redeliverable through the API, never deleted).
- A target the SSRF guard refuses fails at once (`failed`, with the reason): retrying
  cannot change the config. A 410 Gone disables the webhook (`webhook_states`); its
  deliveries stay pending, unsent, until it is enabled again.
- Deliveries for a webhook no longer in the config stay pending and are reported in the
  log and the API, never dropped.

One thread (the loop, or the caller of `deliver_due`) does all database work: it records
finished sends in one batched transaction, then claims what is due; the pools only do HTTP.
This module is that loop and its bookkeeping; its SQL is in `app.store.outbox_worker`,
sending one delivery in `app.alerts.send`, the retry policy in `app.alerts.retry`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from app.alerts.retry import after_try, full_jitter
from app.alerts.safe_http import Allowlist, Outcome
from app.alerts.send import DeliverySender
from app.store.outbox_worker import (
    Claim,
    claim_due,
    disable_webhook,
    disabled_webhooks,
    pending_for_unknown_webhooks,
    record_tries,
)
from connectors.durations import parse_duration

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy import Engine

    from app.config.delivery import AlertsConfig, SmtpConfig, WebhookConfig
    from app.core.redaction import Redactor

log = logging.getLogger(__name__)

ORPHAN_REPORT_SECONDS = 300


class DeliveryWorker:
    """Sends due outbox rows to their webhooks and records every try.

    `concurrency` is per webhook: that many sends at once, and up to twice as many claimed.
    A stopped worker cannot be started again; build a new one.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        webhooks: list[WebhookConfig],
        alerts: AlertsConfig,
        clock: Callable[[], float] = time.time,
        concurrency: int = 8,
        poll_seconds: float = 0.5,
        jitter: Callable[[float], float] = full_jitter,
        redactor: Redactor | None = None,
        smtp: SmtpConfig | None = None,
    ) -> None:
        self.engine = engine
        self.webhooks = {w.name: w for w in webhooks}
        self.clock = clock
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.jitter = jitter
        self.max_age = parse_duration(alerts.max_retry_age)
        self.timeout = alerts.delivery_timeout_seconds
        # A claimed row waits for at most one send before its own: the lease outlasts both.
        self.lease_seconds = int(4 * self.timeout) + 30
        self.sender = DeliverySender(
            webhooks,
            allow=Allowlist.parse(alerts.allow_private_targets),
            timeout=self.timeout,
            redactor=redactor,
            smtp=smtp,
        )
        self._pools = {
            name: ThreadPoolExecutor(concurrency, thread_name_prefix=f"webhook-{name}")
            for name in self.webhooks
        }
        self._busy: Counter[str] = Counter()  # claimed and not yet recorded, per webhook
        self._results: queue.SimpleQueue[tuple[Claim, Outcome]] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._orphans_reported_ts = -ORPHAN_REPORT_SECONDS

    def deliver_due(self, limit: int = 1000) -> int:
        """Try each due delivery once (up to `limit`), in order per pair; return how many.

        A synchronous pass for tests, tools and benchmarks; do not mix it with `start()`.
        """
        tried: set[int] = set()
        self._report_orphans()
        while True:
            self._wake.clear()
            self._record_finished()
            if len(tried) < limit:
                tried.update(self._dispatch(limit=limit - len(tried), exclude=tried))
            if not +self._busy:
                return len(tried)
            self._wake.wait(self.poll_seconds)

    def notify(self) -> None:
        """Wake the background loop now (call after committing new deliveries)."""
        self._wake.set()

    def start(self) -> None:
        """Deliver in a background thread until `stop()`."""
        self._thread = threading.Thread(target=self._run, name="delivery-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the loop, let sends in flight finish and record them, close connections."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        for pool in self._pools.values():
            pool.shutdown(wait=True)
        try:
            self._record_finished()
        except Exception:  # not lost: their leases expire and another pass sends them again
            log.exception("recording the last tries failed")
        self.sender.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self._record_finished()
                self._report_orphans()
                self._dispatch()
            except Exception:  # the database may be briefly away: try again next poll
                log.exception("delivery worker pass failed")
            self._wake.wait(self.poll_seconds)

    def _dispatch(self, *, limit: int | None = None, exclude: set[int] | None = None) -> list[int]:
        """Claim due deliveries for webhooks with idle senders and hand them to their pools."""
        # Refill only when a sender is idle, then up to twice the pool: claims come in batches.
        room = {
            name: 2 * self.concurrency - self._busy[name]
            for name in self.webhooks
            if self._busy[name] < self.concurrency
        }
        claims = self._claim(room, limit=limit, exclude=exclude) if room else []
        for claim in claims:
            self._busy[claim.webhook] += 1
            self._pools[claim.webhook].submit(self._send_and_queue, claim)
        return [c.seq for c in claims]

    def _claim(
        self, room: dict[str, int], *, limit: int | None = None, exclude: set[int] | None = None
    ) -> list[Claim]:
        """Lease due deliveries, each the oldest open one of its (webhook, KR), `room` per hook."""
        now = int(self.clock())
        claims: list[Claim] = []
        with self.engine.begin() as conn:
            disabled = disabled_webhooks(conn)
            for name, room_left in room.items():
                wanted = room_left if limit is None else min(room_left, limit - len(claims))
                if name in disabled or wanted <= 0:
                    continue
                claims += claim_due(
                    conn,
                    webhook=name,
                    now_ts=now,
                    lease_until=now + self.lease_seconds,
                    limit=wanted,
                    exclude=exclude or set(),
                )
        return claims

    def _send_and_queue(self, claim: Claim) -> None:
        self._results.put((claim, self.sender.send(claim)))
        self._wake.set()

    def _record_finished(self) -> None:
        """Store every finished try in one transaction and move each delivery on."""
        batch: list[tuple[Claim, Outcome]] = []
        while True:
            try:
                batch.append(self._results.get_nowait())
            except queue.Empty:
                break
        if not batch:
            return
        now = self.clock()
        tries = [
            (c, o, after_try(c, o, now=now, max_age=self.max_age, jitter=self.jitter))
            for c, o in batch
        ]
        try:
            with self.engine.begin() as conn:
                record_tries(conn, tried_ts=int(now), tries=tries)
        except Exception:
            for item in batch:  # keep them for the next pass, while their leases hold
                self._results.put(item)
            raise
        for claim, outcome in batch:
            self._busy[claim.webhook] -= 1
            if outcome.status_code == 410:
                reason = "the receiver answered 410 Gone"
                disable_webhook(self.engine, claim.webhook, now_ts=int(now), reason=reason)
                log.warning("webhook %s disabled: %s", claim.webhook, reason)
            if not outcome.ok:
                log.warning(
                    "delivery %s (%s) to webhook %s failed: %s",
                    claim.seq,
                    claim.event_id,
                    claim.webhook,
                    outcome.error,
                )

    def _report_orphans(self) -> None:
        """Log, now and then, deliveries waiting for webhooks that are no longer configured."""
        now = int(self.clock())
        if now - self._orphans_reported_ts < ORPHAN_REPORT_SECONDS:
            return
        self._orphans_reported_ts = now
        with self.engine.connect() as conn:
            counts = pending_for_unknown_webhooks(conn, configured=self.webhooks)
        for name, count in counts:
            log.warning(
                "%d deliveries wait for webhook %s, which is no longer in the config; "
                "they are kept and go out if it is configured again",
                count,
                name,
            )
