"""``Touchpoint``: one interaction between a lead and the company."""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import attrs

from funnelkit._errors import InvalidInput
from funnelkit._limits import MAX_DATA_DEPTH, _short, check_name, nests_deeper
from funnelkit._time import require_aware

if TYPE_CHECKING:
    from datetime import datetime

__all__ = ["Touchpoint"]


def _non_empty(_: object, attribute: attrs.Attribute[str], text: str) -> None:
    check_name(text, f"Touchpoint {attribute.name}")


def _aware(_: object, __: attrs.Attribute[datetime], value: datetime) -> None:
    require_aware(value, "Touchpoint at")


def _points(_: object, __: attrs.Attribute[float | None], points: float | None) -> None:
    value: object = points
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"Touchpoint points={value!r} must be a finite number or None")


def _frozen_data(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if value is None:
        return MappingProxyType({})
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

    lead_id: str = attrs.field(validator=_non_empty)
    kind: str = attrs.field(validator=_non_empty)
    channel: str = attrs.field(validator=_non_empty)
    at: datetime = attrs.field(validator=_aware)
    points: float | None = attrs.field(default=None, kw_only=True, validator=_points)
    data: Mapping[str, Any] = attrs.field(
        factory=dict, kw_only=True, converter=_frozen_data, hash=False
    )

    def __getstate__(self) -> dict[str, Any]:
        """Pickle support (the read-only data mapping is stored as a plain dict)."""
        return {a.name: (dict(v) if a.name == "data" else v)
                for a in attrs.fields(type(self)) for v in (getattr(self, a.name),)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Pickle support."""
        for name, value in state.items():
            object.__setattr__(self, name, _frozen_data(value) if name == "data" else value)
