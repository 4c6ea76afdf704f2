"""What every config model module shares: unknown keys are errors, and what an id may be.

Its own module because `app.config.models` (the whole file) imports the section modules
(`app.config.objectives`, `app.config.delivery`), which need these too.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

# An objective, Key Result, webhook or digest id: lower case, digits, - _ . (at most 64).
SLUG = r"^[a-z0-9][a-z0-9_.-]{0,63}$"


class StrictModel(BaseModel):
    """A config section in which an unknown key (a typo) is an error, not ignored."""

    model_config = ConfigDict(extra="forbid")
