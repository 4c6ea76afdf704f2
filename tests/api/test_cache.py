"""Cached reads: every write, on any replica, shows at the next GET; ETags answer 304."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.api import create_app
from app.api.cache import RepresentationCache, representation
from app.sampling.outcomes import SampleToStore
from app.store.versions import read_data_version
from app.tracker import Tracker, open_tracker
from connectors.base import Measurement
from tests.conftest import write_config
from tests.support import configs

NOW = 1_793_000_000  # 2026-10-26T07:33:20Z, inside 2026-Q4
TOKEN = "write-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HOUR = 3600

COVERAGE = configs.key_result(
    "coverage", "Increase automated test coverage from 60% to 85%",
    unit="%", direction="increase", baseline=60, target=85,
)
DEPLOYS = configs.key_result(
    "deploys", "Deploy daily", direction="increase", baseline=1, target=5, every="1h"
)


def config_text(
    *, title: str = "Ship with confidence", key_results: tuple[str, ...] = (COVERAGE, DEPLOYS)
) -> str:
    """Return the config: two objectives, the first with `key_results`."""
    return configs.text(
        configs.api(configs.token("ci", TOKEN, "read", "write")),
        configs.manual_connector(),
        configs.objective("quality", title, period="2026-Q4", key_results=key_results),
        configs.objective("speed", "Ship faster", period="2026-Q4"),
    )


CACHED_PATHS = (
    "/api/v1/objectives",
    "/api/v1/objectives?limit=1",
    "/api/v1/objectives?limit=1&offset=1",
    "/api/v1/key-results",
    "/api/v1/key-results/coverage",
)


class Replica:
    """One krtracker process's tracker and API client; replicas share one database."""

    def __init__(self, config: Path, clock: dict[str, int]) -> None:
        self.tracker = open_tracker(config, clock=lambda: clock["now"])
        self.app = create_app(self.tracker)
        self.client = TestClient(self.app)

    @property
    def cache(self) -> RepresentationCache:
        """Return this replica's representation cache (listings)."""
        cache: RepresentationCache = self.app.state.representation_cache
        return cache

    @property
    def row_cache(self) -> RepresentationCache:
        """Return this replica's cache of single Key Results."""
        cache: RepresentationCache = self.app.state.row_cache
        return cache

    def close(self) -> None:
        """Stop the client and the tracker."""
        self.client.close()
        self.tracker.close()


@pytest.fixture
def clock() -> dict[str, int]:
    """Return a clock every replica reads, fixed at NOW until a test moves it."""
    return {"now": NOW}


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Path:
    """Write the config file both replicas start from."""
    return write_config(tmp_path / "c.toml", config_text(), database_url=database_url)


@pytest.fixture
def replicas(config: Path, clock: dict[str, int]) -> Iterator[tuple[Replica, Replica]]:
    """Two replicas on one database: `a` serves reads, `b` writes."""
    a, b = Replica(config, clock), Replica(config, clock)
    yield a, b
    a.close()
    b.close()


def version(tracker: Tracker) -> int:
    """Return the database's data version."""
    with tracker.engine.connect() as connection:
        found = read_data_version(connection)
    assert found is not None
    return found


def prime(client: TestClient) -> dict[str, str]:
    """GET every cached path twice (the second from the cache); return each one's ETag."""
    tags = {}
    for path in CACHED_PATHS:
        first = client.get(path)
        assert first.status_code == 200, (path, first.text)
        again = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304, path
        tags[path] = first.headers["ETag"]
    return tags


def assert_changed(client: TestClient, tags: dict[str, str], paths: tuple[str, ...]) -> None:
    """Check that a stale ETag of each path gets 200 with a new ETag, not 304."""
    for path in paths:
        response = client.get(path, headers={"If-None-Match": tags[path]})
        assert response.status_code == 200, path
        assert response.headers["ETag"] != tags[path], path


def kr(client: TestClient, kr_id: str, path: str = "/api/v1/objectives") -> dict[str, object]:
    """Return a Key Result's summary as the objectives listing shows it."""
    listed = [k for o in client.get(path).json() for k in o["key_results"]]
    found: dict[str, object] = next(k for k in listed if k["id"] == kr_id)
    return found


