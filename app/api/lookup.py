"""Find a Key Result for a route or answer 404 in the API's own words."""

from __future__ import annotations

from fastapi import HTTPException
from sqlmodel import Session

from app.store.models import KeyResult


def get_key_result_or_404(session: Session, key_result_id: str) -> KeyResult:
    """Return the Key Result row or raise a 404 that names the id."""
    kr = session.get(KeyResult, key_result_id)
    if kr is None:
        raise HTTPException(404, f"no Key Result with id {key_result_id!r}")
    return kr
