"""`/webhooks` and `/deliveries`: endpoints, their outbox, redelivery, test events, re-enabling.

Nothing here shows a webhook's secret or custom headers; URLs lose their user info, query and
fragment, and their path when it holds a secret (a Slack URL's path is its credential).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel
from sqlmodel import Session

from app.alerts.events import TEST_EVENT, make_test_event
from app.api.deps import ReadAccess, SessionDep, TrackerDep, WriteAccess
from app.api.params import INT32_MAX, DeliverySeq, SeqCursor, WebhookName
from app.api.problems import NOT_FOUND, WRITE_NOT_FOUND, errors_for, link_to
from app.api.schemas import iso
from app.config.delivery import WebhookConfig
from app.core.domain import DeliveryState
from app.core.redaction import Redactor
from app.store.models import Delivery, DeliveryAttempt, WebhookState
from app.store.outbox import (
    OPEN_DELIVERY_STATES,
    attempts_of,
    count_by_webhook,
    enable_webhook,
    find_delivery,
    list_deliveries,
    queue_delivery,
    requeue,
    webhook_states,
)

router = APIRouter(tags=["webhooks"])


class WebhookOut(BaseModel):
    """A webhook endpoint and the state of its outbox."""

    name: str
    format: str | None
    url: str | None
    configured: bool
    disabled: bool
    disabled_at: datetime | None
    disabled_reason: str | None
    events: list[str] | None
    deliveries: dict[str, int]


class AttemptOut(BaseModel):
    """One try: the receiver's status code or the error."""

    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryOut(BaseModel):
    """One event for one webhook, with its tries newest first."""

    seq: int
    event_id: str
    event_type: str
    key_result_id: str
    state: DeliveryState
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    attempt_count: int
    last_status_code: int | None
    last_error: str | None
    payload: dict[str, Any]
    attempts: list[AttemptOut]


class DeliveryPage(BaseModel):
    """A page of deliveries, newest first; pass `next_before` as `before` for the next page."""

    items: list[DeliveryOut]
    next_before: int | None


