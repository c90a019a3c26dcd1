"""Plain-data forms of funnelkit's values, for stores that write rows and for the outbox.

Every function pair round-trips: ``lead_from_data(lead_to_data(x)) == x``.  The data forms hold only
JSON types; datetimes are ISO 8601 strings with their offset.  Attribute and evidence values are
written with :func:`dumps`, which also keeps datetimes, dates, tuples and Decimals.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from funnelkit._core.decision import Decision, Verdict
from funnelkit._core.errors import InvalidInput
from funnelkit._core.handoff import Handoff
from funnelkit._core.lead import Lead, Source, Transition
from funnelkit._core.limits import MAX_DATA_DEPTH, MAX_DATA_SIZE, MAX_INT, _short
from funnelkit._core.touchpoint import Touchpoint

__all__ = [
    "ARGUMENT_KINDS", "LazyPayload", "data_json", "decision_from_data", "decision_to_data",
    "dumps", "encode_arguments", "handoff_from_data", "handoff_to_data",
    "lead_from_data", "lead_to_data", "loads", "touchpoint_from_data", "touchpoint_to_data",
    "transition_from_data", "transition_to_data",
]


_PLAIN = frozenset({str, bool, type(None)})


def _encode(value: Any, depth: int = 1) -> Any:  # noqa: PLR0911 - one return per kind of value
    # Exact JSON types first, by identity tests: they are most of every payload, and the
    # isinstance chain below (with an ABC check for Mapping) costs ten times as much.  *depth*
    # counts the containers around *value*: at most _MAX_DEPTH, so nothing recurses far.
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is int:
        return _bounded(value)
    if kind is dict:
        return _encode_mapping(value, depth)
    if kind is LazyPayload:  # an outbox payload a store writes: its plain data
        return _encode_mapping(value.encoded(), depth)
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
        if not value.is_finite():
            raise InvalidInput(f"cannot store {value!r}: stored numbers must be finite")
        return {"$decimal": str(value)}
    if isinstance(value, tuple):
        return {"$tuple": _encode_items(value, depth)}
    if isinstance(value, list):
        return _encode_items(value, depth)
    if isinstance(value, Mapping):
        return _encode_mapping(value, depth)
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return _bounded(int(value))
    if isinstance(value, float):
        return _finite(value)
    raise InvalidInput(
        f"cannot store {_short(value)} ({type(value).__name__}); attribute and evidence values "
        f"must be JSON types, datetimes, dates, Decimals or tuples"
    )


def _finite(value: float) -> float:
    if math.isfinite(value):
        return value
    raise InvalidInput(f"cannot store {value!r}: stored numbers must be finite")


def _bounded(value: int) -> int:
    if -MAX_INT < value < MAX_INT:
        return value
    raise InvalidInput(
        f"cannot store an integer of {len(str(abs(value))):,} digits: stored integers have at "
        f"most 100 digits; keep larger numbers as Decimal or text"
    )


# Leads and touchpoints refuse host data nested more than MAX_DATA_DEPTH levels when they are
# built; what funnelkit wraps around it (an outbox payload holding a lead, a decision's evidence
# holding an attribute) adds a few levels.  This bound only keeps the recursion below short, for
# values nobody checked before (a host policy's evidence, a payload built by hand).
_MAX_DEPTH = 2 * MAX_DATA_DEPTH + 16


def _too_deep() -> InvalidInput:
    return InvalidInput(
        f"cannot store a value nested more than {_MAX_DEPTH} levels deep (dicts, lists and "
        f"tuples inside each other, or a container that holds itself); flatten it"
    )


def _encode_items(value: list[Any] | tuple[Any, ...], depth: int) -> list[Any]:
    if depth > _MAX_DEPTH:
        raise _too_deep()
    inner = depth + 1
    return [_encode(v, inner) for v in value]


def _encode_mapping(value: Mapping[Any, Any], depth: int) -> dict[str, Any]:
    if depth > _MAX_DEPTH:
        raise _too_deep()
    inner = depth + 1
    out = {}
    for k, v in value.items():
        if type(k) is not str and not isinstance(k, str):
            raise InvalidInput(f"cannot store mapping key {_short(k)}: keys must be strings")
        out[k] = _encode(v, inner)
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
    """JSON text for *value*, keeping datetimes, dates, Decimals and tuples.

    Raises :class:`InvalidInput` for anything else, for non-finite numbers, integers of more than
    100 digits and values nested too deep to write (see ``funnelkit._core.limits``).
    """
    return json.dumps(_encode(value), separators=(",", ":"), sort_keys=True, allow_nan=False)


def data_json(value: Any, what: str, limit: int = MAX_DATA_SIZE) -> str:
    """:func:`dumps` of a host's free data (attributes, touchpoint data), at most *limit* long.

    ``"{}"`` for empty data.  *what* names the data in the error (``lead 'L1' attributes``).
    """
    if not value:
        return "{}"
    text = dumps(value)
    if len(text) > limit:
        raise too_large(what, len(text), limit)
    return text


def too_large(what: str, size: int, limit: int) -> InvalidInput:
    """The error for data whose JSON text is over a store's ``max_data_size``."""
    return InvalidInput(
        f"{what} take {size:,} characters as JSON; this store's limit is {limit:,} "
        f"(max_data_size=): keep large documents elsewhere and store a reference, or open the "
        f"store with a larger max_data_size"
    )


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


