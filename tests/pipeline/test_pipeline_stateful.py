"""A Hypothesis state machine: random calls and crashing hooks never lose or duplicate a move.

Every call that changes a lead (fire, touch, assign, accepting and rejecting handoffs, sweeps
that expire, escalate or report) leaves exactly the records the model expects in its history,
the stored version is the length of that history, and ``Pipeline.replay`` finds nothing wrong.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from _pipeline_support import Clock, PointsScorer, sales_funnel, score_at_least
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from funnelkit import Escalation, FunnelError, Lead, Source, Touchpoint, Transition, routing
from funnelkit._core.reserved import AUDIT_EVENTS
from funnelkit.pipeline import Pipeline
from funnelkit.stores import MemoryStore, SQLiteStore, Store

IDS = ("A", "B", "C")
FUNNEL = sales_funnel(qualify=score_at_least(50))
EVENTS = FUNNEL.events
# hand_to_sales escalates twice (to a manager in turn) before it expires; hand_to_closer expires.
ESCALATIONS = {"hand_to_sales": Escalation(router=routing.round_robin(["mgr-maria", "mgr-max"]))}
SWEEP_RECORDS = {"funnelkit.expire", "funnelkit.escalate", "funnelkit.stall"}


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

    def after_stalled(self, key: str) -> None:
        """Watching stalls: a stall move a crashing before-hook refuses is reported (recorded)."""


class PipelineMachine(RuleBasedStateMachine):
    """Drives one pipeline; the model is the list of (event, version) each lead should have."""

    @initialize()
    def start(self) -> None:
        self.clock = Clock()
        self.store = self.make_store()
        self.pipeline = Pipeline(FUNNEL, store=self.store, clock=self.clock, scoring=PointsScorer(),
                                 backoff=timedelta(minutes=1), max_backoff=timedelta(minutes=10),
                                 escalations=ESCALATIONS)
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
            self.model[handoff.lead_id].append(("funnelkit.reject", before.version + 1))
            self.model[handoff.lead_id].append(("nurture", before.version + 2))
        else:
            after = self.store.load(handoff.lead_id)
            assert (after.stage, after.owner) == (before.stage, "rep")
            self.model[handoff.lead_id].append(("funnelkit.accept", before.version + 1))

    @precondition(lambda self: self.model)
    @rule(data=st.data(), owner=st.sampled_from(["ann", "bob"]))
    def assign(self, data: st.DataObject, owner: str) -> None:
        lead_id = data.draw(st.sampled_from(sorted(self.model)))
        before = self.store.load(lead_id)
        pending = self.pipeline.handoffs(status="pending", lead_id=lead_id)
        lead = self.pipeline.assign(lead_id, owner, by="admin", reason="rebalancing")
        assert (lead.stage, lead.version, lead.owner) == (before.stage, before.version + 1, owner)
        assert [self.pipeline.handoff(h.id).assignee for h in pending] == [owner] * len(pending)
        self.model[lead_id].append(("funnelkit.assign", lead.version))

    @rule(hours=st.integers(min_value=0, max_value=24 * 40))
    def sweep(self, hours: int) -> None:
        report = self.pipeline.sweep(self.clock.advance(hours=hours))
        moves = {o.transition for o in report.moved}
        records: list[Transition] = []
        for lead_id, known in self.model.items():
            new = self.store.history(lead_id)[len(known):]
            for t in new:  # each a stall move the report names, or a record by the sweep
                assert t in moves or (t.event in SWEEP_RECORDS and t.actor == "funnelkit.sweep")
            records.extend(t for t in new if t not in moves)
            self._record(lead_id, new)
        assert len(moves) == len(report.moved)
        assert sum(t.event == "funnelkit.expire" for t in records) == len(report.expired)
        assert sum(t.event == "funnelkit.escalate" for t in records) == len(report.escalated)
        for handoff in report.escalated:  # still pending, with a manager, due after the sweep
            assert handoff.is_pending
            assert handoff.assignee in {"mgr-maria", "mgr-max"}
            assert handoff.due_at is not None
            assert handoff.due_at > self.clock.now()
        again = self.pipeline.sweep(self.clock.now())
        assert (again.expired, again.stalled, again.moved, again.escalated) == ((), (), (), ())

    @rule(before=st.booleans(), after=st.booleans())
    def hooks_crash(self, before: bool, after: bool) -> None:
        self.hooks.crash_before, self.hooks.crash_after = before, after

    @rule()
    def heal_and_deliver(self) -> None:
        self.hooks.crash_before = self.hooks.crash_after = False
        self.pipeline.deliver_pending(now=self.clock.advance(hours=1))
        assert self.store.outbox() == []
        expected = {f"after_transition:{lead_id}:{version}"
                    for lead_id, moves in self.model.items() for event, version in moves
                    if event not in AUDIT_EVENTS}
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
            assert lead.version == len(self.model[lead_id])  # one version per record, no more
        report = self.pipeline.verify_history()
        assert report.ok, report.mismatches
        assert report.transitions == sum(len(moves) for moves in self.model.values())

    @invariant()
    def at_most_one_pending_handoff_per_lead_at_its_version(self) -> None:
        if not hasattr(self, "model"):
            return
        for lead_id, records in self.model.items():
            pending = self.pipeline.handoffs(status="pending", lead_id=lead_id)
            assert len(pending) <= 1
            moves = [version for event, version in records if event not in AUDIT_EVENTS]
            for handoff in pending:  # made by the lead's last move: only audit records since
                assert handoff.version == moves[-1]
                escalations = [e for e, v in records if e == "funnelkit.escalate" and v > handoff.version]
                assert len(escalations) <= ESCALATIONS["hand_to_sales"].max_level


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
