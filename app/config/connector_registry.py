"""Find connector classes by their config `type` through the `krtracker.connectors` entry points.

Built-in connectors are registered in krtracker's own `pyproject.toml` exactly as a
third-party package would register its own, so there is one lookup path for both.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from connectors.base import Connector

ENTRY_POINT_GROUP = "krtracker.connectors"


class UnknownConnectorType(LookupError):
    """No installed package registers a connector under this type name."""


@cache
def _entry_points() -> dict[str, object]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def connector_types() -> list[str]:
    """Return every registered connector type name, sorted."""
    return sorted(_entry_points())


@cache
def connector_class(type_name: str) -> type[Connector]:
    """Return the connector class registered as `type_name`."""
    eps = _entry_points()
    if type_name not in eps:
        known = ", ".join(connector_types()) or "none (is krtracker installed with pip?)"
        raise UnknownConnectorType(f"unknown connector type {type_name!r}; known types: {known}")
    cls = eps[type_name].load()  # type: ignore[attr-defined]
    return cls  # type: ignore[no-any-return]
