"""Digests and alerts by email: a real SMTP server on loopback accepts them through the outbox.

The period of `tests.api.test_reports` is digested and the outbox row for an `email`
webhook goes through the real delivery worker and `smtplib` to an aiosmtpd server that
requires a login. The password comes from a `password_file` and never appears in the
stored error, the log, or the redacted text.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlmodel import Session, col, select

from app.alerts.delivery import DeliveryWorker
from app.alerts.email_render import email_message
from app.alerts.events import make_test_event
from app.config.delivery import AlertsConfig, DigestConfig, SmtpConfig, WebhookConfig
from app.config.loading import parse_config
from app.config.secrets import redactor_for
from app.core.domain import DIGEST_EVENT
from app.rhythm.digest_schedule import enqueue_digest
from app.store.models import Delivery, DeliveryAttempt
from tests.api import test_reports as test_api_reports
from tests.api.test_reports import NOW, Timeline
from tests.support.config_documents import document, errors_of
from tests.support.smtp_server import smtp_server

PASSWORD = "smtp-pass-7f3a9c1e5b2d"
MAIL = WebhookConfig(name="mail", format="email", to=["team@example.org", "lead@example.org"])

# The period of values, failed attempts and check-ins that the review tests use.
timeline = test_api_reports.timeline


def _smtp(port: int, password: str = PASSWORD) -> SmtpConfig:
    return SmtpConfig.model_validate(
        {
            "host": "127.0.0.1",
            "port": port,
            "starttls": False,
            "username": "krtracker",
            "password": password,
            "from": "okr@example.org",
        }
    )


def _send(t: Timeline, smtp: SmtpConfig, *, allow: list[str]) -> Delivery:
    digest = DigestConfig(name="weekly", webhooks=["mail"], since="31d")
    with Session(t.tracker.engine) as session:
        enqueue_digest(
            session,
            digest,
            instant=NOW,
            now_ts=NOW,
            thresholds=t.tracker.thresholds,
            public_url="https://okr.example.com",
            redactor=t.tracker.redactor,
        )
    worker = DeliveryWorker(
        t.tracker.engine,
        webhooks=[MAIL],
        alerts=AlertsConfig(allow_private_targets=allow),
        clock=lambda: NOW,
        smtp=smtp,
    )
    try:
        assert worker.deliver_due() == 1
    finally:
        worker.stop()
    with Session(t.tracker.engine) as session:
        row = session.exec(
            select(Delivery).where(Delivery.event_type == DIGEST_EVENT).order_by(col(Delivery.seq))
        ).one()
        session.expunge(row)
        return row


def test_a_digest_email_is_accepted_with_subject_text_and_html(timeline: Timeline) -> None:
    """The server gets one message for both recipients: subject, a text and an HTML part."""
    with smtp_server(username="krtracker", password=PASSWORD) as sink:
        row = _send(timeline, _smtp(sink.port), allow=["127.0.0.1/32"])
    assert row.state == "delivered", row.last_error
    ((message,), (recipients,)) = sink.messages, sink.recipients
    assert recipients == ["team@example.org", "lead@example.org"]
    assert message["Subject"] == "OKR digest weekly for everyone: 2026-10-20 to 2026-11-20"
    assert message["From"] == "okr@example.org"
    assert message["Message-ID"] == f"<{row.event_id}@krtracker>"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    plain = text.get_content().replace("\r\n", "\n")
    markup = html.get_content()
    assert "Ship with confidence" in plain and "Status changes\n--------------" in plain
    assert "owner bo" in plain and "<" not in plain.split("Open:")[0]
    assert "<h2>Status changes</h2>" in markup and "<li>Ship with confidence" in markup
    assert 'href="https://okr.example.com/review"' in markup


def test_a_refused_login_is_retried_and_the_password_is_never_shown(
    timeline: Timeline, caplog: pytest.LogCaptureFixture
) -> None:
    """A wrong password leaves the email pending with a reason that does not quote it."""
    wrong = "wrong-smtp-pass-0a1b2c3d4e"
    with (
        caplog.at_level(logging.DEBUG),
        smtp_server(username="krtracker", password=PASSWORD) as sink,
    ):
        row = _send(timeline, _smtp(sink.port, wrong), allow=["127.0.0.1/32"])
    assert sink.refused_logins >= 1 and sink.messages == []  # smtplib tries PLAIN, then LOGIN
    assert row.state == "pending" and row.last_error is not None
    assert "535" in row.last_error
    with Session(timeline.tracker.engine) as session:
        errors = [a.error or "" for a in session.exec(select(DeliveryAttempt)).all()]
    for shown in [row.last_error, caplog.text, *errors]:
        assert wrong not in shown


def test_a_private_smtp_host_is_refused_like_a_webhook(timeline: Timeline) -> None:
    """Without 127.0.0.1 in allow_private_targets, the email fails at once, nothing is sent."""
    with smtp_server(username="krtracker", password=PASSWORD) as sink:
        row = _send(timeline, _smtp(sink.port), allow=[])
    assert row.state == "failed" and sink.messages == []
    assert row.last_error is not None and "loopback" in row.last_error


def test_smtp_password_file_is_read_and_redacted(tmp_path: Path) -> None:
    """`password_file` fills the password; the config's redactor masks it."""
    secret = tmp_path / "smtp"
    secret.write_text(PASSWORD + "\n")
    smtp = {"host": "smtp.example.org", "from": "okr@example.org", "username": "krtracker"}
    raw = document(
        smtp={**smtp, "password_file": str(secret)},
        webhooks=[{"name": "mail", "format": "email", "to": ["team@example.org"]}],
    )
    loaded = parse_config(raw)
    assert loaded.config.smtp is not None and loaded.config.smtp.password is not None
    assert loaded.config.smtp.password.get_secret_value() == PASSWORD
    assert PASSWORD not in redactor_for(loaded).text(f"login failed for {PASSWORD}")
    assert PASSWORD not in repr(loaded.config)


