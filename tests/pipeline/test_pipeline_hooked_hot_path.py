"""A move whose only extra is its after_transition row stays on fire's hot path, unchanged."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from _pipeline_support import FRIDAY_2PM, Clock
from hypothesis import given
from hypothesis import strategies as st

from funnelkit import InvalidInput, Lead, Transition, templates
from funnelkit._core.codec import LazyPayload
from funnelkit._pipeline.pipeline import Pipeline
from funnelkit.stores import MemoryStore, OutboxMessage, SQLiteStore
from funnelkit.stores._protocol import _checked_message, _fast_message, make_message

CYCLE = ("convert", "qualify", "nurture", "recycle")


class Crm:
    """An after_transition hook recording its calls; fails on the (key, try) pairs it is told."""

    def __init__(self, failing: frozenset[tuple[str, int]] = frozenset()) -> None:
        self.calls: list[tuple[str, Lead, Transition]] = []
        self.failing = failing
        self.tries: dict[str, int] = {}

    def after_transition(self, lead: Lead, transition: Transition, key: str) -> None:
        n = self.tries[key] = self.tries.get(key, 0) + 1
        if (key, n) in self.failing:
            raise RuntimeError(f"CRM down for {key} (try {n})")
        self.calls.append((key, lead, transition))


def test_the_pipelines_message_equals_the_checked_constructor() -> None:
    """make_message builds what OutboxMessage's own constructor builds; a key too long is
    refused by it, with its message."""
    assert make_message is _fast_message
    funnel = templates.inbound()
    outcome = funnel.fire(funnel.new_lead("L1", at=FRIDAY_2PM), "convert", at=FRIDAY_2PM)
    payload = LazyPayload({"lead": outcome.lead, "transition": outcome.transition},
                          (("lead", "lead"), ("transition", "transition")))
    args = ("after_transition:L1:1", "after_transition", payload, FRIDAY_2PM)
    fast, checked = _fast_message(*args), _checked_message(*args)
    assert type(fast) is OutboxMessage
    assert fast == checked
    assert fast.payload is payload
    with pytest.raises(InvalidInput, match="OutboxMessage key"):
        make_message("k" * 256, "after_transition", payload, FRIDAY_2PM)


def test_a_hooked_move_takes_the_hot_path() -> None:
    """With only an after_transition hook, fire plans no _Step: the hot path commits it."""
    pipeline = Pipeline(templates.inbound(), store=MemoryStore(), clock=Clock())
    crm = pipeline.register(Crm())
    pipeline.capture("L1")

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the move left the hot path")

    pipeline._step = refuse  # type: ignore[method-assign]
    outcome = pipeline.fire("L1", "convert")
    assert [(k, t) for k, _, t in crm.calls] == [("after_transition:L1:1", outcome.transition)]


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@given(
    moves=st.lists(st.tuples(st.integers(0, 2), st.booleans(), st.booleans()), min_size=1,
                   max_size=12),
    failing=st.sets(st.tuples(st.integers(0, 2), st.integers(1, 4), st.integers(1, 2)),
                    max_size=6),
)
def test_the_hot_path_of_a_hooked_move_is_the_planned_path(
    tmp_path_factory: pytest.TempPathFactory, kind: str, moves: list[tuple[int, bool, bool]],
    failing: set[tuple[int, int, int]],
) -> None:
    """Same outcomes, hook calls, rows and history on the hot path as through _step, under
    injected hook failures; some moves come with an explicit time, some steps first let 31
    seconds pass (failed rows fall due) and a final delivery reaches every row."""
    keys = frozenset((f"after_transition:L{lead}:{version}", n) for lead, version, n in failing)
    runs = []
    for hot in (True, False):
        store: Any = (MemoryStore() if kind == "memory" else
                      SQLiteStore(str(tmp_path_factory.mktemp("db") / "f.db")))
        clock = Clock()
        pipeline = Pipeline(templates.inbound(), store=store, clock=clock,
                            backoff=timedelta(seconds=30))
        crm = pipeline.register(Crm(keys))
        if not hot:
            pipeline._hot = pipeline._no_fast  # every move planned by _step
        versions = [0, 0, 0]
        for i in range(3):
            pipeline.capture(f"L{i}")
        outcomes = []
        for lead, wait, explicit in moves:
            if wait:
                clock.advance(seconds=31)
            event = "convert" if versions[lead] == 0 else CYCLE[1 + (versions[lead] - 1) % 3]
            outcomes.append(pipeline.fire(
                f"L{lead}", event, reason="warm again" if event == "recycle" else None,
                at=clock.now() + timedelta(seconds=5) if explicit else None))
            versions[lead] += 1
        during = list(crm.calls)
        rows = [(r.key, r.attempts, r.delivered_at, r.last_error)
                for r in store.outbox(undelivered_only=False)]
        for _ in range(3):
            clock.advance(hours=2)
            pipeline.deliver_pending()
        runs.append((outcomes, during, rows, crm.calls, store.outbox(),
                     [store.history(f"L{i}") for i in range(3)]))
        store.close()
    assert runs[0] == runs[1]
    assert runs[0][4] == []  # every row delivered in the end


def test_one_delivery_calls_rows_in_order_and_releases_only_the_failing_ones() -> None:
    """Rows delivered in one round trip: in order; a row that fails, and a row of a hook with
    no implementation, are released for a retry, the rows after them still delivered."""
    clock = Clock()
    pipeline = Pipeline(templates.inbound(), store=MemoryStore(), clock=clock,
                        outbox=["after_transition", "after_stalled"])
    pipeline.capture("L1")
    for event in CYCLE[:3]:
        pipeline.fire("L1", event)  # rows written, no hook: they wait
    pipeline.store.commit_many([])  # nothing: the rows stay as written
    crm = pipeline.register(Crm(frozenset({("after_transition:L1:2", 1)})))
    delivery = pipeline.deliver_pending()
    assert (delivery.delivered, delivery.failed) == (2, 1)
    assert [key for key, _, _ in crm.calls] == ["after_transition:L1:1", "after_transition:L1:3"]
    (left,) = pipeline.store.outbox()
    assert left.key == "after_transition:L1:2"
    assert left.last_error is not None
    assert "CRM down" in left.last_error
    clock.advance(hours=1)
    assert pipeline.deliver_pending().delivered == 1
    assert pipeline.store.outbox() == []


class Chaining(Crm):
    """A Crm whose delivery of the keys it is told fires a move of lead "L9" (re-entering)."""

    def __init__(self, pipeline: Pipeline, failing: frozenset[tuple[str, int]],
                 chain: frozenset[str]) -> None:
        super().__init__(failing)
        self.pipeline, self.chain, self.moves = pipeline, chain, 0

    def after_transition(self, lead: Lead, transition: Transition, key: str) -> None:
        if key in self.chain and self.tries.get(key, 0) == 0:
            event = "convert" if self.moves == 0 else CYCLE[1 + (self.moves - 1) % 3]
            self.pipeline.fire("L9", event, reason="again" if event == "recycle" else None)
            self.moves += 1
        super().after_transition(lead, transition, key)


def _loop_only(self: Pipeline, now: Any, ids: Any, messages: Any) -> None:
    """_deliver_own without its fast path: the rows handed to the delivery loop at once."""
    self._drive(self._delivery_loop(now, 100, ids, messages))


@pytest.mark.parametrize("retention", [None, timedelta(0), timedelta(minutes=1)])
@given(
    moves=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=1, max_size=12),
    failing=st.sets(st.tuples(st.integers(0, 2), st.integers(1, 4), st.integers(1, 2)),
                    max_size=6),
    chain=st.sets(st.tuples(st.integers(0, 2), st.integers(1, 4)), max_size=3),
)
def test_delivering_own_rows_at_once_is_the_delivery_loop(
    retention: timedelta | None, moves: list[tuple[int, int]],
    failing: set[tuple[int, int, int]], chain: set[tuple[int, int]],
) -> None:
    """_deliver_own's fast path leaves what the loop alone leaves: the same hook calls, rows,
    retries, rows left behind by hooks that fire moves while delivered, and purges; each step
    may first let 0, 31 or 90 seconds pass."""
    keys = frozenset((f"after_transition:L{lead}:{version}", n) for lead, version, n in failing)
    chained = frozenset(f"after_transition:L{lead}:{version}" for lead, version in chain)
    runs = []
    for fast in (True, False):
        clock = Clock()
        pipeline = Pipeline(templates.inbound(), store=MemoryStore(), clock=clock,
                            backoff=timedelta(seconds=30), outbox_retention=retention)
        crm = pipeline.register(Chaining(pipeline, keys, chained))
        versions = [0, 0, 0]
        for i in (0, 1, 2, 9):
            pipeline.capture(f"L{i}")
        with pytest.MonkeyPatch.context() as patch:
            if not fast:
                patch.setattr(Pipeline, "_deliver_own", _loop_only)
            for lead, wait in moves:
                clock.advance(seconds=(0, 31, 90)[wait])
                event = "convert" if versions[lead] == 0 else CYCLE[1 + (versions[lead] - 1) % 3]
                pipeline.fire(f"L{lead}", event, reason="again" if event == "recycle" else None)
                versions[lead] += 1
        runs.append((crm.calls, sorted(crm.tries.items()),
                     pipeline.store.outbox(undelivered_only=False), pipeline._rows_left,
                     sorted(pipeline._retry_times), pipeline._purge_due))
    assert runs[0] == runs[1]
