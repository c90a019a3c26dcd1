"""Time helpers shared by every layer: aware datetimes, durations such as ``"4 business hours"``."""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone
from typing import Literal

import attrs

from funnelkit._core.errors import InvalidInput
from funnelkit._core.limits import MAX_DERIVED_TIME, MAX_DURATION, MAX_TIME, MIN_TIME, _short

__all__ = ["Duration", "out_of_range", "parse_duration", "require_aware", "require_derived"]


def require_aware(value: object, name: str = "at", *, latest: datetime = MAX_TIME) -> datetime:
    """Return *value* if it is a timezone-aware datetime in funnelkit's range, else raise.

    The range is ``MIN_TIME`` (1000-01-01) to ``MAX_TIME`` (9000-01-01, excluded), UTC: any
    time in it plus any duration funnelkit allows stays a valid ``datetime``.  Anything else
    raises :class:`InvalidInput`.

    >>> require_aware(datetime(9999, 12, 31, tzinfo=timezone.utc))
    Traceback (most recent call last):
    ...
    funnelkit.InvalidInput: at=datetime.datetime(9999, 12, 31, 0, 0, tzinfo=datetime.timezone.utc) is outside the times funnelkit takes (1000-01-01T00:00:00+00:00 up to 9000-01-01T00:00:00+00:00, UTC): give a time in that range
    """  # noqa: E501 - a doctest's output is one line
    if type(value) is datetime and type(value.tzinfo) is timezone and MIN_TIME <= value < latest:
        return value  # the usual case: a fixed-offset zone (it cannot be subclassed) is aware
    if not isinstance(value, datetime):
        raise InvalidInput(
            f"{name}={_short(value)} is not a datetime; pass a timezone-aware datetime.datetime, "
            f"for example datetime.now(timezone.utc)"
        )
    if value.utcoffset() is None:
        raise InvalidInput(
            f"{name}={value!r} is naive; funnelkit only takes timezone-aware datetimes: "
            f"add tzinfo (for example .replace(tzinfo=timezone.utc))"
        )
    if not MIN_TIME <= value < latest:
        raise out_of_range(value, name, latest)
    return value


def require_derived(value: object, name: str) -> datetime:
    """:func:`require_aware` for a time derived from one funnelkit took (a due time, a retry).

    Such a time may run past ``MAX_TIME`` by a duration, up to ``MAX_DERIVED_TIME``.
    """
    return require_aware(value, name, latest=MAX_DERIVED_TIME)


def out_of_range(value: datetime, name: str = "at", latest: datetime = MAX_TIME) -> InvalidInput:
    """The error for an aware datetime outside ``MIN_TIME`` to *latest*."""
    return InvalidInput(
        f"{name}={value!r} is outside the times funnelkit takes ({MIN_TIME.isoformat()} up to "
        f"{latest.isoformat()}, UTC): give a time in that range"
    )


_UNITS: dict[str, str] = {
    "s": "seconds", "sec": "seconds", "secs": "seconds", "second": "seconds", "seconds": "seconds",
    "m": "minutes", "min": "minutes", "mins": "minutes", "minute": "minutes", "minutes": "minutes",
    "h": "hours", "hr": "hours", "hrs": "hours", "hour": "hours", "hours": "hours",
    "d": "days", "day": "days", "days": "days",
    "w": "weeks", "week": "weeks", "weeks": "weeks",
}
# Compiled on first use (re keeps it), not when funnelkit is imported.
_DURATION = r"^\s*(?P<amount>\d+(?:\.\d+)?)\s*(?P<business>business\s+)?(?P<unit>[a-z]+)\s*$"
_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800}


def _check_amount(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not (
            math.isfinite(value) and value > 0):
        raise InvalidInput(f"Duration amount={_short(value)} must be a finite number above zero")


def _check_unit(value: object) -> None:
    if not isinstance(value, str) or value not in _SECONDS:
        raise InvalidInput(f"Duration unit={_short(value)} must be one of {', '.join(_SECONDS)}")


def _check_business(value: object) -> None:
    if type(value) is not bool:
        raise InvalidInput(f"Duration business={_short(value)} must be True or False")


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

    amount: float = attrs.field(validator=lambda _, __, v: _check_amount(v))
    unit: Literal["seconds", "minutes", "hours", "days", "weeks"] = attrs.field(
        validator=lambda _, __, v: _check_unit(v))
    business: bool = attrs.field(default=False, validator=lambda _, __, v: _check_business(v))

    def as_timedelta(self) -> timedelta:
        """The duration as calendar time (business durations count every hour as working)."""
        return timedelta(seconds=self.amount * _SECONDS[self.unit])

    def __str__(self) -> str:
        amount = int(self.amount) if self.amount == int(self.amount) else self.amount
        return f"{amount} {'business ' if self.business else ''}{self.unit}"


def parse_duration(value: str | timedelta | Duration, *, name: str = "duration") -> Duration:
    """Parse ``"4 business hours"``, ``"2 days"``, ``"90 minutes"`` or a ``timedelta``.

    Raises :class:`InvalidInput` naming *name* for anything else: negative or zero lengths, and
    lengths over ten years (``MAX_DURATION``), included.

    >>> parse_duration("3 business days")
    Duration(amount=3.0, unit='days', business=True)
    """
    if isinstance(value, Duration):
        return _within_limit(value, value, name)
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
        if seconds <= 0:
            raise InvalidInput(f"{name}={value!r} must be longer than zero")
        return _within_limit(Duration(amount=seconds, unit="seconds"), value, name)
    if not isinstance(value, str):
        raise InvalidInput(
            f"{name}={_short(value)} is not a duration; give a timedelta or a string such as "
            f"'4 business hours' or '2 days'"
        )
    match = re.match(_DURATION, value, re.IGNORECASE)
    unit = _UNITS.get(match.group("unit").lower()) if match else None
    if match is None or unit is None:
        raise InvalidInput(
            f"{name}={value!r} is not a duration; write '<number> [business] <unit>' with unit "
            f"seconds, minutes, hours, days or weeks, for example '4 business hours'"
        )
    amount = float(match.group("amount"))
    if not math.isfinite(amount) or amount <= 0:
        raise InvalidInput(f"{name}={value!r} must be a finite length longer than zero")
    duration = Duration(amount=amount, unit=unit, business=bool(match.group("business")))  # type: ignore[arg-type]
    return _within_limit(duration, value, name)


_MAX_SECONDS = MAX_DURATION.total_seconds()


def _within_limit(duration: Duration, given: object, name: str) -> Duration:
    """*duration* (checked when it was built), unless it is longer than ``MAX_DURATION``."""
    if duration.amount * _SECONDS[duration.unit] > _MAX_SECONDS:
        raise InvalidInput(
            f"{name}={_short(given)} is not a length from zero to {MAX_DURATION.days:,} days "
            f"(ten years), the longest duration funnelkit takes"
        )
    return duration
