"""Pipeline basics: the order of operations, concurrency, batches and every kind of bad input."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
from _pipeline_support import FRIDAY_2PM, Clock, Recorder, sales_funnel

from funnelkit import (
    AlreadyExists,
    ConcurrencyError,
    Decision,
    Funnel,
    HandoffClosed,
    InvalidInput,
    NotFound,
    PolicyRefused,
    ReasonRequired,
    Touchpoint,
    TransitionNotAllowed,
    templates,
)
from funnelkit.pipeline import Pipeline, SystemClock
from funnelkit.stores import Change, MemoryStore
from funnelkit.stores._protocol import _checked_change, _fast_change, make_change


def _pipeline(store: MemoryStore | None = None, **kwargs: Any) -> Pipeline:
    return Pipeline(sales_funnel(), store=store or MemoryStore(), clock=Clock(), **kwargs)


def _snapshot(store: MemoryStore) -> tuple[Any, ...]:
    return (list(store.leads()), list(store.transitions()), list(store.touchpoint_stream()),
            store.handoffs(), store.outbox(undelivered_only=False))


def test_fast_change_equals_the_checked_constructor() -> None:
    """The pipeline's unchecked Change is equal to one built by Change's own constructor."""
    assert make_change is _fast_change
    funnel = templates.inbound()
    lead = funnel.new_lead("L1", at=FRIDAY_2PM)
    outcome = funnel.fire(lead, "convert", at=FRIDAY_2PM)
    for owner in ("mia", None):
        args = (outcome.lead, 0, (outcome.transition,), (), (), (), owner)
        fast, checked = _fast_change(*args), _checked_change(*args)
        assert type(fast) is Change
        assert fast == checked
        assert fast.expected_owner == owner
    unchecked = _fast_change(lead, None, (), (), (), ())
    assert unchecked == Change(lead, None)


def test_capture_get_history_and_the_system_clock() -> None:
    """capture stores a version-0 lead; without at= the clock's time is used."""
    pipeline = Pipeline(sales_funnel(), store=MemoryStore())
    assert isinstance(pipeline.clock, SystemClock)
    lead = pipeline.capture("L1", attributes={"country": "DE"}, owner="mia")
    assert pipeline.get("L1") == lead
    assert (lead.stage, lead.version, lead.owner) == ("lead", 0, "mia")
    assert pipeline.history("L1") == []
    assert datetime.now(lead.created_at.tzinfo) - lead.created_at < timedelta(minutes=1)


def test_fire_passes_context_data_to_the_policy() -> None:
    """fire(context={...}) reaches a guarding policy as Context.data."""
    def approved(lead: Any, context: Any) -> Decision:
        ok = context.data.get("approved") is True
        return Decision.allow(policy="approved") if ok else Decision.deny("not approved", policy="approved")

    pipeline = Pipeline(sales_funnel(qualify=approved), store=MemoryStore(), clock=Clock())
    pipeline.capture("L1")
    with pytest.raises(PolicyRefused, match="not approved"):
        pipeline.fire("L1", "qualify")
    assert pipeline.fire("L1", "qualify", context={"approved": True}).lead.stage == "mql"


class _RacingStore(MemoryStore):
    """A real MemoryStore in which another writer moves the lead right before our next commits."""

    def __init__(self, races: int) -> None:
        super().__init__()
        self.races = races

    def commit(self, change: Change) -> None:
        if self.races and change.expected_version is not None and change.transitions:
            self.races -= 1
            rival = Pipeline(sales_funnel(), store=MemoryStore(), clock=Clock())
            current = self.load(change.lead.id)
            moved = rival.funnel.fire(current, "nurture", at=current.updated_at)
            MemoryStore.commit_many(self, [Change(moved.lead, current.version, (moved.transition,))])
            # the rival's move is undone at once by its own recycle, so our move is still valid
            back = rival.funnel.fire(moved.lead, "recycle", at=moved.lead.updated_at, reason="race")
            MemoryStore.commit_many(self, [Change(back.lead, moved.lead.version, (back.transition,))])
        MemoryStore.commit_many(self, [change])


