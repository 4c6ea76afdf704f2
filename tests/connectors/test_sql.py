"""The sql connector against a SQLite file and the local PostgreSQL."""

from __future__ import annotations

import random
import re
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pydantic import ValidationError

from connectors.base import AmbiguousResult, NoData, QueryRejected, SourceUnavailable
from connectors.sql import SqlConnector, SqlQuery, SqlSettings
from tests.conftest import free_port, require_postgres

AT = datetime(2026, 3, 10, 0, 0, tzinfo=UTC)
START = datetime(2026, 3, 1, tzinfo=UTC)
FEATURE = "feature_x"


@dataclass(frozen=True)
class Event:
    """One row of the test table: a user used a feature at an instant."""

    user_id: int
    feature: str
    happened_at: datetime


def _events() -> list[Event]:
    rng = random.Random(20260301)
    return [
        Event(
            user_id=rng.randint(1, 60),
            feature=rng.choice([FEATURE, "feature_y", "search"]),
            happened_at=START + timedelta(minutes=rng.randint(0, 20 * 24 * 60)),
        )
        for _ in range(300)
    ]


EVENTS = _events()


def engaged_users(before: datetime) -> int:
    """Count, in plain Python, distinct users of FEATURE before an instant."""
    return len({e.user_id for e in EVENTS if e.feature == FEATURE and e.happened_at < before})


@dataclass(frozen=True)
class Db:
    """A database holding the events table: its URL, table name and a plain row counter."""

    url: str
    table: str
    count_rows: Callable[[], int]


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Db:
    """Write EVENTS into a SQLite file with the sqlite3 module."""
    path = tmp_path / "events.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE events (user_id INTEGER, feature TEXT, happened_at TEXT)")
        conn.executemany(
            "INSERT INTO events VALUES (?, ?, ?)",
            [(e.user_id, e.feature, f"{e.happened_at:%Y-%m-%d %H:%M:%S}") for e in EVENTS],
        )
    conn.close()

    def count_rows() -> int:
        with sqlite3.connect(path) as check:
            return int(check.execute("SELECT count(*) FROM events").fetchone()[0])

    return Db(f"sqlite:///{path}", "events", count_rows)


