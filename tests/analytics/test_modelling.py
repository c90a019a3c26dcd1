"""Attribution, the Markov model, forecasts and the policy backtest, against known truths."""

from __future__ import annotations

import contextlib
import io
import math
import random
import warnings
from datetime import UTC, datetime, timedelta
from itertools import combinations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from funnelkit import (
    Decision,
    Funnel,
    InvalidInput,
    InvalidPolicy,
    Lead,
    PolicyFailed,
    Source,
    Touchpoint,
    Transition,
)
from funnelkit.analytics import (
    MODELS,
    FunnelLog,
    Journey,
    MarkovModel,
    attribute,
    backtest,
    binomial,
)
from funnelkit.analytics._attribution import _shapley, conversion_probability

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
US_DAY = 86_400_000_000


def j(*channels: str, converted: bool = True, ages: tuple[int, ...] | None = None,
      weight: float = 1.0, milestones: tuple[int, ...] = ()) -> Journey:
    return Journey(channels, ages or (0,) * len(channels), converted, weight, milestones)


# -- rule-based models -----------------------------------------------------------------------------


def test_rule_based_models_by_hand() -> None:
    """first, last, linear, position and time decay on one three-touch conversion."""
    path = j("ads", "email", "call", ages=(14 * US_DAY, 7 * US_DAY, 0))
    assert attribute("first", [path]).credit == {"ads": 1.0, "call": 0.0, "email": 0.0}
    assert attribute("last", [path]).credit["call"] == 1.0
    assert attribute("linear", [path]).credit == pytest.approx(
        {"ads": 1 / 3, "email": 1 / 3, "call": 1 / 3})
    assert attribute("position", [path]).credit == pytest.approx(
        {"ads": 0.4, "email": 0.2, "call": 0.4})
    # 2^(-14/7) : 2^(-7/7) : 1 = 1/4 : 1/2 : 1, normalised by 7/4.
    assert attribute("time_decay", [path]).credit == pytest.approx(
        {"ads": 1 / 7, "email": 2 / 7, "call": 4 / 7})
    assert attribute("position", [j("a", "b")]).credit == {"a": 0.5, "b": 0.5}
    assert attribute("position", [j("a")]).credit == {"a": 1.0}


def test_w_shaped_gives_thirty_percent_to_each_milestone_touch() -> None:
    """First touch, lead creation and opportunity creation get 30% each; the rest share 10%."""
    path = j("a", "b", "c", "d", "e", milestones=(1, 3))
    credit = attribute("w_shaped", [path]).credit
    assert credit == pytest.approx({"a": 0.3, "b": 0.3, "c": 0.05, "d": 0.3, "e": 0.05})
    assert attribute("w_shaped", [j("a", "b", milestones=(1, -1))]).credit == pytest.approx(
        {"a": 0.5, "b": 0.5})


@given(st.lists(st.tuples(st.lists(st.sampled_from("abcde"), min_size=1, max_size=6),
                          st.booleans(), st.floats(0.5, 100)), min_size=1, max_size=30),
       st.sampled_from(MODELS))
def test_credit_adds_up_to_conversions_or_value(
        rows: list[tuple[list[str], bool, float]], model: str) -> None:
    """Whatever the paths, the credits add up to the conversions' total weight."""
    journeys = [j(*p, converted=c, weight=w, milestones=(0, len(p) - 1)) for p, c, w in rows]
    result = attribute(model, journeys)
    total = sum(w for _, c, w in rows if c)
    if any(c for _, c, _ in rows):
        assert sum(result.credit.values()) == pytest.approx(total)
    assert all(v >= -1e-9 for v in result.credit.values())


@pytest.mark.parametrize("model", MODELS)
def test_no_touchpoints_or_no_conversions_is_an_empty_result(model: str) -> None:
    """Without paths, or without a conversion, every model gives zero credit, never an error."""
    empty = attribute(model, [])
    assert (empty.credit, empty.conversions, empty.paths) == ({}, 0.0, 0)
    untouched = attribute(model, [j(converted=True), j(converted=True)])
    assert (untouched.unattributed, untouched.credit) == (2, {})
    lost = attribute(model, [j("a", "b", converted=False, milestones=(0, 1))])
    assert lost.conversions == 0.0
    assert all(v == 0.0 for v in lost.credit.values())


