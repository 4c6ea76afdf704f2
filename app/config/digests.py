"""Checks that span sections for digests (webhook names, formats, teams) and email (`[smtp]`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.config.problems import Problem, format_path
from app.config.runtime import private_target_warning

if TYPE_CHECKING:
    from app.config.models import KrTrackerConfig

# Alertmanager takes alerts with labels; a weekly summary is not one.
DIGEST_FORMATS = ("generic", "slack", "email")


def check_digests(cfg: KrTrackerConfig, problems: list[Problem]) -> None:
    """Add a problem, with its key path, for each digest that cannot be delivered as written."""
    webhooks = {w.name: w for w in cfg.webhooks}
    teams = {o.team for o in cfg.objectives if o.team}
    names: set[str] = set()
    for i, digest in enumerate(cfg.digests):
        path: tuple[int | str, ...] = ("digests", i)
        if digest.name in names:
            problems.append(
                Problem(format_path((*path, "name")), f"duplicate digest {digest.name!r}")
            )
        names.add(digest.name)
        for j, name in enumerate(digest.webhooks):
            where = format_path((*path, "webhooks", j))
            webhook = webhooks.get(name)
            if webhook is None:
                known = ", ".join(sorted(webhooks)) or "none is configured"
                problems.append(Problem(where, f"unknown webhook {name!r} (known: {known})"))
            elif webhook.format not in DIGEST_FORMATS:
                problems.append(
                    Problem(
                        where,
                        f"webhook {name!r} has format {webhook.format!r}; a digest goes to "
                        f"{' or '.join(DIGEST_FORMATS)} webhooks",
                    )
                )
        for j, team in enumerate(digest.teams or []):
            if team not in teams:
                problems.append(
                    Problem(
                        format_path((*path, "teams", j)),
                        f"no objective has team {team!r}: this digest would be empty for it",
                        "warning",
                    )
                )


def check_email(cfg: KrTrackerConfig, problems: list[Problem]) -> None:
    """Require `[smtp]` for email webhooks; warn when its host would be refused as private."""
    for i, webhook in enumerate(cfg.webhooks):
        if webhook.format == "email" and cfg.smtp is None:
            problems.append(
                Problem(
                    format_path(("webhooks", i, "format")),
                    "an email webhook sends through [smtp]: add [smtp] host and from",
                )
            )
    if cfg.smtp is not None:
        smtp = cfg.smtp
        private = private_target_warning(
            f"smtp://{smtp.host}:{smtp.port}", cfg.alerts.allow_private_targets
        )
        if private:
            problems.append(Problem("smtp.host", private, "warning"))
        if (smtp.username is None) != (smtp.password is None):
            problems.append(
                Problem("smtp.username", "give both username and password (or password_file)")
            )


def check_reminders(cfg: KrTrackerConfig, problems: list[Problem]) -> None:
    """Check that `[reminders] webhooks` name configured webhooks that can carry a reminder."""
    webhooks = {w.name: w for w in cfg.webhooks}
    for j, name in enumerate(cfg.reminders.webhooks):
        where = format_path(("reminders", "webhooks", j))
        webhook = webhooks.get(name)
        if webhook is None:
            known = ", ".join(sorted(webhooks)) or "none is configured"
            problems.append(Problem(where, f"unknown webhook {name!r} (known: {known})"))
        elif webhook.format not in DIGEST_FORMATS:
            problems.append(
                Problem(where, f"webhook {name!r} has format {webhook.format!r}: not for reminders")
            )
