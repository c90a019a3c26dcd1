"""The estimators against independent references: lifelines, closed forms, known truths."""

from __future__ import annotations

import math
import random
import statistics
import warnings
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from funnelkit import Funnel, InvalidInput
from funnelkit.analytics import FunnelLog, Survival, TimeToOutcome

SECOND = 1_000_000
T0 = datetime(2026, 1, 1, tzinfo=UTC)

stays = st.lists(st.tuples(st.integers(0, 40), st.booleans()), min_size=1, max_size=60)


def _lifelines(durations: list[int], observed: list[bool]) -> object:
    lifelines = pytest.importorskip("lifelines")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lifelines.KaplanMeierFitter().fit(durations, observed)


@given(stays)
def test_kaplan_meier_equals_lifelines(data: list[tuple[int, bool]]) -> None:
    """Survival, at-risk counts, median and percentiles equal lifelines' KaplanMeierFitter."""
    qth_survival_time = pytest.importorskip("lifelines.utils").qth_survival_time
    durations = [d for d, _ in data]
    observed = [e for _, e in data]
    kmf = _lifelines(durations, observed)
    ours = Survival.from_durations([d * SECOND for d, e in data if e],
                                   [d * SECOND for d, e in data if not e])
    sf = kmf.survival_function_["KM_estimate"]  # type: ignore[attr-defined]
    table = kmf.event_table  # type: ignore[attr-defined]
    for t, at_risk, events, censored, s in ours.table:
        x = t.total_seconds()
        assert s == pytest.approx(float(sf.loc[x]), abs=1e-9)
        assert (at_risk, events, censored) == (
            int(table.loc[x, "at_risk"]), int(table.loc[x, "observed"]),
            int(table.loc[x, "censored"]))
    # Levels hit exactly (S = 1/2 in exact arithmetic) are where float products may differ in
    # the last bit; the properties below hold everywhere else.
    for q in (0.5, 0.25, 0.9):
        assume(all(abs(float(v) - (1 - q)) > 1e-9 for v in sf))
        expected = qth_survival_time(1 - q, sf)
        got = ours.percentile(q)
        assert (None if math.isinf(expected) else expected) == (
            None if got is None else got.total_seconds())
    assert ours.median == ours.percentile(0.5)


def test_kaplan_meier_by_hand() -> None:
    """Four stays: ended at 1, 3 and 5 days, one still running at 2 days."""
    day = timedelta(days=1)
    s = Survival.from_durations([1 * day, 3 * day, 5 * day], [2 * day])
    assert [(r[1], r[2], r[3]) for r in s.table] == [(4, 1, 0), (3, 0, 1), (2, 1, 0), (1, 1, 0)]
    assert s.survival(day) == 0.75
    assert s.survival(4 * day) == pytest.approx(0.75 * 0.5)
    assert s.median == 3 * day
    assert s.percentile(0.9) == 5 * day
    assert s.survival(timedelta(0)) == 1.0
    with pytest.raises(InvalidInput):
        s.percentile(1.5)
    with pytest.raises(InvalidInput):
        s.survival(3)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        Survival.from_durations([-1])


def test_aalen_johansen_by_hand() -> None:
    """The cumulative incidence of the hand-worked example in docs/analytics.md."""
    day = 86_400 * SECOND
    # 6 leads: won at 1 and 4 days, lost at 2 days, censored at 3 days, won and lost at 5 days.
    r = TimeToOutcome.from_counts([(day, 1, 0, 0), (2 * day, 0, 1, 0), (3 * day, 0, 0, 1),
                                   (4 * day, 1, 0, 0), (5 * day, 1, 1, 0)])
    # At risk 6, 5, (4: one censored), 3, 2; S before each: 1, 5/6, 4/6, 4/6, 4/9.
    assert r.won_by(timedelta(days=1)) == pytest.approx(1 / 6)
    assert r.lost_by(timedelta(days=2)) == pytest.approx(5 / 6 * 1 / 5)
    assert r.won_by(timedelta(days=4)) == pytest.approx(1 / 6 + 4 / 6 * 1 / 3)
    assert r.won_by(timedelta(days=5)) == pytest.approx(1 / 6 + 2 / 9 + 4 / 9 * 1 / 2)
    assert r.lost_by(timedelta(days=5)) == pytest.approx(1 / 6 + 4 / 9 * 1 / 2)
    assert r.won_by(timedelta(days=5)) + r.lost_by(timedelta(days=5)) == pytest.approx(1.0)
    assert r.median_time_to_win == timedelta(days=4)


