"""async def hooks: awaited by adeliver_pending, never acknowledged unrun by anything else."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from _pipeline_support import FRIDAY_2PM, Clock, Recorder, sales_funnel
from hypothesis import given, settings
from hypothesis import strategies as st

from funnelkit import InvalidHook, InvalidInput, Lead, Transition, Veto, templates
from funnelkit.pipeline import Delivery, Pipeline
from funnelkit.stores import MemoryStore, SQLiteStore, Store

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """A MemoryStore, and a SQLiteStore file (whose calls adeliver_pending makes in a thread)."""
    if request.param == "memory":
        return MemoryStore()
    return SQLiteStore(str(tmp_path / "funnel.db"))


def _pipeline(store: Store | None = None, clock: Clock | None = None) -> Pipeline:
    return Pipeline(sales_funnel(), store=store or MemoryStore(), clock=clock or Clock())


class AsyncCrm:
    """An async after-hook that yields to the loop before it records the move."""

    def __init__(self) -> None:
        self.moves: list[tuple[str, str]] = []
        self.threads: set[int] = set()

    async def after_transition(self, transition: Transition, key: str) -> None:
        await asyncio.sleep(0)
        self.threads.add(threading.get_ident())
        self.moves.append((transition.event, key))


def test_fire_leaves_an_async_hooks_row_for_adeliver_pending(store: Store) -> None:
    """fire commits the row but cannot await the hook: the row waits, unclaimed, until awaited."""
    pipeline = _pipeline(store)
    crm = pipeline.register(AsyncCrm())
    pipeline.capture("L1")
    pipeline.fire("L1", "qualify")
    (row,) = store.outbox()
    assert (row.hook, row.attempts, row.delivered_at) == ("after_transition", 0, None)
    assert crm.moves == []
    assert asyncio.run(pipeline.adeliver_pending()) == Delivery(delivered=1, failed=0)
    assert crm.moves == [("qualify", "after_transition:L1:1")]
    assert crm.threads == {threading.get_ident()}  # awaited on the event loop's thread
    assert store.outbox() == []
    assert asyncio.run(pipeline.adeliver_pending()) == Delivery()


def test_deliver_pending_refuses_while_an_async_hook_is_registered(store: Store) -> None:
    """The synchronous delivery claims nothing and names adeliver_pending; unregistering helps."""
    pipeline = _pipeline(store)
    crm = pipeline.register(AsyncCrm())
    pipeline.capture("L1")
    pipeline.fire("L1", "qualify")
    with pytest.raises(InvalidHook, match=r"AsyncCrm\.after_transition is async def.*"
                                          r"await pipeline\.adeliver_pending\(\)"):
        pipeline.deliver_pending()
    (row,) = store.outbox()
    assert (row.attempts, row.claimed_by, row.last_error) == (0, None, None)
    with pytest.raises(InvalidInput, match="limit=0"):
        pipeline.deliver_pending(limit=0)  # the arguments are still checked first
    pipeline.unregister(crm)
    recorder = pipeline.register(Recorder())
    assert pipeline.deliver_pending().delivered == 1
    assert [c[1] for c in recorder.named("after_transition")] == ["qualify"]


def test_plain_and_async_implementations_run_in_registration_order(store: Store) -> None:
    """adeliver_pending calls every implementation of a hook in order, plain ones in a thread."""
    pipeline = _pipeline(store)
    calls: list[tuple[str, str, bool]] = []
    loop_thread = threading.get_ident()

    class Plain:
        def after_transition(self, transition: Transition) -> None:
            calls.append(("plain", transition.event, threading.get_ident() == loop_thread))

    class Awaited:
        async def after_transition(self, transition: Transition) -> None:
            calls.append(("async", transition.event, threading.get_ident() == loop_thread))

    pipeline.register(Plain())
    pipeline.register(Awaited())
    pipeline.capture("L1")
    pipeline.fire("L1", "qualify")
    pipeline.fire("L1", "hand_to_sales")
    assert asyncio.run(pipeline.adeliver_pending()).delivered == 2
    assert calls == [("plain", "qualify", False), ("async", "qualify", True),
                     ("plain", "hand_to_sales", False), ("async", "hand_to_sales", True)]


def test_a_failing_async_hook_is_retried_with_backoff_never_acknowledged() -> None:
    """An async hook that raises leaves its row pending with the error, retried after backoff."""
    clock = Clock()
    pipeline = Pipeline(sales_funnel(), store=MemoryStore(), clock=clock,
                        backoff=timedelta(minutes=1))

    class Flaky:
        def __init__(self) -> None:
            self.tries = 0

        async def after_transition(self, transition: Transition) -> None:
            self.tries += 1
            await asyncio.sleep(0)
            if self.tries < 3:
                raise ConnectionError("CRM down")

    flaky = pipeline.register(Flaky())
    pipeline.capture("L1")
    pipeline.fire("L1", "qualify")
    assert asyncio.run(pipeline.adeliver_pending()) == Delivery(delivered=0, failed=1)
    (row,) = pipeline.store.outbox()
    assert row.attempts == 1
    assert "Flaky.after_transition raised ConnectionError('CRM down')" in (row.last_error or "")
    assert asyncio.run(pipeline.adeliver_pending()) == Delivery()  # not due yet
    clock.advance(minutes=1)
    assert asyncio.run(pipeline.adeliver_pending()) == Delivery(delivered=0, failed=1)
    clock.advance(minutes=2)
    assert asyncio.run(pipeline.adeliver_pending()) == Delivery(delivered=1, failed=0)
    assert flaky.tries == 3
    assert pipeline.store.outbox() == []


def test_async_before_hooks_and_generator_hooks_are_refused_at_registration() -> None:
    """A before-hook must be plain def; a generator function would never run: both refused."""
    pipeline = _pipeline()

    class AsyncVeto:
        async def before_transition(self, lead: Lead) -> None: ...

    class Generator:
        def after_transition(self, transition: Transition) -> Any:
            yield transition

    class AsyncGenerator:
        async def after_handoff(self, handoff: Any) -> Any:
            yield handoff

    class Callable:
        async def __call__(self, lead: Lead) -> None: ...

    class AsyncCallable:
        before_transition = Callable()

    with pytest.raises(InvalidHook, match=r"AsyncVeto\.before_transition is async def.*"
                                          r"plain def.*adeliver_pending"):
        pipeline.register(AsyncVeto())
    with pytest.raises(InvalidHook, match="is async def"):
        pipeline.register(AsyncCallable())
    for plugin in (Generator(), AsyncGenerator()):
        with pytest.raises(InvalidHook, match="generator function: calling it runs none"):
            pipeline.register(plugin)
    assert pipeline._hooks.plugins == ()


def test_a_before_hook_returning_an_awaitable_is_a_veto() -> None:
    """A plain before-hook that returns a coroutine cannot veto in time: the move is refused."""
    pipeline = _pipeline()

    async def check() -> None:  # pragma: no cover - closed, never run
        raise AssertionError

    class Sneaky:
        def before_transition(self, lead: Lead) -> Any:
            return check()

    pipeline.register(Sneaky())
    pipeline.capture("L1")
    with pytest.raises(Veto, match="returned an awaitable"):
        pipeline.fire("L1", "qualify")
    assert pipeline.get("L1").version == 0


def test_a_plain_hook_returning_a_coroutine_is_awaited_or_retried_never_acknowledged() -> None:
    """deliver_pending cannot await what a plain def returned: error, retry; adeliver awaits it."""
    clock = Clock()
    pipeline = _pipeline(clock=clock)
    ran: list[str] = []

    async def notify(event: str) -> None:
        ran.append(event)

    class Wrapped:
        def after_transition(self, transition: Transition) -> Any:
            return notify(transition.event)

    pipeline.register(Wrapped())
    pipeline.capture("L1")
    pipeline.fire("L1", "qualify")  # delivered right after the commit: refused, kept
    (row,) = pipeline.store.outbox()
    assert "Wrapped.after_transition must be awaited" in (row.last_error or "")
    assert ran == []
    clock.advance(hours=1)
    assert asyncio.run(pipeline.adeliver_pending()).delivered == 1
    assert ran == ["qualify"]


def test_sweep_leaves_async_hooks_rows_to_adeliver_pending() -> None:
    """sweep expires handoffs as usual; with an async hook its delivery is left to adeliver."""
    clock = Clock()
    pipeline = _pipeline(clock=clock)
    breaches: list[str] = []

    class Escalate:
        async def after_sla_breach(self, handoff: Any) -> None:
            breaches.append(handoff.id)

    pipeline.register(Escalate())
    pipeline.capture("L1")
    pipeline.fire("L1", "qualify")
    pipeline.fire("L1", "hand_to_sales")
    report = pipeline.sweep(FRIDAY_2PM + timedelta(days=7))
    assert [h.id for h in report.expired] == ["L1:2"]
    assert report.delivery == Delivery()
    assert breaches == []
    assert asyncio.run(pipeline.adeliver_pending(now=FRIDAY_2PM + timedelta(days=7))).delivered == 1
    assert breaches == ["L1:2"]


def test_a_hook_moving_a_lead_during_adeliver_pending_does_not_deliver_inside_it() -> None:
    """A plain hook that fires a move (in adeliver's worker thread) leaves its rows to the loop."""
    pipeline = Pipeline(sales_funnel(), store=MemoryStore(), clock=Clock(),
                        outbox=["after_transition", "after_handoff"])
    pipeline.capture("L1")
    pipeline.fire("L1", "qualify")  # no hook yet: the row waits
    seen: list[str] = []
    depth: list[int] = []

    class Chain:  # plain hooks only: fire would deliver them at once, but for the mark
        def after_transition(self, transition: Transition) -> None:
            seen.append(transition.event)
            if transition.event == "qualify":
                depth.append(1)
                pipeline.fire("L1", "hand_to_sales")  # commits rows, delivers nothing here
                depth.pop()

        def after_handoff(self, handoff: Any) -> None:
            assert depth == []  # never delivered from inside the hook above
            seen.append(f"handoff {handoff.id}")

    pipeline.register(Chain())
    first = asyncio.run(pipeline.adeliver_pending())
    second = asyncio.run(pipeline.adeliver_pending())
    assert first.delivered + second.delivered == 3
    assert seen == ["qualify", "handoff L1:2", "hand_to_sales"]
    assert pipeline.store.outbox() == []


def test_a_cancelled_delivery_leaves_the_row_claimed_then_delivers_it_again() -> None:
    """Cancelled while awaiting a hook, the row is not acknowledged; after the lease it runs again."""
    clock = Clock()
    pipeline = Pipeline(sales_funnel(), store=MemoryStore(), clock=clock,
                        lease=timedelta(minutes=5))
    runs: list[str] = []

    class Slow:
        def __init__(self) -> None:
            self.block = True
            self.started: asyncio.Event | None = None

        async def after_transition(self, transition: Transition, key: str) -> None:
            runs.append(key)
            if self.block:
                assert self.started is not None
                self.started.set()
                await asyncio.sleep(3600)

    slow = pipeline.register(Slow())
    pipeline.capture("L1")
    pipeline.fire("L1", "qualify")

    async def cancel_midway() -> None:
        slow.started = asyncio.Event()
        task = asyncio.create_task(pipeline.adeliver_pending())
        await slow.started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_midway())
    (row,) = pipeline.store.outbox()
    assert (row.delivered_at, row.attempts) == (None, 1)
    slow.block = False
    assert asyncio.run(pipeline.adeliver_pending()) == Delivery()  # still leased
    clock.advance(minutes=6)
    assert asyncio.run(pipeline.adeliver_pending()) == Delivery(delivered=1, failed=0)
    assert runs == ["after_transition:L1:1"] * 2


