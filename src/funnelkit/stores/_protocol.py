"""The ``Store`` protocol: what the pipeline asks of the place the host keeps its data.

One protocol, one module per backend, one contract test suite shipped in the package
(:class:`funnelkit.testing.StoreContract`) that every backend passes, the host's own included.
Every backend raises the same errors: :class:`~funnelkit.NotFound`,
:class:`~funnelkit.AlreadyExists`, :class:`~funnelkit.ConcurrencyError` and
:class:`~funnelkit.StorageError` (translated from the driver's).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

import attrs

from funnelkit._core.codec import LazyPayload
from funnelkit._core.errors import ConcurrencyError, InvalidInput, NotFound
from funnelkit._core.handoff import HANDOFF_STATUSES, Handoff, HandoffStatus
from funnelkit._core.lead import Lead, Transition
from funnelkit._core.limits import (
    MAX_DATA_SIZE,
    MAX_DURATION,
    MAX_KEY_LENGTH,
    MAX_NAME_LENGTH,
    MAX_VERSION,
    _short,
    check_name,
    check_text,
    is_name,
    items_of,
)
from funnelkit._core.time import out_of_range, require_aware, require_derived
from funnelkit._core.touchpoint import Touchpoint

__all__ = ["Change", "MergeRecord", "OutboxMessage", "OutboxRow", "Store"]


def _tuple_of(kind: type) -> Any:
    def check(_: object, attribute: attrs.Attribute[Any], value: tuple[Any, ...]) -> None:
        for item in value:
            if not isinstance(item, kind):
                raise InvalidInput(
                    f"Change.{attribute.name} takes {kind.__name__} values, got {item!r}"
                )

    return check


def _payload(value: Mapping[str, Any]) -> Mapping[str, Any]:
    if type(value) is LazyPayload:
        return value  # read-only, encoded when a store writes it (the pipeline's own payloads)
    if not isinstance(value, Mapping):
        raise InvalidInput(
            f"OutboxMessage payload={_short(value)} must be a mapping of names to values")
    return dict(value)


def _outbox_key(_: object, __: object, value: str) -> None:
    check_name(value, "OutboxMessage key", limit=MAX_KEY_LENGTH)


def _outbox_hook(_: object, __: object, value: str) -> None:
    check_name(value, "OutboxMessage hook")


@attrs.frozen
class OutboxMessage:
    """An after-hook call to deliver once the change that caused it is committed.

    ``key`` is the idempotency key hosts can dedupe on (unique per store); ``hook`` the hook
    spec's name; ``payload`` the arguments: JSON types plus datetimes, dates, Decimals and
    tuples, which every store gives back unchanged.  A payload is copied, except the pipeline's
    own: a read-only mapping that keeps the hook arguments and encodes them when first read, so
    a store that writes rows serialises it as any payload and ``MemoryStore`` keeps it as is.

    >>> from datetime import datetime, timezone
    >>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
    >>> OutboxMessage("L1:1", "after_fire", {"lead_id": "L1", "at": at}, at).key
    'L1:1'
    """

    key: str = attrs.field(validator=_outbox_key)
    hook: str = attrs.field(validator=_outbox_hook)
    payload: Mapping[str, Any] = attrs.field(converter=_payload)
    created_at: datetime = attrs.field(validator=lambda _, __, v: require_aware(v, "created_at"))


@attrs.frozen
class OutboxRow:
    """An outbox message as stored, with its delivery bookkeeping.

    ``attempts`` counts delivery attempts; ``claimed_by``/``claimed_until`` hold a dispatcher's
    lease (expired leases can be claimed again); ``delivered_at`` is set once acknowledged;
    ``next_attempt_at`` is when the row is next due (its ``created_at`` at first, then the
    ``retry_at`` of :meth:`Store.retry_outbox`); ``last_error`` is the last failure's text.
    SQL stores give the bookkeeping times back in UTC.

    >>> from datetime import datetime, timezone
    >>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
    >>> OutboxRow(1, "L1:1", "after_fire", {}, at).attempts
    0
    """

    id: int
    key: str
    hook: str
    payload: Mapping[str, Any]
    created_at: datetime
    attempts: int = 0
    next_attempt_at: datetime | None = None
    claimed_by: str | None = None
    claimed_until: datetime | None = None
    delivered_at: datetime | None = None
    last_error: str | None = None


def _transitions(items: Iterable[Transition]) -> tuple[Transition, ...]:
    return items_of(items, "Change transitions")


def _touchpoints(items: Iterable[Touchpoint]) -> tuple[Touchpoint, ...]:
    return items_of(items, "Change touchpoints")


def _handoffs(items: Iterable[Handoff]) -> tuple[Handoff, ...]:
    return items_of(items, "Change handoffs")


def _messages(items: Iterable[OutboxMessage]) -> tuple[OutboxMessage, ...]:
    return items_of(items, "Change outbox")


def _a_lead(_: object, __: object, value: Lead) -> None:
    if type(value) is not Lead and not isinstance(value, Lead):
        raise InvalidInput(f"Change lead={_short(value)} is not a funnelkit.Lead")


class _Unchecked:
    """The default of ``Change.expected_owner``: the stored owner is not checked."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<unchecked>"

    def __reduce__(self) -> str:
        return "UNCHECKED"  # one object: copies and unpickled changes keep it (tested by `is`)


