"""``FunnelStateMachine``: a Hypothesis state machine driving a pipeline, checking invariants."""

from __future__ import annotations

import inspect
import itertools
from collections import Counter
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from funnelkit._core.errors import (
    InvalidInput,
    PolicyRefused,
    ReasonRequired,
    TransitionNotAllowed,
    Veto,
)
from funnelkit._core.handoff import Handoff, handoff_id, turned_down_reason
from funnelkit._core.reserved import ACCEPT_EVENT, ASSIGN_EVENT, AUDIT_EVENTS, REJECT_EVENT
from funnelkit._core.touchpoint import Touchpoint
from funnelkit._definition.funnel import Funnel
from funnelkit.testing import _config
from funnelkit.testing._clock import DEFAULT_START, FrozenClock
from funnelkit.testing._errors import FunnelAssertionError
from funnelkit.testing._format import format_handoff, format_history, format_time
from funnelkit.testing._hooks import HookRecorder
from funnelkit.testing.strategies import _sources

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from datetime import datetime

    from funnelkit._core.lead import Lead, Transition

__all__ = ["FunnelStateMachine", "Snapshot"]

_REASONS = ("not ready to buy", "no budget this year", "wrong contact", "timing")
_PEOPLE = ("sdr-1", "sdr-2", "ae-1")
_PICK = st.integers(min_value=0, max_value=2**31 - 1)
_SOURCES = st.none() | _sources(None)
# A small default (each optional key costs Hypothesis draws at every capture).
_ATTRIBUTES = st.fixed_dictionaries({}, optional={
    "budget": st.integers(min_value=0, max_value=500_000),
    "employees": st.integers(min_value=1, max_value=100_000),
    "industry": st.sampled_from(["software", "retail", "finance", "health"]),
})

T = TypeVar("T")


def _pick(items: Sequence[T], index: int) -> T:
    """The item *index* chooses (modulo the length; Hypothesis shrinks it towards the first)."""
    return items[index % len(items)]


def _picks(pick: int, *sizes: int) -> list[int]:
    """Split one drawn integer into several choices, the i-th below ``sizes[i]``."""
    out = []
    for size in sizes:
        pick, value = divmod(pick, size)
        out.append(value)
    return out


class Snapshot:
    """What the store holds after a step, loaded once for every invariant check.

    ``leads`` maps lead id to :class:`funnelkit.Lead`, ``history`` lead id to its transitions,
    ``handoffs`` handoff id to :class:`funnelkit.Handoff`.
    """

    __slots__ = ("handoffs", "history", "leads")

    def __init__(self, store: Any) -> None:
        """Load everything from *store*."""
        self.leads: dict[str, Lead] = {lead.id: lead for lead in store.leads()}
        self.history: dict[str, list[Transition]] = {i: store.history(i) for i in self.leads}
        self.handoffs: dict[str, Handoff] = {h.id: h for h in store.handoffs()}


def _with_policies(funnel: Funnel, policies: Mapping[str, Any]) -> Funnel:
    events = set(funnel.events)
    unknown = [e for e in policies if e not in events]
    if unknown:
        raise InvalidInput(f"policies names event {unknown[0]!r}, which funnel {funnel.name!r} "
                           f"does "
                           f"not have; events are {', '.join(funnel.events)}")
    moves = [
        type(m)(m.event, m.source, m.target, policy=policies.get(m.event, m.policy),
                backward=m.backward, requires_reason=m.requires_reason, auto=m.auto, sla=m.sla)
        for m in funnel.moves
    ]
    return Funnel(funnel.name, initial=funnel.initial, stages=funnel.stages, moves=moves)


def _make(item: Any) -> Any:
    """Call classes and plain functions (factories); anything else is used as it is."""
    if inspect.isclass(item) or inspect.isfunction(item):
        return item()
    return item


