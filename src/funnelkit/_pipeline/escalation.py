"""``Escalation``: what a sweep does when a handoff's SLA is breached, configured per move.

Routers are runtime objects, so escalations belong to the pipeline
(``Pipeline(..., escalations={...})``), not to the pure funnel definition.  A handoff's
escalation level is not stored on the handoff: it is the number of ``funnelkit.escalate`` records
its lead's history holds for it (:func:`funnelkit._pipeline.audit.escalation_level`), so
escalating needs no change to any store's schema and the audit log is the one account of it.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from funnelkit._core.errors import InvalidEscalation, InvalidInput
from funnelkit._core.limits import _short
from funnelkit._core.time import Duration, parse_duration
from funnelkit._pipeline.routing import Router

if TYPE_CHECKING:
    from datetime import timedelta

    from funnelkit._definition.funnel import Funnel

__all__ = ["MAX_ESCALATION_LEVEL", "Escalation", "compile_escalations"]

MAX_ESCALATION_LEVEL = 100


def _sla(value: str | timedelta | Duration | None) -> Duration | None:
    if value is None:
        return None
    try:
        return parse_duration(value, name="Escalation(sla)")
    except InvalidInput as exc:
        raise InvalidEscalation(str(exc)) from None


@attrs.frozen(kw_only=True)
class Escalation:
    """What a breach of a move's SLA does, up to ``max_level`` times, before the handoff expires.

    On each breach below ``max_level`` a sweep escalates the handoff instead of expiring it: it
    stays pending; ``router`` (any :class:`funnelkit.routing.Router`, asked with the receiving
    team and its open handoffs) may reassign it and the lead (a router answering None or the
    current assignee leaves it where it is); it is due again ``sla`` after the sweep's time (the
    move's own SLA when None; ``"4 business hours"`` counts on the pipeline's calendar); and with
    ``notify`` the ``after_sla_breach`` hook is called with the new level.  The breach at
    ``max_level`` (1 to 100; default 2: the first and the second breach escalate, the third
    expires) expires it as a move without an escalation does.  Every step is a
    ``funnelkit.escalate`` (or ``funnelkit.expire``) record in the lead's history.

    Each field is checked here, with :class:`funnelkit.InvalidEscalation`.

    >>> from funnelkit import routing
    >>> Escalation(router=routing.round_robin(["maria"]), sla="2 business hours")
    Escalation(router=round_robin(['maria']), notify=True, sla=Duration(amount=2.0, unit='hours', business=True), max_level=2)
    >>> Escalation(notify=False)
    Traceback (most recent call last):
    ...
    funnelkit.InvalidEscalation: Escalation(router=None, notify=False) does nothing: give a router= to reassign, or notify=True to call after_sla_breach
    """  # noqa: E501 - a doctest's output is one line

    router: Router | None = attrs.field(default=None)
    notify: bool = attrs.field(default=True)
    sla: Duration | None = attrs.field(default=None, converter=_sla)
    max_level: int = attrs.field(default=2)

    def __attrs_post_init__(self) -> None:
        """Check every field (the SLA was parsed by its converter)."""
        if self.router is not None and not isinstance(self.router, Router):
            raise InvalidEscalation(
                f"Escalation(router={_short(self.router)}) is not a router; build one with "
                f"funnelkit.routing (round_robin(['maria']) for one manager), or leave it None")
        if type(self.notify) is not bool:
            raise InvalidEscalation(f"Escalation(notify={_short(self.notify)}) must be True or "
                                    f"False")
        if type(self.max_level) is not int or not 1 <= self.max_level <= MAX_ESCALATION_LEVEL:
            raise InvalidEscalation(
                f"Escalation(max_level={_short(self.max_level)}) must be an int from 1 to "
                f"{MAX_ESCALATION_LEVEL}: how many breaches escalate before one expires the "
                f"handoff")
        if self.router is None and not self.notify:
            raise InvalidEscalation(
                "Escalation(router=None, notify=False) does nothing: give a router= to reassign, "
                "or notify=True to call after_sla_breach")


def compile_escalations(
    escalations: object,
    funnel: Funnel,
    slas: Mapping[tuple[str, str], Duration],
    check: Callable[[Duration, str], Duration],
) -> dict[tuple[str, str], tuple[Escalation, Duration]]:
    """``Pipeline(escalations=...)`` as ``{(stage, event): (escalation, the move's SLA)}``.

    A key is an event (every move of that event) or a ``(stage, event)`` pair (the move from that
    stage), which wins over the event's key.  Each move named must open a handoff (cross teams,
    not into a lost stage) with an SLA (*slas*, the pipeline's); an escalation's own business SLA
    must fit the pipeline's calendar (*check*).  Every problem is listed in one
    :class:`~funnelkit.InvalidEscalation`.
    """
    if escalations is None:
        return {}
    if not isinstance(escalations, Mapping):
        raise InvalidEscalation(
            f"escalations={_short(escalations)} must map an event (or a (stage, event) pair) to "
            f"a funnelkit.Escalation")
    problems: list[str] = []
    by_event: dict[tuple[str, str], Escalation] = {}
    by_move: dict[tuple[str, str], Escalation] = {}
    for key, value in escalations.items():
        where = f"escalations[{key!r}]"
        if not isinstance(value, Escalation):
            problems.append(f"{where} is {_short(value)}, not a funnelkit.Escalation")
            continue
        moves = _moves(funnel, key, where, problems)
        for stage, event, target in moves:
            problem = _cannot_escalate(funnel, stage, event, target, slas)
            if problem is not None:
                problems.append(f"{where}: {problem}")
            else:
                (by_event if isinstance(key, str) else by_move)[stage, event] = value
        if value.sla is not None and value.sla.business:
            try:
                check(value.sla, f"{where}.sla")
            except InvalidInput as exc:
                problems.append(str(exc))
    if problems:
        raise InvalidEscalation("; ".join(problems))
    chosen = {**by_event, **by_move}
    return {move: (escalation, slas[move]) for move, escalation in chosen.items()}


def _moves(
    funnel: Funnel, key: object, where: str, problems: list[str]
) -> list[tuple[str, str, str]]:
    """The moves ``(stage, event, target)`` an escalations key names (problems noted)."""
    if isinstance(key, str):
        found = [(s.name, m.event, m.target) for s in funnel.stages
                 for m in funnel.moves_from(s.name) if m.event == key]
        if not found:
            problems.append(f"{where}: funnel {funnel.name!r} has no event {key!r}"
                            f"{_hint(key, funnel.events)}")
        return found
    if isinstance(key, tuple) and len(key) == 2 and all(isinstance(k, str) for k in key):
        stage, event = key
        stages = [s.name for s in funnel.stages]
        if stage not in stages:
            problems.append(f"{where}: funnel {funnel.name!r} has no stage {stage!r}"
                            f"{_hint(stage, stages)}")
            return []
        targets = [m.target for m in funnel.moves_from(stage) if m.event == event]
        if not targets:
            events = [m.event for m in funnel.moves_from(stage)]
            problems.append(f"{where}: funnel {funnel.name!r} has no move {event!r} from "
                            f"{stage!r}{_hint(event, events)}")
            return []
        return [(stage, event, targets[0])]
    problems.append(f"{where}: a key is an event name or a (stage, event) pair")
    return []


def _cannot_escalate(
    funnel: Funnel, stage: str, event: str, target: str, slas: Mapping[tuple[str, str], Any]
) -> str | None:
    source, landing = funnel.stage(stage), funnel.stage(target)
    if source.team == landing.team or landing.outcome == "lost":
        how = (f"stays in team {source.team!r}" if source.team == landing.team
               else "goes to a lost stage")
        return (f"the move {event!r} from {stage!r} to {target!r} opens no handoff (it {how}), "
                f"so it has no SLA to breach; escalate a move that crosses teams")
    if (stage, event) not in slas:
        return (f"the move {event!r} from {stage!r} to {target!r} has no sla, so its handoff is "
                f'never due; give the move an sla ("4 business hours") or drop the escalation')
    return None


def _hint(name: str, known: Any) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""
