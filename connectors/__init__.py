"""Data sources for Key Results: one module per source, one small protocol for all.

The public surface is re-exported here; `connectors.base` holds the contract.
"""

from connectors.base import (
    AmbiguousResult,
    Connector,
    ConnectorError,
    ConnectorQuery,
    ConnectorSettings,
    Measurement,
    MemoryStateStore,
    NoData,
    QueryRejected,
    RateLimited,
    SourceUnavailable,
    StateStore,
    SupportsHistory,
)

__all__ = [
    "AmbiguousResult",
    "Connector",
    "ConnectorError",
    "ConnectorQuery",
    "ConnectorSettings",
    "Measurement",
    "MemoryStateStore",
    "NoData",
    "QueryRejected",
    "RateLimited",
    "SourceUnavailable",
    "StateStore",
    "SupportsHistory",
]
