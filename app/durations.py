"""Parse the short durations used in the config (`15m`, `28d`) into seconds.

The parser lives in `connectors.durations`, where connectors may use it too (connectors
never import app); this module keeps the name app and its tests import.
"""

from connectors.durations import parse_duration

__all__ = ["parse_duration"]
