"""`[[digests]]` in the config: defaults, and each mistake reported at its key path."""

from __future__ import annotations

from typing import Any

import pytest

from app.config.loading import parse_config
from app.rhythm.reminders import checkin_intervals
from tests.support.config_documents import document, errors_of, key_result, objective

SECRET = "whsec_a3J0cmFja2VyLXRlc3RzLXNpZ25pbmcta2V5LTAwMDE="
HOOKS = [
    {"name": "team", "url": "https://hooks.example.org/okr", "secret": SECRET},
    {"name": "chat", "url": "https://hooks.slack.com/services/T/B/x", "format": "slack"},
    {"name": "am", "url": "https://am.example.org", "format": "alertmanager"},
]


def with_digest(**fields: Any) -> dict[str, Any]:
    """Return a valid config with the webhooks above and one digest with `fields`."""
    return document(webhooks=HOOKS, digests=[{"name": "weekly", "webhooks": ["team"], **fields}])


def test_a_digest_has_documented_defaults() -> None:
    """Monday 09:00 UTC, the last 7 days, every team."""
    digest = parse_config(with_digest()).config.digests[0]
    assert (digest.cron, digest.since, digest.teams) == ("0 9 * * MON", "7d", None)


@pytest.mark.parametrize(
    ("fields", "path", "fragment"),
    [
        ({"cron": "every monday"}, "digests[0].cron", "not a valid 5-field cron"),
        ({"since": "a week"}, "digests[0].since", "not a duration"),
        ({"webhooks": ["team", "nowhere"]}, "digests[0].webhooks[1]", "unknown webhook 'nowhere'"),
        ({"webhooks": ["am"]}, "digests[0].webhooks[0]", "format 'alertmanager'"),
        ({"webhooks": []}, "digests[0].webhooks", "at least 1"),
        ({"name": "Weekly Digest"}, "digests[0].name", "pattern"),
        ({"colour": "blue"}, "digests[0].colour", "unknown key"),
    ],
)
def test_a_broken_digest_is_an_error_at_its_key_path(
    fields: dict[str, Any], path: str, fragment: str
) -> None:
    """Each mistake names its place and says what is wrong."""
    errors = errors_of(with_digest(**fields))
    assert [p.path for p in errors] == [path], errors
    assert fragment.lower() in errors[0].message.lower()


def test_duplicate_digest_names_and_unknown_teams() -> None:
    """Two digests of one name are an error; a team no objective has is a warning."""
    raw = document(
        webhooks=HOOKS,
        digests=[
            {"name": "weekly", "webhooks": ["team"]},
            {"name": "weekly", "webhooks": ["chat"]},
        ],
    )
    assert [p.path for p in errors_of(raw)] == ["digests[1].name"]
    loaded = parse_config(with_digest(teams=["ghosts"]))
    assert [(w.path, "ghosts" in w.message) for w in loaded.warnings] == [
        ("digests[0].teams[0]", True)
    ]


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        (document(webhooks=HOOKS, reminders={"webhooks": ["nowhere"]}), "reminders.webhooks[0]"),
        (document(webhooks=HOOKS, reminders={"webhooks": ["am"]}), "reminders.webhooks[0]"),
        (document(reminders={"checkin_every": "weekly"}), "reminders.checkin_every"),
        (
            document(objective(key_result(checkin_every="3 days"))),
            "objectives[0].key_results[0].checkin_every",
        ),
        (document(objective(checkin_every="soon")), "objectives[0].checkin_every"),
    ],
)
def test_a_broken_reminder_setting_is_an_error_at_its_key_path(
    raw: dict[str, Any], path: str
) -> None:
    """Unknown or unfit webhooks and malformed intervals name their place."""
    assert [p.path for p in errors_of(raw)] == [path]


def test_checkin_every_is_the_key_results_then_the_objectives_then_the_default() -> None:
    """A KR's own interval wins over its objective's, which wins over [reminders]."""
    raw = document(
        objective(
            key_result(id="own", checkin_every="2d"), key_result(id="inherits"), checkin_every="5d"
        ),
        objective(key_result(id="default"), id="other", title="Other"),
        reminders={"checkin_every": "10d"},
    )
    assert checkin_intervals(parse_config(raw).config) == {
        "own": 2 * 86400,
        "inherits": 5 * 86400,
        "default": 10 * 86400,
    }
