"""The running tracker: one loaded config, one database engine, live connector instances.

`serve`, `worker`, `sample` and `status` all start from `open_tracker`, which loads and
checks the config, applies migrations and syncs the definitions into the database.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlmodel import Session

from app.alerts.routing import AlertRouting
from app.config.loading import LoadedConfig, database_url, load_config
from app.config.secrets import redactor_for
from app.core.evaluation import thresholds_from
from app.core.schedule import Schedule, schedule_of
from app.sampling.figures import FigureSource, FreshFigures, RememberedFigures
from app.sampling.recorder import SampleRecorder
from app.sampling.writer import KeyResultWriter
from app.store.db import make_engine, upgrade_database
from app.store.definitions import SyncReport, sync_config
from app.store.redaction import redact_stored_secrets
from app.store.run_state import DatabaseStateStore

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from sqlalchemy import Engine

    from app.config.objectives import KeyResultConfig, ObjectiveConfig
    from app.core.inputs import Thresholds
    from connectors.base import Connector

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeyResultEntry:
    """A Key Result from the config with its objective, connector name and schedule."""

    objective: ObjectiveConfig
    key_result: KeyResultConfig
    connector: str | None
    schedule: Schedule | None


class Tracker:
    """Holds what every entry point shares; connectors are built on first use."""

    def __init__(
        self,
        loaded: LoadedConfig,
        engine: Engine,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.loaded = loaded
        self.engine = engine
        self.clock = clock
        self.thresholds: Thresholds = thresholds_from(loaded.config.status)
        # One redactor for everything this process stores, sends and logs (`app.core.redaction`).
        self.redactor = redactor_for(
            loaded, database_url=engine.url.render_as_string(hide_password=False)
        )
        self.routing = AlertRouting.from_config(loaded, redactor=self.redactor)
        self._connectors: dict[str, Connector] = {}
        self._outbox_listeners: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        # The one writer of Key Results' outcomes, twice configured: polled Key Results'
        # samples through the recorder, figures remembered (only the sampling process uses
        # it); everything else with figures read from the database (any replica may write).
        self.recorder = SampleRecorder(
            self.key_result_writer(RememberedFigures(self.thresholds)),
            on_outbox_written=self.notify_outbox,
        )
        self.writer = self.key_result_writer()
        self.entries: dict[str, KeyResultEntry] = {}
        for objective, kr in loaded.key_results():
            name = kr.source.connector if kr.source else None
            configured = loaded.connectors.get(name) if name else None
            polled = configured is not None and configured.cls.scheduled
            self.entries[kr.id] = KeyResultEntry(
                objective,
                kr,
                name,
                schedule_of(every_seconds=kr.interval_seconds, cron=kr.cron, polled=polled),
            )

    def key_result_writer(
        self, figures: FigureSource | None = None, *, run_alerts: bool = True
    ) -> KeyResultWriter:
        """Return a writer of Key Results' outcomes (figures read from the database by default).

        Without `run_alerts` the alert rules are not run (`krtracker status` and `report`
        only bring statuses up to date).
        """
        return KeyResultWriter(
            self.engine,
            figures=figures or FreshFigures(self.thresholds),
            now=self.now,
            thresholds=self.thresholds,
            routing=self.routing if run_alerts else None,
            redactor=self.redactor,
        )

    def now(self) -> int:
        """Return the current time as whole UNIX seconds."""
        return int(self.clock())

    def connector(self, name: str) -> Connector:
        """Return the live connector for `[connectors.NAME]`, building it once."""
        with self._lock:
            if name not in self._connectors:
                configured = self.loaded.connectors[name]
                state = DatabaseStateStore(self.engine, name, self.clock)
                self._connectors[name] = configured.build(state)
            return self._connectors[name]

    def on_outbox_written(self, listener: Callable[[], None]) -> None:
        """Call `listener` whenever new deliveries were committed (wakes the worker early)."""
        self._outbox_listeners.append(listener)

    def notify_outbox(self) -> None:
        """Tell listeners that deliveries were committed."""
        for listener in list(self._outbox_listeners):
            listener()

    def polled_ids(self) -> list[str]:
        """Return the Key Results the scheduler samples, in file order."""
        return [kr_id for kr_id in self.entries if self.is_polled(kr_id)]

    def is_polled(self, kr_id: str) -> bool:
        """Return whether the scheduler samples this Key Result."""
        entry = self.entries.get(kr_id)
        return entry is not None and entry.schedule is not None and entry.connector is not None

    def accepts_manual_values(self, kr_id: str) -> bool:
        """Return whether people may post values: manual connector or no source at all."""
        entry = self.entries.get(kr_id)
        if entry is None:
            return False
        if entry.connector is None:
            return True
        return not self.loaded.connectors[entry.connector].cls.scheduled

    def sync(self) -> SyncReport:
        """Sync the config's definitions into the database and commit."""
        with Session(self.engine) as session:
            report = sync_config(session, self.loaded, now_ts=self.now(), redactor=self.redactor)
            session.commit()
        return report

    def close(self) -> None:
        """Store pending samples, then close connectors and the engine's pool."""
        self.recorder.close()
        with self._lock:
            for connector in self._connectors.values():
                try:
                    connector.close()
                except Exception:  # a failing close must not stop the others
                    log.exception("closing a connector failed")
            self._connectors.clear()
        self.engine.dispose()


def open_tracker(
    config_path: str | Path,
    *,
    migrate: bool = True,
    clock: Callable[[], float] = time.time,
    serves_api: bool = True,
    public_url: str | None = None,
) -> Tracker:
    """Load the config, open and migrate the database, sync definitions, return a Tracker.

    `public_url` is where this process serves the API, used when the file sets none.
    """
    loaded = load_config(config_path, serves_api=serves_api)
    if loaded.config.api.public_url is None and public_url is not None:
        loaded.config.api.public_url = public_url
    url = database_url(loaded.config)
    if migrate:
        upgrade_database(url)
    tracker = Tracker(loaded, make_engine(url), clock=clock)
    tracker.sync()
    # Rows written before a secret was known to the redactor lose it (once per set of secrets).
    redact_stored_secrets(tracker.engine, tracker.redactor, now_ts=tracker.now())
    # Definitions may have changed (targets, periods): bring every stored status up to date.
    tracker.writer.reevaluate_each()
    return tracker
