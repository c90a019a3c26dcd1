"""fire's hot path on the MemoryStore: the same results and guarantees as the general path."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from _pipeline_support import FRIDAY_2PM, Clock, Recorder, sales_funnel

from funnelkit import BusinessCalendar, ConcurrencyError, InvalidInput, NotFound, templates
from funnelkit._core.errors import StorageError
from funnelkit.pipeline import Pipeline
from funnelkit.stores import Change, MemoryStore

EVENTS = ("convert", *("qualify", "nurture", "recycle") * 3)


class _CommitCounting(MemoryStore):
    """A MemoryStore whose commit is its own: the pipeline must call it, with a Change."""

    def __init__(self) -> None:
        super().__init__()
        self.changes: list[Change] = []

    def commit(self, change: Change) -> None:
        self.changes.append(change)
        super().commit(change)


def _run(store: MemoryStore) -> Pipeline:
    pipeline = Pipeline(templates.inbound(), store=store, clock=Clock())
    pipeline.capture("L1", attributes={"country": "DE"})
    for event in EVENTS:
        pipeline.fire("L1", event, reason="warm again" if event == "recycle" else None)
    return pipeline


def _contents(store: MemoryStore) -> tuple[Any, ...]:
    return (list(store.leads()), store.history("L1"), list(store.transitions()),
            store.outbox(undelivered_only=False))


def test_the_hot_path_writes_what_a_change_writes() -> None:
    """A MemoryStore moved through commit_move ends up equal to one moved by Change commits."""
    fast, counted = MemoryStore(), _CommitCounting()
    fast_pipeline, counted_pipeline = _run(fast), _run(counted)
    assert fast_pipeline._commit_move == fast.commit_move
    assert counted_pipeline._commit_move == counted_pipeline._commit_change
    assert len(counted.changes) == 1 + len(EVENTS)  # a subclass's commit sees every move
    assert _contents(fast) == _contents(counted)
    assert [p for p, _ in fast.transitions()] == list(range(1, len(EVENTS) + 1))


def test_a_store_with_its_own_load_is_read_with_it() -> None:
    """A MemoryStore subclass overriding load is read through its load."""
    loads: list[str] = []

    class Counting(MemoryStore):
        def load(self, lead_id: str) -> Any:
            loads.append(lead_id)
            return super().load(lead_id)

    pipeline = _run(Counting())
    assert loads.count("L1") >= len(EVENTS)
    assert pipeline.get("L1").version == len(EVENTS)


def test_the_hot_path_refuses_what_the_store_refuses() -> None:
    """Unknown ids raise NotFound, ids that are not strings InvalidInput; a closed store raises
    StorageError, unwritten."""
    store = MemoryStore()
    pipeline = Pipeline(templates.inbound(), store=store, clock=Clock())
    with pytest.raises(NotFound):
        pipeline.fire("nobody", "convert")
    with pytest.raises(InvalidInput):
        pipeline.fire(["not", "an", "id"], "convert")  # type: ignore[arg-type]
    pipeline.capture("L1")
    with pytest.raises(InvalidInput):
        pipeline.fire("L1", ["convert"])  # type: ignore[arg-type]
    store.close()
    with pytest.raises(StorageError):
        pipeline.fire("L1", "convert")
    assert store._leads["L1"].version == 0


def test_a_conflict_on_the_hot_path_is_retried_on_a_fresh_load() -> None:
    """When the stored lead is no longer the loaded one, fire retries (and gives up after retries)."""
    store = MemoryStore()
    pipeline = Pipeline(templates.inbound(), store=store, clock=Clock(), retries=0)
    rival = Pipeline(templates.inbound(), store=store, clock=Clock())
    pipeline.capture("L1")
    pipeline.fire("L1", "convert")
    real = store.commit_move
    races = [1]

    def racing(loaded: Any, lead: Any, transition: Any) -> bool:
        if races[0]:  # a rival moves the lead away and back: our move is still valid
            races[0] -= 1
            rival.fire(lead.id, "nurture")
            rival.fire(lead.id, "recycle", reason="race")
        return real(loaded, lead, transition)

    pipeline._commit_move = racing
    with pytest.raises(ConcurrencyError):
        pipeline.fire("L1", "qualify")  # no retries: the conflict reaches the caller
    assert [t.event for t in pipeline.history("L1")] == ["convert", "nurture", "recycle"]
    races[0] = 1
    pipeline._retries = 1
    assert pipeline.fire("L1", "qualify").lead.version == 6
    assert [t.event for t in pipeline.history("L1")][-3:] == ["nurture", "recycle", "qualify"]


def test_the_hot_path_checks_new_attributes_and_decisions() -> None:
    """commit_move refuses a lead whose new attributes cannot be stored; nothing is written."""
    store = MemoryStore()
    funnel = templates.inbound()
    at = datetime(2026, 3, 2, tzinfo=UTC)
    lead = funnel.new_lead("L1", at=at)
    store.commit(Change(lead, None))
    moved = funnel.fire(lead, "convert", at=at)
    bad = moved.lead.evolve(attributes={"when": object()})
    with pytest.raises(InvalidInput):
        store.commit_move(lead, bad, moved.transition)
    assert store.load("L1") is lead
    assert store.history("L1") == []
    assert not store.commit_move(moved.lead, moved.lead, moved.transition)  # not loaded
    assert store.commit_move(lead, moved.lead, moved.transition)
    assert store.load("L1") is moved.lead


def test_a_transition_hook_takes_the_general_path_and_gets_every_row() -> None:
    """With after_transition registered, every move writes its outbox row and is delivered."""
    pipeline = Pipeline(sales_funnel(), store=MemoryStore(), clock=Clock())
    recorder = pipeline.register(Recorder())
    pipeline.capture("L1")
    pipeline.fire("L1", "nurture")
    pipeline.fire("L1", "recycle", reason="again")
    pipeline.unregister(recorder)
    pipeline.fire("L1", "nurture")  # hot path again: no hook, no row
    assert [c[1] for c in recorder.named("after_transition")] == ["nurture", "recycle"]
    assert len(pipeline.store.outbox(undelivered_only=False)) == 2


def test_replacing_the_store_replaces_the_hot_path() -> None:
    """pipeline.store may be replaced; fire then reads and writes the new store only."""
    first, second = MemoryStore(), _CommitCounting()
    pipeline = Pipeline(templates.inbound(), store=first, clock=Clock())
    pipeline.capture("L1")
    pipeline.store = second
    pipeline.capture("L1")
    pipeline.fire("L1", "convert")
    assert first.load("L1").version == 0
    assert second.load("L1").version == 1
    assert len(second.changes) == 2
    with pytest.raises(AttributeError):
        pipeline.funnel = templates.inbound()  # type: ignore[misc]


def test_lock_free_loads_never_see_a_lead_ahead_of_its_history() -> None:
    """A reader loading while another thread moves leads sees history at least at the version."""
    store = MemoryStore()
    pipeline = Pipeline(templates.inbound(), store=store, clock=Clock())
    ids = [f"L{i}" for i in range(20)]
    for lead_id in ids:
        pipeline.capture(lead_id)
    done = threading.Event()
    problems: list[str] = []

    def read() -> None:
        while not done.is_set():
            for lead_id in ids:
                lead = store.load(lead_id)
                if len(store.history(lead_id)) < lead.version:
                    problems.append(lead_id)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(10):
            for lead_id in ids:
                for event in ("convert", "nurture", "recycle", "nurture", "recycle"):
                    if event == "convert" and store.load(lead_id).stage != "subscriber":
                        continue
                    pipeline.fire(lead_id, event, reason="again" if event == "recycle" else None)
    finally:
        done.set()
        reader.join()
    assert problems == []


def test_commit_many_publishes_its_leads_together() -> None:
    """commit_many stores every lead of the batch after everything else of it."""
    store = MemoryStore()
    funnel = templates.inbound()
    at = FRIDAY_2PM
    store.commit_many([Change(funnel.new_lead(i, at=at), None) for i in ("A", "B")])
    moves = [funnel.fire(store.load(i), "convert", at=at) for i in ("A", "B")]
    store.commit_many([Change(m.lead, 0, (m.transition,)) for m in moves])
    assert [store.load(i).stage for i in ("A", "B")] == ["lead", "lead"]
    assert [p for p, _ in store.transitions()] == [1, 2]
    assert [p for p, _ in store.transitions(after=1)] == [2]


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/New_York"])
def test_calendar_windows_are_cached_and_stay_correct(zone: str) -> None:
    """add and between give the same answers on a fresh calendar and on a warm one (DST too)."""
    start = datetime(2026, 3, 6, 15, tzinfo=UTC)
    warm = BusinessCalendar(timezone=zone, holidays=["2026-03-30"])
    for hours in range(0, 24 * 40, 5):
        at = start + timedelta(hours=hours)
        cold = BusinessCalendar(timezone=zone, holidays=["2026-03-30"])
        assert warm.add(at, "5 business hours") == cold.add(at, "5 business hours")
        assert warm.between(start, at) == cold.between(start, at)
    assert warm._window_cache
    assert warm == BusinessCalendar(timezone=zone, holidays=["2026-03-30"])
