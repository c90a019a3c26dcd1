"""score_at_least and fit_engagement_grid over a ScoringModel's Score."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from _policy_support import AT, context, lead
from hypothesis import given
from hypothesis import strategies as st

from funnelkit import InvalidPolicy, Touchpoint
from funnelkit.policies import fit_engagement_grid, from_name, score_at_least
from funnelkit.scoring import EngagementRule, FitRule, LedgerEntry, Score, ScoringModel

MODEL = ScoringModel([FitRule("industry == 'saas'", 60)], [EngagementRule(20, kind="webinar")])


def score(fit: float, engagement: float) -> Score:
    """A Score with one fit and one engagement entry."""
    return Score(float(fit), float(engagement), float(fit + engagement),
                 (LedgerEntry("f", "fit", fit, fit), LedgerEntry("e", "engagement", engagement, engagement)))


def test_score_at_least_reads_the_context_score() -> None:
    """The threshold applies to the chosen part of the context's Score, which the decision carries."""
    d = score_at_least(50)(lead(), context(score=score(30, 25)))
    assert d.allowed
    assert d.score == 55.0
    d = score_at_least(50, score="fit")(lead(), context(score=score(30, 25)))
    assert not d.allowed
    assert d.reasons == ("fit score >= 50: the fit score is 30",)


def test_score_at_least_scores_with_its_model() -> None:
    """Without a Score in the context, a policy built with model= scores the lead itself."""
    policy = score_at_least(70, model=MODEL)
    touch = Touchpoint("L1", "webinar", "email", AT - timedelta(days=1))
    assert policy(lead({"industry": "saas"}), context([touch])).allowed
    assert not policy(lead({"industry": "saas"}), context()).allowed


def test_no_score_is_unknown() -> None:
    """With neither a Score nor a model the verdict is unknown, with a reason saying what to pass."""
    d = score_at_least(1)(lead(), context())
    assert not d.allowed
    assert d.criteria[0].status == "unknown"
    assert "Context(score=...)" in d.reasons[0]
    assert fit_engagement_grid()(lead(), context()).criteria[0].status == "unknown"


@given(st.floats(0, 200), st.floats(0, 200))
def test_grid_cells_follow_the_thresholds(fit: float, engagement: float) -> None:
    """The fit letter and engagement number come from the descending thresholds."""
    grid = fit_engagement_grid(fit=(75, 50, 25), engagement=(60, 40, 20))
    s = score(round(fit), round(engagement))
    cell = grid.cell(s)
    letter = "A" if s.fit >= 75 else "B" if s.fit >= 50 else "C" if s.fit >= 25 else "D"
    number = "1" if s.engagement >= 60 else "2" if s.engagement >= 40 else "3" if s.engagement >= 20 else "4"
    assert cell == letter + number
    assert grid(lead(), context(score=s)).allowed == (cell in {"A1", "A2", "B1"})


def test_grid_explains_the_cell() -> None:
    """A refused grid decision names the cell, the scores and the qualifying cells."""
    d = fit_engagement_grid(qualifying=["A1"])(lead(), context(score=score(60, 10)))
    assert d.reasons == ("fit x engagement: cell B4 (fit 60, engagement 10) is not one of A1",)
    assert d.criteria[0].evidence == "B4"


@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        (lambda: score_at_least(float("nan")), "finite"),
        (lambda: score_at_least(float("inf")), "finite"),
        (lambda: score_at_least("50"), "finite"),
        (lambda: score_at_least(5, score="fitness"), "one of total, fit, engagement"),
        (lambda: score_at_least(5, model="m"), "ScoringModel"),
        (lambda: fit_engagement_grid(fit=(10, 50, 25)), "descending"),
        (lambda: fit_engagement_grid(fit=(10, 5)), "three"),
        (lambda: fit_engagement_grid(engagement=(9, 5, float("nan"))), "finite"),
        (lambda: fit_engagement_grid(qualifying=["E1"]), "cells are"),
        (lambda: fit_engagement_grid(qualifying=[]), "at least one"),
    ],
)
def test_bad_parameters_are_refused_when_built(build: Any, fragment: str) -> None:
    """NaN, infinite or mistyped thresholds and impossible cells raise InvalidPolicy when built."""
    with pytest.raises(InvalidPolicy, match=fragment):
        build()


def test_data_forms_round_trip() -> None:
    """Score policies write data that from_name() rebuilds equal, models included."""
    for policy in (score_at_least(40, score="engagement", model=MODEL),
                   fit_engagement_grid(qualifying=["A1", "B2"], fit=(90, 60, 30), model=MODEL),
                   score_at_least(10), fit_engagement_grid()):
        data = policy.to_data()
        assert from_name(data["use"], **data["params"]) == policy
    assert repr(score_at_least(40, score="fit")) == "score_at_least(40, score='fit')"
    assert repr(fit_engagement_grid(qualifying="A1")) == "fit_engagement_grid(qualifying=['A1'])"


def test_reprs_read_as_the_calls_that_build_them() -> None:
    """Each repr is the factory call, with no stray comma whichever arguments were given."""
    assert repr(fit_engagement_grid()) == "fit_engagement_grid()"
    assert repr(fit_engagement_grid(model=MODEL)) == "fit_engagement_grid(model=...)"
    assert (repr(fit_engagement_grid(qualifying="A1", model=MODEL))
            == "fit_engagement_grid(qualifying=['A1'], model=...)")
    assert repr(score_at_least(40, model=MODEL)) == "score_at_least(40, model=...)"


def test_a_bare_number_score_is_the_total() -> None:
    """A host scorer returning a plain number counts as the total; fit and engagement are unknown."""
    assert score_at_least(10)(lead(), context(score=12)).allowed
    fit = score_at_least(10, score="fit")(lead(), context(score=12))
    assert fit.criteria[0].status == "unknown"
    assert fit_engagement_grid()(lead(), context(score=99)).criteria[0].status == "unknown"
