"""An identification's request, checked: how many candidates per face (the caller's ``top``,
never silently fewer than asked — a ``top`` above the policy's cap is refused, naming it) and
how errors name the probe."""

from __future__ import annotations

from pathlib import Path

from faceaudit.gallery.errors import InvalidRequestError


def candidate_limit(top: int | None, cap: int) -> int:
    """``top`` (default ``cap``, the policy's ``max_candidates``); refuse a ``top`` above
    ``cap`` with :class:`InvalidRequestError` (``which="top"``) naming the cap."""
    if top is None:
        return cap
    if top > cap:
        raise InvalidRequestError(
            f"top {top}: more candidates per face than the policy's max_candidates ({cap}); "
            f"ask for at most {cap}", which="top")
    return top


def image_label(image: object) -> str:
    """How an error names a probe: its path when it is a file, else ``(uploaded)``."""
    return str(image) if isinstance(image, str | Path) else "(uploaded)"
