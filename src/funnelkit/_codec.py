"""Plain-data forms of funnelkit's values, for stores that write rows and for the outbox.

Every function pair round-trips: ``lead_from_data(lead_to_data(x)) == x``.  The data forms hold only
JSON types; datetimes are ISO 8601 strings with their offset.  Attribute and evidence values are
written with :func:`dumps`, which also keeps datetimes, dates, tuples and Decimals.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from funnelkit._decision import Decision, Verdict
from funnelkit._errors import InvalidInput
from funnelkit._handoff import Handoff
from funnelkit._lead import Lead, Source, Transition
from funnelkit._touchpoint import Touchpoint

__all__ = [
    "decision_from_data", "decision_to_data", "dumps", "handoff_from_data", "handoff_to_data",
    "lead_from_data", "lead_to_data", "loads", "touchpoint_from_data", "touchpoint_to_data",
    "transition_from_data", "transition_to_data",
]


_PLAIN = frozenset({str, int, bool, type(None)})


def _encode(value: Any) -> Any:  # noqa: PLR0911 - one return per kind of value reads best
    # Exact JSON types first, by one set lookup: they are most of every payload, and the
    # isinstance chain below (with an ABC check for Mapping) costs ten times as much.
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:
        return _encode_mapping(value)
    if kind is float:
        return _finite(value)
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise InvalidInput(
                f"cannot store the naive datetime {value!r}; funnelkit keeps only timezone-aware "
                "datetimes: add tzinfo (for example .replace(tzinfo=timezone.utc))"
            )
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, tuple):
        return {"$tuple": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, Mapping):
        return _encode_mapping(value)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return _finite(value)
    raise InvalidInput(
        f"cannot store {value!r} ({type(value).__name__}); attribute and evidence values must be "
        f"JSON types, datetimes, dates, Decimals or tuples"
    )


def _finite(value: float) -> float:
    if math.isfinite(value):
        return value
    raise InvalidInput(f"cannot store {value!r}: stored numbers must be finite")


def _encode_mapping(value: Mapping[Any, Any]) -> dict[str, Any]:
    out = {}
    for k, v in value.items():
        if type(k) is not str and not isinstance(k, str):
            raise InvalidInput(f"cannot store mapping key {k!r}: keys must be strings")
        out[k] = _encode(v)
    if len(out) == 1 and next(iter(out)).startswith("$"):
        return {"$map": out}  # a host key that looks like a tag is kept as data
    return out


def _decode(value: Any) -> Any:  # noqa: PLR0911 - one return per tag reads best
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            ((tag, inner),) = value.items()
            if tag == "$datetime":
                return datetime.fromisoformat(inner)
            if tag == "$date":
                return date.fromisoformat(inner)
            if tag == "$decimal":
                return Decimal(inner)
            if tag == "$tuple":
                return tuple(_decode(v) for v in inner)
            if tag == "$map":
                return {k: _decode(v) for k, v in inner.items()}
        return {k: _decode(v) for k, v in value.items()}
    return value


def dumps(value: Any) -> str:
    """JSON text for *value*, keeping datetimes, dates, Decimals and tuples."""
    return json.dumps(_encode(value), separators=(",", ":"), sort_keys=True, allow_nan=False)


def loads(text: str | bytes) -> Any:
    """The value :func:`dumps` wrote."""
    return _decode(json.loads(text))


def _dt(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def decision_to_data(decision: Decision | None) -> dict[str, Any] | None:
    """The plain-data form of a decision (None stays None)."""
    if decision is None:
        return None
    return {
        "allowed": decision.allowed,
        "criteria": [[v.name, v.status, _encode(v.evidence)] for v in decision.criteria],
        "reasons": list(decision.reasons),
        "score": decision.score,
        "policy": decision.policy,
    }


def decision_from_data(data: Mapping[str, Any] | None) -> Decision | None:
    """The decision :func:`decision_to_data` wrote."""
    if data is None:
        return None
    return Decision(
        data["allowed"],
        criteria=[Verdict(n, s, _decode(e)) for n, s, e in data["criteria"]],
        reasons=data["reasons"],
        score=data["score"],
        policy=data["policy"],
    )


def lead_to_data(lead: Lead) -> dict[str, Any]:
    """The plain-data form of a lead."""
    return {
        "id": lead.id,
        "stage": lead.stage,
        "version": lead.version,
        "attributes": _encode(dict(lead.attributes)),
        "source": None if lead.source is None else [lead.source.channel, lead.source.kind],
        "owner": lead.owner,
        "created_at": lead.created_at.isoformat(),
        "stage_entered_at": lead.stage_entered_at.isoformat(),
        "updated_at": lead.updated_at.isoformat(),
    }


def lead_from_data(data: Mapping[str, Any]) -> Lead:
    """The lead :func:`lead_to_data` wrote (checked by the ``Lead`` constructor)."""
    source = data.get("source")
    return Lead(
        data["id"],
        data["stage"],
        version=data["version"],
        attributes=_decode(data.get("attributes") or {}),
        source=None if source is None else Source(source[0], source[1]),
        owner=data.get("owner"),
        created_at=datetime.fromisoformat(data["created_at"]),
        stage_entered_at=datetime.fromisoformat(data["stage_entered_at"]),
        updated_at=datetime.fromisoformat(data["updated_at"]),
    )


def transition_to_data(t: Transition) -> dict[str, Any]:
    """The plain-data form of a transition."""
    return {
        "lead_id": t.lead_id, "event": t.event, "source": t.source, "target": t.target,
        "at": t.at.isoformat(), "actor": t.actor, "reason": t.reason,
        "decision": decision_to_data(t.decision), "version": t.version,
    }


def transition_from_data(data: Mapping[str, Any]) -> Transition:
    """The transition :func:`transition_to_data` wrote."""
    return Transition(
        data["lead_id"], data["event"], data["source"], data["target"],
        datetime.fromisoformat(data["at"]), actor=data.get("actor"), reason=data.get("reason"),
        decision=decision_from_data(data.get("decision")), version=data["version"],
    )


def handoff_to_data(h: Handoff) -> dict[str, Any]:
    """The plain-data form of a handoff."""
    return {
        "id": h.id, "lead_id": h.lead_id, "from_team": h.from_team, "to_team": h.to_team,
        "created_at": h.created_at.isoformat(), "event": h.event, "version": h.version,
        "assignee": h.assignee, "due_at": _dt(h.due_at), "status": h.status,
        "resolved_at": _dt(h.resolved_at), "resolved_by": h.resolved_by, "reason": h.reason,
    }


def handoff_from_data(data: Mapping[str, Any]) -> Handoff:
    """The handoff :func:`handoff_to_data` wrote."""
    return Handoff(
        data["id"], data["lead_id"], data["from_team"], data["to_team"],
        created_at=datetime.fromisoformat(data["created_at"]), event=data["event"],
        version=data["version"], assignee=data.get("assignee"),
        due_at=_parse_dt(data.get("due_at")),
        status=data.get("status", "pending"), resolved_at=_parse_dt(data.get("resolved_at")),
        resolved_by=data.get("resolved_by"), reason=data.get("reason"),
    )


def touchpoint_to_data(tp: Touchpoint) -> dict[str, Any]:
    """The plain-data form of a touchpoint."""
    return {
        "lead_id": tp.lead_id, "kind": tp.kind, "channel": tp.channel, "at": tp.at.isoformat(),
        "points": tp.points, "data": _encode(dict(tp.data)),
    }


def touchpoint_from_data(data: Mapping[str, Any]) -> Touchpoint:
    """The touchpoint :func:`touchpoint_to_data` wrote."""
    return Touchpoint(
        data["lead_id"], data["kind"], data["channel"], datetime.fromisoformat(data["at"]),
        points=data.get("points"), data=_decode(data.get("data") or {}),
    )


def check_storable(change: Any, *, known: Any = None) -> None:
    """Raise :class:`InvalidInput` unless every value in a store ``Change`` can be stored.

    Stores that keep Python objects (``MemoryStore``) call this so they refuse exactly what the
    SQL stores cannot write.  *known* is the stored lead's attributes: when the new lead carries
    the very same (read-only) object, as a move does, it was checked already.
    """
    lead = change.lead
    if lead.attributes and lead.attributes is not known:
        _encode(lead.attributes)
    for t in change.transitions:
        if t.decision is not None:
            decision_to_data(t.decision)
    for tp in change.touchpoints:
        if tp.data:
            _encode(tp.data)
    for m in change.outbox:
        _encode(m.payload)
