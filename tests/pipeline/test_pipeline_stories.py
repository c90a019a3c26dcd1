"""The seeds' stories, end to end: warming, handoffs over a weekend, rejection feedback, SLAs."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from _pipeline_support import (
    FRIDAY_2PM,
    UTC,
    Clock,
    PointsScorer,
    Recorder,
    sales_funnel,
    score_at_least,
)

from funnelkit import Funnel, Lead, Source, Touchpoint, Transition, Veto, routing
from funnelkit.pipeline import Pipeline
from funnelkit.stores import MemoryStore, SQLiteStore, Store

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Each story runs on the MemoryStore and on the SQLite store (JSON payloads, real rows)."""
    made: Store = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "funnel.db")
    yield made
    made.close()


def _pipeline(store: Store, clock: Clock | None = None, **kwargs: Any) -> Pipeline:
    return Pipeline(sales_funnel(qualify=score_at_least(50)), store=store,
                    clock=clock or Clock(), scoring=PointsScorer(), **kwargs)


def _touch(pipeline: Pipeline, lead_id: str, kind: str, points: float) -> tuple[Any, ...]:
    return pipeline.touch(lead_id, Touchpoint(lead_id, kind, "email", pipeline.clock.now(), points=points))


def test_cold_lead_warms_through_touchpoints_until_it_is_an_mql(store: Store) -> None:
    """Touchpoints raise the score; the auto 'qualify' fires by itself once the score reaches 50."""
    pipeline = _pipeline(store)
    pipeline.capture("L1", source=Source.of("webinar"))
    assert _touch(pipeline, "L1", "email_open", 10) == ()
    assert _touch(pipeline, "L1", "webinar", 25) == ()
    assert pipeline.get("L1").stage == "lead"
    (outcome,) = _touch(pipeline, "L1", "demo_request", 20)
    assert outcome.lead.stage == "mql"
    transition = pipeline.history("L1")[0]
    assert (transition.event, transition.actor) == ("qualify", "funnelkit.auto")
    assert transition.decision is not None
    assert transition.decision.score == 55
    assert len(pipeline.touchpoints("L1")) == 3
    assert "score" not in pipeline.get("L1").attributes  # scores are computed, never stored


def test_marketing_hands_to_sales_with_a_four_business_hour_sla_over_a_weekend(store: Store) -> None:
    """The handoff made on Friday 14:00 is due Monday 10:00: 3 hours Friday, 1 hour Monday."""
    pipeline = _pipeline(store, router=routing.by_team({"sdr": routing.round_robin(["sdr-ann"])}))
    recorder = pipeline.register(Recorder())
    pipeline.capture("L1")
    _touch(pipeline, "L1", "demo_request", 60)
    outcome = pipeline.fire("L1", "hand_to_sales")
    assert outcome.team_change == ("marketing", "sdr")
    (handoff,) = pipeline.handoffs(status="pending")
    assert (handoff.from_team, handoff.to_team, handoff.assignee) == ("marketing", "sdr", "sdr-ann")
    assert handoff.due_at == datetime(2026, 3, 9, 10, tzinfo=UTC)
    assert recorder.named("after_handoff") == [handoff.id]


def test_sdr_accepts_and_hands_to_the_closer(store: Store) -> None:
    """The SDR accepts (and owns the lead), then hands it to the closer: a second handoff, 1 business day."""
    clock = Clock()
    pipeline = _pipeline(store, clock)
    recorder = pipeline.register(Recorder())
    pipeline.capture("L1")
    _touch(pipeline, "L1", "demo_request", 60)
    pipeline.fire("L1", "hand_to_sales")
    first = pipeline.handoffs(status="pending")[0]
    clock.advance(minutes=30)
    accepted = pipeline.accept_handoff(first.id, by="sdr-ann")
    assert (accepted.status, accepted.resolved_by, accepted.resolved_at) == ("accepted", "sdr-ann", clock.now())
    assert pipeline.get("L1").owner == "sdr-ann"
    clock.advance(minutes=30)  # Friday 15:00
    pipeline.fire("L1", "hand_to_closer", actor="sdr-ann")
    (second,) = pipeline.handoffs(status="pending")
    assert (second.from_team, second.to_team) == ("sdr", "ae")
    assert second.due_at == datetime(2026, 3, 9, 15, tzinfo=UTC)
    assert recorder.named("after_handoff_accepted") == [first.id]
    assert [t.event for t in pipeline.history("L1")] == [
        "qualify", "hand_to_sales", "funnelkit.accept", "hand_to_closer"]


