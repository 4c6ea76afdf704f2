"""Sending one delivery: render it in its webhook's format and POST it, or mail it; redact.

Kept apart from the worker (`app.alerts.delivery`), which decides what to send and records how it
went: this module runs in the webhooks' thread pools and never touches the database. It
also owns the webhooks' secrets: they are checked when the sender is built, and no
payload or error leaves `send` with one of them in it.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from standardwebhooks import Webhook

from app.alerts.email import send_email
from app.alerts.formats import render
from app.alerts.safe_http import Allowlist, Outcome, SafeHttpClient
from app.config.secrets import credential_parts, url_secrets
from app.core.redaction import Redactor

if TYPE_CHECKING:
    from app.config.delivery import SmtpConfig, WebhookConfig
    from app.store.outbox_worker import Claim

log = logging.getLogger(__name__)


class DeliverySender:
    """Sends claimed deliveries to their webhooks over the SSRF-guarded client or SMTP.

    Refuses, when built, a webhook whose signing key is not a Standard Webhooks key.
    """

    def __init__(
        self,
        webhooks: list[WebhookConfig],
        *,
        allow: Allowlist,
        timeout: float,
        redactor: Redactor | None = None,
        smtp: SmtpConfig | None = None,
    ) -> None:
        self.webhooks = {w.name: w for w in webhooks}
        self.allow, self.smtp = allow, smtp
        self.http = SafeHttpClient(allow, timeout=timeout)
        secrets = webhook_secrets(webhooks)  # refuses a signing key that is not one
        # The tracker's redactor knows every secret of the config; alone, the webhooks' own.
        self.redactor = redactor or Redactor(secrets)

    def send(self, claim: Claim) -> Outcome:
        """Render and POST the event once; payload and error have every secret redacted."""
        try:
            webhook = self.webhooks[claim.webhook]
            if webhook.format == "email":
                outcome = send_email(
                    self.smtp,
                    webhook,
                    event_id=claim.event_id,
                    payload=self.redactor.json(claim.payload),
                    allow=self.allow,
                )
            else:
                # The signature timestamp is wall time: receivers check it against their clock.
                request = render(
                    webhook,
                    event_id=claim.event_id,
                    payload=self.redactor.json(claim.payload),
                    sent_at=datetime.now(UTC),
                )
                outcome = self.http.attempt(
                    request.url, content=request.body, headers=request.headers
                )
        except Exception as exc:  # a bug must become a recorded failure, not a lost delivery
            log.error("sending delivery %s failed unexpectedly: %s", claim.seq, type(exc).__name__)
            outcome = Outcome(None, f"internal error: {type(exc).__name__}: {exc}", 0)
        return replace(outcome, error=self.redactor.optional(outcome.error))

    def close(self) -> None:
        """Close the HTTP connections."""
        self.http.close()


def webhook_secrets(webhooks: list[WebhookConfig]) -> list[str]:
    """Return the webhooks' secrets (signing keys, header values, URL paths); check signing keys."""
    secrets: list[str] = []
    for webhook in webhooks:
        if webhook.secret is not None:
            value = webhook.secret.get_secret_value()
            try:
                Webhook(value)
            except Exception:
                raise ValueError(
                    f"webhook {webhook.name!r}: the secret is not a Standard Webhooks "
                    "key (expected whsec_ followed by base64)"
                ) from None
            secrets.append(value)
        for header in webhook.headers.values():
            secrets += credential_parts(header.get_secret_value())
        if webhook.url is not None:
            secrets += url_secrets(webhook.url, webhook=True, whole_path=webhook.format == "slack")
    return secrets
