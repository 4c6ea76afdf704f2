"""Helpers of the outbox tests: real webhook receivers, a config, and a tracker-plus-worker rig.

Receivers are real HTTP servers on 127.0.0.1 that verify Standard Webhooks signatures with
the `standardwebhooks` package; the rig produces events through the real path (manual
values → evaluation → alert rules → outbox, in one transaction). Also used by the digest,
reminder, period-event, Alertmanager and end-to-end tests.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select
from standardwebhooks import Webhook, WebhookVerificationError

from app.alerts.delivery import DeliveryWorker
from app.core.domain import DeliveryState
from app.sampling.measure import store_manual_value
from app.store.models import Delivery
from app.tracker import Tracker, open_tracker
from tests.conftest import free_port, write_config

OPEN = (DeliveryState.PENDING, DeliveryState.SENDING)

SECRET = "whsec_" + base64.b64encode(b"krtracker-tests-signing-key-0001").decode()
TOKEN = "write-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
START = 1_800_000_000


@dataclass
class Seen:
    """One request a receiver saw."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """A webhook endpoint whose answer the test sets with `mode`; it records every request.

    Modes: `ok` (verify the signature, 204), `503`, `ack-then-503` (accept, then answer 503
    as if the reply was lost), `302`, `410`, `echo-500` (echo the request headers in a 500).
    `accepted` lists verified payloads in arrival order; `stop()` closes the port entirely.
    """

    def __init__(self, *, secret: str | None = SECRET) -> None:
        self.secret = secret
        self.mode = "ok"
        self.seen: list[Seen] = []
        self.accepted: list[tuple[str, dict[str, Any]]] = []
        self.bad_signatures = 0
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self._lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.start()

    def start(self) -> None:
        """Listen (again) on the same port."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.handle(self, body)

            def do_GET(self) -> None:  # noqa: N802
                receiver.handle(self, b"")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def handle(self, request: BaseHTTPRequestHandler, body: bytes) -> None:
        """Record the request and answer according to the mode."""
        headers = {k.lower(): v for k, v in request.headers.items()}
        with self._lock:
            self.seen.append(Seen(request.command, request.path, headers, body))
            mode = self.mode
        status, reply, extra = 204, b"", {}
        if mode in ("ok", "ack-then-503"):
            try:
                payload = (
                    Webhook(self.secret).verify(body, headers) if self.secret else json.loads(body)
                )
            except WebhookVerificationError:
                with self._lock:
                    self.bad_signatures += 1
                status = 400
            else:
                with self._lock:
                    self.accepted.append((headers.get("webhook-id", ""), payload))
                status = 503 if mode == "ack-then-503" else 204
        elif mode == "302":
            status, extra = 302, {"Location": f"http://127.0.0.1:{self.port}/elsewhere"}
        elif mode == "echo-500":
            status, reply = 500, json.dumps(headers).encode()
        else:
            status = int(mode)
        request.send_response(status)
        for name, value in extra.items():
            request.send_header(name, value)
        request.send_header("content-length", str(len(reply)))
        request.end_headers()
        request.wfile.write(reply)

    def stop(self) -> None:
        """Close the port: connections are refused until `start()`."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def config_text(
    url: str,
    *,
    allow: bool = True,
    fmt: str = "generic",
    events: str = "",
    rules: str = "for_samples = 1",
    extra: str = "",
) -> str:
    """Return a config: three manual Key Results and one webhook `ops` at `url`."""
    krs = "".join(
        f"""
[[objectives.key_results]]
id = "{kr}"
title = "Raise {kr} adoption"
unit = "%"
direction = "increase"
baseline = 0
target = 200
source = {{ connector = "people" }}
"""
        for kr in ("k1", "k2", "k3")
    )
    return f"""
[api]
public_url = "https://okr.example.com"
tokens = [{{ name = "ops", token = "{TOKEN}", scopes = ["read", "write"] }}]

[alerts]
{rules}
regression_threshold = "5%"
hysteresis = "1%"
{'allow_private_targets = ["127.0.0.1/32"]' if allow else ""}

[[webhooks]]
name = "ops"
url = "{url}"
format = "{fmt}"
secret = "{SECRET}"
{f"events = {events}" if events else ""}
{extra}

[connectors.people]
type = "manual"

[[objectives]]
id = "reliability"
title = "Customers trust our platform"
team = "platform"
start = 2020-01-01
end = 2040-12-31
{krs}"""


class Rig:
    """A tracker and a delivery worker on one database, sharing a controllable clock."""

    def __init__(
        self, tmp_path: Path, url: str, text: str, *, now: float = START, **worker: Any
    ) -> None:
        self.clock = {"now": float(now)}
        self.path = write_config(tmp_path / "krtracker.toml", text, database_url=url)
        self.worker_args = worker
        self.tracker, self.worker = self._open()

    def _open(self) -> tuple[Tracker, DeliveryWorker]:
        tracker = open_tracker(self.path, clock=lambda: self.clock["now"])
        cfg = tracker.loaded.config
        worker = DeliveryWorker(
            tracker.engine,
            webhooks=cfg.webhooks,
            alerts=cfg.alerts,
            clock=lambda: self.clock["now"],
            **self.worker_args,
        )
        return tracker, worker

    def restart(self) -> None:
        """Drop the worker and the engine and build new ones on the same database (a restart)."""
        self.close()
        self.tracker, self.worker = self._open()

    def values(self, kr: str, values: list[float]) -> None:
        """Post values a minute apart through the real sampling path."""
        for value in values:
            self.clock["now"] += 60
            store_manual_value(self.tracker, kr_id=kr, ts=int(self.clock["now"]), value=value)

    def deliveries(self) -> list[Delivery]:
        """Return every outbox row in seq order."""
        with Session(self.tracker.engine) as session:
            return list(session.exec(select(Delivery).order_by(col(Delivery.seq))).all())

    def drain(self, *, step: int = 3600, rounds: int = 60) -> None:
        """Run passes, moving the clock past every backoff and lease, until nothing is open."""
        for _ in range(rounds):
            self.worker.deliver_due()
            if all(d.state not in OPEN for d in self.deliveries()):
                return
            self.clock["now"] += step
        raise AssertionError(
            f"still open: {[(d.seq, d.state, d.last_error) for d in self.deliveries()]}"
        )

    def close(self) -> None:
        """Stop the worker and close the tracker."""
        self.worker.stop()
        self.tracker.close()


def sqlite_url(tmp_path: Path) -> str:
    """Return the URL of a SQLite database in `tmp_path`."""
    return f"sqlite:///{tmp_path / 'krtracker.db'}"
