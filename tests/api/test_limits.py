"""Bounded requests: the token of a write and the size of its body are checked before reading it."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import write_config
from tests.support import configs
from tests.support.krtracker_server import RunningServer, krtracker_serve

TOKEN = "limits-token-0123456789abcdef"
LIMIT = 65_536
CONFIG = configs.text(
    configs.api(configs.token("ci", TOKEN, "read", "write"), max_body_bytes=LIMIT),
    configs.manual_connector(),
    configs.objective(
        "quality", "Ship with confidence", start=date(2026, 1, 1), end=date(2030, 12, 31),
        key_results=[
            configs.key_result(
                "coverage", "Coverage", direction="increase", baseline=60, target=85
            )
        ],
    ),
)
PATH = "/api/v1/key-results/coverage/values"


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[RunningServer]:
    """Run a real `krtracker serve` with a 64 KiB body limit."""
    config = write_config(tmp_path / "c.toml", CONFIG, database_url=database_url)
    with krtracker_serve(config, log=tmp_path / "serve.log", scheduler=False) as running:
        yield running


@dataclass
class RawAnswer:
    """What a raw HTTP/1.1 exchange gave: status, headers, body, time to answer, bytes sent."""

    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float
    sent: int


def raw_post(url: str, *, headers: dict[str, str], chunks: Iterator[bytes]) -> RawAnswer:
    """POST over a plain socket, sending `chunks` from a thread while reading the answer.

    httpx would stop at the first failed write; a server that answers early and closes the
    connection is exactly what these tests look for, so the answer is read regardless.
    """
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    head = f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    sent = 0
    started = time.monotonic()
    sock.sendall(head.encode())

    def upload() -> None:
        nonlocal sent
        try:
            for chunk in chunks:
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:  # the server answered and closed: stop sending
            pass

    uploader = threading.Thread(target=upload, daemon=True)
    uploader.start()
    received = b""
    while b"\r\n\r\n" not in received:
        data = sock.recv(65536)
        if not data:
            break
        received += data
    seconds = time.monotonic() - started
    head_text, _, rest = received.partition(b"\r\n\r\n")
    lines = head_text.decode().split("\r\n")
    answer_headers = {k.lower(): v.strip() for k, v in (h.split(":", 1) for h in lines[1:])}
    length = int(answer_headers.get("content-length", "0"))
    while len(rest) < length:
        data = sock.recv(65536)
        if not data:
            break
        rest += data
    sock.close()
    uploader.join(timeout=10)
    return RawAnswer(int(lines[0].split()[1]), answer_headers, rest, seconds, sent)


def zeros(total: int, size: int = 1 << 20) -> Iterator[bytes]:
    """Yield `total` bytes of padding in chunks of `size`."""
    while total > 0:
        yield b" " * min(size, total)
        total -= size


def chunked(body: Iterator[bytes]) -> Iterator[bytes]:
    """Frame chunks in HTTP/1.1 chunked transfer encoding."""
    for chunk in body:
        yield f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    yield b"0\r\n\r\n"


def test_unauthenticated_huge_post_is_refused_unread(server: RunningServer) -> None:
    """A 400 MB POST without a token gets 401 at once; the server neither reads nor holds it."""
    before = server.rss_bytes()
    answer = raw_post(
        server.url + PATH,
        headers={"Content-Type": "application/json", "Content-Length": str(400 << 20)},
        chunks=zeros(400 << 20),
    )
    assert answer.status == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.seconds < 2, answer.seconds
    assert answer.sent < 100 << 20, "the server kept reading the body it refused"
    assert server.rss_bytes() - before < 50 << 20


def test_declared_body_over_the_limit_is_413_before_reading(server: RunningServer) -> None:
    """With a valid token, a Content-Length over the limit is a 413 problem, answered unread."""
    answer = raw_post(
        server.url + PATH,
        headers={
            "Authorization": f"Bearer {TOKEN}",
            "Content-Type": "application/json",
            "Content-Length": str(300 << 20),
        },
        chunks=zeros(300 << 20),
    )
    assert answer.status == 413
    assert answer.headers["content-type"] == "application/problem+json"
    problem = json.loads(answer.body)
    assert problem["status"] == 413 and "max_body_bytes" in problem["detail"]
    assert answer.seconds < 2 and answer.sent < 100 << 20


def test_chunked_body_is_counted(server: RunningServer) -> None:
    """A chunked body without Content-Length is refused once it passes the limit."""
    answer = raw_post(
        server.url + PATH,
        headers={
            "Authorization": f"Bearer {TOKEN}",
            "Content-Type": "application/json",
            "Transfer-Encoding": "chunked",
        },
        chunks=chunked(zeros(50 << 20, size=16384)),
    )
    assert answer.status == 413
    assert json.loads(answer.body)["title"] == "Content too large"
    assert answer.sent < 40 << 20


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_body_under_the_limit_is_accepted(server: RunningServer, framing: str) -> None:
    """A body just under the limit (padded with JSON whitespace) is read and stored."""
    body = b'{"value": 70' + b" " * (LIMIT - 100) + b"}"
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    if framing == "chunked":
        headers["Transfer-Encoding"] = "chunked"
        chunks = chunked(iter([body[:1000], body[1000:]]))
    else:
        headers["Content-Length"] = str(len(body))
        chunks = iter([body])
    answer = raw_post(server.url + PATH, headers=headers, chunks=chunks)
    assert answer.status == 201, answer.body
    assert json.loads(answer.body)["value"] == 70.0
