"""The coverage connector: the covered/total a test coverage report states, as a percentage.

A Key Result names one source (`path`, `url`, `github_artifact` or `codecov`), optionally
the `format` (detected from the content otherwise) and the `metric` (`line` by default,
`branch`, or `statement`). The value is covered / total * 100, with covered and total
taken the way each format defines its own overall figure:

* Cobertura: root lines-covered/lines-valid, else the class-level `<line>` elements;
  branches-covered/branches-valid, else condition-coverage. (`xml`)
* JaCoCo: report-level LINE / BRANCH counters; INSTRUCTION answers `statement`.
* Clover: project `<metrics>` coveredstatements/statements (`line` and `statement`),
  coveredconditionals/conditionals (`branch`).
* lcov: ΣLH/ΣLF and ΣBRH/ΣBRF, falling back to DA/BRDA. (`text`)
* coverage.py JSON: totals.covered_lines/num_statements, covered_branches/num_branches.
* Go coverprofile: statements of blocks with count > 0 over all statements, duplicate
  blocks merged.
* Codecov: totals.hits/totals.lines of the branch head. (`codecov`)

Asking a format for a metric it does not have is a QueryRejected naming the format; a
report of a format that has it but holds none (no branch data) is NoData. A malformed,
truncated, empty, binary or hostile report is an error with the reason, never a number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import httpx
from pydantic import Field, SecretStr, field_validator, model_validator

from connectors.base import (
    ConnectorQuery,
    ConnectorSettings,
    Measurement,
    NoData,
    QueryRejected,
    StateStore,
)
from connectors.coverage.codecov import CodecovQuery, read_codecov
from connectors.coverage.counts import (
    FORMAT_METRICS,
    Format,
    FormatMismatch,
    MalformedReport,
    Metric,
    ParsedReport,
    UnsafeReport,
)
from connectors.coverage.fetch import Fetched, read_path, read_url
from connectors.coverage.formats import parse_report
from connectors.coverage.github_artifact import GithubArtifactQuery, read_github_artifact

if TYPE_CHECKING:
    from datetime import datetime


class CoverageSettings(ConnectorSettings):
    """`[connectors.NAME]` for coverage: limits, credentials and API base URLs."""

    timeout_seconds: float = Field(10.0, gt=0)
    max_report_bytes: int = Field(50_000_000, gt=0)
    max_zip_ratio: float = Field(200.0, gt=1)
    token: SecretStr | None = None
    headers: dict[str, SecretStr] = {}
    github_url: str = "https://api.github.com"
    codecov_url: str = "https://api.codecov.io"
    runs_to_search: int = Field(10, ge=1, le=100)


class CoverageQuery(ConnectorQuery):
    """A Key Result's coverage source: exactly one of path, url, github_artifact, codecov.

    `path` may be a glob (`**` included) and is relative to the service's working directory.
    """

    path: str | None = None
    url: str | None = None
    github_artifact: GithubArtifactQuery | None = None
    codecov: CodecovQuery | None = None
    format: Format | None = None
    metric: Metric = "line"

    @field_validator("url")
    @classmethod
    def _url_is_http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> CoverageQuery:
        given = [name for name in self.source_names() if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of path, url, github_artifact, codecov"
                + (f" (got {', '.join(given)})" if given else "")
            )
        if self.codecov is not None and self.format is not None:
            raise ValueError("format does not apply to a codecov source")
        return self

    @staticmethod
    def source_names() -> tuple[str, ...]:
        """Return the names of the mutually exclusive source fields."""
        return ("path", "url", "github_artifact", "codecov")


class CoverageConnector:
    """Reads a coverage report (or Codecov's totals) and returns its covered percentage."""

    Settings: ClassVar[type[CoverageSettings]] = CoverageSettings
    Query: ClassVar[type[CoverageQuery]] = CoverageQuery
    scheduled: ClassVar[bool] = True
    # A coverage report changes once per CI run.
    min_interval_seconds: ClassVar[int] = 60

    def __init__(self, settings: CoverageSettings, state: StateStore | None = None) -> None:
        self.settings = settings
        self._client = httpx.Client(timeout=settings.timeout_seconds)

    def measure(self, query: CoverageQuery, at: datetime) -> Measurement:
        """Return the covered percentage of the query's report for `metric` at `at`."""
        if query.codecov is not None:
            report, details = read_codecov(
                self._client,
                query.codecov,
                api=self.settings.codecov_url,
                headers=self._auth_headers(),
                limit=self.settings.max_report_bytes,
            )
            details = {"source": "codecov", **details}
            name = f"{query.codecov.owner}/{query.codecov.repo}"
            return _measurement(report, query=query, at=at, details=details, name=name)
        fetched = self._fetch(query)
        report = _parse(fetched, expected=query.format)
        details = {"source": _source_kind(query), **fetched.details}
        return _measurement(report, query=query, at=at, details=details, name=fetched.name)

    def _fetch(self, query: CoverageQuery) -> Fetched:
        limit = self.settings.max_report_bytes
        if query.path is not None:
            return read_path(query.path, limit=limit)
        if query.url is not None:
            return read_url(self._client, query.url, headers=self._auth_headers(), limit=limit)
        assert query.github_artifact is not None
        return read_github_artifact(
            self._client,
            query.github_artifact,
            api=self.settings.github_url,
            headers={
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                **self._auth_headers(),
            },
            limit=limit,
            max_ratio=self.settings.max_zip_ratio,
            runs_to_search=self.settings.runs_to_search,
        )

    def _auth_headers(self) -> dict[str, str]:
        headers = {name: value.get_secret_value() for name, value in self.settings.headers.items()}
        if self.settings.token is not None:
            headers["Authorization"] = f"Bearer {self.settings.token.get_secret_value()}"
        return headers

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()


def _source_kind(query: CoverageQuery) -> str:
    return next(name for name in query.source_names() if getattr(query, name) is not None)


def _parse(fetched: Fetched, *, expected: str | None) -> ParsedReport:
    """Parse fetched bytes, turning parser failures into errors that name the file."""
    subject = f"coverage: {expected + ' ' if expected else ''}report {fetched.name}"
    try:
        return parse_report(fetched.data, expected=expected)
    except MalformedReport as error:
        raise NoData(f"{subject}: {error}") from None
    except (UnsafeReport, FormatMismatch) as error:
        raise QueryRejected(f"{subject}: {error}") from None


def _measurement(
    report: ParsedReport, *, query: CoverageQuery, at: datetime, details: dict[str, Any], name: str
) -> Measurement:
    """Pick the query's metric from `report` and build the Measurement."""
    where = f"coverage: {report.format} report {name}"
    if query.metric not in FORMAT_METRICS[report.format]:
        offered = ", ".join(sorted(FORMAT_METRICS[report.format]))
        raise QueryRejected(
            f"{where}: the {report.format} format has no {query.metric} metric (it has {offered})"
        )
    count = report.counts.get(query.metric)
    if count is None:
        reason = report.absent.get(query.metric, "it states no such figure")
        raise NoData(f"{where} has no {query.metric} coverage: {reason}")
    if count.total == 0:
        raise NoData(
            f"{where} counts 0 {count.unit} ({count.how} is {count.covered}/0), "
            f"so it has no {query.metric} percentage"
        )
    return Measurement(
        value=count.covered / count.total * 100.0,
        at=at,
        numerator=float(count.covered),
        denominator=float(count.total),
        details={
            **details,
            "format": report.format,
            "metric": query.metric,
            "unit": count.unit,
            "computed_from": count.how,
            "warnings": list(report.warnings),
        },
    )
