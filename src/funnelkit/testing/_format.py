"""Readable text for failure messages: a lead's history, a journey, a handoff."""

from __future__ import annotations

from typing import TYPE_CHECKING

from funnelkit._core.reserved import AUDIT_EVENTS

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from datetime import datetime

    from funnelkit._core.handoff import Handoff
    from funnelkit._core.lead import Transition

__all__ = ["format_handoff", "format_history", "format_time", "journey_of"]


def format_time(at: datetime | None) -> str:
    """``2026-03-02 09:00 UTC``-style text for failure messages (seconds only when not zero)."""
    if at is None:
        return "-"
    text = at.strftime("%Y-%m-%d %H:%M:%S" if at.second or at.microsecond else "%Y-%m-%d %H:%M")
    zone = at.tzname() or ""
    return f"{text} {zone}".rstrip()


def journey_of(history: Sequence[Transition]) -> list[str]:
    """The stages a history visits: the first move's source, then every target.

    Audit records (an assignment, a handoff accepted, a sweep's records: see
    :data:`funnelkit.RESERVED_EVENTS`) stay in their stage and visit none, so they are left out.
    """
    moves = [t for t in history if t.event not in AUDIT_EVENTS]
    if not moves:
        return []
    return [moves[0].source, *(t.target for t in moves)]


def format_history(history: Iterable[Transition], *, lead_id: str | None = None) -> str:
    """A lead's transitions, one line each, oldest first.

    >>> from datetime import datetime, timezone
    >>> from funnelkit import Transition
    >>> at = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    >>> print(format_history([Transition("L1", "convert", "subscriber", "lead", at, version=1)]))
    history of lead 'L1' (1 transition):
      v1  2026-03-02 09:00 UTC  convert: subscriber -> lead
    """
    items = list(history)
    who = lead_id if lead_id is not None else (items[0].lead_id if items else None)
    title = f"history of lead {who!r}" if who is not None else "history"
    if not items:
        return f"{title}: no transitions yet"
    count = len(items)
    lines = [f"{title} ({count} transition{'s' if count != 1 else ''}):"]
    for t in items:
        extra = []
        if t.actor:
            extra.append(f"by {t.actor}")
        if t.reason:
            extra.append(f"reason {t.reason!r}")
        if t.decision is not None and t.decision.policy:
            extra.append(f"policy {t.decision.policy}")
        tail = f" ({', '.join(extra)})" if extra else ""
        move = f"{t.event}: {t.source} -> {t.target}"
        lines.append(f"  v{t.version}  {format_time(t.at)}  {move}{tail}")
    return "\n".join(lines)


def format_handoff(h: Handoff) -> str:
    """One line describing a handoff."""
    parts = [f"{h.id}: {h.from_team} -> {h.to_team}", h.status]
    if h.assignee:
        parts.append(f"assignee {h.assignee}")
    if h.due_at is not None:
        parts.append(f"due {format_time(h.due_at)}")
    if h.reason:
        parts.append(f"reason {h.reason!r}")
    parts.append(f"created {format_time(h.created_at)} by {h.event!r} (v{h.version})")
    return ", ".join(parts)
