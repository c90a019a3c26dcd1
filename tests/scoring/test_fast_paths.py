"""The fast scoring path: attribute tables, the lazily written ledger, and the same answers."""

from __future__ import annotations

import copy
import math
import pickle
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from funnelkit import Lead, Touchpoint
from funnelkit._scoring import _safe
from funnelkit.scoring import EngagementRule, FitRule, LedgerEntry, Score, ScoringModel

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
values = st.one_of(st.none(), numbers, st.sampled_from(["x", "a", "b", "m", "z", ""]), st.text(max_size=3))


@given(st.lists(st.tuples(one_attribute_conditions, st.integers(-20, 20)), min_size=1, max_size=6),
       st.lists(values, min_size=1, max_size=6))
def test_attribute_tables_agree_with_the_rules_one_by_one(
    rules: list[tuple[str, int]], seen: list[Any]
) -> None:
    """For any one-attribute rules and values (edges, NaN, huge ints, strings), the table path
    matches evaluating each rule's compiled closure, in points and in the ledger, every time."""
    model = ScoringModel([FitRule(when, points) for when, points in rules])
    assert model._fast is not None
    assert not model._fast.rest
    for value in seen * 2:  # the second pass reads remembered values
        the_lead = lead({"n": value})
        score = model.score(the_lead, (), at=AT)
        env = model._resolve(the_lead.attributes, the_lead, None, None)
        expected = [step[1] for step in model._fit_plan if _safe(step[0], env, None)]
        assert list(score.ledger) == expected, value
        assert score.total == sum(e.points for e in expected)


def test_unhashable_values_take_the_general_path() -> None:
    """A list value cannot key a table; the lead is scored the general way, no crash."""
    model = ScoringModel([FitRule("tags in ('a', 'b')", 5), FitRule("n >= 1", 3)])
    score = model.score(lead({"tags": ["a"], "n": 2}), (), at=AT)
    assert score.total == 3.0
    assert [e.rule for e in score.ledger] == ["n >= 1"]


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


def test_fast_and_general_paths_give_the_same_score() -> None:
    """One fit group uses the fast path, two groups the general one: the same numbers."""
    rules = [("industry == 'saas'", 15), ("employees >= 50 and employees < 200", 6),
             ("role in ('cto', 'ceo')", 15), ("budget >= 10000 and role == 'cto'", 4),
             ("has('budget')", 1)]
    fast = ScoringModel([FitRule(w, p) for w, p in rules], [EngagementRule(5, kind="call")],
                        half_life="30 days")
    general = ScoringModel([FitRule(w, p, group="a" if i % 2 else "b")
                            for i, (w, p) in enumerate(rules)],
                           [EngagementRule(5, kind="call")], half_life="30 days")
    assert fast._fast is not None
    assert general._fast is None
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


@given(st.lists(engagement_rules, max_size=5), touchpoints,
       st.sampled_from([None, "7 days", "1 month"]))
def test_fast_engagement_matches_the_general_path(
    rules: list[EngagementRule], tps: list[Touchpoint], half_life: str | None
) -> None:
    """First-match rules (remembered by kind, or by kind and channel), own points, later
    touchpoints and decay give the same engagement and ledger lines on both paths."""
    fit_one = [FitRule("n >= 1", 1)]
    fit_two = [FitRule("n >= 1", 1), FitRule("n >= 2", 1, group="other")]
    fast = ScoringModel(fit_one, rules, half_life=half_life)
    general = ScoringModel(fit_two, rules, half_life=half_life)
    assert fast._fast is not None
    assert general._fast is None
    for _ in range(2):  # cold, then warm caches
        a = fast.score(lead({}), tps, at=AT)
        b = general.score(lead({}), tps, at=AT)
        assert a.engagement == b.engagement
        assert a.ledger == b.ledger
