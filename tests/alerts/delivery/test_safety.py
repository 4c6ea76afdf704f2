"""The outbox's safety: SSRF refusals, TLS checked for the name, secrets kept out of everything."""

from __future__ import annotations

import ipaddress
import json
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import Session, select

from app.alerts.delivery import DeliveryWorker
from app.alerts.safe_http import (
    Allowlist,
    SafeHttpClient,
    TargetRefused,
    refusal_reason,
    resolve_checked,
)
from app.api import create_app
from app.store.models import DeliveryAttempt
from tests.alerts.delivery.support import SECRET, Receiver, Rig, config_text, sqlite_url
from tests.conftest import require_binary


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "CGNAT"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("::ffff:10.0.0.1", "private"),
        ("64:ff9b::a9fe:a9fe", "link-local"),
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_refusal_reasons(address: str, reason: str | None) -> None:
    """Non-public addresses are refused by kind, IPv4 inside IPv6 too; public ones pass."""
    found = refusal_reason(ipaddress.ip_address(address))
    assert found is None if reason is None else (found is not None and reason in found)


def test_allowlist_admits_networks_and_host_names() -> None:
    """An allowlisted CIDR admits its addresses; an allowlisted host name admits that name only."""
    assert resolve_checked("127.0.0.1", 80, Allowlist.parse(["127.0.0.0/8"]))
    assert resolve_checked("localhost", 80, Allowlist.parse(["localhost"]))
    with pytest.raises(TargetRefused, match="localhost resolves to 127.0.0.1"):
        resolve_checked("localhost", 80, Allowlist.parse(["example.com", "10.0.0.0/8"]))


_connects: list[Any] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "socket.connect":
        _connects.append(args[1])


sys.addaudithook(_audit)


def test_private_and_metadata_targets_are_refused_before_any_connection(
    tmp_path: Path, receiver: Receiver
) -> None:
    """Loopback (IP or name), private, link-local and metadata targets fail, never contacted."""
    targets = {
        "loop": receiver.url,
        "name": f"http://localhost:{receiver.port}/hooks",
        "meta": "http://169.254.169.254/latest/meta-data",
        "private": "http://10.0.0.1/hook",
        "google": "http://metadata.google.internal/computeMetadata/v1/",
    }
    extra = "".join(
        f'\n[[webhooks]]\nname = "{n}"\nurl = "{u}"\nformat = "slack"\n' for n, u in targets.items()
    )
    rig = Rig(
        tmp_path,
        sqlite_url(tmp_path),
        config_text(receiver.url, allow=False, fmt="slack", extra=extra, events='["kr.regressed"]'),
    )
    rig.values("k1", [100, 80])
    _connects.clear()
    started = time.monotonic()
    rig.worker.deliver_due()
    assert time.monotonic() - started < 2, "a refused target must not wait for a connect timeout"
    contacted = {str(a[0]) for a in _connects if isinstance(a, tuple)}
    assert contacted.isdisjoint({"127.0.0.1", "::1", "10.0.0.1", "169.254.169.254"}), contacted
    assert receiver.seen == []
    errors = {d.webhook: (d.state, d.last_error or "") for d in rig.deliveries()}
    assert all(
        state == "failed" and error.startswith("refused") for state, error in errors.values()
    )
    assert (
        "loopback" in errors["loop"][1] and "localhost resolves to 127.0.0.1" in errors["name"][1]
    )
    assert "169.254.169.254" in errors["meta"][1] and "private" in errors["private"][1]
    assert "metadata" in errors["google"][1]
    rig.close()


