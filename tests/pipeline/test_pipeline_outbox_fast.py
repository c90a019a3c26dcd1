"""After-hooks at the speed of the commit: own rows written claimed, delivered from memory."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from _pipeline_support import FRIDAY_2PM, Clock
from hypothesis import given
from hypothesis import strategies as st

from funnelkit import InvalidInput, Lead, Transition, templates
from funnelkit._pipeline.pipeline import Pipeline
from funnelkit.stores import Change, MemoryStore, SQLiteStore, Store

if TYPE_CHECKING:
    from pathlib import Path

CYCLE = ("convert", "qualify", "nurture", "recycle")


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """A MemoryStore, and a SQLiteStore file."""
    if request.param == "memory":
        return MemoryStore()
    return SQLiteStore(str(tmp_path / "funnel.db"))


class _General(MemoryStore):
    """A MemoryStore whose commit_claimed the pipeline does not use: the general path.

    It overrides ``commit`` only, so the optional method is not found beside it.
    """

    def commit(self, change: Change) -> None:
        super().commit(change)


class Crm:
    """An after_transition hook recording (key, lead, transition); fails on the calls it is told."""

    def __init__(self, failing: frozenset[tuple[str, int]] = frozenset()) -> None:
        self.calls: list[tuple[str, Lead, Transition]] = []
        self.failing = failing
        self.tries: dict[str, int] = {}

    def after_transition(self, lead: Lead, transition: Transition, key: str) -> None:
        n = self.tries[key] = self.tries.get(key, 0) + 1
        if (key, n) in self.failing:
            raise RuntimeError(f"CRM down for {key} (try {n})")
        self.calls.append((key, lead, transition))


def _fire_cycle(pipeline: Pipeline, lead_id: str, moves: int) -> None:
    for event in CYCLE[:moves]:
        pipeline.fire(lead_id, event, reason="warm again" if event == "recycle" else None)


def test_a_hooked_move_is_delivered_without_claim_or_decode(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The committing pipeline claims nothing and decodes nothing for the rows it commits."""
    pipeline = Pipeline(templates.inbound(), store=store, clock=Clock())
    crm = pipeline.register(Crm())
    pipeline.capture("L1")

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the fast path claimed or decoded")

    monkeypatch.setattr(store, "claim_outbox", refuse)
    monkeypatch.setattr("funnelkit._pipeline.hooks.decode", refuse)
    outcome = pipeline.fire("L1", "convert")
    assert [(k, t) for k, _, t in crm.calls] == [("after_transition:L1:1", outcome.transition)]
    assert crm.calls[0][1] == outcome.lead
    assert store.outbox() == []
    (row,) = store.outbox(undelivered_only=False)
    assert (row.attempts, row.claimed_by, row.delivered_at) == (1, None, FRIDAY_2PM)


def test_a_failed_own_row_is_retried_by_a_later_fire_once_due(store: Store) -> None:
    """A row whose hook failed waits its backoff; the next fire after it delivers it too."""
    clock = Clock()
    pipeline = Pipeline(templates.inbound(), store=store, clock=clock,
                        backoff=timedelta(seconds=30))
    crm = pipeline.register(Crm(frozenset({("after_transition:L1:1", 1)})))
    pipeline.capture("L1")
    pipeline.capture("L2")
    pipeline.fire("L1", "convert")
    (row,) = store.outbox()
    assert row.last_error is not None
    assert row.next_attempt_at == FRIDAY_2PM + timedelta(seconds=30)
    pipeline.fire("L2", "convert")  # not due yet: only its own row
    assert [k for k, _, _ in crm.calls] == ["after_transition:L2:1"]
    clock.advance(seconds=30)
    pipeline.fire("L2", "qualify")
    assert sorted(k for k, _, _ in crm.calls) == [
        "after_transition:L1:1", "after_transition:L2:1", "after_transition:L2:2"]
    assert store.outbox() == []


