"""The period an oversight report covers — one rule for ``faceaudit ledger report`` and
``GET /v1/reports/oversight``: from the first event (:data:`EPOCH`) up to now unless a bound is
given; bounds are UTC days (``YYYY-MM-DD``, an end day included whole), ``today``, or full
ISO-8601 times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

#: the start of every report period that names none: before any event
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_bound(text: str, *, end: bool = False, now: datetime | None = None) -> datetime:
    """``text`` as a UTC moment: ``today`` (its start, or as an ``end`` bound its end),
    ``YYYY-MM-DD`` (likewise) or an ISO-8601 time (naive: UTC). Raises ValueError otherwise."""
    word = text.strip().lower()
    if word == "today":
        day = (now or datetime.now(UTC)).astimezone(UTC).date()
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return start + timedelta(days=1) - timedelta(microseconds=1) if end else start
    when = datetime.fromisoformat(text)
    if len(text) == 10 and end:
        when = when.replace(hour=23, minute=59, second=59, microsecond=999999)
    return aware(when)


def report_period(start: datetime | None, end: datetime | None,
                  now: datetime | None = None) -> tuple[datetime, datetime]:
    """The period ``[start, end)`` a report covers: all time (``EPOCH``) up to ``now`` where a
    bound is missing. Raises ValueError when the period is empty."""
    first = aware(start) if start is not None else EPOCH
    last = aware(end) if end is not None else (now or datetime.now(UTC))
    if last <= first:
        raise ValueError("the report period is empty: 'to' must be after 'from'")
    return first, last


def aware(when: datetime) -> datetime:
    """``when`` with its timezone, UTC where it has none."""
    return when if when.tzinfo else when.replace(tzinfo=UTC)