def test_moving_a_lead_on_accepts_its_pending_handoff(store: Store) -> None:
    """Working the lead without an explicit accept counts as accepting the handoff."""
    pipeline = _pipeline(store)
    recorder = pipeline.register(Recorder())
    pipeline.capture("L1")
    _touch(pipeline, "L1", "demo_request", 60)
    pipeline.fire("L1", "hand_to_sales")
    pipeline.fire("L1", "hand_to_closer", actor="sdr-bo")
    first = pipeline.handoff("L1:2")
    assert (first.status, first.resolved_by) == ("accepted", "sdr-bo")
    assert recorder.named("after_handoff_accepted") == ["L1:2"]


def test_rejected_lead_lands_in_nurture_and_the_rejections_by_source_show_it(store: Store) -> None:
    """Sales rejects the second lead with a reason: it moves to nurture, the reason is on the record."""
    clock = Clock()
    pipeline = _pipeline(store, clock)
    recorder = pipeline.register(Recorder())
    for lead_id, channel in (("L1", "webinar"), ("L2", "paid_search")):
        pipeline.capture(lead_id, source=Source.of(channel))
        _touch(pipeline, lead_id, "demo_request", 60)
        pipeline.fire(lead_id, "hand_to_sales")
    pipeline.accept_handoff("L1:2", by="sdr-ann")
    clock.advance(hours=1)
    rejected = pipeline.reject_handoff("L2:2", by="sdr-ann", reason="no budget this year")
    assert (rejected.status, rejected.reason) == ("rejected", "no budget this year")
    lead = pipeline.get("L2")
    assert lead.stage == "nurture"
    last: Transition = pipeline.history("L2")[-1]
    assert (last.event, last.source, last.target, last.reason, last.actor) == (
        "nurture", "sql", "nurture", "no budget this year", "sdr-ann")
    assert pipeline.handoffs(lead_id="L2") == [rejected]  # the recycle opened no new handoff
    rejections = Counter(
        (pipeline.get(h.lead_id).source.channel, h.reason)  # type: ignore[union-attr]
        for h in pipeline.handoffs(status="rejected")
    )
    assert rejections == {("paid_search", "no budget this year"): 1}
    assert recorder.named("after_handoff_rejected") == [("L2:2", "no budget this year")]


def test_breached_sla_fires_on_sla_breach_exactly_once(store: Store) -> None:
    """A sweep past the due time expires the handoff and calls after_sla_breach; more sweeps do nothing."""
    clock = Clock()
    pipeline = _pipeline(store, clock)
    recorder = pipeline.register(Recorder())
    pipeline.capture("L1")
    _touch(pipeline, "L1", "demo_request", 60)
    pipeline.fire("L1", "hand_to_sales")
    assert pipeline.sweep(datetime(2026, 3, 9, 10, tzinfo=UTC)).expired == ()  # due, not yet breached
    report = pipeline.sweep(datetime(2026, 3, 9, 10, 1, tzinfo=UTC))
    assert [h.id for h in report.expired] == ["L1:2"]
    assert pipeline.handoff("L1:2").status == "expired"
    again = pipeline.sweep(datetime(2026, 3, 9, 10, 1, tzinfo=UTC))
    later = pipeline.sweep(datetime(2026, 3, 20, tzinfo=UTC))
    assert again.expired == later.expired == ()
    assert recorder.named("after_sla_breach") == ["L1:2"]
    with pytest.raises(Exception, match="expired already"):
        pipeline.accept_handoff("L1:2", by="late")


def test_stalled_lead_is_reported_once_and_recycled(store: Store) -> None:
    """A lead 30 days in nurture is stalled: after_stalled once, then the automatic recycle move."""
    clock = Clock()
    pipeline = _pipeline(store, clock)
    recorder = pipeline.register(Recorder())
    pipeline.capture("L1")
    pipeline.fire("L1", "nurture")
    assert pipeline.sweep(FRIDAY_2PM + timedelta(days=29)).stalled == ()
    report = pipeline.sweep(FRIDAY_2PM + timedelta(days=31))
    assert report.stalled == ("L1",)
    assert [o.transition.event for o in report.moved] == ["recycle"]
    assert pipeline.get("L1").stage == "lead"
    assert pipeline.history("L1")[-1].reason.startswith("stalled in 'nurture'")  # type: ignore[union-attr]
    assert pipeline.sweep(FRIDAY_2PM + timedelta(days=31)).stalled == ()
    assert recorder.named("after_stalled") == [("L1", "nurture")]


def test_stalled_without_a_stall_event_is_reported_once_per_stay(store: Store) -> None:
    """Without a stall move, after_stalled still comes once for each stay in the stage."""
    funnel = (Funnel.builder("f").stage("a", "m", stall_after="2 days").stage("b", "m", outcome="won")
              .move("go", "a", "b").build())
    pipeline = Pipeline(funnel, store=store, clock=Clock())
    recorder = pipeline.register(Recorder())
    pipeline.capture("L1")
    for days in (3, 3, 5):
        pipeline.sweep(FRIDAY_2PM + timedelta(days=days))
    assert recorder.named("after_stalled") == [("L1", "a")]