@pytest.fixture
def postgres_db() -> Iterator[Db]:
    """Write EVENTS into a uniquely named PostgreSQL table with psycopg; drop it after."""
    url = require_postgres()
    table = f"krt_sql_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {table} (user_id integer, feature text, happened_at timestamptz)"
        )
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {table} VALUES (%s, %s, %s)",
                [(e.user_id, e.feature, e.happened_at) for e in EVENTS],
            )

    def count_rows() -> int:
        with psycopg.connect(url) as check:
            row = check.execute(f"SELECT count(*) FROM {table}").fetchone()
            assert row is not None
            return int(row[0])

    yield Db(url, table, count_rows)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest) -> Db:
    """Run a test once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_db")  # type: ignore[no-any-return]


def _measure(url: str, sql: str, **settings: Any) -> Any:
    connector = SqlConnector(SqlSettings.model_validate({"url": url, **settings}))
    try:
        return connector.measure(SqlQuery(query=sql), AT)
    finally:
        connector.close()


def test_value_equals_independent_count(db: Db) -> None:
    """The value is the count of distinct engaged users computed in Python over the rows."""
    connector = SqlConnector(SqlSettings.model_validate({"url": db.url}))
    query = SqlQuery(
        query=f"SELECT count(DISTINCT user_id) FROM {db.table} "
        "WHERE feature = :feature AND happened_at < :at",
        params={"feature": FEATURE},
    )
    try:
        m = connector.measure(query, AT)
    finally:
        connector.close()
    assert m.value == engaged_users(AT)
    assert 0 < m.value < engaged_users(AT + timedelta(days=30))
    assert m.at == AT


def test_numerator_and_denominator_are_stored(db: Db) -> None:
    """Columns named numerator and denominator are stored beside the value."""
    engaged = f"count(DISTINCT CASE WHEN feature = '{FEATURE}' THEN user_id END)"
    m = _measure(
        db.url,
        f"SELECT 100.0 * {engaged} / count(DISTINCT user_id) AS share, "
        f"{engaged} AS numerator, count(DISTINCT user_id) AS denominator FROM {db.table}",
    )
    users = {e.user_id for e in EVENTS}
    feature_users = {e.user_id for e in EVENTS if e.feature == FEATURE}
    assert m.numerator == len(feature_users)
    assert m.denominator == len(users)
    assert m.value == pytest.approx(100.0 * len(feature_users) / len(users))


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM {t}",
        "INSERT INTO {t} (user_id, feature) VALUES (999, 'x')",
        "UPDATE {t} SET user_id = 0",
        "DROP TABLE {t}",
    ],
)
def test_write_is_refused(db: Db, statement: str) -> None:
    """A write statement is QueryRejected and the table keeps every row."""
    with pytest.raises(QueryRejected, match="refused"):
        _measure(db.url, statement.format(t=db.table))
    assert db.count_rows() == len(EVENTS)


@pytest.mark.parametrize(
    "statement",
    [
        "COMMIT; DELETE FROM {t}; SELECT 1",
        "SET TRANSACTION READ WRITE; DELETE FROM {t}; SELECT 1",
        "WITH gone AS (DELETE FROM {t} RETURNING 1) SELECT count(*) FROM gone",
    ],
)
def test_postgres_escapes_from_read_only_are_refused(postgres_db: Db, statement: str) -> None:
    """Several statements in one query, or a writing CTE, cannot leave the read-only guard."""
    with pytest.raises(QueryRejected):
        _measure(postgres_db.url, statement.format(t=postgres_db.table))
    assert postgres_db.count_rows() == len(EVENTS)


def test_postgres_statement_timeout() -> None:
    """A query slower than statement_timeout_seconds is cut off and reported as such."""
    url = require_postgres()
    started = time.monotonic()
    with pytest.raises(SourceUnavailable, match="statement timeout after 1 s"):
        _measure(url, "SELECT pg_sleep(5)", statement_timeout_seconds=1)
    assert time.monotonic() - started < 4


def test_sqlite_statement_timeout(sqlite_db: Db) -> None:
    """An endless SQLite query is interrupted at the deadline."""
    endless = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
    )
    started = time.monotonic()
    with pytest.raises(SourceUnavailable, match="statement timeout after 0.5 s"):
        _measure(sqlite_db.url, endless, statement_timeout_seconds=0.5)
    assert time.monotonic() - started < 3


@pytest.mark.parametrize(
    ("sql", "error", "message"),
    [
        ("SELECT user_id FROM {t} LIMIT 2", AmbiguousResult, "returned 2 rows"),
        ("SELECT user_id FROM {t} WHERE feature = 'nope'", NoData, "returned 0 rows"),
        ("SELECT max(user_id) FROM {t} WHERE feature = 'nope'", NoData, "is NULL"),
        ("SELECT 'lots'", NoData, "text 'lots', not a number"),
        ("SELECT count(*) AS value, NULL AS denominator FROM {t}", NoData, "'denominator' is NULL"),
        ("SELEC 1", QueryRejected, "syntax error"),
    ],
)
def test_unusable_results(db: Db, sql: str, error: type[Exception], message: str) -> None:
    """Row counts other than one, NULL, text, booleans and bad SQL are the right errors."""
    with pytest.raises(error, match=message):
        _measure(db.url, sql.format(t=db.table))


def test_two_rows_of_a_known_table(db: Db) -> None:
    """The row count in the error is the number of rows the query really returned."""
    features = {e.feature for e in EVENTS}
    with pytest.raises(AmbiguousResult, match=f"returned {len(features)} rows"):
        _measure(db.url, f"SELECT feature, count(*) FROM {db.table} GROUP BY feature")


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT 'NaN'::float8", "is nan, which is not a number"),
        ("SELECT 'Infinity'::numeric", "is Infinity, which is not a number"),
        ("SELECT true", "is a bool (True), not a number"),
    ],
)
def test_postgres_non_numbers_are_no_data(postgres_db: Db, sql: str, message: str) -> None:
    """NaN, infinity and booleans computed by the database are NoData, never a value."""
    with pytest.raises(NoData, match=re.escape(message)):
        _measure(postgres_db.url, sql)


def test_numeric_text_is_accepted(sqlite_db: Db) -> None:
    """A number SQLite returns as text (typeless columns) is read as that number."""
    assert _measure(sqlite_db.url, "SELECT '42.5'").value == 42.5


@pytest.mark.parametrize("problem", ["wrong port", "unknown role"])
def test_connection_failure_hides_the_password(problem: str) -> None:
    """An unreachable or refusing server is SourceUnavailable whose text lacks the password."""
    require_postgres()
    password = "Pa55-never-shown"
    port = free_port() if problem == "wrong port" else 5432
    url = f"postgresql://krt_no_such_role:{password}@127.0.0.1:{port}/test"
    with pytest.raises(SourceUnavailable, match="cannot connect") as caught:
        _measure(url, "SELECT 1")
    assert password not in str(caught.value)
    assert "krt_no_such_role:***@127.0.0.1" in str(caught.value)


def test_missing_sqlite_file_is_unavailable_and_not_created(tmp_path: Path) -> None:
    """A SQLite path that does not exist is SourceUnavailable and no empty file appears."""
    path = tmp_path / "absent.db"
    with pytest.raises(SourceUnavailable, match="cannot connect"):
        _measure(f"sqlite:///{path}", "SELECT 1")
    assert not path.exists()


def test_history_binds_each_step(sqlite_db: Db) -> None:
    """A backfill runs the query at each step and matches the Python count at that instant."""
    connector = SqlConnector(SqlSettings.model_validate({"url": sqlite_db.url}))
    query = SqlQuery(
        query="SELECT count(DISTINCT user_id) FROM events "
        "WHERE feature = :feature AND happened_at < :at",
        params={"feature": FEATURE},
    )
    try:
        series = connector.history(query, start=START, end=AT, step_seconds=3 * 86400)
    finally:
        connector.close()
    instants = [START + timedelta(days=3 * i) for i in range(4)]
    assert [m.at for m in series] == instants
    assert [m.value for m in series] == [engaged_users(at) for at in instants]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("oracle://scott:tiger-pass@db/orcl", "not supported"),
        ("not a url tiger-pass", "not a SQLAlchemy URL"),
        ("sqlite://", "needs a file"),
    ],
)
def test_bad_urls_fail_validation_without_echoing(url: str, message: str) -> None:
    """Unsupported or malformed URLs are refused at load time without printing them."""
    with pytest.raises(ValidationError, match=message) as caught:
        SqlSettings.model_validate({"url": url})
    assert "tiger-pass" not in str(caught.value)


def test_settings_repr_hides_the_url() -> None:
    """The settings' repr shows no part of the URL's password."""
    settings = SqlSettings.model_validate({"url": "postgresql://u:tiger-pass@h/db"})
    assert "tiger-pass" not in repr(settings)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"query": "SELECT :limit"}, "uses :limit; set params"),
        ({"query": "SELECT :at", "params": {"at": "x"}}, "cannot set 'at'"),
    ],
)
def test_query_params_are_checked(fields: dict[str, Any], message: str) -> None:
    """Parameters the query uses must be given, and `at` is reserved for the instant."""
    with pytest.raises(ValidationError, match=message):
        SqlQuery.model_validate(fields)
