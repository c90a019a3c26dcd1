"""Plain-data forms for stores and the outbox: every pair round-trips, bad values are refused."""

from __future__ import annotations

import enum
import json
from collections import OrderedDict
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from funnelkit import Decision, InvalidInput, Lead, Source, Touchpoint, Transition, Verdict
from funnelkit._core.codec import (
    decision_from_data,
    decision_to_data,
    dumps,
    handoff_from_data,
    handoff_to_data,
    lead_from_data,
    lead_to_data,
    loads,
    touchpoint_from_data,
    touchpoint_to_data,
    transition_from_data,
    transition_to_data,
)
from funnelkit._core.handoff import Handoff

AT = datetime(2026, 3, 2, 9, tzinfo=UTC)

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=10),
    st.floats(allow_nan=False, allow_infinity=False),
    st.datetimes(timezones=st.just(UTC)), st.dates(),
    st.decimals(allow_nan=False, allow_infinity=False),
)
# Host keys that look like the codec's own tags must survive as plain data.
keys = st.one_of(st.text(max_size=5),
                 st.sampled_from(["$date", "$datetime", "$decimal", "$tuple", "$map", "$x"]))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(keys, inner, max_size=3),
    ),
    max_leaves=8,
)


@given(value=values)
def test_dumps_loads_round_trip(value: Any) -> None:
    """dumps -> loads gives back the value, datetimes, dates, Decimals and tuples included; the
    text is standard JSON (no NaN or Infinity) in canonical form (compact, keys sorted)."""
    text = dumps(value)

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not standard JSON")

    plain = json.loads(text, parse_constant=refuse)
    assert json.dumps(plain, separators=(",", ":"), sort_keys=True) == text
    assert loads(text) == value


@pytest.mark.parametrize("value", [
    {"$tuple": 5}, {"$date": "2026-01-01"}, {"$map": {"$tuple": [1]}}, {"$datetime": None},
])
def test_host_keys_that_look_like_tags_stay_data(value: Any) -> None:
    """A mapping whose only key is one of the codec's tags comes back as the same mapping."""
    assert loads(dumps(value)) == value


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), {1: "x"}, {"s": {1, 2}}, object(),
                                 {"signed": datetime(2026, 1, 1)}])  # noqa: DTZ001 - naive on purpose
def test_dumps_refuses_what_cannot_be_stored(bad: Any) -> None:
    """Non-finite floats, non-string keys and other types raise InvalidInput."""
    with pytest.raises(InvalidInput):
        dumps(bad)


class _Text(str):
    __slots__ = ()


class _Number(float):
    __slots__ = ()


class _Level(enum.IntEnum):
    HIGH = 3


@pytest.mark.parametrize(("value", "stored"), [
    (_Text("saas"), "saas"),
    (_Level.HIGH, 3),
    (_Number(2.5), 2.5),
    (MappingProxyType({"a": 1}), {"a": 1}),
    (OrderedDict(b=[1, _Text("x")]), {"b": [1, "x"]}),
    (MappingProxyType({"$tuple": 1}), {"$tuple": 1}),
])
def test_subclasses_and_other_mappings_are_stored_as_their_plain_values(
    value: Any, stored: Any
) -> None:
    """Values of subclasses of the JSON types, and any Mapping, take the general path."""
    assert loads(dumps(value)) == stored
    assert json.loads(dumps(value)) == json.loads(dumps(stored))


@pytest.mark.parametrize("bad", [_Number("nan"), {"x": _Number("-inf")}, OrderedDict({2: 1})])
def test_subclass_values_are_checked_like_their_bases(bad: Any) -> None:
    """A non-finite float subclass or a non-string key in any Mapping is refused too."""
    with pytest.raises(InvalidInput):
        dumps(bad)


@given(
    attributes=st.dictionaries(st.text(min_size=1, max_size=6), values, max_size=4),
    version=st.integers(0, 1000),
    # NUL and lone surrogates: no store keeps them (refused, tested in tests/boundary)
    owner=st.one_of(st.none(), st.text(st.characters(exclude_characters="\x00",
                                                     exclude_categories=("Cs",)),
                                       min_size=1, max_size=6)),
    hours=st.integers(0, 10_000),
)
def test_lead_round_trip(attributes: dict[str, Any], version: int, owner: str | None,
                         hours: int) -> None:
    """lead_from_data(lead_to_data(x)) == x, and the data form is JSON."""
    later = AT + timedelta(hours=hours)
    lead = Lead("L1", "mql", version=version, attributes=attributes, owner=owner,
                source=Source.of("referral"), created_at=AT, stage_entered_at=later,
                updated_at=later)
    data = lead_to_data(lead)
    assert lead_from_data(json.loads(json.dumps(data))) == lead


def test_decision_and_transition_round_trip() -> None:
    """Decisions (with verdict evidence) and transitions survive their data forms."""
    d = Decision.deny("no budget", criteria=[Verdict("budget", "failed", {"seen": (1, 2)})],
                      score=12.5, policy="bant@1")
    assert decision_from_data(decision_to_data(d)) == d
    assert decision_to_data(None) is None
    assert decision_from_data(None) is None
    plus1 = timezone(timedelta(hours=1))
    t = Transition("L1", "lose", "sql", "lost", datetime(2026, 3, 2, 10, tzinfo=plus1),
                   actor="ae", reason="no budget", decision=d, version=4)
    again = transition_from_data(json.loads(json.dumps(transition_to_data(t))))
    assert again == t
    assert again.at.utcoffset() == timedelta(hours=1)


def test_handoff_and_touchpoint_round_trip() -> None:
    """Handoffs and touchpoints survive their data forms."""
    h = Handoff("L1:3", "L1", "marketing", "sales", created_at=AT, event="hand_to_sales",
                version=3, assignee="ae-1", due_at=AT + timedelta(hours=4))
    assert handoff_from_data(json.loads(json.dumps(handoff_to_data(h)))) == h
    tp = Touchpoint("L1", "webinar", "email", AT, points=5, data={"on": date(2026, 3, 1),
                                                                   "cost": Decimal("1.50")})
    assert touchpoint_from_data(json.loads(json.dumps(touchpoint_to_data(tp)))) == tp