def test_fire_retries_on_a_fresh_load_after_a_conflict() -> None:
    """A ConcurrencyError makes fire load the lead again and retry, up to `retries` times."""
    store = _RacingStore(races=2)
    pipeline = _pipeline(store, retries=2)
    pipeline.capture("L1")
    outcome = pipeline.fire("L1", "qualify")
    assert outcome.lead.version == 5
    assert [t.version for t in pipeline.history("L1")] == [1, 2, 3, 4, 5]


def test_fire_gives_up_after_its_retries() -> None:
    """With retries exhausted the ConcurrencyError reaches the caller and our move is not written."""
    store = _RacingStore(races=5)
    pipeline = _pipeline(store, retries=1)
    pipeline.capture("L1")
    with pytest.raises(ConcurrencyError):
        pipeline.fire("L1", "qualify")
    assert [t.event for t in pipeline.history("L1")] == ["nurture", "recycle", "nurture", "recycle"]


class _AssigningStore(MemoryStore):
    """Lets a rival reassign the lead between the pipeline's load and its first commit(s)."""

    def __init__(self, rival_owners: list[str]) -> None:
        super().__init__()
        self.rival_owners = rival_owners

    def commit(self, change: Change) -> None:
        if self.rival_owners and change.expected_version is not None:
            current = self.load(change.lead.id)
            rival = current.evolve(owner=self.rival_owners.pop(0), at=current.updated_at)
            MemoryStore.commit(self, Change(rival, current.version))
        MemoryStore.commit(self, change)


def test_a_move_never_writes_back_an_owner_changed_since_its_load() -> None:
    """An owner set between a move's load and its commit survives: the move retries on a fresh
    load (every store checks the owner the pipeline loaded); a store-level Change without
    expected_owner is the host's own last-writer-wins."""
    store = _AssigningStore(["bo"])
    pipeline = _pipeline(store)
    pipeline.capture("L1", owner="ana")
    outcome = pipeline.fire("L1", "qualify")
    assert (outcome.lead.owner, outcome.lead.stage, outcome.lead.version) == ("bo", "mql", 1)
    assert pipeline.get("L1") == outcome.lead


def test_assign_retries_and_gives_up_like_fire() -> None:
    """assign loads again after a rival assignment (the last assignment wins, knowingly); with
    the retries used up the ConcurrencyError reaches the caller and nothing of it is written."""
    pipeline = _pipeline(_AssigningStore(["bo"]))
    pipeline.capture("L1", owner="ana")
    assert pipeline.assign("L1", "cy").owner == "cy"
    assert pipeline.get("L1").owner == "cy"
    stubborn = _pipeline(_AssigningStore(["bo", "dee"]), retries=1)
    stubborn.capture("L1")
    with pytest.raises(ConcurrencyError, match="owned by 'dee' now, not 'bo'"):
        stubborn.assign("L1", "cy")
    assert stubborn.get("L1").owner == "dee"


class _RivalBatchStore(MemoryStore):
    """A rival assignment slips in before the first batch commit."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = True

    def commit_many(self, changes: Any) -> None:
        if self.armed:
            self.armed = False
            current = self.load("L1")
            MemoryStore.commit(self, Change(current.evolve(owner="bo"), current.version))
        MemoryStore.commit_many(self, changes)


def test_fire_many_keeps_an_owner_changed_since_its_loads() -> None:
    """A batch planned before a rival assignment fails as a whole and is fired again one by one
    on fresh loads: the rival's owner stays."""
    pipeline = _pipeline(_RivalBatchStore())
    pipeline.capture("L1", owner="ana")
    (outcome,) = pipeline.fire_many([("L1", "qualify")])
    assert (outcome.lead.owner, outcome.lead.stage) == ("bo", "mql")  # type: ignore[union-attr]
    assert pipeline.get("L1") == outcome.lead  # type: ignore[union-attr]


