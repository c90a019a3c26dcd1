"""``StoreContract``: the store protocol's test suite, for every backend, the host's own included.

Subclass it in a test module and override the ``store`` fixture so it yields a fresh, empty store;
pytest then runs every check below against it.  This module imports pytest, so import it only
from test code.

.. code-block:: python

    from funnelkit.testing import StoreContract

    class TestMyStore(StoreContract):
        @pytest.fixture
        def store(self, tmp_path):
            store = MyStore(tmp_path / "data")
            yield store
            store.close()

Override :meth:`StoreContract.reopen` too when the store can be opened twice on the same data
(a second connection): the checks that two handles see each other's writes and never claim the
same outbox row then use it.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

import attrs
import pytest

from funnelkit import templates
from funnelkit._core.decision import Decision, Verdict
from funnelkit._core.errors import (
    AlreadyExists,
    ConcurrencyError,
    FunnelError,
    InvalidInput,
    NotFound,
    StorageError,
)
from funnelkit._core.handoff import Handoff
from funnelkit._core.lead import Lead, Source, Transition
from funnelkit._core.reserved import MERGE_EVENT, MERGED_STAGE, UNMERGE_EVENT
from funnelkit._core.touchpoint import Touchpoint
from funnelkit.stores._protocol import Change, MergeRecord, OutboxMessage, Store

if TYPE_CHECKING:
    from collections.abc import Sequence

    from funnelkit._definition.funnel import Funnel

__all__ = ["StoreContract"]

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone(timedelta(hours=2)))
"""The suite's clock starts here (a non-UTC offset, so stores must keep offsets)."""


