"""Path and query parameters with the bounds the database can hold.

Ids follow the config's slug rule, so an id that could never exist (a NUL character, which
PostgreSQL cannot store in text) is a 422 naming the parameter, not a database error; integers
stay inside 64 bits, the width of every integer column.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path, Query

from app.config_models import SLUG

INT64_MAX = 2**63 - 1

KeyResultId = Annotated[str, Path(pattern=SLUG, description="a Key Result's id")]
ObjectiveId = Annotated[str, Path(pattern=SLUG, description="an objective's id")]
WebhookName = Annotated[str, Path(pattern=SLUG, description="a webhook's name")]
DeliverySeq = Annotated[int, Path(ge=1, le=INT64_MAX, description="a delivery's seq")]
Offset = Annotated[int, Query(ge=0, le=INT64_MAX)]
SeqCursor = Annotated[int | None, Query(ge=-INT64_MAX, le=INT64_MAX, description="a seq cursor")]
ObjectiveFilter = Annotated[str | None, Query(pattern=SLUG)]
DeliveryState = Literal["pending", "sending", "delivered", "failed"]
