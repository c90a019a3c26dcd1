"""ScoringModel: fit and engagement points, caps, decay, the exact ledger, bad input, data form."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from _scoring_support import general_fit_entries
from dateutil.relativedelta import relativedelta
from hypothesis import given
from hypothesis import strategies as st

from funnelkit import Context, InvalidInput, InvalidPolicy, Lead, RuleSyntaxError, Touchpoint
from funnelkit.scoring import (
    RESOLUTION,
    EngagementRule,
    FitRule,
    LedgerEntry,
    Score,
    ScoringModel,
    Temperature,
    decay_factor,
    parse_half_life,
)

AT = datetime(2026, 3, 2, 9, tzinfo=UTC)
KINDS = ["email_open", "webinar", "demo_request", "call", "meeting"]
CHANNELS = ["email", "web", "paid_search", "phone"]


def lead(attributes: dict[str, Any] | None = None) -> Lead:
    return Lead("L1", "lead", created_at=AT - timedelta(days=400), attributes=attributes)


def touch(kind: str, days_ago: float, channel: str = "email", points: float | None = None) -> Touchpoint:
    return Touchpoint("L1", kind, channel, AT - timedelta(days=days_ago), points=points)


# -- strategies --------------------------------------------------------------------------------

points = st.one_of(
    st.integers(-1000, 1000),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
)
fit_conditions = st.sampled_from([
    "industry == 'saas'", "employees >= 50", "employees >= 10 and employees < 500",
    "role in ('cto', 'ceo')", "budget > 1000", "country != 'fr'", "has('budget')",
    "lower(role) == 'cto' or budget >= 5000", "days_since(signup) < 30", "score > 1",
    "tags in ('a', 'b')", "employees > 'x'",
])
fit_rules = st.builds(FitRule, fit_conditions, points, group=st.sampled_from(["fit", "firmo"]))
engagement_rules = st.builds(
    EngagementRule, points,
    kind=st.one_of(st.none(), st.sampled_from(KINDS)),
    channel=st.one_of(st.none(), st.sampled_from(CHANNELS)),
    group=st.sampled_from(["engagement", "email"]),
)
half_lives = st.one_of(
    st.none(),
    st.timedeltas(min_value=timedelta(hours=1), max_value=timedelta(days=400)),
    st.builds(relativedelta, months=st.integers(1, 12)),
    st.sampled_from(["30 days", "2 weeks", "1 month", "1 year", "36 hours"]),
)
attribute_values = st.one_of(
    st.none(), st.integers(-10, 10_000), st.floats(allow_nan=True), st.text(max_size=4),
    st.sampled_from(["saas", "cto", "CEO", "fr", "a"]), st.lists(st.integers(), max_size=2),
    st.just(AT - timedelta(days=3)),
)
attributes = st.dictionaries(
    st.sampled_from(["industry", "employees", "role", "budget", "country", "tags", "signup"]),
    attribute_values,
)
touchpoints = st.lists(
    st.builds(
        Touchpoint, st.just("L1"), st.sampled_from([*KINDS, "ad_click"]), st.sampled_from(CHANNELS),
        st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)),
        points=st.one_of(st.none(), points, st.floats(-1e300, 1e300)),
    ),
    max_size=8,
)


@st.composite
def models(draw: st.DrawFn) -> ScoringModel:
    fit = draw(st.lists(fit_rules, max_size=8))
    engagement = draw(st.lists(engagement_rules, max_size=6))
    groups = sorted({r.group for r in fit} | {r.group for r in engagement})
    caps = draw(st.dictionaries(st.sampled_from(groups), st.floats(0, 1e4), max_size=2)) if groups else {}
    return ScoringModel(fit, engagement, caps=caps, half_life=draw(half_lives))


# -- the ledger ---------------------------------------------------------------------------------


@given(models(), attributes, touchpoints, st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC)))
def test_ledger_always_adds_up_exactly(model: ScoringModel, attrs: dict[str, Any], tps: list[Touchpoint], at: datetime) -> None:
    """For any rules, caps, touchpoints and time, the ledger sums exactly to the total, in any order."""
    score = model.score(lead(attrs), tps, at=at)
    assert sum(e.points for e in score.ledger) == score.total
    assert sum(e.points for e in reversed(score.ledger)) == score.total
    assert math.fsum(e.points for e in score.ledger) == score.total
    assert score.fit + score.engagement == score.total
    assert all(e.points / RESOLUTION == int(e.points / RESOLUTION) for e in score.ledger)
    for group, cap in model.caps.items():
        assert score.by_group().get(group, 0) <= cap
    Score(score.fit, score.engagement, score.total, score.ledger)  # the checking constructor agrees


@given(models(), attributes, touchpoints)
def test_fit_rules_score_as_the_general_interpreter_decides(model: ScoringModel, attrs: dict[str, Any], tps: list[Touchpoint]) -> None:
    """Value tables and specialised closures give the fit ledger the rules give one by one, each
    compiled without specialised shapes: any rules, groups, values and unknowns."""
    the_lead = lead(attrs)
    score = model.score(the_lead, tps, at=AT)
    expected = general_fit_entries(model, the_lead, Context(AT, touchpoints=tps))
    fit_groups = {r.group for r in model.fit}
    got = [e for e in score.ledger if e.group in fit_groups and not e.rule.startswith("cap ")]
    assert got == expected


@given(models(), attributes, touchpoints)
def test_the_usual_layout_caps_as_every_group_is_capped(model: ScoringModel, attrs: dict[str, Any], tps: list[Touchpoint]) -> None:
    """One fit group and one engagement group cap their two sums directly; adding up and capping
    each group the general way gives the same fit and engagement, for any model."""
    score = model.score(lead(attrs), tps, at=AT)
    _, _, values, rest, decayed, *_ = score._ledger_slot  # what scoring kept for the ledger
    plan = model._plan
    fit, engagement_units = plan.capped(plan.units(values, rest, decayed))
    assert (fit * RESOLUTION, engagement_units * RESOLUTION) == (score.fit, score.engagement)


def test_a_worked_example() -> None:
    """Fit rules, engagement per touchpoint, a cap and decay give the expected numbers and ledger."""
    model = ScoringModel(
        fit=[FitRule("industry == 'saas'", 20), FitRule("employees >= 50", 10, name="mid-market"),
             FitRule("role == 'intern'", -15)],
        engagement=[EngagementRule(10, kind="webinar"), EngagementRule(40, kind="demo_request")],
        caps={"engagement": 45},
        half_life="10 days",
    )
    tps = [touch("webinar", 0), touch("webinar", 10), touch("demo_request", 20), touch("call", 1)]
    score = model.score(lead({"industry": "saas", "employees": 80}), tps, at=AT)
    assert score.fit == 30.0
    assert score.engagement == 25.0  # webinars 10 + 5, the demo 40 * 0.25; the call has no rule
    assert [(e.rule, e.raw, e.points, e.matches) for e in score.ledger] == [
        ("industry == 'saas'", 20.0, 20.0, 1),
        ("mid-market", 10.0, 10.0, 1),
        ("kind=webinar", 20.0, 15.0, 2),
        ("kind=demo_request", 40.0, 10.0, 1),
    ]
    assert "total" in score.explain()


def test_caps_cut_with_a_ledger_line() -> None:
    """A group over its cap gets a negative 'cap <group>' entry bringing it to the cap."""
    model = ScoringModel([FitRule("x > 0", 30), FitRule("y > 0", 30)], caps={"fit": 40})
    score = model.score(lead({"x": 1, "y": 1}), at=AT)
    assert score.fit == 40.0
    assert score.ledger[-1] == LedgerEntry("cap fit", "fit", -20, -20, 0)


def test_touchpoint_rules_first_match_own_points_and_future() -> None:
    """A touchpoint counts once, for the first rule it matches; its own points win; future ones wait."""
    model = ScoringModel(engagement=[EngagementRule(5, kind="webinar", channel="email"),
                                     EngagementRule(3, kind="webinar"), EngagementRule(1)])
    tps = [touch("webinar", 0, "email"), touch("webinar", 0, "social"), touch("call", 0),
           touch("webinar", 0, "email", points=50), touch("webinar", -1, "email")]
    score = model.score(lead(), tps, at=AT)
    assert [(e.rule, e.points, e.matches) for e in score.ledger] == [
        ("kind=webinar channel=email", 55.0, 2), ("kind=webinar", 3.0, 1), ("any touchpoint", 1.0, 1)]


def test_touchpoints_with_own_points_and_no_rule_still_count() -> None:
    """A touchpoint no rule matches counts only when it carries its own points."""
    model = ScoringModel(engagement=[EngagementRule(5, kind="webinar")])
    score = model.score(lead(), [touch("call", 0), touch("event", 0, points=7)], at=AT)
    assert [(e.rule, e.points) for e in score.ledger] == [("touchpoint points", 7.0)]


def test_fit_rules_reading_the_context() -> None:
    """Fit conditions may read now, touchpoints and counts; the model builds the context itself."""
    model = ScoringModel([FitRule("days_since(signup) < 7", 5), FitRule("count('webinar') >= 2", 8)])
    tps = [touch("webinar", 1), touch("webinar", 2)]
    score = model.score(lead({"signup": AT - timedelta(days=2)}), tps, at=AT)
    assert score.fit == 13.0


def test_unknown_or_unusable_values_just_do_not_match() -> None:
    """Missing attributes, None and wrong types make a fit rule not match, never raise."""
    model = ScoringModel([FitRule("employees >= 50", 10), FitRule("role in ('cto',)", 5)])
    for attrs in ({}, {"employees": None}, {"employees": "many"}, {"role": ["cto"]}):
        assert model.score(lead(attrs), at=AT).fit == 0.0


# -- decay --------------------------------------------------------------------------------------


@given(half_lives.filter(lambda h: h is not None),
       st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)),
       st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3000)),
       st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3000)))
def test_decay_is_monotone_in_time(half_life: Any, touched: datetime, d1: timedelta, d2: timedelta) -> None:
    """Later evaluation never gives more points; the factor stays within (0, 1]."""
    hl = parse_half_life(half_life)
    early, late = sorted([d1, d2])
    a, b = decay_factor(touched, touched + early, hl), decay_factor(touched, touched + late, hl)
    assert 0 <= b <= a <= 1


@given(half_lives.filter(lambda h: h is not None),
       st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)))
def test_decay_halves_at_the_half_life(half_life: Any, touched: datetime) -> None:
    """Exactly one half-life later a touchpoint keeps exactly half its points; two, a quarter."""
    hl = parse_half_life(half_life)
    assert decay_factor(touched, touched, hl) == 1.0
    assert decay_factor(touched, touched + hl, hl) == 0.5
    if isinstance(hl, timedelta):
        assert decay_factor(touched, touched + 2 * hl, hl) == 0.25
    else:
        assert decay_factor(touched, touched + hl * 2, hl) == 0.25


def test_calendar_half_life_follows_the_calendar() -> None:
    """A one-month half-life halves on the same date next month, whatever the month's length."""
    hl = parse_half_life("1 month")
    jan31 = datetime(2026, 1, 31, tzinfo=UTC)
    assert decay_factor(jan31, datetime(2026, 2, 28, tzinfo=UTC), hl) == 0.5
    feb1 = datetime(2026, 2, 1, tzinfo=UTC)
    assert decay_factor(feb1, datetime(2026, 3, 1, tzinfo=UTC), hl) == 0.5
    assert decay_factor(feb1, datetime(2026, 2, 15, tzinfo=UTC), hl) == pytest.approx(0.5 ** 0.5)


