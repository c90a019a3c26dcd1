"""Leads and the records of their moves: ``Lead``, ``Source``, ``Transition``, ``Fired``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, NoReturn, Self, TypeVar, get_args

import attrs

from funnelkit._core.decision import Decision
from funnelkit._core.errors import InvalidInput
from funnelkit._core.limits import (
    MAX_DATA_DEPTH,
    MAX_VERSION,
    _short,
    check_count,
    check_name,
    check_text,
    nests_deeper,
)
from funnelkit._core.record import Field, Record, field, maker
from funnelkit._core.time import require_aware

if TYPE_CHECKING:
    from datetime import datetime

__all__ = ["Attributes", "Fired", "Lead", "Source", "SourceKind", "Transition"]

SourceKind = Literal["seed", "net", "spear"]
_SOURCE_KINDS: tuple[str, ...] = get_args(SourceKind)



class Attributes(dict[str, Any]):
    """A lead's attributes: a read-only mapping that pickles and serialises like a ``dict``.

    >>> a = Attributes({"budget": 10_000})
    >>> a["budget"]
    10000
    >>> a["budget"] = 1
    Traceback (most recent call last):
    ...
    TypeError: lead attributes are read-only; use lead.evolve(attributes={...}) for new ones
    """

    __slots__ = ()

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        """Fill the mapping once, here; ``__init__`` never changes it afterwards.

        Names must be strings and values may nest at most 32 levels (``MAX_DATA_DEPTH``), as
        for a :class:`Lead`'s attributes.
        """
        self = _filled(cls, *args, **kwargs)
        _check_attributes(self)
        return self

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Do nothing: the mapping was filled by ``__new__`` and stays as it is."""

    def _readonly(self, *_: object, **__: object) -> NoReturn:
        raise TypeError(
            "lead attributes are read-only; use lead.evolve(attributes={...}) for new ones"
        )

    __setitem__ = __delitem__ = __ior__ = _readonly
    clear = pop = popitem = setdefault = update = _readonly

    def __reduce__(self) -> tuple[type[Attributes], tuple[dict[str, Any]]]:
        return (Attributes, (dict(self),))

    def __copy__(self) -> Self:
        return self

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def __repr__(self) -> str:
        return f"Attributes({dict.__repr__(self)})"


_A = TypeVar("_A", bound=Attributes)


def _filled(cls: type[_A], *args: Any, **kwargs: Any) -> _A:
    """An Attributes filled as ``dict()`` fills a dict, unchecked (stores rebuild checked data)."""
    self = dict.__new__(cls)
    try:
        dict.update(self, *args, **kwargs)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"Attributes takes what dict() takes (a mapping or key-value pairs): {exc}"
        ) from None
    return self


def _check_attributes(value: Mapping[Any, Any]) -> None:
    for key in value:
        if not isinstance(key, str):
            raise InvalidInput(
                f"attribute name {_short(key)} is not a string; name attributes with str")
    if nests_deeper(value, MAX_DATA_DEPTH):
        raise InvalidInput(
            f"attributes nest more than {MAX_DATA_DEPTH} levels deep (dicts, lists and tuples "
            f"inside each other, or a value that holds itself); flatten them")


def stored_attributes(value: dict[str, Any]) -> Attributes:
    """Attributes a store wrote (checked then), rebuilt without checking them again."""
    return _filled(Attributes, value)


_EMPTY = Attributes()


