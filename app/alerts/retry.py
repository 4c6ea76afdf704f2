"""The outbox's retry policy: after one try, a delivery is delivered, failed, or due again.

Pure (no database, no HTTP), so the worker's bookkeeping and these rules can be read and
tested apart. 2xx → `delivered`. Anything else is a failure: retried after an exponential
backoff with full jitter (base 5 s, cap 1 h, at least 1 s) until `created_ts +
max_retry_age`, then `failed`; a permanent failure (a target the SSRF guard refuses) fails
at once, since retrying cannot change the config.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING

from app.core.domain import DeliveryState
from app.store.outbox_worker import AfterTry, Claim

if TYPE_CHECKING:
    from collections.abc import Callable

    from app.alerts.safe_http import Outcome

BACKOFF_BASE_SECONDS = 5.0
BACKOFF_CAP_SECONDS = 3600.0


def backoff_ceiling(attempts: int) -> float:
    """Return the longest wait after the `attempts`-th failed try: base·2^(n−1), capped."""
    return min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))


def full_jitter(ceiling: float) -> float:
    """Return a wait drawn uniformly from [0, ceiling] ("full jitter", spreads retry storms)."""
    return random.uniform(0.0, ceiling)


def after_try(
    claim: Claim,
    outcome: Outcome,
    *,
    now: float,
    max_age: int,
    jitter: Callable[[float], float],
) -> AfterTry:
    """Return where the delivery goes: delivered, failed, or pending again after a backoff."""
    deadline = claim.created_ts + max_age
    if outcome.ok:
        return AfterTry(
            DeliveryState.DELIVERED,
            int(now),
            delivered_ts=int(now),
            delivered_at_ms=int(now * 1000),
        )
    if outcome.permanent or now >= deadline:
        return AfterTry(DeliveryState.FAILED, int(now))
    wait_s = max(1.0, jitter(backoff_ceiling(claim.attempts + 1)))
    return AfterTry(DeliveryState.PENDING, min(deadline, math.ceil(now + wait_s)))
