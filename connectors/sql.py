"""The SQL connector: run a one-row SELECT on PostgreSQL, SQLite or MySQL and read its value.

The first column is the value; columns named `numerator` and `denominator` are stored
too. Queries run in a read-only transaction with a statement timeout (see
`connectors._sql_dialects`). A statement timeout is SourceUnavailable, as an HTTP timeout
is: the database did not answer in time, and the next sample may well succeed.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator
from sqlalchemy import Connection, create_engine, make_url, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from connectors._sql_dialects import (
    TimeoutProbe,
    bind_instant,
    engine_options,
    install_session_guards,
    is_transient,
    prepare_url,
    read_only_transaction,
)
from connectors.base import (
    AmbiguousResult,
    ConnectorQuery,
    ConnectorSettings,
    Measurement,
    NoData,
    QueryRejected,
    SourceUnavailable,
    StateStore,
)

ROW_LIMIT = 1000
Param = str | int | float | bool | None


class SqlSettings(ConnectorSettings):
    """`[connectors.NAME]` of type sql: the database URL (a secret) and limits."""

    # The URL holds the password: keep it out of validation errors as well as reprs.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    url: SecretStr
    statement_timeout_seconds: float = Field(10.0, gt=0, le=3600)
    pool_size: int = Field(2, ge=1, le=10)

    @field_validator("url")
    @classmethod
    def _url_is_supported(cls, value: SecretStr) -> SecretStr:
        prepare_url(value.get_secret_value())
        return value


class SqlQuery(ConnectorQuery):
    """A Key Result's source: SQL returning one row, and values for its `:name` params."""

    query: str = Field(min_length=1)
    params: dict[str, Param] = {}

    @model_validator(mode="after")
    def _check_params(self) -> SqlQuery:
        if "at" in self.params:
            raise ValueError("params cannot set 'at': it is bound to the sample instant")
        missing = sorted(self.bind_names() - {"at"} - set(self.params))
        if missing:
            raise ValueError(f"the query uses {', '.join(':' + m for m in missing)}; set params")
        return self

    def bind_names(self) -> set[str]:
        """Return the `:name` parameters the query text uses."""
        return set(text(self.query).compile().params)


