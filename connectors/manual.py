"""The manual connector: values typed in by people through the API, never polled."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from connectors.base import ConnectorQuery, ConnectorSettings, Measurement, NoData, StateStore

if TYPE_CHECKING:
    from datetime import datetime


class ManualSettings(ConnectorSettings):
    """A manual source has no settings."""


class ManualQuery(ConnectorQuery):
    """A manual Key Result names no query; values arrive by `POST .../values`."""


class ManualConnector:
    """A source whose values are posted by people; sampling it is never scheduled."""

    Settings: ClassVar[type[ManualSettings]] = ManualSettings
    Query: ClassVar[type[ManualQuery]] = ManualQuery
    scheduled: ClassVar[bool] = False

    def __init__(self, settings: ManualSettings, state: StateStore | None = None) -> None:
        self.settings = settings

    def measure(self, query: ManualQuery, at: datetime) -> Measurement:
        """Refuse: there is nothing to poll, a person posts the value."""
        raise NoData("manual Key Result: post values with POST /api/v1/key-results/{id}/values")

    def close(self) -> None:
        """Nothing to release."""