def test_rows_of_a_move_made_by_a_hook_are_delivered_by_the_next_fire(store: Store) -> None:
    """A hook's own move leaves its rows (never delivered inside the hook); the next fire does."""
    pipeline = Pipeline(templates.inbound(), store=store, clock=Clock())
    seen: list[str] = []

    class Chain:
        def after_transition(self, transition: Transition) -> None:
            seen.append(f"{transition.lead_id}:{transition.event}")
            if transition.lead_id == "L1" and transition.event == "convert":
                pipeline.fire("L1", "qualify")

    pipeline.register(Chain())
    pipeline.capture("L1")
    pipeline.capture("L2")
    pipeline.fire("L1", "convert")
    assert seen == ["L1:convert"]
    assert [r.key for r in store.outbox()] == ["after_transition:L1:2"]
    pipeline.fire("L2", "convert")
    assert sorted(seen) == ["L1:convert", "L1:qualify", "L2:convert"]
    assert store.outbox() == []


@given(
    moves=st.lists(st.tuples(st.integers(0, 2), st.booleans()), min_size=1, max_size=12),
    failing=st.sets(st.tuples(st.integers(0, 2), st.integers(1, 4), st.integers(1, 2)),
                    max_size=6),
)
def test_own_path_delivers_as_the_general_path(
    moves: list[tuple[int, bool]], failing: set[tuple[int, int, int]]
) -> None:
    """Same hook calls with equal arguments, same rows acknowledged, under injected failures.

    Each step moves one of three leads (and may first let 31 seconds pass, so failed rows fall
    due); the hook fails on the (key, try) pairs drawn.  At the end a delivery well after every
    backoff (three of them) leaves no row undelivered on either path: at least once.
    """
    keys = frozenset((f"after_transition:L{lead}:{version}", n) for lead, version, n in failing)
    runs = []
    for store in (MemoryStore(), _General()):
        clock = Clock()
        pipeline = Pipeline(templates.inbound(), store=store, clock=clock,
                            backoff=timedelta(seconds=30))
        crm = pipeline.register(Crm(keys))
        versions = [0, 0, 0]
        for i in range(3):
            pipeline.capture(f"L{i}")
        for lead, wait in moves:
            if wait:
                clock.advance(seconds=31)
            # convert once, then qualify, nurture, recycle (back to "lead") over and over
            event = "convert" if versions[lead] == 0 else CYCLE[1 + (versions[lead] - 1) % 3]
            pipeline.fire(f"L{lead}", event, reason="warm again" if event == "recycle" else None)
            versions[lead] += 1
        during = sorted(crm.calls, key=lambda call: call[0])
        acked = sorted(r.key for r in store.outbox(undelivered_only=False)
                       if r.delivered_at is not None)
        for _ in range(3):  # a key fails at most twice: three deliveries reach every row
            clock.advance(hours=2)
            pipeline.deliver_pending()
        runs.append((during, acked, sorted(crm.calls, key=lambda call: call[0]),
                     store.outbox(), sorted(crm.tries.items())))
    fast, general = runs
    assert fast == general
    assert fast[3] == []  # every row delivered in the end
    assert {key for key, _, _ in fast[2]} == {
        f"after_transition:L{lead}:{v}" for lead in range(3)
        for v in range(1, 1 + sum(1 for m, _ in moves if m == lead))}


def test_outbox_retention_zero_removes_delivered_rows(store: Store) -> None:
    """outbox_retention=timedelta(0): a delivered row is purged by the delivery that acked it."""
    pipeline = Pipeline(templates.inbound(), store=store, clock=Clock(),
                        outbox_retention=timedelta(0))
    crm = pipeline.register(Crm())
    pipeline.capture("L1")
    _fire_cycle(pipeline, "L1", 4)
    assert len(crm.calls) == 4
    assert store.outbox(undelivered_only=False) == []


def test_outbox_retention_keeps_rows_for_the_period(store: Store) -> None:
    """With a retention, rows stay until a delivery that long after their delivery purges them."""
    clock = Clock()
    pipeline = Pipeline(templates.inbound(), store=store, clock=clock,
                        outbox_retention=timedelta(hours=1))
    pipeline.register(Crm())
    pipeline.capture("L1")
    pipeline.capture("L2")
    pipeline.fire("L1", "convert")
    assert len(store.outbox(undelivered_only=False)) == 1
    clock.advance(minutes=30)
    pipeline.fire("L1", "qualify")  # the first purge ran with the first delivery: not yet due
    assert len(store.outbox(undelivered_only=False)) == 2
    clock.advance(minutes=31)
    pipeline.fire("L2", "convert")
    assert [r.key for r in store.outbox(undelivered_only=False)] == [
        "after_transition:L1:2", "after_transition:L2:1"]