def test_models_and_orders_are_checked() -> None:
    with pytest.raises(InvalidInput, match="not an attribution model"):
        attribute("u_shaped", [])
    with pytest.raises(InvalidInput, match="order="):
        attribute("markov", [], order=0)


# -- Markov and Shapley -------------------------------------------------------------------------------


def test_markov_removal_effects_by_hand() -> None:
    """The three-channel example worked in docs/modelling.md, exactly."""
    paths = [j("a", "b"), j("a", "c", converted=False), j("b"), j("c", converted=False)]
    # start -> a 1/2, b 1/4, c 1/4; a -> b 1/2, c 1/2; b -> conversion; c -> null.
    # P = 1/2 * 1/2 + 1/4 = 1/2.  Without a: 1/4 (RE 1/2); without b: 0 (RE 1); without c:
    # 1/2 (RE 0).  Credit = RE / sum(RE) x 2 conversions.
    result = attribute("markov", paths)
    assert result.removal_effects == pytest.approx({"a": 0.5, "b": 1.0, "c": 0.0})
    assert result.credit == pytest.approx({"a": 2 / 3, "b": 4 / 3, "c": 0.0})
    counts = {("a", "b"): (1.0, 0.0), ("a", "c"): (0.0, 1.0), ("b",): (1.0, 0.0),
              ("c",): (0.0, 1.0)}
    assert conversion_probability(counts) == pytest.approx(0.5)
    assert conversion_probability(counts, removed="a") == pytest.approx(0.25)


def test_markov_higher_order_remembers_the_previous_channel() -> None:
    """With order 2, 'b after a' and 'b alone' are different states."""
    paths = [j("a", "b"), j("b", converted=False), j("b", converted=False)]
    first = attribute("markov", paths, order=1)
    second = attribute("markov", paths, order=2)
    assert sum(second.credit.values()) == pytest.approx(1.0)
    # Order 1 pools every visit to b (1 of 3 convert); order 2 sees that a>b always converts.
    assert conversion_probability({("a", "b"): (1, 0), ("b",): (0, 2)}, order=2) == \
        pytest.approx(1 / 3)
    assert first.removal_effects["a"] < second.removal_effects["a"]


def _markov_paths(n: int, seed: int) -> dict[tuple[str, ...], list[int]]:
    rng = random.Random(seed)
    channels = [f"c{i}" for i in range(8)]
    lift = {c: 0.02 + 0.03 * i for i, c in enumerate(channels)}
    rows: dict[tuple[str, ...], list[int]] = {}
    for _ in range(n):
        path = tuple(rng.choice(channels) for _ in range(rng.randint(1, 5)))
        converted = rng.random() < min(0.9, sum(lift[c] for c in set(path)))
        rows.setdefault(path, [0, 0])[0 if converted else 1] += 1
    return rows


def test_markov_agrees_with_channel_attribution() -> None:
    """Within 6% of ChannelAttribution's simulated removal credits on seeded paths."""
    ca = pytest.importorskip("ChannelAttribution")
    pd = pytest.importorskip("pandas")
    rows = _markov_paths(30_000, seed=3)
    journeys = [j(*p, converted=k == 0) for p, counts in rows.items()
                for k, n in enumerate(counts) for _ in range(n)]
    ours = attribute("markov", journeys).credit
    frame = pd.DataFrame([{"path": ">".join(p), "conv": c, "null": n} for p, (c, n) in rows.items()])
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = ca.markov_model(frame, "path", "conv", var_null="null", order=1, verbose=False,
                                 flg_pro=False, nsim_start=1_000_000, seed=5)
    for channel, credit in zip(theirs["channel_name"], theirs["total_conversions"], strict=True):
        assert ours[channel] == pytest.approx(float(credit), rel=0.06), channel


def test_shapley_equals_the_closed_form() -> None:
    """Exact enumeration equals phi_c = sum over coalitions T holding c of rate(T) / |T|."""
    rng = random.Random(2)
    channels = list("abcde")
    sets = {}
    for k in range(1, 6):
        for combo in combinations(channels, k):
            total = rng.randint(1, 50)
            sets[frozenset(combo)] = (rng.randint(0, total), total)
    phi = _shapley(sets)
    for c in channels:
        closed = sum(conv / total / len(s) for s, (conv, total) in sets.items() if c in s)
        assert phi[c] == pytest.approx(closed)


