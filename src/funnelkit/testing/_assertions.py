"""Assertions usable from any test framework: journeys and handoffs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from funnelkit._core.errors import InvalidInput
from funnelkit._core.handoff import Handoff
from funnelkit._core.lead import Transition
from funnelkit._core.limits import _short, items_of
from funnelkit._core.time import Duration, parse_duration
from funnelkit.testing._errors import FunnelAssertionError
from funnelkit.testing._format import format_handoff, format_history, format_time, journey_of

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import timedelta

__all__ = ["assert_handoff", "assert_journey", "due_limit"]


def _is_subsequence(wanted: Sequence[str], journey: Sequence[str]) -> bool:
    it = iter(journey)
    return all(any(stage == seen for seen in it) for stage in wanted)


def assert_journey(
    history: Iterable[Transition],
    stages: Sequence[str],
    *,
    exact: bool = True,
    events: Sequence[str] | None = None,
) -> list[str]:
    """Check the stages a lead went through, in order; return the journey.

    *history* is the lead's transitions (``pipeline.history(lead_id)``, ``store.history(...)``
    or ``[outcome.transition, ...]``).  The journey is the first move's source stage followed by
    every move's target.  With *exact* (the default) it must equal *stages*; with ``exact=False``
    *stages* must appear in it in order, other stages in between allowed.  *events*, when given,
    must equal the events of the moves, in order.  A mismatch raises
    :class:`FunnelAssertionError` showing both journeys and the history.

    >>> from datetime import datetime, timezone
    >>> from funnelkit import templates
    >>> funnel, at = templates.inbound(), datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    >>> lead, history = funnel.new_lead("L1", at=at), []
    >>> for event in ["convert", "qualify", "hand_to_sales"]:
    ...     outcome = funnel.fire(lead, event, at=at)
    ...     lead = outcome.lead
    ...     history.append(outcome.transition)
    >>> assert_journey(history, ["subscriber", "lead", "mql", "sql"])
    ['subscriber', 'lead', 'mql', 'sql']
    >>> _ = assert_journey(history, ["lead", "sql"], exact=False)
    >>> _ = assert_journey(history, ["subscriber", "mql"])
    Traceback (most recent call last):
    ...
    funnelkit.testing.FunnelAssertionError: journey mismatch:
      expected ['subscriber', 'mql'], got ['subscriber', 'lead', 'mql', 'sql']
      (first difference at position 1: expected 'mql', got 'lead')
    history of lead 'L1' (3 transitions):
      v1  2026-03-02 09:00 UTC  convert: subscriber -> lead
      v2  2026-03-02 09:00 UTC  qualify: lead -> mql
      v3  2026-03-02 09:00 UTC  hand_to_sales: mql -> sql
    """
    items = items_of(history, "history")
    for t in items:
        if type(t) is not Transition:
            raise InvalidInput(
                f"assert_journey takes the lead's transitions (for example "
                f"pipeline.history(lead_id)), "
                f"got {t!r}"
            )
    given: object = stages
    if isinstance(given, str | bytes | Mapping) or not isinstance(given, Iterable) or not all(
            isinstance(s, str) for s in given):
        raise InvalidInput(
            f"stages={_short(stages)} must be a list of stage names, such as ['lead', 'mql']"
        )
    wanted = list(stages)
    journey = journey_of(items)
    ok = journey == wanted if exact else _is_subsequence(wanted, journey)
    if not ok:
        got = repr(journey) if journey else "no journey (the history is empty)"
        detail = ""
        if exact and journey:
            for i, (want, seen) in enumerate(zip(wanted, journey, strict=False)):
                if want != seen:
                    detail = f" (first difference at position {i}: expected {want!r}, got {seen!r})"
                    break
            else:
                shorter = "shorter" if len(journey) < len(wanted) else "longer"
                detail = f" (the journey is {shorter} than expected)"
        elif not exact:
            detail = " (expected these stages in this order, others allowed in between)"
        message = f"journey mismatch: expected {wanted!r}, got {got}{detail}"
        if items:
            message += "\n" + format_history(items)
        raise FunnelAssertionError(message)
    if events is not None:
        moved = [t.event for t in items]
        if list(items_of(events, "events")) != moved:
            raise FunnelAssertionError(
                f"event mismatch: expected events {list(events)!r}, got {moved!r}\n"
                + format_history(items)
            )
    return journey


def due_limit(
    handoff: Handoff, within: str | timedelta | Duration, *, calendar: Any = None
) -> Any:
    """The latest due time a handoff may have to be due *within* of its creation."""
    duration = parse_duration(within, name="due_within")
    if duration.business:
        if calendar is None:
            from funnelkit._pipeline.calendar import BusinessCalendar  # noqa: PLC0415 - loaded on first use

            calendar = BusinessCalendar()
        return calendar.add(handoff.created_at, duration)
    return handoff.created_at + duration.as_timedelta()




def assert_handoff(
    handoffs: Handoff | Iterable[Handoff],
    *,
    lead_id: str | None = None,
    from_team: str | None = None,
    to_team: str | None = None,
    status: str | None = None,
    assignee: str | None = None,
    reason: str | None = None,
    event: str | None = None,
    due_within: str | timedelta | Duration | None = None,
    calendar: Any = None,
) -> Handoff:
    """Check that a handoff matches every criterion given; return it.

    *handoffs* is one :class:`funnelkit.Handoff` or several (``pipeline.handoffs(...)``,
    ``store.handoffs(...)``); the latest one matching every criterion given is returned.
    *due_within* (``"4 business hours"``, ``"2 days"``, a ``timedelta``) requires a due time no
    later than that after the handoff was created; business time is counted by *calendar* (the
    pipeline's ``BusinessCalendar``; the default one when None).  When nothing matches,
    :class:`FunnelAssertionError` lists every handoff and what did not match.

    >>> from datetime import datetime, timezone
    >>> from funnelkit._core.handoff import Handoff
    >>> at = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    >>> h = Handoff("H1", "L1", "marketing", "sales", created_at=at, event="hand_to_sales",
    ...             version=3, due_at=datetime(2026, 3, 2, 13, tzinfo=timezone.utc))
    >>> assert_handoff([h], to_team="sales", status="pending", due_within="4 business hours").id
    'H1'
    >>> assert_handoff(h, to_team="success")
    Traceback (most recent call last):
    ...
    funnelkit.testing.FunnelAssertionError: no handoff matches to_team='success'
      (1 handoff checked):
      H1: marketing -> sales, pending, due 2026-03-02 13:00 UTC,
          created 2026-03-02 09:00 UTC by 'hand_to_sales' (v3)
        to_team is 'sales', not 'success'
    """
    items = [handoffs] if isinstance(handoffs, Handoff) else items_of(handoffs, "handoffs")
    for h in items:
        if not isinstance(h, Handoff):
            raise InvalidInput(
                f"assert_handoff takes handoffs (for example pipeline.handoffs(lead_id=...)), "
                f"got {h!r}"
            )
    wanted = {"lead_id": lead_id, "from_team": from_team, "to_team": to_team, "status": status,
              "assignee": assignee, "reason": reason, "event": event}
    wanted = {k: v for k, v in wanted.items() if v is not None}
    if due_within is not None:
        parse_duration(due_within, name="due_within")
    described = ", ".join(f"{k}={v!r}" for k, v in wanted.items())
    if due_within is not None:
        described = ", ".join(filter(None, [described, f"due_within={str(due_within)!r}"]))
    report: list[str] = []
    matches: list[Handoff] = []
    for h in items:
        misses = [f"{k} is {getattr(h, k)!r}, not {v!r}"
                  for k, v in wanted.items() if getattr(h, k) != v]
        if due_within is not None:
            limit = due_limit(h, due_within, calendar=calendar)
            if h.due_at is None:
                misses.append(f"it has no due time (its move has no sla), expected one within "
                              f"{due_within}")
            elif h.due_at > limit:
                misses.append(f"it is due {format_time(h.due_at)}, later than {due_within} "
                              f"after its "
                              f"creation ({format_time(limit)})")
        if misses:
            report.append(f"  {format_handoff(h)}\n" + "\n".join(f"    {m}" for m in misses))
        else:
            matches.append(h)
    if not matches:
        count = len(items)
        plural = "s" if count != 1 else ""
        head = f"no handoff matches {described or 'anything'} ({count} handoff{plural} checked)"
        body = ":\n" + "\n".join(report) if report else ": there are none"
        raise FunnelAssertionError(head + body)
    return max(matches, key=lambda h: (h.created_at, h.version, h.id))
