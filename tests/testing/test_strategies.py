"""funnelkit.testing.strategies: valid data, Hypothesis-style arguments, errors at the call."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import errors as hypothesis_errors
from hypothesis import strategies as st

from funnelkit import (
    Decision,
    Funnel,
    FunnelError,
    Lead,
    PolicyRefused,
    Source,
    Touchpoint,
    templates,
)
from funnelkit.testing import assert_funnel_ok
from funnelkit.testing import strategies as fst

INBOUND = templates.inbound()


@given(fst.sources())
def test_sources_have_their_usual_kind(source):
    """sources() draws well-known channels with the kind Source.of gives them."""
    assert isinstance(source, Source)
    assert source == Source.of(source.channel)
    assert source.kind in {"seed", "net", "spear"}


@given(fst.sources(channels=st.just("podcast")))
def test_sources_take_a_channel_strategy(source):
    """An unknown channel gets kind None."""
    assert source == Source("podcast", None)


@given(fst.leads())
def test_leads_are_new_leads_of_the_inbound_template_by_default(lead):
    """Default leads are version 0 in the inbound template's initial stage, with aware times."""
    assert isinstance(lead, Lead)
    assert (lead.stage, lead.version) == ("subscriber", 0)
    assert lead.created_at.tzinfo is not None
    assert lead.id.startswith("L")


@given(fst.leads(funnel=templates.temperature(), ids=st.just("X"),
                 attributes=st.just({"budget": 1}), sources=st.just(Source.of("referral")),
                 owners=st.just("ae-1"),
                 created_at=st.just(datetime(2026, 1, 1, tzinfo=UTC))))
def test_leads_use_every_strategy_given(lead):
    """Each argument controls its field."""
    assert (lead.id, lead.stage, dict(lead.attributes), lead.source.kind, lead.owner) == (
        "X", "cold", {"budget": 1}, "seed", "ae-1")


@given(fst.touchpoints(lead_ids=st.just("L9"), kinds=st.just("webinar"), points=st.just(5.0)))
def test_touchpoints(tp):
    """touchpoints() builds valid Touchpoints from its strategies."""
    assert isinstance(tp, Touchpoint)
    assert (tp.lead_id, tp.kind, tp.points) == ("L9", "webinar", 5.0)
    assert tp.at.tzinfo is not None


@given(st.data())
def test_event_sequences_fire_cleanly_from_the_initial_stage(data):
    """Every drawn sequence fires without error: valid events, reasons exactly where needed."""
    funnel = data.draw(st.sampled_from([templates.inbound(), templates.demand_waterfall(),
                                        templates.temperature()]))
    steps = data.draw(fst.event_sequences(funnel, min_size=1, max_size=15))
    assert 1 <= len(steps) <= 15
    lead = funnel.new_lead("L1", at=datetime(2026, 3, 2, tzinfo=UTC))
    for event, reason in steps:
        needs = funnel.requires_reason(lead.stage, event)
        assert (reason is not None) == needs
        lead = funnel.fire(lead, event, at=lead.updated_at, reason=reason).lead


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_event_sequences_on_generated_funnels(data):
    """On any funnel funnels() draws, sequences stay valid and reach min_size when possible."""
    funnel = data.draw(fst.funnels())
    try:
        steps = data.draw(fst.event_sequences(funnel, min_size=2, max_size=6))
    except fst.InvalidArgument:
        return  # a funnel too short for two moves: refused at the call, as documented
    assert 2 <= len(steps) <= 6
    lead = funnel.new_lead("L1", at=datetime(2026, 3, 2, tzinfo=UTC))
    for event, reason in steps:
        lead = funnel.fire(lead, event, at=lead.updated_at, reason=reason).lead


@given(fst.event_sequences(INBOUND, start="nurture", min_size=1, max_size=1))
def test_event_sequences_can_start_elsewhere(steps):
    """start= walks from another stage."""
    assert steps[0][0] in INBOUND.events_from("nurture")


def _never(lead, context):
    return Decision.deny("never", policy="never")


GUARDED = templates.inbound(policies={"qualify": _never})


@given(fst.event_sequences(GUARDED, max_size=10, guarded=False))
def test_unguarded_sequences_avoid_policies(steps):
    """guarded=False draws only moves no policy guards, so nothing is refused."""
    lead = GUARDED.new_lead("L1", at=datetime(2026, 3, 2, tzinfo=UTC))
    for event, reason in steps:
        assert event != "qualify"
        lead = GUARDED.fire(lead, event, at=lead.updated_at, reason=reason).lead


