"""A Hypothesis state machine: random calls and crashing hooks never lose or duplicate a move."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from _pipeline_support import Clock, PointsScorer, sales_funnel, score_at_least
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from funnelkit import FunnelError, Lead, Source, Touchpoint, Transition
from funnelkit.pipeline import Pipeline
from funnelkit.stores import MemoryStore, SQLiteStore, Store

IDS = ("A", "B", "C")
FUNNEL = sales_funnel(qualify=score_at_least(50))
EVENTS = FUNNEL.events


class Hooks:
    """A before-hook and an after-hook that crash while told to; the after-hook dedupes on key."""

    def __init__(self) -> None:
        self.crash_before = False
        self.crash_after = False
        self.delivered: dict[str, int] = {}

    def before_transition(self, transition: Transition) -> None:
        if self.crash_before:
            raise RuntimeError("before-hook crashed")

    def after_transition(self, transition: Transition, key: str) -> None:
        if self.crash_after:
            raise RuntimeError("after-hook crashed")
        self.delivered[key] = self.delivered.get(key, 0) + 1


class PipelineMachine(RuleBasedStateMachine):
    """Drives one pipeline; the model is the list of (event, version) each lead should have."""

    @initialize()
    def start(self) -> None:
        self.clock = Clock()
        self.store = self.make_store()
        self.pipeline = Pipeline(FUNNEL, store=self.store, clock=self.clock, scoring=PointsScorer(),
                                 backoff=timedelta(minutes=1), max_backoff=timedelta(minutes=10))
        self.hooks = Hooks()
        self.pipeline.register(self.hooks)
        self.model: dict[str, list[tuple[str, int]]] = {}

    def make_store(self) -> Store:
        return MemoryStore()

    def _record(self, lead_id: str, transitions: Any) -> None:
        for t in transitions:
            self.model[lead_id].append((t.event, t.version))

    @rule(lead_id=st.sampled_from(IDS), channel=st.sampled_from(["referral", "paid_search", "outbound"]))
    def capture(self, lead_id: str, channel: str) -> None:
        try:
            self.pipeline.capture(lead_id, source=Source.of(channel))
        except FunnelError:
            assert lead_id in self.model
        else:
            assert lead_id not in self.model
            self.model[lead_id] = []

    @precondition(lambda self: self.model)
    @rule(data=st.data(), points=st.integers(min_value=0, max_value=40))
    def touch(self, data: st.DataObject, points: int) -> None:
        lead_id = data.draw(st.sampled_from(sorted(self.model)))
        outcomes = self.pipeline.touch(lead_id, Touchpoint(lead_id, "email_open", "email", self.clock.now(),
                                                           points=points))
        self._record(lead_id, [o.transition for o in outcomes])

    @precondition(lambda self: self.model)
    @rule(data=st.data(), event=st.sampled_from(EVENTS), reason=st.sampled_from([None, "because"]))
    def fire(self, data: st.DataObject, event: str, reason: str | None) -> None:
        lead_id = data.draw(st.sampled_from(sorted(self.model)))
        try:
            outcome = self.pipeline.fire(lead_id, event, reason=reason)
        except FunnelError:
            return
        self._record(lead_id, [outcome.transition])

    @precondition(lambda self: self.model)
    @rule(data=st.data(), events=st.lists(st.sampled_from(EVENTS), min_size=1, max_size=4))
    def fire_many(self, data: st.DataObject, events: list[str]) -> None:
        items = [(data.draw(st.sampled_from(sorted(self.model))), event) for event in events]
        for result in self.pipeline.fire_many(items, errors="collect"):
            if not isinstance(result, FunnelError):
                self._record(result.lead.id, [result.transition])

    @precondition(lambda self: self.model)
    @rule(data=st.data(), reject=st.booleans())
    def resolve_handoff(self, data: st.DataObject, reject: bool) -> None:
        pending = self.pipeline.handoffs(status="pending")
        if not pending:
            return
        handoff = data.draw(st.sampled_from(pending))
        before = self.store.load(handoff.lead_id)
        try:
            if reject:
                self.pipeline.reject_handoff(handoff.id, by="rep", reason="not now")
            else:
                self.pipeline.accept_handoff(handoff.id, by="rep")
        except FunnelError:
            return
        if reject:
            after = self.store.load(handoff.lead_id)
            assert after.stage == "nurture"
            self.model[handoff.lead_id].append(("nurture", before.version + 1))

    @rule(hours=st.integers(min_value=0, max_value=24 * 40))
    def sweep(self, hours: int) -> None:
        report = self.pipeline.sweep(self.clock.advance(hours=hours))
        for outcome in report.moved:
            self._record(outcome.lead.id, [outcome.transition])
        again = self.pipeline.sweep(self.clock.now())
        assert (again.expired, again.stalled, again.moved) == ((), (), ())

    @rule(before=st.booleans(), after=st.booleans())
    def hooks_crash(self, before: bool, after: bool) -> None:
        self.hooks.crash_before, self.hooks.crash_after = before, after

    @rule()
    def heal_and_deliver(self) -> None:
        self.hooks.crash_before = self.hooks.crash_after = False
        self.pipeline.deliver_pending(now=self.clock.advance(hours=1))
        assert self.store.outbox() == []
        expected = {f"after_transition:{lead_id}:{version}"
                    for lead_id, moves in self.model.items() for _, version in moves}
        assert set(self.hooks.delivered) == expected

    @invariant()
    def histories_match_the_model_and_replay(self) -> None:
        if not hasattr(self, "model"):
            return
        everything: list[Transition] = []
        for lead_id, moves in self.model.items():
            history = self.store.history(lead_id)
            assert [(t.event, t.version) for t in history] == moves  # nothing lost, nothing doubled
            everything.extend(history)
        replayed = FUNNEL.replay(everything)
        for lead_id in self.model:
            lead: Lead = self.store.load(lead_id)
            if lead.version == 0:
                assert lead.stage == FUNNEL.initial
                assert lead_id not in replayed
                continue
            assert replayed[lead_id].problems == ()
            assert (replayed[lead_id].stage, replayed[lead_id].version) == (lead.stage, lead.version)

    @invariant()
    def at_most_one_pending_handoff_per_lead_at_its_version(self) -> None:
        if not hasattr(self, "model"):
            return
        for lead_id in self.model:
            pending = self.pipeline.handoffs(status="pending", lead_id=lead_id)
            assert len(pending) <= 1
            for handoff in pending:
                assert handoff.version == self.store.load(lead_id).version


PipelineMachine.TestCase.settings = settings(
    PipelineMachine.TestCase.settings, stateful_step_count=40, deadline=None
)
TestPipelineMachine = PipelineMachine.TestCase


class SQLitePipelineMachine(PipelineMachine):
    """The same machine on the SQLite store: payloads and handoffs go through real rows."""

    def make_store(self) -> Store:
        return SQLiteStore(":memory:")

    def teardown(self) -> None:
        if hasattr(self, "store"):
            self.store.close()


SQLitePipelineMachine.TestCase.settings = settings(
    PipelineMachine.TestCase.settings,
    max_examples=max(10, PipelineMachine.TestCase.settings.max_examples // 4),
)
TestSQLitePipelineMachine = SQLitePipelineMachine.TestCase
