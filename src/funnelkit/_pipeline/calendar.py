"""``BusinessCalendar``: working time on weekdays and hours, without holidays, across DST changes.

Built on dateutil: ``tz`` resolves the time zone (and non-existent wall times on DST days),
``relativedelta`` steps over the calendar; working days are walked by date arithmetic and each
day's working window is computed once per calendar and cached.  Every computation
happens on real (UTC) instants, so a working day that contains a DST change counts the hours that
actually pass.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

import attrs
from dateutil import tz as dateutil_tz
from dateutil.relativedelta import relativedelta

from funnelkit._core.errors import InvalidInput
from funnelkit._core.limits import MAX_DURATION, _short
from funnelkit._core.time import Duration, parse_duration, require_aware, require_derived

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = ["BusinessCalendar"]

_UTC = UTC
_ZERO = timedelta(0)
_ONE_DAY = timedelta(days=1)
_WINDOW_CACHE_MAX = 4096  # days of working windows a calendar keeps (about 16 years)
_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]{0,40}(?:/[A-Za-z0-9_+\-]{1,40}){0,3}")
_SHORTEST_DAY_HOURS = 1 / 60  # a working day shorter than a minute is a typo, not a calendar
_MAX_HOLIDAYS = 100_000  # about 270 years of days: every holiday a calendar can use, and more


def _working_days(value: Iterable[int]) -> tuple[int, ...]:
    if isinstance(value, str | bytes):
        raise InvalidInput(
            f"working_days={value!r} is not a collection of weekday numbers; give for example "
            f"(0, 1, 2, 3, 4) for Monday to Friday (Monday = 0)")
    try:
        days = tuple(sorted(set(value)))
    except TypeError:
        raise InvalidInput(
            f"working_days={value!r} is not a collection of weekday numbers; give for example "
            f"(0, 1, 2, 3, 4) for Monday to Friday (Monday = 0)"
        ) from None
    if not days:
        raise InvalidInput(
            "working_days=() leaves no working time; name at least one weekday (Monday = 0)"
        )
    for day in days:
        if type(day) is not int or not 0 <= day <= 6:
            raise InvalidInput(
                f"working day {day!r} is not a weekday number 0 (Monday) to 6 (Sunday)"
            )
    return days


def _working_hours(value: object) -> tuple[float, float]:
    if not isinstance(value, tuple | list) or len(value) != 2:
        raise InvalidInput(
            f"working_hours={value!r} is not a (start, end) pair; give for example (9, 17)"
        )
    start, end = value
    for hour in (start, end):
        if isinstance(hour, bool) or not isinstance(hour, int | float) or not 0 <= hour <= 24:
            raise InvalidInput(f"working hour {hour!r} must be a number of hours from 0 to 24")
    if start >= end:
        raise InvalidInput(
            f"working_hours={tuple(value)!r} leaves no working time; the start must come before "
            f"the end, for example (9, 17)"
        )
    if end - start < _SHORTEST_DAY_HOURS:
        raise InvalidInput(
            f"working_hours={tuple(value)!r} leaves less than a minute of working time a day; "
            f"a working day is at least a minute long"
        )
    return (start, end)


def _holidays(value: Iterable[date | datetime | str]) -> tuple[date, ...]:
    if isinstance(value, str | date):
        value = (value,)
    days: set[date] = set()
    try:
        items = list(value)
    except TypeError:
        raise InvalidInput(f"holidays={value!r} is not a collection of dates") from None
    if len(items) > _MAX_HOLIDAYS:
        raise InvalidInput(f"holidays: {len(items):,} dates; a calendar takes at most "
                           f"{_MAX_HOLIDAYS:,}")
    for item in items:
        if isinstance(item, datetime):
            days.add(item.date())
        elif isinstance(item, date):
            days.add(item)
        elif isinstance(item, str):
            try:
                days.add(date.fromisoformat(item))
            except ValueError:
                raise InvalidInput(
                    f"holiday {item!r} is not an ISO date such as '2026-12-25'"
                ) from None
        else:
            raise InvalidInput(
                f"holiday {_short(item)} is not a date, a datetime or an ISO date string")
    return tuple(sorted(days))


def _resolve_tz(value: object) -> tzinfo:
    if isinstance(value, tzinfo):
        return value
    if not isinstance(value, str) or not value:
        raise InvalidInput(
            f"timezone={value!r} must be an IANA name such as 'Europe/Berlin' or a tzinfo"
        )
    if value.upper() in {"UTC", "ETC/UTC", "Z"}:
        return _UTC
    if _ZONE_NAME.fullmatch(value) is None:  # not a file path, a NUL or a URL: a zone's name
        raise InvalidInput(
            f"timezone={_short(value)} is not an IANA time zone name; give one such as "
            f"'Europe/Berlin' or 'America/New_York'"
        )
    resolved = dateutil_tz.gettz(value)
    if resolved is None:
        raise InvalidInput(
            f"timezone={value!r} is not a time zone this system knows; give an IANA name such as "
            f"'Europe/Berlin' or 'America/New_York'"
        )
    return resolved


@attrs.frozen
class BusinessCalendar:
    """Working time: which weekdays and hours count, in which time zone, minus holidays.

    ``add(start, duration)`` moves forward by working time and ``between(a, b)`` measures it; both
    are correct over weekends, holidays and daylight-saving changes.  A working day is
    ``working_hours`` long, so ``"1 business day"`` is 8 working hours on the default calendar and
    a business week is one working day per entry of ``working_days``.

    >>> from datetime import datetime, timezone
    >>> cal = BusinessCalendar()  # Monday to Friday, 9:00 to 17:00, UTC
    >>> friday = datetime(2026, 3, 6, 15, tzinfo=timezone.utc)
    >>> cal.add(friday, "4 business hours").isoformat()  # 2 hours on Friday, 2 on Monday
    '2026-03-09T11:00:00+00:00'
    >>> cal.between(friday, cal.add(friday, "4 business hours"))
    datetime.timedelta(seconds=14400)
    """

    timezone: str | tzinfo = attrs.field(default="UTC", kw_only=True)
    working_days: tuple[int, ...] = attrs.field(
        default=(0, 1, 2, 3, 4), kw_only=True, converter=_working_days)
    working_hours: tuple[float, float] = attrs.field(
        default=(9, 17), kw_only=True, converter=_working_hours)
    holidays: tuple[date, ...] = attrs.field(default=(), kw_only=True, converter=_holidays)
    _tz: tzinfo = attrs.field(init=False, repr=False, eq=False)
    _holiday_set: frozenset[date] = attrs.field(init=False, repr=False, eq=False)
    _day_length: timedelta = attrs.field(init=False, repr=False, eq=False)
    _weekdays: frozenset[int] = attrs.field(init=False, repr=False, eq=False)
    # day -> its working window (UTC instants): computing one takes tens of microseconds
    _window_cache: dict[date, tuple[datetime, datetime]] = attrs.field(
        init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "_tz", _resolve_tz(self.timezone))
        set_(self, "_holiday_set", frozenset(self.holidays))
        start, end = self.working_hours
        set_(self, "_day_length", timedelta(hours=end - start))
        set_(self, "_weekdays", frozenset(self.working_days))
        set_(self, "_window_cache", {})

    # -- building blocks ------------------------------------------------------------------

    @property
    def tzinfo(self) -> tzinfo:
        """The resolved time zone."""
        return self._tz

    @property
    def day_length(self) -> timedelta:
        """The working time in one working day (``working_hours`` end minus start)."""
        return self._day_length

    def _wall(self, day: date, hours: float) -> datetime:
        """The instant (UTC) of local wall time *hours* after midnight of *day*."""
        naive = datetime.combine(day, time()) + relativedelta(seconds=round(hours * 3600))
        local = dateutil_tz.resolve_imaginary(naive.replace(tzinfo=self._tz))
        return local.astimezone(_UTC)

    def _window(self, day: date) -> tuple[datetime, datetime]:
        """The working window of *day* (UTC instants), computed once per day and calendar."""
        cache = self._window_cache
        window = cache.get(day)
        if window is None:
            start, end = self.working_hours
            window = (self._wall(day, start), self._wall(day, end))
            if len(cache) >= _WINDOW_CACHE_MAX:
                cache.clear()
            cache[day] = window
        return window

    def _windows(
        self, first: date, last: date | None = None
    ) -> Iterator[tuple[datetime, datetime]]:
        """Working windows (UTC instants) of working days from *first* (to *last*), in order.

        The days are walked by date arithmetic (an ``rrule`` built per call cost more than the
        walk itself) and each day's window comes from the cache.
        """
        weekdays, holidays = self._weekdays, self._holiday_set
        day = first
        while last is None or day <= last:
            if day.weekday() in weekdays and day not in holidays:
                yield self._window(day)
            day += _ONE_DAY

    def _business_length(self, duration: str | timedelta | Duration) -> timedelta:
        parsed = parse_duration(duration)
        if parsed.unit == "days":
            return self._day_length * parsed.amount
        if parsed.unit == "weeks":
            return self._day_length * (parsed.amount * len(self.working_days))
        return parsed.as_timedelta()

    def check_span(self, duration: str | timedelta | Duration, *, name: str = "duration") -> None:
        """Refuse a duration whose working time spans more than ten years of this calendar.

        An upper bound, computed without walking the calendar: the working days the duration
        needs (each at least ``day_length`` long, less a DST hour), plus every holiday, spread
        over the working weekdays.  :meth:`add` checks it first, and a pipeline checks each
        business SLA and ``stall_after`` of its funnel when it is built.

        >>> BusinessCalendar().check_span("3000 business hours")
        >>> BusinessCalendar(working_days=[0], working_hours=(9, 10)).check_span("3000 business hours")
        Traceback (most recent call last):
        ...
        funnelkit.InvalidInput: duration='3000 business hours' takes up to 115.0 years of this calendar's time (1 working day a week, 1h a day); the limit is ten years: shorten it or widen the calendar
        """  # noqa: E501 - a doctest's output is one line
        length = self._business_length(duration)
        day = self._day_length - min(self._day_length / 2, timedelta(hours=1))  # a DST day
        working_days = length / day + len(self._holiday_set) + 1
        span = timedelta(days=7 * (working_days / len(self.working_days) + 1))
        if span > MAX_DURATION:
            hours = self._day_length.total_seconds() / 3600
            raise InvalidInput(
                f"{name}={_short(duration)} takes up to {span.days / 365.25:.1f} years of this "
                f"calendar's time ({len(self.working_days)} working day"
                f"{'s' if len(self.working_days) != 1 else ''} a week, {hours:g}h a day); the "
                f"limit is ten years: shorten it or widen the calendar")

    def _local_date(self, at: datetime) -> date:
        return at.astimezone(self._tz).date()

    # -- the public API -------------------------------------------------------------------

    def is_working_time(self, at: datetime) -> bool:
        """True when *at* falls inside working hours on a working day that is not a holiday.

        >>> from datetime import datetime, timezone
        >>> BusinessCalendar().is_working_time(datetime(2026, 3, 7, 10, tzinfo=timezone.utc))
        False
        """
        require_aware(at)
        day = self._local_date(at)
        if day.weekday() not in self._weekdays or day in self._holiday_set:
            return False
        start, end = self._window(day)
        return start <= at < end

    def add(self, start: datetime, duration: str | timedelta | Duration) -> datetime:
        """The instant *duration* of working time after *start*, in the calendar's time zone.

        The duration always counts working time here (``"4 hours"`` and ``"4 business hours"``
        are the same); days and weeks count working days of ``working_hours``.  A start outside
        working time begins at the next working hour; a result exactly at the end of a working
        day stays there (17:00 Friday, not 9:00 Monday).

        >>> from datetime import datetime, timezone
        >>> cal = BusinessCalendar(holidays=["2026-03-09"])
        >>> cal.add(datetime(2026, 3, 7, 12, tzinfo=timezone.utc), "2 business hours").isoformat()
        '2026-03-10T11:00:00+00:00'
        """
        require_aware(start, "start")
        self.check_span(duration)
        remaining = self._business_length(duration)
        cursor = start.astimezone(_UTC)
        # Start the walk one day early: a working window of the previous local day may still be
        # open at *start* when working hours run past midnight UTC.
        first = self._local_date(start) - timedelta(days=1)
        for window_start, window_end in self._windows(first):
            if window_end <= cursor:
                continue
            begin = max(cursor, window_start)
            available = window_end - begin
            if remaining <= available:
                # start < MAX_TIME and the span is at most ten years: this always fits
                return require_derived((begin + remaining).astimezone(self._tz), "the end")
            remaining -= available
            cursor = window_end
        # pragma: no cover - a calendar always has another working day
        raise AssertionError("unreachable: a calendar always has another working day")

    def between(self, a: datetime, b: datetime) -> timedelta:
        """The working time from *a* to *b* (negative when *b* comes first).

        >>> from datetime import datetime, timezone
        >>> cal = BusinessCalendar(timezone="Europe/Berlin")
        >>> cal.between(datetime(2026, 3, 6, 16, tzinfo=timezone.utc),
        ...             datetime(2026, 3, 9, 9, tzinfo=timezone.utc))
        datetime.timedelta(seconds=3600)
        """
        require_aware(a, "a")
        require_aware(b, "b")
        if b < a:
            return -self.between(b, a)
        a_utc, b_utc = a.astimezone(_UTC), b.astimezone(_UTC)
        total = _ZERO
        first = self._local_date(a) - timedelta(days=1)
        last = self._local_date(b)
        for window_start, window_end in self._windows(first, last):
            begin, end = max(window_start, a_utc), min(window_end, b_utc)
            if end > begin:
                total += end - begin
        return total

    def __reduce__(self) -> Any:
        return (_rebuild, (self.timezone, self.working_days, self.working_hours, self.holidays))


def _rebuild(
    timezone: str | tzinfo, working_days: tuple[int, ...], working_hours: tuple[float, float],
    holidays: tuple[date, ...],
) -> BusinessCalendar:
    return BusinessCalendar(timezone=timezone, working_days=working_days,
                            working_hours=working_hours, holidays=holidays)
