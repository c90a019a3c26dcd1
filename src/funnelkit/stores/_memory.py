"""``MemoryStore``: the store protocol in plain Python objects, for tests and one-process apps."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from funnelkit._core.codec import LazyPayload, check_storable
from funnelkit._core.errors import (
    AlreadyExists,
    ConcurrencyError,
    InvalidInput,
    NotFound,
    StorageError,
)
from funnelkit._core.limits import MAX_DATA_SIZE, MAX_KEY_LENGTH
from funnelkit._core.time import require_aware, require_derived
from funnelkit.stores._protocol import (
    Change,
    MergeRecord,
    OutboxMessage,
    OutboxRow,
    changes_of,
    check_claim,
    check_commit_claimed,
    check_flag,
    check_handoff_query,
    check_max_data_size,
    check_merge_commit,
    check_retry,
    check_row_id,
    check_stream,
    check_worker,
    findable,
    merge_undone,
    no_handoff,
    no_lead,
    no_merge,
    owner_conflict,
    version_conflict,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from funnelkit._core.handoff import Handoff, HandoffStatus
    from funnelkit._core.lead import Lead, Transition
    from funnelkit._core.touchpoint import Touchpoint

__all__ = ["MemoryStore"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Where MemoryStore keeps each OutboxRow field in its row lists (OutboxRow's own order).
_ROW_KEY, _ROW_ATTEMPTS, _ROW_NEXT, _ROW_BY, _ROW_UNTIL, _ROW_DELIVERED, _ROW_ERROR = (
    1, 5, 6, 7, 8, 9, 10)


class MemoryStore:
    """Keeps everything in memory; thread-safe; nothing survives the process.

    It refuses exactly what the SQL stores cannot write, so code tested against it runs against
    them: *max_data_size* (characters of JSON, 1 MiB by default) limits a lead's attributes and
    a touchpoint's data, as in :class:`SQLiteStore` and :class:`SQLAlchemyStore`.

    >>> from datetime import datetime, timezone
    >>> from funnelkit import templates
    >>> from funnelkit.stores import Change
    >>> store = MemoryStore()
    >>> lead = templates.inbound().new_lead("L1", at=datetime(2026, 3, 2, tzinfo=timezone.utc))
    >>> store.commit(Change(lead, expected_version=None))
    >>> store.load("L1") == lead
    True
    """

    def __init__(self, *, max_data_size: int = MAX_DATA_SIZE) -> None:
        """An empty store."""
        self.max_data_size = check_max_data_size(max_data_size)
        self._lock = threading.RLock()
        self._leads: dict[str, Lead] = {}  # never replaced: Pipeline.fire reads it, lock-free
        self._history: dict[str, list[Transition]] = {}
        self._touchpoints: dict[str, list[Touchpoint]] = {}
        # The streams: an item's position is its index + 1 (positions increase per stream).
        self._transition_log: list[Transition] = []
        self._touchpoint_log: list[Touchpoint] = []
        self._handoffs: dict[str, Handoff] = {}
        # An outbox row is kept as a list of OutboxRow's fields, in order (see _ROW_*), changed
        # in place under the lock; readers get an OutboxRow built from it.
        self._outbox: dict[int, list[Any]] = {}
        self._pending: dict[int, None] = {}  # undelivered row ids, oldest first
        self._delivered: dict[int, None] = {}  # delivered row ids, in the order acknowledged
        self._outbox_keys: set[str] = set()
        self._outbox_ids = itertools.count(1)
        self._merges: dict[str, MergeRecord] = {}  # by id, oldest first
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("this MemoryStore is closed; create a new one")

    def load(self, lead_id: str) -> Lead:
        """The lead with this id."""
        # No lock: one dict read is atomic, and a commit stores the lead after its history, so a
        # lead seen here is never ahead of what history() gives.
        try:
            lead = self._leads[lead_id]
        except (KeyError, TypeError):
            self._check_open()
            findable(lead_id, "lead_id")  # InvalidInput for a key that is not a string
            raise no_lead(lead_id) from None
        if self._closed:
            self._check_open()
        return lead

    # -- writing: every write method checks what it is given, then goes through _write ---------

    def commit(self, change: Change) -> None:
        """Write *change* atomically (all checks happen before anything is written)."""
        if type(change) is not Change and not isinstance(change, Change):
            raise InvalidInput(f"commit takes a funnelkit.stores.Change, got {change!r}")
        self._write((change,))

    def commit_claimed(self, change: Change, *, worker: str, until: datetime) -> list[int]:
        """Write *change* as :meth:`commit` does, its outbox rows claimed by *worker* until *until*.

        The optional capability of :class:`~funnelkit.stores.Store`: answers the rows' ids, in
        the change's order; each counts one attempt, as :meth:`claim_outbox` would leave it.

        >>> from datetime import datetime, timedelta, timezone
        >>> from funnelkit import templates
        >>> from funnelkit.stores import Change, OutboxMessage
        >>> store, at = MemoryStore(), datetime(2026, 3, 2, tzinfo=timezone.utc)
        >>> lead = templates.inbound().new_lead("L1", at=at)
        >>> message = OutboxMessage("L1:0", "after_capture", {"lead_id": "L1"}, at)
        >>> store.commit_claimed(Change(lead, None, outbox=[message]), worker="w1",
        ...                      until=at + timedelta(minutes=5))
        [1]
        >>> store.claim_outbox(worker="w2", now=at, lease=timedelta(minutes=5))  # w1 holds it
        []
        """
        change = check_commit_claimed(change, worker, until)
        return self._write((change,), (worker, until))

    def commit_many(self, changes: Sequence[Change]) -> None:
        """Write every change in order, all or nothing (see :class:`Store`).

        >>> from datetime import datetime, timezone
        >>> from funnelkit import templates
        >>> funnel, at = templates.inbound(), datetime(2026, 3, 2, tzinfo=timezone.utc)
        >>> store = MemoryStore()
        >>> store.commit_many([Change(funnel.new_lead(i, at=at), None) for i in ("A", "B")])
        >>> [lead.id for lead in store.leads()]
        ['A', 'B']
        """
        changes = changes_of(changes)
        for change in changes:
            if not isinstance(change, Change):
                raise InvalidInput(f"commit takes funnelkit.stores.Change values, got {change!r}")
        self._write(changes)

    def commit_move(self, loaded: Lead, lead: Lead, transition: Transition) -> bool:
        """Write one move as the funnel built it, without a ``Change`` (the optional fast path).

        Writes *lead* (the lead *loaded* moved by *transition*) if the stored lead is still the
        very object *loaded*: the version guard made cheaper, and stricter (any change since the
        load, a move or not, is a conflict).  False, having written nothing, otherwise: the
        caller then commits a ``Change``, which is guarded by the version and says what is wrong.

        >>> from datetime import datetime, timezone
        >>> from funnelkit import templates
        >>> from funnelkit.stores import Change
        >>> funnel, store = templates.inbound(), MemoryStore()
        >>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
        >>> store.commit(Change(funnel.new_lead("L1", at=at), expected_version=None))
        >>> loaded = store.load("L1")
        >>> moved = funnel.fire(loaded, "convert", at=at)
        >>> store.commit_move(loaded, moved.lead, moved.transition)
        True
        >>> store.commit_move(loaded, moved.lead, moved.transition)  # no longer the stored lead
        False
        """
        # The fast path of _write too (a change that is one move and nothing else): its
        # appends are _apply's for such a change (tests/stores/test_memory_write_path.py).
        lead_id = lead.id
        lock = self._lock
        lock.acquire()  # not ``with``: half the cost, and every move comes through here
        try:
            if self._leads[lead_id] is not loaded or self._closed:  # leads are never removed
                return False
            # What is new only: attributes other than (by identity) the stored lead's, a decision.
            if (lead.attributes is not loaded.attributes and lead.attributes) or (
                    transition.decision is not None):
                check_storable(Change(lead, loaded.version, (transition,)),
                               known=loaded.attributes, limit=self.max_data_size)
            self._history[lead_id].append(transition)  # a stored lead has its list
            self._transition_log.append(transition)
            self._leads[lead_id] = lead  # last: see load
            return True
        finally:
            lock.release()

    def commit_merge(self, survivor: Change, duplicate: Change, merge: MergeRecord) -> MergeRecord:
        """Write a merge (or, for an undone *merge*, an unmerge) in one step; see :class:`Store`.

        Both changes are guarded as :meth:`commit_many` guards them, then the touchpoints move
        and the record is stored; everything is checked before anything is written.
        """
        merge = check_merge_commit(survivor, duplicate, merge)
        with self._lock:
            self._check_open()
            stored = self._merges.get(merge.id)
            if merge.active and stored is not None:
                raise AlreadyExists(f"merge {merge.id!r} is stored already; load the leads again")
            if not merge.active:
                if stored is None:
                    raise no_merge(merge.id)
                if not stored.active:
                    raise merge_undone(merge.id)
            self._write((survivor, duplicate))  # the lock is re-entrant: one step
            if merge.active:
                source, target = merge.duplicate_id, merge.survivor_id
                wanted = None
            else:
                source, target = merge.survivor_id, merge.duplicate_id
                wanted = set(merge.touchpoints)
            moved = self._move_touchpoints(source, target, wanted)
            if merge.active:
                merge = attrs.evolve(merge, touchpoints=moved)
            self._merges[merge.id] = merge
            return merge

    def _write(self, changes: Sequence[Change], claim: tuple[str, datetime] | None = None,
               ) -> list[int]:
        """Check every change, then write them all, in order: the one write of changes.

        Each change is guarded against the lead as the changes before it leave it (its version
        and owner, a new lead's absence), its values must be storable, a replaced handoff
        pending and an outbox key unused; nothing is written unless all pass.  *claim* (worker,
        until) writes the outbox rows claimed.  Answers the new outbox rows' ids.
        """
        lock = self._lock
        lock.acquire()  # not ``with``: half the cost, and most moves come through here
        try:
            if len(changes) == 1:
                # The fast path: a change that is one move of a stored lead, guarded here by its
                # version and owner (see _write_move).
                change = changes[0]
                stored = self._leads.get(change.lead.id)
                if (stored is not None and stored.version == change.expected_version
                        and len(change.transitions) == 1
                        and not (change.touchpoints or change.handoffs)
                        and not owner_conflict(change, stored.owner)):
                    written = MemoryStore._write_move(self, stored, change, claim)
                    if written is not None:
                        return written
            if self._closed:
                self._check_open()
            count = len(changes)
            current: dict[str, Lead | None] = {}  # lead id -> as the earlier changes leave it
            statuses: dict[str, str] = {}
            keys: set[str] = set()
            for index, change in enumerate(changes):
                where = f"change {index + 1} of {count}: " if count > 1 else ""
                lead = change.lead
                stored = current[lead.id] if lead.id in current else self._leads.get(lead.id)
                # attributes stored (or written by an earlier change) were checked then
                check_storable(change, known=None if stored is None else stored.attributes,
                               limit=self.max_data_size)
                if change.expected_version is None:
                    if stored is not None:
                        raise AlreadyExists(f"{where}lead {lead.id!r} exists already; load it "
                                            f"instead of creating it")
                elif stored is None:
                    raise no_lead(lead.id, where[:-2])
                elif (stored.version != change.expected_version
                        or owner_conflict(change, stored.owner)):
                    raise version_conflict(change, stored.version, stored.owner, where)
                current[lead.id] = lead
                if change.handoffs or change.outbox:
                    self._check_children(change, where, statuses, keys)
            # Every check passed: write.
            ids: list[int] = []
            for change in changes:
                ids.extend(self._apply(change.lead, change.transitions, change.touchpoints,
                                       change.handoffs, change.outbox, claim))
            if count == 1:
                self._leads[changes[0].lead.id] = changes[0].lead  # last: see load
            else:  # in one C-level dict update: a lock-free load sees all or none
                self._leads.update({change.lead.id: change.lead for change in changes})
            return ids
        finally:
            lock.release()

    def _write_move(self, stored: Lead, change: Change, claim: tuple[str, datetime] | None,
                    ) -> list[int] | None:
        """The fast path of :meth:`_write`: one move with at most one outbox row.

        *change* moves *stored* and writes nothing else but at most one outbox row (a hooked
        move's); it is already guarded by its version and owner.  A plain move is written as
        :meth:`commit_move` writes it (this class's, whatever a subclass does with its own); a
        move with its row under an unused key is checked and applied as the general path does,
        without its bookkeeping of several changes.  Answers the new rows' ids, or None, having
        written nothing, when the general path must decide (tests/stores/
        test_memory_write_path.py and test_memory_move_rows.py compare the two).
        """
        lead, outbox = change.lead, change.outbox
        if not outbox:
            moved = MemoryStore.commit_move(self, stored, lead, change.transitions[0])
            return [] if moved else None
        if len(outbox) > 1 or self._closed or outbox[0].key in self._outbox_keys:
            return None
        check_storable(change, known=stored.attributes, limit=self.max_data_size)
        written = self._apply(lead, change.transitions, (), (), outbox, claim)
        self._leads[lead.id] = lead  # last: see load
        return written

    def _apply(  # noqa: PLR0917 - a Change's parts, positionally, on the hot path
        self, lead: Lead, transitions: tuple[Transition, ...],
        touchpoints: tuple[Touchpoint, ...] = (), handoffs: tuple[Handoff, ...] = (),
        outbox: tuple[OutboxMessage, ...] = (), claim: tuple[str, datetime] | None = None,
    ) -> list[int]:
        """Write a checked change's parts but its lead, which the caller stores last (see load).

        The one place anything of a lead is written.  Answers the new outbox rows' ids; *claim*
        (worker, until) writes them claimed.
        """
        lead_id = lead.id
        history = self._history.get(lead_id)
        if history is None:  # a new lead: every stored lead has its list (see commit_move)
            history = self._history[lead_id] = []
        if transitions:
            history.extend(transitions)
            self._transition_log.extend(transitions)
        if touchpoints:
            self._touchpoints.setdefault(lead_id, []).extend(touchpoints)
            self._touchpoint_log.extend(touchpoints)
        for h in handoffs:
            self._handoffs[h.id] = h
        if not outbox:
            return []
        by, until = (None, None) if claim is None else claim
        attempts = 0 if claim is None else 1
        ids = []
        for m in outbox:
            row_id = next(self._outbox_ids)
            # a LazyPayload is read-only: kept as it is (the hooks' arguments, unencoded)
            payload = m.payload if type(m.payload) is LazyPayload else dict(m.payload)
            self._outbox[row_id] = [row_id, m.key, m.hook, payload, m.created_at, attempts,
                                    m.created_at, by, until, None, None]
            self._outbox_keys.add(m.key)
            self._pending[row_id] = None
            ids.append(row_id)
        return ids

    def _check_children(self, change: Change, where: str, statuses: dict[str, str],
                        keys: set[str]) -> None:
        for h in change.handoffs:
            old = statuses.get(h.id)
            if old is None and h.id in self._handoffs:
                old = self._handoffs[h.id].status
            if old is not None and old != "pending":
                raise ConcurrencyError(
                    f"{where}handoff {h.id!r} is {old} already; only a pending handoff can "
                    f"change: load it again")
            statuses[h.id] = h.status
        for m in change.outbox:
            if m.key in keys or m.key in self._outbox_keys:
                raise AlreadyExists(
                    f"{where}outbox key {m.key!r} is used already; outbox keys must be unique "
                    f"in a store")
            keys.add(m.key)

    def _move_touchpoints(self, source: str, target: str,
                          wanted: set[int] | None) -> tuple[int, ...]:
        """Give *target* the touchpoints of *source* (those at the *wanted* positions only)."""
        log = self._touchpoint_log
        moved = tuple(position for position, tp in enumerate(log, 1)
                      if tp.lead_id == source and (wanted is None or position in wanted))
        if moved:
            for position in moved:
                log[position - 1] = attrs.evolve(log[position - 1], lead_id=target)
            self._touchpoints[source] = [tp for tp in log if tp.lead_id == source]
            self._touchpoints[target] = [tp for tp in log if tp.lead_id == target]
        return moved

    def merges(self, *, lead_id: str | None = None, active_only: bool = False) -> list[MergeRecord]:
        """The merge records, oldest first (see :class:`Store`).

        >>> MemoryStore().merges()
        []
        """
        check_flag(active_only, "active_only")
        possible = lead_id is None or findable(lead_id, "lead_id")
        with self._lock:
            self._check_open()
            return [m for m in self._merges.values()
                    if possible and (lead_id is None or lead_id in (m.survivor_id, m.duplicate_id))
                    and (m.active or not active_only)]

    def history(self, lead_id: str) -> list[Transition]:
        """The lead's transitions, oldest first."""
        with self._lock:
            self.load(lead_id)
            return list(self._history.get(lead_id, ()))

    def touchpoints(self, lead_id: str) -> list[Touchpoint]:
        """The lead's touchpoints, oldest first."""
        with self._lock:
            self.load(lead_id)
            return sorted(self._touchpoints.get(lead_id, ()), key=lambda tp: tp.at)

    def leads(self, *, stage: str | None = None) -> Iterator[Lead]:
        """Every lead (in one stage when *stage* is given), in id order."""
        possible = stage is None or findable(stage, "stage")
        with self._lock:
            self._check_open()
            chosen = [lead for _, lead in sorted(self._leads.items())
                      if possible and (stage is None or lead.stage == stage)]
        return iter(chosen)

    @staticmethod
    def _stream(log: list[Any], after: int, since: datetime | None,
                limit: int | None) -> list[tuple[int, Any]]:
        check_stream(after, since, limit)
        out = [(position, item) for position, item in enumerate(log[after:], after + 1)
               if since is None or item.at >= since]
        return out if limit is None else out[:limit]

    def transitions(
        self, *, after: int = 0, since: datetime | None = None, limit: int | None = None
    ) -> Iterator[tuple[int, Transition]]:
        """Every transition with its position."""
        with self._lock:
            self._check_open()
            return iter(self._stream(self._transition_log, after, since, limit))

    def touchpoint_stream(
        self, *, after: int = 0, since: datetime | None = None, limit: int | None = None
    ) -> Iterator[tuple[int, Touchpoint]]:
        """Every touchpoint with its position."""
        with self._lock:
            self._check_open()
            return iter(self._stream(self._touchpoint_log, after, since, limit))

    def handoff(self, handoff_id: str) -> Handoff:
        """The handoff with this id."""
        with self._lock:
            self._check_open()
            try:
                return self._handoffs[handoff_id]
            except (KeyError, TypeError):
                findable(handoff_id, "handoff_id", MAX_KEY_LENGTH)
                raise no_handoff(handoff_id) from None

    def handoffs(
        self,
        *,
        status: HandoffStatus | None = None,
        team: str | None = None,
        assignee: str | None = None,
        lead_id: str | None = None,
        due_before: datetime | None = None,
    ) -> list[Handoff]:
        """Handoffs matching every filter given, by due time (no due time last), then id."""
        possible = check_handoff_query(status, due_before, team, assignee, lead_id)
        with self._lock:
            self._check_open()
            if not possible:
                return []
            found = [
                h for h in self._handoffs.values()
                if (status is None or h.status == status)
                and (team is None or h.to_team == team)
                and (assignee is None or h.assignee == assignee)
                and (lead_id is None or h.lead_id == lead_id)
                and (due_before is None or (h.due_at is not None and h.due_at < due_before))
            ]
        return sorted(found, key=lambda h: (h.due_at is None, h.due_at or _EPOCH, h.id))

    def claim_outbox(
        self, *, worker: str, now: datetime, lease: timedelta, limit: int = 100
    ) -> list[OutboxRow]:
        """Claim up to *limit* due, undelivered rows not leased by someone else."""
        check_claim(worker, now, lease, limit)
        with self._lock:
            self._check_open()
            claimed: list[OutboxRow] = []
            for row_id in self._pending:
                if len(claimed) >= limit:
                    break
                row = self._outbox[row_id]
                if row[_ROW_NEXT] is not None and row[_ROW_NEXT] > now:
                    continue
                if row[_ROW_UNTIL] is not None and row[_ROW_UNTIL] > now:
                    continue
                row[_ROW_ATTEMPTS] += 1
                row[_ROW_BY], row[_ROW_UNTIL] = worker, now + lease
                claimed.append(OutboxRow(*row))
            return claimed

    def _claimed(self, row_id: int, worker: str) -> list[Any]:
        row = self._outbox.get(row_id)
        if row is None:
            raise NotFound(f"no outbox row {row_id!r}")
        if row[_ROW_BY] != worker or row[_ROW_DELIVERED] is not None:
            raise ConcurrencyError(f"outbox row {row_id} is not claimed by {worker!r} (any more)")
        return row

    def ack_outbox(self, row_id: int, *, worker: str, at: datetime) -> None:
        """Mark a claimed row delivered."""
        require_aware(at)
        check_worker(worker)
        check_row_id(row_id)
        lock = self._lock
        lock.acquire()  # not ``with``: every hooked move comes through here
        try:
            if self._closed:
                self._check_open()
            row = self._claimed(row_id, worker)
            row[_ROW_BY] = row[_ROW_UNTIL] = None
            row[_ROW_DELIVERED] = at
            del self._pending[row_id]
            self._delivered[row_id] = None
        finally:
            lock.release()

    def purge_outbox(self, *, delivered_before: datetime) -> int:
        """Remove the rows delivered before *delivered_before*; answers how many (see ``Store``).

        >>> from datetime import datetime, timezone
        >>> MemoryStore().purge_outbox(delivered_before=datetime(2026, 3, 2, tzinfo=timezone.utc))
        0
        """
        require_derived(delivered_before, "delivered_before")
        with self._lock:
            self._check_open()
            outbox = self._outbox
            old = [row_id for row_id in self._delivered
                   if outbox[row_id][_ROW_DELIVERED] < delivered_before]
            for row_id in old:
                self._outbox_keys.discard(outbox.pop(row_id)[_ROW_KEY])
                del self._delivered[row_id]
            if old:  # copies give the memory back: a dict or set never shrinks on removal
                self._outbox, self._pending = dict(outbox), dict(self._pending)
                self._delivered, self._outbox_keys = dict(self._delivered), set(self._outbox_keys)
            return len(old)

    def retry_outbox(self, row_id: int, *, worker: str, error: str, retry_at: datetime) -> None:
        """Release a claimed row to be tried again at *retry_at*."""
        check_retry(worker, error, retry_at)
        check_row_id(row_id)
        with self._lock:
            self._check_open()
            row = self._claimed(row_id, worker)
            row[_ROW_BY] = row[_ROW_UNTIL] = None
            row[_ROW_NEXT], row[_ROW_ERROR] = retry_at, str(error)

    def outbox(self, *, undelivered_only: bool = True) -> list[OutboxRow]:
        """The outbox rows, oldest first."""
        check_flag(undelivered_only, "undelivered_only")
        with self._lock:
            self._check_open()
            ids = self._pending if undelivered_only else self._outbox
            return [OutboxRow(*self._outbox[i]) for i in ids]

    def close(self) -> None:
        """Mark the store closed."""
        with self._lock:
            self._closed = True

    def __repr__(self) -> str:
        return f"MemoryStore(leads={len(self._leads)}, transitions={len(self._transition_log)})"