class _RivalMoveStore(MemoryStore):
    """A rival assignment slips in just before fire's one-move commit, which then declines."""

    commit = MemoryStore.commit  # defined beside commit_move: the pipeline's hot path uses it

    def __init__(self) -> None:
        super().__init__()
        self.armed = True

    def commit_move(self, loaded: Any, lead: Any, transition: Any) -> bool:
        if self.armed:
            self.armed = False
            MemoryStore.commit(self, Change(loaded.evolve(owner="bo"), loaded.version))
        return MemoryStore.commit_move(self, loaded, lead, transition)


def test_the_hot_path_falls_back_to_an_owner_guarded_commit() -> None:
    """When commit_move declines, fire's fallback Change carries the loaded owner, so it fails
    and fire retries on a fresh load instead of writing the old owner back."""
    pipeline = _pipeline(_RivalMoveStore())
    pipeline.capture("L1", owner="ana")
    outcome = pipeline.fire("L1", "qualify")
    assert (outcome.lead.owner, outcome.lead.version) == ("bo", 1)
    assert pipeline.get("L1") == outcome.lead


class _RivalOnLoadStore(MemoryStore):
    """Runs a rival's call once, just before a load of the lead: between two reads of a call."""

    def __init__(self) -> None:
        super().__init__()
        self.rival: Any = None

    def load(self, lead_id: str) -> Any:
        rival, self.rival = self.rival, None
        if rival is not None:
            rival()
        return super().load(lead_id)


def _pending_handoff(store: Any) -> tuple[Pipeline, Clock, Any]:
    """Lead L1 handed to sales (one pending handoff), and *store* armed to let a rival pipeline
    assign it to 'bo' once."""
    clock = Clock()
    pipeline = Pipeline(sales_funnel(), store=store, clock=clock)
    rival = Pipeline(sales_funnel(), store=store, clock=clock)
    pipeline.capture("L1")
    for event in ("qualify", "hand_to_sales"):
        pipeline.fire("L1", event)
    (handoff,) = pipeline.handoffs(status="pending")
    store.rival = lambda: rival.assign("L1", "bo")
    return pipeline, clock, handoff


@pytest.mark.parametrize("close", ["accept", "sweep"])
def test_closing_a_handoff_keeps_an_assignment_made_meanwhile(close: str) -> None:
    """accept_handoff and sweep read the handoff again after loading its lead, so an assignment
    made in between (which also sets the handoff's assignee) is kept on the closed handoff."""
    store = _RivalOnLoadStore()
    pipeline, clock, handoff = _pending_handoff(store)
    if close == "accept":
        pipeline.accept_handoff(handoff.id, by="cy")
        expected = ("accepted", "bo", "cy")
    else:
        clock.advance(days=3)
        assert [h.id for h in pipeline.sweep().expired] == [handoff.id]
        expected = ("expired", "bo", "bo")
    closed = store.handoff(handoff.id)
    assert (closed.status, closed.assignee, pipeline.get("L1").owner) == expected


class _RivalAfterHandoffReadStore(MemoryStore):
    """Runs a rival's call once, just after a handoff is read (the stale copy is returned)."""

    def __init__(self) -> None:
        super().__init__()
        self.rival: Any = None

    def handoff(self, handoff_id: str) -> Any:
        found = super().handoff(handoff_id)
        rival, self.rival = self.rival, None
        if rival is not None:
            rival()
        return found


def test_sweep_leaves_a_handoff_reassigned_during_its_expiry_to_the_next_sweep() -> None:
    """An assignment between the sweep's reads and its commit fails the expiry's owner guard:
    the lead keeps its new owner and the next sweep expires the handoff with its new assignee."""
    store = _RivalAfterHandoffReadStore()
    pipeline, clock, handoff = _pending_handoff(store)
    clock.advance(days=3)
    assert pipeline.sweep().expired == ()
    assert pipeline.get("L1").owner == "bo"
    assert [h.id for h in pipeline.sweep().expired] == [handoff.id]
    closed = store.handoff(handoff.id)
    assert (closed.status, closed.assignee, pipeline.get("L1").owner) == ("expired", "bo", "bo")


