"""FrozenClock: test time that only moves forward, in calendar or business time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from funnelkit import FunnelError, InvalidInput
from funnelkit._pipeline.calendar import BusinessCalendar
from funnelkit.testing import FrozenClock
from funnelkit.testing._clock import DEFAULT_START


def test_starts_at_a_fixed_monday_morning_by_default():
    """Without a start the clock reads Monday 2 March 2026, 09:00 UTC."""
    assert FrozenClock().now() == DEFAULT_START == datetime(2026, 3, 2, 9, tzinfo=UTC)
    assert DEFAULT_START.weekday() == 0


def test_now_stays_put_until_moved():
    """Reading the clock does not move it; the callable form reads the same time."""
    clock = FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))
    assert clock.now() == clock.now() == clock()


def test_naive_start_is_refused():
    """A naive start is bad input, with a message saying to add a tzinfo."""
    with pytest.raises(InvalidInput, match="naive"):
        FrozenClock(datetime(2026, 1, 1))


def test_advance_adds_calendar_time_and_returns_the_new_time():
    """advance() adds seconds to weeks and returns the time it moved to."""
    clock = FrozenClock()
    assert clock.advance(weeks=1, days=1, hours=1, minutes=1, seconds=1) == DEFAULT_START + timedelta(
        weeks=1, days=1, hours=1, minutes=1, seconds=1)
    assert clock.now() == DEFAULT_START + timedelta(days=8, hours=1, minutes=1, seconds=1)


def test_months_use_relativedelta():
    """A month after 31 January is 28 February (dateutil's relativedelta), not 3 March."""
    clock = FrozenClock(datetime(2026, 1, 31, 12, tzinfo=UTC))
    assert clock.advance(months=1) == datetime(2026, 2, 28, 12, tzinfo=UTC)
    assert clock.advance(years=1) == datetime(2027, 2, 28, 12, tzinfo=UTC)


def test_business_hours_skip_nights_and_weekends():
    """Friday 15:00 plus 4 business hours is Monday 11:00 on the default calendar."""
    clock = FrozenClock(datetime(2026, 3, 6, 15, tzinfo=UTC))
    assert clock.advance(business_hours=4) == datetime(2026, 3, 9, 11, tzinfo=UTC)
    assert clock.advance(business_days=1) == datetime(2026, 3, 10, 11, tzinfo=UTC)


def test_business_time_uses_the_given_calendar():
    """The clock's own calendar, or one passed to advance(), counts business time."""
    holiday = BusinessCalendar(holidays=["2026-03-03"])
    clock = FrozenClock(calendar=holiday)
    assert clock.advance(business_hours=9) == datetime(2026, 3, 4, 10, tzinfo=UTC)
    other = FrozenClock()
    assert other.advance(business_hours=9, calendar=holiday) == datetime(2026, 3, 4, 10, tzinfo=UTC)


@pytest.mark.parametrize("name", ["seconds", "minutes", "hours", "days", "weeks", "months",
                                  "years", "business_hours", "business_days"])
def test_negative_advance_is_refused_and_leaves_the_clock(name):
    """Every unit refuses a negative amount: the clock never goes backwards."""
    clock = FrozenClock()
    with pytest.raises(InvalidInput, match="backwards") as info:
        clock.advance(**{name: -1})
    assert isinstance(info.value, FunnelError)
    assert clock.now() == DEFAULT_START


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "2", True, None])
def test_non_numbers_are_refused(value):
    """NaN, infinity, strings, booleans and None are not amounts of time."""
    with pytest.raises(InvalidInput, match="finite number"):
        FrozenClock().advance(hours=value)


def test_fractional_months_are_refused():
    """relativedelta needs whole months."""
    with pytest.raises(InvalidInput, match="whole number"):
        FrozenClock().advance(months=1.5)


def test_set_moves_forward_and_refuses_going_back():
    """set() goes to a later time; an earlier one raises, naming both times."""
    clock = FrozenClock()
    later = DEFAULT_START + timedelta(days=3)
    assert clock.set(later) == later
    with pytest.raises(InvalidInput, match="cannot go back from 2026-03-05T09:00:00"):
        clock.set(DEFAULT_START)
    assert clock.now() == later
    with pytest.raises(InvalidInput, match="naive"):
        clock.set(datetime(2030, 1, 1))


@given(st.lists(st.tuples(st.sampled_from(["hours", "days", "business_hours", "minutes"]),
                          st.integers(min_value=0, max_value=100)), max_size=10))
def test_time_never_goes_backwards(steps):
    """Whatever it is asked to advance by, the clock reads a time no earlier than before."""
    clock = FrozenClock()
    before = clock.now()
    for unit, amount in steps:
        clock.advance(**{unit: amount})
        assert clock.now() >= before
        before = clock.now()


def test_repr_shows_the_time():
    """The repr names the current time."""
    assert repr(FrozenClock()) == "FrozenClock('2026-03-02T09:00:00+00:00')"