def test_other_tasks_are_not_taken_for_the_delivery() -> None:
    """While one task awaits adeliver_pending, another task's fire still delivers its plain hooks."""
    pipeline = _pipeline()
    recorder = pipeline.register(Recorder())
    pipeline.capture("L1")
    pipeline.capture("L2")

    class Waits:
        def __init__(self) -> None:
            self.started = asyncio.Event()
            self.release = asyncio.Event()

        async def after_handoff(self, handoff: Any) -> None:
            self.started.set()
            await self.release.wait()

    async def main() -> None:
        waits = pipeline.register(Waits())
        pipeline.fire("L1", "qualify")
        pipeline.fire("L1", "hand_to_sales")
        delivery = asyncio.create_task(pipeline.adeliver_pending())
        await waits.started.wait()  # the delivery task is awaiting Waits.after_handoff now
        pipeline.unregister(waits)
        pipeline.fire("L2", "qualify")  # this task is not delivering: its row goes out now
        assert ("after_transition", ("L2", "qualify", 1, "after_transition:L2:1")) in (
            recorder.calls)
        waits.release.set()
        assert (await delivery).delivered == 3

    asyncio.run(main())
    assert pipeline.store.outbox() == []


# -- the invariant --------------------------------------------------------------------------------

BEHAVIOUR = st.tuples(st.booleans(), st.booleans())  # (async def?, raises?)


