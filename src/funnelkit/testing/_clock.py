"""``FrozenClock``: a clock that only moves when the test says so."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
from dateutil.relativedelta import relativedelta

from funnelkit._core.errors import InvalidInput
from funnelkit._core.time import out_of_range, require_aware

__all__ = ["DEFAULT_START", "FrozenClock", "add_business_time"]

#: Monday 2 March 2026, 09:00 UTC: the start of a working week, so business time adds up simply.
DEFAULT_START = datetime(2026, 3, 2, 9, tzinfo=UTC)


def _check_start(_: object, __: object, value: object) -> None:
    require_aware(value, "start")


def add_business_time(
    calendar: Any, at: datetime, *, hours: float = 0, days: float = 0
) -> datetime:
    """*at* plus business hours and days counted by *calendar* (a ``BusinessCalendar``).

    *calendar* None means the default ``BusinessCalendar()``.
    """
    if calendar is None:
        from funnelkit._pipeline.calendar import BusinessCalendar  # noqa: PLC0415 - loaded on first use

        calendar = BusinessCalendar()
    from funnelkit._core.time import Duration  # noqa: PLC0415 - a small helper module

    moment = at
    if days:
        moment = calendar.add(moment, Duration(amount=float(days), unit="days", business=True))
    if hours:
        moment = calendar.add(moment, Duration(amount=float(hours), unit="hours", business=True))
    return moment


@attrs.define(repr=False, eq=False)
class FrozenClock:
    """A clock for tests: ``now()`` stays put until :meth:`advance` or :meth:`set` moves it.

    It satisfies the pipeline's clock protocol (anything with ``now()``), so a pipeline given
    one runs in test time.  Times are timezone-aware; the clock never goes backwards (that raises
    :class:`funnelkit.InvalidInput`).  ``start`` defaults to Monday 2 March 2026, 09:00 UTC.
    Business time (``business_hours=``, ``business_days=``) is counted by ``calendar``, a
    :class:`funnelkit.BusinessCalendar` (the default one when None: Monday to Friday, 9 to 17).

    >>> clock = FrozenClock()
    >>> clock.now().isoformat()
    '2026-03-02T09:00:00+00:00'
    >>> clock.advance(days=2, hours=3).isoformat()
    '2026-03-04T12:00:00+00:00'
    >>> clock.set(clock.now() - timedelta(hours=1))
    Traceback (most recent call last):
    ...
    funnelkit.InvalidInput: the clock cannot go back from 2026-03-04T12:00:00+00:00 to
    2026-03-04T11:00:00+00:00; a lead's moves happen in time order, so tests move time forward only
    """

    _now: datetime = attrs.field(alias="start", default=DEFAULT_START, validator=_check_start)
    calendar: Any = attrs.field(default=None, kw_only=True)

    def now(self) -> datetime:
        """The current test time."""
        return self._now

    def set(self, when: datetime) -> datetime:
        """Move the clock to *when* (aware, not earlier than now) and return it."""
        require_aware(when, "when")
        if when < self._now:
            raise InvalidInput(
                f"the clock cannot go back from {self._now.isoformat()} to {when.isoformat()}; "
                f"a lead's moves happen in time order, so tests move time forward only"
            )
        self._now = when
        return when

    def advance(
        self,
        *,
        seconds: float = 0,
        minutes: float = 0,
        hours: float = 0,
        days: float = 0,
        weeks: float = 0,
        months: int = 0,
        years: int = 0,
        business_hours: float = 0,
        business_days: float = 0,
        calendar: Any = None,
    ) -> datetime:
        """Move the clock forward and return the new time.

        Calendar time (``seconds`` to ``weeks``; ``months`` and ``years`` through
        ``dateutil.relativedelta``, so 31 January plus a month is 28 February) is added first,
        then business time counted by *calendar* (or the clock's, or the default one).
        Negative amounts raise :class:`funnelkit.InvalidInput`: time does not go backwards.

        >>> FrozenClock().advance(business_hours=10).isoformat()  # Monday 9:00 + 10 working hours
        '2026-03-03T11:00:00+00:00'
        """
        amounts: dict[str, object] = {
            "seconds": seconds, "minutes": minutes, "hours": hours, "days": days, "weeks": weeks,
            "months": months, "years": years, "business_hours": business_hours,
            "business_days": business_days,
        }
        for name, value in amounts.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or (
                not math.isfinite(value)
            ):
                raise InvalidInput(f"advance({name}={value!r}): give a finite number")
            if value < 0:
                raise InvalidInput(
                    f"advance({name}={value!r}) would move the clock backwards; the clock only "
                    f"goes forward (use a later start instead)"
                )
        for name, whole in (("months", months), ("years", years)):
            if whole != int(whole):
                raise InvalidInput(f"advance({name}={whole!r}): give a whole number")
        try:
            moment = self._now + timedelta(
                seconds=seconds, minutes=minutes, hours=hours, days=days, weeks=weeks
            )
            if months or years:
                moment = moment + relativedelta(months=int(months), years=int(years))
        except (OverflowError, ValueError):  # past the calendar's years
            raise out_of_range(self._now, "advancing the clock from") from None
        require_aware(moment, "the advanced clock")
        if business_hours or business_days:
            moment = add_business_time(
                calendar if calendar is not None else self.calendar, moment,
                hours=business_hours, days=business_days,
            )
            require_aware(moment, "the advanced clock")
        self._now = moment
        return moment

    def __call__(self) -> datetime:
        """The current test time, for code that wants a ``now`` callable rather than a clock."""
        return self._now

    def __repr__(self) -> str:
        return f"FrozenClock({self._now.isoformat()!r})"
