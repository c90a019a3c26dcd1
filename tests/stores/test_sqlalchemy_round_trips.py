"""SQLAlchemyStore costs the round trips a move needs: one read and one guarded write on PostgreSQL.

Also its ``commit_claimed``, which the pipeline uses to deliver its own after-hooks from memory.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from funnelkit import ConcurrencyError, Lead, Pipeline, StorageError, Transition, templates
from funnelkit.stores import Change, SQLAlchemyStore

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

sa = pytest.importorskip("sqlalchemy")

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


@pytest.fixture
def pg_store(postgres: Any) -> Iterator[Any]:
    """A store on an engine of its own with one pooled connection, so the test can watch it."""
    engine = sa.create_engine(postgres.url, pool_size=1, max_overflow=0)
    store = SQLAlchemyStore(engine, prefix=postgres.prefix(), schema=postgres.schema)
    try:
        yield store
    finally:
        store.drop_tables()
        store.close()
        engine.dispose()


def _traced(store: Any, work: Any) -> list[str]:
    """The protocol messages the client sends while *work* runs (libpq's trace, psycopg 3)."""
    psycopg = pytest.importorskip("psycopg")
    with store.engine.connect() as conn:  # the pool's only connection
        pgconn = conn.connection.driver_connection.pgconn
    with tempfile.TemporaryFile("w+") as trace:
        try:
            pgconn.trace(trace.fileno())
        except psycopg.NotSupportedError:  # pragma: no cover - a libpq without tracing
            pytest.skip("this libpq cannot trace")
        pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            work()
        finally:
            pgconn.untrace()
        trace.seek(0)
        return [line.split("\t")[2].strip() for line in trace if line.startswith("F\t")]


def _round_trips(sent: list[str]) -> int:
    """Each ``Sync`` (extended protocol) or simple ``Query`` waits for the server once."""
    return sum(message in ("Sync", "Query") for message in sent)


@pytest.mark.postgres
def test_a_move_is_one_read_and_one_write_on_postgres(pg_store: Any) -> None:
    """Pipeline.fire of a stored lead sends two statements, no BEGIN, COMMIT nor ROLLBACK."""
    pipeline = Pipeline(templates.inbound(), store=pg_store)
    pipeline.capture("L1", at=T0)
    sent = _traced(pg_store, lambda: pipeline.fire("L1", "convert", at=T0 + timedelta(1)))
    assert _round_trips(sent) == 2, sent
    assert "Query" not in sent  # psycopg sends BEGIN, COMMIT and ROLLBACK as simple queries
    assert pg_store.load("L1").stage == "lead"
    assert [t.event for t in pg_store.history("L1")] == ["convert"]


@pytest.mark.postgres
def test_a_stale_move_writes_nothing_and_says_why(pg_store: Any) -> None:
    """The one-statement move refused by its guard writes nothing; the error is commit's."""
    funnel = templates.inbound()
    lead = funnel.new_lead("L1", at=T0)
    pg_store.commit(Change(lead, None))
    first = funnel.fire(lead, "convert", at=T0 + timedelta(1))
    pg_store.commit(Change(first.lead, 0, [first.transition], expected_owner=lead.owner))
    again = funnel.fire(lead, "convert", at=T0 + timedelta(2))
    with pytest.raises(ConcurrencyError, match="version"):
        pg_store.commit(Change(again.lead, 0, [again.transition], expected_owner=lead.owner))
    assert pg_store.load("L1") == first.lead
    assert pg_store.history("L1") == [first.transition]


@pytest.mark.postgres
def test_pooled_connections_go_back_out_of_autocommit(pg_store: Any) -> None:
    """After a read or a move in autocommit, the pool's connection is as the engine set it."""
    pipeline = Pipeline(templates.inbound(), store=pg_store)
    pipeline.capture("L1", at=T0)
    pipeline.fire("L1", "convert", at=T0 + timedelta(1))
    with pg_store.engine.connect() as conn:
        assert conn.connection.driver_connection.autocommit is False
        conn.exec_driver_sql("SELECT 1")
        assert conn.connection.driver_connection.info.transaction_status != 0  # in a transaction
        conn.rollback()


@pytest.mark.postgres
def test_engine_listeners_see_every_statement(pg_store: Any) -> None:
    """With a cursor listener on the engine, the read and the move go through SQLAlchemy."""
    pipeline = Pipeline(templates.inbound(), store=pg_store)
    pipeline.capture("L1", at=T0)
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement.split(maxsplit=1)[0])

    sa.event.listen(pg_store.engine, "before_cursor_execute", record)
    try:
        pipeline.fire("L1", "convert", at=T0 + timedelta(1))
    finally:
        sa.event.remove(pg_store.engine, "before_cursor_execute", record)
    assert seen == ["SELECT", "WITH"]
    assert [t.event for t in pg_store.history("L1")] == ["convert"]