def test_shapley_refuses_too_many_channels() -> None:
    journeys = [j(f"c{i}") for i in range(16)]
    with pytest.raises(InvalidInput, match="group channels"):
        attribute("shapley", journeys)


# -- attribution on a log -----------------------------------------------------------------------------


def _funnel() -> Funnel:
    return (Funnel.builder("m").stage("new", "marketing").stage("mql", "marketing")
            .stage("sql", "sales").stage("won", "sales", outcome="won")
            .stage("lost", "sales", outcome="lost")
            .move("qualify", "new", "mql").move("hand", "mql", "sql").move("win", "sql", "won")
            .move("lose", ["new", "mql", "sql"], "lost").initial("new").build())


def _lead(f: Funnel, lead_id: str, steps: list[tuple[str, float]], *,
          attributes: dict[str, object] | None = None) -> tuple[Lead, list[Transition]]:
    lead = f.new_lead(lead_id, at=T0, attributes=attributes, source=Source.of("web"))
    moves = []
    for event, days in steps:
        outcome = f.fire(lead, event, at=T0 + days * DAY)
        lead = outcome.lead
        moves.append(outcome.transition)
    return lead, moves


def test_attribution_reads_touchpoints_within_the_lookback() -> None:
    """Touches older than the lookback or after the conversion are not credited."""
    f = _funnel()
    a, ma = _lead(f, "A", [("qualify", 40), ("hand", 41), ("win", 50)], attributes={"amount": 10})
    b, mb = _lead(f, "B", [("qualify", 2)])
    touches = [Touchpoint("A", "visit", "ads", T0), Touchpoint("A", "email", "email", T0 + 45 * DAY),
               Touchpoint("A", "call", "call", T0 + 49 * DAY),
               Touchpoint("A", "visit", "late", T0 + 55 * DAY),
               Touchpoint("B", "visit", "ads", T0 + DAY)]
    log = FunnelLog(f, leads=[a, b], transitions=ma + mb, touchpoints=touches,
                    as_of=T0 + 60 * DAY)
    last = log.attribution("last", lookback="30 days")
    assert last.credit == {"call": 1.0, "email": 0.0}
    assert (last.conversions, last.unattributed, last.paths) == (1.0, 0, 2)
    assert log.attribution("first", lookback="60 days").credit["ads"] == 1.0
    assert log.attribution("linear", lookback="30 days", value="amount").credit == pytest.approx(
        {"call": 5.0, "email": 5.0})
    w = log.attribution("w_shaped", milestones=("mql", "sql"))
    assert sum(w.credit.values()) == pytest.approx(1.0)
    assert log.attribution("last", lookback="12 hours").unattributed == 1
    json_ready = log.attribution("markov").to_dict()
    assert set(json_ready) >= {"credit", "conversions", "removal_effects"}


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"model": "nope"}, "not an attribution model"),
    ({"model": "last", "lookback": "-3 days"}, "lookback"),
    ({"model": "last", "half_life": 0}, "half_life"),
    ({"model": "last", "conversion": "wonn"}, "did you mean"),
    ({"model": "w_shaped"}, "milestones"),
    ({"model": "w_shaped", "milestones": ["mql"]}, "two stages"),
    ({"model": "last", "value": 3}, "value="),
])
def test_attribution_refuses_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    f = _funnel()
    a, ma = _lead(f, "A", [("qualify", 1)])
    log = FunnelLog(f, leads=[a], transitions=ma, as_of=T0 + 9 * DAY)
    model = kwargs.pop("model")
    with pytest.raises(InvalidInput, match=match):
        log.attribution(model, **kwargs)  # type: ignore[arg-type]


def test_attribution_refuses_a_converted_lead_without_value() -> None:
    f = _funnel()
    a, ma = _lead(f, "A", [("qualify", 1), ("hand", 2), ("win", 3)])
    log = FunnelLog(f, leads=[a], transitions=ma,
                    touchpoints=[Touchpoint("A", "visit", "ads", T0)], as_of=T0 + 9 * DAY)
    with pytest.raises(InvalidInput, match="has no value"):
        log.attribution("last", value="amount")