def test_fire_many_runs_in_order_and_collects_or_raises() -> None:
    """fire_many plans every item first: errors='collect' keeps going, errors='raise' writes nothing."""
    pipeline = _pipeline()
    pipeline.capture("A")
    pipeline.capture("B")
    results = pipeline.fire_many([("A", "qualify"), {"id": "B", "event": "win"},
                                  {"id": "B", "event": "lose", "reason": "no fit"}], errors="collect")
    assert results[0].lead.stage == "mql"  # type: ignore[union-attr]
    assert isinstance(results[1], TransitionNotAllowed)
    assert results[2].lead.stage == "lost"  # type: ignore[union-attr]
    before = _snapshot(pipeline.store)
    with pytest.raises(NotFound):
        pipeline.fire_many([("A", "hand_to_sales"), ("nobody", "qualify")])
    assert _snapshot(pipeline.store) == before
    with pytest.raises(InvalidInput, match="item 1"):
        pipeline.fire_many([("A", "x"), "bad"])
    with pytest.raises(InvalidInput, match="errors="):
        pipeline.fire_many([], errors="ignore")  # type: ignore[arg-type]


class _OneByOneStore(MemoryStore):
    """A real MemoryStore without the optional commit_many."""

    commit_many = None  # type: ignore[assignment]

    def commit(self, change: Change) -> None:
        MemoryStore.commit_many(self, [change])


@pytest.mark.parametrize("store_class", [MemoryStore, _OneByOneStore], ids=["commit_many", "commit"])
def test_fire_many_moves_one_lead_several_times_with_handoffs(store_class: type[MemoryStore]) -> None:
    """A batch may move a lead through two handoffs; the first is accepted by the second move."""
    pipeline = _pipeline(store_class())
    recorder = pipeline.register(Recorder())
    pipeline.capture("A")
    outcomes = pipeline.fire_many([("A", "qualify"), ("A", "hand_to_sales"), ("A", "hand_to_closer"),
                                   {"id": "A", "event": "win", "actor": "ae-max"}])
    assert [o.lead.version for o in outcomes] == [1, 2, 3, 4]  # type: ignore[union-attr]
    assert [t.event for t in pipeline.history("A")] == ["qualify", "hand_to_sales", "hand_to_closer", "win"]
    assert [(h.id, h.status) for h in pipeline.handoffs()] == [("A:2", "accepted"), ("A:3", "accepted")]
    assert [c[1] for c in recorder.named("after_transition")] == ["qualify", "hand_to_sales", "hand_to_closer", "win"]


def test_fire_many_falls_back_to_one_by_one_after_a_conflict() -> None:
    """When a lead changed under the batch, the unwritten items are fired again on fresh loads."""
    store = _RacingStore(races=1)
    store.commit_many = None  # type: ignore[assignment]
    pipeline = _pipeline(store)
    pipeline.capture("A")
    pipeline.capture("B")
    results = pipeline.fire_many([("A", "qualify"), ("B", "qualify")])
    assert [r.lead.stage for r in results] == ["mql", "mql"]  # type: ignore[union-attr]
    assert [t.event for t in pipeline.history("A")] == ["nurture", "recycle", "qualify"]
    assert [t.event for t in pipeline.history("B")] == ["qualify"]


def test_assign_sets_owner_and_pending_handoff_assignee() -> None:
    """assign changes the owner and, while a handoff is pending, its assignee."""
    pipeline = _pipeline()
    pipeline.capture("L1")
    pipeline.fire("L1", "qualify")
    pipeline.fire("L1", "hand_to_sales")
    lead = pipeline.assign("L1", "sdr-zoe")
    assert (lead.owner, lead.version) == ("sdr-zoe", 3)  # the assignment is a record of its own
    assert pipeline.handoff("L1:2").assignee == "sdr-zoe"