def _t(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


class StoreContract:
    """Checks that a store keeps the :class:`funnelkit.stores.Store` contract.

    Subclass it and override the ``store`` fixture (and :meth:`reopen` where the store can be
    opened twice); every ``test_*`` method then runs against your store.

    >>> StoreContract.funnel_for_tests().name
    'inbound'
    """

    # -- what a subclass provides ------------------------------------------------------------

    @pytest.fixture
    def store(self) -> Store:
        """A fresh, empty store; subclasses must override this fixture."""
        pytest.fail("StoreContract subclasses must override the `store` fixture")

    def reopen(self, store: Store) -> Store:
        """A second handle on *store*'s data (a new connection); the same object by default."""
        return store

    @staticmethod
    def funnel_for_tests() -> Funnel:
        """The funnel the checks move leads through (the inbound template)."""
        return templates.inbound()

    # -- helpers ----------------------------------------------------------------------------

    @pytest.fixture
    def funnel(self) -> Funnel:
        """The funnel the checks use."""
        return self.funnel_for_tests()

    @staticmethod
    def capture(store: Store, funnel: Funnel, lead_id: str, *, at: datetime = T0,
                **fields: Any) -> Lead:
        """Commit a new lead and return it."""
        lead = funnel.new_lead(lead_id, at=at, **fields)
        store.commit(Change(lead, expected_version=None))
        return lead

    @staticmethod
    def move(store: Store, funnel: Funnel, lead_id: str, event: str, *, at: datetime,
             outbox: Sequence[OutboxMessage] = (), **kwargs: Any) -> Lead:
        """Load, fire and commit one move; return the moved lead."""
        lead = store.load(lead_id)
        outcome = funnel.fire(lead, event, at=at, **kwargs)
        store.commit(Change(outcome.lead, lead.version, [outcome.transition], outbox=outbox))
        return outcome.lead

    @staticmethod
    def message(key: str, at: datetime = T0, **payload: Any) -> OutboxMessage:
        """An outbox message with *key*."""
        return OutboxMessage(key, "after_fire", payload or {"key": key}, at)

    @staticmethod
    def snapshot(store: Store) -> tuple[Any, ...]:
        """Everything a store holds, for "nothing changed" checks."""
        leads = list(store.leads())
        return (
            leads,
            [t for _, t in store.transitions()],
            [t for _, t in store.touchpoint_stream()],
            store.handoffs(),
            [(r.key, r.hook, r.attempts, r.delivered_at)
             for r in store.outbox(undelivered_only=False)],
            getattr(store, "merges", list)(),
        )

    # -- the protocol -----------------------------------------------------------------------

    def test_is_a_store(self, store: Store) -> None:
        """The store satisfies the runtime-checkable Store protocol."""
        assert isinstance(store, Store)

    def test_load_missing_lead_raises_not_found(self, store: Store) -> None:
        """Loading an id that was never committed raises NotFound (a LookupError)."""
        with pytest.raises(NotFound):
            store.load("nobody")
        with pytest.raises(LookupError):
            store.load("nobody")

    def test_new_lead_round_trips_every_field(self, store: Store, funnel: Funnel) -> None:
        """A committed lead loads back equal, with attributes, source, owner and offsets kept."""
        attributes = {
            "budget": Decimal("12500.50"), "seen": _t(5), "founded": date(2001, 5, 1),
            "tags": ("a", "b"), "nested": {"list": [1, 2.5, None, True], "s": "ünï"},
        }
        lead = funnel.new_lead("L1", at=T0, attributes=attributes,
                               source=Source("referral", "seed"), owner="sdr-1")
        store.commit(Change(lead, expected_version=None))
        loaded = store.load("L1")
        assert loaded == lead
        assert dict(loaded.attributes) == attributes
        assert type(loaded.attributes["budget"]) is Decimal
        assert type(loaded.attributes["tags"]) is tuple
        assert loaded.created_at.utcoffset() == T0.utcoffset()
        assert loaded.source == Source("referral", "seed")
        assert loaded.owner == "sdr-1"

    def test_second_capture_raises_already_exists(self, store: Store, funnel: Funnel) -> None:
        """Committing a new lead whose id exists raises AlreadyExists and changes nothing."""
        self.capture(store, funnel, "L1")
        before = self.snapshot(store)
        with pytest.raises(AlreadyExists):
            store.commit(Change(funnel.new_lead("L1", at=_t(1), owner="x"), None))
        assert self.snapshot(store) == before

    def test_move_commits_lead_and_transition(self, store: Store, funnel: Funnel) -> None:
        """A version-guarded commit stores the new lead and its transition."""
        self.capture(store, funnel, "L1")
        moved = self.move(store, funnel, "L1", "convert", at=_t(1), actor="form")
        assert store.load("L1") == moved
        assert store.load("L1").version == 1
        (t,) = store.history("L1")
        assert (t.event, t.source, t.target) == ("convert", "subscriber", "lead")
        assert (t.version, t.actor) == (1, "form")
        assert t.at == _t(1)
        assert t.at.utcoffset() == T0.utcoffset()

    def test_stale_version_raises_concurrency_error_and_writes_nothing(
        self, store: Store, funnel: Funnel
    ) -> None:
        """A commit against a version someone else moved past fails whole: nothing is written."""
        lead = self.capture(store, funnel, "L1")
        self.move(store, funnel, "L1", "convert", at=_t(1))
        before = self.snapshot(store)
        stale = funnel.fire(lead, "convert", at=_t(2))
        with pytest.raises(ConcurrencyError):
            store.commit(Change(stale.lead, 0, [stale.transition],
                                touchpoints=[Touchpoint("L1", "call", "phone", _t(2))],
                                outbox=[self.message("stale")]))
        assert self.snapshot(store) == before
        assert isinstance(ConcurrencyError("x"), StorageError)

    def test_expected_version_of_missing_lead_raises_not_found(
        self, store: Store, funnel: Funnel
    ) -> None:
        """Committing an update for a lead that is not stored raises NotFound."""
        lead = funnel.new_lead("ghost", at=T0)
        outcome = funnel.fire(lead, "convert", at=_t(1))
        with pytest.raises(NotFound):
            store.commit(Change(outcome.lead, 0, [outcome.transition]))
        with pytest.raises(NotFound):
            store.load("ghost")

    def test_change_without_transition_keeps_version(self, store: Store, funnel: Funnel) -> None:
        """A change with no move (new owner, touchpoints) keeps the version and is stored."""
        lead = self.capture(store, funnel, "L1")
        newer = lead.evolve(owner="ae-2", attributes={"score": 10}, at=_t(3))
        tps = [Touchpoint("L1", "webinar", "email", _t(2), points=5.5, data={"title": "x"}),
               Touchpoint("L1", "email_open", "email", _t(1))]
        store.commit(Change(newer, 0, touchpoints=tps))
        assert store.load("L1") == newer
        assert store.touchpoints("L1") == [tps[1], tps[0]]
        assert store.touchpoints("L1")[1].data == {"title": "x"}
        assert store.history("L1") == []

    def test_expected_owner_guards_changes_that_keep_the_version(
        self, store: Store, funnel: Funnel
    ) -> None:
        """With ``expected_owner`` a commit also needs the stored owner.

        An assignment made since the load is not overwritten, by another assignment or by a
        move, and nothing of the refused change is written.
        """
        lead = self.capture(store, funnel, "L1")  # no owner
        first = lead.evolve(owner="ana", at=_t(1))
        store.commit(Change(first, 0, expected_owner=None))  # None: no owner, checked
        before = self.snapshot(store)
        second = lead.evolve(owner="bo", at=_t(2))  # made from the load before "ana"
        with pytest.raises(ConcurrencyError, match="'ana'"):
            store.commit(Change(second, 0, expected_owner=None,
                                touchpoints=[Touchpoint("L1", "call", "phone", _t(2))]))
        stale = funnel.fire(lead, "convert", at=_t(3))  # would write owner None back
        with pytest.raises(ConcurrencyError, match="owned by 'ana'"):
            store.commit(Change(stale.lead, 0, [stale.transition], expected_owner=None))
        assert self.snapshot(store) == before
        moved = funnel.fire(first, "convert", at=_t(3))
        store.commit(Change(moved.lead, 0, [moved.transition], expected_owner="ana"))
        handed = moved.lead.evolve(owner=None, at=_t(4))
        store.commit(Change(handed, 1, expected_owner="ana"))
        assert store.load("L1") == handed
        store.commit(Change(handed.evolve(owner="cy", at=_t(5)), 1, expected_owner=None))
        assert store.load("L1").owner == "cy"

    def test_expected_owner_in_a_batch_follows_the_earlier_changes(
        self, store: Store, funnel: Funnel
    ) -> None:
        """In ``commit_many`` each owner is checked against the batch's earlier changes.

        Each change is checked against the lead as the changes before it in the batch leave it;
        one stale owner fails the whole batch.
        """
        commit_many = self._commit_many(store)
        lead = self.capture(store, funnel, "A")
        mine = lead.evolve(owner="ana", at=_t(1))
        moved = funnel.fire(mine, "convert", at=_t(2))
        commit_many([Change(mine, 0, expected_owner=None),
                     Change(moved.lead, 0, [moved.transition], expected_owner="ana")])
        assert store.load("A") == moved.lead
        before = self.snapshot(store)
        again = funnel.fire(moved.lead, "qualify", at=_t(3))
        with pytest.raises(ConcurrencyError, match="'A'"):
            commit_many([Change(again.lead, 1, [again.transition], expected_owner="bo")])
        assert self.snapshot(store) == before

    def test_history_oldest_first_and_decisions_kept(self, store: Store, funnel: Funnel) -> None:
        """history() gives a lead's transitions by version, decisions and reasons included."""
        self.capture(store, funnel, "L1")
        decision = Decision(allowed=True, criteria=[Verdict("budget", "met", Decimal(5)),
                                            Verdict("when", "partial", _t(0))],
                            reasons=["close enough"], score=0.75, policy="bant@1")
        lead = store.load("L1")
        first = funnel.fire(lead, "convert", at=_t(1))
        t1 = Transition("L1", "convert", "subscriber", "lead", _t(1), decision=decision, version=1)
        store.commit(Change(first.lead, 0, [t1]))
        self.move(store, funnel, "L1", "nurture", at=_t(2))
        self.move(store, funnel, "L1", "recycle", at=_t(3), reason="asked to wait")
        history = store.history("L1")
        assert [t.version for t in history] == [1, 2, 3]
        assert history[0] == t1
        assert history[0].decision == decision
        assert history[2].reason == "asked to wait"

    def test_history_and_touchpoints_of_missing_lead_raise(self, store: Store) -> None:
        """history() and touchpoints() of an unknown lead raise NotFound."""
        with pytest.raises(NotFound):
            store.history("nobody")
        with pytest.raises(NotFound):
            store.touchpoints("nobody")

    def test_several_moves_in_one_change(self, store: Store, funnel: Funnel) -> None:
        """One change may carry several transitions (an auto chain); all are stored in order."""
        lead = self.capture(store, funnel, "L1")
        a = funnel.fire(lead, "convert", at=_t(1))
        b = funnel.fire(a.lead, "qualify", at=_t(2))
        store.commit(Change(b.lead, 0, [a.transition, b.transition]))
        assert [t.version for t in store.history("L1")] == [1, 2]
        assert store.load("L1").stage == "mql"

    def test_capture_and_move_in_one_change(self, store: Store, funnel: Funnel) -> None:
        """A new lead may be committed together with its first moves."""
        lead = funnel.new_lead("L1", at=T0)
        a = funnel.fire(lead, "convert", at=_t(1))
        store.commit(Change(a.lead, None, [a.transition]))
        assert store.load("L1") == a.lead
        assert store.history("L1") == [a.transition]

    def test_leads_in_id_order_and_by_stage(self, store: Store, funnel: Funnel) -> None:
        """leads() lists every lead by id (code point order), or those in one stage."""
        ids = ["b", "B", "a", "é", "Z", "a b", "10", "9"]
        for lead_id in ids:
            self.capture(store, funnel, lead_id)
        self.move(store, funnel, "a", "convert", at=_t(1))
        self.move(store, funnel, "Z", "convert", at=_t(1))
        assert [lead.id for lead in store.leads()] == sorted(ids)
        assert [lead.id for lead in store.leads(stage="lead")] == ["Z", "a"]
        assert list(store.leads(stage="customer")) == []

    def test_ids_are_case_sensitive(self, store: Store, funnel: Funnel) -> None:
        """Ids differing only in case are different leads."""
        self.capture(store, funnel, "Lead-1")
        self.capture(store, funnel, "lead-1")
        assert {lead.id for lead in store.leads()} == {"Lead-1", "lead-1"}

    def test_ids_compare_byte_for_byte(self, store: Store, funnel: Funnel) -> None:
        """Ids differing only by spaces or Unicode form are different leads, in code point order.

        A database collation that pads with spaces (MariaDB's and MySQL's ``utf8mb4_bin``) or
        normalises text would make ``'K1 '`` and ``'K1'`` one lead.
        """
        ids = ["K1", "K1 ", " K1", " ", "caf\u00e9", "cafe\u0301", "\U0001f600"]
        for lead_id in ids:
            self.capture(store, funnel, lead_id, attributes={"id": lead_id})
        assert [lead.id for lead in store.leads()] == sorted(ids)
        assert [store.load(lead_id).attributes["id"] for lead_id in ids] == ids

    def test_ids_no_store_can_keep_are_never_found(self, store: Store, funnel: Funnel) -> None:
        """Lookups of ids no store can keep find nothing; ids that are not strings are refused."""
        self.capture(store, funnel, "L1")
        for bad in ("\udc80", "a\x00b", "x" * 300):
            for lookup in (store.load, store.history, store.touchpoints, store.handoff):
                with pytest.raises(NotFound):
                    lookup(bad)
            assert list(store.leads(stage=bad)) == []
            assert store.handoffs(team=bad, assignee=bad, lead_id=bad) == []
        for wrong in (5, None, ["L1"], b"L1"):
            with pytest.raises(InvalidInput):
                store.load(wrong)  # type: ignore[arg-type]
            with pytest.raises(InvalidInput):
                store.handoff(wrong)  # type: ignore[arg-type]

    def test_many_leads_are_listed(self, store: Store, funnel: Funnel) -> None:
        """leads() pages through more leads than one page holds without loss or repeats."""
        changes = [Change(funnel.new_lead(f"L{i:05d}", at=T0), None) for i in range(2500)]
        commit_many = getattr(store, "commit_many", None)
        if commit_many is not None:
            commit_many(changes)
        else:
            for change in changes:
                store.commit(change)
        assert [lead.id for lead in store.leads()] == [c.lead.id for c in changes]

    # -- streams ----------------------------------------------------------------------------

    def test_transition_stream_positions_after_since_limit(
        self, store: Store, funnel: Funnel
    ) -> None:
        """transitions() yields increasing positions, resumes after one and filters by time."""
        for lead_id in ("A", "B"):
            self.capture(store, funnel, lead_id)
        self.move(store, funnel, "A", "convert", at=_t(10))
        self.move(store, funnel, "B", "convert", at=_t(5))
        self.move(store, funnel, "A", "qualify", at=_t(20))
        items = list(store.transitions())
        positions = [p for p, _ in items]
        assert positions == sorted(positions)
        assert len(set(positions)) == 3
        assert [(t.lead_id, t.version) for _, t in items] == [("A", 1), ("B", 1), ("A", 2)]
        assert [t for _, t in store.transitions(after=positions[0])] == [t for _, t in items[1:]]
        assert [t for _, t in store.transitions(limit=2)] == [t for _, t in items[:2]]
        assert list(store.transitions(after=positions[-1])) == []
        since = [(t.lead_id, t.version) for _, t in store.transitions(since=_t(10))]
        assert since == [("A", 1), ("A", 2)]
        # since compares instants, whatever the offset
        utc = _t(10).astimezone(UTC)
        assert [(t.lead_id, t.version) for _, t in store.transitions(since=utc)] == since

    def test_touchpoint_stream(self, store: Store, funnel: Funnel) -> None:
        """touchpoint_stream() yields every touchpoint with increasing positions."""
        lead = self.capture(store, funnel, "A")
        tps = [Touchpoint("A", "call", "phone", _t(i)) for i in (3, 1, 2)]
        store.commit(Change(lead, 0, touchpoints=tps))
        items = list(store.touchpoint_stream())
        assert [tp for _, tp in items] == tps
        assert [tp for _, tp in store.touchpoint_stream(after=items[0][0])] == tps[1:]
        assert [tp for _, tp in store.touchpoint_stream(since=_t(2))] == [tps[0], tps[2]]
        assert [tp for _, tp in store.touchpoint_stream(limit=1)] == tps[:1]

    def test_streams_refuse_naive_since(self, store: Store) -> None:
        """A naive since= is refused with InvalidInput."""
        with pytest.raises(InvalidInput):
            list(store.transitions(since=datetime(2026, 1, 1)))  # noqa: DTZ001 - the point
        with pytest.raises(InvalidInput):
            list(store.touchpoint_stream(since=datetime(2026, 1, 1)))  # noqa: DTZ001

    # -- handoffs ---------------------------------------------------------------------------

    @staticmethod
    def handoff(hid: str, lead_id: str, *, to_team: str = "sales", due: float | None = 60,
                **fields: Any) -> Handoff:
        """A pending handoff due *due* minutes after T0."""
        return Handoff(hid, lead_id, "marketing", to_team, created_at=T0, event="hand_to_sales",
                       version=1, due_at=None if due is None else _t(due), **fields)

    def test_handoff_round_trip_and_not_found(self, store: Store, funnel: Funnel) -> None:
        """A committed handoff loads back equal; an unknown id raises NotFound."""
        lead = self.capture(store, funnel, "L1")
        h = self.handoff("H1", "L1", assignee="ae-1")
        store.commit(Change(lead, 0, handoffs=[h]))
        assert store.handoff("H1") == h
        with pytest.raises(NotFound):
            store.handoff("H2")

    def test_pending_handoff_can_be_replaced_closed_cannot(
        self, store: Store, funnel: Funnel
    ) -> None:
        """A pending handoff may be replaced; once accepted, replacing it is a ConcurrencyError."""
        lead = self.capture(store, funnel, "L1")
        store.commit(Change(lead, 0, handoffs=[self.handoff("H1", "L1")]))
        accepted = self.handoff("H1", "L1", status="accepted", resolved_at=_t(5), resolved_by="ae")
        store.commit(Change(lead, 0, handoffs=[accepted]))
        assert store.handoff("H1") == accepted
        before = self.snapshot(store)
        rejected = self.handoff("H1", "L1", status="rejected", reason="no budget")
        newer = lead.evolve(owner="x", at=_t(6))
        with pytest.raises(ConcurrencyError):
            store.commit(Change(newer, 0, handoffs=[rejected], outbox=[self.message("h")]))
        assert self.snapshot(store) == before
        assert store.load("L1") == lead

    def test_handoff_queries(self, store: Store, funnel: Funnel) -> None:
        """handoffs() filters by status, team, assignee, lead and due time; sorted by due, id."""
        for lead_id in ("A", "B", "C"):
            self.capture(store, funnel, lead_id)
        rows = [
            self.handoff("H3", "A", due=30, assignee="ae-1"),
            self.handoff("H1", "B", due=None),
            self.handoff("H2", "C", due=30, assignee="ae-2"),
            self.handoff("H4", "A", due=10, to_team="success"),
            self.handoff("H5", "B", due=5, status="expired", resolved_at=_t(6)),
        ]
        for h in rows:
            store.commit(Change(store.load(h.lead_id), 0, handoffs=[h]))

        def ids(found: list[Handoff]) -> list[str]:
            return [h.id for h in found]

        assert ids(store.handoffs()) == ["H5", "H4", "H2", "H3", "H1"]
        assert ids(store.handoffs(status="pending")) == ["H4", "H2", "H3", "H1"]
        assert ids(store.handoffs(team="sales", status="pending")) == ["H2", "H3", "H1"]
        assert ids(store.handoffs(assignee="ae-1")) == ["H3"]
        assert ids(store.handoffs(lead_id="A")) == ["H4", "H3"]
        assert ids(store.handoffs(status="pending", due_before=_t(30))) == ["H4"]
        assert ids(store.handoffs(due_before=_t(31).astimezone(UTC))) == ["H5", "H4", "H2", "H3"]
        assert store.handoffs(status="accepted") == []
        with pytest.raises(InvalidInput):
            store.handoffs(due_before=datetime(2026, 1, 1))  # noqa: DTZ001 - the point

    # -- outbox -----------------------------------------------------------------------------

    def _with_outbox(self, store: Store, funnel: Funnel, count: int, *, at: datetime = T0) -> None:
        lead = self.capture(store, funnel, "OB", at=at)
        store.commit(Change(lead, 0, outbox=[self.message(f"k{i}", at, n=i, when=at)
                                             for i in range(count)]))

    def test_outbox_rows_are_stored_with_payload(self, store: Store, funnel: Funnel) -> None:
        """Outbox messages become undelivered rows, oldest first, payload kept exactly."""
        self._with_outbox(store, funnel, 3)
        rows = store.outbox()
        assert [r.key for r in rows] == ["k0", "k1", "k2"]
        assert [r.id for r in rows] == sorted(r.id for r in rows)
        assert rows[1].payload == {"n": 1, "when": T0}
        assert rows[0].attempts == 0
        assert rows[0].delivered_at is None
        assert rows[0].created_at == T0

    def test_outbox_key_reuse_raises_already_exists(self, store: Store, funnel: Funnel) -> None:
        """A reused outbox key (earlier or in one change) raises AlreadyExists, writes nothing."""
        lead = self.capture(store, funnel, "L1")
        store.commit(Change(lead, 0, outbox=[self.message("k")]))
        before = self.snapshot(store)
        moved = funnel.fire(lead, "convert", at=_t(1))
        with pytest.raises(AlreadyExists):
            store.commit(Change(moved.lead, 0, [moved.transition], outbox=[self.message("k")]))
        with pytest.raises(AlreadyExists):
            store.commit(Change(moved.lead, 0, [moved.transition],
                                outbox=[self.message("j"), self.message("j")]))
        assert self.snapshot(store) == before

    def test_claim_ack_cycle(self, store: Store, funnel: Funnel) -> None:
        """A claim leases rows to one worker, counts an attempt; ack marks them delivered."""
        self._with_outbox(store, funnel, 3)
        lease = timedelta(minutes=5)
        claimed = store.claim_outbox(worker="w1", now=_t(1), lease=lease, limit=2)
        assert [r.key for r in claimed] == ["k0", "k1"]
        assert all(r.attempts == 1 and r.claimed_by == "w1" for r in claimed)
        assert claimed[0].claimed_until == _t(1) + lease
        assert [r.key for r in store.claim_outbox(worker="w2", now=_t(2), lease=lease)] == ["k2"]
        assert store.claim_outbox(worker="w3", now=_t(3), lease=lease) == []
        for r in claimed:
            store.ack_outbox(r.id, worker="w1", at=_t(4))
        assert [r.key for r in store.outbox()] == ["k2"]
        delivered = [r for r in store.outbox(undelivered_only=False) if r.delivered_at is not None]
        assert [r.key for r in delivered] == ["k0", "k1"]
        assert delivered[0].delivered_at == _t(4)
        assert store.claim_outbox(worker="w1", now=_t(60), lease=lease, limit=10)[0].key == "k2"

    def test_expired_lease_can_be_claimed_again(self, store: Store, funnel: Funnel) -> None:
        """A dead worker's lease runs out; another claims the row; the first can no longer ack."""
        self._with_outbox(store, funnel, 1)
        (row,) = store.claim_outbox(worker="dead", now=_t(1), lease=timedelta(minutes=1))
        assert store.claim_outbox(worker="w2", now=_t(1.5), lease=timedelta(minutes=1)) == []
        (again,) = store.claim_outbox(worker="w2", now=_t(2), lease=timedelta(minutes=1))
        assert again.id == row.id
        assert again.attempts == 2
        with pytest.raises(ConcurrencyError):
            store.ack_outbox(row.id, worker="dead", at=_t(2.5))
        store.ack_outbox(row.id, worker="w2", at=_t(2.5))
        with pytest.raises(ConcurrencyError):
            store.ack_outbox(row.id, worker="w2", at=_t(2.6))

    def test_retry_releases_until_retry_at(self, store: Store, funnel: Funnel) -> None:
        """retry_outbox frees a row, keeps the error, and hides it until retry_at."""
        self._with_outbox(store, funnel, 1)
        (row,) = store.claim_outbox(worker="w", now=_t(1), lease=timedelta(hours=1))
        store.retry_outbox(row.id, worker="w", error="smtp down", retry_at=_t(10))
        assert store.claim_outbox(worker="w", now=_t(9), lease=timedelta(hours=1)) == []
        (again,) = store.claim_outbox(worker="w", now=_t(10), lease=timedelta(hours=1))
        assert again.last_error == "smtp down"
        assert again.attempts == 2
        assert again.next_attempt_at == _t(10)
        with pytest.raises(ConcurrencyError):
            store.retry_outbox(row.id, worker="other", error="x", retry_at=_t(11))

    def test_rows_not_due_are_not_claimed(self, store: Store, funnel: Funnel) -> None:
        """A row created after *now* is not due yet."""
        self._with_outbox(store, funnel, 1, at=_t(30))
        assert store.claim_outbox(worker="w", now=_t(29), lease=timedelta(minutes=1)) == []
        assert len(store.claim_outbox(worker="w", now=_t(30), lease=timedelta(minutes=1))) == 1

    def test_ack_unknown_row_raises_not_found(self, store: Store) -> None:
        """Acknowledging or retrying a row id that does not exist raises NotFound."""
        with pytest.raises(NotFound):
            store.ack_outbox(987654, worker="w", at=T0)
        with pytest.raises(NotFound):
            store.retry_outbox(987654, worker="w", error="x", retry_at=T0)

    def test_claim_arguments_are_checked(self, store: Store) -> None:
        """Naive times, empty workers, non-positive leases and limits raise InvalidInput."""
        bad: list[dict[str, Any]] = [
            {"worker": "w", "now": datetime(2026, 1, 1), "lease": timedelta(1)},  # noqa: DTZ001
            {"worker": "", "now": T0, "lease": timedelta(1)},
            {"worker": "w", "now": T0, "lease": timedelta(0)},
            {"worker": "w", "now": T0, "lease": timedelta(1), "limit": 0},
        ]
        for kwargs in bad:
            with pytest.raises(InvalidInput):
                store.claim_outbox(**kwargs)

    def test_concurrent_claims_never_share_a_row(self, store: Store, funnel: Funnel) -> None:
        """Workers claiming at once (threads, second handles) never get the same row."""
        self._with_outbox(store, funnel, 60)
        handles = [store, self.reopen(store), self.reopen(store), self.reopen(store)]
        got: list[list[int]] = [[] for _ in handles]
        errors: list[BaseException] = []

        def claim(i: int) -> None:
            try:
                while True:
                    rows = handles[i].claim_outbox(worker=f"w{i}", now=_t(1),
                                                   lease=timedelta(hours=1), limit=3)
                    if not rows:
                        return
                    got[i].extend(r.id for r in rows)
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(handles))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        every = [i for ids in got for i in ids]
        assert len(every) == 60
        assert len(set(every)) == 60

    # -- commit_claimed and purge_outbox (optional) -----------------------------------------

    def _optional(self, store: Store, name: str) -> Any:
        found = getattr(store, name, None)
        if found is None:
            pytest.skip(f"this store has no {name} (optional)")
        return found

    def test_commit_claimed_writes_the_rows_claimed(self, store: Store, funnel: Funnel) -> None:
        """commit_claimed commits the change, its rows leased to the worker (one attempt each)."""
        commit_claimed = self._optional(store, "commit_claimed")
        lead = self.capture(store, funnel, "L1")
        moved = funnel.fire(lead, "convert", at=_t(1))
        until = _t(1) + timedelta(minutes=5)
        ids = commit_claimed(Change(moved.lead, 0, [moved.transition],
                                    outbox=[self.message("a", _t(1)), self.message("b", _t(1))]),
                             worker="w1", until=until)
        assert store.load("L1") == moved.lead
        rows = store.outbox()
        assert [r.id for r in rows] == ids
        assert [(r.key, r.attempts, r.claimed_by, r.claimed_until) for r in rows] == [
            ("a", 1, "w1", until), ("b", 1, "w1", until)]
        lease = timedelta(minutes=1)
        assert store.claim_outbox(worker="w2", now=until - lease, lease=lease) == []
        store.ack_outbox(ids[0], worker="w1", at=_t(2))
        (again,) = store.claim_outbox(worker="w2", now=until, lease=lease)  # the lease ran out
        assert (again.id, again.attempts) == (ids[1], 2)

    def test_commit_claimed_is_guarded_and_checked_as_commit(
        self, store: Store, funnel: Funnel
    ) -> None:
        """A stale version or a taken key writes nothing; bad arguments are refused first."""
        commit_claimed = self._optional(store, "commit_claimed")
        lead = self.capture(store, funnel, "L1")
        store.commit(Change(lead, 0, outbox=[self.message("k")]))
        before = self.snapshot(store)
        moved = funnel.fire(lead, "convert", at=_t(1))
        until = _t(1) + timedelta(minutes=5)
        store.commit(Change(moved.lead, 0, [moved.transition]))  # someone else moves it first
        before = self.snapshot(store)
        with pytest.raises(ConcurrencyError):
            commit_claimed(Change(moved.lead, 0, [moved.transition],
                                  outbox=[self.message("j")]), worker="w", until=until)
        moved = funnel.fire(moved.lead, "qualify", at=_t(2))
        with pytest.raises(AlreadyExists):
            commit_claimed(Change(moved.lead, 1, [moved.transition],
                                  outbox=[self.message("k")]), worker="w", until=until)
        for bad in ({"worker": "", "until": until}, {"worker": "w", "until": T0.replace(
                tzinfo=None)}):
            with pytest.raises(InvalidInput):
                commit_claimed(Change(moved.lead, 1, [moved.transition]), **bad)
        with pytest.raises(InvalidInput):
            commit_claimed("not a change", worker="w", until=until)
        assert self.snapshot(store) == before

    def test_purge_outbox_removes_delivered_rows_only(self, store: Store, funnel: Funnel) -> None:
        """purge_outbox deletes rows delivered before the time given, never undelivered ones."""
        purge = self._optional(store, "purge_outbox")
        self._with_outbox(store, funnel, 3)
        lease = timedelta(minutes=5)
        first, second, _ = store.claim_outbox(worker="w", now=_t(1), lease=lease)
        store.ack_outbox(first.id, worker="w", at=_t(2))
        store.ack_outbox(second.id, worker="w", at=_t(3))
        assert purge(delivered_before=_t(2)) == 0  # strictly before
        assert purge(delivered_before=_t(2.5)) == 1
        assert [r.key for r in store.outbox(undelivered_only=False)] == ["k1", "k2"]
        assert purge(delivered_before=_t(100)) == 1
        assert [r.key for r in store.outbox(undelivered_only=False)] == ["k2"]
        assert [r.key for r in store.outbox()] == ["k2"]
        with pytest.raises(InvalidInput):
            purge(delivered_before=T0.replace(tzinfo=None))
        with pytest.raises(TypeError):
            purge(_t(100))  # keyword-only

    def test_purged_keys_can_be_used_again(self, store: Store, funnel: Funnel) -> None:
        """A purged row's key is free; an undelivered row's key stays taken."""
        purge = self._optional(store, "purge_outbox")
        lead = self.capture(store, funnel, "L1")
        store.commit(Change(lead, 0, outbox=[self.message("k"), self.message("j")]))
        (row, _) = store.claim_outbox(worker="w", now=_t(1), lease=timedelta(minutes=5))
        store.ack_outbox(row.id, worker="w", at=_t(2))
        assert purge(delivered_before=_t(3)) == 1
        store.commit(Change(lead, 0, outbox=[self.message("k")]))
        with pytest.raises(AlreadyExists):
            store.commit(Change(lead, 0, outbox=[self.message("j")]))
        assert sorted(r.key for r in store.outbox()) == ["j", "k"]

    # -- commit_many (optional) -------------------------------------------------------------

    def _commit_many(self, store: Store) -> Any:
        commit_many = getattr(store, "commit_many", None)
        if commit_many is None:
            pytest.skip("this store has no commit_many (optional)")
        return commit_many

    def test_commit_many_writes_all(self, store: Store, funnel: Funnel) -> None:
        """commit_many writes every change, including several moves of one lead in order."""
        commit_many = self._commit_many(store)
        a, b = funnel.new_lead("A", at=T0), funnel.new_lead("B", at=T0)
        commit_many([Change(a, None), Change(b, None)])
        a1 = funnel.fire(a, "convert", at=_t(1))
        a2 = funnel.fire(a1.lead, "qualify", at=_t(2))
        b1 = funnel.fire(b, "convert", at=_t(1))
        commit_many([Change(a1.lead, 0, [a1.transition], outbox=[self.message("a1")]),
                     Change(b1.lead, 0, [b1.transition]),
                     Change(a2.lead, 1, [a2.transition], outbox=[self.message("a2")])])
        assert store.load("A") == a2.lead
        assert store.load("B") == b1.lead
        assert [t.version for t in store.history("A")] == [1, 2]
        assert [r.key for r in store.outbox()] == ["a1", "a2"]
        commit_many([])

    def test_commit_many_is_all_or_nothing(self, store: Store, funnel: Funnel) -> None:
        """One bad change fails the whole batch with the right error; nothing is written."""
        commit_many = self._commit_many(store)
        a, b = self.capture(store, funnel, "A"), self.capture(store, funnel, "B")
        self.move(store, funnel, "B", "convert", at=_t(1))
        before = self.snapshot(store)
        a1 = funnel.fire(a, "convert", at=_t(2))
        b_stale = funnel.fire(b, "convert", at=_t(2))
        with pytest.raises(ConcurrencyError, match="'B'"):
            commit_many([Change(a1.lead, 0, [a1.transition], outbox=[self.message("x")]),
                         Change(b_stale.lead, 0, [b_stale.transition])])
        first = Change(a1.lead, 0, [a1.transition])
        with pytest.raises(AlreadyExists):
            commit_many([first, Change(funnel.new_lead("B", at=T0), None)])
        ghost = funnel.fire(funnel.new_lead("G", at=T0), "convert", at=_t(1))
        with pytest.raises(NotFound):
            commit_many([first, Change(ghost.lead, 0, [ghost.transition])])
        assert self.snapshot(store) == before

    # -- merges (optional: commit_merge and merges) -------------------------------------------

    def _merging(self, store: Store) -> Any:
        commit_merge = getattr(store, "commit_merge", None)
        if commit_merge is None or getattr(store, "merges", None) is None:
            pytest.skip("this store has no commit_merge and merges (optional)")
        return commit_merge

    @staticmethod
    def merge_of(survivor: Lead, duplicate: Lead, *, at: datetime, attributes: Any = None,
                 stage: str | None = None, handoffs: Sequence[Handoff] = (),
                 outbox: Sequence[OutboxMessage] = ()) -> tuple[Change, Change, MergeRecord]:
        """The arguments of ``commit_merge`` for merging *duplicate* into *survivor* at *at*.

        The survivor takes *attributes* (its own when None) and moves to *stage* when given;
        the duplicate moves to the merged stage.  Built the way ``Pipeline.merge`` builds them.
        """
        moves: list[Transition] = []
        merged = Lead(survivor.id, survivor.stage, version=survivor.version,
                      attributes=survivor.attributes if attributes is None else attributes,
                      source=survivor.source, owner=survivor.owner,
                      created_at=survivor.created_at, stage_entered_at=survivor.stage_entered_at,
                      updated_at=at)
        if stage is not None and stage != survivor.stage:
            moves.append(Transition(survivor.id, MERGE_EVENT, survivor.stage, stage, at,
                                    actor="contract", reason="one person",
                                    version=survivor.version + 1))
            merged = Lead(survivor.id, stage, version=survivor.version + 1,
                          attributes=merged.attributes, source=survivor.source,
                          owner=survivor.owner, created_at=survivor.created_at,
                          stage_entered_at=at, updated_at=at)
        closing = Transition(duplicate.id, MERGE_EVENT, duplicate.stage, MERGED_STAGE, at,
                             actor="contract", reason="one person", version=duplicate.version + 1)
        closed = Lead(duplicate.id, MERGED_STAGE, version=duplicate.version + 1,
                      attributes=duplicate.attributes, source=duplicate.source,
                      owner=duplicate.owner, created_at=duplicate.created_at,
                      stage_entered_at=at, updated_at=at)
        record = MergeRecord(survivor.id, duplicate.id, at=at, actor="contract",
                             reason="one person", survivor_before=survivor,
                             survivor_after=merged, duplicate_before=duplicate,
                             handoffs=[h.id for h in handoffs])
        return (Change(merged, survivor.version, moves, handoffs=handoffs, outbox=outbox,
                       expected_owner=survivor.owner),
                Change(closed, duplicate.version, [closing], expected_owner=duplicate.owner),
                record)

    @staticmethod
    def unmerge_of(record: MergeRecord, survivor: Lead, duplicate: Lead, *, at: datetime,
                   handoffs: Sequence[Handoff] = ()) -> tuple[Change, Change, MergeRecord]:
        """The arguments of ``commit_merge`` undoing *record* (survivor and duplicate as stored).

        The survivor gets its attributes and stage from before the merge back.
        """
        before = record.survivor_before
        moves: list[Transition] = []
        stage, version, entered = survivor.stage, survivor.version, survivor.stage_entered_at
        if before.stage != survivor.stage:
            version += 1
            stage, entered = before.stage, at
            moves.append(Transition(survivor.id, UNMERGE_EVENT, survivor.stage, stage, at,
                                    actor="contract", reason="two people", version=version))
        restored = Lead(survivor.id, stage, version=version, attributes=before.attributes,
                        source=survivor.source, owner=survivor.owner,
                        created_at=survivor.created_at, stage_entered_at=entered, updated_at=at)
        back_stage = record.duplicate_before.stage
        back = Lead(duplicate.id, back_stage, version=duplicate.version + 1,
                    attributes=duplicate.attributes, source=duplicate.source,
                    owner=duplicate.owner, created_at=duplicate.created_at,
                    stage_entered_at=at, updated_at=at)
        returning = Transition(duplicate.id, UNMERGE_EVENT, MERGED_STAGE, back_stage, at,
                               actor="contract", reason="two people",
                               version=duplicate.version + 1)
        undone = attrs.evolve(record, unmerged_at=at, unmerged_by="contract",
                              unmerge_reason="two people")
        return (Change(restored, survivor.version, moves, expected_owner=survivor.owner),
                Change(back, duplicate.version, [returning], handoffs=handoffs,
                       expected_owner=duplicate.owner),
                undone)

    def _two_with_touchpoints(self, store: Store, funnel: Funnel) -> tuple[Lead, Lead]:
        self.capture(store, funnel, "S", attributes={"name": "Jane", "at": T0})
        self.capture(store, funnel, "D", attributes={"phone": "+14155550123"},
                     owner="sdr-1", source=Source.of("webinar"))
        self.move(store, funnel, "D", "convert", at=_t(1))
        self.move(store, funnel, "D", "qualify", at=_t(2))
        for lead_id, minutes in (("D", 3), ("S", 4), ("D", 5)):
            tp = Touchpoint(lead_id, "webinar", "email", _t(minutes), data={"n": minutes})
            store.commit(Change(store.load(lead_id), store.load(lead_id).version,
                                touchpoints=[tp]))
        return store.load("S"), store.load("D")

    def test_merge_moves_touchpoints_and_keeps_the_record(
        self, store: Store, funnel: Funnel
    ) -> None:
        """commit_merge writes both leads, gives the survivor every touchpoint, keeps a record."""
        commit_merge = self._merging(store)
        survivor, duplicate = self._two_with_touchpoints(store, funnel)
        positions = {tp.data["n"]: p for p, tp in store.touchpoint_stream()}
        merged_attrs = {"name": "Jane", "at": T0, "phone": "+14155550123"}
        s_change, d_change, record = self.merge_of(survivor, duplicate, at=_t(10),
                                                   attributes=merged_attrs, stage="mql",
                                                   outbox=[self.message("m1")])
        stored = commit_merge(s_change, d_change, record)
        assert stored == attrs.evolve(record, touchpoints=(positions[3], positions[5]))
        assert store.load("S") == s_change.lead
        assert store.load("D").stage == MERGED_STAGE
        assert [t.event for t in store.history("S")] == [MERGE_EVENT]
        assert [t.event for t in store.history("D")] == ["convert", "qualify", MERGE_EVENT]
        assert [tp.data["n"] for tp in store.touchpoints("S")] == [3, 4, 5]
        assert store.touchpoints("D") == []
        stream = {tp.data["n"]: (p, tp.lead_id) for p, tp in store.touchpoint_stream()}
        assert stream == {n: (positions[n], "S") for n in (3, 4, 5)}  # positions stay
        assert cast("Any", store).merges() == [stored]
        records: Any = cast("Any", store).merges
        assert records(lead_id="S") == records(lead_id="D") == [stored]
        assert cast("Any", store).merges(lead_id="nobody") == []
        assert cast("Any", store).merges(active_only=True) == [stored]
        assert [r.key for r in store.outbox()] == ["m1"]

    def test_unmerge_moves_back_and_closes_the_record(self, store: Store, funnel: Funnel) -> None:
        """An undone record moves its touchpoints back and replaces the stored record, once."""
        commit_merge = self._merging(store)
        survivor, duplicate = self._two_with_touchpoints(store, funnel)
        stored = commit_merge(*self.merge_of(survivor, duplicate, at=_t(10), stage="mql"))
        later = Touchpoint("S", "call", "phone", _t(11), data={"n": 11})
        store.commit(Change(store.load("S"), store.load("S").version, touchpoints=[later]))
        args = self.unmerge_of(stored, store.load("S"), store.load("D"), at=_t(12))
        undone = commit_merge(*args)
        assert undone == args[2]
        assert not undone.active
        assert store.load("S") == args[0].lead
        assert store.load("S").stage == "subscriber"
        assert store.load("D") == args[1].lead
        assert store.load("D").stage == "mql"
        assert [tp.data["n"] for tp in store.touchpoints("D")] == [3, 5]
        assert [tp.data["n"] for tp in store.touchpoints("S")] == [4, 11]
        assert cast("Any", store).merges() == [undone]
        assert cast("Any", store).merges(active_only=True) == []
        before = self.snapshot(store)
        with pytest.raises(ConcurrencyError):  # the same record cannot be undone twice
            commit_merge(*self.unmerge_of(stored, store.load("S"), store.load("D"), at=_t(13)))
        assert self.snapshot(store) == before

    def test_merge_is_guarded_by_both_versions_and_owners(
        self, store: Store, funnel: Funnel
    ) -> None:
        """A stale survivor or duplicate (version or owner) writes nothing: ConcurrencyError."""
        commit_merge = self._merging(store)
        survivor, duplicate = self._two_with_touchpoints(store, funnel)
        self.move(store, funnel, "S", "convert", at=_t(6))  # the survivor moved since
        before = self.snapshot(store)
        with pytest.raises(ConcurrencyError, match="'S'"):
            commit_merge(*self.merge_of(survivor, duplicate, at=_t(10)))
        assert self.snapshot(store) == before
        survivor = store.load("S")
        store.commit(Change(duplicate.evolve(owner="sdr-2", at=_t(7)), duplicate.version,
                            expected_owner="sdr-1"))  # the duplicate changed owner since
        before = self.snapshot(store)
        with pytest.raises(ConcurrencyError, match="'D'"):
            commit_merge(*self.merge_of(survivor, duplicate, at=_t(10)))
        assert self.snapshot(store) == before

    def test_merge_moves_pending_handoffs_and_refuses_closed_ones(
        self, store: Store, funnel: Funnel
    ) -> None:
        """Handoffs in the survivor's change move to it; one closed meanwhile fails the merge."""
        commit_merge = self._merging(store)
        survivor, duplicate = self._two_with_touchpoints(store, funnel)
        store.commit(Change(duplicate, duplicate.version, handoffs=[
            self.handoff("D:2", "D"), self.handoff("D:1", "D", status="accepted",
                                                   resolved_at=_t(3), resolved_by="ae")]))
        moved = attrs.evolve(store.handoff("D:2"), lead_id="S")
        stored = commit_merge(*self.merge_of(survivor, duplicate, at=_t(10), handoffs=[moved]))
        assert stored.handoffs == ("D:2",)
        assert store.handoff("D:2") == moved
        assert [h.id for h in store.handoffs(lead_id="S")] == ["D:2"]
        assert [h.id for h in store.handoffs(lead_id="D")] == ["D:1"]
        # A handoff closed since it was read: the unmerge moving it back writes nothing.
        accepted = moved.accept(by="ae", at=_t(11))
        store.commit(Change(store.load("S"), store.load("S").version, handoffs=[accepted]))
        back = attrs.evolve(moved, lead_id="D")
        before = self.snapshot(store)
        with pytest.raises(ConcurrencyError):
            commit_merge(*self.unmerge_of(stored, store.load("S"), store.load("D"), at=_t(12),
                                          handoffs=[back]))
        assert self.snapshot(store) == before

    def test_merge_records_are_unique_and_must_exist_to_be_undone(
        self, store: Store, funnel: Funnel
    ) -> None:
        """A merge id taken is AlreadyExists; undoing an unknown merge is NotFound."""
        commit_merge = self._merging(store)
        survivor, duplicate = self._two_with_touchpoints(store, funnel)
        args = self.merge_of(survivor, duplicate, at=_t(10))
        record = args[2]
        undone = attrs.evolve(record, unmerged_at=_t(11), unmerged_by="x", unmerge_reason="y")
        before = self.snapshot(store)
        with pytest.raises(NotFound):
            commit_merge(args[0], args[1], undone)
        assert self.snapshot(store) == before
        commit_merge(*args)
        other = self.capture(store, funnel, "O")
        s2, _, _ = self.merge_of(store.load("S"), other, at=_t(12))
        d2 = Change(store.load("D"), store.load("D").version)  # a record id already taken
        before = self.snapshot(store)
        with pytest.raises(AlreadyExists):
            commit_merge(s2, d2, record)
        assert self.snapshot(store) == before

    def test_merge_arguments_are_checked(self, store: Store, funnel: Funnel) -> None:
        """commit_merge refuses changes that do not match the record, before writing anything."""
        commit_merge = self._merging(store)
        survivor, duplicate = self._two_with_touchpoints(store, funnel)
        s_change, d_change, record = self.merge_of(survivor, duplicate, at=_t(10))
        before = self.snapshot(store)
        for args in ((d_change, s_change, record), (s_change, d_change, "record"),
                     (s_change, Change(funnel.new_lead("D", at=T0), None), record)):
            with pytest.raises(InvalidInput):
                commit_merge(*args)
        with pytest.raises(InvalidInput):
            cast("Any", store).merges(active_only="yes")
        assert self.snapshot(store) == before

    def test_merge_through_the_pipeline_replays(self, store: Store, funnel: Funnel) -> None:
        """Pipeline.merge and unmerge on this store leave every lead equal to its replay."""
        self._merging(store)
        from funnelkit._pipeline.pipeline import Pipeline  # noqa: PLC0415 - the pipeline layer, lazily

        pipeline = Pipeline(funnel, store=store)
        self._two_with_touchpoints(store, funnel)
        pipeline.merge("S", "D", actor="contract", reason="one person", at=_t(20))
        assert pipeline.verify_history().ok
        assert store.load("S").stage == "mql"
        pipeline.unmerge("D", actor="contract", reason="two people", at=_t(21))
        report = pipeline.verify_history()
        assert report.ok
        assert report.transitions == 6
        assert (store.load("S").stage, store.load("D").stage) == ("subscriber", "mql")

    # -- values the store cannot keep -------------------------------------------------------

    def test_unstorable_values_raise_invalid_input(self, store: Store, funnel: Funnel) -> None:
        """Attributes or payloads that are not storable raise InvalidInput; nothing is written."""
        self.capture(store, funnel, "L1")
        before = self.snapshot(store)
        with pytest.raises(InvalidInput):
            store.commit(Change(funnel.new_lead("L2", at=T0, attributes={"x": object()}), None))
        with pytest.raises(InvalidInput):
            store.commit(Change(funnel.new_lead("L3", at=T0, attributes={"x": float("nan")}), None))
        lead = store.load("L1")
        unstorable: dict[str, Any] = {"f": {1, 2}}
        with pytest.raises(InvalidInput):
            store.commit(Change(lead, 0, outbox=[OutboxMessage("k", "h", unstorable, T0)]))
        assert self.snapshot(store) == before

    def test_errors_share_the_root(self) -> None:
        """Every store error is a FunnelError (and StorageError a RuntimeError)."""
        for error in (NotFound, AlreadyExists, ConcurrencyError, StorageError, InvalidInput):
            assert issubclass(error, FunnelError)
        assert issubclass(StorageError, RuntimeError)

    # -- many writers -----------------------------------------------------------------------

    def test_racing_threads_lose_no_update(self, store: Store, funnel: Funnel) -> None:
        """Threads doing load-fire-commit-retry on shared leads lose no update, repeat none."""
        for lead_id in ("A", "B"):
            self.capture(store, funnel, lead_id)
        cycle = {"subscriber": ("convert", None), "lead": ("nurture", None),
                 "nurture": ("recycle", "again")}
        per_thread, threads_n = 15, 4
        errors: list[BaseException] = []

        def work(i: int) -> None:
            handle = store if i == 0 else self.reopen(store)
            try:
                for n in range(per_thread):
                    lead_id = "AB"[(i + n) % 2]
                    while True:
                        lead = handle.load(lead_id)
                        event, reason = cycle[lead.stage]
                        at = lead.updated_at + timedelta(seconds=1)
                        outcome = funnel.fire(lead, event, at=at, reason=reason)
                        try:
                            handle.commit(Change(outcome.lead, lead.version, [outcome.transition]))
                            break
                        except ConcurrencyError:
                            continue
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(threads_n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        total = 0
        for lead_id in ("A", "B"):
            history = store.history(lead_id)
            total += len(history)
            assert [t.version for t in history] == list(range(1, len(history) + 1))
            replayed = funnel.replay(history)[lead_id]
            assert replayed.problems == ()
            assert store.load(lead_id).stage == replayed.stage
            assert store.load(lead_id).version == len(history)
        assert total == per_thread * threads_n

    def test_second_handle_sees_commits(self, store: Store, funnel: Funnel) -> None:
        """A second handle on the same data sees what the first committed."""
        other = self.reopen(store)
        self.capture(store, funnel, "L1")
        assert other.load("L1") == store.load("L1")

    def test_closed_store_raises_storage_error(self, store: Store, funnel: Funnel) -> None:
        """After close(), the store refuses work with StorageError."""
        self.capture(store, funnel, "L1")
        store.close()
        with pytest.raises(StorageError):
            store.load("L1")
        with pytest.raises(StorageError):
            store.commit(Change(funnel.new_lead("L2", at=T0), None))
