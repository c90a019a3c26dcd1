"""The audit log is complete: assignments, handoff decisions and sweeps are in the lead's history.

Each is a record with a reserved event (``funnelkit.assign``, ``.accept``, ``.reject``, ``.expire``,
``.stall``, ``.escalate``) from the lead's stage to the same stage, with actor, time and reason,
bumping the version; readable through ``history`` and streamed by ``transitions``, on every
store; replay accepts them and analytics read the same figures with or without them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from _pipeline_support import FRIDAY_2PM, Clock, Recorder, sales_funnel
from hypothesis import given, settings
from hypothesis import strategies as st

import funnelkit
from _servers import mariadb, postgres  # noqa: F401 - fixtures for the server stores
from funnelkit import (
    RESERVED_EVENTS,
    ConcurrencyError,
    Funnel,
    InvalidFunnel,
    InvalidInput,
    Transition,
    UnknownEvent,
    Veto,
)
from funnelkit._pipeline.audit import MAX_AUDIT_REASON
from funnelkit.analytics import FunnelLog
from funnelkit.pipeline import Pipeline
from funnelkit.stores import Change, MemoryStore, SQLAlchemyStore, SQLiteStore, Store

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from _servers import Server

AUDIT = ("funnelkit.assign", "funnelkit.accept", "funnelkit.reject", "funnelkit.expire",
         "funnelkit.stall", "funnelkit.escalate")


@pytest.fixture(params=["memory", "sqlite-file"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A MemoryStore, and a SQLiteStore on a real file."""
    made: Store = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "a.db")
    yield made
    made.close()


def _handed(pipeline: Pipeline, lead_id: str = "L1") -> str:
    """Capture *lead_id* and hand it to sales; returns its pending handoff's id."""
    pipeline.capture(lead_id)
    pipeline.fire(lead_id, "qualify")
    pipeline.fire(lead_id, "hand_to_sales")
    return f"{lead_id}:2"


def _pipeline(store: Store, clock: Clock | None = None, **options: Any) -> Pipeline:
    return Pipeline(sales_funnel(), store=store, clock=clock or Clock(), **options)


def _snapshot(store: Store) -> Any:
    return ([(lead.id, lead.version, lead.owner) for lead in store.leads()],
            [t for _, t in store.transitions()],
            [(h.id, h.status, h.assignee) for h in store.handoffs()])


# -- the records ------------------------------------------------------------------------------


def test_reserved_events_are_public_and_no_funnel_can_define_them() -> None:
    """RESERVED_EVENTS names every audit event; they are dotted, so never a funnel's own event."""
    assert set(AUDIT) | {"funnelkit.merge", "funnelkit.unmerge"} == set(RESERVED_EVENTS)
    assert funnelkit.RESERVED_EVENTS is RESERVED_EVENTS
    assert "RESERVED_EVENTS" in funnelkit.__all__
    with pytest.raises(InvalidFunnel):
        Funnel.builder("f").stage("a", "t").stage("b", "t").move("funnelkit.assign", "a", "b").build()
    pipeline = _pipeline(MemoryStore())
    pipeline.capture("L1")
    with pytest.raises(UnknownEvent):
        pipeline.fire("L1", "funnelkit.assign")


def test_assign_is_recorded_with_actor_time_and_reason(store: Store) -> None:
    """assign writes a funnelkit.assign record naming both owners, by `by`, at `at`."""
    clock = Clock()
    pipeline = _pipeline(store, clock)
    pipeline.capture("L1", owner="ann")
    clock.advance(hours=1)
    lead = pipeline.assign("L1", "bob", by="kim", reason="territory change")
    (record,) = store.history("L1")
    assert (record.event, record.source, record.target) == ("funnelkit.assign", "lead", "lead")
    assert (record.actor, record.at, record.version) == ("kim", clock.now(), 1)
    assert record.reason == "owner 'ann' -> 'bob': territory change"
    assert (lead.owner, lead.version, lead.updated_at) == ("bob", 1, clock.now())
    assert store.load("L1") == lead
    later = pipeline.assign("L1", "cid", at=clock.advance(hours=1))
    assert pipeline.history("L1")[-1].reason == "owner 'bob' -> 'cid'"
    assert pipeline.history("L1")[-1].actor is None
    assert later.version == 2
    assert [t for _, t in store.transitions()] == pipeline.history("L1")  # streamed, in order


