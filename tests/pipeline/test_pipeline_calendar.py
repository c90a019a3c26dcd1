"""BusinessCalendar: working time over weekends, holidays and daylight-saving changes."""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime, timedelta

import pytest
from dateutil import tz
from hypothesis import given
from hypothesis import strategies as st

from funnelkit import InvalidInput
from funnelkit._core.time import Duration
from funnelkit._pipeline.calendar import BusinessCalendar

NY = tz.gettz("America/New_York")
BERLIN = tz.gettz("Europe/Berlin")


def test_four_business_hours_over_a_weekend() -> None:
    """Friday 15:00 + 4 business hours is Monday 11:00 (2 h on Friday, 2 h on Monday)."""
    cal = BusinessCalendar()
    assert cal.add(datetime(2026, 3, 6, 15, tzinfo=UTC), "4 business hours") == datetime(2026, 3, 9, 11, tzinfo=UTC)


def test_start_outside_working_hours_begins_at_the_next_opening() -> None:
    """A start on Saturday counts from Monday 9:00; a start before 9:00 from 9:00 that day."""
    cal = BusinessCalendar()
    assert cal.add(datetime(2026, 3, 7, 12, tzinfo=UTC), "1 hour") == datetime(2026, 3, 9, 10, tzinfo=UTC)
    assert cal.add(datetime(2026, 3, 9, 6, tzinfo=UTC), "30 minutes") == datetime(2026, 3, 9, 9, 30, tzinfo=UTC)


def test_result_at_the_end_of_a_day_stays_there() -> None:
    """Exactly filling a working day ends at 17:00, not at 9:00 the next working day."""
    cal = BusinessCalendar()
    assert cal.add(datetime(2026, 3, 6, 9, tzinfo=UTC), "8 hours") == datetime(2026, 3, 6, 17, tzinfo=UTC)


def test_holidays_are_skipped() -> None:
    """A holiday on the Monday pushes the due time to Tuesday."""
    cal = BusinessCalendar(holidays=[date(2026, 3, 9)])
    assert cal.add(datetime(2026, 3, 6, 15, tzinfo=UTC), "4 business hours") == datetime(2026, 3, 10, 11, tzinfo=UTC)
    assert cal.between(datetime(2026, 3, 6, 15, tzinfo=UTC), datetime(2026, 3, 10, 11, tzinfo=UTC)) == timedelta(hours=4)


def test_business_days_and_weeks_count_working_days() -> None:
    """One business day is one working day's hours; a business week is one per working day."""
    cal = BusinessCalendar()
    start = datetime(2026, 3, 6, 15, tzinfo=UTC)
    assert cal.add(start, "1 business days") == datetime(2026, 3, 9, 15, tzinfo=UTC)
    assert cal.add(start, "1 business weeks") == datetime(2026, 3, 13, 15, tzinfo=UTC)


def test_local_working_hours_across_the_spring_dst_change() -> None:
    """New York 9-17 local: Friday 15:00 EST + 4 h is Monday 11:00 EDT, 4 h apart in working time."""
    cal = BusinessCalendar(timezone="America/New_York")
    start = datetime(2026, 3, 6, 15, tzinfo=NY)
    due = cal.add(start, "4 business hours")
    assert due == datetime(2026, 3, 9, 11, tzinfo=NY)
    assert due.utcoffset() == timedelta(hours=-4)
    assert cal.between(start, due) == timedelta(hours=4)


def test_round_the_clock_day_with_dst_change_has_23_hours() -> None:
    """With 0-24 working hours, the spring-forward day holds 23 working hours, the fall-back day 25."""
    cal = BusinessCalendar(timezone="Europe/Berlin", working_days=range(7), working_hours=(0, 24))
    spring = datetime(2026, 3, 29, tzinfo=BERLIN)
    assert cal.between(spring, datetime(2026, 3, 30, tzinfo=BERLIN)) == timedelta(hours=23)
    autumn = datetime(2026, 10, 25, tzinfo=BERLIN)
    assert cal.between(autumn, datetime(2026, 10, 26, tzinfo=BERLIN)) == timedelta(hours=25)
    assert cal.add(spring, "24 hours") == datetime(2026, 3, 30, 1, tzinfo=BERLIN)


def test_between_is_antisymmetric_and_zero_outside_hours() -> None:
    """between(b, a) is -between(a, b); a weekend has no working time."""
    cal = BusinessCalendar()
    a, b = datetime(2026, 3, 6, 16, tzinfo=UTC), datetime(2026, 3, 9, 10, tzinfo=UTC)
    assert cal.between(a, b) == timedelta(hours=2)
    assert cal.between(b, a) == -timedelta(hours=2)
    assert cal.between(datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 8, 23, tzinfo=UTC)) == timedelta(0)


def test_is_working_time() -> None:
    """Working time is a working weekday, inside working hours, not a holiday."""
    cal = BusinessCalendar(holidays=["2026-03-10"])
    assert cal.is_working_time(datetime(2026, 3, 9, 9, tzinfo=UTC))
    assert not cal.is_working_time(datetime(2026, 3, 9, 17, tzinfo=UTC))
    assert not cal.is_working_time(datetime(2026, 3, 10, 12, tzinfo=UTC))
    assert not cal.is_working_time(datetime(2026, 3, 8, 12, tzinfo=UTC))


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"working_days": ()}, "no working time"),
        ({"working_hours": (17, 9)}, "no working time"),
        ({"working_hours": (9, 9)}, "no working time"),
        ({"working_hours": (9, 25)}, "0 to 24"),
        ({"working_days": (7,)}, "weekday number"),
        ({"timezone": "Mars/Olympus"}, "not a time zone"),
        ({"holidays": ["next tuesday"]}, "ISO date"),
    ],
    ids=["no-days", "reversed-hours", "empty-hours", "hour-25", "day-7", "bad-tz", "bad-holiday"],
)
def test_bad_calendars_are_refused(kwargs: dict[str, object], fragment: str) -> None:
    """A calendar with no working time or a bad part raises InvalidInput saying what is wrong."""
    with pytest.raises(InvalidInput, match=fragment):
        BusinessCalendar(**kwargs)  # type: ignore[arg-type]


def test_naive_datetimes_are_refused() -> None:
    """add and between take timezone-aware datetimes only."""
    cal = BusinessCalendar()
    with pytest.raises(InvalidInput, match="naive"):
        cal.add(datetime(2026, 3, 6, 15), "1 hour")
    with pytest.raises(InvalidInput, match="naive"):
        cal.between(datetime(2026, 3, 6, 15), datetime(2026, 3, 6, 16, tzinfo=UTC))


def test_calendar_is_a_value() -> None:
    """Equal settings make equal calendars, and a calendar pickles."""
    cal = BusinessCalendar(timezone="Europe/Berlin", holidays=["2026-12-25"])
    assert cal == BusinessCalendar(timezone="Europe/Berlin", holidays=[date(2026, 12, 25)])
    assert pickle.loads(pickle.dumps(cal)) == cal


_instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)


@given(start=_instants, minutes=st.integers(min_value=1, max_value=60 * 200),
       zone=st.sampled_from(["UTC", "America/New_York", "Europe/Berlin", "Australia/Sydney"]))
def test_between_measures_what_add_added(start: datetime, minutes: int, zone: str) -> None:
    """For any start and working-time length, between(start, add(start, d)) == d."""
    cal = BusinessCalendar(timezone=zone, holidays=["2026-12-25", "2027-01-01"])
    length = timedelta(minutes=minutes)
    due = cal.add(start, Duration(minutes, "minutes", business=True))
    assert due > start
    assert cal.between(start, due) == length
