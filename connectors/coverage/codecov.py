"""Read a branch's coverage totals from the Codecov API v2.

`GET /api/v2/{service}/{owner}/repos/{repo}/totals/?branch=...` answers the totals of the
branch's head commit (https://docs.codecov.com/reference/repos_totals_retrieve):
`totals.lines` counts every tracked line and equals hits + misses + partials, and Codecov's
own `coverage` is hits / lines * 100, rounded down to 2 decimals. So hits / lines is the
number Codecov shows, unrounded; partially covered lines count as not covered, as Codecov
counts them. Codecov gives no covered-branch count, so only `line` is offered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal
from urllib.parse import quote, urlencode

from pydantic import BaseModel, ConfigDict, Field

from connectors.base import NoData
from connectors.coverage.counts import Count, MalformedReport, ParsedReport, as_count
from connectors.coverage.fetch import get_json

if TYPE_CHECKING:
    import httpx

Service = Literal[
    "github", "gitlab", "bitbucket", "github_enterprise", "gitlab_enterprise", "bitbucket_server"
]


class CodecovQuery(BaseModel):
    """Which Codecov repository and branch: `{ service, owner, repo, branch }`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: Service = "github"
    owner: str = Field(min_length=1)
    repo: str = Field(min_length=1)
    branch: str | None = None


def read_codecov(
    client: httpx.Client,
    query: CodecovQuery,
    *,
    api: str,
    headers: dict[str, str],
    limit: int,
) -> tuple[ParsedReport, dict[str, object]]:
    """Return Codecov's line totals for the query's branch (default branch if none)."""
    path = "/".join(quote(part, safe="") for part in (query.service, query.owner))
    url = f"{api.rstrip('/')}/api/v2/{path}/repos/{quote(query.repo, safe='')}/totals/"
    if query.branch:
        url += "?" + urlencode({"branch": query.branch})
    where = f"Codecov totals of {query.owner}/{query.repo}" + (
        f" on {query.branch!r}" if query.branch else ""
    )
    body = get_json(client, url, headers=headers, limit=limit, what=where)
    totals = body.get("totals") if isinstance(body, dict) else None
    if not isinstance(totals, dict):
        raise NoData(f"coverage: {where} has no totals (no report uploaded for it?)")
    try:
        hits = as_count(totals.get("hits"), name="totals.hits")
        lines = as_count(totals.get("lines"), name="totals.lines")
        how = "Codecov totals.hits / totals.lines (partial lines count as not covered)"
        report = ParsedReport(format="codecov", counts={"line": Count(hits, lines, "lines", how)})
    except MalformedReport as error:
        raise NoData(f"coverage: {where}: {error}") from None
    details: dict[str, object] = {
        "codecov": f"{query.service}/{query.owner}/{query.repo}",
        "branch": query.branch,
        "codecov_coverage": totals.get("coverage"),
        "partials": totals.get("partials"),
    }
    return report, details