class FunnelStateMachine(RuleBasedStateMachine):
    """Drives a pipeline at random and checks the funnel's invariants after every step.

    Subclass it, set ``funnel``, and turn it into a test with ``TestMine = Mine.TestCase``
    (unittest and pytest both collect it).  Each example starts from an empty store and a
    :class:`FrozenClock`; the rules (``capture``, ``touch``, ``fire``, ``fire_not_allowed``,
    ``resolve_handoff``, ``reassign``, ``sweep``, ``let_time_pass``) capture leads, record
    touchpoints, fire valid moves (with and without a needed reason), fire moves the stage does
    not allow, accept and reject pending handoffs, assign owners, sweep, and move the clock on,
    in any order; what they did is kept, in words, in ``self.journal``.  After every
    step :meth:`funnel_invariants` checks, on what the store holds:

    - every lead is in a stage the funnel knows;
    - each lead's versions are contiguous (1, 2, ...), chain from the initial stage to its
      current one, and its version is the number of records in its history (its moves and the
      audit records of assignments, handoff decisions and sweeps, which stay in their stage);
    - no move leaves a stage that has no way out;
    - backward moves (and moves marked ``requires_reason``) carry a reason;
    - the stored state equals the replay of the history (:meth:`funnelkit.Funnel.replay`);
    - every handoff is accounted for: one per move that crosses teams (except into a lost stage
      and the move a rejection makes), each pending one made by the lead's last move (only
      audit records since), each rejected one with its reason on the move that followed, each
      expired one past its due time;
    - hooks are called once per committed change: ``after_transition`` once per move (none
      for audit records),
      ``after_handoff`` once per handoff, and one call per accepted, rejected or expired handoff
      (more only for outbox rows whose delivery failed and was retried).

    Class attributes a host may set:

    ``funnel``
        the :class:`funnelkit.Funnel` under test (required);
    ``policies``
        ``{event: policy}`` attached to every move of that event, or None;
    ``scoring``
        the pipeline's scoring model (a :class:`funnelkit.pipeline.Scorer`), or None;
    ``hooks``
        hook objects registered on every new pipeline; classes and functions in it are called
        to make a fresh object per example;
    ``store_factory``
        a callable returning an empty store (default :class:`funnelkit.stores.MemoryStore`);
    ``router``, ``calendar``
        passed to the pipeline;
    ``start``
        the clock's start (default Monday 2 March 2026, 09:00 UTC);
    ``max_leads``
        how many leads one example captures at most (default 3);
    ``touch_kinds``
        the touchpoint kinds drawn (default a few common ones);
    ``attributes``
        a strategy for captured leads' attributes (default: optional budget, employees, industry).

    Inside rules and invariants: ``self.pipeline``, ``self.store``, ``self.clock``,
    ``self.recorder`` (a :class:`HookRecorder` registered first), ``self.lead_ids`` and
    ``self.journal``.  Add invariants with ``@invariant()`` and rules with ``@rule()``;
    settings with ``@settings(max_examples=..., stateful_step_count=..., deadline=None)`` on
    the class (keep ``deadline=None``: one example runs many steps).  Under pytest,
    ``--funnelkit-seed`` seeds every subclass defined during the run.

    >>> from hypothesis import settings
    >>> from funnelkit import templates
    >>> @settings(max_examples=5, stateful_step_count=10, deadline=None)
    ... class InboundMachine(FunnelStateMachine):
    ...     funnel = templates.inbound()
    >>> InboundMachine.TestCase().runTest()
    """

    funnel: ClassVar[Funnel]
    policies: ClassVar[Mapping[str, Any] | None] = None
    scoring: ClassVar[Any] = None
    hooks: ClassVar[Sequence[Any]] = ()
    store_factory: ClassVar[Callable[[], Any] | None] = None
    router: ClassVar[Any] = None
    calendar: ClassVar[Any] = None
    start: ClassVar[datetime] = DEFAULT_START
    max_leads: ClassVar[int] = 3
    touch_kinds: ClassVar[Sequence[str]] = (
        "email_open", "webinar", "demo_request", "pricing_view", "call")
    attributes: ClassVar[Any] = None

    _funnelkit_built: ClassVar[tuple[Any, Funnel] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Seed the subclass with the run's ``--funnelkit-seed`` (under pytest)."""
        super().__init_subclass__(**kwargs)
        cls._funnelkit_built = None
        chosen = _config.get_seed()
        if chosen is not None and "_hypothesis_internal_use_seed" not in vars(cls):
            hypothesis_seed(chosen)(cls)

    @classmethod
    def _built_funnel(cls) -> Funnel:
        funnel = getattr(cls, "funnel", None)
        if not isinstance(funnel, Funnel):
            raise InvalidInput(
                f"{cls.__name__}.funnel is {funnel!r}; set the class attribute funnel to the "
                f"funnelkit.Funnel to test, for example funnel = templates.inbound()"
            )
        built = cls.__dict__.get("_funnelkit_built")
        if built is not None and built[0] == (id(funnel), id(cls.policies)):
            return built[1]  # type: ignore[no-any-return]
        result = funnel if not cls.policies else _with_policies(funnel, cls.policies)
        cls._funnelkit_built = ((id(funnel), id(cls.policies)), result)
        return result

    def __init__(self) -> None:
        """A fresh store, clock and pipeline for one example."""
        super().__init__()
        from funnelkit.pipeline import Pipeline  # noqa: PLC0415 - the kit loads the pipeline lazily
        from funnelkit.stores import MemoryStore  # noqa: PLC0415 - same reason

        cls = type(self)
        self.model_funnel: Funnel = cls._built_funnel()
        self.clock = FrozenClock(cls.start, calendar=cls.calendar)
        factory = cls.store_factory if cls.store_factory is not None else MemoryStore
        self.store = factory()
        self.pipeline = Pipeline(self.model_funnel, store=self.store, router=cls.router,
                                 calendar=cls.calendar, clock=self.clock, scoring=cls.scoring)
        self.recorder = HookRecorder(hooks=[
            "after_transition", "after_handoff", "after_handoff_accepted", "after_handoff_rejected",
            "after_sla_breach"])
        self.pipeline.register(self.recorder)
        for item in cls.hooks:
            self.pipeline.register(_make(item))
        self.lead_ids: list[str] = []
        self.journal: list[str] = []
        self._attributes = cls.attributes if cls.attributes is not None else _ATTRIBUTES
        self._stages = {s.name: s for s in self.model_funnel.stages}
        events = self.model_funnel.events
        self._not_allowed = {
            s: tuple(e for e in events if e not in self.model_funnel.events_from(s))
            for s in self._stages
        }

    def teardown(self) -> None:
        """Close the store."""
        self.store.close()

    # -- helpers ------------------------------------------------------------------------------

    def _log(self, line: str) -> None:
        self.journal.append(line)

    def _fail(
        self, what: str, lead_id: str | None = None, history: Sequence[Transition] = ()
    ) -> None:
        message = f"{type(self).__name__}: {what}"
        if lead_id is not None:
            message += "\n" + format_history(history, lead_id=lead_id)
        if self.journal:
            message += "\nsteps so far:\n" + "\n".join(f"  {line}" for line in self.journal)
        raise FunnelAssertionError(message)

    def _unchanged(self, before: Lead, why: str) -> None:
        after = self.pipeline.get(before.id)
        if (after.stage, after.version) != (before.stage, before.version):
            self._fail(f"{why}, yet lead {before.id!r} changed from {before.stage!r} "
                       f"v{before.version} to {after.stage!r} v{after.version}", before.id,
                       self.pipeline.history(before.id))

    def _recorded(self, before: Lead, event: str, actor: str, why: str) -> None:
        """The lead stayed in its stage and gained one audit record, *event* by *actor*."""
        after = self.pipeline.get(before.id)
        history = self.pipeline.history(before.id)
        last = history[-1] if history else None
        if ((after.stage, after.version) != (before.stage, before.version + 1) or last is None
                or (last.event, last.actor, last.source, last.target, last.version)
                != (event, actor, before.stage, before.stage, after.version)):
            self._fail(f"{why}: lead {before.id!r} should stay in {before.stage!r} and gain one "
                       f"{event!r} record by {actor!r} (v{before.version + 1}), but it is in "
                       f"{after.stage!r} v{after.version}", before.id, history)

    def _has_leads(self) -> bool:
        return bool(self.lead_ids)

    # -- rules --------------------------------------------------------------------------------
    # Rules with fewer arguments come first in Hypothesis's rule order, and the first rule is the
    # one its simplest choices pick: so every rule but capture takes exactly one argument, and
    # the rule sorting first by name, fire, is the one that moves leads along.
    # Each rule takes one integer, `pick`, and makes all of its choices from it (``_picks``):
    # Hypothesis's cost per draw is larger than the pipeline call a rule makes, and hosts run this
    # on every commit, so one draw per step keeps the whole test about twice as fast as one draw
    # per choice.  The choices made are written to ``self.journal``, which failure messages show.

    @precondition(lambda self: len(self.lead_ids) < self.max_leads)
    @rule(data=st.data(), source=_SOURCES)
    def capture(self, data: st.DataObject, source: Any) -> None:
        """Capture a new lead, with drawn attributes and source."""
        lead_id = f"L{len(self.lead_ids) + 1}"
        attributes = data.draw(self._attributes, label="attributes")
        self._log(f"capture {lead_id!r}" + (f" from {source.channel}" if source else "")
                  + (f" with {dict(attributes)}" if attributes else ""))
        lead = self.pipeline.capture(lead_id, attributes=attributes, source=source)
        self.lead_ids.append(lead_id)
        if (lead.stage, lead.version) != (self.model_funnel.initial, 0):
            self._fail(f"capture put {lead_id!r} in {lead.stage!r} v{lead.version}, not in the "
                       f"initial stage {self.model_funnel.initial!r} at version 0")

    @precondition(_has_leads)
    @rule(pick=_PICK)
    def touch(self, pick: int) -> None:
        """Record a touchpoint; auto moves whose policy passes fire."""
        lead, kind, has_points, points = _picks(pick, 64, 64, 2, 31)
        lead_id = _pick(self.lead_ids, lead)
        before = self.pipeline.get(lead_id)
        channel = before.source.channel if before.source is not None else "web"
        touchpoint = Touchpoint(lead_id, _pick(self.touch_kinds, kind), channel, self.clock.now(),
                                points=points if has_points else None)
        self._log(f"touch {lead_id!r}: {touchpoint.kind} via {channel}"
                  + (f", {points} points" if has_points else ""))
        outcomes = self.pipeline.touch(lead_id, touchpoint)
        if outcomes:
            self._log(f"  auto: {', '.join(o.transition.event for o in outcomes)}")
        after = self.pipeline.get(lead_id)
        if after.version != before.version + len(outcomes):
            self._fail(f"touch made {len(outcomes)} auto move(s) but lead {lead_id!r} went from "
                       f"v{before.version} to v{after.version}", lead_id,
                       self.pipeline.history(lead_id))
        for outcome in outcomes:
            move = self.model_funnel.move(outcome.transition.source, outcome.transition.event)
            if not move.auto:
                self._fail(f"touch fired {outcome.transition.event!r}, which is not an auto move",
                           lead_id, self.pipeline.history(lead_id))

    @precondition(_has_leads)
    @rule(pick=_PICK)
    def fire(self, pick: int) -> None:
        """Fire a move valid from the lead's stage, sometimes leaving out a needed reason."""
        lead, event, reason, with_reason, actor = _picks(pick, 64, 64, 16, 4, 8)
        lead_id = _pick(self.lead_ids, lead)
        before = self.pipeline.get(lead_id)
        events = self.model_funnel.events_from(before.stage)
        if not events:
            return
        name = _pick(events, event)
        needs = self.model_funnel.requires_reason(before.stage, name)
        why = _pick(_REASONS, reason) if needs and with_reason else None  # 1 in 4 left out
        who = _pick(_PEOPLE, actor)
        self._log(f"fire {name!r} on {lead_id!r} in {before.stage!r} by {who}"
                  + (f", reason {why!r}" if why else ""))
        try:
            outcome = self.pipeline.fire(lead_id, name, actor=who, reason=why)
        except ReasonRequired:
            if not needs or why:
                raise
            self._log("  refused: no reason")
            self._unchanged(before, f"{name!r} was refused for want of a reason")
            return
        except (PolicyRefused, Veto) as exc:
            self._log(f"  refused: {type(exc).__name__}")
            self._unchanged(before, f"{name!r} was refused ({type(exc).__name__})")
            return
        if needs and not why:
            self._fail(f"{name!r} from {before.stage!r} needs a reason but was made without one",
                       lead_id, self.pipeline.history(lead_id))
        target = self.model_funnel.target(before.stage, name)
        t = outcome.transition
        if (t.source, t.target, t.version) != (before.stage, target, before.version + 1):
            self._fail(f"{name!r} from {before.stage!r} v{before.version} recorded {t.source!r} -> "
                       f"{t.target!r} v{t.version}, expected {before.stage!r} -> {target!r} "
                       f"v{before.version + 1}", lead_id, self.pipeline.history(lead_id))

    @precondition(_has_leads)
    @rule(pick=_PICK)
    def fire_not_allowed(self, pick: int) -> None:
        """Fire an event the lead's stage does not allow: refused, nothing changes."""
        lead, event = _picks(pick, 64, 256)
        lead_id = _pick(self.lead_ids, lead)
        before = self.pipeline.get(lead_id)
        others = self._not_allowed[before.stage]
        if not others:
            return
        name = _pick(others, event)
        self._log(f"fire {name!r} on {lead_id!r} in {before.stage!r} (not allowed there)")
        try:
            self.pipeline.fire(lead_id, name, reason="testing a move that is not allowed")
        except TransitionNotAllowed:
            self._unchanged(before, f"{name!r} is not allowed from {before.stage!r}")
        else:
            self._fail(f"{name!r} is not allowed from {before.stage!r} but was made", lead_id,
                       self.pipeline.history(lead_id))

    def _pending(self) -> list[Handoff]:
        return self.pipeline.handoffs(status="pending")

    @precondition(_has_leads)
    @rule(pick=_PICK)
    def resolve_handoff(self, pick: int) -> None:
        """Accept a pending handoff (two times in three) or reject it with a reason."""
        pending = self._pending()
        if not pending:
            return
        action, handoff, by, reason, recycle = _picks(pick, 3, 64, 8, 16, 16)
        chosen, person = _pick(pending, handoff), _pick(_PEOPLE, by)
        if action < 2:
            self._accept(chosen, person)
        else:
            self._reject(chosen, person, _pick(_REASONS, reason), recycle)

    def _accept(self, chosen: Handoff, person: str) -> None:
        """Accept: the acceptor owns the lead, which does not move."""
        self._log(f"accept handoff {chosen.id!r} by {person}")
        before = self.pipeline.get(chosen.lead_id)
        accepted = self.pipeline.accept_handoff(chosen.id, by=person)
        after = self.pipeline.get(chosen.lead_id)
        if (accepted.status, accepted.resolved_by, after.owner) != ("accepted", person, person):
            self._fail(f"accepting {chosen.id!r} by {person!r} gave {format_handoff(accepted)} and "
                       f"owner {after.owner!r}")
        self._recorded(before, ACCEPT_EVENT, person, "accepting a handoff does not move the lead")

    def _reject(self, chosen: Handoff, person: str, why: str, recycle: int) -> None:
        """Reject with a reason: the lead goes back to the sending team."""
        before = self.pipeline.get(chosen.lead_id)
        targets = sorted({m.target for m in self.model_funnel.moves_from(before.stage)
                          if self._stages[m.target].team == chosen.from_team})
        if not targets:
            return
        recycle_to = "nurture" if "nurture" in targets else _pick(targets, recycle)
        self._log(f"reject handoff {chosen.id!r} by {person}, reason {why!r}, to {recycle_to!r}")
        try:
            rejected = self.pipeline.reject_handoff(chosen.id, by=person, reason=why,
                                                    recycle_to=recycle_to)
        except (PolicyRefused, Veto) as exc:
            self._log(f"  refused: {type(exc).__name__}")
            self._unchanged(before, f"rejecting {chosen.id!r} was refused ({type(exc).__name__})")
            return
        after = self.pipeline.get(chosen.lead_id)
        if rejected.status != "rejected" or rejected.reason != why:
            self._fail(f"rejecting {chosen.id!r} gave {format_handoff(rejected)}")
        history = self.pipeline.history(after.id)
        if ((after.stage, after.version) != (recycle_to, before.version + 2)
                or history[-2].event != REJECT_EVENT or history[-2].reason != why):
            self._fail(f"rejecting {chosen.id!r} left lead {after.id!r} in {after.stage!r} "
                       f"v{after.version}, expected a {REJECT_EVENT!r} record with the reason, "
                       f"then {recycle_to!r} v{before.version + 2}", after.id, history)

    @precondition(_has_leads)
    @rule(pick=_PICK)
    def reassign(self, pick: int) -> None:
        """Give a lead an owner: it does not move."""
        lead, owner = _picks(pick, 64, 8)
        lead_id, person = _pick(self.lead_ids, lead), _pick(_PEOPLE, owner)
        self._log(f"assign {lead_id!r} to {person}")
        before = self.pipeline.get(lead_id)
        self.pipeline.assign(lead_id, person, by="admin")
        if self.pipeline.get(lead_id).owner != person:
            self._fail(f"assigning {lead_id!r} to {person!r} did not make it the owner")
        self._recorded(before, ASSIGN_EVENT, "admin", "assigning an owner does not move the lead")

    @precondition(_has_leads)
    @rule(pick=_PICK)
    def sweep(self, pick: int) -> None:
        """Let 0 to 119 minutes pass, then sweep: pending handoffs past their due time expire."""
        self.clock.advance(minutes=pick % 120)
        now = self.clock.now()
        self._log(f"sweep at {format_time(now)}")
        report = self.pipeline.sweep()
        if report.expired:
            self._log(f"  expired: {', '.join(h.id for h in report.expired)}")
        for handoff in report.expired:
            if handoff.status != "expired" or handoff.due_at is None or not handoff.due_at < now:
                self._fail(f"sweep at {now.isoformat()} expired {format_handoff(handoff)}")
        overdue = [h for h in self._pending() if h.due_at is not None and h.due_at < now]
        if overdue:
            self._fail(f"after the sweep at {now.isoformat()} these handoffs are overdue yet "
                       "pending: "
                       + "; ".join(format_handoff(h) for h in overdue))

    @precondition(_has_leads)
    @rule(pick=_PICK)
    def let_time_pass(self, pick: int) -> None:
        """Move the clock on 1 to 72 hours: calendar hours, or (one time in four) business hours."""
        hours, business = _picks(pick, 72, 4)
        if business == 3:
            self.clock.advance(business_hours=hours + 1, calendar=self.pipeline.calendar)
        else:
            self.clock.advance(hours=hours + 1)
        self._log(f"{hours + 1} {'business ' if business == 3 else ''}hours pass: now "
                  f"{format_time(self.clock.now())}")

    # -- invariants ---------------------------------------------------------------------------

    @invariant()
    def funnel_invariants(self) -> None:
        """Check every funnel invariant on what the store holds now."""
        snapshot = Snapshot(self.store)
        self.check_stages(snapshot)
        self.check_versions(snapshot)
        self.check_replay(snapshot)
        self.check_handoffs(snapshot)
        self.check_hooks(snapshot)

    def check_stages(self, snapshot: Snapshot) -> None:
        """Every lead in a known stage; no move out of a stage with no way out; reasons given."""
        funnel = self.model_funnel
        for lead_id, lead in snapshot.leads.items():
            history = snapshot.history[lead_id]
            if lead.stage not in self._stages:
                self._fail(f"lead {lead_id!r} is in {lead.stage!r}, which funnel {funnel.name!r} "
                           f"does not have", lead_id, history)
            for t in history:
                if t.source not in self._stages or t.target not in self._stages:
                    self._fail(f"v{t.version} of {lead_id!r} names a stage the funnel does not "
                               f"have",
                               lead_id, history)
                if t.event in AUDIT_EVENTS:
                    if t.source != t.target or not t.reason:
                        self._fail(f"v{t.version} of {lead_id!r} is a {t.event!r} record that "
                                   f"leaves its stage or has no reason", lead_id, history)
                    continue  # a record of what was done to the lead, not a move
                if not funnel.events_from(t.source):
                    self._fail(f"v{t.version} of {lead_id!r} leaves {t.source!r}, a stage with "
                               f"no way "
                               f"out", lead_id, history)
                if funnel.is_backward(t.source, t.target) and not t.reason:
                    self._fail(f"v{t.version} of {lead_id!r} goes back from {t.source!r} to "
                               f"{t.target!r} without a reason", lead_id, history)

    def check_versions(self, snapshot: Snapshot) -> None:
        """Versions run 1, 2, ... and chain from the initial stage to the lead's stage."""
        initial = self.model_funnel.initial
        for lead_id, lead in snapshot.leads.items():
            history = snapshot.history[lead_id]
            versions = [t.version for t in history]
            if versions != list(range(1, len(history) + 1)) or lead.version != len(history):
                self._fail(f"lead {lead_id!r} is at v{lead.version} with versions {versions}; "
                           f"versions must be contiguous from 1", lead_id, history)
            stage = initial
            for t in history:
                if t.source != stage:
                    self._fail(f"v{t.version} of {lead_id!r} leaves {t.source!r} but the lead "
                               f"was in "
                               f"{stage!r}", lead_id, history)
                stage = t.target
            if stage != lead.stage:
                self._fail(f"lead {lead_id!r} is stored in {lead.stage!r} but its history ends in "
                           f"{stage!r}", lead_id, history)
            times = [t.at for t in history]
            if times != sorted(times):
                self._fail(f"lead {lead_id!r}'s moves are not in time order", lead_id, history)

    def check_replay(self, snapshot: Snapshot) -> None:
        """The stored leads equal the replay of their history."""
        replayed = self.model_funnel.replay(t for h in snapshot.history.values() for t in h)
        for lead_id, lead in snapshot.leads.items():
            history = snapshot.history[lead_id]
            r = replayed.get(lead_id)
            if r is None:
                if (lead.stage, lead.version) != (self.model_funnel.initial, 0):
                    self._fail(f"lead {lead_id!r} has no history yet is in {lead.stage!r} "
                               f"v{lead.version}", lead_id, history)
                continue
            if r.problems:
                self._fail(f"the history of {lead_id!r} does not replay: {'; '.join(r.problems)}",
                           lead_id, history)
            entered = r.stage_entered_at if r.stage_entered_at is not None else lead.created_at
            if (r.stage, r.version, entered) != (lead.stage, lead.version, lead.stage_entered_at):
                self._fail(f"lead {lead_id!r} is stored as {lead.stage!r} v{lead.version} (entered "
                           f"{lead.stage_entered_at.isoformat()}) but its history replays to "
                           f"{r.stage!r} v{r.version} (entered {entered.isoformat()})", lead_id,
                           history)

    def _crosses(self, t: Transition) -> bool:
        source, target = self._stages[t.source], self._stages[t.target]
        return source.team != target.team and target.outcome != "lost"

    def check_handoffs(self, snapshot: Snapshot) -> None:
        """One handoff per team-crossing move, each in a state its lead's history explains."""
        handoffs = snapshot.handoffs
        explained: set[str] = set()
        for lead_id, history in snapshot.history.items():
            moves = [t for t in history if t.event not in AUDIT_EVENTS]
            # The move after each move (audit records open and close no handoff).
            following = {t.version: n for t, n in itertools.pairwise(moves)}
            last_move = moves[-1].version if moves else 0
            made_by = 0  # the version of the move before the one looked at
            for t in moves:
                before, made_by = made_by, t.version
                if not self._crosses(t):
                    continue
                previous = handoffs.get(handoff_id(lead_id, before)) if before else None
                if (previous is not None and previous.status == "rejected"
                        and previous.resolved_at == t.at
                        and previous.reason in (t.reason, turned_down_reason(
                            t.event, t.target, t.reason))):
                    continue  # the move a rejection makes opens no new handoff
                hid = handoff_id(lead_id, t.version)
                h = handoffs.get(hid)
                if h is None:
                    self._fail(f"v{t.version} of {lead_id!r} ({t.event!r}) hands the lead from "
                               f"{self._stages[t.source].team!r} to "
                               f"{self._stages[t.target].team!r} "
                               f"but there is no handoff {hid!r}", lead_id, history)
                    continue
                explained.add(hid)
                if (h.lead_id, h.event, h.version, h.from_team, h.to_team, h.created_at) != (
                        lead_id, t.event, t.version, self._stages[t.source].team,
                        self._stages[t.target].team, t.at):
                    self._fail(f"handoff {format_handoff(h)} does not match v{t.version} of "
                               f"{lead_id!r}", lead_id, history)
                if h.status == "pending" and last_move != h.version:
                    self._fail(f"handoff {format_handoff(h)} is still pending but lead {lead_id!r} "
                               f"moved on (v{last_move})", lead_id, history)
                if h.status == "rejected":
                    after = following.get(h.version)
                    if not h.reason or after is None or h.reason not in (
                            after.reason, turned_down_reason(after.event, after.target,
                                                             after.reason)):
                        self._fail(f"handoff {format_handoff(h)} was rejected, but the move "
                                   f"after it "
                                   f"does not carry its reason", lead_id, history)
                if h.status == "expired" and (h.due_at is None or h.resolved_at is None
                                              or h.resolved_at <= h.due_at):
                    self._fail(f"handoff {format_handoff(h)} expired before its due time", lead_id,
                               history)
        strays = [h for hid, h in handoffs.items() if hid not in explained]
        if strays:
            self._fail("handoffs no team-crossing move explains: "
                       + "; ".join(format_handoff(h) for h in strays))

    def check_hooks(self, snapshot: Snapshot) -> None:
        """After-hooks ran once per committed change (again only for retried deliveries)."""
        calls = Counter(call["key"] for call in self.recorder.calls)
        retried: set[str] = set()
        if any(count > 1 for count in calls.values()):  # only then is the outbox worth reading
            rows = self.store.outbox(undelivered_only=False)
            retried = {row.key for row in rows if row.attempts > 1}
        expected: dict[str, str] = {}
        for lead_id, history in snapshot.history.items():
            for t in history:
                if t.event in AUDIT_EVENTS:
                    continue  # audit records call no after_transition
                expected[f"after_transition:{lead_id}:{t.version}"] = (
                    f"after_transition for v{t.version} of {lead_id!r} ({t.event!r})")
        for h in snapshot.handoffs.values():
            expected[f"after_handoff:{h.id}"] = f"after_handoff for {h.id!r}"
            if h.status == "accepted":
                expected[f"after_handoff_accepted:{h.id}"] = f"after_handoff_accepted for {h.id!r}"
            elif h.status == "rejected":
                expected[f"after_handoff_rejected:{h.id}"] = f"after_handoff_rejected for {h.id!r}"
            elif h.status == "expired":
                expected[f"after_sla_breach:{h.id}"] = f"after_sla_breach for {h.id!r}"
        for key, what in expected.items():
            count = calls.get(key, 0)
            if count == 0 or (count > 1 and key not in retried):
                self._fail(f"{what} was called {count} times; expected exactly once")
        extra = sorted(set(calls) - set(expected))
        if extra:
            self._fail(f"hooks were called for changes that were never committed: {extra}")