def test_engagement_points_decay_in_the_score() -> None:
    """A 10-point touchpoint one half-life old scores 5 in the ledger, raw 10."""
    model = ScoringModel(engagement=[EngagementRule(10, kind="webinar")], half_life=timedelta(days=7))
    score = model.score(lead(), [touch("webinar", 7)], at=AT)
    assert (score.ledger[0].raw, score.ledger[0].points) == (10.0, 5.0)


# -- temperature --------------------------------------------------------------------------------


@pytest.mark.parametrize(("fit", "engagement", "expected"),
                         [(60, 60, "hot"), (60, 30, "warm"), (30, 60, "warm"), (10, 60, "cold"), (0, 0, "cold")])
def test_temperature_thresholds(fit: float, engagement: float, expected: str) -> None:
    """Hot needs both hot thresholds, warm both warm ones, otherwise cold."""
    model = ScoringModel([FitRule("f > 0", fit)], [EngagementRule(engagement)],
                         thresholds=Temperature(warm=(20, 20), hot=(50, 50)))
    score = model.score(lead({"f": 1}), [touch("x", 0)], at=AT)
    assert model.temperature(score) == expected


# -- bad input, raised when the model is built ---------------------------------------------------


@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        (lambda: FitRule("x > 1", float("nan")), "finite"),
        (lambda: FitRule("x > 1", float("inf")), "finite"),
        (lambda: FitRule("x > 1", "10"), "must be a number"),
        (lambda: FitRule("x > 1", True), "must be a number"),
        (lambda: FitRule("x > 1", 10**9), "too large"),
        (lambda: EngagementRule(float("-inf")), "finite"),
        (lambda: EngagementRule(1, kind=""), "non-empty"),
        (lambda: ScoringModel(half_life="-3 days"), "not a half-life"),
        (lambda: ScoringModel(half_life=timedelta(days=-1)), "longer than zero"),
        (lambda: ScoringModel(half_life=timedelta(0)), "longer than zero"),
        (lambda: ScoringModel(half_life=relativedelta(months=-1)), "positive"),
        (lambda: ScoringModel(half_life=relativedelta(day=1)), "positive"),
        (lambda: ScoringModel(half_life="1.5 months"), "whole numbers"),
        (lambda: ScoringModel(half_life=30), "must be a string"),
        (lambda: ScoringModel([FitRule("x > 1", 1)], caps={"engagement": 5}), "no rule uses"),
        (lambda: ScoringModel([FitRule("x > 1", 1)], caps={"fit": -1}), "at least 0"),
        (lambda: ScoringModel([FitRule("x > 1", 1)], caps={"fit": float("nan")}), "finite"),
        (lambda: ScoringModel([FitRule("x > 1", 1, group="g")], [EngagementRule(1, group="g")]), "both"),
        (lambda: ScoringModel(["x > 1"]), "is not a FitRule"),
        (lambda: ScoringModel("x > 1"), "must be a list"),
        (lambda: Temperature(warm=(60, 60), hot=(50, 50)), "must not exceed"),
        (lambda: Temperature(warm=(float("nan"), 1)), "finite"),
        (lambda: ScoringModel(thresholds=(1, 2)), "must be a Temperature"),
    ],
)
def test_bad_models_are_refused_when_built(build: Any, fragment: str) -> None:
    """NaN or infinite points, bad half-lives, caps on unknown groups: InvalidPolicy at build time."""
    with pytest.raises(InvalidPolicy, match=fragment):
        build()