# -- the Markov model ----------------------------------------------------------------------------------

# The synthetic funnel of the accuracy tests: known move probabilities, exponential stays.
MOVES = {"new": {"mql": 0.6, "lost": 0.4}, "mql": {"sql": 0.7, "lost": 0.3},
         "sql": {"won": 0.5, "lost": 0.5}}
MEANS = {"new": 5.0, "mql": 10.0, "sql": 20.0}
TRUE_WIN = {"sql": 0.5, "mql": 0.35, "new": 0.21}


def _synthetic(n: int, seed: int) -> FunnelLog:
    f = _funnel()
    event = {"mql": "qualify", "sql": "hand", "won": "win", "lost": "lose"}
    rng = random.Random(seed)
    as_of = T0 + 150 * DAY
    leads, moves = [], []
    for i in range(n):
        at = T0 + rng.uniform(0, 150) * DAY
        lead = f.new_lead(f"L{i}", at=at)
        while lead.stage in MOVES:
            at += rng.expovariate(1 / MEANS[lead.stage]) * DAY
            if at > as_of:
                break
            targets = MOVES[lead.stage]
            nxt = rng.choices(list(targets), list(targets.values()))[0]
            outcome = f.fire(lead, event[nxt], at=at)
            lead = outcome.lead
            moves.append(outcome.transition)
        leads.append(lead)
    return FunnelLog(f, leads=leads, transitions=moves, as_of=as_of)


@pytest.fixture(scope="module")
def synthetic() -> FunnelLog:
    return _synthetic(100_000, seed=9)


def test_win_probability_recovers_the_truth_where_counting_open_as_lost_does_not(
        synthetic: FunnelLog) -> None:
    """100,000 leads, many still open: within 2% of the true win probabilities."""
    model = MarkovModel.fit(synthetic)
    for stage, truth in TRUE_WIN.items():
        assert model.win_probability(stage) == pytest.approx(truth, rel=0.02), stage
    won = synthetic.time_to_outcome().won
    naive = won / len(synthetic.leads)  # open leads counted as lost
    assert abs(naive - TRUE_WIN["new"]) / TRUE_WIN["new"] > 0.1
    assert model.win_probability("won") == 1.0
    assert model.win_probability("lost") == 0.0


def test_forecast_of_the_open_pipeline(synthetic: FunnelLog) -> None:
    """Expected wins are the sum of win probabilities, within 2% of the truth."""
    model = MarkovModel.fit(synthetic)
    open_leads = [lead for lead in synthetic.leads if lead.stage in MOVES]
    forecast = model.forecast(open_leads, runs=2000, seed=1)
    truth = sum(TRUE_WIN[lead.stage] for lead in open_leads)
    assert forecast.expected_wins == pytest.approx(
        sum(model.win_probability(lead.stage) for lead in open_leads))
    assert forecast.expected_wins == pytest.approx(truth, rel=0.02)
    p10, p50, p90 = forecast.wins
    assert p10 <= p50 <= p90
    assert p10 < forecast.expected_wins < p90
    assert model.forecast(open_leads, runs=2000, seed=1) == forecast  # seeded
    counting_open_as_lost = sum(1 for lead in open_leads if lead.stage == "won")
    assert abs(counting_open_as_lost - truth) / truth > 0.5


def test_forecast_within_a_horizon_matches_the_closed_form() -> None:
    """One stage, exponential stay: P(won within h) = q (1 - exp(-h / mean))."""
    f = _funnel()
    rng = random.Random(4)
    leads, moves = [], []
    for i in range(20_000):
        lead = f.new_lead(f"L{i}", at=T0)
        lead = f.fire(lead, "qualify", at=T0).lead
        o1 = f.fire(lead, "hand", at=T0)
        lead = o1.lead
        at = T0 + rng.expovariate(1 / 10) * DAY
        o2 = f.fire(lead, "win" if rng.random() < 0.5 else "lose", at=at)
        leads.append(o2.lead)
        moves += [Transition(f"L{i}", "qualify", "new", "mql", T0, version=1), o1.transition,
                  o2.transition]
    log = FunnelLog(f, leads=leads, transitions=moves, as_of=T0 + 400 * DAY)
    model = MarkovModel.fit(log)
    probe = [Lead("P", "sql", created_at=T0)]
    within = model.forecast(probe, runs=10, seed=0, horizon="10 days").expected_wins
    assert within == pytest.approx(0.5 * (1 - math.exp(-1)), abs=0.01)
    assert model.forecast(probe, runs=10, seed=0).expected_wins == pytest.approx(0.5, abs=0.01)


