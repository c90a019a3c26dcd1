"""Time helpers shared by every layer: aware datetimes, durations such as ``"4 business hours"``."""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from typing import Literal

import attrs

from funnelkit._errors import InvalidInput

__all__ = ["Duration", "parse_duration", "require_aware"]


def require_aware(value: object, name: str = "at") -> datetime:
    """Return *value* if it is a timezone-aware datetime, else raise :class:`InvalidInput`."""
    if not isinstance(value, datetime):
        raise InvalidInput(
            f"{name}={value!r} is not a datetime; pass a timezone-aware datetime.datetime, "
            f"for example datetime.now(timezone.utc)"
        )
    if value.utcoffset() is None:
        raise InvalidInput(
            f"{name}={value!r} is naive; funnelkit only takes timezone-aware datetimes: "
            f"add tzinfo (for example .replace(tzinfo=timezone.utc))"
        )
    return value


_UNITS: dict[str, str] = {
    "s": "seconds", "sec": "seconds", "secs": "seconds", "second": "seconds", "seconds": "seconds",
    "m": "minutes", "min": "minutes", "mins": "minutes", "minute": "minutes", "minutes": "minutes",
    "h": "hours", "hr": "hours", "hrs": "hours", "hour": "hours", "hours": "hours",
    "d": "days", "day": "days", "days": "days",
    "w": "weeks", "week": "weeks", "weeks": "weeks",
}
_DURATION = re.compile(
    r"^\s*(?P<amount>\d+(?:\.\d+)?)\s*(?P<business>business\s+)?(?P<unit>[a-z]+)\s*$", re.IGNORECASE
)
_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800}


@attrs.frozen
class Duration:
    """A length of time, in calendar time or in business time.

    ``"4 business hours"`` is business time: a :class:`funnelkit.BusinessCalendar` counts only its
    working hours.  ``"2 days"`` is calendar time.  Build one with :func:`parse_duration` or from
    a ``timedelta`` (always calendar time).

    >>> parse_duration("4 business hours")
    Duration(amount=4.0, unit='hours', business=True)
    >>> parse_duration("90 minutes").as_timedelta()
    datetime.timedelta(seconds=5400)
    """

    amount: float
    unit: Literal["seconds", "minutes", "hours", "days", "weeks"]
    business: bool = False

    def as_timedelta(self) -> timedelta:
        """The duration as calendar time (business durations count every hour as working)."""
        return timedelta(seconds=self.amount * _SECONDS[self.unit])

    def __str__(self) -> str:
        amount = int(self.amount) if self.amount == int(self.amount) else self.amount
        return f"{amount} {'business ' if self.business else ''}{self.unit}"


def parse_duration(value: str | timedelta | Duration, *, name: str = "duration") -> Duration:
    """Parse ``"4 business hours"``, ``"2 days"``, ``"90 minutes"`` or a ``timedelta``.

    Raises :class:`InvalidInput` naming *name* for anything else, negative or zero lengths included.

    >>> parse_duration("3 business days")
    Duration(amount=3.0, unit='days', business=True)
    """
    if isinstance(value, Duration):
        return value
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
        if seconds <= 0:
            raise InvalidInput(f"{name}={value!r} must be longer than zero")
        return Duration(amount=seconds, unit="seconds")
    if not isinstance(value, str):
        raise InvalidInput(
            f"{name}={value!r} is not a duration; give a timedelta or a string such as "
            f"'4 business hours' or '2 days'"
        )
    match = _DURATION.match(value)
    unit = _UNITS.get(match.group("unit").lower()) if match else None
    if match is None or unit is None:
        raise InvalidInput(
            f"{name}={value!r} is not a duration; write '<number> [business] <unit>' with unit "
            f"seconds, minutes, hours, days or weeks, for example '4 business hours'"
        )
    amount = float(match.group("amount"))
    if not math.isfinite(amount) or amount <= 0:
        raise InvalidInput(f"{name}={value!r} must be a finite length longer than zero")
    return Duration(amount=amount, unit=unit, business=bool(match.group("business")))  # type: ignore[arg-type]
