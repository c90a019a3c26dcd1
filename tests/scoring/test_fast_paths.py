"""How scoring runs fast: value tables, the lazily written ledger, one engagement loop; and the
same answers as the general interpreter and the public decay."""

from __future__ import annotations

import copy
import math
import pickle
from datetime import UTC, datetime, timedelta
from typing import Any

from _scoring_support import general_fit_entries
from hypothesis import given
from hypothesis import strategies as st

from funnelkit import Lead, Touchpoint
from funnelkit.scoring import (
    EngagementRule,
    FitRule,
    LedgerEntry,
    Score,
    ScoringModel,
    decay_factor,
)

AT = datetime(2026, 3, 2, 9, tzinfo=UTC)


def lead(attributes: dict[str, Any] | None = None) -> Lead:
    return Lead("L1", "lead", created_at=AT - timedelta(days=400), attributes=attributes)


# One-attribute rules: every one goes through an attribute table.
one_attribute_conditions = st.sampled_from([
    "n >= 50", "n > 50", "n < 50", "n <= 50", "n == 50", "n >= 10 and n < 200",
    "n > 1.5 and n <= 2.5", "n in (1, 2.5, 'x')", "n == true", "n >= 0", "n == 'x'",
    "n > 'm'", "n in ('a', 'b')", "n < 1e15", "n == 0.1",
])
numbers = st.one_of(
    st.sampled_from([0, 1, 2, 10, 49, 50, 51, 199, 200, 1.5, 2.5, 0.1, -0.0, 1e15, 1e15 + 0.5, 10**15 + 1, True, False]),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(1.4, 2.6),
    st.integers(48, 52).map(lambda i: i + 0.0),
)
#: Values tried on every table: each literal's class, either side of it, and other text.
EDGES = ["x", "a", "b", "m", "zz", "", 0, 1, 1.5, 2.5, 10, 49, 50, 51, 200, True, False, None,
         1e15, -0.0, math.nan, math.inf]
values = st.one_of(st.none(), numbers, st.sampled_from(["x", "a", "b", "m", "z", ""]), st.text(max_size=3))


@given(st.lists(st.tuples(one_attribute_conditions, st.integers(-20, 20)), min_size=1, max_size=6),
       st.lists(values, min_size=1, max_size=6))
def test_attribute_tables_agree_with_the_rules_one_by_one(
    rules: list[tuple[str, int]], seen: list[Any]
) -> None:
    """For any one-attribute rules and values (edges, NaN, huge ints, strings), the value table
    gives the points and ledger the general interpreter gives rule by rule, every time."""
    model = ScoringModel([FitRule(when, points) for when, points in rules])
    assert len(model._plan.tables) == 1
    assert not model._plan.rest
    for value in [*seen, *EDGES] * 2:  # the second pass reads remembered values
        the_lead = lead({"n": value})
        score = model.score(the_lead, (), at=AT)
        expected = general_fit_entries(model, the_lead)
        assert list(score.ledger) == expected, value
        assert score.total == sum(e.points for e in expected)


def test_unhashable_values_are_worked_out_not_remembered() -> None:
    """A list value cannot key a table: its rules run on it (compared one by one), no crash."""
    model = ScoringModel([FitRule("tags in ('a', 'b')", 5), FitRule("n >= 1", 3),
                          FitRule("tags not in ('a', 'b')", 1)])
    for _ in range(2):
        score = model.score(lead({"tags": ["a"], "n": 2}), (), at=AT)
        assert score.total == 4.0
        assert [e.rule for e in score.ledger] == ["n >= 1", "tags not in ('a', 'b')"]
    assert all(type(value) is not list for table in model._plan.tables for value in table)


def eager(score: Score) -> Score:
    """The same score built by the checking constructor, its ledger a plain tuple."""
    return Score(score.fit, score.engagement, score.total, score.ledger)


def test_lazy_ledger_is_the_same_value() -> None:
    """A score from the model equals, hashes, prints and pickles like one built eagerly."""
    model = ScoringModel(
        [FitRule("industry == 'saas'", 40), FitRule("employees >= 50", 30)],
        [EngagementRule(10, kind="webinar"), EngagementRule(3)],
        caps={"fit": 60, "engagement": 12}, half_life="10 days",
    )
    tps = [Touchpoint("L1", "webinar", "email", AT - timedelta(days=10)),
           Touchpoint("L1", "webinar", "web", AT),
           Touchpoint("L1", "call", "phone", AT - timedelta(days=1), points=4),
           Touchpoint("L1", "call", "phone", AT + timedelta(days=1))]  # after `at`
    the_lead = lead({"industry": "saas", "employees": 80})
    fresh = model.score(the_lead, tps, at=AT)
    assert hash(fresh) == hash(eager(fresh))
    assert model.score(the_lead, tps, at=AT) == eager(fresh)  # compares before any ledger read
    assert repr(model.score(the_lead, tps, at=AT)) == repr(eager(fresh))
    restored = pickle.loads(pickle.dumps(model.score(the_lead, tps, at=AT)))
    assert restored == fresh
    assert type(restored._ledger_slot) is tuple
    assert copy.deepcopy(fresh) is fresh
    assert fresh.ledger is fresh.ledger  # written once, then kept
    assert fresh._asdict()["ledger"] == fresh.ledger
    assert [(e.rule, e.raw, e.points, e.matches) for e in fresh.ledger] == [
        ("industry == 'saas'", 40.0, 40.0, 1),
        ("employees >= 50", 30.0, 30.0, 1),
        ("kind=webinar", 20.0, 15.0, 2),
        ("any touchpoint", 4.0, fresh.ledger[3].points, 1),  # its own points, decayed
        ("cap fit", -10.0, -10.0, 0),
        ("cap engagement", fresh.ledger[5].raw, fresh.ledger[5].points, 0),
    ]
    assert fresh.total == 72.0 == sum(e.points for e in fresh.ledger)
    assert fresh != model.score(lead({"industry": "saas"}), tps, at=AT)