def test_evaluate_fires_auto_moves_without_a_touchpoint() -> None:
    """evaluate runs the auto moves now, e.g. for a policy that depends on time."""
    def a_day_old(lead: Any, context: Any) -> Decision:
        if context.at - lead.created_at >= timedelta(days=1):
            return Decision.allow(policy="a day old")
        return Decision.deny("younger than a day", policy="a day old")

    clock = Clock()
    pipeline = Pipeline(sales_funnel(qualify=a_day_old), store=MemoryStore(), clock=clock)
    pipeline.capture("L1")
    assert pipeline.touch("L1", Touchpoint("L1", "call", "phone", clock.advance(hours=1))) == ()
    assert pipeline.evaluate("L1") == ()
    clock.advance(days=1)
    (outcome,) = pipeline.evaluate("L1")
    assert (outcome.lead.stage, outcome.transition.actor) == ("mql", "funnelkit.auto")
    assert pipeline.evaluate("L1") == ()


def test_unknown_ids_raise_not_found_and_write_nothing() -> None:
    """Unknown lead or handoff ids raise NotFound everywhere."""
    pipeline = _pipeline()
    with pytest.raises(NotFound):
        pipeline.fire("nobody", "qualify")
    with pytest.raises(NotFound):
        pipeline.touch("nobody", Touchpoint("nobody", "call", "phone", FRIDAY_2PM))
    with pytest.raises(NotFound):
        pipeline.get("nobody")
    with pytest.raises(NotFound):
        pipeline.history("nobody")
    with pytest.raises(NotFound):
        pipeline.accept_handoff("nobody:1", by="ann")
    with pytest.raises(NotFound):
        pipeline.reject_handoff("nobody:1", by="ann", reason="x")
    with pytest.raises(NotFound):
        pipeline.assign("nobody", "ann")
    assert _snapshot(pipeline.store) == ([], [], [], [], [])


def test_duplicate_capture_is_refused() -> None:
    """Capturing an id twice raises AlreadyExists and keeps the first lead."""
    pipeline = _pipeline()
    first = pipeline.capture("L1", owner="ann")
    with pytest.raises(AlreadyExists):
        pipeline.capture("L1", owner="bob")
    assert pipeline.get("L1") == first


def test_handoffs_that_are_not_pending_cannot_be_accepted_or_rejected() -> None:
    """accept/reject of an accepted, rejected or expired handoff raise HandoffClosed, writing nothing."""
    pipeline = _pipeline()
    pipeline.capture("L1")
    pipeline.fire("L1", "qualify")
    pipeline.fire("L1", "hand_to_sales")
    pipeline.accept_handoff("L1:2", by="ann")
    before = _snapshot(pipeline.store)
    with pytest.raises(HandoffClosed):
        pipeline.accept_handoff("L1:2", by="bob")
    with pytest.raises(HandoffClosed):
        pipeline.reject_handoff("L1:2", by="bob", reason="late")
    assert _snapshot(pipeline.store) == before


def test_reject_needs_a_reason_and_a_move_to_recycle_to() -> None:
    """A reject without a reason raises ReasonRequired; one to a stage with no move raises InvalidInput."""
    pipeline = _pipeline()
    pipeline.capture("L1")
    pipeline.fire("L1", "qualify")
    pipeline.fire("L1", "hand_to_sales")
    before = _snapshot(pipeline.store)
    with pytest.raises(ReasonRequired):
        pipeline.reject_handoff("L1:2", by="ann", reason="  ")
    with pytest.raises(InvalidInput, match="no move from 'sql' to 'mql'"):
        pipeline.reject_handoff("L1:2", by="ann", reason="not ready", recycle_to="mql")
    with pytest.raises(NotFound):
        pipeline.reject_handoff("L1:2", by="ann", reason="not ready", recycle_to="nowhere")
    assert _snapshot(pipeline.store) == before
    pipeline.reject_handoff("L1:2", by="ann", reason="wrong segment", recycle_to="lost")
    assert pipeline.get("L1").stage == "lost"