def test_assign_checks_its_arguments_before_any_work(store: Store) -> None:
    """A bad by, reason or at is refused with InvalidInput, nothing written."""
    pipeline = _pipeline(store)
    pipeline.capture("L1")
    before = _snapshot(store)
    bad: list[dict[str, Any]] = [
        {"by": 7}, {"by": ""}, {"reason": 7}, {"reason": "x" * (MAX_AUDIT_REASON + 1)},
        {"reason": "bad\x00"}, {"at": datetime(2026, 3, 6, 14)},  # noqa: DTZ001 - naive on purpose
        {"at": FRIDAY_2PM - timedelta(days=1)},  # before the lead's last change
    ]
    for keywords in bad:
        with pytest.raises(InvalidInput):
            pipeline.assign("L1", "ann", **keywords)
    with pytest.raises(TypeError):
        pipeline.assign("L1", "ann", "kim")  # type: ignore[misc] - by is keyword-only
    assert _snapshot(store) == before
    assert pipeline.assign("L1", "ann", reason="x" * MAX_AUDIT_REASON).version == 1


def test_accept_is_recorded_and_the_handoff_stays_found(store: Store) -> None:
    """accept_handoff writes funnelkit.accept; assign before it still finds the pending handoff."""
    clock = Clock()
    pipeline = _pipeline(store, clock)
    recorder = pipeline.register(Recorder())
    hid = _handed(pipeline)
    pipeline.assign("L1", "sdr-zoe", by="lead-desk")  # a record after the handoff's move
    assert pipeline.handoff(hid).assignee == "sdr-zoe"
    clock.advance(minutes=30)
    accepted = pipeline.accept_handoff(hid, by="sdr-ann", reason="mine now")
    assert (accepted.status, accepted.resolved_by) == ("accepted", "sdr-ann")
    record = pipeline.history("L1")[-1]
    assert (record.event, record.actor, record.at, record.version) == (
        "funnelkit.accept", "sdr-ann", clock.now(), 4)
    assert record.reason == ("accepted handoff 'L1:2' from 'marketing' to 'sdr'; owner 'sdr-zoe' "
                             "-> 'sdr-ann': mine now")
    assert (pipeline.get("L1").owner, pipeline.get("L1").version) == ("sdr-ann", 4)
    assert recorder.named("after_handoff_accepted") == [hid]
    # The next move hands the lead on and opens the next handoff: the accepted one is not reused.
    pipeline.fire("L1", "hand_to_closer")
    assert [h.id for h in pipeline.handoffs(status="pending")] == ["L1:5"]


def test_a_move_after_audit_records_still_closes_the_pending_handoff(store: Store) -> None:
    """Moving on after an assignment accepts the handoff the last move made (found via history)."""
    pipeline = _pipeline(store)
    hid = _handed(pipeline)
    pipeline.assign("L1", "sdr-zoe")
    other = _pipeline(store)  # another process: knows nothing of this lead
    other.fire("L1", "hand_to_closer", actor="sdr-zoe")
    assert pipeline.handoff(hid).status == "accepted"
    assert [h.id for h in pipeline.handoffs(status="pending")] == ["L1:4"]


def test_reject_records_the_rejection_then_the_move_back(store: Store) -> None:
    """reject_handoff writes funnelkit.reject (actor, time, reason), then the recycle move."""
    clock = Clock()
    pipeline = _pipeline(store, clock)
    hid = _handed(pipeline)
    clock.advance(minutes=5)
    pipeline.reject_handoff(hid, by="sdr-ann", reason="no budget")
    *_, rejection, back = pipeline.history("L1")
    assert (rejection.event, rejection.source, rejection.target, rejection.actor, rejection.reason,
            rejection.at, rejection.version) == (
        "funnelkit.reject", "sql", "sql", "sdr-ann", "no budget", clock.now(), 3)
    assert (back.event, back.target, back.reason, back.version) == ("nurture", "nurture", "no budget", 4)
    assert pipeline.get("L1").version == 4
    assert pipeline.handoff(hid).status == "rejected"


def test_a_refused_rejection_writes_nothing(store: Store) -> None:
    """A veto of the recycle move leaves neither the rejection record nor the move."""

    class No:
        def before_transition(self) -> None:
            raise Veto("not today")

    pipeline = _pipeline(store)
    hid = _handed(pipeline)
    before = _snapshot(store)
    pipeline.register(No())
    with pytest.raises(Veto):
        pipeline.reject_handoff(hid, by="sdr-ann", reason="no budget")
    assert _snapshot(store) == before