UNCHECKED: Any = _Unchecked()


def _check_expected_owner(_: object, __: object, value: object) -> None:
    if value is not UNCHECKED and value is not None and (type(value) is not str or not value):
        raise InvalidInput(
            f"Change expected_owner={value!r} must be the owner as loaded: a non-empty string, "
            f"or None for a lead with no owner"
        )


@attrs.frozen
class Change:
    """Everything one pipeline call writes, committed atomically by :meth:`Store.commit`.

    ``expected_version`` is the lead's version as loaded (None: the lead is new and must not
    exist).  ``transitions`` are the lead's new moves, oldest first: their versions run on from
    ``expected_version`` (from 1 for a new lead) up to ``lead.version``, so a change with no
    transition keeps the version.  ``expected_owner``, when given, is the lead's owner as loaded
    (a name or None): the commit then also needs the stored owner to be that one, so a change
    that is not a move (an assignment keeps the version) cannot be lost to another, and a move
    cannot write back an owner that changed since the load.  ``touchpoints`` are added.
    ``handoffs`` are inserted or, for an existing id, replaced; a stored handoff may only be
    replaced while its stored status is ``"pending"``.  ``outbox`` messages are queued for
    delivery once the change is committed.
    Transitions, touchpoints and handoffs must all belong to ``lead``; anything else is refused
    with :class:`~funnelkit.InvalidInput` when the change is built, before any store sees it.

    >>> from datetime import datetime, timezone
    >>> from funnelkit import templates
    >>> funnel = templates.inbound()
    >>> lead = funnel.new_lead("L1", at=datetime(2026, 3, 2, tzinfo=timezone.utc))
    >>> moved = funnel.fire(lead, "convert", at=datetime(2026, 3, 3, tzinfo=timezone.utc))
    >>> change = Change(moved.lead, expected_version=0, transitions=[moved.transition])
    >>> change.lead.version, len(change.transitions)
    (1, 1)
    """

    lead: Lead = attrs.field(validator=_a_lead)
    expected_version: int | None
    transitions: tuple[Transition, ...] = attrs.field(
        default=(), converter=_transitions, validator=_tuple_of(Transition))
    touchpoints: tuple[Touchpoint, ...] = attrs.field(
        default=(), kw_only=True, converter=_touchpoints, validator=_tuple_of(Touchpoint))
    handoffs: tuple[Handoff, ...] = attrs.field(
        default=(), kw_only=True, converter=_handoffs, validator=_tuple_of(Handoff))
    outbox: tuple[OutboxMessage, ...] = attrs.field(
        default=(), kw_only=True, converter=_messages, validator=_tuple_of(OutboxMessage))
    expected_owner: str | None = attrs.field(
        default=UNCHECKED, kw_only=True, validator=_check_expected_owner)

    def __attrs_post_init__(self) -> None:
        """Check that the parts belong together (one lead, contiguous versions)."""
        lead = self.lead
        expected = self.expected_version
        if expected is not None and (type(expected) is not int
                                     or not 0 <= expected <= MAX_VERSION):
            raise InvalidInput(
                f"Change expected_version={_short(expected)} must be an int from 0 to "
                f"{MAX_VERSION:,} (the version as loaded) or None for a new lead"
            )
        if expected is None and self.expected_owner is not UNCHECKED:
            raise InvalidInput(
                f"Change for the new lead {lead.id!r} has expected_owner="
                f"{self.expected_owner!r}; a new lead has no stored owner to check: leave it out"
            )
        start = version = 0 if expected is None else expected
        for t in self.transitions:
            version += 1
            if t.lead_id != lead.id or t.version != version:
                raise InvalidInput(
                    f"Change for lead {lead.id!r} (expected version {expected}) got transition "
                    f"{t.event!r} of lead {t.lead_id!r} at version {t.version}; transitions must "
                    f"be the lead's own, oldest first, with versions {start + 1} to "
                    f"{start + len(self.transitions)}"
                )
        if lead.version != version:
            raise InvalidInput(
                f"Change for lead {lead.id!r}: the lead is at version {lead.version} but "
                f"expected_version={expected} plus {len(self.transitions)} transition(s) makes "
                f"{version}; pass the lead returned by funnel.fire with every transition it made"
            )
        items: list[Touchpoint | Handoff] = [*self.touchpoints, *self.handoffs]
        for item in items:
            if item.lead_id != lead.id:
                raise InvalidInput(
                    f"Change for lead {lead.id!r} got {type(item).__name__} of lead "
                    f"{item.lead_id!r}; commit each lead's change on its own"
                )


