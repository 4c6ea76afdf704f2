"""A real HTTP server on loopback that answers GETs from a table of routes and logs requests.

Tests set `routes[path] = handler` (the handler gets the request, returns status, headers
and body) and read `seen` to check what the client sent.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


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

    class Handler(BaseHTTPRequestHandler):
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

        def log_message(self, *args: Any) -> None:
            """Keep test output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
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
