"""The weekly digest: the weekly review plus each objective's progress, for some teams.

Pure functions with an explicit window: `app.reports.history.weekly_review` gives the same figures
as `GET /api/v1/review`, the objectives' lines come from the Key Results' stored progress
(the listing's data), and `digest_payload` turns the result into the generic `okr.digest`
event that every webhook format renders (`app.rhythm.digest_slack` for Slack).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from app.core.domain import DIGEST_EVENT
from app.reports.scorecard import objective_score

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

    from app.reports.review import KeyResultRef, WeeklyReview


@dataclass(frozen=True, slots=True)
class KeyResultLine:
    """A Key Result's progress and status now, as the listing shows them."""

    id: str
    title: str
    unit: str
    progress: float | None
    status: str | None
    status_reason: str | None


@dataclass(frozen=True, slots=True)
class ObjectiveLine:
    """An objective with its owner, team, progress (mean score of its KRs) and Key Results."""

    id: str
    title: str
    owner: str | None
    team: str | None
    progress: float | None
    key_results: tuple[KeyResultLine, ...]


@dataclass(frozen=True, slots=True)
class Digest:
    """One digest: its objectives and the review of [since_ts, now_ts), both for `teams`."""

    name: str
    teams: tuple[str, ...] | None
    objectives: tuple[ObjectiveLine, ...]
    review: WeeklyReview

    @property
    def is_quiet(self) -> bool:
        """Return whether nothing changed, moved, failed or fired in the window."""
        r = self.review
        return not (
            r.status_changes or r.movers or r.missing_check_ins or r.source_problems or r.alerts
        )


def objective_line(
    *,
    id: str,
    title: str,
    owner: str | None,
    team: str | None,
    key_results: Sequence[KeyResultLine],
) -> ObjectiveLine:
    """Return an objective's line; its progress is the mean of its KRs' clamped progress."""
    scores = [
        None if kr.progress is None else min(1.0, max(0.0, kr.progress)) for kr in key_results
    ]
    return ObjectiveLine(id, title, owner, team, objective_score(scores), tuple(key_results))


def build_digest(
    review: WeeklyReview,
    objectives: Sequence[ObjectiveLine],
    *,
    name: str,
    teams: Collection[str] | None,
) -> Digest:
    """Return the digest of `review` and `objectives`, keeping only `teams` (None: all)."""
    kept = [o for o in objectives if teams is None or o.team in teams]
    kr_ids = {kr.id for o in kept for kr in o.key_results}

    def ours(ref: KeyResultRef) -> bool:
        return teams is None or ref.team in teams

    filtered = replace(
        review,
        status_changes=tuple(c for c in review.status_changes if ours(c.key_result)),
        movers=tuple(m for m in review.movers if ours(m.key_result)),
        missing_check_ins=tuple(m for m in review.missing_check_ins if ours(m.key_result)),
        source_problems=tuple(p for p in review.source_problems if ours(p.key_result)),
        alerts=tuple(a for a in review.alerts if teams is None or a.key_result_id in kr_ids),
    )
    return Digest(name, None if teams is None else tuple(teams), tuple(kept), filtered)


def iso(ts: int | None) -> str | None:
    """Return a UNIX timestamp as ISO 8601 UTC text ending in Z."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _ref(ref: KeyResultRef, public_url: str) -> dict[str, Any]:
    return {
        "id": ref.id,
        "title": ref.title,
        "unit": ref.unit,
        "objective": {"id": ref.objective_id, "title": ref.objective_title},
        "owner": ref.owner,
        "team": ref.team,
        "link": f"{public_url}/key-results/{ref.id}",
    }


def digest_payload(digest: Digest, *, public_url: str) -> dict[str, Any]:
    """Return the generic `okr.digest` event (JSON-ready) that every format renders from."""
    r, base = digest.review, public_url.rstrip("/")
    return {
        "type": DIGEST_EVENT,
        "timestamp": iso(r.now_ts),
        "data": {
            "digest": digest.name,
            "teams": list(digest.teams) if digest.teams is not None else None,
            "since": iso(r.since_ts),
            "until": iso(r.now_ts),
            "link": f"{base}/review",
            "objectives": [
                {
                    "id": o.id,
                    "title": o.title,
                    "owner": o.owner,
                    "team": o.team,
                    "progress": o.progress,
                    "key_results": [
                        {
                            "id": kr.id,
                            "title": kr.title,
                            "unit": kr.unit,
                            "progress": kr.progress,
                            "status": kr.status,
                            "status_reason": kr.status_reason,
                        }
                        for kr in o.key_results
                    ],
                }
                for o in digest.objectives
            ],
            "status_changes": [
                {
                    "key_result": _ref(c.key_result, base),
                    "status_then": c.status_then.value,
                    "reason_then": c.reason_then,
                    "status_now": c.status_now.value,
                    "reason_now": c.reason_now,
                }
                for c in r.status_changes
            ],
            "movers": [
                {
                    "key_result": _ref(m.key_result, base),
                    "progress_then": m.progress_then,
                    "progress_now": m.progress_now,
                    "delta": m.delta,
                }
                for m in r.movers
            ],
            "missing_check_ins": [
                {"key_result": _ref(m.key_result, base), "last_check_in": iso(m.last_check_in_ts)}
                for m in r.missing_check_ins
            ],
            "source_problems": [
                {
                    "key_result": _ref(p.key_result, base),
                    "status": p.status.value,
                    "reason": p.reason,
                    "since": iso(p.since_ts),
                    "last_sample": iso(p.last_sample_ts),
                }
                for p in r.source_problems
            ],
            "alerts": [
                {
                    "event_id": a.event_id,
                    "type": a.event_type,
                    "key_result": {"id": a.key_result_id, "title": a.key_result_title},
                    "raised": iso(a.raised_ts),
                    "condition": a.condition,
                    "status": a.status,
                    "reason": a.reason,
                }
                for a in r.alerts
            ],
        },
    }