def _at(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def public_url(webhook: WebhookConfig, redactor: Redactor) -> str:
    """Return the webhook URL without user info, query, fragment, and path if it holds a secret.

    A Slack URL's path is its credential; another path shows unless the redactor masks part
    of it (a long random segment, as in Discord or Teams URLs).
    """
    if webhook.url is None:  # an email webhook: its addresses are not secrets
        return webhook.target
    url = httpx.URL(webhook.url)
    origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
    secret = webhook.format == "slack" or redactor.text(url.path) != url.path
    return origin + ("/***" if secret else url.path)


def _webhook_out(
    name: str,
    webhook: WebhookConfig | None,
    state: WebhookState | None,
    counts: dict[str, int],
    *,
    redactor: Redactor,
) -> WebhookOut:
    disabled = state is not None and state.disabled_ts is not None
    return WebhookOut(
        name=name,
        format=webhook.format if webhook else None,
        url=public_url(webhook, redactor) if webhook else None,
        configured=webhook is not None,
        disabled=disabled,
        disabled_at=iso(state.disabled_ts) if disabled and state else None,
        disabled_reason=state.disabled_reason if disabled and state else None,
        events=list(webhook.events) if webhook and webhook.events else None,
        deliveries=counts,
    )


@router.get(
    "/webhooks",
    dependencies=[ReadAccess],
    responses={
        200: {
            "description": "The webhooks, configured or with deliveries left.",
            "links": {
                "Test": link_to(
                    "/api/v1/webhooks/{name}/test", "post", name="$response.body#/0/name"
                ),
            },
        }
    },
)
def get_webhooks(session: SessionDep, tracker: TrackerDep) -> list[WebhookOut]:
    """List configured webhooks, then unconfigured ones that still have deliveries waiting."""
    configured = {w.name: w for w in tracker.loaded.config.webhooks}
    counts = count_by_webhook(session)
    states = webhook_states(session)
    names = list(configured) + sorted(n for n in counts if n not in configured)
    return [
        _webhook_out(n, configured.get(n), states.get(n), counts[n], redactor=tracker.redactor)
        for n in names
    ]


def _delivery_out(delivery: Delivery, attempts: list[DeliveryAttempt]) -> DeliveryOut:
    assert delivery.seq is not None
    waiting = delivery.state in OPEN_DELIVERY_STATES
    return DeliveryOut(
        seq=delivery.seq,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        key_result_id=delivery.key_result_id,
        state=DeliveryState(delivery.state),
        created_at=_at(delivery.created_ts),
        next_attempt_at=iso(delivery.next_attempt_ts) if waiting else None,
        delivered_at=iso(delivery.delivered_ts),
        attempt_count=delivery.attempts,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        payload=delivery.payload,
        attempts=[
            AttemptOut(
                at=_at(a.ts),
                status_code=a.status_code,
                error=a.error,
                duration_ms=a.duration_ms,
            )
            for a in attempts
        ],
    )


def _with_attempts(session: Session, deliveries: list[Delivery]) -> list[DeliveryOut]:
    by_seq = attempts_of(session, [d.seq for d in deliveries if d.seq is not None])
    return [_delivery_out(d, by_seq.get(d.seq, [])) for d in deliveries if d.seq is not None]


@router.get("/webhooks/{name}/deliveries", dependencies=[ReadAccess], responses=NOT_FOUND)
def get_deliveries(
    name: WebhookName,
    session: SessionDep,
    tracker: TrackerDep,
    limit: int = Query(50, ge=1, le=500),
    before: SeqCursor = None,
    state: DeliveryState | None = None,
) -> DeliveryPage:
    """List a webhook's deliveries newest first, with their tries and last error."""
    # seq is a 32-bit column: a cursor beyond it bounds nothing (above) or everything (below).
    below = max(before, -INT32_MAX) if before is not None and before <= INT32_MAX else None
    rows = list_deliveries(session, webhook=name, limit=limit + 1, before_seq=below, state=state)
    if not rows and before is None and name not in {w.name for w in tracker.loaded.config.webhooks}:
        raise HTTPException(404, f"no webhook named {name!r}")
    page = rows[:limit]
    return DeliveryPage(
        items=_with_attempts(session, page), next_before=page[-1].seq if len(rows) > limit else None
    )


@router.post(
    "/deliveries/{seq}/redeliver",
    status_code=202,
    dependencies=[WriteAccess],
    responses=errors_for(404, 409, 413),
)
def post_redeliver(seq: DeliverySeq, session: SessionDep, tracker: TrackerDep) -> DeliveryOut:
    """Queue a delivery again, now, with the same event id (receivers deduplicate on it)."""
    delivery = find_delivery(session, seq)
    if delivery is None:
        raise HTTPException(404, f"no delivery with seq {seq}")
    if delivery.state == DeliveryState.SENDING and delivery.next_attempt_ts > tracker.now():
        raise HTTPException(409, f"delivery {seq} is being sent right now")
    # Same event id, so a receiver that got it before deduplicates. Once the retry window has
    # passed this is one more try: a failure marks it failed again.
    requeue(session, delivery, now_ts=tracker.now())
    session.commit()
    session.refresh(delivery)
    return _with_attempts(session, [delivery])[0]


def _configured_or_404(tracker: TrackerDep, name: str) -> WebhookConfig:
    for webhook in tracker.loaded.config.webhooks:
        if webhook.name == name:
            return webhook
    raise HTTPException(404, f"no webhook named {name!r} in the config")


@router.post(
    "/webhooks/{name}/test",
    status_code=202,
    dependencies=[WriteAccess],
    responses={
        **WRITE_NOT_FOUND,
        202: {
            "description": "The test event, queued.",
            "links": {
                "Redeliver": link_to(
                    "/api/v1/deliveries/{seq}/redeliver", "post", seq="$response.body#/seq"
                ),
                "Deliveries": link_to(
                    "/api/v1/webhooks/{name}/deliveries", "get", name="$request.path.name"
                ),
            },
        },
    },
)
def post_test(name: WebhookName, session: SessionDep, tracker: TrackerDep) -> DeliveryOut:
    """Queue a `krtracker.test` event for the webhook through the outbox."""
    _configured_or_404(tracker, name)
    now = tracker.now()
    # The empty Key Result id cannot clash with a real one (ids are non-empty slugs).
    delivery = queue_delivery(
        session,
        event_id=f"evt_{uuid.uuid4().hex}",
        webhook=name,
        event_type=TEST_EVENT,
        key_result_id="",
        payload=make_test_event(name, at_ts=now, public_url=tracker.loaded.config.api.link_base()),
        now_ts=now,
    )
    session.commit()
    session.refresh(delivery)
    return _with_attempts(session, [delivery])[0]


@router.post("/webhooks/{name}/enable", dependencies=[WriteAccess], responses=WRITE_NOT_FOUND)
def post_enable(name: WebhookName, session: SessionDep, tracker: TrackerDep) -> WebhookOut:
    """Re-enable a webhook a 410 Gone disabled; its waiting deliveries become due now."""
    webhook = _configured_or_404(tracker, name)
    enable_webhook(session, name=name, now_ts=tracker.now())
    session.commit()
    return _webhook_out(
        name,
        webhook,
        webhook_states(session).get(name),
        count_by_webhook(session)[name],
        redactor=tracker.redactor,
    )
