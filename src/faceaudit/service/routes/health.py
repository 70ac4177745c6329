"""``GET /healthz``: liveness, no key required."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from faceaudit import __version__

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """The service is up."""

    status: str
    version: str


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """Answer while the service is up (no key needed, no rate limit)."""
    return Health(status="ok", version=__version__)