def test_without_retention_delivered_rows_stay() -> None:
    """The default keeps delivered rows until the host purges them."""
    store = MemoryStore()
    pipeline = Pipeline(templates.inbound(), store=store, clock=Clock())
    pipeline.register(Crm())
    pipeline.capture("L1")
    _fire_cycle(pipeline, "L1", 2)
    assert len(store.outbox(undelivered_only=False)) == 2
    assert store.purge_outbox(delivered_before=FRIDAY_2PM + timedelta(seconds=1)) == 2


@pytest.mark.parametrize("retention", [timedelta(seconds=-1), 5, "1h", timedelta(days=3700)])
def test_bad_outbox_retention_is_refused(retention: object) -> None:
    """A retention that is not a timedelta from zero to ten years is refused."""
    with pytest.raises(InvalidInput, match="outbox_retention"):
        Pipeline(templates.inbound(), store=MemoryStore(),
                 outbox_retention=retention)  # type: ignore[arg-type]


def test_retention_needs_a_store_that_purges() -> None:
    """A store without purge_outbox cannot keep a retention: refused when the pipeline is built."""

    class NoPurge(MemoryStore):
        purge_outbox = None

    with pytest.raises(InvalidInput, match="purge_outbox"):
        Pipeline(templates.inbound(), store=NoPurge(), outbox_retention=timedelta(0))


_DYING_WRITER = textwrap.dedent("""
    import os, sys
    from datetime import datetime, timedelta, timezone
    from funnelkit import templates
    from funnelkit.pipeline import Pipeline
    from funnelkit.stores import SQLiteStore

    class Clock:
        def now(self):
            return datetime(2026, 3, 6, 14, tzinfo=timezone.utc)

    class Dies:
        def after_transition(self, transition):
            os._exit(3)  # the process dies after the commit, before the acknowledgement

    pipeline = Pipeline(templates.inbound(), store=SQLiteStore(sys.argv[1]), clock=Clock(),
                        lease=timedelta(minutes=5))
    pipeline.register(Dies())
    pipeline.capture("L1")
    pipeline.fire("L1", "convert")
""")


def test_a_row_whose_committing_process_died_is_delivered_by_another_after_the_lease(
    tmp_path: Path,
) -> None:
    """Crash safety on a real file: the row is committed claimed; the lease runs out; delivered."""
    path = str(tmp_path / "funnel.db")
    died = subprocess.run([sys.executable, "-c", _DYING_WRITER, path], check=False,
                          capture_output=True, text=True, timeout=120)
    assert died.returncode == 3, died.stderr
    store = SQLiteStore(path)
    (row,) = store.outbox()
    assert (row.key, row.attempts, row.delivered_at) == ("after_transition:L1:1", 1, None)
    assert row.claimed_until == FRIDAY_2PM + timedelta(minutes=5)
    other = Pipeline(templates.inbound(), store=store, clock=Clock())
    crm = other.register(Crm())
    assert other.deliver_pending(now=FRIDAY_2PM + timedelta(minutes=4)).delivered == 0
    assert other.deliver_pending(now=FRIDAY_2PM + timedelta(minutes=5)).delivered == 1
    ((key, lead, transition),) = crm.calls
    assert key == "after_transition:L1:1"
    assert (lead, transition) == (store.load("L1"), store.history("L1")[-1])
    assert store.outbox() == []
    store.close()


def test_a_view_joined_to_a_host_transaction_never_delivers_inside_it(tmp_path: Path) -> None:
    """Through using(conn), rows are not written claimed nor delivered before the host commits."""
    import sqlite3  # noqa: PLC0415 - only this test needs the host's own connection

    path = tmp_path / "app.db"
    store = SQLiteStore(str(path))
    pipeline = Pipeline(templates.inbound(), store=store, clock=Clock())
    crm = pipeline.register(Crm())
    pipeline.capture("L1")
    conn = sqlite3.connect(path)
    joined = pipeline.using(conn)
    joined.fire("L1", "convert")
    assert crm.calls == []
    conn.commit()
    (row,) = store.outbox()
    assert (row.attempts, row.claimed_by) == (0, None)
    assert pipeline.deliver_pending().delivered == 1
    assert [k for k, _, _ in crm.calls] == ["after_transition:L1:1"]
    conn.close()
    store.close()