class _Keep:
    """The default of :meth:`Lead.evolve`'s optional fields: keep the current value."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<keep>"


_KEEP = _Keep()


def _attributes(value: Mapping[str, Any] | None) -> Attributes:
    if value is None or (type(value) is dict and not value):
        return _EMPTY
    if type(value) is Attributes:
        return value
    if not isinstance(value, Mapping):
        raise InvalidInput(
            f"attributes={_short(value)} is not a mapping; pass a dict of attribute name to value"
        )
    return Attributes(value)


# Channels whose Predictable Revenue kind is clear; anything else has kind None unless given.
_DEFAULT_KINDS: dict[str, SourceKind] = {
    "referral": "seed", "word_of_mouth": "seed", "partner": "seed", "customer_referral": "seed",
    "organic_search": "net", "paid_search": "net", "social": "net", "email": "net",
    "display": "net", "direct_traffic": "net", "content": "net", "webinar": "net", "event": "net",
    "outbound": "spear", "cold_email": "spear", "cold_call": "spear", "prospecting": "spear",
}


@attrs.frozen
class Source:
    """How a lead was found: a channel and its Predictable Revenue kind.

    ``kind`` is ``"seed"`` (referral, word of mouth), ``"net"`` (inbound marketing), ``"spear"``
    (outbound prospecting) or ``None``.  :meth:`of` fills the kind in for well-known channels.

    >>> Source("referral", "seed")
    Source(channel='referral', kind='seed')
    >>> Source.of("paid_search")
    Source(channel='paid_search', kind='net')
    """

    channel: str = attrs.field()
    kind: SourceKind | None = attrs.field(default=None)

    @channel.validator
    def _check_channel(self, _: object, value: object) -> None:
        check_name(value, "Source channel")

    @kind.validator
    def _check_kind(self, _: object, value: object) -> None:
        if value is not None and value not in _SOURCE_KINDS:
            raise InvalidInput(
                f"Source kind={value!r} is not one of {', '.join(_SOURCE_KINDS)} (or None): "
                f"seed = referral or word of mouth, net = inbound marketing, spear = outbound"
            )

    @classmethod
    def of(cls, channel: str, kind: SourceKind | None = None) -> Source:
        """A source for *channel*, with its usual kind when *kind* is not given.

        >>> Source.of("cold_email").kind, Source.of("trade_show").kind
        ('spear', None)
        """
        return cls(channel, kind if kind is not None else _DEFAULT_KINDS.get(channel))


class Lead(Record):
    """A lead at one moment: a value you cannot change in place.

    Moves produce new leads through :meth:`funnelkit.Funnel.fire`; other changes (attributes,
    owner, source) through :meth:`evolve`.  Two leads are equal when every field is; leads hash
    and pickle (they cross process boundaries).  Stores rebuild a lead from its stored fields with
    the constructor, which checks every field: ``Lead(id, stage, version=..., attributes=...,
    source=..., owner=..., created_at=..., stage_entered_at=..., updated_at=...)``.

    >>> from datetime import datetime, timezone
    >>> at = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    >>> lead = Lead("L1", "lead", created_at=at, attributes={"budget": 5000})
    >>> lead.stage, lead.version, lead.stage_entered_at == at
    ('lead', 0, True)
    >>> lead.stage = "mql"
    Traceback (most recent call last):
    ...
    AttributeError: Lead is immutable: cannot set 'stage'; build a new value instead
    """

    __slots__ = ()
    _fields = (
        "id", "stage", "version", "attributes", "source", "owner",
        "created_at", "stage_entered_at", "updated_at",
    )
    id: Field[str] = field(0, "The lead's id, unique within a store.")
    stage: Field[str] = field(1, "The name of the stage the lead is in.")
    version: Field[int] = field(
        2, "How many records its history holds: 0 when new, +1 per move or audit record.")
    attributes: Field[Attributes] = field(3, "Read-only mapping of host data about the lead.")
    source: Field[Source | None] = field(4, "How the lead was found, or None.")
    owner: Field[str | None] = field(5, "Who owns the lead now, or None.")
    created_at: Field[datetime] = field(6, "When the lead was captured.")
    stage_entered_at: Field[datetime] = field(7, "When the lead entered its current stage.")
    updated_at: Field[datetime] = field(8, "When the lead last moved or changed.")

    def __new__(
        cls,
        id: str,  # noqa: A002 - the field is called id in the data model
        stage: str,
        *,
        version: int = 0,
        attributes: Mapping[str, Any] | None = None,
        source: Source | None = None,
        owner: str | None = None,
        created_at: datetime,
        stage_entered_at: datetime | None = None,
        updated_at: datetime | None = None,
    ) -> Self:
        """Build a lead from its fields, checking each one."""
        check_name(id, "id")
        check_name(stage, "stage")
        check_count(version, "version")
        if source is not None and not isinstance(source, Source):
            raise InvalidInput(
                f"source={source!r} must be a funnelkit.Source or None, "
                f"for example Source('referral', 'seed')"
            )
        check_name(owner, "owner", optional=True)
        require_aware(created_at, "created_at")
        entered = require_aware(
            created_at if stage_entered_at is None else stage_entered_at, "stage_entered_at"
        )
        updated = require_aware(entered if updated_at is None else updated_at, "updated_at")
        if entered < created_at or updated < entered:
            raise InvalidInput(
                f"lead {id!r}: times out of order (created_at={created_at.isoformat()}, "
                f"stage_entered_at={entered.isoformat()}, updated_at={updated.isoformat()}); "
                f"they must satisfy created_at <= stage_entered_at <= updated_at"
            )
        return super().__new__(cls, (id, stage, version, _attributes(attributes), source, owner,
                                     created_at, entered, updated))

    def evolve(
        self,
        *,
        attributes: Mapping[str, Any] | None = None,
        owner: str | _Keep | None = _KEEP,
        source: Source | _Keep | None = _KEEP,
        at: datetime | None = None,
    ) -> Lead:
        """A copy with new attributes, owner or source; stage and version only change by moving.

        Arguments left out keep their value; ``owner=None`` / ``source=None`` clear it.
        ``at`` (aware, not before ``updated_at``) becomes ``updated_at``.

        >>> from datetime import datetime, timezone
        >>> lead = Lead("L1", "lead", created_at=datetime(2026, 3, 2, tzinfo=timezone.utc))
        >>> owned = lead.evolve(owner="sdr-1")
        >>> owned.owner, owned.evolve(owner=None).owner
        ('sdr-1', None)
        """
        if at is not None and require_aware(at) < self.updated_at:
            raise InvalidInput(
                f"at={at.isoformat()} is before lead {self.id!r}'s last change "
                f"({self.updated_at.isoformat()}); time only moves forward"
            )
        return type(self)(
            self.id,
            self.stage,
            version=self.version,
            attributes=self.attributes if attributes is None else attributes,
            source=self.source if isinstance(source, _Keep) else source,
            owner=self.owner if isinstance(owner, _Keep) else owner,
            created_at=self.created_at,
            stage_entered_at=self.stage_entered_at,
            updated_at=self.updated_at if at is None else at,
        )

    def __hash__(self) -> int:
        return hash(("Lead", self.id, self.version, self.stage))


class Transition(Record):
    """The immutable record that a lead moved: who, what, when, why, and under which decision.

    ``source`` and ``target`` are stage names; ``version`` is the lead's version after the move;
    ``decision`` is the guarding policy's :class:`funnelkit.Decision`, or None for an unguarded
    move.  Stores rebuild one with the constructor, which checks every field.

    >>> from datetime import datetime, timezone
    >>> t = Transition("L1", "qualify", "lead", "mql", datetime(2026, 3, 2, tzinfo=timezone.utc),
    ...                actor="scoring", version=2)
    >>> t.source, t.target, t.version, t.decision
    ('lead', 'mql', 2, None)
    """

    __slots__ = ()
    _fields = (
        "lead_id", "event", "source", "target", "at", "actor", "reason", "decision", "version",
    )
    lead_id: Field[str] = field(0, "The id of the lead that moved.")
    event: Field[str] = field(1, "The event that moved it.")
    source: Field[str] = field(2, "The stage it left.")
    target: Field[str] = field(3, "The stage it entered.")
    at: Field[datetime] = field(4, "When it moved (timezone-aware).")
    actor: Field[str | None] = field(5, "Who moved it, or None.")
    reason: Field[str | None] = field(6, "Why, or None; required for backward moves.")
    decision: Field[Decision | None] = field(7, "The guarding policy's decision, or None.")
    version: Field[int] = field(8, "The lead's version after the move (1 for its first move).")

    def __new__(
        cls,
        lead_id: str,
        event: str,
        source: str,
        target: str,
        at: datetime,
        *,
        actor: str | None = None,
        reason: str | None = None,
        decision: Decision | None = None,
        version: int,
    ) -> Self:
        """Build a transition record from its fields, checking each one (stores use this)."""
        for value, name in ((lead_id, "lead_id"), (event, "event"), (source, "source"),
                            (target, "target")):
            check_name(value, name)
        require_aware(at)
        check_name(actor, "actor", optional=True)
        check_text(reason, "reason")
        if decision is not None and not isinstance(decision, Decision):
            raise InvalidInput(f"decision={decision!r} must be a funnelkit.Decision or None")
        if type(version) is not int or not 1 <= version <= MAX_VERSION:
            raise InvalidInput(
                f"version={version!r} must be an int from 1 to {MAX_VERSION:,} (the lead's "
                f"version after the move)"
            )
        fields = (lead_id, event, source, target, at, actor, reason, decision, version)
        return super().__new__(cls, fields)

    def __hash__(self) -> int:
        return hash(("Transition", self.lead_id, self.version, self.event, self.at))


class Fired(Record):
    """What :meth:`funnelkit.Funnel.fire` returns: the evolved lead, the record, any team change.

    Named, as every result of a pure funnel call is, for the call in the past participle
    (``fire`` gives ``Fired``, ``replay`` gives :class:`~funnelkit.Replayed`).  It was called
    ``Outcome``, a name now left to :attr:`Stage.outcome <funnelkit.Stage.outcome>` (open, won or
    lost); ``funnelkit.Outcome`` still works, with a ``DeprecationWarning``, until the next release.

    ``team_change`` is ``(from_team, to_team)`` when the move crosses teams (a handoff), else None.

    >>> from datetime import datetime, timezone
    >>> from funnelkit import templates
    >>> funnel = templates.inbound()
    >>> at = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    >>> lead = funnel.new_lead("L1", at=at)
    >>> for event in ("convert", "qualify", "hand_to_sales"):
    ...     fired = funnel.fire(lead, event, at=at)
    ...     lead = fired.lead
    >>> fired.team_change
    ('marketing', 'sales')
    >>> type(fired).__name__
    'Fired'
    """

    __slots__ = ()
    _fields = ("lead", "transition", "team_change")
    lead: Field[Lead] = field(0, "The lead after the move.")
    transition: Field[Transition] = field(1, "The record of the move.")
    team_change: Field[tuple[str, str] | None] = field(2, "(from_team, to_team) or None.")

    def __new__(
        cls, lead: Lead, transition: Transition, team_change: tuple[str, str] | None = None
    ) -> Self:
        """Build a result of ``fire`` (``fire`` builds them; tests and stores rarely need to)."""
        if type(lead) is not Lead or type(transition) is not Transition:
            raise InvalidInput("Fired takes a Lead and a Transition")
        return super().__new__(cls, (lead, transition, team_change))

    def __hash__(self) -> int:
        return hash(("Fired", hash(self.lead), hash(self.transition)))



# The one unchecked constructor of each record type (see funnelkit._core.record.maker).
make_lead = maker(Lead)
make_transition = maker(Transition)
make_fired = maker(Fired)