def test_sweep_records_the_expiry(store: Store) -> None:
    """An expired handoff is a funnelkit.expire record by the sweep; after_sla_breach gets level 0."""
    pipeline = _pipeline(store)
    recorder = pipeline.register(LevelRecorder())
    hid = _handed(pipeline)
    now = datetime(2026, 3, 10, 9, tzinfo=UTC)
    assert [h.id for h in pipeline.sweep(now).expired] == [hid]
    record = pipeline.history("L1")[-1]
    assert (record.event, record.actor, record.at, record.source, record.target) == (
        "funnelkit.expire", "funnelkit.sweep", now, "sql", "sql")
    assert record.reason == ("SLA breach of handoff 'L1:2': due 2026-03-09T10:00:00+00:00, still "
                             "pending; expired")
    assert recorder.breaches == [(hid, 0, "expired")]
    assert pipeline.sweep(now).expired == ()
    assert len(pipeline.history("L1")) == 3


class LevelRecorder:
    def __init__(self) -> None:
        self.breaches: list[tuple[str, int, str]] = []
        self.stalls: list[str] = []

    def after_sla_breach(self, handoff: Any, level: int) -> None:
        self.breaches.append((handoff.id, level, handoff.status))

    def after_stalled(self, lead: Any, key: str) -> None:
        self.stalls.append(lead.id)


def _stalling_funnel(*, stall_event: bool) -> Funnel:
    return (Funnel.builder("stall")
            .stage("lead", "marketing", stall_after="2 days",
                   stall_event="drop" if stall_event else None)
            .stage("lost", "marketing", outcome="lost")
            .move("drop", "lead", "lost")
            .build())


def test_a_stall_reported_without_a_move_is_recorded_once_per_stay(store: Store) -> None:
    """after_stalled with no stall move: one funnelkit.stall record, and no second report."""
    pipeline = Pipeline(_stalling_funnel(stall_event=False), store=store, clock=Clock())
    recorder = pipeline.register(LevelRecorder())
    pipeline.capture("L1")
    first = pipeline.sweep(FRIDAY_2PM + timedelta(days=3))
    assert first.stalled == ("L1",)
    assert recorder.stalls == ["L1"]
    (record,) = pipeline.history("L1")
    assert (record.event, record.actor, record.source, record.target) == (
        "funnelkit.stall", "funnelkit.sweep", "lead", "lead")
    assert record.reason == f"stalled in 'lead' since {FRIDAY_2PM.isoformat()}"
    again = pipeline.sweep(FRIDAY_2PM + timedelta(days=4))
    assert again.stalled == ()
    assert recorder.stalls == ["L1"]
    assert len(pipeline.history("L1")) == 1
    assert pipeline.verify_history().ok


def test_a_refused_stall_move_is_recorded_then_tried_again(store: Store) -> None:
    """A vetoed stall move: the stall is recorded (saying so) once; later sweeps retry the move."""

    class Gate:
        def __init__(self) -> None:
            self.closed = True

        def before_transition(self) -> None:
            if self.closed:
                raise Veto("closed")

    pipeline = Pipeline(_stalling_funnel(stall_event=True), store=store, clock=Clock())
    recorder = pipeline.register(LevelRecorder())
    gate = pipeline.register(Gate())
    pipeline.capture("L1")
    assert pipeline.sweep(FRIDAY_2PM + timedelta(days=3)).stalled == ("L1",)
    (record,) = pipeline.history("L1")
    assert record.event == "funnelkit.stall"
    assert record.reason is not None
    assert record.reason.endswith("; the stall move 'drop' was refused")
    assert pipeline.sweep(FRIDAY_2PM + timedelta(days=4)).moved == ()
    gate.closed = False
    report = pipeline.sweep(FRIDAY_2PM + timedelta(days=5))
    assert [o.transition.event for o in report.moved] == ["drop"]
    assert recorder.stalls == ["L1"]
    assert [t.event for t in pipeline.history("L1")] == ["funnelkit.stall", "drop"]


def test_the_version_guard_protects_audit_records(store: Store) -> None:
    """A change computed before an assignment cannot be written over it."""
    pipeline = _pipeline(store)
    pipeline.capture("L1")
    stale = store.load("L1")
    pipeline.assign("L1", "ann")
    moved = pipeline.funnel.fire(stale, "qualify", at=FRIDAY_2PM)
    with pytest.raises(ConcurrencyError):
        store.commit(Change(moved.lead, stale.version, (moved.transition,)))
    assert store.load("L1").owner == "ann"


