"""Config checks that look at the running machine: drivers, addresses, source limits.

They catch at `krtracker validate` what would otherwise fail only when the service runs: a
database driver that is not installed, a webhook every delivery to which would be refused,
a sampling interval the source cannot sensibly serve.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from app.alerts.safe_http import METADATA_NAMES, Allowlist, refusal_reason
from app.store.db import normalise_url

SUPPORTED_BACKENDS = ("sqlite", "postgresql")


def database_url_problem(url: str) -> str | None:
    """Return why `url` cannot be opened here (never quoting its password), or None."""
    try:
        parsed = make_url(normalise_url(url))
    except ArgumentError:
        return "not a database URL: use sqlite:///FILE or postgresql://USER@HOST:PORT/NAME"
    if parsed.get_backend_name() not in SUPPORTED_BACKENDS:
        return (
            f"{parsed.get_backend_name()!r} databases are not supported: krtracker stores its "
            "data in SQLite or PostgreSQL"
        )
    try:
        parsed.get_dialect().import_dbapi()
    except NoSuchModuleError:
        return f"no database driver {parsed.drivername!r}: use sqlite:// or postgresql://"
    except ImportError as exc:
        return (
            f"the {parsed.drivername} driver is not installed ({exc.name or exc}); "
            "postgresql:// uses psycopg 3, which krtracker installs"
        )
    return None


def private_target_warning(url: str, allow_private_targets: list[str]) -> str | None:
    """Return a warning when every delivery to `url` would be refused as a private target."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    if not host:
        return None
    allow = Allowlist.parse(allow_private_targets)
    if host in allow.hosts:
        return None
    if host in METADATA_NAMES:
        return f"{host} is a cloud metadata name: every delivery would be refused"
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = _resolve(host)
    for ip in addresses:
        reason = refusal_reason(ip)
        if reason is not None and not allow.allows_address(ip):
            shown = host if host == str(ip) else f"{host} ({ip})"
            return (
                f"{shown} is a {reason} address: every delivery would be refused unless "
                "[alerts] allow_private_targets lists it"
            )
    return None


def _resolve(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    # A name that does not resolve now may resolve where the service runs: no warning.
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def check_every(interval_seconds: int, connector_type: str, cls: type) -> str | None:
    """Return a warning when `every` is shorter than the connector says it sensibly serves."""
    minimum = int(getattr(cls, "min_interval_seconds", 0) or 0)
    if interval_seconds >= minimum:
        return None
    return (
        f"every {interval_seconds} s is shorter than a {connector_type} source sensibly "
        f"serves (at least {minimum} s): samples would repeat the same value or hit limits"
    )
