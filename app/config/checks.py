"""Checks that span several keys of a config: the database, API tokens and webhooks.

Each check appends `Problem`s (errors or warnings, each with its key path) instead of
stopping at the first, so `krtracker validate` can print them all (`app.config.problems`).
Objectives and Key Results in `app.config.objective_checks`,
connectors and sources in `app.config.source_checks`, digests and email in
`app.config.digests`, practice warnings in `app.config.lint`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from standardwebhooks import Webhook

from app.config.problems import Problem, format_path
from app.config.runtime import private_target_warning

if TYPE_CHECKING:
    from app.config.models import KrTrackerConfig


def check_database(url: str, problems: list[Problem]) -> None:
    """Refuse a database URL that krtracker cannot open with the installed drivers."""
    from app.config.runtime import database_url_problem

    message = database_url_problem(url)
    if message:
        problems.append(Problem("database.url", message))


def check_tokens(cfg: KrTrackerConfig, problems: list[Problem]) -> None:
    """Refuse short API tokens; drop empty ones (an unset variable) with a warning."""
    kept = []
    for i, token in enumerate(cfg.api.tokens):
        length = len(token.token.get_secret_value())
        path = format_path(("api", "tokens", i, "token"))
        if length == 0:
            problems.append(
                Problem(
                    path,
                    f"token {token.name!r} is empty (its environment variable "
                    "is unset?): it is ignored, so writes are refused",
                    "warning",
                )
            )
            continue
        if length < 16:
            problems.append(
                Problem(path, f"token {token.name!r} is too short: use at least 16 characters")
            )
        kept.append(token)
    cfg.api.tokens = kept


def check_webhooks(cfg: KrTrackerConfig, problems: list[Problem]) -> None:
    """Check webhook names are unique, secrets sign, targets are public, objectives exist."""
    names: set[str] = set()
    objective_ids = {o.id for o in cfg.objectives}
    for i, webhook in enumerate(cfg.webhooks):
        path: tuple[int | str, ...] = ("webhooks", i)
        if webhook.name in names:
            problems.append(
                Problem(format_path((*path, "name")), f"duplicate webhook {webhook.name!r}")
            )
        names.add(webhook.name)
        if webhook.format == "generic" and webhook.secret is not None:
            secret = webhook.secret.get_secret_value()
            try:
                Webhook(secret)
            except Exception:  # the library raises several types for a bad key
                problems.append(
                    Problem(
                        format_path((*path, "secret")),
                        "not a Standard Webhooks secret: use whsec_ followed by base64",
                    )
                )
            else:
                if not secret.startswith("whsec_"):
                    problems.append(
                        Problem(
                            format_path((*path, "secret")),
                            "a base64 key without the whsec_ prefix: it signs, but receivers "
                            "given the same value by the Standard Webhooks libraries expect "
                            "whsec_ followed by base64",
                            "warning",
                        )
                    )
        private = (
            private_target_warning(webhook.url, cfg.alerts.allow_private_targets)
            if webhook.url is not None
            else None
        )
        if private:
            problems.append(Problem(format_path((*path, "url")), private, "warning"))
        if webhook.format == "generic" and webhook.secret is None:
            problems.append(
                Problem(
                    format_path((*path, "secret")),
                    'a generic webhook is signed: set secret (e.g. secret = "${WEBHOOK_SECRET}")',
                )
            )
        for j, objective in enumerate(webhook.objectives or []):
            if objective not in objective_ids:
                problems.append(
                    Problem(
                        format_path((*path, "objectives", j)), f"unknown objective {objective!r}"
                    )
                )
