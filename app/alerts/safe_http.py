"""Send webhook requests only to public addresses, checked at connect time (an SSRF guard).

A webhook URL is written by whoever edits the config, but where its host name points is
decided by DNS at send time. So the guard resolves the name itself, refuses the request if
ANY address is loopback, private (RFC 1918, fc00::/7), link-local (169.254/16 — the cloud
metadata endpoint 169.254.169.254 — and fe80::/10), shared CGNAT space (100.64/10),
unspecified, multicast, reserved or otherwise not globally routable, or if the name is a
cloud metadata name; then it connects to the checked IP itself, sending the original `Host`
header and TLS SNI (certificates are verified for the original name). A second DNS answer
(rebinding) cannot swap the address between the check and the connection.

`[alerts] allow_private_targets` lists exceptions: CIDRs (`10.1.0.0/16`, `127.0.0.1/32`)
allow those addresses; host names (`alertmanager.internal`) allow that exact name whatever
it resolves to. Environment proxies are ignored (a proxy would connect on our behalf to an
address we never checked) and redirects are never followed.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl
import threading
import time
from dataclasses import dataclass

import certifi
import httpx

from connectors.base import excerpt

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Names cloud providers answer metadata on, whatever address they resolve to.
METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "metadata.azure.internal",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
RESPONSE_SNIPPET_BYTES = 512


class TargetRefused(Exception):
    """The target is not a public address and is not allowlisted; retrying cannot help."""


class TargetUnresolvable(Exception):
    """The target's host name did not resolve (possibly a passing DNS failure)."""


@dataclass(frozen=True)
class Allowlist:
    """`[alerts] allow_private_targets`: networks and exact host names allowed anyway."""

    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, entries: list[str]) -> Allowlist:
        """Split config entries into CIDRs (a bare IP is a /32 or /128) and host names."""
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                hosts.add(entry.strip().lower().rstrip("."))
        return cls(tuple(networks), frozenset(hosts))

    def allows_address(self, ip: IPAddress) -> bool:
        """Return whether `ip` falls in an allowlisted network."""
        return any(ip.version == net.version and ip in net for net in self.networks)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """Return the IPv4 address an IPv6 one carries (mapped, 6to4, Teredo, NAT64), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal_reason(ip: IPAddress) -> str | None:
    """Return why `ip` is not a public address (None when it is one)."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            return refusal_reason(inner)
    checks = (
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local (includes cloud metadata 169.254.169.254)"),
        (ip.version == 4 and ip in _CGNAT, "shared address space (CGNAT 100.64.0.0/10)"),
        (ip.is_multicast, "multicast"),
        (ip.is_private, "private"),
        (ip.is_reserved, "reserved"),
        (not ip.is_global, "not globally routable"),
    )
    return next((reason for refused, reason in checks if refused), None)


def resolve_checked(host: str, port: int, allow: Allowlist) -> list[IPAddress]:
    """Resolve `host` and return its addresses, refusing if any of them is not allowed."""
    name = host.lower().rstrip(".")
    if name in allow.hosts:
        return _resolve(host, port)
    if name in METADATA_NAMES:
        raise TargetRefused(f"target host {name} is a cloud metadata name")
    addresses = _resolve(host, port)
    for ip in addresses:
        reason = refusal_reason(ip)
        if reason is not None and not allow.allows_address(ip):
            shown = name if name == str(ip) else f"{name} resolves to {ip}"
            raise TargetRefused(
                f"target {shown}, a {reason} address; allow it in "
                "[alerts] allow_private_targets if it is meant"
            )
    return addresses


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetUnresolvable(f"cannot resolve {host}: {exc}") from None
    seen: dict[str, IPAddress] = {}
    for *_, sockaddr in infos:
        address = str(sockaddr[0]).split("%", 1)[0]  # drop an IPv6 zone id
        seen.setdefault(address, ipaddress.ip_address(address))
    if not seen:
        raise TargetUnresolvable(f"{host} has no addresses")
    return list(seen.values())


@dataclass(frozen=True)
class Outcome:
    """What one try ended with: the status code, or why there is none."""

    status_code: int | None
    error: str | None
    duration_ms: int
    permanent: bool = False

    @property
    def ok(self) -> bool:
        """Return whether the receiver acknowledged (2xx)."""
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class SafeResponse:
    """The receiver's status code and the start of its body (for error messages)."""

    status_code: int
    snippet: str