def test_aalen_johansen_recovers_known_competing_hazards() -> None:
    """Simulated competing exponentials: the incidence matches the closed form; KM overstates."""
    rng = random.Random(11)
    win, lose, censor = 0.02, 0.03, 0.01  # per day
    rows = []
    for _ in range(40_000):
        tw, tl, tc = rng.expovariate(win), rng.expovariate(lose), rng.expovariate(censor)
        t = min(tw, tl, tc)
        us = round(t * 86_400 * SECOND)
        rows.append((us, int(t == tw), int(t == tl), int(t == tc)))
    r = TimeToOutcome.from_counts(rows)
    for days in (10, 30, 60):
        truth = win / (win + lose) * (1 - math.exp(-(win + lose) * days))
        assert r.won_by(timedelta(days=days)) == pytest.approx(truth, abs=0.01)
    # Treating lost leads as censored (1 - Kaplan-Meier of winning) overstates wins.
    naive = Survival.from_durations([u for u, w, _, _ in rows if w],
                                    [u for u, w, _, _ in rows if not w])
    assert 1 - naive.survival(timedelta(days=60)) > r.won_by(timedelta(days=60)) + 0.1


def test_medians_of_censored_stays_recover_the_truth() -> None:
    """100,000 leads still arriving at as_of: Kaplan-Meier medians are within 2% of the truth,
    where the median of finished stays alone is visibly biased (it misses the long stays)."""
    funnel = (Funnel.builder("expo").stage("a", "m").stage("b", "m")
              .stage("won", "s", outcome="won").move("go", "a", "b").move("win", "b", "won")
              .initial("a").build())
    rng = random.Random(5)
    mean_a, mean_b = 10.0, 25.0  # days
    as_of = T0 + timedelta(days=200)
    leads, moves = [], []
    for i in range(100_000):
        at = T0 + timedelta(days=rng.uniform(0, 200))
        lead = funnel.new_lead(f"L{i}", at=at)
        for event, mean in (("go", mean_a), ("win", mean_b)):
            at += timedelta(days=rng.expovariate(1 / mean))
            if at > as_of:
                break
            outcome = funnel.fire(lead, event, at=at)
            lead = outcome.lead
            moves.append(outcome.transition)
        leads.append(lead)
    log = FunnelLog(funnel, leads=leads, transitions=moves, as_of=as_of)
    for stage, mean in (("a", mean_a), ("b", mean_b)):
        truth = mean * math.log(2)
        km = log.time_in_stage(stage)
        assert km.median is not None
        assert km.median / timedelta(days=1) == pytest.approx(truth, rel=0.02)
        finished = [r[0] / timedelta(days=1) for r in km.table for _ in range(r[2])]
        naive = statistics.median(finished)
        assert naive < truth * 0.96, (stage, naive, truth)  # over twice the 2% allowed above


@given(st.lists(st.integers(0, 2), min_size=1, max_size=40), st.randoms(use_true_random=False))
def test_aalen_johansen_equals_lifelines(kinds: list[int], rnd: random.Random) -> None:
    """On distinct times (lifelines jitters ties), both incidences equal AalenJohansenFitter's."""
    lifelines = pytest.importorskip("lifelines")
    times = rnd.sample(range(1, 1000), len(kinds))
    ours = TimeToOutcome.from_counts([(t * SECOND, int(k == 1), int(k == 2), int(k == 0))
                                      for t, k in zip(times, kinds, strict=True)])
    for event, read in ((1, ours.won_by), (2, ours.lost_by)):
        if event not in kinds:
            assert read(timedelta(seconds=1000)) == 0.0
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ajf = lifelines.AalenJohansenFitter(calculate_variance=False).fit(
                times, kinds, event_of_interest=event)
        cif = ajf.cumulative_density_.iloc[:, 0]
        for t in times:
            assert read(timedelta(seconds=t)) == pytest.approx(float(cif.loc[t]), abs=1e-9)


@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 2)), min_size=1, max_size=50))
def test_incidences_are_monotone_and_never_exceed_one(rows: list[tuple[int, int]]) -> None:
    """Each incidence only grows, and won + lost never exceeds one, ties included."""
    r = TimeToOutcome.from_counts([(t * SECOND, int(k == 1), int(k == 2), int(k == 0))
                                   for t, k in rows])
    previous = (0.0, 0.0)
    for _, won, lost in r.incidence:
        assert won >= previous[0] - 1e-12
        assert lost >= previous[1] - 1e-12
        assert won + lost <= 1 + 1e-12
        previous = (won, lost)
    assert r.n == len(rows)


@given(stays)
def test_survival_only_falls(data: list[tuple[int, bool]]) -> None:
    """S(t) never rises, stays in [0, 1], and at-risk counts fall by what left before."""
    s = Survival.from_durations([d * SECOND for d, e in data if e],
                                [d * SECOND for d, e in data if not e])
    last = 1.0
    expected_risk = len(data)
    for _, at_risk, events, censored, value in s.table:
        assert 0.0 <= value <= last
        assert at_risk == expected_risk
        expected_risk -= events + censored
        last = value
    assert expected_risk == 0