@given(fst.event_sequences(GUARDED, max_size=10))
def test_guarded_moves_are_drawn_and_may_be_refused(steps):
    """By default guarded moves are drawn; firing them may raise PolicyRefused, as documented."""
    lead = GUARDED.new_lead("L1", at=datetime(2026, 3, 2, tzinfo=UTC))
    for event, reason in steps:
        try:
            lead = GUARDED.fire(lead, event, at=lead.updated_at, reason=reason).lead
        except PolicyRefused:
            assert event == "qualify"
            return


def test_guarded_sequences_do_reach_guarded_moves():
    """Some default sequence contains the guarded move."""
    assert ("qualify", None) in find(fst.event_sequences(GUARDED), lambda s: ("qualify", None) in s)


TERMINAL = (Funnel.builder("short").stage("a", "marketing").stage("b", "sales")
            .stage("won", "sales", outcome="won").move("go", "a", "b").move("win", "b", "won").build())
TERMINAL_GUARDED = (Funnel.builder("short").stage("a", "marketing").stage("b", "sales")
                    .stage("won", "sales", outcome="won").move("go", "a", "b")
                    .move("win", "b", "won", policy=_never).build())


@pytest.mark.parametrize(("call", "message"), [
    (lambda: fst.event_sequences(INBOUND, min_size=3, max_size=1), "min_size is larger than max_size"),
    (lambda: fst.event_sequences(INBOUND, min_size=-1), "min_size=-1 must be >= 0"),
    (lambda: fst.event_sequences(INBOUND, min_size=1.5), "must be an int"),
    (lambda: fst.event_sequences(INBOUND, max_size="3"), "must be an int or None"),
    (lambda: fst.event_sequences(TERMINAL, min_size=3), "allows at most 2 moves from 'a'"),
    (lambda: fst.event_sequences(TERMINAL_GUARDED, min_size=2, guarded=False), "at most 1 unguarded moves"),
    (lambda: fst.event_sequences(INBOUND, start="nowhere"), "start='nowhere' is not a stage"),
    (lambda: fst.event_sequences("inbound"), "is not a funnelkit.Funnel"),
    (lambda: fst.event_sequences(INBOUND, reasons="because"), "not a Hypothesis strategy"),
    (lambda: fst.event_sequences(INBOUND, guarded="yes"), "must be True or False"),
    (lambda: fst.funnels(min_stages=1), "at least 2 stages"),
    (lambda: fst.funnels(min_stages=5, max_stages=3), "min_stages is larger than max_stages"),
    (lambda: fst.funnels(teams=["sales"]), "not a Hypothesis strategy"),
    (lambda: fst.leads(funnel="inbound"), "not a funnelkit.Funnel"),
    (lambda: fst.leads(attributes={"budget": 1}), "wrap a fixed value"),
    (lambda: fst.touchpoints(kinds="webinar"), "not a Hypothesis strategy"),
    (lambda: fst.sources(channels="referral"), "not a Hypothesis strategy"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_impossible_arguments_fail_at_the_call(call, message):
    """Bad arguments raise InvalidArgument when the strategy is built, not when drawn."""
    with pytest.raises(fst.InvalidArgument, match=message) as info:
        call()
    assert isinstance(info.value, FunnelError)
    assert isinstance(info.value, hypothesis_errors.InvalidArgument)


def test_terminal_walk_with_exact_length():
    """A funnel with no loop allows sequences up to its longest path, and no longer."""
    assert find(fst.event_sequences(TERMINAL, min_size=2), lambda s: True) == [("go", None), ("win", None)]


@given(fst.funnels(min_stages=2, max_stages=12, teams=st.sampled_from(["sdr", "ae"])))
def test_funnels_are_valid_and_within_bounds(funnel):
    """funnels() draws valid funnels of the requested size, with the given teams."""
    assert 2 <= len(funnel.stages) <= 12
    assert set(funnel.teams) <= {"sdr", "ae"}
    assert funnel.stage(funnel.initial).is_open
    assert_funnel_ok(funnel)
    assert Funnel.from_dict(funnel.to_dict()) == funnel


def test_funnels_include_handoffs_and_backward_moves():
    """Some drawn funnels cross teams and move backwards."""
    f = find(fst.funnels(), lambda f: any(m.backward for m in f.moves) and len(f.teams) > 1)
    assert any(m.backward for m in f.moves)