@pytest.mark.parametrize(
    ("webhook", "sections", "path"),
    [
        ({"name": "mail", "format": "email", "to": ["a@example.org"]}, {}, "webhooks[0].format"),
        ({"name": "mail", "format": "email"}, {}, "webhooks[0]"),
        ({"name": "x", "url": "https://h.example.org", "to": ["a@example.org"]}, {}, "webhooks[0]"),
        (
            {"name": "mail", "format": "email", "to": ["a@example.org"]},
            {"smtp": {"host": "smtp.example.org", "from": "not an address"}},
            "smtp.from",
        ),
    ],
)
def test_email_config_mistakes_name_their_place(
    webhook: dict[str, object], sections: dict[str, object], path: str
) -> None:
    """An email webhook without [smtp] or `to`, or `to` on an HTTP webhook, is an error."""
    errors = errors_of(document(webhooks=[webhook], **sections))
    assert [p.path for p in errors] == [path], errors


def test_secret_str_is_used() -> None:
    """The SMTP password is a SecretStr, so it never prints."""
    assert isinstance(_smtp(25).password, SecretStr)
    assert PASSWORD not in str(_smtp(25))


def test_an_alert_renders_as_an_email_too() -> None:
    """A `kr.*` event by email: its headline as subject, value against target in both parts."""
    payload = make_test_event("mail", at_ts=NOW, public_url="https://okr.example.com")
    payload["data"].update(value=94.0, target=100.0, status="at_risk")
    payload["data"]["key_result"]["unit"] = "%"
    message = email_message(payload, event_id="evt_1", sender="okr@example.org", to=["a@b.org"])
    assert message["Subject"] == "krtracker test event: Test event for webhook mail"
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    assert "Value vs target: 94 % vs target 100 %" in text.get_content()
    assert "<li>Status: at risk</li>" in html.get_content()
