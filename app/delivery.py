"""The outbox worker: deliver each queued event at least once, in order per Key Result.

How a delivery moves (`deliveries.state`):
- `pending` → claimed as `sending` with a lease (`next_attempt_ts` = lease end) by one
  atomic compare-and-set UPDATE, so several processes on one PostgreSQL database never
  send the same row at once; a worker that dies mid-send leaves a lease that expires and
  the row is sent again (at least once: receivers deduplicate on `webhook-id`/event id).
  SQLite serialises writers, so the same code is safe there too; run one worker per file.
- Only the oldest open delivery per (webhook, Key Result) may be claimed, so a receiver
  sees a Key Result's events in order even across retries; different pairs go in parallel
  on a small thread pool, so one slow receiver does not hold up the others.
- 2xx → `delivered`. Anything else — 3xx included (redirects are never followed), a
  timeout, a refused connection — is a failure: retried after an exponential backoff with
  full jitter (base 5 s, cap 1 h, at least 1 s) until `created_ts + max_retry_age`, then
  `failed` (kept and redeliverable through the API, never deleted).
- A target the SSRF guard refuses fails at once (`failed`, with the reason): retrying
  cannot change the config. A 410 Gone disables the webhook (`webhook_states`); its
  deliveries stay pending, unsent, until it is enabled again.
- Deliveries for a webhook no longer in the config stay pending and are reported in the
  log and the API, never dropped.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select, update
from standardwebhooks import Webhook

from app.config import AlertsConfig, WebhookConfig
from app.durations import parse_duration
from app.models import Delivery, DeliveryAttempt, WebhookState
from app.safe_http import Allowlist, SafeHttpClient, TargetRefused, TargetUnresolvable
from app.webhook_formats import TEST_EVENT, render, test_payload

log = logging.getLogger(__name__)

PENDING, SENDING, DELIVERED, FAILED = "pending", "sending", "delivered", "failed"
BACKOFF_BASE_SECONDS = 5.0
BACKOFF_CAP_SECONDS = 3600.0
ORPHAN_REPORT_SECONDS = 300


def backoff_ceiling(attempts: int) -> float:
    """Return the longest wait after the `attempts`-th failed try: base·2^(n−1), capped."""
    return min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))


def full_jitter(ceiling: float) -> float:
    """Return a wait drawn uniformly from [0, ceiling] ("full jitter", spreads retry storms)."""
    return random.uniform(0.0, ceiling)


@dataclass(frozen=True)
class Claim:
    """A delivery this worker holds the lease on."""

    seq: int
    event_id: str
    webhook: str
    payload: dict[str, Any]
    created_ts: int
    attempts: int
    lease_until: int


@dataclass(frozen=True)
class Outcome:
    """What one try ended with."""

    status_code: int | None
    error: str | None
    duration_ms: int
    permanent: bool = False

    @property
    def ok(self) -> bool:
        """Return whether the receiver acknowledged (2xx)."""
        return self.status_code is not None and 200 <= self.status_code < 300


class DeliveryWorker:
    """Sends due outbox rows to their webhooks and records every try."""

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
    ) -> None:
        self.engine = engine
        self.webhooks = {w.name: w for w in webhooks}
        self.clock = clock
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.jitter = jitter
        self.max_age = parse_duration(alerts.max_retry_age)
        self.timeout = alerts.delivery_timeout_seconds
        # Longer than any one try can take, so a live worker never loses its lease mid-send.
        self.lease_seconds = int(4 * self.timeout) + 30
        allow = Allowlist.parse(alerts.allow_private_targets)
        self.http = SafeHttpClient(allow, timeout=self.timeout)
        self._secrets = _secret_strings(webhooks)
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="webhook")
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._in_flight = 0
        self._lock = threading.Lock()
        self._orphans_reported_ts = -ORPHAN_REPORT_SECONDS

    def deliver_due(self, limit: int = 1000) -> int:
        """Try each due delivery once (up to `limit`), in order per pair; return how many."""
        tried: set[int] = set()
        running: set[Future[None]] = set()
        self._report_orphans()
        while True:
            free = min(self.concurrency - len(running), limit - len(tried))
            claims = self._claim(free, exclude=tried) if free > 0 else []
            for claim in claims:
                tried.add(claim.seq)
                running.add(self._pool.submit(self._deliver, claim))
            if not running:
                return len(tried)
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                future.result()

    def notify(self) -> None:
        """Wake the background loop now (call after committing new deliveries)."""
        self._wake.set()

    def start(self) -> None:
        """Deliver in a background thread until `stop()`."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="delivery-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the loop, let sends in flight finish and record, close connections."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._pool.shutdown(wait=True)
        self.http.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            with self._lock:
                free = self.concurrency - self._in_flight
            claimed = 0
            try:
                self._report_orphans()
                for claim in self._claim(free) if free > 0 else []:
                    with self._lock:
                        self._in_flight += 1
                    self._pool.submit(self._deliver, claim).add_done_callback(self._finished)
                    claimed += 1
            except Exception:  # the database may be briefly away: try again next poll
                log.exception("delivery worker pass failed")
            if claimed == 0 or claimed == free:
                self._wake.wait(self.poll_seconds)

    def _finished(self, _: Future[None]) -> None:
        with self._lock:
            self._in_flight -= 1
        self._wake.set()  # the pair's next delivery may be due now

    def _claim(self, limit: int, *, exclude: set[int] | None = None) -> list[Claim]:
        """Lease up to `limit` due deliveries, each the oldest open one of its (webhook, KR)."""
        now = int(self.clock())
        with Session(self.engine) as session:
            disabled = set(session.exec(
                select(WebhookState.name).where(col(WebhookState.disabled_ts).is_not(None))))
            active = [name for name in self.webhooks if name not in disabled]
            if not active:
                return []
            heads = (
                select(func.min(Delivery.seq).label("seq"))
                .where(col(Delivery.state).in_((PENDING, SENDING)),
                       col(Delivery.webhook).in_(active))
                .group_by(col(Delivery.webhook), col(Delivery.key_result_id)).subquery()
            )
            query = (select(Delivery).join(heads, col(Delivery.seq) == heads.c.seq)
                     .where(col(Delivery.next_attempt_ts) <= now))
            if exclude:
                query = query.where(col(Delivery.seq).not_in(exclude))
            rows = session.exec(query.order_by(col(Delivery.seq)).limit(limit)).all()
            claims = []
            for row in rows:
                lease = now + self.lease_seconds
                # Compare-and-set: of several workers that read this row, one UPDATE wins.
                taken = session.exec(update(Delivery).where(
                    col(Delivery.seq) == row.seq, col(Delivery.state) == row.state,
                    col(Delivery.next_attempt_ts) == row.next_attempt_ts,
                ).values(state=SENDING, next_attempt_ts=lease))
                if taken.rowcount == 1 and row.seq is not None:
                    claims.append(Claim(row.seq, row.event_id, row.webhook, row.payload,
                                        row.created_ts, row.attempts, lease))
            session.commit()
        return claims

    def _deliver(self, claim: Claim) -> None:
        try:
            outcome = self._send(claim)
            self._record(claim, outcome)
        except Exception:  # one bad row must not kill the pool; the lease lets it be retried
            log.exception("recording delivery %s failed", claim.seq)

    def _send(self, claim: Claim) -> Outcome:
        """POST the rendered event once and describe what happened (secrets scrubbed)."""
        webhook = self.webhooks[claim.webhook]
        started = time.perf_counter()
        status_code: int | None = None
        error: str | None = None
        permanent = False
        try:
            # The signature timestamp is wall time: receivers check it against their own clock.
            request = render(webhook, event_id=claim.event_id, payload=claim.payload,
                             sent_at=datetime.now(UTC))
            response = self.http.post(request.url, content=request.body, headers=request.headers)
            status_code = response.status_code
            if not 200 <= status_code < 300:
                body = response.snippet.strip()[:200]
                error = f"HTTP {status_code}: {body}" if body else f"HTTP {status_code}"
        except TargetRefused as exc:
            error, permanent = f"refused: {exc}", True
        except TargetUnresolvable as exc:
            error = str(exc)
        except httpx.TimeoutException:
            error = f"no answer within {self.timeout:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # a bug must become a recorded failure, not a lost delivery
            log.error("sending delivery %s failed unexpectedly: %s", claim.seq, type(exc).__name__)
            error = f"internal error: {type(exc).__name__}: {exc}"
        duration_ms = int((time.perf_counter() - started) * 1000)
        return Outcome(status_code, self.scrub(error) if error else None, duration_ms, permanent)

    def scrub(self, text: str) -> str:
        """Replace every configured secret (signing key, header values, URL path) with ***."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _record(self, claim: Claim, outcome: Outcome) -> None:
        """Store the try and move the delivery on, if this worker still holds its lease."""
        now = self.clock()
        now_ts = int(now)
        attempts = claim.attempts + 1
        values: dict[str, Any] = {"attempts": attempts, "last_status_code": outcome.status_code,
                                  "last_error": outcome.error}
        deadline = claim.created_ts + self.max_age
        if outcome.ok:
            values.update(state=DELIVERED, delivered_ts=now_ts, delivered_at_ms=int(now * 1000),
                          next_attempt_ts=now_ts)
        elif outcome.permanent or now_ts >= deadline:
            values.update(state=FAILED, next_attempt_ts=now_ts)
        else:
            wait_s = max(1.0, self.jitter(backoff_ceiling(attempts)))
            values.update(state=PENDING, next_attempt_ts=min(deadline, math.ceil(now + wait_s)))
        with Session(self.engine) as session:
            session.add(DeliveryAttempt(delivery_seq=claim.seq, ts=now_ts, error=outcome.error,
                                        status_code=outcome.status_code,
                                        duration_ms=outcome.duration_ms))
            # Only the lease holder moves the row: a late worker whose lease expired just logs.
            session.exec(update(Delivery).where(
                col(Delivery.seq) == claim.seq, col(Delivery.state) == SENDING,
                col(Delivery.next_attempt_ts) == claim.lease_until,
            ).values(**values))
            session.commit()
        if outcome.status_code == 410:
            disable_webhook(self.engine, claim.webhook, now_ts=now_ts,
                            reason="the receiver answered 410 Gone")
        if not outcome.ok:
            log.warning("delivery %s (%s) to webhook %s failed: %s", claim.seq, claim.event_id,
                        claim.webhook, outcome.error)

    def _report_orphans(self) -> None:
        """Log, now and then, deliveries waiting for webhooks that are no longer configured."""
        now = int(self.clock())
        if now - self._orphans_reported_ts < ORPHAN_REPORT_SECONDS:
            return
        self._orphans_reported_ts = now
        with Session(self.engine) as session:
            counts = session.exec(
                select(Delivery.webhook, func.count())
                .where(col(Delivery.state) == PENDING,
                       col(Delivery.webhook).not_in(list(self.webhooks)))
                .group_by(col(Delivery.webhook))
            ).all()
        for name, count in counts:
            log.warning("%d deliveries wait for webhook %s, which is no longer in the config; "
                        "they are kept and go out if it is configured again", count, name)


def _secret_strings(webhooks: list[WebhookConfig]) -> list[str]:
    """Return every string that must never show in an error, longest first; check signing keys."""
    secrets: list[str] = []
    for webhook in webhooks:
        if webhook.secret is not None:
            value = webhook.secret.get_secret_value()
            try:
                Webhook(value)
            except Exception:
                raise ValueError(f"webhook {webhook.name!r}: the secret is not a Standard Webhooks "
                                 "key (expected whsec_ followed by base64)") from None
            secrets.append(value)
        secrets += [v.get_secret_value() for v in webhook.headers.values()]
        url = httpx.URL(webhook.url)
        path = url.raw_path.decode("ascii", "replace")
        secrets += [s for s in (url.password, path) if s and len(s) > 1]
    return sorted({s for s in secrets if s}, key=len, reverse=True)


def disable_webhook(engine: Engine, name: str, *, now_ts: int, reason: str) -> None:
    """Mark `name` disabled (its deliveries wait until it is enabled through the API)."""
    for _ in range(2):  # two workers may insert the row at once; the loser updates it
        with Session(engine) as session:
            state = session.get(WebhookState, name) or WebhookState(name=name)
            state.disabled_ts, state.disabled_reason = now_ts, reason
            session.add(state)
            try:
                session.commit()
                log.warning("webhook %s disabled: %s", name, reason)
                return
            except IntegrityError:
                session.rollback()


def enable_webhook(session: Session, name: str, *, now_ts: int) -> int:
    """Clear a 410 disable and make the webhook's pending deliveries due now; return how many."""
    state = session.get(WebhookState, name)
    if state is not None:
        state.disabled_ts, state.disabled_reason = None, None
        session.add(state)
    result = session.exec(update(Delivery).where(col(Delivery.webhook) == name,
                                                 col(Delivery.state) == PENDING)
                          .values(next_attempt_ts=now_ts))
    return int(result.rowcount)


def redeliver(session: Session, delivery: Delivery, *, now_ts: int) -> None:
    """Queue a delivery again now with the same event id (one more try once its window ended)."""
    delivery.state = PENDING
    delivery.next_attempt_ts = now_ts
    session.add(delivery)


def queue_test_event(session: Session, webhook: WebhookConfig, *, now_ts: int,
                     public_url: str) -> Delivery:
    """Add a `krtracker.test` event for `webhook` to the outbox (caller commits)."""
    # The empty Key Result id cannot clash with a real one (ids are non-empty slugs).
    delivery = Delivery(
        event_id=f"evt_{uuid.uuid4().hex}", webhook=webhook.name, event_type=TEST_EVENT,
        key_result_id="", created_ts=now_ts, next_attempt_ts=now_ts,
        payload=test_payload(webhook.name, at_ts=now_ts, public_url=public_url),
    )
    session.add(delivery)
    return delivery
