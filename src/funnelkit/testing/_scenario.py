"""The scenario DSL: write a lead's journey as steps, and check it as it runs."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any, NoReturn, Self

import attrs

from funnelkit._core.errors import FunnelError, InvalidInput, PolicyRefused
from funnelkit._core.lead import Lead, Source, Transition
from funnelkit._core.time import Duration, parse_duration
from funnelkit._core.touchpoint import Touchpoint
from funnelkit._definition.funnel import Funnel
from funnelkit.testing._assertions import assert_handoff, assert_journey
from funnelkit.testing._clock import FrozenClock
from funnelkit.testing._errors import FunnelAssertionError, InvalidStep, ScenarioFailed
from funnelkit.testing._format import format_handoff, journey_of

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from datetime import datetime, timedelta

    from funnelkit._core.handoff import Handoff

__all__ = ["Scenario", "scenario"]


def _call_text(name: str, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None) -> str:
    parts = [repr(a) for a in args]
    parts += [f"{k}={v!r}" for k, v in (kwargs or {}).items() if v is not None]
    return f".{name}({', '.join(parts)})"


def _suggest(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


@attrs.define(eq=False, repr=False)
class Scenario:
    """A lead's journey through a pipeline, written as steps that run as they are written.

    Build one with :func:`scenario`.  Every method is one step and returns the scenario, so
    steps chain.  Action steps (:meth:`capture`, :meth:`touch`, :meth:`fire`, :meth:`accept`,
    :meth:`reject`, :meth:`sweep`, :meth:`after`, :meth:`at`) act on the pipeline; ``expect_*``
    steps check what happened.  A step that does not see what it expects raises
    :class:`ScenarioFailed` naming the step, what was expected, what happened, the steps so far and
    the lead's history.  A step that is wrong in itself (an event or stage the funnel does not
    know, a clock moved backwards) raises :class:`InvalidStep` at the call.

    Steps apply to the *current* lead: the last one captured, or the one chosen with :meth:`use`.

    >>> from funnelkit import templates
    >>> from funnelkit.pipeline import Pipeline
    >>> from funnelkit.stores import MemoryStore
    >>> s = Scenario(Pipeline(templates.temperature(), store=MemoryStore(), clock=FrozenClock()))
    >>> s.capture("L1").fire("warm_up").expect_stage("warm").steps
    (".capture('L1')", ".fire('warm_up')", ".expect_stage('warm')")
    """

    pipeline: Any
    clock: Any = attrs.field(default=None, kw_only=True)
    funnel: Funnel = attrs.field(init=False)
    lead_id: str | None = attrs.field(init=False, default=None)
    _steps: list[str] = attrs.field(init=False, factory=list)
    _stages: frozenset[str] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        funnel = getattr(self.pipeline, "funnel", None)
        if not isinstance(funnel, Funnel) or not callable(getattr(self.pipeline, "fire", None)):
            raise InvalidInput(
                f"scenario() takes a funnelkit.pipeline.Pipeline, got {self.pipeline!r}"
            )
        self.funnel = funnel
        if self.clock is None:
            self.clock = getattr(self.pipeline, "clock", None)
        self._stages = frozenset(s.name for s in funnel.stages)

    # -- state ------------------------------------------------------------------------------

    @property
    def steps(self) -> tuple[str, ...]:
        """The steps that ran, as written."""
        return tuple(self._steps)

    @property
    def lead(self) -> Lead:
        """The current lead, as the pipeline has it now."""
        if self.lead_id is None:
            raise InvalidInput(
                "no lead yet: start the scenario with .capture(lead_id) or .use(lead_id)"
            )
        return self.pipeline.get(self.lead_id)  # type: ignore[no-any-return]

    @property
    def history(self) -> list[Transition]:
        """The current lead's transitions so far."""
        if self.lead_id is None:
            return []
        return list(self.pipeline.history(self.lead_id))

    # -- plumbing ---------------------------------------------------------------------------

    def _begin(self, text: str, *, needs_lead: bool = True) -> int:
        number = len(self._steps) + 1
        if needs_lead and self.lead_id is None:
            raise InvalidStep("no lead yet; capture one first with .capture(lead_id) or choose "
                              "one with .use(lead_id)", step=number, step_text=text)
        return number

    def _done(self, text: str) -> Self:
        self._steps.append(text)
        return self

    def _invalid(self, number: int, text: str, message: str) -> NoReturn:
        raise InvalidStep(message, step=number, step_text=text)

    def _fail(
        self, number: int, text: str, *, expected: str, actual: str, note: str = "",
        cause: BaseException | None = None,
    ) -> NoReturn:
        history: list[Transition] = []
        if self.lead_id is not None:
            try:
                history = self.history
            except FunnelError:
                history = []
        raise ScenarioFailed(
            step=number, step_text=text, expected=expected, actual=actual, lead_id=self.lead_id,
            steps=self._steps, history=history, note=note,
        ) from cause

    def _check_event(self, number: int, text: str, event: object) -> None:
        if not isinstance(event, str) or event not in self.funnel.events:
            self._invalid(number, text, f"funnel {self.funnel.name!r} has no event {event!r}"
                          f"{_suggest(str(event), self.funnel.events)}; events are "
                          f"{', '.join(self.funnel.events)}")

    def _check_stage(self, number: int, text: str, stage: object, what: str = "stage") -> None:
        if not isinstance(stage, str) or stage not in self._stages:
            self._invalid(number, text, f"funnel {self.funnel.name!r} has no {what} {stage!r}"
                          f"{_suggest(str(stage), self._stages)}; stages are "
                          f"{', '.join(s.name for s in self.funnel.stages)}")

    def _check_team(self, number: int, text: str, team: str | None, what: str) -> None:
        if team is not None and team not in self.funnel.teams:
            self._invalid(number, text, f"funnel {self.funnel.name!r} has no team {team!r} "
                          f"({what}){_suggest(team, self.funnel.teams)}; teams are "
                          f"{', '.join(self.funnel.teams)}")

    def _now(self) -> datetime:
        clock = self.clock if self.clock is not None else getattr(self.pipeline, "clock", None)
        if clock is None:
            raise InvalidInput("the scenario has no clock; give scenario(pipeline, clock=...)")
        now: datetime = clock.now()
        return now

    def _frozen_clock(self, number: int, text: str) -> FrozenClock:
        if not isinstance(self.clock, FrozenClock):
            self._invalid(number, text, f"the pipeline's clock is {self.clock!r}, not a "
                          f"funnelkit.testing.FrozenClock, so the scenario cannot move time; build "
                          f"the pipeline with clock=FrozenClock()")
        return self.clock

    def _act(self, number: int, text: str, expected: str, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except FunnelError as exc:
            if isinstance(exc, AssertionError):
                raise
            return self._fail(number, text, expected=expected, actual=_error_text(exc), cause=exc)

    # -- choosing the lead ------------------------------------------------------------------

    def use(self, lead_id: str) -> Self:
        """Make *lead_id* (already in the store) the current lead."""
        text = _call_text("use", [lead_id])
        number = self._begin(text, needs_lead=False)
        try:
            self.pipeline.get(lead_id)
        except FunnelError as exc:
            self._invalid(number, text, f"there is no lead {lead_id!r} to use ({exc})")
        self.lead_id = lead_id
        return self._done(text)

    # -- actions ----------------------------------------------------------------------------

    def capture(
        self,
        lead_id: str,
        *,
        source: Source | str | None = None,
        attributes: Mapping[str, Any] | None = None,
        owner: str | None = None,
    ) -> Self:
        """Capture a new lead and make it the current one.

        *source* is a :class:`funnelkit.Source` or a channel name (``"webinar"`` means
        ``Source.of("webinar")``).
        """
        text = _call_text("capture", [lead_id],
                          {"source": source, "attributes": attributes, "owner": owner})
        number = self._begin(text, needs_lead=False)
        if isinstance(source, str):
            source = Source.of(source)
        kwargs: dict[str, Any] = {}
        if source is not None:
            kwargs["source"] = source
        if attributes is not None:
            kwargs["attributes"] = attributes
        if owner is not None:
            kwargs["owner"] = owner
        self._act(number, text, f"lead {lead_id!r} to be captured",
                  lambda: self.pipeline.capture(lead_id, **kwargs))
        self.lead_id = lead_id
        return self._done(text)

    def touch(
        self,
        kind: str,
        *,
        channel: str | None = None,
        points: float | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> Self:
        """Record a touchpoint of *kind* (``"webinar"``, ``"demo_request"``, ...) for the lead, now.

        *channel* defaults to the lead's source channel (``"web"`` when it has none).  Auto moves
        whose policy now passes fire, as the pipeline does.
        """
        text = _call_text("touch", [kind], {"channel": channel, "points": points, "data": data})
        number = self._begin(text)
        lead = self._act(number, text, "the lead to exist", lambda: self.lead)
        if channel is None:
            channel = lead.source.channel if lead.source is not None else "web"
        try:
            touchpoint = Touchpoint(lead.id, kind, channel, self._now(), points=points, data=data)
        except InvalidInput as exc:
            self._invalid(number, text, str(exc))
        self._act(number, text, "the touchpoint to be recorded",
                  lambda: self.pipeline.touch(lead.id, touchpoint))
        return self._done(text)

    def fire(
        self,
        event: str,
        *,
        reason: str | None = None,
        actor: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Self:
        """Fire *event* for the lead; a refusal or a move not allowed fails the step.

        *context* reaches the guarding policy as ``Context.data``.
        """
        text = _call_text("fire", [event], {"reason": reason, "actor": actor, "context": context})
        number = self._begin(text)
        self._check_event(number, text, event)
        stage = self._act(number, text, "the lead to exist", lambda: self.lead.stage)
        kwargs: dict[str, Any] = {}
        if reason is not None:
            kwargs["reason"] = reason
        if actor is not None:
            kwargs["actor"] = actor
        if context is not None:
            kwargs["context"] = context
        self._act(number, text, f"{event!r} to move the lead on from {stage!r}",
                  lambda: self.pipeline.fire(self.lead_id, event, **kwargs))
        return self._done(text)

    def after(
        self,
        *,
        minutes: float = 0,
        hours: float = 0,
        days: float = 0,
        weeks: float = 0,
        months: int = 0,
        business_hours: float = 0,
        business_days: float = 0,
    ) -> Self:
        """Let time pass on the pipeline's :class:`FrozenClock` (business time by its calendar)."""
        amounts = {"minutes": minutes, "hours": hours, "days": days, "weeks": weeks,
                   "months": months, "business_hours": business_hours,
                   "business_days": business_days}
        text = _call_text("after", (), {k: v for k, v in amounts.items() if v})
        number = self._begin(text, needs_lead=False)
        clock = self._frozen_clock(number, text)
        try:
            clock.advance(minutes=minutes, hours=hours, days=days, weeks=weeks, months=months,
                          business_hours=business_hours, business_days=business_days,
                          calendar=getattr(self.pipeline, "calendar", None))
        except InvalidInput as exc:
            self._invalid(number, text, str(exc))
        return self._done(text)

    def at(self, when: datetime) -> Self:
        """Set the pipeline's :class:`FrozenClock` to *when* (never earlier than now)."""
        text = _call_text("at", [when])
        number = self._begin(text, needs_lead=False)
        clock = self._frozen_clock(number, text)
        try:
            clock.set(when)
        except InvalidInput as exc:
            self._invalid(number, text, str(exc))
        return self._done(text)

    def assign(self, owner: str) -> Self:
        """Make *owner* the lead's owner (and its pending handoff's assignee)."""
        text = _call_text("assign", [owner])
        number = self._begin(text)
        self._act(number, text, f"the lead to be assigned to {owner!r}",
                  lambda: self.pipeline.assign(self.lead_id, owner))
        return self._done(text)

    def sweep(self) -> Self:
        """Run the pipeline's ``sweep`` now: SLA breaches, stalled leads, score decay."""
        text = ".sweep()"
        number = self._begin(text, needs_lead=False)
        self._act(number, text, "the sweep to run", self.pipeline.sweep)
        return self._done(text)

    def _pending(self, number: int, text: str) -> Handoff:
        pending = self._act(number, text, "the lead's handoffs to load",
                            lambda: self.pipeline.handoffs(lead_id=self.lead_id, status="pending"))
        if not pending:
            every = self._act(number, text, "the lead's handoffs to load",
                              lambda: self.pipeline.handoffs(lead_id=self.lead_id))
            seen = "; ".join(format_handoff(h) for h in every) or "none at all"
            self._fail(number, text, expected="a pending handoff for the lead",
                       actual=f"no pending handoff (handoffs: {seen})")
        return max(pending, key=lambda h: (h.created_at, h.version, h.id))  # type: ignore[no-any-return]

    def accept(self, *, by: str) -> Self:
        """Accept the lead's pending handoff as *by* (who takes the lead and becomes its owner)."""
        text = _call_text("accept", (), {"by": by})
        number = self._begin(text)
        handoff = self._pending(number, text)
        self._act(number, text, f"handoff {handoff.id!r} to be accepted",
                  lambda: self.pipeline.accept_handoff(handoff.id, by=by))
        return self._done(text)

    def reject(self, *, by: str, reason: str, recycle_to: str | None = None) -> Self:
        """Reject the lead's pending handoff as *by*, saying why; the lead goes to *recycle_to*.

        *recycle_to* defaults to the pipeline's (``"nurture"``).
        """
        text = _call_text("reject", (), {"by": by, "reason": reason, "recycle_to": recycle_to})
        number = self._begin(text)
        if recycle_to is not None:
            self._check_stage(number, text, recycle_to, "stage (recycle_to)")
        handoff = self._pending(number, text)
        kwargs: dict[str, Any] = {"reason": reason, "by": by}
        if recycle_to is not None:
            kwargs["recycle_to"] = recycle_to
        self._act(number, text, f"handoff {handoff.id!r} to be rejected",
                  lambda: self.pipeline.reject_handoff(handoff.id, **kwargs))
        return self._done(text)

    # -- expectations -----------------------------------------------------------------------

    def expect_stage(self, stage: str) -> Self:
        """Expect the lead to be in *stage*."""
        text = _call_text("expect_stage", [stage])
        number = self._begin(text)
        self._check_stage(number, text, stage)
        lead = self._act(number, text, f"stage {stage!r}", lambda: self.lead)
        if lead.stage != stage:
            self._fail(number, text, expected=f"stage {stage!r}", actual=f"stage {lead.stage!r}")
        return self._done(text)

    def expect_version(self, version: int) -> Self:
        """Expect the lead's version to be *version*: its moves and audit records, one each.

        An assignment, a handoff accepted or rejected, and a sweep's expiry, escalation or stall
        report each add a record to the history (and one to the version), as a move does.
        """
        text = _call_text("expect_version", [version])
        number = self._begin(text)
        lead = self._act(number, text, f"version {version}", lambda: self.lead)
        if lead.version != version:
            self._fail(number, text, expected=f"version {version}",
                       actual=f"version {lead.version}")
        return self._done(text)

    def expect_owner(self, owner: str | None) -> Self:
        """Expect the lead's owner to be *owner* (None: nobody)."""
        text = _call_text("expect_owner", [owner])
        number = self._begin(text)
        lead = self._act(number, text, f"owner {owner!r}", lambda: self.lead)
        if lead.owner != owner:
            self._fail(number, text, expected=f"owner {owner!r}", actual=f"owner {lead.owner!r}")
        return self._done(text)

    def expect_journey(self, stages: Sequence[str], *, exact: bool = True) -> Self:
        """Expect the lead's journey so far to be *stages* (see :func:`assert_journey`)."""
        text = _call_text("expect_journey", [list(stages)], {"exact": None if exact else False})
        number = self._begin(text)
        for stage in stages:
            self._check_stage(number, text, stage)
        history = self._act(number, text, "the history to load", lambda: self.history)
        try:
            assert_journey(history, stages, exact=exact)
        except FunnelAssertionError as exc:
            self._fail(number, text, expected=f"journey {list(stages)!r}"
                       + ("" if exact else " (in this order, others allowed between)"),
                       actual=f"journey {journey_of(history)!r}", cause=exc)
        return self._done(text)

    def expect_handoff(
        self,
        *,
        to_team: str | None = None,
        from_team: str | None = None,
        status: str | None = "pending",
        assignee: str | None = None,
        due_within: str | timedelta | Duration | None = None,
        reason: str | None = None,
    ) -> Self:
        """Expect a handoff of the lead matching every criterion given (pending by default).

        *due_within* (``"4 business hours"``) is counted by the pipeline's calendar.
        """
        text = _call_text("expect_handoff", (), {
            "to_team": to_team, "from_team": from_team,
            "status": status if status != "pending" else None, "assignee": assignee,
            "due_within": due_within, "reason": reason})
        number = self._begin(text)
        self._check_team(number, text, to_team, "to_team")
        self._check_team(number, text, from_team, "from_team")
        if due_within is not None:
            try:
                parse_duration(due_within, name="due_within")
            except InvalidInput as exc:
                self._invalid(number, text, str(exc))
        handoffs = self._act(number, text, "the lead's handoffs to load",
                             lambda: self.pipeline.handoffs(lead_id=self.lead_id))
        try:
            assert_handoff(handoffs, to_team=to_team, from_team=from_team, status=status,
                           assignee=assignee, due_within=due_within, reason=reason,
                           calendar=getattr(self.pipeline, "calendar", None))
        except FunnelAssertionError as exc:
            wanted = {"to_team": to_team, "from_team": from_team, "status": status,
                      "assignee": assignee, "due_within": due_within, "reason": reason}
            described = ", ".join(f"{k}={v!r}" for k, v in wanted.items() if v is not None)
            if handoffs:
                count = len(handoffs)
                details = str(exc).split("\n", 1)[1].replace("\n", "\n  ")
                actual = f"{count} handoff{'s' if count != 1 else ''}, none matching:\n  {details}"
            else:
                actual = "no handoff at all for this lead"
            self._fail(number, text, expected=f"a handoff with {described or 'any values'}",
                       actual=actual, cause=exc)
        return self._done(text)

    def expect_no_handoff(self, *, status: str | None = "pending") -> Self:
        """Expect the lead to have no handoff with *status* (None: no handoff at all)."""
        text = _call_text("expect_no_handoff", (),
                          {"status": status if status != "pending" else None})
        number = self._begin(text)
        kwargs = {"status": status} if status is not None else {}
        handoffs = self._act(number, text, "the lead's handoffs to load",
                             lambda: self.pipeline.handoffs(lead_id=self.lead_id, **kwargs))
        if handoffs:
            what = f"{status} handoff" if status else "handoff"
            self._fail(number, text, expected=f"no {what}",
                       actual="; ".join(format_handoff(h) for h in handoffs))
        return self._done(text)

    def expect_refused(self, event: str, *, because: str | None = None) -> Self:
        """Fire *event* and expect its policy to refuse it (the lead stays where it is).

        *because*, when given, must appear in one of the decision's reasons.
        """
        text = _call_text("expect_refused", [event], {"because": because})
        number = self._begin(text)
        self._check_event(number, text, event)
        before = self._act(number, text, "the lead to exist", lambda: self.lead)
        try:
            self.pipeline.fire(self.lead_id, event)
        except PolicyRefused as exc:
            if because is not None and not any(because in r for r in exc.reasons):
                self._fail(number, text, expected=f"a refusal because of {because!r}",
                           actual=f"refused with reasons {list(exc.reasons)!r}", cause=exc)
        except FunnelError as exc:
            self._fail(number, text, expected=f"{event!r} refused by its policy",
                       actual=_error_text(exc), cause=exc)
        else:
            after = self.lead
            self._fail(number, text, expected=f"{event!r} refused by its policy",
                       actual=f"it was allowed: the lead moved from {before.stage!r} to "
                              f"{after.stage!r}")
        return self._done(text)

    def expect(self, check: Callable[[Lead], object], description: str) -> Self:
        """Expect ``check(lead)`` to be true; *description* says what it checks, for the message."""
        text = f".expect({description!r})"
        number = self._begin(text)
        lead = self._act(number, text, description, lambda: self.lead)
        if not check(lead):
            self._fail(number, text, expected=description, actual=f"it is not: {lead!r}")
        return self._done(text)

    def __repr__(self) -> str:
        return f"<Scenario on lead {self.lead_id!r}, {len(self._steps)} step(s)>"


def scenario(pipeline: Any, *, clock: FrozenClock | None = None) -> Scenario:
    """Start a :class:`Scenario`: a journey through *pipeline*, checked as it runs.

    *clock* is the pipeline's clock (found by itself when the pipeline has a ``clock``
    attribute); steps that move time need a :class:`FrozenClock`.

    >>> from funnelkit import templates
    >>> from funnelkit.pipeline import Pipeline
    >>> from funnelkit.stores import MemoryStore
    >>> from funnelkit.testing import FrozenClock
    >>> pipeline = Pipeline(templates.inbound(), store=MemoryStore(), clock=FrozenClock())
    >>> (scenario(pipeline)
    ...     .capture("L1", source="webinar").touch("webinar").fire("convert").fire("qualify")
    ...     .after(hours=2).fire("hand_to_sales")
    ...     .expect_stage("sql")
    ...     .expect_handoff(to_team="sales", due_within="4 business hours")
    ...     .accept(by="sdr-1")
    ...     .expect_handoff(status="accepted"))
    <Scenario on lead 'L1', 10 step(s)>
    """
    return Scenario(pipeline, clock=clock)
