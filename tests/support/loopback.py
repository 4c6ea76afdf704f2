"""Real HTTP servers on loopback for tests: start one from a handler class, route GETs, proxy.

`start_loopback` is the one way a test serves HTTP from a thread: port 0 on 127.0.0.1, a
daemon thread, `stop_loopback` to close the port. On it: the route server (tests set
`routes[path] = handler`, which gets the request and returns status, headers and body, and
read `seen` to check what the client sent) and `CountingProxy` (a real server behind a
proxy that counts the requests).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that keeps test output quiet and sends whole bodies in one call."""

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        """Send `status`, the headers, a Content-Length and `body`."""
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def start_loopback(
    handler: type[BaseHTTPRequestHandler],
    *,
    server_class: type[ThreadingHTTPServer] = ThreadingHTTPServer,
) -> ThreadingHTTPServer:
    """Serve `handler` on a free port of 127.0.0.1 from a daemon thread."""
    server = server_class(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    return server


def url_of(server: ThreadingHTTPServer, scheme: str = "http") -> str:
    """Return the base URL of a loopback server."""
    return f"{scheme}://127.0.0.1:{server.server_address[1]}"


def stop_loopback(server: ThreadingHTTPServer) -> None:
    """Stop serving and close the port."""
    server.shutdown()
    server.server_close()


@dataclass
class Seen:
    """One request the local server received."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


Reply = tuple[int, dict[str, str], bytes]
OMIT_LENGTH = "x-test-omit-length"  # a reply header the server drops: send no Content-Length


@dataclass
class LocalServer:
    """A real HTTP server on 127.0.0.1 answering from a table of routes (path -> handler)."""

    routes: dict[str, Callable[[Seen], Reply]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    base: str = ""

    def paths(self) -> list[str]:
        """Return the paths requested so far, in order."""
        return [request.path for request in self.seen]


def start_route_server() -> tuple[LocalServer, ThreadingHTTPServer]:
    """Start a server on a free port; return its routes and log, and the server to shut down."""
    state = LocalServer()

    class Handler(QuietHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server naming
            parts = urlsplit(self.path)
            request = Seen(parts.path, parse_qs(parts.query), dict(self.headers.items()))
            state.seen.append(request)
            route = state.routes.get(parts.path)
            status, headers, body = route(request) if route else (404, {}, b"{}")
            self.send_response(status)
            for name, value in headers.items():
                if name != OMIT_LENGTH:
                    self.send_header(name, value)
            if "Content-Length" not in headers and OMIT_LENGTH not in headers:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

    server = start_loopback(Handler)
    state.base = url_of(server)
    return state, server


def json_reply(body: Any) -> Reply:
    """Answer 200 with `body` as JSON."""
    return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


def needs_header(name: str, value: str, reply: Reply) -> Callable[[Seen], Reply]:
    """Answer `reply` only to requests carrying header `name: value`, else 401."""

    def handle(request: Seen) -> Reply:
        if request.headers.get(name) != value:
            return 401, {"Content-Type": "application/json"}, b'{"message": "Bad credentials"}'
        return reply

    return handle


class CountingProxy:
    """A loopback HTTP proxy in front of a real server that records every request path."""

    def __init__(self, upstream: str) -> None:
        self.requests: list[str] = []
        proxy = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                proxy.requests.append(self.path)
                try:
                    answer = httpx.get(upstream + self.path, timeout=30)
                except httpx.TransportError:
                    self.reply(502, b"")
                    return
                content_type = answer.headers.get("content-type", "application/json")
                self.reply(answer.status_code, answer.content, {"content-type": content_type})

        self.server = start_loopback(Handler)
        self.url = url_of(self.server)

    def close(self) -> None:
        """Stop serving."""
        stop_loopback(self.server)
