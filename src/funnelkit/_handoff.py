"""``Handoff``: the moment a lead changes hands between teams."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

import attrs

from funnelkit._errors import InvalidInput
from funnelkit._time import require_aware

__all__ = ["HANDOFF_STATUSES", "Handoff", "HandoffStatus"]

HandoffStatus = Literal["pending", "accepted", "rejected", "expired"]
HANDOFF_STATUSES: tuple[str, ...] = get_args(HandoffStatus)


def _status(_: object, __: object, value: object) -> None:
    if value not in HANDOFF_STATUSES:
        raise InvalidInput(f"handoff status={value!r} must be one of {', '.join(HANDOFF_STATUSES)}")


def _optional_aware(_: object, attribute: attrs.Attribute[object], value: object) -> None:
    if value is not None:
        require_aware(value, attribute.name)


def _aware(_: object, attribute: attrs.Attribute[object], value: object) -> None:
    require_aware(value, attribute.name)


@attrs.frozen
class Handoff:
    """A lead handed from one team to another: created by a move that crosses teams.

    ``status`` goes from ``"pending"`` to ``"accepted"``, ``"rejected"`` (with a ``reason``: the
    feedback from sales to marketing) or ``"expired"`` (its SLA ran out).  ``due_at`` is None when
    the move has no SLA.  ``event``/``version`` name the transition that created it.

    >>> from datetime import datetime, timezone
    >>> at = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    >>> h = Handoff("H1", "L1", "marketing", "sales", created_at=at, event="hand_to_sales", version=3)
    >>> h.status, h.is_pending
    ('pending', True)
    """

    id: str
    lead_id: str
    from_team: str
    to_team: str
    created_at: datetime = attrs.field(kw_only=True, validator=_aware)
    event: str = attrs.field(kw_only=True)
    version: int = attrs.field(kw_only=True)
    assignee: str | None = attrs.field(default=None, kw_only=True)
    due_at: datetime | None = attrs.field(default=None, kw_only=True, validator=_optional_aware)
    status: HandoffStatus = attrs.field(default="pending", kw_only=True, validator=_status)
    resolved_at: datetime | None = attrs.field(default=None, kw_only=True, validator=_optional_aware)
    resolved_by: str | None = attrs.field(default=None, kw_only=True)
    reason: str | None = attrs.field(default=None, kw_only=True)

    @property
    def is_pending(self) -> bool:
        """True while nobody has accepted, rejected or expired it."""
        return self.status == "pending"