class SqlConnector:
    """Sample a number from a SQL database through SQLAlchemy."""

    Settings: ClassVar[type[SqlSettings]] = SqlSettings
    Query: ClassVar[type[SqlQuery]] = SqlQuery
    scheduled: ClassVar[bool] = True
    # A query on a production database: no faster than every 10 s.
    min_interval_seconds: ClassVar[int] = 10

    def __init__(self, settings: SqlSettings, state: StateStore | None = None) -> None:
        self.settings = settings
        raw = settings.url.get_secret_value()
        url = prepare_url(raw)
        self._password = url.password
        self._where = f"sql {make_url(raw).render_as_string(hide_password=True)}"
        timeout = settings.statement_timeout_seconds
        self._engine = create_engine(
            url, **engine_options(url, timeout_seconds=timeout, pool_size=settings.pool_size)
        )
        install_session_guards(self._engine, timeout_seconds=timeout)

    def measure(self, query: SqlQuery, at: datetime) -> Measurement:
        """Run the query with `:at` bound to `at` and return its one row's value."""
        params: dict[str, Any] = dict(query.params)
        if "at" in query.bind_names():
            params["at"] = bind_instant(self._engine.dialect.name, at)
        columns, rows = self._run(query.query, params)
        if not rows:
            raise NoData(f"{self._where}: the query returned 0 rows; it must return exactly one")
        if len(rows) > 1:
            count = f"more than {ROW_LIMIT}" if len(rows) > ROW_LIMIT else str(len(rows))
            raise AmbiguousResult(
                f"{self._where}: the query returned {count} rows; it must return exactly one"
            )
        row = dict(zip(columns, rows[0], strict=True))
        parts = {
            name: self._number(row[name], name)
            for name in ("numerator", "denominator")
            if name in row
        }
        return Measurement(
            self._number(rows[0][0], columns[0]),
            at,
            numerator=parts.get("numerator"),
            denominator=parts.get("denominator"),
            details={"query": query.query, "columns": columns},
        )

    def history(
        self, query: SqlQuery, *, start: datetime, end: datetime, step_seconds: int
    ) -> list[Measurement]:
        """Run the query once per step with `:at` bound to it; steps with no data are skipped."""
        if "at" not in query.bind_names():
            raise QueryRejected(f"{self._where}: a backfill needs a query that uses :at")
        out, at = [], start
        while at <= end:
            try:
                out.append(self.measure(query, at))
            except NoData:
                pass
            at += timedelta(seconds=step_seconds)
        return out

    def _run(self, sql: str, params: dict[str, Any]) -> tuple[list[str], list[Any]]:
        """Return the column names and up to ROW_LIMIT + 1 rows of the query."""
        timeout = self.settings.statement_timeout_seconds
        try:
            conn = self._engine.connect()
        except SQLAlchemyError as exc:
            raise SourceUnavailable(f"{self._where}: cannot connect: {self._reason(exc)}") from None
        try:
            # Leaving the block rolls the transaction back: nothing is ever committed.
            with conn, read_only_transaction(conn, timeout_seconds=timeout) as timed_out:
                return self._fetch(conn, sql, params, timed_out=timed_out)
        except SQLAlchemyError as exc:
            # Only the transaction's setup or its rollback gets here: the link is broken.
            raise SourceUnavailable(f"{self._where}: {self._reason(exc)}") from None

    def _fetch(
        self, conn: Connection, sql: str, params: dict[str, Any], *, timed_out: TimeoutProbe
    ) -> tuple[list[str], list[Any]]:
        """Execute the user's statement and sort its failures into the connector errors."""
        try:
            result = conn.execute(text(sql), params)
            if not result.returns_rows:
                raise QueryRejected(f"{self._where}: the statement returns no rows")
            return list(result.keys()), list(result.fetchmany(ROW_LIMIT + 1))
        except DBAPIError as exc:
            if timed_out(exc):
                timeout = self.settings.statement_timeout_seconds
                raise SourceUnavailable(
                    f"{self._where}: statement timeout after {timeout:g} s"
                ) from None
            if is_transient(exc):
                raise SourceUnavailable(f"{self._where}: {self._reason(exc)}") from None
            raise QueryRejected(
                f"{self._where}: the database refused the query: {self._reason(exc)}"
            ) from None
        except SQLAlchemyError as exc:
            raise QueryRejected(f"{self._where}: {self._reason(exc)}") from None

    def _reason(self, exc: SQLAlchemyError) -> str:
        """Return the driver's message, first line only, with the password masked."""
        orig = getattr(exc, "orig", None)
        message = str(orig if orig is not None else exc)
        if self._password:
            message = message.replace(self._password, "***")
        return (message.strip().splitlines() or ["(no message)"])[0]

    def _number(self, value: Any, column: str) -> float:
        """Return a column's value as a finite float, or raise NoData saying why not."""
        where = f"{self._where}: column {column!r}"
        if value is None:
            raise NoData(f"{where} is NULL")
        if isinstance(value, str):
            # SQLite keeps whatever type was inserted: a number in a TEXT column is a string.
            try:
                value = float(value.strip())
            except ValueError:
                raise NoData(f"{where} is the text {value[:60]!r}, not a number") from None
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            raise NoData(f"{where} is a {type(value).__name__} ({value!r:.60}), not a number")
        try:
            number = float(value)
        except OverflowError:
            raise NoData(f"{where} is too large to be a number") from None
        if not math.isfinite(number):
            raise NoData(f"{where} is {value}, which is not a number")
        return number

    def close(self) -> None:
        """Close the connection pool."""
        self._engine.dispose()