# -- outbox payloads: hook arguments, encoded when a store must write them ------------------------

#: How each kind of hook argument is written into an outbox payload (``hooks`` declares the kind
#: of every argument of every hook spec).
ARGUMENT_KINDS: dict[str, Callable[[Any], Any]] = {
    "lead": lead_to_data,
    "transition": transition_to_data,
    "handoff": handoff_to_data,
    "str": str,
    "datetime": datetime.isoformat,
    "int": int,
}


def encode_arguments(arguments: Mapping[str, Any],
                     kinds: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """The JSON-able payload of hook *arguments*: (name, kind) of each in *kinds*, in order.

    >>> encode_arguments({"level": 2}, (("level", "int"),))
    {'level': 2}
    """
    return {name: ARGUMENT_KINDS[kind](arguments[name]) for name, kind in kinds}


class LazyPayload(Mapping[str, Any]):
    """An outbox payload that keeps the hook arguments it stands for and encodes them on demand.

    It reads as the mapping :func:`encode_arguments` gives (encoded on the first read, once),
    so a store that writes rows (SQL) serialises it as any payload; a store that keeps Python
    objects (``MemoryStore``) keeps it as it is, and a delivery in the same process calls the
    hooks with :attr:`arguments` (immutable records: leads, transitions, handoffs), nothing
    encoded or decoded.

    >>> from datetime import datetime, timezone
    >>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
    >>> kinds = (("stage", "str"), ("since", "datetime"))
    >>> payload = LazyPayload({"stage": "mql", "since": at}, kinds)
    >>> payload == {"stage": "mql", "since": "2026-03-02T00:00:00+00:00"}
    True
    >>> payload.arguments["since"] is at
    True
    """

    __slots__ = ("_arguments", "_data", "_kinds")

    def __init__(self, arguments: Mapping[str, Any], kinds: tuple[tuple[str, str], ...]) -> None:
        """Keep *arguments* (not copied: give a mapping nobody changes afterwards)."""
        self._arguments = arguments
        self._kinds = kinds
        self._data: dict[str, Any] | None = None

    @property
    def arguments(self) -> Mapping[str, Any]:
        """The hook arguments, as the pipeline made them."""
        return self._arguments

    def encoded(self) -> dict[str, Any]:
        """The payload as plain data (encoded on the first call, then kept)."""
        data = self._data
        if data is None:
            data = self._data = encode_arguments(self._arguments, self._kinds)
        return data

    def check(self, checked: tuple[Any, ...]) -> None:
        """Raise :class:`InvalidInput` unless the payload can be encoded, without keeping it.

        What a value carries that was checked already is not checked again: a lead whose
        attributes are (by identity) among *checked*, a transition that is among *checked*
        (its decision checked with the change), a handoff (its constructor checks it all).
        """
        for name, kind in self._kinds:
            value = self._arguments[name]
            if kind == "lead":
                if not value.attributes or any(value.attributes is c for c in checked):
                    continue
            elif kind == "transition":
                if value.decision is None or any(value is c for c in checked):
                    continue
            elif kind == "handoff":
                continue
            ARGUMENT_KINDS[kind](value)

    def __getitem__(self, name: str) -> Any:
        return self.encoded()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.encoded())

    def __len__(self) -> int:
        return len(self.encoded())

    def __repr__(self) -> str:
        return repr(self.encoded())

    def __reduce__(self) -> tuple[type[dict[str, Any]], tuple[dict[str, Any]]]:
        return dict, (self.encoded(),)  # a copy elsewhere is plain data


def check_storable(change: Any, *, known: Any = None, limit: int = MAX_DATA_SIZE) -> None:
    """Raise :class:`InvalidInput` unless every value in a store ``Change`` can be stored.

    Stores that keep Python objects (``MemoryStore``) call this so they refuse exactly what the
    SQL stores cannot write, the ``max_data_size`` *limit* on attributes and touchpoint data
    included.  *known* is the stored lead's attributes: when the new lead carries the very same
    (read-only) object, as a move does, it was checked already.
    """
    lead = change.lead
    if lead.attributes and lead.attributes is not known:
        data_json(lead.attributes, f"lead {lead.id!r} attributes", limit)
    for t in change.transitions:
        if t.decision is not None:
            decision_to_data(t.decision)
    for tp in change.touchpoints:
        if tp.data:
            data_json(dict(tp.data), f"touchpoint data of lead {tp.lead_id!r}", limit)
    for m in change.outbox:
        payload = m.payload
        if type(payload) is LazyPayload:
            payload.check((lead.attributes, known, *change.transitions))
        else:
            _encode(payload)
