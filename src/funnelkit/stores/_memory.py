"""``MemoryStore``: the store protocol in plain Python objects, for tests and one-process apps."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from funnelkit._core.codec import check_storable
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
        self._outbox: dict[int, OutboxRow] = {}
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

    def commit(self, change: Change) -> None:
        """Write *change* atomically (all checks happen before anything is written)."""
        if type(change) is not Change and not isinstance(change, Change):
            raise InvalidInput(f"commit takes a funnelkit.stores.Change, got {change!r}")
        if not (change.touchpoints or change.handoffs or change.outbox) and self._commit_moves(
                change):
            return
        self._commit(change, None)

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
        return self._commit(change, (worker, until))

    def _commit(self, change: Change, claim: tuple[str, datetime] | None) -> list[int]:
        """:meth:`commit` off its hot path; *claim* (worker, until) writes the rows claimed."""
        lead = change.lead
        with self._lock:
            self._check_open()
            stored = self._leads.get(lead.id)
            check_storable(change, known=None if stored is None else stored.attributes,
                           limit=self.max_data_size)
            if change.expected_version is None:
                if stored is not None:
                    raise AlreadyExists(
                        f"lead {lead.id!r} exists already; load it instead of creating it")
            elif stored is None:
                raise no_lead(lead.id)
            elif stored.version != change.expected_version or owner_conflict(change, stored.owner):
                raise version_conflict(change, stored.version, stored.owner)
            if change.handoffs or change.outbox:
                self._check_children(change, "", {}, set())
            ids = self._apply(change, claim)
            self._leads[lead.id] = lead  # last: see load
            return ids

    def _commit_moves(self, change: Change) -> bool:
        """Write the lead and transitions of *change*, which has nothing else, if it can.

        The hot path of :meth:`commit` for a change with no touchpoint, handoff or outbox row
        (``Pipeline.fire`` itself uses :meth:`commit_move`).  False, having written nothing,
        when the lead is not stored at the expected version (and owner) or the store is closed:
        :meth:`commit` then takes the general path, which says why.
        """
        lead, expected, transitions = change.lead, change.expected_version, change.transitions
        lead_id = lead.id
        lock = self._lock
        lock.acquire()  # not ``with``: half the cost, and every move comes through here
        try:
            stored = self._leads.get(lead_id)
            if (stored is None or expected is None or stored.version != expected or self._closed
                    or owner_conflict(change, stored.owner)):
                return False
            # Storability is checked for what is new only: attributes other than (by identity)
            # the stored lead's, and policy decisions.
            check = lead.attributes is not stored.attributes and bool(lead.attributes)
            if not check:
                for t in transitions:
                    if t.decision is not None:
                        check = True
                        break
            if check:
                check_storable(change, known=stored.attributes, limit=self.max_data_size)
            if transitions:
                history = self._history[lead_id]
                history.extend(transitions)
                self._transition_log.extend(transitions)
            self._leads[lead_id] = lead  # last: see load
            return True
        finally:
            lock.release()

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
        lead_id = lead.id
        lock = self._lock
        lock.acquire()  # not ``with``: half the cost, and every move comes through here
        try:
            if self._leads[lead_id] is not loaded or self._closed:  # leads are never removed
                return False
            if (lead.attributes is not loaded.attributes and lead.attributes) or (
                    transition.decision is not None):
                check_storable(Change(lead, loaded.version, (transition,)),
                               known=loaded.attributes, limit=self.max_data_size)
            self._history[lead_id].append(transition)
            self._transition_log.append(transition)
            self._leads[lead_id] = lead  # last: see load
            return True
        finally:
            lock.release()

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
            self.commit_many([survivor, duplicate])  # the lock is re-entrant: one step
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
        with self._lock:
            self._check_open()
            # lead id -> the lead as stored once the changes before this one are written
            current: dict[str, Lead | None] = {}
            known: dict[str, Any] = {}  # lead id -> attributes checked already (by identity)
            statuses: dict[str, str] = {}
            keys: set[str] = set()
            for index, change in enumerate(changes):
                where = f"change {index + 1} of {len(changes)}: " if len(changes) > 1 else ""
                lead = change.lead
                if lead.id in current:
                    stored = current[lead.id]
                else:
                    stored = self._leads.get(lead.id)
                    known[lead.id] = None if stored is None else stored.attributes
                check_storable(change, known=known[lead.id], limit=self.max_data_size)
                known[lead.id] = lead.attributes
                if change.expected_version is None:
                    if stored is not None:
                        raise AlreadyExists(
                            f"{where}lead {lead.id!r} exists already; load it instead of "
                            f"creating it"
                        )
                elif stored is None:
                    raise NotFound(f"{where}no lead {lead.id!r} in this store")
                elif (stored.version != change.expected_version
                        or owner_conflict(change, stored.owner)):
                    raise version_conflict(change, stored.version, stored.owner, where)
                current[lead.id] = lead
                self._check_children(change, where, statuses, keys)
            # Every check passed: write.
            for change in changes:
                self._apply(change)
            # The leads last, in one C-level dict update: a lock-free load sees all or none.
            self._leads.update({change.lead.id: change.lead for change in changes})

    def _apply(self, change: Change, claim: tuple[str, datetime] | None = None) -> list[int]:
        """Write everything of *change* but its lead, which the caller stores last.

        Answers the new outbox rows' ids; *claim* (worker, until) writes them claimed.
        """
        lead = change.lead
        history = self._history.setdefault(lead.id, [])
        touchpoints = self._touchpoints.setdefault(lead.id, [])
        for t in change.transitions:
            history.append(t)
            self._transition_log.append(t)
        for tp in change.touchpoints:
            touchpoints.append(tp)
            self._touchpoint_log.append(tp)
        for h in change.handoffs:
            self._handoffs[h.id] = h
        ids: list[int] = []
        for m in change.outbox:
            row_id = next(self._outbox_ids)
            if claim is None:
                row = OutboxRow(row_id, m.key, m.hook, dict(m.payload), m.created_at,
                                next_attempt_at=m.created_at)
            else:
                row = OutboxRow(row_id, m.key, m.hook, dict(m.payload), m.created_at, 1,
                                m.created_at, *claim)
            self._outbox[row_id] = row
            self._outbox_keys.add(m.key)
            self._pending[row_id] = None
            ids.append(row_id)
        return ids

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
                if row.next_attempt_at is not None and row.next_attempt_at > now:
                    continue
                if row.claimed_until is not None and row.claimed_until > now:
                    continue
                row = attrs.evolve(row, attempts=row.attempts + 1, claimed_by=worker,
                                   claimed_until=now + lease)
                self._outbox[row_id] = row
                claimed.append(row)
            return claimed

    def _claimed(self, row_id: int, worker: str) -> OutboxRow:
        check_row_id(row_id)
        row = self._outbox.get(row_id)
        if row is None:
            raise NotFound(f"no outbox row {row_id!r}")
        if row.claimed_by != worker or row.delivered_at is not None:
            raise ConcurrencyError(f"outbox row {row_id} is not claimed by {worker!r} (any more)")
        return row

    def ack_outbox(self, row_id: int, *, worker: str, at: datetime) -> None:
        """Mark a claimed row delivered."""
        require_aware(at)
        check_worker(worker)
        check_row_id(row_id)
        with self._lock:
            self._check_open()
            row = self._claimed(row_id, worker)
            self._outbox[row_id] = OutboxRow(  # attrs.evolve, without its cost per row
                row_id, row.key, row.hook, row.payload, row.created_at, row.attempts,
                row.next_attempt_at, None, None, at, row.last_error)
            del self._pending[row_id]
            self._delivered[row_id] = None

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
                   if outbox[row_id].delivered_at < delivered_before]  # type: ignore[operator]
            for row_id in old:
                self._outbox_keys.discard(outbox.pop(row_id).key)
                del self._delivered[row_id]
            if old:  # copies give the memory back: a dict or set never shrinks on removal
                self._outbox, self._pending = dict(outbox), dict(self._pending)
                self._delivered, self._outbox_keys = dict(self._delivered), set(self._outbox_keys)
            return len(old)

    def retry_outbox(self, row_id: int, *, worker: str, error: str, retry_at: datetime) -> None:
        """Release a claimed row to be tried again at *retry_at*."""
        check_retry(worker, error, retry_at)
        with self._lock:
            self._check_open()
            row = self._claimed(row_id, worker)
            self._outbox[row_id] = attrs.evolve(row, claimed_by=None, claimed_until=None,
                                                next_attempt_at=retry_at, last_error=str(error))

    def outbox(self, *, undelivered_only: bool = True) -> list[OutboxRow]:
        """The outbox rows, oldest first."""
        check_flag(undelivered_only, "undelivered_only")
        with self._lock:
            self._check_open()
            if undelivered_only:
                return [self._outbox[i] for i in self._pending]
            return list(self._outbox.values())

    def close(self) -> None:
        """Mark the store closed."""
        with self._lock:
            self._closed = True

    def __repr__(self) -> str:
        return f"MemoryStore(leads={len(self._leads)}, transitions={len(self._transition_log)})"