def _merge_lead(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if type(value) is not Lead:
        raise InvalidInput(f"MergeRecord {attribute.name}={_short(value)} is not a funnelkit.Lead")


def _merge_name(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    check_name(value, f"MergeRecord {attribute.name}")


def _merge_text(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    check_text(value, f"MergeRecord {attribute.name}", optional=False)


def _positions(items: Iterable[int]) -> tuple[int, ...]:
    found = items_of(items, "MergeRecord touchpoints")
    for item in found:
        if type(item) is not int or not 0 < item <= _MAX_POSITION:
            raise InvalidInput(f"MergeRecord touchpoints holds {_short(item)}; give the "
                               f"positions (ints > 0) of the touchpoint stream")
    return found


def _handoff_ids(items: Iterable[str]) -> tuple[str, ...]:
    found = items_of(items, "MergeRecord handoffs")
    for item in found:
        check_name(item, "MergeRecord handoffs item", limit=MAX_KEY_LENGTH)
    return found


# -- building a Change without re-checking what was built and checked already -------------------
# ``Change`` checks every item it is given (about 2.4 us).  The pipeline only hands it values
# that were just built and checked by the funnel, so ``make_change``, the one constructor for
# them, fills the slots directly; if ``Change`` ever stops being the slotted attrs class this
# relies on, the checked constructor is used instead (tests/pipeline/test_pipeline.py compares
# both).
_CHANGE_FIELDS = ("lead", "expected_version", "transitions", "touchpoints", "handoffs", "outbox",
                  "expected_owner")
_object_new = object.__new__


def _checked_change(  # noqa: PLR0917 - mirrors Change's fields, positionally, on the hot path
    lead: Lead, expected: int | None, transitions: tuple[Transition, ...],
    touchpoints: tuple[Touchpoint, ...], handoffs: tuple[Handoff, ...],
    outbox: tuple[OutboxMessage, ...], expected_owner: str | None = UNCHECKED,
) -> Change:
    return Change(lead, expected, transitions, touchpoints=touchpoints, handoffs=handoffs,
                  outbox=outbox, expected_owner=expected_owner)


def _slot_setters(cls: type, fields: tuple[str, ...]) -> tuple[Any, ...] | None:
    """The slot setters of the attrs class *cls*, if its fields are *fields* in slots."""
    if tuple(a.name for a in attrs.fields(cls)) != fields:
        return None
    slots = [vars(cls).get(name) for name in fields]
    if not all(type(s).__name__ == "member_descriptor" for s in slots):
        return None
    return tuple(s.__set__ for s in slots)  # type: ignore[union-attr]


_SETTERS = _slot_setters(Change, _CHANGE_FIELDS)


# The setters are bound once, here: the constructor below is six C calls and no lookups.
(_SET_LEAD, _SET_EXPECTED, _SET_TRANSITIONS, _SET_TOUCHPOINTS, _SET_HANDOFFS, _SET_OUTBOX,
 _SET_OWNER) = _SETTERS if _SETTERS is not None else (None,) * 7


def _fast_change(  # noqa: PLR0917 - mirrors Change's fields, positionally, on the hot path
    lead: Lead, expected: int | None, transitions: tuple[Transition, ...],
    touchpoints: tuple[Touchpoint, ...], handoffs: tuple[Handoff, ...],
    outbox: tuple[OutboxMessage, ...], expected_owner: str | None = UNCHECKED,
) -> Change:
    change: Change = _object_new(Change)
    _SET_LEAD(change, lead)
    _SET_EXPECTED(change, expected)
    _SET_TRANSITIONS(change, transitions)
    _SET_TOUCHPOINTS(change, touchpoints)
    _SET_HANDOFFS(change, handoffs)
    _SET_OUTBOX(change, outbox)
    _SET_OWNER(change, expected_owner)
    return change


make_change = _fast_change if _SETTERS is not None else _checked_change


# The same for the outbox messages the pipeline builds (about 1.2 us checked): the hook is a spec
# name, the payload the pipeline's own LazyPayload, the time one the funnel checked, and the key
# is made of checked names, so only its length is left to check; a key too long takes the
# checked constructor, which says so.
_MESSAGE_FIELDS = ("key", "hook", "payload", "created_at")
_MESSAGE_SETTERS = _slot_setters(OutboxMessage, _MESSAGE_FIELDS)
_SET_KEY, _SET_HOOK, _SET_PAYLOAD, _SET_CREATED = (
    _MESSAGE_SETTERS if _MESSAGE_SETTERS is not None else (None,) * 4)


def _checked_message(key: str, hook: str, payload: LazyPayload,
                     created_at: datetime) -> OutboxMessage:
    return OutboxMessage(key, hook, payload, created_at)


def _fast_message(key: str, hook: str, payload: LazyPayload,
                  created_at: datetime) -> OutboxMessage:
    if len(key) > MAX_KEY_LENGTH:
        return OutboxMessage(key, hook, payload, created_at)  # refused, with the reason
    message: OutboxMessage = _object_new(OutboxMessage)
    _SET_KEY(message, key)
    _SET_HOOK(message, hook)
    _SET_PAYLOAD(message, payload)
    _SET_CREATED(message, created_at)
    return message


make_message = _fast_message if _MESSAGE_SETTERS is not None else _checked_message


@attrs.frozen
class MergeRecord:
    """The record of one merge, kept by the store: who merged which lead into which, and how.

    ``duplicate_id`` was merged into ``survivor_id`` at ``at`` by ``actor`` for ``reason``.
    ``survivor_before`` and ``duplicate_before`` are the two leads as the merge loaded them,
    ``survivor_after`` the survivor as the merge left it; the duplicate's move into the stage
    ``funnelkit.merged`` made its version ``duplicate_version``.  ``touchpoints`` are the stream
    positions of the duplicate's touchpoints the merge gave the survivor, ``handoffs`` the ids
    of its pending handoffs that moved.  A merge undone by ``Pipeline.unmerge`` keeps its record
    with ``unmerged_at``, ``unmerged_by`` and ``unmerge_reason`` set; while they are None the
    merge is **active**: the duplicate points at the survivor.  ``id`` is
    ``"<duplicate id>:<duplicate version>"``, unique in a store.

    >>> from datetime import datetime, timezone
    >>> from funnelkit import Lead
    >>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
    >>> s, d = Lead("L1", "mql", created_at=at), Lead("L2", "sql", version=2, created_at=at)
    >>> record = MergeRecord("L1", "L2", at=at, actor="ana", reason="same person",
    ...                      survivor_before=s, survivor_after=s, duplicate_before=d)
    >>> record.id, record.duplicate_version, record.active
    ('L2:3', 3, True)
    """

    survivor_id: str = attrs.field(validator=_merge_name)
    duplicate_id: str = attrs.field(validator=_merge_name)
    at: datetime = attrs.field(kw_only=True, validator=lambda _, __, v: require_aware(v, "at"))
    actor: str = attrs.field(kw_only=True, validator=_merge_name)
    reason: str = attrs.field(kw_only=True, validator=_merge_text)
    survivor_before: Lead = attrs.field(kw_only=True, validator=_merge_lead)
    survivor_after: Lead = attrs.field(kw_only=True, validator=_merge_lead)
    duplicate_before: Lead = attrs.field(kw_only=True, validator=_merge_lead)
    touchpoints: tuple[int, ...] = attrs.field(default=(), kw_only=True, converter=_positions)
    handoffs: tuple[str, ...] = attrs.field(default=(), kw_only=True, converter=_handoff_ids)
    unmerged_at: datetime | None = attrs.field(default=None, kw_only=True)
    unmerged_by: str | None = attrs.field(default=None, kw_only=True)
    unmerge_reason: str | None = attrs.field(default=None, kw_only=True)

    def __attrs_post_init__(self) -> None:
        """Check that the parts belong together (ids, versions, an undo given whole)."""
        if self.survivor_id == self.duplicate_id:
            raise InvalidInput(f"MergeRecord merges lead {self.survivor_id!r} with itself")
        ids = ((self.survivor_before, self.survivor_id), (self.survivor_after, self.survivor_id),
               (self.duplicate_before, self.duplicate_id))
        for lead, lead_id in ids:
            if lead.id != lead_id:
                raise InvalidInput(f"MergeRecord for {lead_id!r} holds lead {lead.id!r}")
        if self.duplicate_before.version >= MAX_VERSION:
            raise InvalidInput(f"lead {self.duplicate_id!r} has made the most moves a lead can "
                               f"make; it cannot be merged")
        undo = (self.unmerged_at, self.unmerged_by, self.unmerge_reason)
        if any(v is not None for v in undo):
            if any(v is None for v in undo):
                raise InvalidInput("MergeRecord takes unmerged_at, unmerged_by and "
                                   "unmerge_reason together, or none of them")
            require_aware(self.unmerged_at, "unmerged_at")
            check_name(self.unmerged_by, "MergeRecord unmerged_by")
            check_text(self.unmerge_reason, "MergeRecord unmerge_reason", optional=False)

    @property
    def id(self) -> str:
        """``"<duplicate id>:<duplicate version>"``: the record's key, unique in a store."""
        return f"{self.duplicate_id}:{self.duplicate_version}"

    @property
    def duplicate_version(self) -> int:
        """The duplicate's version once merged: its merge move is this version's transition."""
        return self.duplicate_before.version + 1

    @property
    def active(self) -> bool:
        """True while the merge stands (not undone): the duplicate points at the survivor."""
        return self.unmerged_at is None


@runtime_checkable
class Store(Protocol):
    """Where leads, transitions, touchpoints, handoffs and the outbox live.

    The contract every backend keeps (and :class:`funnelkit.testing.StoreContract` checks):

    - **Atomic, version-guarded commits.**  :meth:`commit` writes the whole :class:`Change` or
      nothing; it succeeds only if the stored lead is still at ``expected_version`` and, when the
      change gives an ``expected_owner``, still has that owner (a SQL backend does
      ``UPDATE ... WHERE id = ? AND version = ? AND owner IS NOT DISTINCT FROM ?`` and treats
      "no row" as a conflict).
    - **The same errors everywhere**: :class:`~funnelkit.NotFound`,
      :class:`~funnelkit.AlreadyExists`, :class:`~funnelkit.ConcurrencyError` (retry after
      loading again) and :class:`~funnelkit.StorageError` (the database failed: nothing was
      written), each translated from the driver's own.
    - **Values come back equal**: a loaded lead, transition, touchpoint or handoff equals the one
      committed, attributes and timezone offsets included.
    - **Streams have positions**: :meth:`transitions` and :meth:`touchpoint_stream` yield
      ``(position, value)`` with increasing positions, so a reader can resume ``after`` the last
      one it saw.
    - **Outbox leases**: two workers never hold the same row at once; a lease that ran out may be
      claimed again; every claim counts one attempt.
    - **Thread safety**; SQL backends are also safe for several processes on one database.

    Optional: ``commit_many(changes: Sequence[Change]) -> None`` writes several changes in one
    transaction, all or nothing, in order (two changes may move the same lead one after the
    other).  Stores that have it let ``Pipeline.fire_many`` batch; callers look it up with
    ``getattr(store, "commit_many", None)`` and fall back to one :meth:`commit` per change.

    Optional: ``commit_move(loaded: Lead, lead: Lead, transition: Transition) -> bool`` writes
    one move (``lead`` is ``loaded`` moved by ``transition``) when the stored lead is still the
    one loaded, and answers False, having written nothing, otherwise.  It must write what
    ``commit(Change(lead, loaded.version, [transition], expected_owner=loaded.owner))`` would
    (a check of the stored lead's identity, as ``MemoryStore`` makes, is stricter still);
    ``Pipeline.fire`` uses it for moves with no hook, handoff or outbox row when the store's
    class defines it beside its own ``commit`` (a subclass that overrides only ``commit`` keeps
    getting ``Change`` commits).

    Optional: ``commit_claimed(change: Change, *, worker: str, until: datetime) -> list[int]``
    commits *change* as :meth:`commit` does (same checks, same errors, all or nothing), its
    outbox rows written already claimed by *worker* until *until*, one attempt counted (as
    :meth:`claim_outbox` would leave them), and returns their row ids in the change's order.
    The pipeline that commits a change with outbox rows and delivers them itself right after
    uses it (found as ``commit_move`` is): it calls the hooks with the arguments it has in
    memory and acknowledges each row, with no claim transaction and no payload decoded.  If
    that process dies first, the rows are claimed by another worker once *until* has passed,
    so every row is still delivered at least once.  A store whose writes can join a
    transaction of the host's that has not committed yet (``DjangoStore`` inside
    ``transaction.atomic()``) writes the rows unclaimed there, as :meth:`commit` does, and
    answers None instead of ids: rows that may still roll back are not delivered; the caller
    delivers as after :meth:`commit`, and :meth:`claim_outbox` has them wait for the commit.

    Optional: ``purge_outbox(*, delivered_before: datetime) -> int`` removes the outbox rows
    delivered (acknowledged) strictly before *delivered_before* and answers how many; an
    undelivered row is never removed, and its key stays taken until it is.  Without it
    delivered rows stay for :meth:`outbox` to show (``Pipeline(outbox_retention=...)`` needs
    it).

    Optional, for ``Pipeline.merge`` and ``Pipeline.unmerge`` (every store funnelkit ships has
    both; a pipeline refuses to merge on a store without them, saying so):

    - ``commit_merge(survivor: Change, duplicate: Change, merge: MergeRecord) -> MergeRecord``
      writes, in one transaction, all or nothing: both changes, guarded as :meth:`commit`
      guards one (version and owner of each lead); then, for an active *merge* (a merge), moves
      every touchpoint the duplicate has at that moment to the survivor (their stream positions
      stay; the store reads them inside the transaction) and inserts the record, with those
      positions as its ``touchpoints``, and returns it (:class:`~funnelkit.AlreadyExists` when
      a record has its id); for an undone *merge* (an unmerge), moves the touchpoints at
      ``merge.touchpoints`` that are still the survivor's back to the duplicate and replaces
      the stored record, which must still be active (:class:`~funnelkit.ConcurrencyError`
      otherwise; :class:`~funnelkit.NotFound` when there is none), and returns *merge*.
    - ``merges(*, lead_id: str | None = None, active_only: bool = False) -> list[MergeRecord]``:
      the merge records, oldest first; with *lead_id*, those whose survivor or duplicate it is;
      with *active_only*, those not undone.  The active records are how a reader of the store
      follows a merged lead (stage ``funnelkit.merged``) to its survivor.

    >>> from funnelkit.stores import MemoryStore
    >>> isinstance(MemoryStore(), Store)
    True
    """

    def load(self, lead_id: str) -> Lead:
        """The lead with this id; :class:`~funnelkit.NotFound` if there is none."""
        ...

    def commit(self, change: Change) -> None:
        """Write *change* atomically, or nothing at all.

        Raises :class:`~funnelkit.AlreadyExists` when ``expected_version`` is None and the lead
        exists or an outbox key is taken, :class:`~funnelkit.ConcurrencyError` when the stored
        version is not ``expected_version``, the stored owner not a given ``expected_owner``
        (or a replaced handoff is no longer pending),
        :class:`~funnelkit.NotFound` when an expected lead is missing, and
        :class:`~funnelkit.StorageError` when the database fails.  In every case nothing of the
        change is written.
        """
        ...

    def history(self, lead_id: str) -> list[Transition]:
        """The lead's transitions, oldest first; :class:`~funnelkit.NotFound` for no such lead."""
        ...

    def touchpoints(self, lead_id: str) -> list[Touchpoint]:
        """The lead's touchpoints by time; :class:`~funnelkit.NotFound` for no such lead."""
        ...

    def leads(self, *, stage: str | None = None) -> Iterator[Lead]:
        """Every lead (in one stage when *stage* is given), in id order (by code point)."""
        ...

    def transitions(
        self, *, after: int = 0, since: datetime | None = None, limit: int | None = None
    ) -> Iterator[tuple[int, Transition]]:
        """Every transition with its position (increasing, > *after*), at or after *since*.

        At most *limit* items; a reader resumes with ``after=`` the last position it saw.
        """
        ...

    def touchpoint_stream(
        self, *, after: int = 0, since: datetime | None = None, limit: int | None = None
    ) -> Iterator[tuple[int, Touchpoint]]:
        """Every touchpoint with its position (increasing, > *after*), at or after *since*."""
        ...

    def handoff(self, handoff_id: str) -> Handoff:
        """The handoff with this id; :class:`~funnelkit.NotFound` if there is none."""
        ...

    def handoffs(
        self,
        *,
        status: HandoffStatus | None = None,
        team: str | None = None,
        assignee: str | None = None,
        lead_id: str | None = None,
        due_before: datetime | None = None,
    ) -> list[Handoff]:
        """Handoffs matching every filter given (``team`` is the receiving team).

        ``due_before`` keeps handoffs with a due time strictly before it.  Sorted by due time
        (handoffs with none last), then id.  SQL backends answer from an index.
        """
        ...

    def claim_outbox(
        self, *, worker: str, now: datetime, lease: timedelta, limit: int = 100
    ) -> list[OutboxRow]:
        """Claim up to *limit* undelivered rows due at *now* and not leased by another worker.

        Oldest first.  Two workers never hold the same row at once; a lease that ran out can be
        claimed again.  Each claim counts as one attempt.
        """
        ...

    def ack_outbox(self, row_id: int, *, worker: str, at: datetime) -> None:
        """Mark a claimed row delivered (ConcurrencyError if *worker* lost its lease)."""
        ...

    def retry_outbox(
        self, row_id: int, *, worker: str, error: str, retry_at: datetime
    ) -> None:
        """Release a claimed row after a failed delivery, to be tried again at *retry_at*."""
        ...

    def outbox(self, *, undelivered_only: bool = True) -> list[OutboxRow]:
        """The outbox rows, oldest first (for inspection and tests)."""
        ...

    def close(self) -> None:
        """Release connections; the store is unusable afterwards (:class:`StorageError`)."""
        ...


_MAX_POSITION = 2**63 - 1  # positions and row ids are 64-bit integers in the SQL stores


def check_stream(after: object, since: object, limit: object) -> None:
    """Refuse bad stream arguments (shared by every backend)."""
    if type(after) is not int or not 0 <= after <= _MAX_POSITION:
        raise InvalidInput(
            f"after={_short(after)} must be an int >= 0 (a position the stream gave)")
    if since is not None:
        require_aware(since, "since")
    if limit is not None and (type(limit) is not int or not 0 <= limit <= _MAX_POSITION):
        raise InvalidInput(f"limit={_short(limit)} must be an int >= 0 or None for no limit")


def is_store(value: object) -> bool:
    """Whether *value* is a store object (the protocol's methods on an instance, not a class)."""
    return not isinstance(value, type) and isinstance(value, Store)


def findable(value: object, what: str, limit: int = MAX_NAME_LENGTH) -> bool:
    r"""Whether a store may hold a record keyed *value*; InvalidInput when it is not a string.

    A string no store can keep (too long, a NUL, a lone surrogate) is never found: every backend
    answers :class:`~funnelkit.NotFound` (or an empty list) for it, as for any unknown id, and a
    SQL backend never sends it to its database.

    >>> findable("L1", "lead_id"), findable("\udc80", "lead_id")
    (True, False)
    """
    if is_name(value, limit):
        return True
    if not isinstance(value, str):
        raise InvalidInput(f"{what}={_short(value)} must be a string")
    return False


def changes_of(changes: object) -> Sequence[Change]:
    """The changes of a ``commit_many`` call, as a list or tuple; refuses anything else."""
    if isinstance(changes, list):
        return changes
    return items_of(changes, "commit_many changes")


def check_flag(value: object, what: str) -> None:
    """Refuse a flag that is not True or False."""
    if type(value) is not bool:
        raise InvalidInput(f"{what}={_short(value)} must be True or False")


def check_row_id(row_id: object) -> None:
    """Refuse an outbox row id that is not an int (unknown ints raise NotFound later)."""
    if type(row_id) is not int or not -_MAX_POSITION <= row_id <= _MAX_POSITION:
        raise InvalidInput(f"row_id={_short(row_id)} must be an int (an OutboxRow's id)")


def owner_conflict(change: Change, stored_owner: str | None) -> bool:
    """Whether *change* names an ``expected_owner`` that the stored lead no longer has."""
    expected = change.expected_owner
    return expected is not UNCHECKED and expected != stored_owner


def version_conflict(
    change: Change, stored_version: int, stored_owner: str | None, where: str = ""
) -> ConcurrencyError:
    """The error for a change whose lead moved (or changed owner) since it was loaded."""
    lead_id = change.lead.id
    if stored_version != change.expected_version:
        return ConcurrencyError(
            f"{where}lead {lead_id!r} is at version {stored_version}, not "
            f"{change.expected_version}: someone else changed it first; load it again and retry")
    return ConcurrencyError(
        f"{where}lead {lead_id!r} is owned by {stored_owner!r} now, not "
        f"{change.expected_owner!r}: someone else changed it first; load it again and retry")


def no_lead(lead_id: object, where: str = "") -> NotFound:
    """The error every backend raises for a lead id it does not have."""
    place = f" ({where})" if where else ""
    return NotFound(f"no lead {_short(lead_id)} in this store{place}; check the id, or capture "
                    "the lead first")


def no_handoff(handoff_id: object, where: str = "") -> NotFound:
    """The error every backend raises for a handoff id it does not have."""
    place = f" ({where})" if where else ""
    return NotFound(f"no handoff {_short(handoff_id)} in this store{place}; list them with "
                    "handoffs(...) to find its id")


def check_handoff_query(
    status: object, due_before: object, team: object = None, assignee: object = None,
    lead_id: object = None,
) -> bool:
    """Refuse bad :meth:`Store.handoffs` filters (shared by every backend).

    False when a filter names something no store can hold (nothing can match it).
    """
    if status is not None and status not in HANDOFF_STATUSES:
        raise InvalidInput(
            f"status={_short(status)} must be one of {', '.join(HANDOFF_STATUSES)} or None")
    if due_before is not None:
        require_aware(due_before, "due_before")
    possible = True
    for value, what in ((team, "team"), (assignee, "assignee"), (lead_id, "lead_id")):
        if value is not None and not findable(value, what):
            possible = False
    return possible


def check_worker(worker: object) -> None:
    """Refuse a worker name that is not a name every store can keep."""
    check_name(worker, "worker")


def check_claim(worker: object, now: object, lease: object, limit: object) -> None:
    """Refuse bad :meth:`Store.claim_outbox` arguments (shared by every backend)."""
    check_worker(worker)
    require_aware(now, "now")
    if not isinstance(lease, timedelta) or not timedelta(0) < lease <= MAX_DURATION:
        raise InvalidInput(f"lease={_short(lease)} must be a timedelta longer than zero and at "
                           f"most {MAX_DURATION.days:,} days (ten years)")
    try:
        until = now + lease  # type: ignore[operator]
    except OverflowError:
        raise out_of_range(now, "now + lease") from None  # type: ignore[arg-type]
    require_derived(until, "now + lease")
    if type(limit) is not int or not 1 <= limit <= MAX_VERSION:
        raise InvalidInput(f"limit={_short(limit)} must be an int from 1 to {MAX_VERSION:,}")


def check_commit_claimed(change: object, worker: object, until: object) -> Change:
    """Refuse bad ``commit_claimed`` arguments (shared by every backend)."""
    if type(change) is not Change and not isinstance(change, Change):
        raise InvalidInput(f"commit takes a funnelkit.stores.Change, got {_short(change)}")
    check_worker(worker)
    require_derived(until, "until")
    return change


def check_retry(worker: object, error: object, retry_at: object) -> None:
    """Refuse bad :meth:`Store.retry_outbox` arguments (shared by every backend)."""
    require_derived(retry_at, "retry_at")
    check_worker(worker)
    check_text(error, "error", optional=False)


def check_max_data_size(value: object) -> int:
    """A store's ``max_data_size`` argument: an int >= 2 (the JSON of ``{}``)."""
    if type(value) is not int or value < 2:
        raise InvalidInput(
            f"max_data_size={_short(value)} must be an int >= 2: the most characters of JSON a "
            f"lead's attributes (or a touchpoint's data) may take; the default is "
            f"{MAX_DATA_SIZE:,}")
    return value


MAX_PREFIX_LENGTH = 30  # the longest index name adds 24 characters; PostgreSQL keeps 63


def check_prefix(value: object) -> str:
    """A SQL store's table ``prefix``: ASCII letters, digits and underscores, not a digit first.

    Table and index names are the prefix and a fixed name (``leads``,
    ``transitions_lead_version``, ...), written into SQL without quotes, so the prefix must be
    an identifier's start on every database; at most :data:`MAX_PREFIX_LENGTH` characters.
    """
    if (not isinstance(value, str) or not 0 < len(value) <= MAX_PREFIX_LENGTH
            or not value.isascii() or not value.replace("_", "a").isalnum()
            or value[0].isdigit()):
        raise InvalidInput(
            f"prefix={_short(value)} must be 1 to {MAX_PREFIX_LENGTH} ASCII letters, digits and "
            f"underscores, not starting with a digit (such as 'funnelkit_' or 'crm_')")
    return value


def check_merge_commit(survivor: object, duplicate: object, merge: object) -> MergeRecord:
    """Refuse ``commit_merge`` arguments that do not belong together (shared by every backend)."""
    if not isinstance(merge, MergeRecord):
        raise InvalidInput(f"merge={_short(merge)} is not a funnelkit.stores.MergeRecord")
    for change, lead_id, what in ((survivor, merge.survivor_id, "survivor"),
                                  (duplicate, merge.duplicate_id, "duplicate")):
        if not isinstance(change, Change):
            raise InvalidInput(f"{what}={_short(change)} is not a funnelkit.stores.Change")
        if change.lead.id != lead_id or change.expected_version is None:
            raise InvalidInput(
                f"commit_merge {what}= must change the stored lead {lead_id!r} (the merge "
                f"record's {what}), got a change of {change.lead.id!r} with expected_version="
                f"{change.expected_version!r}")
    return merge


def merge_undone(merge_id: str, where: str = "") -> ConcurrencyError:
    """The error for an unmerge of a merge someone else undid first."""
    return ConcurrencyError(
        f"{where}merge {merge_id!r} was undone by someone else first; load the leads again")


def no_merge(merge_id: str, where: str = "") -> NotFound:
    """The error for an unmerge of a merge the store has no record of."""
    place = f" ({where})" if where else ""
    return NotFound(f"no merge {merge_id!r} in this store{place}; list them with merges()")