@settings(max_examples=40, deadline=None)
@given(impls=st.lists(BEHAVIOUR, min_size=1, max_size=4), moves=st.integers(1, 4),
       synchronous=st.booleans())
def test_a_row_is_acknowledged_only_once_every_implementation_ran(
    impls: list[tuple[bool, bool]], moves: int, synchronous: bool,
) -> None:
    """For any mix of plain/async, passing/raising implementations, either delivery acknowledges
    a row only when every implementation ran to its end without raising, and runs none of an
    async hook's coroutines partially: deliver_pending refuses, adeliver_pending awaits."""
    pipeline = Pipeline(templates.temperature(), store=MemoryStore(), clock=Clock())
    finished: list[tuple[int, str]] = []

    def plugin(index: int, is_async: bool, raises: bool) -> object:
        def record(key: str) -> None:
            if raises:
                raise RuntimeError(f"impl {index}")
            finished.append((index, key))

        class Sync:
            def after_transition(self, key: str) -> None:
                record(key)

        class Async:
            async def after_transition(self, key: str) -> None:
                await asyncio.sleep(0)
                record(key)

        return Async() if is_async else Sync()

    pipeline.capture("L1")
    for index, (is_async, raises) in enumerate(impls):
        pipeline.register(plugin(index, is_async, raises))
    for _ in range(moves):
        pipeline.fire("L1", "warm_up")
        pipeline.fire("L1", "cool", reason="again")
    any_async = any(a for a, _ in impls)
    all_pass = not any(r for _, r in impls)
    if synchronous and any_async:
        with pytest.raises(InvalidHook):
            pipeline.deliver_pending()
    elif synchronous:
        pipeline.deliver_pending()
    else:
        asyncio.run(pipeline.adeliver_pending())
    rows = pipeline.store.outbox(undelivered_only=False)
    assert len(rows) == 2 * moves
    for row in rows:
        ran = {index for index, key in finished if key == row.key}
        if row.delivered_at is not None:
            assert ran == set(range(len(impls)))
        if all_pass and not (synchronous and any_async):
            assert row.delivered_at is not None
        if synchronous and any_async:
            assert row.delivered_at is None
            assert all(not impls[i][0] for i in ran)  # no async implementation ran
