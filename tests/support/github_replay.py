"""A local HTTP server that replays recorded GitHub API responses to the github connector.

Routes map a request path (plus, optionally, query parameters and a page number) to a
reply: a recorded body from `shared_fixtures/github/<name>.json` with the headers
recorded beside it (`headers/<name>.headers.json`), a recorded error exchange, or a
synthetic body the test builds and names as such. Every `https://api.github.com` in a
body or `Link` header is rewritten to this server, an `If-None-Match` equal to the
route's ETag gets a 304, and every request is logged so tests can count them.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

GITHUB_API = "https://api.github.com"
# Headers the recording's transport added; this server sets its own.
_DROPPED = {
    "content-length",
    "transfer-encoding",
    "content-encoding",
    "connection",
    "keep-alive",
    "status",
    "date",
    "server",
}
_KEPT_ON_304 = {"etag", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"}


@dataclass
class Reply:
    """A status, headers (name, value pairs) and a body to serve."""

    status: int
    headers: list[tuple[str, str]]
    body: str = ""

    @property
    def etag(self) -> str | None:
        """Return the reply's ETag header, if any."""
        return next((v for k, v in self.headers if k.lower() == "etag"), None)


@dataclass
class Seen:
    """One request the server answered."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int


@dataclass
class _Route:
    path: str
    answer: Reply | Callable[[dict[str, str]], Reply]
    query: dict[str, str] = field(default_factory=dict)
    page: str = "1"
    times: int | None = None

    def matches(self, path: str, query: dict[str, str]) -> bool:
        if path != self.path or (self.times is not None and self.times <= 0):
            return False
        if query.get("page", "1") != self.page:
            return False
        return all(query.get(k) == v for k, v in self.query.items())


class GithubReplay:
    """Serve recorded GitHub answers on 127.0.0.1 and log what was asked."""

    def __init__(self, fixtures: Path) -> None:
        self.fixtures = fixtures / "github"
        self.seen: list[Seen] = []
        self._routes: list[_Route] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> GithubReplay:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def recorded(self, name: str) -> Reply:
        """Return `<name>.json` with its recorded status and headers (200 and none if absent)."""
        body = (self.fixtures / f"{name}.json").read_text(encoding="utf-8")
        meta_path = self.fixtures / "headers" / f"{name}.headers.json"
        if not meta_path.exists():
            return Reply(200, [("Content-Type", "application/json; charset=utf-8")], body)
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        return Reply(_status(meta["status"]), _pairs(meta["headers"]), body)

    def recorded_exchange(self, name: str) -> Reply:
        """Return a recorded `{request, status, headers, body}` file (the rate-limit 403s)."""
        data = json.loads((self.fixtures / f"{name}.json").read_text(encoding="utf-8"))
        return Reply(_status(data["status"]), _pairs(data["headers"]), json.dumps(data["body"]))

    def load(self, name: str) -> Any:
        """Return the parsed JSON body of `<name>.json` (for building synthetic replies)."""
        return json.loads((self.fixtures / f"{name}.json").read_text(encoding="utf-8"))

    @staticmethod
    def synthetic(
        body: Any, *, status: int = 200, headers: tuple[tuple[str, str], ...] = ()
    ) -> Reply:
        """Return a JSON reply built by a test, with an ETag derived from its body."""
        text = json.dumps(body)
        etag = f'W/"{hashlib.sha256(text.encode()).hexdigest()}"'
        return Reply(status, [("Content-Type", "application/json"), ("ETag", etag), *headers], text)

    def route(
        self,
        path: str,
        answer: Reply | Callable[[dict[str, str]], Reply],
        *,
        query: dict[str, str] | None = None,
        page: int = 1,
        times: int | None = None,
    ) -> None:
        """Answer GET `path` (with these query values, on this page) with `answer`.

        The newest matching route wins; `times` limits how often it answers.
        """
        with self._lock:
            self._routes.insert(0, _Route(path, answer, query or {}, str(page), times))

    def count(self, path_part: str = "", *, status: int | None = None) -> int:
        """Return how many requests had `path_part` in their path (and this status)."""
        return sum(
            1 for s in self.seen if path_part in s.path and (status is None or s.status == status)
        )

    def answer(self, path: str, query: dict[str, str], headers: dict[str, str]) -> Reply:
        """Pick the reply for a request and log it."""
        with self._lock:
            route = next((r for r in self._routes if r.matches(path, query)), None)
            if route is not None and route.times is not None:
                route.times -= 1
        if route is None:
            # GitHub's own answer for a repository or object that is missing or hidden.
            reply = self.synthetic(
                {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"},
                status=404,
            )
        else:
            reply = route.answer(query) if callable(route.answer) else route.answer
        if reply.etag is not None and headers.get("if-none-match") == reply.etag:
            kept = [(k, v) for k, v in reply.headers if k.lower() in _KEPT_ON_304]
            reply = Reply(304, kept)
        with self._lock:
            self.seen.append(Seen(path, query, headers, reply.status))
        return reply


def _handler_for(replay: GithubReplay) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self._serve()

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            self._serve()

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            query = dict(parse_qsl(parts.query))
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = replay.answer(parts.path, query, headers)
            body = reply.body.replace(GITHUB_API, replay.url).encode()
            self.send_response(reply.status)
            for name, value in reply.headers:
                if name.lower() not in _DROPPED:
                    self.send_header(name, value.replace(GITHUB_API, replay.url))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

    return Handler


def _status(recorded: int | dict[str, Any]) -> int:
    return int(recorded["code"]) if isinstance(recorded, dict) else int(recorded)


def _pairs(recorded: list[list[str]] | dict[str, str | list[str]]) -> list[tuple[str, str]]:
    if isinstance(recorded, list):
        return [(name, value) for name, value in recorded]
    pairs: list[tuple[str, str]] = []
    for name, value in recorded.items():
        values = value if isinstance(value, list) else [value]
        pairs += [(name, v) for v in values]
    return pairs
