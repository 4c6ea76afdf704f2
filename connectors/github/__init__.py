"""The github connector: DORA-style delivery metrics from a repository's history.

`connector` computes the metrics; `config` holds its settings and query, `http` talks to
the API, `sync`, `runs` and `events` keep the history in the StateStore, and `metrics`
is the pure arithmetic.
"""

from connectors.github.config import GithubQuery, GithubSettings
from connectors.github.connector import GithubConnector

__all__ = ["GithubConnector", "GithubQuery", "GithubSettings"]
