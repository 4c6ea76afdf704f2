"""`/key-results/{id}`: a Key Result's chart, source, attempts, check-ins, and its forms."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from app.api.routes.check_ins import record_check_in
from app.api.schemas import CheckInIn, ValueIn
from app.sampling.measure import store_manual_value
from app.sampling.outcomes import ValueAlreadyStored
from app.store.versions import read_key_result_version
from app.web.auth import form_refusal, read_session
from app.web.key_result_view import build_key_result_page
from app.web.pages import error_page, page, read_refusal, tracker_of

router = APIRouter(prefix="/key-results", include_in_schema=False)
SAVED = {"check-in": "Check-in saved.", "value": "Value recorded."}


def _not_found(request: Request, key_result_id: str) -> Response:
    return error_page(
        request,
        status_code=404,
        title="No such Key Result",
        message=f"There is no Key Result with id {key_result_id!r}. It may have been renamed "
        "or removed from the config file.",
    )


def _show(
    request: Request, key_result_id: str, *, status_code: int = 200, **forms: Any
) -> Response:
    tracker = tracker_of(request)
    with Session(tracker.engine) as session:
        data = build_key_result_page(
            session, key_result_id, chart_points=request.app.state.chart_points
        )
        if data is None:
            return _not_found(request, key_result_id)
        return page(
            request,
            "key_result.html",
            status_code=status_code,
            kr_page=data,
            manual=tracker.accepts_manual_values(key_result_id),
            saved=SAVED.get(request.query_params.get("saved", "")),
            forms=forms,
        )


@router.get("/{key_result_id}")
def key_result(request: Request, key_result_id: str) -> Response:
    """Show one Key Result."""
    return read_refusal(request) or _show(request, key_result_id)


def _write_refusal(request: Request, csrf: str) -> Response | None:
    refusal = form_refusal(request, csrf)
    if refusal is not None:
        return error_page(request, status_code=403, title="Form refused", message=refusal)
    if not read_session(request).can("write"):
        return error_page(
            request,
            status_code=403,
            title="Sign in to write",
            message="Sign in with an API token that has the write scope to check in or record "
            "values.",
        )
    return None


def _form_number(text: str) -> float | None:
    """Read a number typed into a form (the API's models take JSON numbers only)."""
    try:
        return float(text.strip()) if text.strip() else None
    except ValueError:
        return math.nan  # refused by the model with its own message (finite numbers only)


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
        for e in exc.errors()
    )


@router.post("/{key_result_id}/check-ins")
def check_in(
    request: Request,
    key_result_id: str,
    confidence: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Store a check-in authored by the signed-in token's name."""
    refusal = _write_refusal(request, csrf)
    if refusal is not None:
        return refusal
    form = {"confidence": confidence, "note": note}
    try:
        body = CheckInIn(confidence=_form_number(confidence), note=note)  # type: ignore[arg-type]
    except ValidationError as exc:
        return _show(
            request, key_result_id, status_code=422, check_in=form, check_in_error=_problems(exc)
        )
    tracker = tracker_of(request)
    with Session(tracker.engine) as session:
        if read_key_result_version(session.connection(), key_result_id) is None:
            return _not_found(request, key_result_id)
        record_check_in(
            session,
            key_result_id=key_result_id,
            body=body,
            author=read_session(request).token_name or "",
            now=tracker.now(),
        )
    return RedirectResponse(f"/key-results/{key_result_id}?saved=check-in#check-ins", 303)


@router.post("/{key_result_id}/values")
def value(
    request: Request,
    key_result_id: str,
    value: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Record a value for a manual Key Result, as `POST /api/v1/…/values` does."""
    refusal = _write_refusal(request, csrf)
    if refusal is not None:
        return refusal
    tracker = tracker_of(request)
    form = {"value": value, "note": note}
    if not tracker.accepts_manual_values(key_result_id):
        with Session(tracker.engine) as session:
            if read_key_result_version(session.connection(), key_result_id) is None:
                return _not_found(request, key_result_id)
        return error_page(
            request,
            status_code=409,
            title="Values cannot be entered here",
            message=f"Key Result {key_result_id!r} is sampled from its data source; values "
            "cannot be entered by hand.",
        )
    try:
        body = ValueIn(value=_form_number(value), note=note or None)  # type: ignore[arg-type]
    except ValidationError as exc:
        return _show(
            request, key_result_id, status_code=422, value=form, value_error=_problems(exc)
        )
    try:
        store_manual_value(
            tracker, kr_id=key_result_id, ts=tracker.now(), value=body.value, note=body.note
        )
    except ValueAlreadyStored as exc:
        problem = f"{exc}; values are never replaced: submit again in a second"
        return _show(request, key_result_id, status_code=409, value=form, value_error=problem)
    return RedirectResponse(f"/key-results/{key_result_id}?saved=value#value", 303)
