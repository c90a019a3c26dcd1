"""``MergePolicy``: how a merge combines the attributes of the two leads it makes one."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, get_args

import attrs

from funnelkit._core.errors import InvalidInput, MergeRefused
from funnelkit._core.limits import _short

if TYPE_CHECKING:
    from funnelkit._core.lead import Lead

__all__ = ["Keep", "MergePolicy"]

Keep = Literal["survivor", "duplicate", "newest"]
"""Which lead's value an attribute both leads have keeps: the survivor's, the duplicate's, or
the value of the lead captured last (``created_at``; the survivor's on a tie)."""
_KEEPS: tuple[str, ...] = get_args(Keep)


def _check_default(_: object, __: object, value: object) -> None:
    if value not in _KEEPS:
        raise InvalidInput(f"MergePolicy default={_short(value)} must be one of "
                           f"{', '.join(map(repr, _KEEPS))}")


def _fields(value: Mapping[str, Keep | Callable[[Any, Any], Any]] | None,
            ) -> Mapping[str, Keep | Callable[[Any, Any], Any]]:
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, Mapping):
        raise InvalidInput(f"MergePolicy fields={_short(value)} must map attribute names to "
                           f"{', '.join(map(repr, _KEEPS))} or a function(survivor_value, "
                           f"duplicate_value)")
    for name, rule in value.items():
        if not isinstance(name, str):
            raise InvalidInput(f"MergePolicy fields: {_short(name)} is not an attribute name")
        if rule not in _KEEPS and not callable(rule):
            raise InvalidInput(
                f"MergePolicy fields[{name!r}]={_short(rule)} must be one of "
                f"{', '.join(map(repr, _KEEPS))} or a function(survivor_value, duplicate_value)")
    return MappingProxyType(dict(value))


@attrs.frozen
class MergePolicy:
    """How :meth:`Pipeline.merge <funnelkit.Pipeline.merge>` combines the leads' attributes.

    An attribute only one lead has is kept.  One both leads have takes the value its rule in
    *fields* names, else the *default* rule: ``"survivor"`` (the default: the survivor's value
    wins), ``"duplicate"`` (the duplicate's), ``"newest"`` (the value of the lead captured
    last, by ``created_at``; the survivor's on a tie), or a function called with the survivor's
    value and the duplicate's that returns the merged one.  A function that raises stops the
    merge with :class:`~funnelkit.MergeRefused` (the error chained), nothing written.

    >>> from datetime import datetime, timezone
    >>> from funnelkit import Lead
    >>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
    >>> survivor = Lead("L1", "mql", created_at=at, attributes={"name": "Jane", "tags": ["a"]})
    >>> duplicate = Lead("L2", "lead", created_at=at,
    ...                  attributes={"name": "Jane Doe", "phone": "+1 415", "tags": ["b"]})
    >>> policy = MergePolicy(fields={"tags": lambda s, d: sorted({*s, *d})})
    >>> policy.merge(survivor, duplicate)
    {'name': 'Jane', 'tags': ['a', 'b'], 'phone': '+1 415'}
    >>> MergePolicy("duplicate").merge(survivor, duplicate)["name"]
    'Jane Doe'
    """

    default: Keep = attrs.field(default="survivor", validator=_check_default)
    fields: Mapping[str, Keep | Callable[[Any, Any], Any]] = attrs.field(
        factory=dict, kw_only=True, converter=_fields)

    def merge(self, survivor: Lead, duplicate: Lead) -> dict[str, Any]:
        """The survivor's attributes once merged with the duplicate's (survivor's keys first)."""
        mine, theirs = survivor.attributes, duplicate.attributes
        newest_is_duplicate = duplicate.created_at > survivor.created_at
        merged = dict(mine)
        for name, value in theirs.items():
            if name not in mine:
                merged[name] = value
                continue
            rule = self.fields.get(name, self.default)
            if rule == "duplicate" or (rule == "newest" and newest_is_duplicate):
                merged[name] = value
            elif callable(rule):
                try:
                    merged[name] = rule(mine[name], value)
                except Exception as exc:
                    raise MergeRefused(
                        f"the merge policy's function for attribute {name!r} raised {exc!r} "
                        f"merging lead {duplicate.id!r} into {survivor.id!r}; nothing was "
                        f"written: fix the function (the error is chained)") from exc
        return merged