def test_replay_accepts_audit_records_and_flags_forged_ones() -> None:
    """Funnel.replay takes audit records in its stride; one that moves or has no reason is flagged."""
    funnel = sales_funnel()
    at = FRIDAY_2PM
    good = [Transition("L1", "qualify", "lead", "mql", at, version=1),
            Transition("L1", "funnelkit.assign", "mql", "mql", at, reason="owner x", version=2)]
    replayed = funnel.replay(good)["L1"]
    assert (replayed.stage, replayed.version, replayed.problems) == ("mql", 2, ())
    moving = [good[0], Transition("L1", "funnelkit.accept", "mql", "sql", at, reason="x", version=2)]
    assert "not an audit record" in funnel.replay(moving)["L1"].problems[0]
    silent = [good[0], Transition("L1", "funnelkit.expire", "mql", "mql", at, version=2)]
    assert "needs a reason" in funnel.replay(silent)["L1"].problems[0]
    elsewhere = [Transition("L1", "funnelkit.stall", "nowhere", "nowhere", at, reason="x", version=1)]
    assert funnel.replay(elsewhere)["L1"].problems


# -- analytics read the same figures --------------------------------------------------------


def _busy_store() -> tuple[Pipeline, MemoryStore]:
    clock = Clock()
    store = MemoryStore()
    pipeline = _pipeline(store, clock)
    for n in range(12):
        lead_id = f"L{n}"
        pipeline.capture(lead_id)
        pipeline.assign(lead_id, "ann", by="desk")
        clock.advance(hours=1)
        pipeline.fire(lead_id, "qualify")
        if n % 2:
            pipeline.fire(lead_id, "hand_to_sales")
            clock.advance(minutes=20)
            if n % 3 == 0:
                pipeline.reject_handoff(f"{lead_id}:3", by="sdr", reason="too small")
            elif n % 5:
                pipeline.accept_handoff(f"{lead_id}:3", by="sdr")
                pipeline.fire(lead_id, "hand_to_closer")
                pipeline.assign(lead_id, "bob")
                if n % 7:
                    pipeline.fire(lead_id, "win")
    pipeline.sweep(clock.advance(days=3))
    return pipeline, store


def _stays(survival: dict[str, Any]) -> dict[str, Any]:
    """Survival curves by what they were estimated from (Survival compares by identity)."""
    return {stage: (s.stays, s.n, s.n_censored) for stage, s in survival.items()}


def test_audit_records_change_no_analytics_figure() -> None:
    """Every analysis gives the same result with and without the audit records in the log."""
    pipeline, store = _busy_store()
    transitions = [t for _, t in store.transitions()]
    assert any(t.event in AUDIT for t in transitions)
    moves = [t for t in transitions if t.event not in AUDIT]
    as_of = pipeline.clock.now()
    leads, handoffs = list(store.leads()), store.handoffs()
    full = FunnelLog(pipeline.funnel, leads=leads, transitions=transitions, handoffs=handoffs,
                     as_of=as_of)
    bare = FunnelLog(pipeline.funnel, leads=leads, transitions=moves, handoffs=handoffs,
                     as_of=as_of)
    assert full.conversion() == bare.conversion()
    assert full.conversion(mode="ordered") == bare.conversion(mode="ordered")
    assert _stays(full.time_in_stage()) == _stays(bare.time_in_stage())
    assert repr(full.time_to_outcome()) == repr(bare.time_to_outcome())
    assert repr(full.handoffs_report()) == repr(bare.handoffs_report())


def test_audit_records_change_no_sql_analytics_figure(tmp_path: Path) -> None:
    """The SQL engine, which reads the stored tables, agrees with the log without audit records."""
    sql = pytest.importorskip("funnelkit.analytics.sql")
    pipeline, memory = _busy_store()
    store = SQLiteStore(tmp_path / "busy.db")
    try:
        for lead in memory.leads():
            history = memory.history(lead.id)
            store.commit(Change(lead, None, tuple(history), handoffs=memory.handoffs(lead_id=lead.id)))
        as_of = pipeline.clock.now()
        moves = [t for _, t in memory.transitions() if t.event not in AUDIT]
        bare = FunnelLog(pipeline.funnel, leads=list(memory.leads()), transitions=moves,
                         handoffs=memory.handoffs(), as_of=as_of)
        log = sql.SqlLog.from_store(pipeline.funnel, store, as_of=as_of)
        assert log.conversion() == bare.conversion()
        assert _stays(log.time_in_stage()) == _stays(bare.time_in_stage())
    finally:
        store.close()


