"""Enqueue each configured digest once per cron instant, from the leader, through the outbox.

The leader runs `enqueue_due_digests` every minute and once at start. For each digest it
takes the latest cron instant at or before now: if the outbox has no row for it yet, the
digest is built and one delivery per webhook is written with the idempotency key
`digest:<name>:<instant>:<webhook>`, which is unique in the `deliveries` table. So a
restart, a second leader after a failover, or two passes at once never send it twice, and
after a long outage only the most recent missed instant is sent (the older ones are not
"caught up" one per week: their figures would all be today's anyway).
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError

from app.core.domain import DIGEST_EVENT
from app.core.schedule import Schedule
from app.reports.history import weekly_review
from app.rhythm.digest import (
    KeyResultLine,
    ObjectiveLine,
    build_digest,
    digest_payload,
    iso,
    objective_line,
)
from app.store.key_results import list_key_results, list_objectives
from app.store.models import Delivery
from app.store.outbox import stored_idempotency_keys
from connectors.durations import parse_duration

if TYPE_CHECKING:
    from sqlmodel import Session

    from app.config.delivery import DigestConfig
    from app.config.models import KrTrackerConfig
    from app.core.inputs import Thresholds
    from app.core.redaction import Redactor

log = logging.getLogger(__name__)
_EVENT_NAMESPACE = uuid.UUID("6f1d0c5e-4a57-4d8e-9b1f-3f2f4b8d9a10")


def digest_key(name: str, instant: int, webhook: str) -> str:
    """Return the idempotency key of one digest instant for one webhook."""
    return f"digest:{name}:{instant}:{webhook}"


def digest_event_id(name: str, instant: int) -> str:
    """Return the event id of a digest instant: stable, so receivers can deduplicate too."""
    return f"dgst_{uuid.uuid5(_EVENT_NAMESPACE, f'{name}:{instant}').hex}"


def objective_lines(session: Session) -> list[ObjectiveLine]:
    """Return every active objective with its Key Results' stored progress and status."""
    by_objective: dict[str, list[KeyResultLine]] = {}
    for kr in list_key_results(session):
        by_objective.setdefault(kr.objective_id, []).append(
            KeyResultLine(kr.id, kr.title, kr.unit, kr.progress, kr.status, kr.status_reason)
        )
    return [
        objective_line(
            id=o.id,
            title=o.title,
            owner=o.owner,
            team=o.team,
            key_results=by_objective.get(o.id, []),
        )
        for o in list_objectives(session)
    ]


def enqueue_digest(
    session: Session,
    digest: DigestConfig,
    *,
    instant: int,
    now_ts: int,
    thresholds: Thresholds,
    public_url: str,
    redactor: Redactor,
) -> int:
    """Write the digest of `instant` for each webhook that has none yet; return rows written.

    Commits. A concurrent writer of the same instant makes the insert fail on the unique
    key: that is rolled back and counts as already enqueued.
    """
    keys = {w: digest_key(digest.name, instant, w) for w in digest.webhooks}
    done = stored_idempotency_keys(session, keys.values())
    todo = [w for w, key in keys.items() if key not in done]
    if not todo:
        return 0
    review = weekly_review(
        session,
        since_ts=now_ts - parse_duration(digest.since),
        now_ts=now_ts,
        thresholds=thresholds,
    )
    built = build_digest(review, objective_lines(session), name=digest.name, teams=digest.teams)
    payload = digest_payload(built, public_url=public_url)
    payload["data"]["scheduled_for"] = iso(instant)
    payload = redactor.json(payload)
    event_id = digest_event_id(digest.name, instant)
    session.add_all(
        Delivery(
            event_id=event_id,
            webhook=webhook,
            event_type=DIGEST_EVENT,
            key_result_id=f"digest:{digest.name}"[:64],
            payload=payload,
            created_ts=now_ts,
            next_attempt_ts=now_ts,
            idempotency_key=keys[webhook],
        )
        for webhook in todo
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        log.info("digest %s for %s was enqueued by another process", digest.name, instant)
        return 0
    log.info("digest %s for instant %s enqueued for %s", digest.name, instant, ", ".join(todo))
    return len(todo)


def enqueue_due_digests(
    session: Session,
    config: KrTrackerConfig,
    *,
    now_ts: int,
    thresholds: Thresholds,
    redactor: Redactor,
) -> int:
    """Enqueue the latest due instant of every digest not yet in the outbox; return rows."""
    written = 0
    for digest in config.digests:
        instant = Schedule(cron=digest.cron).instant_at_or_before(now_ts)
        written += enqueue_digest(
            session,
            digest,
            instant=instant,
            now_ts=now_ts,
            thresholds=thresholds,
            public_url=config.api.link_base(),
            redactor=redactor,
        )
    return written
