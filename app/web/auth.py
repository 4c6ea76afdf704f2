"""Browser sessions: a signed cookie that remembers a pasted token, and CSRF checks for forms.

The cookie holds a fingerprint (SHA-256) of the token, never the token itself, and is
checked against the configured tokens on every request: removing a token from the config
ends the sessions made with it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.api.deps import find_token
from app.config.models import ApiToken

if TYPE_CHECKING:
    from app.tracker import Tracker

log = logging.getLogger(__name__)
COOKIE = "krtracker_session"
MAX_AGE_SECONDS = 14 * 86400


@dataclass
class WebSession:
    """Who the browser is: a CSRF token always, a token's name and scopes once signed in."""

    csrf: str
    fingerprint: str | None = None
    token_name: str | None = None
    scopes: set[str] = field(default_factory=set)
    is_new: bool = False

    @property
    def signed_in(self) -> bool:
        """Return whether the session carries a currently configured token."""
        return self.token_name is not None

    def can(self, scope: str) -> bool:
        """Return whether the session's token has `scope`."""
        return scope in self.scopes


def session_serializer(tracker: Tracker) -> URLSafeTimedSerializer:
    """Return the cookie signer: the configured secret, else a random one for this process."""
    configured = tracker.loaded.config.web.session_secret
    secret = configured.get_secret_value() if configured is not None else ""
    if not secret:
        log.warning(
            "[web] session_secret is not set: browser sign-ins are signed with a random key "
            "and end when this process stops (and are not valid on other replicas)"
        )
        secret = secrets.token_urlsafe(32)
    return URLSafeTimedSerializer(secret, salt="krtracker-web-session")


def fingerprint(token: str) -> str:
    """Return the fingerprint a session keeps instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _token_with_fingerprint(tracker: Tracker, presented: str) -> ApiToken | None:
    found: ApiToken | None = None
    for token in tracker.loaded.config.api.tokens:
        if hmac.compare_digest(fingerprint(token.token.get_secret_value()), presented):
            found = token
    return found


def read_session(request: Request) -> WebSession:
    """Return the request's session (a fresh anonymous one when the cookie is absent or bad)."""
    cached: WebSession | None = getattr(request.state, "web_session", None)
    if cached is not None:
        return cached
    serializer: URLSafeTimedSerializer = request.app.state.web_sessions
    tracker: Tracker = request.app.state.tracker
    session = WebSession(csrf=secrets.token_urlsafe(24), is_new=True)
    raw = request.cookies.get(COOKIE)
    if raw:
        try:
            data: dict[str, Any] = serializer.loads(raw, max_age=MAX_AGE_SECONDS)
        except BadSignature:
            data = {}
        if isinstance(data.get("csrf"), str):
            session = WebSession(csrf=data["csrf"])
            fp = data.get("fp")
            token = _token_with_fingerprint(tracker, fp) if isinstance(fp, str) else None
            if token is not None:
                session.fingerprint = fp
                session.token_name = token.name
                session.scopes = set(token.scopes)
    request.state.web_session = session
    return session


def sign_in(request: Request, presented: str) -> WebSession | None:
    """Return a signed-in session for a configured token, or None for an unknown one."""
    token = find_token(request.app.state.tracker, presented.strip())
    if token is None:
        return None
    session = WebSession(
        csrf=secrets.token_urlsafe(24),
        fingerprint=fingerprint(token.token.get_secret_value()),
        token_name=token.name,
        scopes=set(token.scopes),
        is_new=True,
    )
    request.state.web_session = session
    return session


def sign_out(request: Request) -> WebSession:
    """Replace the session with a fresh anonymous one."""
    session = WebSession(csrf=secrets.token_urlsafe(24), is_new=True)
    request.state.web_session = session
    return session


def save_session(request: Request, response: Response) -> None:
    """Write the session cookie when the session is new (HttpOnly, SameSite=Strict, signed)."""
    session: WebSession | None = getattr(request.state, "web_session", None)
    if session is None or not session.is_new:
        return
    serializer: URLSafeTimedSerializer = request.app.state.web_sessions
    data: dict[str, Any] = {"csrf": session.csrf}
    if session.fingerprint:
        data["fp"] = session.fingerprint
    response.set_cookie(
        COOKIE,
        serializer.dumps(data),
        max_age=MAX_AGE_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def form_refusal(request: Request, submitted_csrf: str | None) -> str | None:
    """Return why a form POST must be refused (another site, or no valid CSRF token), or None.

    Two checks, as OWASP recommends: the browser's own Sec-Fetch-Site / Origin headers, and
    a per-session token in a hidden field that another site cannot read.
    """
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return f"the form was sent from another site (Sec-Fetch-Site: {fetch_site})"
    origin = request.headers.get("origin")
    if origin is not None:
        tracker: Tracker = request.app.state.tracker
        allowed = {_origin(str(request.base_url)), _origin(tracker.loaded.config.api.link_base())}
        if origin.lower() not in allowed:
            return f"the form was sent from another origin ({origin})"
    session = read_session(request)
    if session.is_new or not submitted_csrf:
        return "the form's session token is missing: reload the page and send it again"
    if not hmac.compare_digest(session.csrf.encode(), submitted_csrf.encode()):
        return "the form's session token does not match: reload the page and send it again"
    return None
