"""The logging filter: records of any logger lose secrets, and URLs show only their host."""

from __future__ import annotations

import logging
import sys

from app.cli.log_redaction import RedactingFilter
from app.core.redaction import Redactor


def test_log_lines_show_a_url_as_its_host_and_a_redacted_path() -> None:
    """The request log line of httpx keeps the host, not the webhook's secret path or query."""
    record = logging.LogRecord(
        "httpx",
        logging.INFO,
        __file__,
        1,
        'HTTP Request: %s %s "%s %d %s"',
        (
            "POST",
            "https://hooks.slack.com/services/T0001/B0001/XXXXXXXXXXXXXXXX?token=t0k",
            "HTTP/1.1",
            500,
            "Internal Server Error",
        ),
        None,
    )
    RedactingFilter(Redactor()).filter(record)
    shown = "https://hooks.slack.com/services/***?***"
    assert record.getMessage() == f'HTTP Request: POST {shown} "HTTP/1.1 500 Internal Server Error"'


def test_log_records_lose_secrets_in_arguments_and_tracebacks() -> None:
    """A secret in a log argument or in the message of a logged exception is masked."""
    redactor = Redactor(["tok-0123456789"])
    try:
        raise ValueError("source said: bad credentials tok-0123456789")
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "failed: %s", ("tok-0123456789",), exc_info
    )
    RedactingFilter(redactor).filter(record)
    text = logging.Formatter().format(record)
    assert "tok-0123456789" not in text and "bad credentials ***" in text


def test_a_template_with_arguments_still_formats() -> None:
    """A template such as uvicorn's `%s://%s:%d` is left alone; its arguments are redacted."""
    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        "Uvicorn running on %s://%s:%d (Press CTRL+C to quit)",
        ("http", "127.0.0.1", 8080),
        None,
    )
    RedactingFilter(Redactor(["tok-0123456789"])).filter(record)
    assert record.getMessage() == "Uvicorn running on http://127.0.0.1:8080 (Press CTRL+C to quit)"


def test_a_configured_secret_path_still_shows_its_host() -> None:
    """A Slack URL whose path is a configured secret logs as its host and first segment."""
    path = "/services/T0001/B0001/SlackPathSecret0123456789"
    record = logging.LogRecord(
        "httpx",
        logging.INFO,
        __file__,
        1,
        "HTTP Request: %s %s",
        ("POST", f"http://127.0.0.1:8080{path}"),
        None,
    )
    RedactingFilter(Redactor([path, "SlackPathSecret0123456789"])).filter(record)
    assert record.getMessage() == "HTTP Request: POST http://127.0.0.1:8080/services/***"
