"""``Touchpoint``: one interaction between a lead and the company."""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import attrs

from funnelkit._core.errors import InvalidInput
from funnelkit._core.limits import MAX_DATA_DEPTH, _short, check_name, nests_deeper
from funnelkit._core.time import require_aware

if TYPE_CHECKING:
    from datetime import datetime

__all__ = ["Touchpoint"]


def _check_points(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"Touchpoint points={value!r} must be a finite number or None")


_NO_DATA: Mapping[str, Any] = MappingProxyType({})  # read-only, so every empty data can share it


def _frozen_data(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if value is None or (type(value) is dict and not value):
        return _NO_DATA
    if not isinstance(value, Mapping):
        raise InvalidInput(f"Touchpoint data={_short(value)} must be a mapping or None")
    if not all(isinstance(key, str) for key in value):
        raise InvalidInput("Touchpoint data must be named by strings")
    if nests_deeper(value, MAX_DATA_DEPTH):
        raise InvalidInput(f"Touchpoint data nests more than {MAX_DATA_DEPTH} levels deep (or "
                           f"holds itself); flatten it")
    return MappingProxyType(dict(value))


@attrs.frozen
class Touchpoint:
    """One interaction: an email opened, a webinar attended, a demo requested, a call, a meeting.

    ``kind`` says what happened (``email_open``, ``webinar``, ``demo_request``, ``call``,
    ``meeting``, ``direct_mail``, ``ad_click`` or any host string), ``channel`` where.
    ``points``, when set, overrides what a scoring model would give it.

    >>> from datetime import datetime, timezone
    >>> tp = Touchpoint("L1", "webinar", "email", datetime(2026, 3, 2, tzinfo=timezone.utc))
    >>> tp.kind, tp.points
    ('webinar', None)
    """

    lead_id: str
    kind: str
    channel: str
    at: datetime
    points: float | None = attrs.field(default=None, kw_only=True)
    data: Mapping[str, Any] = attrs.field(
        default=None, kw_only=True, converter=_frozen_data, hash=False
    )

    def __attrs_post_init__(self) -> None:
        """Check every field in one pass (a touchpoint is built for each row a store reads)."""
        check_name(self.lead_id, "Touchpoint lead_id")
        check_name(self.kind, "Touchpoint kind")
        check_name(self.channel, "Touchpoint channel")
        require_aware(self.at, "Touchpoint at")
        if self.points is not None:
            _check_points(self.points)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle support (the read-only data mapping is stored as a plain dict)."""
        return {a.name: (dict(v) if a.name == "data" else v)
                for a in attrs.fields(type(self)) for v in (getattr(self, a.name),)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Pickle support."""
        for name, value in state.items():
            object.__setattr__(self, name, _frozen_data(value) if name == "data" else value)
