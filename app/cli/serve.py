"""The long-running `krtracker` commands: serve (API and sampler) and worker (sampler only).

They share what short commands do not need: binding the port before anything starts,
running the leader-elected scheduler, and uvicorn's logging through the redacting filter.
Registered in `app.cli.main`.
"""

from __future__ import annotations

import copy
import errno
import signal
import socket
import threading
from typing import Annotated, Any

import typer

from app.cli.log_redaction import LOG_FILTER
from app.cli.support import ConfigOption, LogLevel, configure_logging, errors, open_or_exit
from app.sampling.leader import LeaderElectedScheduler
from app.store.leader_lock import leader_lock_for
from app.tracker import Tracker


def _uvicorn_log_config() -> dict[str, Any]:
    """Return uvicorn's logging config with the redacting filter on each of its handlers."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact": {"()": lambda: LOG_FILTER}}
    for handler in config["handlers"].values():
        handler["filters"] = ["redact"]
    return config


def _start_scheduler(tracker: Tracker) -> LeaderElectedScheduler:
    scheduler = LeaderElectedScheduler(tracker, leader_lock_for(tracker.engine))
    scheduler.start()
    return scheduler


def _bind(host: str, port: int) -> socket.socket:
    """Bind the listening socket, or print one line and exit 1 (before anything starts)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = "the port is already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        errors.print(
            f"error: cannot listen on {host}:{port}: {reason}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(1) from None
    sock.set_inheritable(True)
    return sock


def serve(
    config: ConfigOption,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    scheduler: Annotated[bool, typer.Option(help="Also run the sampler (leader-elected).")] = True,
) -> None:
    """Run the API, and the sampler in the same process unless --no-scheduler."""
    import uvicorn

    from app.api import create_app

    level = configure_logging(LogLevel.INFO)
    # Bind first: a port in use must fail before this process becomes the scheduler leader.
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::", "::1", "localhost") else host
    tracker = open_or_exit(config, serves_api=True, public_url=f"http://{shown}:{bound_port}")
    sampler = _start_scheduler(tracker) if scheduler else None
    try:
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(tracker), log_level=level.value, log_config=_uvicorn_log_config()
            )
        )
        server.run(sockets=[sock])
    finally:
        if sampler:
            sampler.stop()
        tracker.close()
        sock.close()


def worker(config: ConfigOption) -> None:
    """Run only the sampler (leader-elected: several workers may run, one samples)."""
    configure_logging(LogLevel.INFO)
    tracker = open_or_exit(config)
    sampler = _start_scheduler(tracker)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    sampler.stop()
    tracker.close()
