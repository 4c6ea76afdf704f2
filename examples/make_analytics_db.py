"""Create `examples/analytics.db`: a small product database for the SQL example Key Result.

Deterministic: the same rows every time, so the example's numbers can be checked by hand.
Events are laid out relative to now, so the trailing-7-day query always finds data.
"""

from __future__ import annotations

import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

DEFAULT_PATH = Path(__file__).with_name("analytics.db")


def build(path: Path, *, now: datetime) -> int:
    """(Re)create the database at `path`; return the number of events written."""
    path.unlink(missing_ok=True)
    rows = []
    for day in range(60):
        at = now - timedelta(days=day)
        # Adoption grows as days get more recent: more distinct users use Feature X.
        users = 40 + (60 - day) // 2
        for user in range(users):
            rows.append(("feature_x", f"user-{user}", (at - timedelta(minutes=user)).strftime("%Y-%m-%d %H:%M:%S")))
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE feature_events (feature TEXT, user_id TEXT, happened_at TEXT)")
        db.execute("CREATE INDEX ix_events ON feature_events (feature, happened_at)")
        db.executemany("INSERT INTO feature_events VALUES (?, ?, ?)", rows)
    return len(rows)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PATH
    count = build(target, now=datetime.now(UTC))
    print(f"wrote {count} events to {target}")
