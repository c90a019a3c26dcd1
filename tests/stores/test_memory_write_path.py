"""MemoryStore's one write path: every public write method leaves what ``commit`` leaves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import given
from hypothesis import strategies as st

from funnelkit import (
    AlreadyExists,
    ConcurrencyError,
    Decision,
    InvalidInput,
    Lead,
    NotFound,
    Touchpoint,
    Transition,
    Verdict,
    templates,
)
from funnelkit.stores import Change, MemoryStore, OutboxMessage

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
FUNNEL = templates.inbound()
CYCLE = ("convert", "qualify", "nurture", "recycle")
METHODS = ("commit", "commit_claimed", "commit_many", "commit_move")


def _next_change(lead: Lead, step: int, extras: bool) -> Change:
    """The change moving *lead* on by one event (with a touchpoint and an outbox row)."""
    lead_id = lead.id
    event = "convert" if lead.version == 0 else CYCLE[1 + (lead.version - 1) % 3]
    at = T0 + timedelta(minutes=step)
    fired = FUNNEL.fire(lead, event, at=at, reason="warm again" if event == "recycle" else None)
    return Change(
        fired.lead, lead.version, [fired.transition], expected_owner=lead.owner,
        touchpoints=[Touchpoint(lead_id, "email_open", "email", at, points=1)] if extras else [],
        outbox=[OutboxMessage(f"{lead_id}:{fired.lead.version}", "after_transition",
                              {"step": step}, at)] if extras else [],
    )


def _write(store: MemoryStore, method: str, changes: list[Change]) -> None:
    """Write *changes* (in order) with *method*; commit_move takes the plain moves it can."""
    if method == "commit_many":
        store.commit_many(changes)
        return
    for change in changes:
        if method == "commit_claimed":
            store.commit_claimed(change, worker="w", until=T0 + timedelta(days=1))
        elif method == "commit_move" and not (change.touchpoints or change.outbox):
            loaded = store.load(change.lead.id)
            assert store.commit_move(loaded, change.lead, change.transitions[0])
        else:
            store.commit(change)


def _contents(store: MemoryStore) -> tuple[Any, ...]:
    ids = [lead.id for lead in store.leads()]
    rows = [(r.id, r.key, r.hook, dict(r.payload), r.created_at, r.next_attempt_at)
            for r in store.outbox(undelivered_only=False)]
    return (list(store.leads()), [store.history(i) for i in ids],
            [store.touchpoints(i) for i in ids], list(store.transitions()),
            list(store.touchpoint_stream()), rows)


@given(
    steps=st.lists(st.tuples(st.integers(0, 2), st.booleans(), st.sampled_from(METHODS),
                             st.integers(1, 3)), min_size=1, max_size=15),
)
def test_every_write_method_writes_what_commit_writes(
    steps: list[tuple[int, bool, str, int]],
) -> None:
    """Moves (some with a touchpoint and an outbox row), in batches of 1 to 3, written by each
    public method, leave a store equal to one written by ``commit`` alone (outbox bookkeeping
    of claimed rows aside)."""
    stores = {"commit": MemoryStore(), "mixed": MemoryStore()}
    for store in stores.values():
        store.commit_many([Change(FUNNEL.new_lead(f"L{i}", at=T0), None) for i in range(3)])
    for number, (lead, extras, method, size) in enumerate(steps):
        for name, store in stores.items():
            changes: list[Change] = []
            moving = store.load(f"L{lead}")
            for k in range(size):  # a batch may move one lead several times
                changes.append(_next_change(moving, number * 3 + k, extras))
                moving = changes[-1].lead
            _write(store, "commit" if name == "commit" else method, changes)
    assert _contents(stores["commit"]) == _contents(stores["mixed"])


@given(
    steps=st.lists(st.tuples(st.integers(0, 2), st.booleans(), st.booleans()), min_size=1,
                   max_size=15),
)
def test_the_fast_path_of_the_write_is_the_general_path(
    steps: list[tuple[int, bool, bool]],
) -> None:
    """commit of a change that is one move and nothing else (the fast path, through
    commit_move) leaves what the general path leaves, refusals included: the same sequence,
    some changes stale (loaded before the previous move), is run with the fast path and with
    it turned off."""

    def run() -> tuple[Any, ...]:
        store = MemoryStore()
        store.commit_many([Change(FUNNEL.new_lead(f"L{i}", at=T0), None) for i in range(3)])
        last: dict[str, Lead] = {}
        refused = []
        for number, (lead, extras, stale) in enumerate(steps):
            lead_id = f"L{lead}"
            loaded = last[lead_id] if stale and lead_id in last else store.load(lead_id)
            last[lead_id] = store.load(lead_id)
            try:
                store.commit(_next_change(loaded, number, extras))
            except ConcurrencyError as exc:
                refused.append((number, str(exc)))
        return (*_contents(store), refused)

    fast = run()
    with patch.object(MemoryStore, "commit_move", lambda *_: False):
        general = run()
    assert fast == general


def test_the_guards_are_the_same_for_every_change_method() -> None:
    """A stale version, a new lead that exists and a missing lead are refused by commit,
    commit_claimed, commit_many and (as False) commit_move, nothing written."""
    store = MemoryStore()
    lead = FUNNEL.new_lead("L1", at=T0)
    store.commit(Change(lead, None))
    moved = FUNNEL.fire(lead, "convert", at=T0)
    store.commit(Change(moved.lead, 0, [moved.transition]))
    before = _contents(store)
    stale = Change(moved.lead, 0, [moved.transition])
    ghost_lead = FUNNEL.new_lead("ghost", at=T0)
    ghost_moved = FUNNEL.fire(ghost_lead, "convert", at=T0)
    ghost = Change(ghost_moved.lead, 0, [ghost_moved.transition])
    writes = (store.commit, lambda c: store.commit_claimed(c, worker="w", until=T0),
              lambda c: store.commit_many([c]))
    for write in writes:
        with pytest.raises(ConcurrencyError, match="version 1, not 0"):
            write(stale)
        with pytest.raises(AlreadyExists, match="exists already"):
            write(Change(lead, None))
        with pytest.raises(NotFound, match="no lead 'ghost'"):
            write(ghost)
    assert not store.commit_move(lead, moved.lead, moved.transition)
    assert _contents(store) == before


def test_a_batch_names_the_change_that_failed_and_writes_nothing() -> None:
    """commit_many checks every change before writing any: the second's conflict says so."""
    store = MemoryStore()
    store.commit(Change(FUNNEL.new_lead("L1", at=T0), None))
    with pytest.raises(AlreadyExists, match="change 2 of 2: lead 'L1' exists already"):
        store.commit_many([Change(FUNNEL.new_lead("L2", at=T0), None),
                           Change(FUNNEL.new_lead("L1", at=T0), None)])
    moved = FUNNEL.fire(FUNNEL.new_lead("L3", at=T0), "convert", at=T0)
    batch = [Change(moved.lead, 0, [moved.transition]), Change(FUNNEL.new_lead("L4", at=T0), None)]
    with pytest.raises(NotFound, match=r"no lead 'L3' in this store \(change 1 of 2\)"):
        store.commit_many(batch)
    assert [lead.id for lead in store.leads()] == ["L1"]