def test_cached_reads_answer_304_to_their_etag(replicas: tuple[Replica, Replica]) -> None:
    """Cached paths send an ETag and no-cache; If-None-Match with it (any form) is a bare 304."""
    a, _ = replicas
    for path in CACHED_PATHS:
        response = a.client.get(path)
        etag = response.headers["ETag"]
        assert etag.startswith('"') and etag.endswith('"')
        assert response.headers["Cache-Control"] == "no-cache"
        for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
            again = a.client.get(path, headers={"If-None-Match": header})
            assert again.status_code == 304, (path, header)
            assert again.content == b"" and again.headers["ETag"] == etag
        other = a.client.get(path, headers={"If-None-Match": '"other"'})
        assert other.status_code == 200 and other.content == response.content


def test_repeated_reads_are_built_once(replicas: tuple[Replica, Replica]) -> None:
    """Without a write, each path's body is built once and then served from the cache."""
    a, _ = replicas
    for path in CACHED_PATHS:
        a.client.get(path)
    builds = a.cache.builds + a.row_cache.builds
    for _ in range(3):
        for path in CACHED_PATHS:
            assert a.client.get(path).status_code == 200
    assert a.cache.builds + a.row_cache.builds == builds == len(CACHED_PATHS)


def test_paged_listing_keeps_its_headers_from_the_cache(replicas: tuple[Replica, Replica]) -> None:
    """A cached page still says X-Total-Count and links the next page from this request's URL."""
    a, _ = replicas
    for _ in range(2):
        page = a.client.get("/api/v1/objectives?limit=1")
        assert page.headers["X-Total-Count"] == "2"
        following = "http://testserver/api/v1/objectives?offset=1&limit=1"
        assert page.headers["Link"] == f'<{following}>; rel="next"'
    last = a.client.get("/api/v1/objectives?limit=1&offset=1")
    assert "Link" not in last.headers and [o["id"] for o in last.json()] == ["speed"]


def test_a_value_posted_on_another_replica_shows_at_once(replicas: tuple[Replica, Replica]) -> None:
    """A manual value posted through replica b is in a's next answers; a's old ETags get 200."""
    a, b = replicas
    tags = prime(a.client)
    posted = b.client.post("/api/v1/key-results/coverage/values", json={"value": 70}, headers=AUTH)
    assert posted.status_code == 201
    assert kr(a.client, "coverage")["current"] == {"value": 70.0, "at": "2026-10-26T07:33:20Z"}
    assert a.client.get("/api/v1/key-results/coverage").json()["progress"] == pytest.approx(0.4)
    assert_changed(a.client, tags, CACHED_PATHS[:2] + CACHED_PATHS[3:])


def test_a_recorder_batch_shows_at_once(replicas: tuple[Replica, Replica]) -> None:
    """A batch the recorder stores shows on the other replica; the version rises once."""
    a, b = replicas
    tags = prime(a.client)
    before = version(a.tracker)
    at = datetime.fromtimestamp(NOW, UTC)
    b.tracker.recorder.store_now(
        [
            SampleToStore("coverage", NOW, "people", measurement=Measurement(value=80, at=at)),
            SampleToStore("deploys", NOW, "people", measurement=Measurement(value=3, at=at)),
        ]
    )
    assert version(a.tracker) == before + 1
    read = a.app.state.listing_mirror.rows_read
    assert kr(a.client, "coverage")["current"] == {"value": 80.0, "at": "2026-10-26T07:33:20Z"}
    assert a.app.state.listing_mirror.rows_read - read == 2  # only the rows the batch changed
    assert kr(a.client, "deploys", "/api/v1/objectives?limit=1")["progress"] == pytest.approx(0.5)
    assert_changed(a.client, tags, CACHED_PATHS[:2] + CACHED_PATHS[3:])


def test_a_batch_rebuilds_only_the_key_results_it_changed(
    replicas: tuple[Replica, Replica],
) -> None:
    """A Key Result in detail is cached on its own row: another Key Result's sample keeps it."""
    a, b = replicas
    tags = prime(a.client)
    deploys = a.client.get("/api/v1/key-results/deploys").headers["ETag"]
    builds = a.row_cache.builds
    at = datetime.fromtimestamp(NOW, UTC)
    item = SampleToStore("deploys", NOW, "people", measurement=Measurement(value=3, at=at))
    b.tracker.recorder.store_now([item])
    coverage = a.client.get(
        "/api/v1/key-results/coverage",
        headers={"If-None-Match": tags["/api/v1/key-results/coverage"]},
    )
    assert coverage.status_code == 304 and a.row_cache.builds == builds
    changed = a.client.get("/api/v1/key-results/deploys", headers={"If-None-Match": deploys})
    assert changed.status_code == 200 and changed.json()["current"]["value"] == 3.0
    assert a.row_cache.builds == builds + 1