# -- a property: the history is the one account -----------------------------------------------

ACTIONS = st.lists(st.sampled_from(["assign", "accept", "reject", "qualify", "hand", "sweep",
                                    "closer"]), max_size=12)


@settings(max_examples=40, deadline=None)
@given(actions=ACTIONS)
def test_any_sequence_keeps_versions_equal_to_history_and_replay_clean(actions: list[str]) -> None:
    """Whatever is done, version == len(history), versions run 1..n, times never go back."""
    clock = Clock()
    pipeline = _pipeline(MemoryStore(), clock)
    pipeline.capture("L1")
    for action in actions:
        clock.advance(minutes=50)
        pending = pipeline.handoffs(status="pending", lead_id="L1")
        try:
            if action == "assign":
                pipeline.assign("L1", "ann", by="desk")
            elif action == "accept" and pending:
                pipeline.accept_handoff(pending[0].id, by="sdr")
            elif action == "reject" and pending:
                pipeline.reject_handoff(pending[0].id, by="sdr", reason="no")
            elif action == "sweep":
                pipeline.sweep(clock.advance(hours=30))
            elif action in ("qualify", "hand", "closer"):
                event = {"qualify": "qualify", "hand": "hand_to_sales", "closer": "hand_to_closer"}
                pipeline.fire("L1", event[action])
        except funnelkit.FunnelError:
            pass
        history = pipeline.history("L1")
        assert pipeline.get("L1").version == len(history)
        assert [t.version for t in history] == list(range(1, len(history) + 1))
        assert [t.at for t in history] == sorted(t.at for t in history)
        assert pipeline.verify_history().ok


# -- real servers: the records round-trip through every SQL store ---------------------------


def _server_store(server: Server) -> SQLAlchemyStore:
    return SQLAlchemyStore(server.engine, prefix=server.prefix(), schema=server.schema)


@pytest.mark.parametrize("kind", [
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("mariadb", marks=pytest.mark.mariadb),
    "sqlite-file",
])
def test_audit_records_round_trip_through_sql_stores(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """assign, accept, reject and sweep records read back from a reopened store, in the stream."""
    if kind == "sqlite-file":
        store: Store = SQLAlchemyStore(f"sqlite:///{tmp_path / 'audit.db'}")
    else:
        store = _server_store(request.getfixturevalue(kind))
    try:
        clock = Clock()
        pipeline = _pipeline(store, clock)
        breaches = pipeline.register(LevelRecorder())
        _handed(pipeline, "A")
        pipeline.assign("A", "sdr-zoe", by="desk", reason="on leave: ünïcode ✓")
        pipeline.accept_handoff("A:2", by="sdr-zoe")
        _handed(pipeline, "B")
        pipeline.reject_handoff("B:2", by="sdr-zoe", reason="no budget")
        _handed(pipeline, "C")
        pipeline.sweep(datetime(2026, 3, 10, 9, tzinfo=UTC))
        assert breaches.breaches == [("C:2", 0, "expired")]  # decoded from the outbox row
        assert isinstance(store, SQLAlchemyStore)
        reopened = SQLAlchemyStore(store.engine, prefix=store.prefix, schema=store.schema,
                                   create=False)
        try:
            events = {lead_id: [t.event for t in reopened.history(lead_id)] for lead_id in "ABC"}
            assert events == {
                "A": ["qualify", "hand_to_sales", "funnelkit.assign", "funnelkit.accept"],
                "B": ["qualify", "hand_to_sales", "funnelkit.reject", "nurture"],
                "C": ["qualify", "hand_to_sales", "funnelkit.expire"],
            }
            assert reopened.history("A")[2].reason == "owner nobody -> 'sdr-zoe': on leave: ünïcode ✓"
            streamed = [t for _, t in reopened.transitions()]
            assert sorted(streamed, key=lambda t: (t.lead_id, t.version)) == [
                t for lead_id in "ABC" for t in reopened.history(lead_id)]
            assert [lead.version for lead in reopened.leads()] == [4, 4, 3]
            assert pipeline.verify_history(reopened).ok
        finally:
            reopened.close()
    finally:
        if isinstance(store, SQLAlchemyStore) and kind != "sqlite-file":
            store.drop_tables()
        store.close()