def test_naive_datetimes_are_refused_everywhere() -> None:
    """Every at=/now= takes timezone-aware datetimes only; nothing is written otherwise."""
    pipeline = _pipeline()
    naive = datetime(2026, 3, 6, 14)
    with pytest.raises(InvalidInput, match="naive"):
        pipeline.capture("L1", at=naive)
    pipeline.capture("L1")
    before = _snapshot(pipeline.store)
    with pytest.raises(InvalidInput, match="naive"):
        pipeline.fire("L1", "qualify", at=naive)
    with pytest.raises(InvalidInput, match="naive"):
        pipeline.sweep(naive)
    with pytest.raises(InvalidInput, match="naive"):
        pipeline.deliver_pending(now=naive)

    class NaiveClock:
        def now(self) -> datetime:
            return naive

    with pytest.raises(InvalidInput, match="naive"):
        Pipeline(sales_funnel(), store=pipeline.store, clock=NaiveClock()).fire("L1", "qualify")
    assert _snapshot(pipeline.store) == before


def test_touchpoint_for_another_lead_is_refused() -> None:
    """touch checks that the touchpoint belongs to the lead."""
    pipeline = _pipeline()
    pipeline.capture("L1")
    with pytest.raises(InvalidInput, match="not 'L1'"):
        pipeline.touch("L1", Touchpoint("L2", "call", "phone", FRIDAY_2PM))
    with pytest.raises(InvalidInput, match="needs the channel"):
        pipeline.touch("L1", "call")  # type: ignore[call-overload]
    with pytest.raises(InvalidInput, match="must be what happened"):
        pipeline.touch("L1", 5, "phone")  # type: ignore[call-overload]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"store": "db"}, "does not implement"),
        ({"router": "ann"}, "not a router"),
        ({"calendar": "UTC"}, "BusinessCalendar"),
        ({"clock": object()}, "no now"),
        ({"scoring": object()}, "score"),
        ({"retries": -1}, "retries"),
        ({"backoff": timedelta(0)}, "backoff"),
    ],
    ids=["store", "router", "calendar", "clock", "scoring", "retries", "backoff"],
)
def test_bad_pipeline_arguments_are_refused(kwargs: dict[str, Any], fragment: str) -> None:
    """Pipeline checks every argument when it is built."""
    arguments: dict[str, Any] = {"store": MemoryStore(), **kwargs}
    with pytest.raises(InvalidInput, match=fragment):
        Pipeline(sales_funnel(), **arguments)
    with pytest.raises(InvalidInput, match="not a funnelkit.Funnel"):
        Pipeline("inbound", store=MemoryStore())  # type: ignore[arg-type]


def test_after_hooks_see_each_move_once_in_order() -> None:
    """Every committed move is delivered to after_transition once, with a unique key."""
    pipeline = _pipeline()
    recorder = pipeline.register(Recorder())
    pipeline.capture("L1")
    for event in ("qualify", "hand_to_sales", "hand_to_closer", "win"):
        pipeline.fire("L1", event)
    calls = recorder.named("after_transition")
    assert [c[1] for c in calls] == ["qualify", "hand_to_sales", "hand_to_closer", "win"]
    assert len({c[3] for c in calls}) == 4
    assert pipeline.store.outbox() == []


def test_threads_moving_one_lead_lose_no_move() -> None:
    """Four threads firing on one lead: conflicts are retried, every move lands once, in order."""
    funnel = (Funnel.builder("ping").stage("open", "sales").stage("done", "sales", outcome="won")
              .move("ping", "open", "open").move("finish", "open", "done").build())
    pipeline = Pipeline(funnel, store=MemoryStore(), retries=10_000)
    pipeline.capture("L1", at=FRIDAY_2PM)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(50):
                pipeline.fire("L1", "ping", at=FRIDAY_2PM)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    history = pipeline.history("L1")
    assert [t.version for t in history] == list(range(1, 201))
    assert funnel.replay(history)["L1"].problems == ()
