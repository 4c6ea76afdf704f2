"""Redact every log record, of krtracker or of any library, before a handler writes it.

`install_log_redaction` puts `LOG_FILTER` on the root handlers (the CLI also gives it to
uvicorn's); it knows no secret until the tracker is open, and cuts URLs from the start.
"""

from __future__ import annotations

import logging
from typing import Any

from app.core.redaction import Redactor


class RedactingFilter(logging.Filter):
    """Redact every record that passes a handler: message, arguments, traceback, stack."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self.redactor = redactor or Redactor()

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record's template and each argument in place, and keep the record.

        Arguments stay arguments: some formatters (uvicorn's access log) read them.
        """
        redactor = self.redactor
        # A template with arguments is code (`%s://%s:%d`): only the arguments carry data.
        if isinstance(record.msg, str) and not record.args:
            record.msg = redactor.log_text(record.msg)
        elif not isinstance(record.msg, str):
            record.msg = redactor.log_text(str(record.msg))
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted_argument(redactor, a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redacted_argument(redactor, v) for k, v in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redactor.log_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redactor.log_text(record.stack_info)
        return True


def _redacted_argument(redactor: Redactor, value: Any) -> Any:
    """Return a log argument redacted: numbers as they are, anything else as redacted text."""
    if value is None or isinstance(value, bool | int | float):
        return value
    try:
        text = str(value)
    except Exception:  # logging reports a broken argument itself; do not fail first
        return value
    redacted = redactor.log_text(text)
    return value if redacted == text and isinstance(value, str) else redacted


LOG_FILTER = RedactingFilter()


def install_log_redaction(redactor: Redactor | None = None) -> RedactingFilter:
    """Put the process's redacting filter on every root handler and give it `redactor`.

    Call it where logging is configured; handlers of other loggers (uvicorn's) take
    `LOG_FILTER` through their own configuration.
    """
    if redactor is not None:
        LOG_FILTER.redactor = redactor
    for handler in logging.getLogger().handlers:
        if LOG_FILTER not in handler.filters:
            handler.addFilter(LOG_FILTER)
    return LOG_FILTER
