"""Create `examples/analytics.db`: a small product database for the SQL example Key Result.

Deterministic: the same rows every time, so the example's numbers can be checked by hand.
Events are laid out relative to now and cover DAYS days back, so the trailing-7-day queries
find data at every instant of the current quarter (backfilled from its first day) on any date.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

DEFAULT_PATH = Path(__file__).with_name("analytics.db")
# A quarter (up to 92 days) plus the 7-day window, with room to spare.
DAYS = 120


def build(path: Path, *, now: datetime) -> int:
    """(Re)create the database at `path`; return the number of events written."""
    path.unlink(missing_ok=True)
    rows = []
    for day in range(DAYS):
        at = now - timedelta(days=day)
        # Adoption grows as days get more recent: more distinct users use Feature X.
        users = 60 + (DAYS - day) // 8
        for user in range(users):
            rows.append(
                (
                    "feature_x",
                    f"user-{user}",
                    (at - timedelta(minutes=user)).strftime("%Y-%m-%d %H:%M:%S"),
                )
            )
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE feature_events (feature TEXT, user_id TEXT, happened_at TEXT)")
        db.execute("CREATE INDEX ix_events ON feature_events (feature, happened_at)")
        db.executemany("INSERT INTO feature_events VALUES (?, ?, ?)", rows)
    return len(rows)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PATH
    count = build(target, now=datetime.fromtimestamp(time.time(), UTC))
    print(f"wrote {count} events to {target}")
