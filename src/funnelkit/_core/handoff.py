"""``Handoff``: the moment a lead changes hands between teams."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, get_args

import attrs

from funnelkit._core.errors import HandoffClosed, InvalidInput, ReasonRequired
from funnelkit._core.limits import MAX_KEY_LENGTH, check_count, check_name, check_text
from funnelkit._core.time import require_aware, require_derived

if TYPE_CHECKING:
    from datetime import datetime

__all__ = ["HANDOFF_STATUSES", "Handoff", "HandoffStatus", "handoff_id", "turned_down_reason"]

HandoffStatus = Literal["pending", "accepted", "rejected", "expired"]
HANDOFF_STATUSES: tuple[str, ...] = get_args(HandoffStatus)


@attrs.frozen
class Handoff:
    """A lead handed from one team to another: created by a move that crosses teams.

    ``status`` goes from ``"pending"`` to ``"accepted"``, ``"rejected"`` (with a ``reason``: the
    feedback from sales to marketing) or ``"expired"`` (its SLA ran out).  ``due_at`` is None when
    the move has no SLA.  ``event``/``version`` name the transition that created it.

    >>> from datetime import datetime, timezone
    >>> at = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    >>> h = Handoff("H1", "L1", "marketing", "sales", created_at=at, event="hand_to_sales",
    ...             version=3)
    >>> h.status, h.is_pending
    ('pending', True)
    """

    id: str
    lead_id: str
    from_team: str
    to_team: str
    created_at: datetime = attrs.field(kw_only=True)
    event: str = attrs.field(kw_only=True)
    version: int = attrs.field(kw_only=True)
    assignee: str | None = attrs.field(default=None, kw_only=True)
    due_at: datetime | None = attrs.field(default=None, kw_only=True)
    status: HandoffStatus = attrs.field(default="pending", kw_only=True)
    resolved_at: datetime | None = attrs.field(default=None, kw_only=True)
    resolved_by: str | None = attrs.field(default=None, kw_only=True)
    reason: str | None = attrs.field(default=None, kw_only=True)

    def __attrs_post_init__(self) -> None:
        """Check every field in one pass (a handoff is built for each row a store reads)."""
        check_name(self.id, "Handoff id", limit=MAX_KEY_LENGTH)
        check_name(self.lead_id, "Handoff lead_id")
        check_name(self.from_team, "Handoff from_team")
        check_name(self.to_team, "Handoff to_team")
        require_aware(self.created_at, "created_at")
        check_name(self.event, "Handoff event")
        check_count(self.version, "Handoff version", minimum=1)
        check_name(self.assignee, "Handoff assignee", optional=True)
        if self.due_at is not None:  # created_at plus an SLA: may run past MAX_TIME by a duration
            require_derived(self.due_at, "due_at")
        if self.status not in HANDOFF_STATUSES:
            raise InvalidInput(
                f"handoff status={self.status!r} must be one of {', '.join(HANDOFF_STATUSES)}")
        if self.resolved_at is not None:
            require_aware(self.resolved_at, "resolved_at")
        check_name(self.resolved_by, "Handoff resolved_by", optional=True)
        check_text(self.reason, "Handoff reason")

    @property
    def is_pending(self) -> bool:
        """True while nobody has accepted, rejected or expired it."""
        return self.status == "pending"

    def is_overdue(self, at: datetime) -> bool:
        """True when it is still pending and *at* is past its due time.

        >>> from datetime import datetime, timedelta, timezone
        >>> at = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
        >>> h = Handoff("L1:1", "L1", "marketing", "sales", created_at=at, event="e", version=1,
        ...             due_at=at + timedelta(hours=4))
        >>> h.is_overdue(at + timedelta(hours=4)), h.is_overdue(at + timedelta(hours=5))
        (False, True)
        """
        require_aware(at)
        return self.status == "pending" and self.due_at is not None and at > self.due_at

    def _close(
        self, status: HandoffStatus, at: datetime, by: str | None, reason: str | None
    ) -> Handoff:
        require_aware(at)
        check_name(by, "by", optional=True)
        if self.status != "pending":
            raise HandoffClosed(
                f"handoff {self.id!r} is {self.status} already; only a pending handoff can be "
                f"accepted, rejected or expired"
            )
        if at < self.created_at:
            raise InvalidInput(
                f"at={at.isoformat()} is before handoff {self.id!r} was created "
                f"({self.created_at.isoformat()}); time only moves forward"
            )
        return attrs.evolve(self, status=status, resolved_at=at, resolved_by=by, reason=reason)

    def accept(self, *, by: str | None, at: datetime) -> Handoff:
        """The handoff accepted by *by* at *at* (:class:`HandoffClosed` unless pending)."""
        return self._close("accepted", at, by, None)

    def reject(self, *, by: str | None, reason: str, at: datetime) -> Handoff:
        """The handoff rejected by *by* at *at*, saying why in *reason*."""
        text: object = reason  # checked at run time: callers may pass anything
        if not isinstance(text, str) or not text.strip():
            raise ReasonRequired(
                f"rejecting handoff {self.id!r} needs a reason: say why the lead goes back "
                f"(it is the feedback the sending team learns from)"
            )
        check_text(reason, "reason")
        return self._close("rejected", at, by, reason)

    def expire(self, *, at: datetime) -> Handoff:
        """The handoff marked expired at *at* (its SLA ran out)."""
        return self._close("expired", at, None, None)


def handoff_id(lead_id: str, version: int) -> str:
    """The id of the handoff created by the move that brought *lead_id* to *version*.

    >>> handoff_id("L1", 3)
    'L1:3'
    """
    return f"{lead_id}:{version}"


def turned_down_reason(event: str, target: str, reason: str | None) -> str:
    """The reason recorded on a pending handoff that a move turns down (to a lost stage or back).

    The move's own reason when it has one, else a sentence naming the move.

    >>> turned_down_reason("disqualify", "disqualified", "no budget")
    'no budget'
    >>> turned_down_reason("nurture", "nurture", None)
    "'nurture' moved the lead to 'nurture'"
    """
    return reason or f"{event!r} moved the lead to {target!r}"