def test_one_fit_group_and_several_give_the_same_score() -> None:
    """Tables per attribute (one group) and per attribute and group (several): the same numbers."""
    rules = [("industry == 'saas'", 15), ("employees >= 50 and employees < 200", 6),
             ("role in ('cto', 'ceo')", 15), ("budget >= 10000 and role == 'cto'", 4),
             ("has('budget')", 1)]
    fast = ScoringModel([FitRule(w, p) for w, p in rules], [EngagementRule(5, kind="call")],
                        half_life="30 days")
    general = ScoringModel([FitRule(w, p, group="a" if i % 2 else "b")
                            for i, (w, p) in enumerate(rules)],
                           [EngagementRule(5, kind="call")], half_life="30 days")
    assert fast._plan.simple
    assert not general._plan.simple
    tps = [Touchpoint("L1", "call", "phone", AT - timedelta(days=d)) for d in (1, 7, 45)]
    for attributes in ({"industry": "saas", "employees": 60, "role": "cto", "budget": 20000},
                       {"employees": math.nan, "role": "ceo"}, {}):
        a = fast.score(lead(attributes), tps, at=AT)
        b = general.score(lead(attributes), tps, at=AT)
        assert (a.fit, a.engagement, a.total) == (b.fit, b.engagement, b.total)
        assert sorted(e.rule for e in a.ledger) == sorted(e.rule for e in b.ledger)
        assert isinstance(a.ledger[0], LedgerEntry)


KINDS = ["email_open", "webinar", "call", "ad_click"]
CHANNELS = ["email", "web", "phone"]
engagement_rules = st.builds(
    EngagementRule, st.integers(-50, 50),
    kind=st.one_of(st.none(), st.sampled_from(KINDS)),
    channel=st.one_of(st.none(), st.sampled_from(CHANNELS)),
)
touchpoints = st.lists(st.builds(
    Touchpoint, st.just("L1"), st.sampled_from(KINDS), st.sampled_from(CHANNELS),
    st.integers(-5, 90).map(lambda d: AT - timedelta(days=d, hours=d % 7)),
    points=st.one_of(st.none(), st.none(), st.integers(-5, 5)),
), max_size=8)


def engagement_by_hand(
    rules: list[EngagementRule], tps: list[Touchpoint], at: datetime, half_life: Any
) -> list[tuple[str, float, float, int]]:
    """The engagement ledger as the docs describe it, written out with the public pieces: the
    first matching rule, own points clamped to +-1,000,000, decay_factor, one rounding per rule."""
    found: dict[int, list[Any]] = {}
    for tp in tps:
        if tp.at > at:
            continue
        index = next((i for i, r in enumerate(rules) if r.matches(tp)), -1)
        points = rules[index].points if index >= 0 else None
        if tp.points is not None:
            points = max(-1e6, min(1e6, tp.points))
        if points is None:
            continue
        decayed = points * decay_factor(tp.at, at, half_life)
        raw, total, count = found.get(index, [0.0, 0.0, 0])
        found[index] = [raw + points, total + decayed, count + 1]
    return [(rules[i].name if i >= 0 else "touchpoint points", float(raw),
             round(total * 1024) / 1024, count) for i, (raw, total, count) in sorted(found.items())]


@given(st.lists(engagement_rules, max_size=5), touchpoints,
       st.sampled_from([None, "7 days", "1 month", "36 hours"]), st.booleans())
def test_engagement_is_the_documented_arithmetic(
    rules: list[EngagementRule], tps: list[Touchpoint], half_life: str | None, two_groups: bool
) -> None:
    """First-match rules (remembered by kind, or by kind and channel), own points, later
    touchpoints and decay by decay_factor give the engagement and ledger lines written out by
    hand, with one fit group or several, cold and with warm caches."""
    fit = [FitRule("n >= 1", 1), FitRule("n >= 2", 1, group="other" if two_groups else "fit")]
    model = ScoringModel(fit, rules, half_life=half_life)
    expected = engagement_by_hand(rules, tps, AT, model.half_life)
    for _ in range(2):  # cold, then warm caches
        score = model.score(lead({}), tps, at=AT)
        got = [(e.rule, e.raw, e.points, e.matches) for e in score.ledger if e.group == "engagement"]
        assert got == expected
        assert score.engagement == sum(points for _, _, points, _ in expected)
