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
"""

from __future__ import annotations

import logging
import math
import queue
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Table, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel
from standardwebhooks import Webhook

from app.config import AlertsConfig, WebhookConfig
from app.config_delivery_models import SmtpConfig
from app.config_secrets import credential_parts, url_secrets
from app.durations import parse_duration
from app.email_delivery import send_email
from app.models import WebhookState
from app.redaction import Redactor
from app.safe_http import Allowlist, Outcome, SafeHttpClient
from app.webhook_formats import render

log = logging.getLogger(__name__)

PENDING, SENDING, DELIVERED, FAILED = "pending", "sending", "delivered", "failed"
BACKOFF_BASE_SECONDS = 5.0
BACKOFF_CAP_SECONDS = 3600.0
ORPHAN_REPORT_SECONDS = 300
# Core tables: the worker's hot path skips the ORM (its per-row overhead dominated a send).
DELIVERIES: Table = SQLModel.metadata.tables["deliveries"]
ATTEMPTS: Table = SQLModel.metadata.tables["delivery_attempts"]
_D = DELIVERIES.c
# The lease holder alone moves a row on: a worker whose lease expired changes nothing.
_RECORD = (
    update(DELIVERIES)
    .where(
        _D.seq == bindparam("b_seq"),
        _D.state == SENDING,
        _D.next_attempt_ts == bindparam("b_lease"),
    )
    .values(
        state=bindparam("v_state"),
        next_attempt_ts=bindparam("v_next"),
        attempts=bindparam("v_attempts"),
        last_status_code=bindparam("v_code"),
        last_error=bindparam("v_error"),
        delivered_ts=func.coalesce(bindparam("v_delivered_ts"), _D.delivered_ts),
        delivered_at_ms=func.coalesce(bindparam("v_delivered_ms"), _D.delivered_at_ms),
    )
)


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
        allow = Allowlist.parse(alerts.allow_private_targets)
        self.allow, self.smtp = allow, smtp
        self.http = SafeHttpClient(allow, timeout=self.timeout)
        secrets = _webhook_secrets(webhooks)  # refuses a signing key that is not one
        # The tracker's redactor knows every secret of the config; alone, the webhooks' own.
        self.redactor = redactor or Redactor(secrets)
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
        self.http.close()

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
            states = SQLModel.metadata.tables["webhook_states"].c
            disabled: set[str] = set(
                conn.scalars(select(states.name).where(states.disabled_ts.is_not(None)))
            )
            for name, room_left in room.items():
                wanted = room_left if limit is None else min(room_left, limit - len(claims))
                if name in disabled or wanted <= 0:
                    continue
                heads = (
                    select(func.min(_D.seq).label("seq"))
                    .where(_D.state.in_((PENDING, SENDING)), _D.webhook == name)
                    .group_by(_D.key_result_id)
                    .subquery()
                )
                query = (
                    select(DELIVERIES)
                    .join(heads, _D.seq == heads.c.seq)
                    .where(_D.next_attempt_ts <= now, _D.seq.not_in(exclude or set()))
                    .order_by(_D.seq)
                    .limit(wanted)
                )
                for row in conn.execute(query).mappings().all():
                    lease = now + self.lease_seconds
                    # Compare-and-set: of several workers that read this row, one UPDATE wins.
                    taken = conn.execute(
                        update(DELIVERIES)
                        .where(
                            _D.seq == row["seq"],
                            _D.state == row["state"],
                            _D.next_attempt_ts == row["next_attempt_ts"],
                        )
                        .values(state=SENDING, next_attempt_ts=lease)
                    )
                    if taken.rowcount == 1:
                        claims.append(
                            Claim(
                                row["seq"],
                                row["event_id"],
                                name,
                                row["payload"],
                                row["created_ts"],
                                row["attempts"],
                                lease,
                            )
                        )
        return claims

    def _send_and_queue(self, claim: Claim) -> None:
        self._results.put((claim, self._send(claim)))
        self._wake.set()

    def _send(self, claim: Claim) -> Outcome:
        """Render and POST the event once; payload and error have every secret redacted."""
        try:
            webhook = self.webhooks[claim.webhook]
            if webhook.format == "email":
                outcome = send_email(
                    self.smtp,
                    webhook,
                    event_id=claim.event_id,
                    payload=self.redactor.json(claim.payload),
                    allow=self.allow,
                )
            else:
                # The signature timestamp is wall time: receivers check it against their clock.
                request = render(
                    webhook,
                    event_id=claim.event_id,
                    payload=self.redactor.json(claim.payload),
                    sent_at=datetime.now(UTC),
                )
                outcome = self.http.attempt(
                    request.url, content=request.body, headers=request.headers
                )
        except Exception as exc:  # a bug must become a recorded failure, not a lost delivery
            log.error("sending delivery %s failed unexpectedly: %s", claim.seq, type(exc).__name__)
            outcome = Outcome(None, f"internal error: {type(exc).__name__}: {exc}", 0)
        return replace(outcome, error=self.redactor.optional(outcome.error))

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
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(ATTEMPTS),
                    [
                        {
                            "delivery_seq": c.seq,
                            "ts": int(now),
                            "status_code": o.status_code,
                            "error": o.error,
                            "duration_ms": o.duration_ms,
                        }
                        for c, o in batch
                    ],
                )
                conn.execute(_RECORD, [self._next_state(c, o, now) for c, o in batch])
        except Exception:
            for item in batch:  # keep them for the next pass, while their leases hold
                self._results.put(item)
            raise
        for claim, outcome in batch:
            self._busy[claim.webhook] -= 1
            if outcome.status_code == 410:
                disable_webhook(
                    self.engine,
                    claim.webhook,
                    now_ts=int(now),
                    reason="the receiver answered 410 Gone",
                )
            if not outcome.ok:
                log.warning(
                    "delivery %s (%s) to webhook %s failed: %s",
                    claim.seq,
                    claim.event_id,
                    claim.webhook,
                    outcome.error,
                )

    def _next_state(self, claim: Claim, outcome: Outcome, now: float) -> dict[str, Any]:
        """Return the row's new values: delivered, failed, or pending again after a backoff."""
        attempts = claim.attempts + 1
        values = {
            "b_seq": claim.seq,
            "b_lease": claim.lease_until,
            "v_attempts": attempts,
            "v_code": outcome.status_code,
            "v_error": outcome.error,
            "v_next": int(now),
            "v_delivered_ts": None,
            "v_delivered_ms": None,
        }
        deadline = claim.created_ts + self.max_age
        if outcome.ok:
            values.update(
                v_state=DELIVERED, v_delivered_ts=int(now), v_delivered_ms=int(now * 1000)
            )
        elif outcome.permanent or now >= deadline:
            values.update(v_state=FAILED)
        else:
            wait_s = max(1.0, self.jitter(backoff_ceiling(attempts)))
            values.update(v_state=PENDING, v_next=min(deadline, math.ceil(now + wait_s)))
        return values

    def _report_orphans(self) -> None:
        """Log, now and then, deliveries waiting for webhooks that are no longer configured."""
        now = int(self.clock())
        if now - self._orphans_reported_ts < ORPHAN_REPORT_SECONDS:
            return
        self._orphans_reported_ts = now
        with self.engine.connect() as conn:
            counts = conn.execute(
                select(_D.webhook, func.count())
                .where(_D.state == PENDING, _D.webhook.not_in(list(self.webhooks)))
                .group_by(_D.webhook)
            ).all()
        for name, count in counts:
            log.warning(
                "%d deliveries wait for webhook %s, which is no longer in the config; "
                "they are kept and go out if it is configured again",
                count,
                name,
            )


def _webhook_secrets(webhooks: list[WebhookConfig]) -> list[str]:
    """Return the webhooks' secrets (signing keys, header values, URL paths); check signing keys."""
    secrets: list[str] = []
    for webhook in webhooks:
        if webhook.secret is not None:
            value = webhook.secret.get_secret_value()
            try:
                Webhook(value)
            except Exception:
                raise ValueError(
                    f"webhook {webhook.name!r}: the secret is not a Standard Webhooks "
                    "key (expected whsec_ followed by base64)"
                ) from None
            secrets.append(value)
        for header in webhook.headers.values():
            secrets += credential_parts(header.get_secret_value())
        if webhook.url is not None:
            secrets += url_secrets(webhook.url, webhook=True, whole_path=webhook.format == "slack")
    return secrets


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
