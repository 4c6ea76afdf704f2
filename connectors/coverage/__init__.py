"""The coverage connector: the covered/total a test coverage report states, as a percentage.

`connector` chooses the source and the metric; `fetch`, `github_artifact` and `codecov`
get the report, `formats` (with `xml`, `text` and `counts`) reads its figures.
"""

from connectors.coverage.connector import CoverageConnector, CoverageQuery, CoverageSettings

__all__ = ["CoverageConnector", "CoverageQuery", "CoverageSettings"]
