"""Send an outbox event to an `email` webhook over SMTP (stdlib `smtplib`), once.

Called by the delivery worker in place of an HTTP POST, so email has the outbox's
guarantees: at least once, retries with backoff until the max retry age, every try
recorded. The SMTP host passes the same SSRF guard as webhook URLs (`[alerts]
allow_private_targets`): it is resolved and checked, and the connection goes to the
checked address (the name is kept for STARTTLS certificate checks), so a DNS answer
cannot change between check and connect. A refused host fails at once; an SMTP error or
an unreachable server is retried. The password never appears in errors (the worker's
redactor knows it, and SMTP replies are quoted only by code and text).
"""

from __future__ import annotations

import smtplib
import ssl
import time
from typing import TYPE_CHECKING, Any

from app.alerts.email_render import email_message
from app.alerts.safe_http import (
    Allowlist,
    Outcome,
    TargetRefused,
    TargetUnresolvable,
    resolve_checked,
)

if TYPE_CHECKING:
    from app.config.delivery import SmtpConfig, WebhookConfig


class _CheckedSMTP(smtplib.SMTP):
    """An SMTP client that connects to a checked address but verifies TLS for the host name."""

    def __init__(self, *, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.connect(address, port)
        self._host = host  # STARTTLS checks the certificate against this name


def send_email(
    smtp: SmtpConfig | None,
    webhook: WebhookConfig,
    *,
    event_id: str,
    payload: dict[str, Any],
    allow: Allowlist,
) -> Outcome:
    """Send one event by email and classify the result like an HTTP try (250 = 2xx)."""
    started = time.perf_counter()

    def done(code: int | None, error: str | None, *, permanent: bool = False) -> Outcome:
        return Outcome(code, error, int((time.perf_counter() - started) * 1000), permanent)

    if smtp is None:
        return done(None, "no [smtp] section: email webhooks need a mail server", permanent=True)
    message = email_message(payload, event_id=event_id, sender=smtp.from_, to=webhook.to or [])
    try:
        address = str(resolve_checked(smtp.host, smtp.port, allow)[0])
    except TargetRefused as exc:
        return done(None, f"SMTP host refused: {exc}", permanent=True)
    except TargetUnresolvable as exc:
        return done(None, str(exc))
    try:
        with _CheckedSMTP(
            host=smtp.host, address=address, port=smtp.port, timeout=smtp.timeout_seconds
        ) as client:
            if smtp.starttls:
                client.starttls(context=ssl.create_default_context())
            if smtp.username is not None and smtp.password is not None:
                client.login(smtp.username, smtp.password.get_secret_value())
            refused = client.send_message(message)
    except smtplib.SMTPResponseException as exc:
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else ""
        return done(None, f"SMTP {exc.smtp_code}: {text}".strip())
    except smtplib.SMTPRecipientsRefused as exc:
        return done(None, f"SMTP refused every recipient: {', '.join(exc.recipients)}")
    except (smtplib.SMTPException, OSError) as exc:
        return done(None, f"SMTP {type(exc).__name__}: {exc}")
    if refused:
        return done(250, f"accepted, but refused for {', '.join(refused)}")
    return done(250, None)
