"""Time helpers: aware datetimes only, and durations in calendar or business time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from funnelkit import Duration, InvalidInput, parse_duration
from funnelkit._core.limits import MAX_DURATION, MAX_TIME, MIN_TIME
from funnelkit._core.time import require_aware


def test_require_aware_accepts_aware_and_refuses_the_rest() -> None:
    """Aware datetimes pass; naive ones and non-datetimes raise InvalidInput naming the argument."""
    at = datetime(2026, 3, 2, tzinfo=timezone(timedelta(hours=-5)))
    assert require_aware(at) is at
    with pytest.raises(InvalidInput, match="when=.* is naive"):
        require_aware(datetime(2026, 3, 2), "when")  # noqa: DTZ001
    with pytest.raises(InvalidInput, match="is not a datetime"):
        require_aware("2026-03-02")
    err = InvalidInput("x")
    assert isinstance(err, ValueError)
    assert isinstance(err, TypeError)


def test_times_outside_the_range_are_refused() -> None:
    """Times from MIN_TIME up to (not including) MAX_TIME pass; earlier and later ones do not."""
    assert require_aware(MIN_TIME) is MIN_TIME
    just_before_the_end = MAX_TIME - timedelta(microseconds=1)
    assert require_aware(just_before_the_end) is just_before_the_end
    for too_far in (MAX_TIME, datetime.max.replace(tzinfo=UTC), MIN_TIME - timedelta(seconds=1),
                    datetime.min.replace(tzinfo=timezone(timedelta(hours=5)))):
        with pytest.raises(InvalidInput, match="outside the times funnelkit takes"):
            require_aware(too_far)


@pytest.mark.parametrize("value", ["3651 days", "522 weeks", "87601 hours",
                                   "3651 business days", timedelta(days=3651),
                                   Duration(10**12, "seconds")])
def test_durations_over_ten_years_are_refused(value: object) -> None:
    """Ten years is the longest duration: any longer one is refused, however it is written."""
    with pytest.raises(InvalidInput, match="ten years"):
        parse_duration(value)  # type: ignore[arg-type]
    assert parse_duration("3650 days").as_timedelta() == MAX_DURATION


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4 business hours", Duration(4.0, "hours", business=True)),
        ("2 days", Duration(2.0, "days")),
        ("90 min", Duration(90.0, "minutes")),
        (" 1.5 H ", Duration(1.5, "hours")),
        ("3 business days", Duration(3.0, "days", business=True)),
        ("1 week", Duration(1.0, "weeks")),
        ("30 s", Duration(30.0, "seconds")),
    ],
)
def test_parse_duration(text: str, expected: Duration) -> None:
    """Durations parse from '<number> [business] <unit>' text."""
    assert parse_duration(text) == expected


@pytest.mark.parametrize("bad", ["", "soon", "4 fortnights", "-2 days", "0 hours", 5, None])
def test_parse_duration_refuses(bad: object) -> None:
    """Anything else raises InvalidInput naming the argument."""
    with pytest.raises(InvalidInput, match="sla="):
        parse_duration(bad, name="sla")  # type: ignore[arg-type]


def test_timedelta_and_duration_inputs() -> None:
    """A timedelta becomes calendar seconds; a Duration passes through; zero is refused."""
    assert parse_duration(timedelta(hours=1)) == Duration(3600.0, "seconds")
    d = Duration(2.0, "days")
    assert parse_duration(d) is d
    with pytest.raises(InvalidInput):
        parse_duration(timedelta(0))


@given(amount=st.integers(1, 10_000), unit=st.sampled_from(["seconds", "minutes", "hours",
                                                            "days", "weeks"]),
       business=st.booleans())
def test_str_round_trips(amount: int, unit: str, business: bool) -> None:
    """str(Duration) parses back to the same duration; as_timedelta counts calendar time."""
    d = Duration(float(amount), unit, business=business)  # type: ignore[arg-type]
    assume(d.as_timedelta() <= MAX_DURATION)  # longer ones are refused (tested below)
    assert parse_duration(str(d)) == d
    assert d.as_timedelta() > timedelta(0)
    assert datetime(2026, 1, 1, tzinfo=UTC) + d.as_timedelta() > datetime(2026, 1, 1, tzinfo=UTC)
