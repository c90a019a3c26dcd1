"""The names funnelkit keeps for itself in a lead's history: merges and their undoing.

Funnel stages and events are identifiers (letters, digits and ``_``), so these dotted names can
never be a funnel's own: a reader of a store tells a merge from a move by the name alone.

- :data:`MERGED_STAGE`: the stage of a lead merged into another (closed; the store's merge
  records say into which).
- :data:`MERGE_EVENT`: the event of the moves a merge records: the duplicate's move into
  :data:`MERGED_STAGE`, and the survivor's record, a move to the stage it keeps (its own when
  the merge changed only its attributes, owner or source).
- :data:`UNMERGE_EVENT`: the event of the moves an unmerge records: the duplicate's move out of
  :data:`MERGED_STAGE` back to its stage, and the survivor's record of what it gave back.

Replay (:meth:`funnelkit.Funnel.replay`) accepts these moves as if the funnel defined them: a
merge move goes from any stage of the funnel to :data:`MERGED_STAGE` or to a stage of the
funnel; an unmerge move from :data:`MERGED_STAGE` or a stage of the funnel to a stage of it;
both need a reason.

The audit records: what the pipeline does to a lead that is not a move of its funnel, each
recorded as a move from the lead's stage to the same stage (so it starts no new stay), with
actor, time and reason, bumping the lead's version (see *The audit log* in the architecture
docs): :data:`ASSIGN_EVENT` (``Pipeline.assign``), :data:`ACCEPT_EVENT`
(``Pipeline.accept_handoff``), :data:`REJECT_EVENT` (``Pipeline.reject_handoff``, before the
move back), :data:`EXPIRE_EVENT` (a sweep expired a handoff), :data:`STALL_EVENT` (a sweep
reported the lead stalled and moved it nowhere) and :data:`ESCALATE_EVENT` (a sweep escalated a
breached handoff).  Replay accepts them from any stage of the funnel to itself, with a reason.

:data:`RESERVED_EVENTS` lists every reserved event; :func:`reserved_move_problem` is the one check
replay makes of a move with one of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Container

    from funnelkit._core.lead import Transition

__all__ = [
    "ACCEPT_EVENT",
    "ASSIGN_EVENT",
    "AUDIT_EVENTS",
    "ESCALATE_EVENT",
    "EXPIRE_EVENT",
    "MERGED_STAGE",
    "MERGE_EVENT",
    "MERGE_EVENTS",
    "REJECT_EVENT",
    "RESERVED_EVENTS",
    "STALL_EVENT",
    "UNMERGE_EVENT",
    "merge_move_problem",
    "reserved_move_problem",
]

MERGED_STAGE = "funnelkit.merged"
MERGE_EVENT = "funnelkit.merge"
UNMERGE_EVENT = "funnelkit.unmerge"
MERGE_EVENTS = frozenset({MERGE_EVENT, UNMERGE_EVENT})

ASSIGN_EVENT = "funnelkit.assign"
ACCEPT_EVENT = "funnelkit.accept"
REJECT_EVENT = "funnelkit.reject"
EXPIRE_EVENT = "funnelkit.expire"
STALL_EVENT = "funnelkit.stall"
ESCALATE_EVENT = "funnelkit.escalate"
AUDIT_EVENTS = frozenset(
    {ASSIGN_EVENT, ACCEPT_EVENT, REJECT_EVENT, EXPIRE_EVENT, STALL_EVENT, ESCALATE_EVENT})

#: Every event funnelkit records itself and no funnel can define (funnel events are identifiers).
RESERVED_EVENTS: tuple[str, ...] = (
    MERGE_EVENT, UNMERGE_EVENT, ASSIGN_EVENT, ACCEPT_EVENT, REJECT_EVENT, EXPIRE_EVENT,
    STALL_EVENT, ESCALATE_EVENT)


def merge_move_problem(t: Transition, stages: Container[str]) -> str | None:
    """Why *t*, a move with a merge event, is not one a merge or an unmerge makes (or None).

    *stages* are the funnel's stage names.

    >>> from datetime import datetime, timezone
    >>> from funnelkit import Transition
    >>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
    >>> move = Transition("L2", MERGE_EVENT, "mql", MERGED_STAGE, at, reason="dup", version=3)
    >>> merge_move_problem(move, {"lead", "mql"}) is None
    True
    >>> back = Transition("L2", UNMERGE_EVENT, MERGED_STAGE, "sql", at, reason="x", version=4)
    >>> merge_move_problem(back, {"lead", "mql"})
    "'funnelkit.unmerge' from 'funnelkit.merged' to 'sql' is not a move an unmerge makes"
    >>> kept = Transition("L1", MERGE_EVENT, "mql", "mql", at, reason="dup", version=5)
    >>> merge_move_problem(kept, {"lead", "mql"}) is None
    True
    """
    # The survivor's record may stay in its stage (the merge changed only its attributes).
    if t.event == MERGE_EVENT:
        ok = t.source in stages and (t.target == MERGED_STAGE or t.target in stages)
        what = "a merge"
    else:
        ok = (t.source == MERGED_STAGE or t.source in stages) and t.target in stages
        what = "an unmerge"
    if not ok:
        return f"{t.event!r} from {t.source!r} to {t.target!r} is not a move {what} makes"
    if not t.reason:
        return f"{t.event!r} needs a reason and has none"
    return None


def reserved_move_problem(t: Transition, stages: Container[str]) -> str | None:
    """Why *t*, a move with a reserved event, is not one funnelkit records (or None).

    Merge and unmerge moves are checked by :func:`merge_move_problem`; an audit record must stay
    in a stage of the funnel (*stages*) and carry a reason.

    >>> from datetime import datetime, timezone
    >>> from funnelkit import Transition
    >>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
    >>> record = Transition("L1", ASSIGN_EVENT, "sql", "sql", at, reason="owner none -> 'ann'",
    ...                     version=4)
    >>> reserved_move_problem(record, {"sql"}) is None
    True
    >>> moved = Transition("L1", ASSIGN_EVENT, "sql", "won", at, reason="x", version=4)
    >>> reserved_move_problem(moved, {"sql", "won"})
    "'funnelkit.assign' from 'sql' to 'won' is not an audit record: those stay in their stage"
    """
    if t.event in MERGE_EVENTS:
        return merge_move_problem(t, stages)
    if t.source != t.target or t.source not in stages:
        return (f"{t.event!r} from {t.source!r} to {t.target!r} is not an audit record: those "
                f"stay in their stage")
    if not t.reason:
        return f"{t.event!r} needs a reason and has none"
    return None