def default_tls() -> ssl.SSLContext:
    """Return a verifying TLS context: certifi's roots, or `SSL_CERT_FILE`'s (a private CA)."""
    # trust_env=False below also stops httpx reading SSL_CERT_FILE, so honour it here.
    return ssl.create_default_context(cafile=os.environ.get("SSL_CERT_FILE") or certifi.where())


class SafeHttpClient:
    """POSTs to checked addresses; one pooled httpx client per host name, so TLS stays per name."""

    def __init__(
        self, allow: Allowlist, *, timeout: float, tls: ssl.SSLContext | None = None
    ) -> None:
        self.allow = allow
        self.timeout = timeout
        self.tls = tls or default_tls()
        self._clients: dict[tuple[str, str], httpx.Client] = {}
        self._lock = threading.Lock()

    def _client(self, scheme: str, host: str) -> httpx.Client:
        # A pool keyed by IP alone could reuse a TLS connection verified for another name.
        with self._lock:
            key = (scheme, host)
            if key not in self._clients:
                self._clients[key] = httpx.Client(
                    timeout=self.timeout,
                    follow_redirects=False,
                    trust_env=False,
                    verify=self.tls,
                    limits=httpx.Limits(max_connections=32, max_keepalive_connections=8),
                )
            return self._clients[key]

    def post(self, url: str, *, content: bytes, headers: dict[str, str]) -> SafeResponse:
        """POST `content` to `url` at a checked address.

        Raises TargetRefused, TargetUnresolvable, or httpx's errors for transport failures.
        """
        target = httpx.URL(url)
        port = target.port or (443 if target.scheme == "https" else 80)
        addresses = resolve_checked(target.host, port, self.allow)
        auth = (target.username, target.password) if target.username else None
        # Identity encoding: the snippet is read raw, and a compressed body could expand.
        request_headers = {
            **headers,
            "Host": target.netloc.decode("ascii"),
            "Accept-Encoding": "identity",
        }
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        client = self._client(target.scheme, target.host)
        last_error: httpx.ConnectError | None = None
        for ip in addresses:
            pinned = target.copy_with(host=str(ip), username=None, password=None, fragment=None)
            try:
                with client.stream(
                    "POST",
                    pinned,
                    content=content,
                    headers=request_headers,
                    extensions=extensions,
                    auth=auth,
                ) as response:
                    return SafeResponse(response.status_code, _read_snippet(response))
            except httpx.ConnectError as exc:
                last_error = exc  # try the next checked address of the same name
        assert last_error is not None
        raise last_error

    def attempt(self, url: str, *, content: bytes, headers: dict[str, str]) -> Outcome:
        """POST once and classify: only 2xx is success; a refused target is a permanent failure."""
        started = time.perf_counter()
        status_code: int | None = None
        error: str | None = None
        permanent = False
        try:
            response = self.post(url, content=content, headers=headers)
            status_code = response.status_code
            if not 200 <= status_code < 300:  # 3xx too: redirects are never followed
                body = excerpt(response.snippet)
                error = f"HTTP {status_code}: {body}" if body else f"HTTP {status_code}"
        except TargetRefused as exc:
            error, permanent = f"refused: {exc}", True  # only a config change can help
        except TargetUnresolvable as exc:
            error = str(exc)
        except httpx.TimeoutException:
            error = f"no answer within {self.timeout:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        duration_ms = int((time.perf_counter() - started) * 1000)
        return Outcome(status_code, error, duration_ms, permanent)

    def close(self) -> None:
        """Close every pooled connection."""
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()


def _read_snippet(response: httpx.Response) -> str:
    """Read at most RESPONSE_SNIPPET_BYTES of the body: a receiver cannot make us buffer more."""
    chunks, size = [], 0
    for chunk in response.iter_raw():
        chunks.append(chunk)
        size += len(chunk)
        if size >= RESPONSE_SNIPPET_BYTES:
            break
    return b"".join(chunks)[:RESPONSE_SNIPPET_BYTES].decode("utf-8", "replace")
