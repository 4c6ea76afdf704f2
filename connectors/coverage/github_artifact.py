"""Fetch a coverage report out of the newest GitHub Actions artifact of a workflow on a branch.

The REST flow (https://docs.github.com/rest/actions): list the workflow's successful runs
on the branch (newest first), list each run's artifacts until one has an unexpired
artifact of the wanted name, then GET its `archive_download_url`, which answers 302 with
a short-lived signed link. That link is followed at once and without the token.

The zip is untrusted: a member's declared size and compression ratio are checked before
it is opened, and decompression stops as soon as the output passes the limit, whatever
the header declared.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from pydantic import BaseModel, ConfigDict, Field

from connectors.base import AmbiguousResult, NoData, QueryRejected
from connectors.coverage.fetch import Fetched, download, get_json, same_origin

if TYPE_CHECKING:
    import httpx

_CHUNK = 1 << 20


class GithubArtifactQuery(BaseModel):
    """Which artifact: `repo = "owner/name"`, workflow file or id, branch, artifact name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    repo: str = Field(pattern=r"^[\w.-]+/[\w.-]+$")
    workflow: str = Field(min_length=1)
    branch: str = Field(min_length=1)
    artifact: str = Field(min_length=1)
    path_in_zip: str | None = None


def read_github_artifact(
    client: httpx.Client,
    query: GithubArtifactQuery,
    *,
    api: str,
    headers: dict[str, str],
    limit: int,
    max_ratio: float,
    runs_to_search: int,
) -> Fetched:
    """Return the report inside the newest unexpired artifact `query` names."""
    base = f"{api.rstrip('/')}/repos/{query.repo}/actions"
    run, artifact = _newest_artifact(
        client, query, base=base, headers=headers, limit=limit, runs_to_search=runs_to_search
    )
    what = f"artifact {query.artifact!r} of run {run['id']}"
    archive_url = str(artifact["archive_download_url"])
    if not same_origin(archive_url, api):
        # The token goes with this request: only to the API it was configured for.
        raise QueryRejected(f"coverage: {what} has a download URL outside {api}; not followed")
    _, archive = download(
        client,
        archive_url,
        headers=headers,
        limit=limit,
        what=what,
        headers_after_redirect=False,
    )
    member, data = extract_member(
        archive, pattern=query.path_in_zip, limit=limit, max_ratio=max_ratio, what=what
    )
    details = {
        "repo": query.repo,
        "workflow": query.workflow,
        "branch": query.branch,
        "run_id": run["id"],
        "run_created_at": run.get("created_at"),
        "head_sha": run.get("head_sha"),
        "artifact_id": artifact.get("id"),
        "file": member,
    }
    return Fetched(data=data, name=f"{member} in {what}", details=details)


def _newest_artifact(
    client: httpx.Client,
    query: GithubArtifactQuery,
    *,
    base: str,
    headers: dict[str, str],
    limit: int,
    runs_to_search: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (run, artifact) for the newest successful run holding the artifact."""
    where = f"workflow {query.workflow!r} of {query.repo} on {query.branch!r}"
    params = urlencode({"branch": query.branch, "status": "success", "per_page": runs_to_search})
    runs_url = f"{base}/workflows/{quote(query.workflow, safe='')}/runs?{params}"
    body = get_json(client, runs_url, headers=headers, limit=limit, what=f"GitHub runs of {where}")
    runs = [run for run in _items(body, "workflow_runs") if _is_successful_on(run, query.branch)]
    if not runs:
        raise NoData(f"coverage: no successful run of {where}")
    runs.sort(key=lambda run: str(run.get("created_at", "")), reverse=True)
    for run in runs:
        artifact = _find_artifact(client, run, query=query, base=base, headers=headers, limit=limit)
        if artifact is not None:
            return run, artifact
    raise NoData(
        f"coverage: none of the {len(runs)} newest successful runs of {where} has an "
        f"unexpired artifact named {query.artifact!r}"
    )


def _items(body: Any, key: str) -> list[dict[str, Any]]:
    items = body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise NoData(f"coverage: GitHub's answer has no {key!r} list")
    return [item for item in items if isinstance(item, dict) and isinstance(item.get("id"), int)]


def _is_successful_on(run: dict[str, Any], branch: str) -> bool:
    # The server filters already; checking again keeps a misbehaving proxy from
    # handing us a failed run or another branch's coverage.
    return run.get("conclusion") == "success" and run.get("head_branch", branch) == branch


def _find_artifact(
    client: httpx.Client,
    run: dict[str, Any],
    *,
    query: GithubArtifactQuery,
    base: str,
    headers: dict[str, str],
    limit: int,
) -> dict[str, Any] | None:
    url = f"{base}/runs/{run['id']}/artifacts?{urlencode({'per_page': 100})}"
    body = get_json(client, url, headers=headers, limit=limit, what=f"artifacts of run {run['id']}")
    matching = [
        artifact
        for artifact in _items(body, "artifacts")
        if artifact.get("name") == query.artifact
        and not artifact.get("expired", False)
        and artifact.get("archive_download_url")
    ]
    matching.sort(key=lambda artifact: str(artifact.get("created_at", "")), reverse=True)
    return matching[0] if matching else None


def extract_member(
    archive: bytes, *, pattern: str | None, limit: int, max_ratio: float, what: str
) -> tuple[str, bytes]:
    """Return the one zip member matching `pattern` (any, if None), refusing bombs."""
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
            members = [info for info in bundle.infolist() if not info.is_dir()]
            chosen = [m for m in members if pattern is None or fnmatchcase(m.filename, pattern)]
            names = ", ".join(m.filename for m in members[:10]) or "nothing"
            if not chosen:
                raise NoData(f"coverage: {what} has no file matching {pattern!r}; it has {names}")
            if len(chosen) > 1:
                raise AmbiguousResult(
                    f"coverage: {what} has {len(chosen)} files ({names}); set path_in_zip"
                )
            info = chosen[0]
            _check_declared(info, limit=limit, max_ratio=max_ratio, what=what)
            return info.filename, _inflate(bundle, info, limit=limit, what=what)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as error:
        raise NoData(f"coverage: {what} is not a readable zip archive ({error})") from None


def _check_declared(info: zipfile.ZipInfo, *, limit: int, max_ratio: float, what: str) -> None:
    name = f"{info.filename} in {what}"
    if info.flag_bits & 0x1:
        raise QueryRejected(f"coverage: {name} is encrypted")
    if info.file_size > limit:
        raise QueryRejected(
            f"coverage: {name} declares {info.file_size} bytes uncompressed, over {limit}"
        )
    ratio = info.file_size / info.compress_size if info.compress_size else float(info.file_size)
    if ratio > max_ratio:
        raise QueryRejected(
            f"coverage: {name} would expand {ratio:.0f} times (limit {max_ratio:g}): "
            "refused as a likely zip bomb"
        )


def _inflate(bundle: zipfile.ZipFile, info: zipfile.ZipInfo, *, limit: int, what: str) -> bytes:
    output = bytearray()
    with bundle.open(info) as member:
        while chunk := member.read(_CHUNK):
            output += chunk
            if len(output) > limit:
                raise QueryRejected(
                    f"coverage: {info.filename} in {what} inflates past {limit} bytes "
                    f"though it declares {info.file_size}; stopped"
                )
    return bytes(output)
