"""The JSON API under `/api/v1` (a public contract), plus health checks and `/metrics`."""

from __future__ import annotations

from fastapi import FastAPI

from app.api.problems import install_problem_handlers
from app.api.routes import (
    alerts,
    check_ins,
    health,
    key_results,
    metrics,
    objectives,
    periods,
    review,
    revisions,
    samples,
    webhooks,
)
from app.tracker import Tracker

API_PREFIX = "/api/v1"


def create_app(tracker: Tracker) -> FastAPI:
    """Build the FastAPI application around a running tracker."""
    app = FastAPI(
        title="krtracker",
        version="1",
        summary="Engineering Key Results bound to live data sources.",
        openapi_url="/openapi.json",
    )
    app.state.tracker = tracker
    install_problem_handlers(app)
    for router in (objectives, key_results, samples, check_ins, revisions, alerts, webhooks):
        app.include_router(router.router, prefix=API_PREFIX)
    for router in (review, periods):
        app.include_router(router.router, prefix=API_PREFIX)
    app.include_router(health.router)
    app.include_router(metrics.router)
    return app