def test_commit_move_checks_what_is_new_for_storability() -> None:
    """commit_move refuses a decision it cannot store, as commit does, writing nothing."""
    store = MemoryStore()
    lead = FUNNEL.new_lead("L1", at=T0)
    store.commit(Change(lead, None))
    t = FUNNEL.fire(lead, "convert", at=T0).transition
    bad = Transition(t.lead_id, t.event, t.source, t.target, t.at, version=t.version,
                     decision=Decision.allow(criteria=[Verdict("x", "met", float("nan"))]))
    moved = FUNNEL.fire(lead, "convert", at=T0).lead
    with pytest.raises(InvalidInput, match="finite"):
        store.commit_move(lead, moved, bad)
    assert store.history("L1") == []
    assert store.load("L1") is lead


def test_the_row_lists_follow_outbox_rows_fields() -> None:
    """MemoryStore keeps each outbox row as a list in OutboxRow's field order."""
    import attrs  # noqa: PLC0415 - only this test reads the fields

    from funnelkit.stores import OutboxRow, _memory  # noqa: PLC0415

    names = [f.name for f in attrs.fields(OutboxRow)]
    assert [names[i] for i in (_memory._ROW_KEY, _memory._ROW_ATTEMPTS, _memory._ROW_NEXT,
                               _memory._ROW_BY, _memory._ROW_UNTIL, _memory._ROW_DELIVERED,
                               _memory._ROW_ERROR)] == [
        "key", "attempts", "next_attempt_at", "claimed_by", "claimed_until", "delivered_at",
        "last_error"]