def test_malformed_fit_rule_is_refused_when_built() -> None:
    """A fit condition the rule language refuses raises RuleSyntaxError when the rule is built."""
    with pytest.raises(RuleSyntaxError):
        FitRule("industry.lower() == 'saas'", 5)


def test_naive_time_is_refused() -> None:
    """Scoring at a naive datetime raises InvalidInput like the rest of funnelkit."""
    with pytest.raises(InvalidInput):
        ScoringModel().score(lead(), at=datetime(2026, 1, 1))  # noqa: DTZ001


# -- data form ----------------------------------------------------------------------------------


@given(models())
def test_data_form_round_trips(model: ScoringModel) -> None:
    """ScoringModel.from_dict(model.to_dict()) == model, and the data is plain."""
    data = model.to_dict()
    assert ScoringModel.from_dict(data) == model
    json.dumps(data)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"fit": [{"when": "x >", "points": 1}]}, "model.fit[0].when"),
        ({"fit": [{"points": 1}]}, "model.fit[0]"),
        ({"fit": [{"when": "x > 1", "points": "many"}]}, "model.fit[0]"),
        ({"engagement": "webinar"}, "model.engagement"),
        ({"fit": [], "bogus": 1}, "unknown key"),
        ({"temperature": {"warm": [1, 2], "cold": [0, 0]}}, "temperature"),
        ([1, 2], "must be a mapping"),
    ],
)
def test_bad_data_names_where(data: Any, fragment: str) -> None:
    """Errors building a model from data name the path of the problem."""
    with pytest.raises(InvalidPolicy, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        ScoringModel.from_dict(data)


def test_score_checks_its_own_arithmetic() -> None:
    """Building a Score whose ledger does not add up is refused."""
    with pytest.raises(InvalidPolicy, match="does not add up"):
        Score(1.0, 1.0, 3.0, ())
    with pytest.raises(InvalidPolicy):
        Score(1.0, 0.0, 1.0, ("not an entry",))  # type: ignore[arg-type]