def test_secrets_stay_out_of_errors_logs_and_the_api(
    tmp_path: Path, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    """An echoing receiver cannot get key, headers or Slack path into errors, logs or the API."""
    header_secret = "Bearer header-secret-4242424242"
    slack_path = "/services/T0001/B0001/slackpathsecret0123"
    extra = (
        f'headers = {{ Authorization = "{header_secret}" }}\n\n[[webhooks]]\nname = "chat"\n'
        f'format = "slack"\nurl = "http://127.0.0.1:{receiver.port}{slack_path}"\n'
    )
    rig = Rig(
        tmp_path,
        sqlite_url(tmp_path),
        config_text(receiver.url, events='["kr.regressed"]', extra=extra),
    )
    receiver.mode = "echo-500"
    rig.values("k1", [100, 80])
    rig.worker.deliver_due()
    assert any(
        header_secret.encode() in s.body or header_secret in json.dumps(s.headers)
        for s in receiver.seen
    )
    with TestClient(create_app(rig.tracker)) as client:
        api_text = client.get("/api/v1/webhooks").text + "".join(
            client.get(f"/api/v1/webhooks/{n}/deliveries").text for n in ("ops", "chat")
        )
    with Session(rig.tracker.engine) as session:
        errors = " ".join(a.error or "" for a in session.exec(select(DeliveryAttempt)).all())
    assert "HTTP 500" in errors and "***" in errors
    for secret in (
        header_secret,
        SECRET,
        SECRET.removeprefix("whsec_"),
        slack_path,
        "slackpathsecret0123",
    ):
        for where, text in (("api", api_text), ("errors", errors), ("logs", caplog.text)):
            assert secret not in text, f"{secret!r} leaked into {where}"
    assert f"http://127.0.0.1:{receiver.port}/***" in api_text
    rig.close()


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path, list[tuple[str | None, str]]]]:
    """Run an HTTPS server with a self-signed certificate for `localhost` only.

    Yields its port, the certificate (to trust) and the (SNI name, Host header) of each request.
    """
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            require_binary("openssl"),
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    seen: list[tuple[str | None, str]] = []
    sni: dict[int, str | None] = {}
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def remember_sni(sock: ssl.SSLSocket, name: str | None, _: ssl.SSLContext) -> None:
        sni[id(sock)] = name

    context.sni_callback = remember_sni  # type: ignore[assignment]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("content-length", 0)))
            seen.append((sni.get(id(self.connection)), self.headers["host"]))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], cert, seen
    server.shutdown()
    server.server_close()


def test_tls_is_verified_for_the_name_while_connecting_to_the_checked_ip(
    tls_server: tuple[int, Path, list[tuple[str | None, str]]],
) -> None:
    """The pinned-IP request sends SNI and Host for the name and verifies the certificate for it."""
    port, cert, seen = tls_server
    tls = ssl.create_default_context(cafile=str(cert))
    by_name = SafeHttpClient(Allowlist.parse(["localhost"]), timeout=5, tls=tls)
    outcome = by_name.attempt(f"https://localhost:{port}/hook", content=b"{}", headers={})
    assert outcome.status_code == 204, outcome.error
    assert seen == [("localhost", f"localhost:{port}")]
    # Reached by IP, the same certificate (issued to `localhost` only) must be rejected.
    by_ip = SafeHttpClient(Allowlist.parse(["127.0.0.1/32"]), timeout=5, tls=tls)
    refused = by_ip.attempt(f"https://127.0.0.1:{port}/hook", content=b"{}", headers={})
    assert refused.status_code is None and "certificate" in (refused.error or "").lower()
    assert len(seen) == 1
    by_name.close()
    by_ip.close()


def test_an_unusable_signing_key_stops_the_worker_without_showing_it(tmp_path: Path) -> None:
    """A secret that is not base64 key material fails at start, naming the webhook, not the key."""
    rig = Rig(tmp_path, sqlite_url(tmp_path), config_text("https://hooks.example.com/x"))
    cfg = rig.tracker.loaded.config
    bad = cfg.webhooks[0].model_copy(update={"secret": SecretStr("whsec_!!!!")})
    with pytest.raises(ValueError, match="webhook 'ops'") as raised:
        DeliveryWorker(rig.tracker.engine, webhooks=[bad], alerts=cfg.alerts)
    assert "!!!!" not in str(raised.value)
    rig.close()