def test_model_inspection(synthetic: FunnelLog) -> None:
    """Visits, mean stays, time to close and the matrix read the fitted chain."""
    model = MarkovModel.fit(synthetic)
    visits = model.expected_visits("new")
    assert visits["new"] == pytest.approx(1.0)
    assert visits["mql"] == pytest.approx(0.6, rel=0.02)
    stay = model.mean_stay("sql")
    assert stay is not None
    assert stay / DAY == pytest.approx(20, rel=0.1)
    close = model.expected_time_to_close("new")
    assert close is not None
    assert close / DAY == pytest.approx(5 + 0.6 * 10 + 0.42 * 20, rel=0.1)
    assert sum(model.matrix()["mql"].values()) == pytest.approx(1.0)


def test_stall_after_absorbs_idle_leads() -> None:
    """With stall_after, long stays end in 'stalled' and lower the win probability."""
    log = _synthetic(5000, seed=3)
    stalled = MarkovModel.fit(log, stall_after="15 days")
    assert "stalled" in stalled.matrix()["sql"]
    assert stalled.win_probability("sql") < MarkovModel.fit(log).win_probability("sql")
    assert stalled.win_probability("stalled") == 0.0


def test_what_if(synthetic: FunnelLog) -> None:
    """A better move, more arrivals or a capped team change the forecast in the right way."""
    model = MarkovModel.fit(synthetic)
    leads = [lead for lead in synthetic.leads if lead.stage in MOVES]
    better = model.what_if(leads, move=("sql", "won", 0.8), runs=500, seed=2)
    assert better.scenario.expected_wins > better.today.expected_wins
    more = model.what_if(leads, new_leads=2.0, horizon="60 days", runs=200, seed=2)
    assert more.scenario.expected_wins > more.today.expected_wins > 0
    capped = model.what_if(leads, capacity=("sales", 10), horizon="60 days", runs=200, seed=2)
    assert capped.scenario.expected_wins < capped.today.expected_wins
    assert set(capped.to_dict()) == {"today", "scenario", "changes"}
    with pytest.raises(InvalidInput, match="needs horizon"):
        model.what_if(leads, new_leads=2.0, seed=1)
    with pytest.raises(InvalidInput, match="owns no stage"):
        model.what_if(leads, capacity=("legal", 3), horizon="30 days", seed=1)
    with pytest.raises(InvalidInput, match="from 0 to 1"):
        model.what_if(leads, move=("sql", "won", 1.5), seed=1)


def test_forecast_refuses_bad_input(synthetic: FunnelLog) -> None:
    model = MarkovModel.fit(synthetic)
    closed = next(lead for lead in synthetic.leads if lead.stage == "won")
    with pytest.raises(InvalidInput, match="already closed"):
        model.forecast([closed], seed=1)
    with pytest.raises(InvalidInput, match="seed="):
        model.forecast([], seed="x")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="runs="):
        model.forecast([], seed=1, runs=0)
    with pytest.raises(InvalidInput, match="no value"):
        model.forecast([Lead("P", "sql", created_at=T0)], seed=1, value="amount")
    with pytest.raises(InvalidInput, match="FunnelLog or SqlLog"):
        MarkovModel.fit("log")  # type: ignore[arg-type]


def test_forecast_value_quantiles() -> None:
    log = _synthetic(3000, seed=5)
    model = MarkovModel.fit(log)
    leads = [Lead(f"P{i}", "sql", created_at=T0, attributes={"amount": 100 * (i % 3 + 1)})
             for i in range(300)]
    forecast = model.forecast(leads, runs=1000, seed=3, value="amount")
    assert forecast.expected_value == pytest.approx(
        model.win_probability("sql") * sum(100 * (i % 3 + 1) for i in range(300)))
    assert forecast.value is not None
    assert forecast.value[0] <= forecast.value[1] <= forecast.value[2]