@pytest.mark.postgres
def test_a_lost_connection_leaves_the_pool(pg_store: Any, postgres: Any) -> None:
    """A read whose connection the server closed is a StorageError; the next one reconnects."""
    pg_store.commit(Change(templates.inbound().new_lead("L1", at=T0), None))
    with pg_store.engine.connect() as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        conn.rollback()
    with postgres.engine.begin() as admin:
        admin.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
    with pytest.raises(StorageError, match="lost"):
        pg_store.load("L1")
    assert pg_store.load("L1").id == "L1"


class Crm:
    """An after_transition hook that records what it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Lead, Transition]] = []

    def after_transition(self, lead: Lead, transition: Transition, key: str) -> None:
        self.calls.append((key, lead, transition))


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """SQLAlchemyStore on a SQLite file, PostgreSQL and MariaDB."""
    if request.param == "sqlite":
        store = SQLAlchemyStore(f"sqlite:///{tmp_path / 'f.db'}")
    else:
        server = request.getfixturevalue(request.param)
        store = SQLAlchemyStore(server.engine, prefix=server.prefix(), schema=server.schema)
    try:
        yield store
    finally:
        store.drop_tables()
        store.close()


def test_hooked_moves_are_delivered_without_a_claim(
    any_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pipeline commits its rows claimed (commit_claimed) and delivers them from memory."""
    pipeline = Pipeline(templates.inbound(), store=any_store)
    crm = pipeline.register(Crm())
    pipeline.capture("L1", at=T0)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the pipeline claimed rows it committed itself")

    monkeypatch.setattr(any_store, "claim_outbox", refuse)
    first = pipeline.fire("L1", "convert", at=T0 + timedelta(1))
    second = pipeline.fire("L1", "qualify", at=T0 + timedelta(2))
    assert [(k, t) for k, _, t in crm.calls] == [
        ("after_transition:L1:1", first.transition), ("after_transition:L1:2", second.transition)]
    assert any_store.outbox() == []  # both delivered and acknowledged
    delivered = any_store.outbox(undelivered_only=False)
    assert [(r.attempts, r.delivered_at is not None) for r in delivered] == [(1, True)] * 2


def test_commit_claimed_answers_ids_in_the_changes_order(any_store: Any) -> None:
    """Several rows of one change come back with their ids in the change's order, claimed."""
    from funnelkit.stores import OutboxMessage  # noqa: PLC0415

    lead = templates.inbound().new_lead("L1", at=T0)
    keys = ["c", "a", "b"]
    until = T0 + timedelta(minutes=5)
    ids = any_store.commit_claimed(
        Change(lead, None, outbox=[OutboxMessage(k, "after_capture", {"n": k}, T0) for k in keys]),
        worker="w1", until=until)
    rows = {r.id: r for r in any_store.outbox()}
    assert [rows[i].key for i in ids] == keys
    assert {(r.claimed_by, r.claimed_until, r.attempts) for r in rows.values()} == {
        ("w1", until, 1)}


@pytest.mark.postgres
def test_an_unreachable_server_is_a_storage_error(
    pg_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the pool cannot connect, the read and the move raise StorageError, not the driver's."""
    psycopg = pytest.importorskip("psycopg")
    funnel = templates.inbound()
    lead = funnel.new_lead("L1", at=T0)
    pg_store.commit(Change(lead, None))
    moved = funnel.fire(lead, "convert", at=T0 + timedelta(1))

    def refuse() -> Any:
        raise psycopg.OperationalError("connection refused")

    monkeypatch.setattr(pg_store.engine, "raw_connection", refuse)
    with pytest.raises(StorageError, match="connection refused"):
        pg_store.load("L1")
    with pytest.raises(StorageError, match="connection refused"):
        pg_store.commit(Change(moved.lead, 0, [moved.transition], expected_owner=lead.owner))
    monkeypatch.undo()
    assert pg_store.load("L1") == lead
