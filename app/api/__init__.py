"""The JSON API under `/api/v1` (a public contract), plus health checks and `/metrics`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

from app.api.cache import RepresentationCache
from app.api.limits import RequestLimits
from app.api.listing import ListingMirror
from app.api.params import UnknownQueryRefused
from app.api.problems import API_ERRORS, install_problem_handlers
from app.api.routes import (
    alerts,
    attempts,
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

if TYPE_CHECKING:
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
    app.state.representation_cache = RepresentationCache()
    app.state.row_cache = RepresentationCache()
    app.state.listing_mirror = ListingMirror()
    install_problem_handlers(app)
    app.add_middleware(RequestLimits, tracker=tracker)
    routers = (
        objectives,
        key_results,
        samples,
        check_ins,
        revisions,
        alerts,
        webhooks,
        attempts,
        review,
        periods,
    )
    for router in routers:
        app.include_router(
            router.router,
            prefix=API_PREFIX,
            responses=API_ERRORS,
            dependencies=[UnknownQueryRefused],
        )
    app.include_router(health.router)
    app.include_router(metrics.router)
    # Imported here: the pages reuse `app.api.deps`, so importing them first must work too.
    from app.web import install_web

    install_web(app, tracker)
    return app