def test_a_sync_on_another_replica_shows_at_once(
    replicas: tuple[Replica, Replica], config: Path, clock: dict[str, int], database_url: str
) -> None:
    """A replica starting on a changed file (title changed, a Key Result removed) changes a."""
    a, _ = replicas
    tags = prime(a.client)
    changed = config_text(title="Ship with more confidence", key_results=(COVERAGE,))
    write_config(config, changed, database_url=database_url)
    restarted = Replica(config, clock)
    try:
        listing = a.client.get("/api/v1/objectives").json()
        assert listing[0]["title"] == "Ship with more confidence"
        assert [k["id"] for k in listing[0]["key_results"]] == ["coverage"]
        assert [k["id"] for k in a.client.get("/api/v1/key-results").json()] == ["coverage"]
        assert_changed(a.client, tags, CACHED_PATHS[:2] + CACHED_PATHS[3:4])
    finally:
        restarted.close()


def test_time_moves_status_and_expected_progress_at_the_next_reevaluation(
    replicas: tuple[Replica, Replica], clock: dict[str, int]
) -> None:
    """Stale status and expected progress (they move with time) show after a re-evaluation."""
    a, b = replicas
    b.client.post("/api/v1/key-results/deploys/values", json={"value": 2}, headers=AUTH)
    b.client.post("/api/v1/key-results/coverage/values", json={"value": 70}, headers=AUTH)
    tags = prime(a.client)
    before = kr(a.client, "coverage")
    assert kr(a.client, "deploys")["status"] != "stale"
    clock["now"] = NOW + 4 * HOUR  # more than 3 intervals of 1h without a sample
    b.tracker.key_result_writer(run_alerts=False).reevaluate_each()
    assert kr(a.client, "deploys")["status"] == "stale"
    after = kr(a.client, "coverage")
    assert after["expected_progress"] > before["expected_progress"]  # type: ignore[operator]
    assert_changed(a.client, tags, CACHED_PATHS[:2] + CACHED_PATHS[3:])


def test_a_check_in_shows_in_the_key_result(replicas: tuple[Replica, Replica]) -> None:
    """A check-in through replica b is the latest one in a's next answer; old ETag gets 200."""
    a, b = replicas
    tags = prime(a.client)
    before = version(a.tracker)
    posted = b.client.post(
        "/api/v1/key-results/coverage/check-ins",
        json={"confidence": 0.7, "note": "ok"},
        headers=AUTH,
    )
    assert posted.status_code == 201
    assert version(a.tracker) == before + 1
    latest = a.client.get("/api/v1/key-results/coverage").json()["latest_check_in"]
    assert latest["confidence"] == 0.7 and latest["note"] == "ok"
    assert_changed(a.client, tags, ("/api/v1/key-results/coverage",))
    # The listings do not show check-ins: same bytes, same ETag, still 304.
    listing = a.client.get(
        "/api/v1/objectives", headers={"If-None-Match": tags["/api/v1/objectives"]}
    )
    assert listing.status_code == 304


def test_a_sync_that_changes_nothing_keeps_the_version(replicas: tuple[Replica, Replica]) -> None:
    """Sync is idempotent: with nothing changed it does not raise the version (caches stay warm)."""
    a, _ = replicas
    before = version(a.tracker)
    report = a.tracker.sync()
    assert not (report.created or report.updated or report.archived or report.revisions)
    assert version(a.tracker) == before


def test_an_unknown_key_result_is_still_a_404(replicas: tuple[Replica, Replica]) -> None:
    """A missing Key Result is a 404 problem naming it, and nothing is cached for it."""
    a, _ = replicas
    for _ in range(2):
        response = a.client.get("/api/v1/key-results/nope")
        assert response.status_code == 404 and "'nope'" in response.json()["detail"]
    assert len(a.cache) == len(a.row_cache) == 0


def body(size: int, fill: bytes = b"x") -> bytes:
    """Return a body of `size` bytes."""
    return fill * size


