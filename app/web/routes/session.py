"""`/sign-in` and `/sign-out`: prove write access once by pasting an API token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from app.web.auth import form_refusal, save_session, sign_in, sign_out
from app.web.pages import error_page, page

router = APIRouter(include_in_schema=False)


def _safe_next(target: str) -> str:
    """Return a local path to go back to (never another site)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/sign-in")
def sign_in_form(request: Request, next: str = "/") -> Response:
    """Show the sign-in form."""
    return page(request, "sign_in.html", next=_safe_next(next), error=None)


@router.post("/sign-in")
def sign_in_submit(
    request: Request,
    token: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the pasted token in constant time against the configured ones; keep a session."""
    refusal = form_refusal(request, csrf)
    if refusal is not None:
        return error_page(request, status_code=403, title="Sign-in refused", message=refusal)
    if sign_in(request, token) is None:
        return page(
            request,
            "sign_in.html",
            status_code=401,
            next=_safe_next(next),
            error="That token is not one of this server's API tokens ([api] tokens).",
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    save_session(request, response)
    return response


@router.post("/sign-out")
def sign_out_submit(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    """End the session."""
    refusal = form_refusal(request, csrf)
    if refusal is not None:
        return error_page(request, status_code=403, title="Sign-out refused", message=refusal)
    sign_out(request)
    response = RedirectResponse("/", status_code=303)
    save_session(request, response)
    return response
