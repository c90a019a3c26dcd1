"""Audit records: what the pipeline does to a lead that is not a move of its funnel.

An assignment, a handoff accepted or rejected, a handoff expired or escalated by a sweep, a lead
reported stalled: each is written to the lead's history as a :class:`~funnelkit.Transition`
with a reserved event (:mod:`funnelkit._core.reserved`), from the lead's stage to the same stage,
with actor, time and reason, and it bumps the lead's version like any move.  So the history
(``store.history``, ``store.transitions``) is the one answer to "who touched this lead and when",
the version guard protects these changes as it protects moves, and a move that stays in its
stage starts no new stay, so analytics read the same figures with or without them.

The reasons are sentences funnelkit writes, naming what changed (``owner 'ann' -> 'bob'``), with
the caller's own reason after a colon when one was given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from funnelkit._core.errors import InvalidInput
from funnelkit._core.lead import Lead, Transition
from funnelkit._core.limits import MAX_TEXT_LENGTH, MAX_VERSION, _short, check_text
from funnelkit._core.reserved import AUDIT_EVENTS, ESCALATE_EVENT, STALL_EVENT

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

__all__ = [
    "MAX_AUDIT_REASON",
    "audit_record",
    "breach_prefix",
    "check_reason",
    "escalation_level",
    "stall_reported",
    "who",
    "with_reason",
]

# A caller's reason is kept after the sentence funnelkit writes (names of at most 200
# characters, a handoff id of at most 255): the whole must fit in a reason's 10,000 characters.
MAX_AUDIT_REASON = MAX_TEXT_LENGTH - 1_000

_KEEP: object = object()


def check_reason(reason: object, call: str) -> str | None:
    """Check the optional ``reason=`` of *call* before any work; the reason, or None.

    >>> check_reason(None, "assign"), check_reason("territory change", "assign")
    (None, 'territory change')
    """
    if reason is None:
        return None
    if not isinstance(reason, str):
        raise InvalidInput(f"{call}(reason={_short(reason)}): a reason is a string saying why, "
                           f"or None")
    check_text(reason, "reason")
    if len(reason) > MAX_AUDIT_REASON:
        raise InvalidInput(
            f"{call}(reason=...) is {len(reason):,} characters; at most {MAX_AUDIT_REASON:,} fit "
            f"beside what the audit record says itself (who had the lead and who has it now): "
            f"shorten it")
    return reason


def who(name: str | None) -> str:
    """A person (or a team) as an audit record names them.

    >>> who("ann"), who(None)
    ("'ann'", 'nobody')
    """
    return "nobody" if name is None else f"'{name}'"


def with_reason(fact: str, reason: str | None) -> str:
    """The audit record's reason: what funnelkit records, then the caller's reason if any.

    >>> with_reason("owner nobody -> 'ann'", None)
    "owner nobody -> 'ann'"
    >>> with_reason("owner nobody -> 'ann'", "territory change")
    "owner nobody -> 'ann': territory change"
    """
    return f"{fact}: {reason}" if reason else fact


def audit_record(
    lead: Lead, event: str, at: datetime, *, actor: str | None, reason: str,
    owner: str | object | None = _KEEP,
) -> tuple[Lead, Transition]:
    """*lead* after the audit record *event* at *at*, and the record: version + 1, same stage.

    *owner*, when given, becomes the lead's owner.  Refused with
    :class:`~funnelkit.InvalidInput` when *at* is before the lead's last change (a history runs
    forward in time) or the lead has made the most moves a lead can make.

    >>> from datetime import datetime, timezone
    >>> at = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    >>> lead = Lead("L1", "sql", version=3, created_at=at)
    >>> owned, record = audit_record(lead, "funnelkit.assign", at, actor="kim",
    ...                              reason="owner nobody -> 'ann'", owner="ann")
    >>> owned.owner, owned.version, (record.source, record.target, record.version)
    ('ann', 4, ('sql', 'sql', 4))
    """
    if event not in AUDIT_EVENTS:  # pragma: no cover - the pipeline passes its own names
        raise InvalidInput(f"{event!r} is not an audit event")
    if at < lead.updated_at:
        raise InvalidInput(
            f"at={at.isoformat()} is before lead {lead.id!r}'s last change "
            f"({lead.updated_at.isoformat()}); a lead's history runs forward in time")
    if lead.version >= MAX_VERSION:
        raise InvalidInput(
            f"lead {lead.id!r} has {lead.version:,} records in its history, the most a lead can "
            f"have; {event!r} would need one more")
    version = lead.version + 1
    new = Lead(lead.id, lead.stage, version=version, attributes=lead.attributes,
               source=lead.source, owner=lead.owner if owner is _KEEP else owner,  # type: ignore[arg-type]
               created_at=lead.created_at, stage_entered_at=lead.stage_entered_at, updated_at=at)
    record = Transition(lead.id, event, lead.stage, lead.stage, at, actor=actor, reason=reason,
                        version=version)
    return new, record


def stall_reported(history: Sequence[Transition], stage: str) -> bool:
    """Whether a sweep reported the lead stalled during its current stay in *stage*.

    >>> from datetime import datetime, timezone
    >>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
    >>> moves = [Transition("L1", "convert", "subscriber", "lead", at, version=1),
    ...          Transition("L1", STALL_EVENT, "lead", "lead", at, reason="stalled", version=2)]
    >>> stall_reported(moves, "lead"), stall_reported(moves[:1], "lead")
    (True, False)
    """
    for t in reversed(history):
        if t.event == STALL_EVENT and t.source == stage:
            return True
        if t.target != stage or t.source != stage:
            return False  # the move that began this stay (or one from another stay)
    return False


def breach_prefix(handoff_id: str) -> str:
    """How the reason of every escalation and expiry of handoff *handoff_id* begins.

    >>> breach_prefix("L1:3")
    "SLA breach of handoff 'L1:3'"
    """
    return f"SLA breach of handoff '{handoff_id}'"


def escalation_level(history: Sequence[Transition], handoff_id: str) -> int:
    """How many times handoff *handoff_id* was escalated: its ``funnelkit.escalate`` records.

    >>> from datetime import datetime, timezone
    >>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
    >>> record = Transition("L1", ESCALATE_EVENT, "sql", "sql", at, version=4,
    ...                     reason=breach_prefix("L1:3") + ": escalated to level 1 of 2")
    >>> escalation_level([record], "L1:3"), escalation_level([record], "L1:33")
    (1, 0)
    """
    prefix = breach_prefix(handoff_id) + ":"
    return sum(1 for t in history
               if t.event == ESCALATE_EVENT and (t.reason or "").startswith(prefix))