def test_cache_is_bounded_by_bytes_least_recently_used_first() -> None:
    """Beyond max_bytes the least recently used entries go; a body over the bound is not kept."""
    cache = RepresentationCache(max_bytes=1000)
    for key in ("a", "b", "c"):
        cache.get(key, version=1, build=lambda key=key: representation(body(300, key.encode())))
    cache.get("a", version=1, build=lambda: pytest.fail("a is cached"))
    cache.get("d", version=1, build=lambda: representation(body(300)))
    assert cache.size_bytes == 900 and len(cache) == 3
    rebuilt = []
    cache.get("b", version=1, build=lambda: rebuilt.append("b") or representation(body(300)))
    assert rebuilt == ["b"]
    cache.get("huge", version=1, build=lambda: representation(body(2000)))
    assert cache.size_bytes <= 1000 and "huge" not in cache._entries


def test_cache_forgets_other_versions_and_old_entries() -> None:
    """A new version empties the cache; an entry past max_age is rebuilt; no version, no cache."""
    now = {"t": 0.0}
    cache = RepresentationCache(max_age_seconds=60, clock=lambda: now["t"])
    builds: list[str] = []

    def build(tag: str) -> object:
        return lambda: builds.append(tag) or representation(tag.encode())

    assert cache.get("k", version=1, build=build("v1")).body == b"v1"  # type: ignore[arg-type]
    assert cache.get("k", version=1, build=build("again")).body == b"v1"  # type: ignore[arg-type]
    assert cache.get("k", version=2, build=build("v2")).body == b"v2"  # type: ignore[arg-type]
    now["t"] = 61
    assert cache.get("k", version=2, build=build("aged")).body == b"aged"  # type: ignore[arg-type]
    cache.get("n", version=None, build=build("none"))  # type: ignore[arg-type]
    cache.get("n", version=None, build=build("none"))  # type: ignore[arg-type]
    assert builds == ["v1", "v2", "aged", "none", "none"]


def test_concurrent_misses_build_once() -> None:
    """Sixteen requests missing the same key at once share one build."""
    cache = RepresentationCache()
    calls = []
    started = threading.Barrier(16)

    def build() -> object:
        calls.append(1)
        time.sleep(0.2)
        return representation(b"body")

    def read() -> None:
        started.wait()
        assert cache.get("k", version=7, build=build).body == b"body"  # type: ignore[arg-type]

    threads = [threading.Thread(target=read) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and cache.builds == 1


def test_listing_bytes_are_those_of_the_plain_shapes(replicas: tuple[Replica, Replica]) -> None:
    """Listings built from fragments are byte for byte the serialised `objective_out` shapes."""
    import orjson
    from sqlmodel import Session

    from app.api.representations import objective_out, summary_of_row
    from app.store.key_results import key_result_summaries, list_objectives

    a, b = replicas
    b.client.post("/api/v1/key-results/coverage/values", json={"value": 70}, headers=AUTH)
    for _ in range(2):  # the second time from memoised fragments
        a.cache.get("reset", version=-1, build=lambda: representation(b""))  # empty the cache
        with Session(a.tracker.engine) as session:
            rows = key_result_summaries(session)
            expected = [
                objective_out(o, [summary_of_row(r) for r in rows if r.objective_id == o.id])
                for o in list_objectives(session)
            ]
            summaries = [summary_of_row(r) for r in rows]
        assert a.client.get("/api/v1/objectives").content == orjson.dumps(expected)
        assert a.client.get("/api/v1/key-results").content == orjson.dumps(summaries)


def test_concurrent_writers_each_raise_the_version_once(replicas: tuple[Replica, Replica]) -> None:
    """Forty values and check-ins written at once from two replicas: no error, forty bumps."""
    from concurrent.futures import ThreadPoolExecutor

    from app.sampling.measure import store_manual_value
    from app.store.check_ins import add_check_in
    from app.store.models import CheckIn

    a, b = replicas
    before = version(a.tracker)

    def write(i: int) -> None:
        tracker = (a, b)[i % 2].tracker
        if i % 4 < 2:
            store_manual_value(tracker, kr_id="coverage", ts=NOW - i, value=60 + i)
            return
        with Session(tracker.engine) as session:
            add_check_in(session, CheckIn(key_result_id="deploys", ts=NOW, confidence=0.5))
            session.commit()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(write, range(40)))
    assert version(a.tracker) == before + 40
    assert a.client.get("/api/v1/key-results/coverage").json()["current"]["value"] == 60.0