def test_before_hook_veto_leaves_store_and_lead_unchanged(store: Store) -> None:
    """A veto raises to the caller and writes nothing: lead, history, handoffs and outbox as before."""
    pipeline = _pipeline(store)
    pipeline.register(Recorder())
    pipeline.capture("L1", attributes={"credit": "bad"})
    _touch(pipeline, "L1", "demo_request", 60)

    class CreditCheck:
        def before_transition(self, lead: Lead, transition: Transition) -> None:
            if transition.event == "hand_to_sales" and lead.attributes.get("credit") == "bad":
                raise Veto("credit check failed")

    pipeline.register(CreditCheck())
    store = pipeline.store
    before = (store.load("L1"), store.history("L1"), store.handoffs(), store.outbox(undelivered_only=False))
    with pytest.raises(Veto, match="credit check failed") as info:
        pipeline.fire("L1", "hand_to_sales")
    assert info.value.reason == "credit check failed"
    after = (store.load("L1"), store.history("L1"), store.handoffs(), store.outbox(undelivered_only=False))
    assert after == before


def test_failing_after_hook_is_retried_and_delivered_later(store: Store) -> None:
    """An after-hook that fails is recorded, retried with backoff and finally delivered once it works."""
    clock = Clock()
    pipeline = Pipeline(sales_funnel(), store=store, clock=clock, backoff=timedelta(seconds=10))

    class Flaky:
        def __init__(self) -> None:
            self.failures_left = 2
            self.delivered: list[str] = []

        def after_transition(self, transition: Transition, key: str) -> None:
            if self.failures_left:
                self.failures_left -= 1
                raise ConnectionError("CRM is down")
            self.delivered.append(key)

    flaky = pipeline.register(Flaky())
    pipeline.capture("L1")
    outcome = pipeline.fire("L1", "qualify")  # the move itself succeeds
    assert outcome.lead.stage == "mql"
    (row,) = pipeline.store.outbox()
    assert (row.attempts, row.delivered_at) == (1, None)
    assert "CRM is down" in (row.last_error or "")
    assert row.next_attempt_at == FRIDAY_2PM + timedelta(seconds=10)
    assert pipeline.deliver_pending().delivered == 0  # not due yet
    clock.advance(seconds=10)
    assert pipeline.deliver_pending().failed == 1
    (row,) = pipeline.store.outbox()
    assert row.next_attempt_at == clock.now() + timedelta(seconds=20)  # the backoff doubles
    clock.advance(seconds=20)
    assert pipeline.deliver_pending().delivered == 1
    assert flaky.delivered == ["after_transition:L1:1"]
    assert pipeline.store.outbox() == []
    (done,) = pipeline.store.outbox(undelivered_only=False)
    assert done.attempts == 3


def test_row_without_implementation_waits_for_one(store: Store) -> None:
    """A row whose hook lost its implementation is kept and delivered once one is registered."""
    clock = Clock()
    pipeline = Pipeline(sales_funnel(), store=store, clock=clock)

    class Down:
        def after_transition(self) -> None:
            raise RuntimeError("down")

    down = pipeline.register(Down())
    pipeline.capture("L1")
    pipeline.fire("L1", "qualify")
    pipeline.unregister(down)
    clock.advance(hours=2)
    assert pipeline.deliver_pending().failed == 1
    assert "no implementation" in (pipeline.store.outbox()[0].last_error or "")
    recorder = pipeline.register(Recorder())
    clock.advance(hours=2)
    assert pipeline.deliver_pending().delivered == 1
    assert recorder.named("after_transition") == [("L1", "qualify", 1, "after_transition:L1:1")]


def test_a_refused_stall_move_is_tried_again_but_reported_once(store: Store) -> None:
    """When a before-hook vetoes the stall move, later sweeps retry it; after_stalled still comes once."""
    clock = Clock()
    pipeline = _pipeline(store, clock)
    recorder = pipeline.register(Recorder())

    class NotYet:
        def __init__(self) -> None:
            self.block = True

        def before_transition(self, transition: Transition) -> None:
            if self.block and transition.event == "recycle":
                raise Veto("campaign still running")

    gate = pipeline.register(NotYet())
    pipeline.capture("L1")
    pipeline.fire("L1", "nurture")
    first = pipeline.sweep(FRIDAY_2PM + timedelta(days=31))
    assert (first.stalled, first.moved) == (("L1",), ())
    assert pipeline.sweep(FRIDAY_2PM + timedelta(days=32)).stalled == ()
    gate.block = False
    later = pipeline.sweep(FRIDAY_2PM + timedelta(days=33))
    assert [o.transition.event for o in later.moved] == ["recycle"]
    assert recorder.named("after_stalled") == [("L1", "nurture")]
    assert pipeline.get("L1").stage == "lead"
