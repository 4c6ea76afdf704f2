"""Reports inside GitHub Actions artifacts, served from recordings by a local server; zip bombs."""

from __future__ import annotations

import io
import json
import time
import tracemalloc
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from connectors.base import (
    AmbiguousResult,
    ConnectorError,
    NoData,
    QueryRejected,
    RateLimited,
)
from connectors.coverage import CoverageConnector
from tests.connectors.coverage.support import measure
from tests.support.loopback import LocalServer, json_reply, needs_header

REPO, WORKFLOW, BRANCH, ARTIFACT = "PyGithub/PyGithub", "ci.yml", "master", "build-zip"
TOKEN = "ghs_test_token_0123456789"


def _recorded(shared_fixtures: Path, name: str, base: str) -> Any:
    """Load a recorded GitHub body with its api.github.com URLs pointed at the local server."""
    text = (shared_fixtures / "github" / name).read_text(encoding="utf-8")
    return json.loads(text.replace("https://api.github.com", base))


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
    return buffer.getvalue()


def serve_github(
    shared_fixtures: Path,
    server: LocalServer,
    archive: bytes,
    *,
    runs: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Serve the runs, artifacts, redirect and blob endpoints; return the recorded run."""
    run_body = _recorded(shared_fixtures, "workflow-runs.json", server.base)
    (run,) = run_body["workflow_runs"]
    if runs is not None:
        run_body["workflow_runs"] = runs + run_body["workflow_runs"]
    artifacts = _recorded(shared_fixtures, "run-artifacts.json", server.base)
    for artifact in artifacts["artifacts"]:
        artifact["workflow_run"]["id"] = run["id"]
    auth = f"Bearer {TOKEN}"
    server.routes[f"/repos/{REPO}/actions/workflows/{WORKFLOW}/runs"] = needs_header(
        "Authorization", auth, json_reply(run_body)
    )
    server.routes[f"/repos/{REPO}/actions/runs/{run['id']}/artifacts"] = needs_header(
        "Authorization", auth, json_reply(artifacts)
    )
    for artifact in artifacts["artifacts"]:
        blob = f"/blob/{artifact['id']}.zip"
        download = urlsplit(artifact["archive_download_url"]).path
        server.routes[download] = needs_header(
            "Authorization", auth, (302, {"Location": f"{server.base}{blob}?sig=abc&se=1"}, b"")
        )
        server.routes[blob] = lambda _: (200, {"Content-Type": "application/zip"}, archive)
    return run


def artifact_query(**extra: Any) -> dict[str, Any]:
    """Return a github_artifact source for the recorded repository."""
    return {
        "github_artifact": {
            "repo": REPO,
            "workflow": WORKFLOW,
            "branch": BRANCH,
            "artifact": ARTIFACT,
            **extra,
        }
    }


def test_github_artifact_flow_reads_the_report(
    shared_fixtures: Path, make_connector: Any, start_server: Any
) -> None:
    """Runs -> artifacts -> 302 -> zip member: the report inside gives its stated figure."""
    server = start_server()
    report = (shared_fixtures / "coverage/cobertura/gcovr-8.6-nested-cpp.xml").read_bytes()
    run = serve_github(shared_fixtures, server, _zip({"coverage.xml": report}))
    connector = make_connector(github_url=server.base, token=TOKEN)
    result = measure(connector, **artifact_query())
    assert (result.numerator, result.denominator) == (25, 42)
    assert result.details["run_id"] == run["id"] == 3349872717
    assert result.details["artifact_id"] == 724958105
    assert result.details["file"] == "coverage.xml"
    runs_request = server.seen[0]
    assert runs_request.query["branch"] == [BRANCH]
    assert runs_request.query["status"] == ["success"]
    blob_request = server.seen[-1]
    assert blob_request.path == "/blob/724958105.zip"
    assert "Authorization" not in blob_request.headers, "the signed link must not get the token"


def test_github_artifact_skips_a_newer_run_without_it(
    shared_fixtures: Path, make_connector: Any, start_server: Any
) -> None:
    """A newer successful run without the artifact is passed over for the recorded one."""
    server = start_server()
    report = (shared_fixtures / "coverage/go-coverprofile/chi.out").read_bytes()
    # Synthetic: a copy of the recorded run, one day newer, whose artifact list is empty.
    newer = dict(_recorded(shared_fixtures, "workflow-runs.json", server.base)["workflow_runs"][0])
    newer.update(id=3349872718, created_at="2022-10-30T03:26:27Z")
    serve_github(shared_fixtures, server, _zip({"c.out": report}), runs=[newer])
    server.routes[f"/repos/{REPO}/actions/runs/3349872718/artifacts"] = lambda _: json_reply(
        {"total_count": 0, "artifacts": []}
    )
    result = measure(make_connector(github_url=server.base, token=TOKEN), **artifact_query())
    assert result.details["run_id"] == 3349872717
    assert (result.numerator, result.denominator) == (969, 1272)


def test_expired_artifact_is_no_data(
    shared_fixtures: Path, make_connector: Any, start_server: Any
) -> None:
    """An artifact GitHub marks expired is not downloaded; the error says so."""
    server = start_server()
    run = serve_github(shared_fixtures, server, _zip({"c.xml": b"<coverage/>"}))
    artifacts = _recorded(shared_fixtures, "run-artifacts.json", server.base)
    for artifact in artifacts["artifacts"]:
        artifact["expired"] = True  # synthetic change of the recorded body
    server.routes[f"/repos/{REPO}/actions/runs/{run['id']}/artifacts"] = lambda _: json_reply(
        artifacts
    )
    with pytest.raises(NoData, match="unexpired artifact named 'build-zip'"):
        measure(make_connector(github_url=server.base, token=TOKEN), **artifact_query())
    assert not any(path.startswith("/blob/") for path in server.paths())


def test_artifact_member_choice(
    shared_fixtures: Path, make_connector: Any, start_server: Any
) -> None:
    """Several files need path_in_zip (a glob); without it the result is ambiguous."""
    server = start_server()
    lcov = (shared_fixtures / "coverage/lcov/lcov2-cpp-fnl.lcov").read_bytes()
    xml = (shared_fixtures / "coverage/jacoco/jacoco-oneline.xml").read_bytes()
    serve_github(shared_fixtures, server, _zip({"out/lcov.info": lcov, "out/jacoco.xml": xml}))
    connector = make_connector(github_url=server.base, token=TOKEN)
    with pytest.raises(AmbiguousResult, match="set path_in_zip"):
        measure(connector, **artifact_query())
    result = measure(connector, **artifact_query(path_in_zip="*/jacoco.xml"))
    assert (result.numerator, result.denominator) == (5, 6)


def test_artifact_url_off_the_api_origin_is_not_followed(
    shared_fixtures: Path, make_connector: Any, start_server: Any
) -> None:
    """A download URL outside the configured API never receives the token."""
    server, elsewhere = start_server(), start_server()
    run = serve_github(shared_fixtures, server, b"")
    artifacts = _recorded(shared_fixtures, "run-artifacts.json", elsewhere.base)
    server.routes[f"/repos/{REPO}/actions/runs/{run['id']}/artifacts"] = lambda _: json_reply(
        artifacts
    )
    with pytest.raises(QueryRejected, match="outside"):
        measure(make_connector(github_url=server.base, token=TOKEN), **artifact_query())
    assert elsewhere.seen == []


def test_github_bad_token_is_rejected(
    shared_fixtures: Path, make_connector: Any, start_server: Any
) -> None:
    """GitHub's 401 is QueryRejected without the token in the reason."""
    server = start_server()
    serve_github(shared_fixtures, server, b"")
    with pytest.raises(QueryRejected, match="401") as raised:
        measure(make_connector(github_url=server.base, token="not-the-token"), **artifact_query())
    assert "not-the-token" not in raised.value.reason


@pytest.mark.parametrize(
    "recording", ["rate-limit-exceeded.primary-403.json", "rate-limit-exceeded.secondary-403.json"]
)
def test_github_rate_limit_is_rate_limited(
    shared_fixtures: Path, make_connector: Any, start_server: Any, recording: str
) -> None:
    """GitHub's recorded primary (remaining 0) and secondary (Retry-After) 403s are RateLimited."""
    recorded = json.loads((shared_fixtures / "github" / recording).read_text())
    headers = {
        name: value
        for name, value in recorded["headers"]
        if name.lower().startswith("x-ratelimit") or name.lower() == "retry-after"
    }
    body = json.dumps(recorded["body"]).encode()
    server = start_server()
    route = f"/repos/{REPO}/actions/workflows/{WORKFLOW}/runs"
    server.routes[route] = lambda _: (recorded["status"], headers, body)
    with pytest.raises(RateLimited) as raised:
        measure(make_connector(github_url=server.base, token=TOKEN), **artifact_query())
    if "Retry-After" in headers:
        assert raised.value.until is not None and raised.value.until > datetime.now(UTC)


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """Return a zip holding 1 GiB of zeros (about 1 MB compressed), written in streaming mode."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        with bundle.open("coverage.xml", "w") as member:
            zeros = bytes(1 << 20)
            for _ in range(1024):
                member.write(zeros)
    data = path.read_bytes()
    assert len(data) < 2_000_000
    return data


def _measure_bounded(connector: CoverageConnector, query: dict[str, Any]) -> tuple[Exception, int]:
    tracemalloc.start()
    try:
        measure(connector, **query)
    except ConnectorError as error:
        caught: Exception = error
    else:
        pytest.fail("the bomb was measured")
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return caught, peak


def test_zip_bomb_is_refused_without_inflating(
    shared_fixtures: Path, make_connector: Any, start_server: Any, zip_bomb: bytes
) -> None:
    """1 GiB of zeros behind a 1 MB artifact is refused by its declared size, memory bounded."""
    server = start_server()
    serve_github(shared_fixtures, server, zip_bomb)
    connector = make_connector(github_url=server.base, token=TOKEN)
    started = time.monotonic()
    error, peak = _measure_bounded(connector, artifact_query())
    assert isinstance(error, QueryRejected)
    assert "1073741824 bytes uncompressed" in error.reason
    assert peak < 32_000_000
    assert time.monotonic() - started < 5


def test_zip_bomb_lying_about_its_size_is_stopped(
    shared_fixtures: Path, make_connector: Any, start_server: Any, zip_bomb: bytes
) -> None:
    """A bomb whose directory declares a small size is stopped at that size, never inflated."""
    declared = 8_000_000
    entry = zip_bomb.rindex(b"PK\x01\x02")  # the central directory entry
    lying = bytearray(zip_bomb)
    lying[entry + 24 : entry + 28] = declared.to_bytes(4, "little")  # uncompressed size
    server = start_server()
    serve_github(shared_fixtures, server, bytes(lying))
    connector = make_connector(github_url=server.base, token=TOKEN, max_report_bytes=declared)
    error, peak = _measure_bounded(connector, artifact_query())
    # CPython's zipfile stops at the declared size and then fails the CRC; the connector's
    # own cap would stop a reader that trusted the stream instead.
    assert isinstance(error, QueryRejected | NoData)
    assert "not a readable zip archive" in error.reason or "inflates past" in error.reason
    assert peak < 4 * declared


def test_zip_ratio_limit_refuses_dense_members(
    shared_fixtures: Path, make_connector: Any, start_server: Any
) -> None:
    """A member that expands more than max_zip_ratio times is refused as a likely bomb."""
    server = start_server()
    serve_github(shared_fixtures, server, _zip({"c.lcov": b"SF:a\n" + b"DA:1,0\n" * 200_000}))
    connector = make_connector(github_url=server.base, token=TOKEN, max_zip_ratio=20)
    with pytest.raises(QueryRejected, match="likely zip bomb"):
        measure(connector, **artifact_query())
