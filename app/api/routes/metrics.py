"""`/metrics`: every Key Result's value, target, progress and status, and the alert outbox."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlmodel import Session

from app.api.deps import ReadAccess, TrackerDep
from app.core.domain import DeliveryState, Status
from app.store.key_results import list_key_results, list_objectives
from app.store.outbox import outbox_summary

router = APIRouter(tags=["metrics"])
LABELS = ["key_result", "objective", "team"]


class KeyResultCollector(Collector):
    """Read every Key Result's stored state at scrape time; None values are left out, never NaN."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Yield one gauge family per figure."""
        teams = {o.id: o.team or "" for o in list_objectives(self.session)}
        families = {
            name: GaugeMetricFamily(f"krtracker_key_result_{name}", help_text, labels=LABELS)
            for name, help_text in (
                ("value", "Current value of the Key Result (after aggregation), in its unit."),
                ("target", "Absolute target of the Key Result."),
                ("baseline", "Baseline the progress is measured from."),
                ("progress", "Progress towards the target (1 = reached; may exceed 1)."),
                ("expected_progress", "Share of the period elapsed (linear expectation)."),
                ("last_sample_timestamp_seconds", "UNIX time of the latest sample."),
            )
        }
        status = GaugeMetricFamily(
            "krtracker_key_result_status",
            "1 for the Key Result's current status, else 0.",
            labels=[*LABELS, "status"],
        )
        for kr in list_key_results(self.session):
            labels = [kr.id, kr.objective_id, teams.get(kr.objective_id, "")]
            for name, value in (
                ("value", kr.current_value),
                ("target", kr.target_value),
                ("baseline", kr.baseline_value),
                ("progress", kr.progress),
                ("expected_progress", kr.expected_progress),
                ("last_sample_timestamp_seconds", kr.current_ts),
            ):
                if value is not None:
                    families[name].add_metric(labels, float(value))
            for state in Status:
                status.add_metric([*labels, state.value], 1.0 if kr.status == state.value else 0.0)
        yield from families.values()
        yield status


class OutboxCollector(Collector):
    """Unfinished alert deliveries per webhook: a stuck receiver shows as a growing age."""

    def __init__(self, session: Session, now: int) -> None:
        self.session = session
        self.now = now

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Yield the count per (webhook, state) and the oldest pending delivery's age."""
        count = GaugeMetricFamily(
            "krtracker_deliveries",
            "Alert deliveries not yet delivered, by webhook and state "
            "(pending, sending, failed: given up after the retry window).",
            labels=["webhook", "state"],
        )
        age = GaugeMetricFamily(
            "krtracker_delivery_oldest_pending_age_seconds",
            "Age of the oldest delivery still waiting to be sent (pending or sending).",
            labels=["webhook"],
        )
        oldest: dict[str, int] = {}
        for webhook, state, deliveries, created_ts in outbox_summary(self.session):
            count.add_metric([webhook, state], float(deliveries))
            if state != DeliveryState.FAILED:
                oldest[webhook] = min(created_ts, oldest.get(webhook, created_ts))
        for webhook, created_ts in sorted(oldest.items()):
            age.add_metric([webhook], float(max(0, self.now - created_ts)))
        yield count
        yield age


@router.get("/metrics", include_in_schema=False, dependencies=[ReadAccess])
def metrics(tracker: TrackerDep) -> Response:
    """Render the Prometheus text format."""
    registry = CollectorRegistry(auto_describe=False)
    with Session(tracker.engine) as session:
        registry.register(KeyResultCollector(session))
        registry.register(OutboxCollector(session, tracker.now()))
        body = generate_latest(registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
