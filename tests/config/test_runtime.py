"""What would fail at run time, said by `validate` beforehand.

A database the installed drivers cannot open is an error; a private webhook target, a
webhook secret without its prefix and sampling faster than a source serves are warnings.
"""

from __future__ import annotations

import pytest

from app.config.loading import parse_config
from tests.support.config_documents import document, errors_of, key_result, objective, warnings_of


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://user:hunter2@db:3306/okr", "SQLite or PostgreSQL"),
        ("postgresql+pg8000://user:hunter2@db/okr", "driver is not installed"),
        ("oracle://user:hunter2@db/okr", "SQLite or PostgreSQL"),
        ("nosuchdb://user:hunter2@db/okr", "SQLite or PostgreSQL"),
        ("not a url", "not a database URL"),
    ],
)
def test_database_url_that_cannot_be_opened_is_an_error(
    url: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database the installed drivers cannot open is refused at database.url, no password."""
    monkeypatch.delenv("KRTRACKER_DATABASE_URL", raising=False)
    problems = errors_of(document(database={"url": url}))
    assert [p.path for p in problems] == ["database.url"]
    assert expected in problems[0].message and "hunter2" not in problems[0].message


@pytest.mark.parametrize(
    "url", ["sqlite:///k.db", "postgresql://u:p@db:5432/k", "postgresql+psycopg://db/k"]
)
def test_supported_database_urls_are_accepted(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite and PostgreSQL (psycopg 3, installed with krtracker) pass."""
    monkeypatch.delenv("KRTRACKER_DATABASE_URL", raising=False)
    parse_config(document(database={"url": url}))


SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.mark.parametrize(
    ("url", "allow", "warned"),
    [
        ("http://127.0.0.1:9093", [], True),
        ("http://localhost:9093/hook", [], True),
        ("http://10.1.2.3/hook", [], True),
        ("http://[::1]:8080/hook", [], True),
        ("http://169.254.169.254/latest", [], True),
        ("http://10.1.2.3/hook", ["10.0.0.0/8"], False),
        ("http://localhost:9093/hook", ["localhost"], False),
        ("https://8.8.8.8/hook", [], False),
    ],
)
def test_private_webhook_target_is_a_warning_unless_allowed(
    url: str, allow: list[str], warned: bool
) -> None:
    """Every delivery to a private host would be refused: validate says so beforehand."""
    webhook = {"name": "hook", "url": url, "secret": SECRET}
    found = warnings_of(document(webhooks=[webhook], alerts={"allow_private_targets": allow}))
    paths = [w.path for w in found if "allow_private_targets" in w.message]
    assert paths == (["webhooks[0].url"] if warned else [])


def test_webhook_secret_without_whsec_prefix_is_a_warning() -> None:
    """A base64 secret without "whsec_" works but is not the Standard Webhooks form: warn."""
    webhook = {"name": "hook", "url": "https://8.8.8.8/h", "secret": SECRET.removeprefix("whsec_")}
    found = warnings_of(document(webhooks=[webhook]))
    assert [w.path for w in found] == ["webhooks[0].secret"]
    assert "whsec_" in found[0].message and "MfKQ9r8" not in found[0].message


def test_sampling_faster_than_the_source_serves_is_a_warning() -> None:
    """Each connector declares its minimum interval; a shorter `every` is warned about."""
    connectors = {
        "people": {"type": "manual"},
        "prom": {"type": "prometheus", "url": "http://prometheus:9090"},
    }
    fast = key_result(every="5s", source={"connector": "prom", "query": "up"})
    found = warnings_of(document(objective(fast), connectors=connectors))
    assert [w.path for w in found] == ["objectives[0].key_results[0].every"]
    assert "10 s" in found[0].message and "prometheus" in found[0].message
    ok = key_result(every="10s", source={"connector": "prom", "query": "up"})
    assert warnings_of(document(objective(ok), connectors=connectors)) == []