@pytest.mark.parametrize(("n", "p"), [(5, 0.3), (40, 0.1), (1000, 0.3), (500, 0.9), (10, 1.0)])
def test_binomial_draws_have_the_right_moments(n: int, p: float) -> None:
    rng = random.Random(7)
    draws = [binomial(rng, n, p) for _ in range(20_000)]
    mean = sum(draws) / len(draws)
    var = sum((d - mean) ** 2 for d in draws) / len(draws)
    assert mean == pytest.approx(n * p, rel=0.02, abs=0.02)
    assert var == pytest.approx(n * p * (1 - p), rel=0.06, abs=0.02)
    assert all(0 <= d <= n for d in draws)


def test_binomial_pmf_for_a_small_n() -> None:
    """Frequencies of Binomial(6, 0.35) within 1% of the exact probabilities."""
    rng = random.Random(8)
    runs = 200_000
    counts = [0] * 7
    for _ in range(runs):
        counts[binomial(rng, 6, 0.35)] += 1
    for k in range(7):
        exact = math.comb(6, k) * 0.35**k * 0.65 ** (6 - k)
        assert counts[k] / runs == pytest.approx(exact, abs=0.01)


# -- backtest -----------------------------------------------------------------------------------------


def test_backtest_by_hand() -> None:
    """A stricter policy loses a converted lead; a looser one gains an estimated conversion."""
    f = _funnel()
    journeys = [
        _lead(f, "A", [("qualify", 1), ("hand", 2), ("win", 3)], attributes={"budget": 50}),
        _lead(f, "B", [("qualify", 1), ("hand", 2), ("lose", 3)], attributes={"budget": 5}),
        _lead(f, "C", [("qualify", 1), ("hand", 2), ("win", 3)], attributes={"budget": 8}),
        _lead(f, "D", [("lose", 2)], attributes={"budget": 30}),
        _lead(f, "E", [], attributes={"budget": 1}),
    ]
    log = FunnelLog(f, leads=[x for x, _ in journeys], transitions=[t for _, m in journeys for t in m],
                    as_of=T0 + 9 * DAY)

    def budget(lead: Lead, context: object) -> Decision:
        amount = lead.attributes["budget"]
        return Decision.allow(policy="budget", score=amount) if amount >= 10 else Decision.deny(
            "small budget", policy="budget", score=amount)

    result = backtest(log, event="qualify", policy=budget)
    assert result.candidates == 5
    assert (result.both.leads, result.both.converted) == (1, 1)          # A
    assert (result.old_only.leads, result.old_only.converted) == (2, 1)  # B, C: C is lost
    assert result.new_only.leads == 1                                     # D
    assert result.neither.leads == 1                                      # E
    assert result.new_only.estimated is not None
    assert 0 <= result.new_only.estimated <= 1
    assert "band" in result.assumption
    as_rule = backtest(log, event="qualify", policy="budget >= 10")
    assert as_rule.new_passed == result.new_passed
    with pytest.raises(InvalidInput, match="not an event"):
        backtest(log, event="qualfy", policy=budget)


def test_backtest_wraps_a_failing_policy() -> None:
    f = _funnel()
    a, ma = _lead(f, "A", [("qualify", 1)])
    log = FunnelLog(f, leads=[a], transitions=ma, as_of=T0 + 9 * DAY)

    def broken(lead: Lead, context: object) -> Decision:
        raise KeyError("budget")

    with pytest.raises(PolicyFailed, match="raised .* for lead 'A'"):
        backtest(log, event="qualify", policy=broken)


def test_backtest_refuses_a_policy_that_answers_no_decision_as_fire_does() -> None:
    f = _funnel()
    a, ma = _lead(f, "A", [("qualify", 1)])
    log = FunnelLog(f, leads=[a], transitions=ma, as_of=T0 + 9 * DAY)
    with pytest.raises(InvalidPolicy, match=r"must return a funnelkit.Decision \(Decision"):
        backtest(log, event="qualify", policy=lambda lead, context: True)
