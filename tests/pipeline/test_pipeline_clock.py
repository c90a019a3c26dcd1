"""The clock is read after the lead is loaded: callers that leave ``at`` out never refuse each other.

The figure of issue 12: eight threads self-looping one lead through one pipeline, without ``at=``,
on MemoryStore and SQLiteStore, through ``fire`` and ``fire_many``, with no spurious refusal.
"""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from _pipeline_support import FRIDAY_2PM, Clock

from funnelkit import Funnel, FunnelError, InvalidInput, templates
from funnelkit.pipeline import Pipeline
from funnelkit.stores import MemoryStore, SQLiteStore

if TYPE_CHECKING:
    from pathlib import Path

    from funnelkit.stores import Store

THREADS = 8
LOOP = (Funnel.builder("loop").stage("open", "sales").stage("done", "sales", outcome="won")
        .move("ping", "open", "open").move("finish", "open", "done").build())


def _store(kind: str, tmp_path: Path) -> Store:
    return MemoryStore() if kind == "memory" else SQLiteStore(tmp_path / "threads.db", timeout=30)


@pytest.mark.parametrize(("kind", "fires"), [("memory", 600), ("sqlite", 150)])
@pytest.mark.parametrize("call", ["fire", "fire_many"])
def test_threads_without_at_never_refuse_each_other(
    kind: str, fires: int, call: str, tmp_path: Path
) -> None:
    """8 threads x fires self-loops on one lead, no at=: every move lands, none is refused."""
    store = _store(kind, tmp_path)
    pipeline = Pipeline(LOOP, store=store, retries=100_000)
    pipeline.capture("L1")
    refused: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def work() -> None:
        start.wait()
        for _ in range(fires):
            try:
                if call == "fire":
                    pipeline.fire("L1", "ping")
                else:
                    (result,) = pipeline.fire_many([("L1", "ping")], errors="collect")
                    if isinstance(result, FunnelError):
                        refused.append(result)
            except FunnelError as exc:
                refused.append(exc)

    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often: between the load and the clock's reading
    try:
        threads = [threading.Thread(target=work) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(previous)
    history = pipeline.history("L1")
    print(f"[clock] {kind} {call}: {THREADS} threads x {fires} fires without at=, "  # noqa: T201
          f"{len(refused)} refused, {len(history)} moves")
    assert refused == []
    assert [t.version for t in history] == list(range(1, THREADS * fires + 1))
    assert all(a.at <= b.at for a, b in zip(history, history[1:], strict=False))
    assert LOOP.replay(history)["L1"].problems == ()
    store.close()


class SteppingBack:
    """A clock that runs an hour behind after its first reading (another machine's clock)."""

    def __init__(self) -> None:
        self.readings = 0

    def now(self) -> datetime:
        self.readings += 1
        return FRIDAY_2PM if self.readings == 1 else FRIDAY_2PM - timedelta(hours=1)


@pytest.mark.parametrize("method", ["fire", "fire_many", "assign", "evaluate"])
def test_a_clock_behind_the_lead_takes_the_lead_s_time(method: str) -> None:
    """A clock reading earlier than the lead's last change is not refused: the lead's time is."""
    pipeline = Pipeline(LOOP, store=MemoryStore(), clock=SteppingBack())
    pipeline.capture("L1")  # at the clock's first reading
    pipeline.fire("L1", "ping", at=FRIDAY_2PM + timedelta(minutes=5))
    calls: dict[str, Any] = {
        "fire": lambda: pipeline.fire("L1", "ping"),
        "fire_many": lambda: pipeline.fire_many([("L1", "ping"), ("L1", "ping")]),
        "assign": lambda: pipeline.assign("L1", "ann"),
        "evaluate": lambda: pipeline.evaluate("L1"),
    }
    calls[method]()
    assert pipeline.get("L1").updated_at == FRIDAY_2PM + timedelta(minutes=5)
    with pytest.raises(InvalidInput, match="before lead 'L1'"):  # a given time is still checked
        pipeline.fire("L1", "ping", at=FRIDAY_2PM)


def test_handoff_decisions_without_at_follow_the_handoff() -> None:
    """Accepting or rejecting without at= never lands before the handoff or the lead's change."""
    clock = Clock(FRIDAY_2PM)
    pipeline = Pipeline(templates.inbound(), store=MemoryStore(), clock=clock)
    later = FRIDAY_2PM + timedelta(hours=1)
    for lead_id in ("L1", "L2"):
        pipeline.capture(lead_id)
        for event in ("convert", "qualify", "hand_to_sales"):
            pipeline.fire(lead_id, event, at=later)
    clock.current = FRIDAY_2PM  # behind both handoffs
    accepted = pipeline.accept_handoff("L1:3", by="ann")
    assert accepted.resolved_at == later
    rejected = pipeline.reject_handoff("L2:3", by="ann", reason="no budget")
    assert rejected.resolved_at == later
    assert pipeline.get("L2").stage == "nurture"


def test_a_sweep_leaves_leads_that_changed_after_its_time() -> None:
    """A lead moved after the sweep's time is left to the next sweep, not refused."""
    stalling = (Funnel.builder("s").stage("open", "sales", stall_after="1 day",
                                           stall_event="ping")
                .stage("done", "sales", outcome="won")
                .move("ping", "open", "open").move("finish", "open", "done").build())
    pipeline = Pipeline(stalling, store=MemoryStore())
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    pipeline.capture("L1", at=start)
    pipeline.fire("L1", "ping", at=start + timedelta(days=3))  # a self-loop: still in "open"
    report = pipeline.sweep(now=start + timedelta(days=2))  # computed before that move
    assert report.moved == ()
    report = pipeline.sweep(now=start + timedelta(days=4))
    assert [o.transition.event for o in report.moved] == ["ping"]
