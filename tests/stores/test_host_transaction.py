"""``Pipeline.using``: the lead's change and its outbox rows live and die with the host's transaction.

On the real PostgreSQL server (a ``Connection`` and a ``Session`` each) and on a SQLite file
through SQLAlchemy: host rows and funnel changes commit together and roll back together, a host
killed with SIGKILL before its commit leaves neither, after-hooks run only after the commit and
never for a rollback, a conflict is the host's to retry, and every bad host is refused with the
documented error, nothing written.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from funnelkit import (
    AlreadyExists,
    ConcurrencyError,
    HostTransactionError,
    InvalidInput,
    NotFound,
    Pipeline,
    templates,
)
from funnelkit.stores import MemoryStore, SQLAlchemyStore, SQLiteStore

sa = pytest.importorskip("sqlalchemy")
orm = pytest.importorskip("sqlalchemy.orm")

if TYPE_CHECKING:
    from collections.abc import Iterator

HERE = Path(__file__).resolve().parent
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


class Moves:
    """An after_transition hook that remembers what it was told, and whether it ran."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def after_transition(self, transition: Any) -> None:
        self.seen.append((transition.lead_id, transition.event))


@dataclass
class Host:
    """A host application: its engine, its own table, and a pipeline on the same database."""

    engine: Any
    companies: str  # the host's table, schema-qualified where there is a schema
    pipeline: Pipeline
    moves: Moves
    schema: str | None
    prefix: str

    def companies_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.exec_driver_sql(f"SELECT count(*) FROM {self.companies}").scalar())

    def insert_company(self, conn: Any, slug: str) -> None:
        conn.execute(sa.text(f"INSERT INTO {self.companies} (slug) VALUES (:slug)"), {"slug": slug})

    def leads(self) -> list[str]:
        return [lead.id for lead in self.pipeline.store.leads()]

    def outbox_keys(self) -> list[str]:
        return [row.key for row in self.pipeline.store.outbox(undelivered_only=False)]


def _host(engine: Any, schema: str | None, prefix: str) -> Host:
    store = SQLAlchemyStore(engine, prefix=prefix, schema=schema)
    companies = f"{schema}.{prefix}companies" if schema else f"{prefix}companies"
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {companies} (slug VARCHAR(200) PRIMARY KEY)")
    pipeline = Pipeline(templates.inbound(), store=store)
    moves = pipeline.register(Moves())
    return Host(engine, companies, pipeline, moves, schema, prefix)


def _drop(host: Host) -> None:
    host.pipeline.store.drop_tables()  # type: ignore[attr-defined]
    with host.engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE {host.companies}")


@pytest.fixture(params=["postgres", "sqlite"])
def host(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Host]:
    """A host on PostgreSQL (its schema for this run) or on a SQLite file through SQLAlchemy."""
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
        server = request.getfixturevalue("postgres")
        made = _host(server.engine, server.schema, server.prefix())
        yield made
        _drop(made)
    else:
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'app.db'}")
        yield _host(engine, None, "funnelkit_")
        engine.dispose()


@pytest.fixture
def pg_host(postgres: Any) -> Iterator[Host]:
    """A host on PostgreSQL only (failed transactions and crashes are a server's business)."""
    made = _host(postgres.engine, postgres.schema, postgres.prefix())
    yield made
    _drop(made)


# -- together ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["connection", "session"])
def test_host_rows_and_the_lead_roll_back_together(host: Host, kind: str) -> None:
    """A transaction the host rolls back takes the lead, its moves and its outbox rows with it."""
    def view_fails() -> None:
        if kind == "connection":
            with host.engine.begin() as conn:
                host.insert_company(conn, "acme")
                view = host.pipeline.using(conn)
                view.capture("acme", at=T0)
                view.fire("acme", "convert", at=T0)
                raise RuntimeError("the view fails after both writes")
        with orm.Session(host.engine) as session, session.begin():
            host.insert_company(session, "acme")
            view = host.pipeline.using(session)
            view.capture("acme", at=T0)
            view.fire("acme", "convert", at=T0)
            raise RuntimeError("the view fails after both writes")

    with pytest.raises(RuntimeError, match="the view fails"):
        view_fails()
    assert host.companies_count() == 0
    assert host.leads() == []
    assert host.outbox_keys() == []
    assert list(host.pipeline.store.transitions()) == []
    assert host.moves.seen == []
    assert host.pipeline.deliver_pending().delivered == 0


def test_host_rows_and_the_lead_commit_together(host: Host) -> None:
    """Committed, both are there; inside the transaction another connection sees neither."""
    with host.engine.connect() as conn:
        host.insert_company(conn, "acme")
        view = host.pipeline.using(conn)
        view.capture("acme", at=T0)
        assert view.fire("acme", "convert", at=T0).lead.stage == "lead"
        assert view.get("acme").stage == "lead"  # the view reads the host's own writes
        if host.schema is not None:  # PostgreSQL: no dirty reads from outside
            with pytest.raises(NotFound):
                host.pipeline.get("acme")
        conn.commit()
    assert host.companies_count() == 1
    assert host.pipeline.get("acme").stage == "lead"
    assert [t.event for t in host.pipeline.history("acme")] == ["convert"]


def test_a_connection_delivers_after_its_commit_with_deliver_pending(host: Host) -> None:
    """With a Connection, nothing is delivered inside; deliver_pending after the commit delivers."""
    with host.engine.begin() as conn:
        view = host.pipeline.using(conn)
        view.capture("acme", at=T0)
        view.fire("acme", "convert", at=T0)
        assert view.deliver_pending().delivered == 0  # never inside the host's transaction
        assert host.moves.seen == []
    assert host.moves.seen == []  # a Connection has no after-commit event
    assert host.pipeline.deliver_pending().delivered == 1
    assert host.moves.seen == [("acme", "convert")]


def test_a_session_delivers_once_it_commits(host: Host) -> None:
    """With a Session, the pipeline delivers in its after_commit, not at a savepoint's release."""
    with orm.Session(host.engine) as session:
        view = host.pipeline.using(session)
        view.capture("acme", at=T0)
        view.fire("acme", "convert", at=T0)
        with session.begin_nested():  # a savepoint of the host's, released: no commit yet
            host.insert_company(session, "acme")
        assert host.moves.seen == []
        session.commit()
        assert host.moves.seen == [("acme", "convert")]
        assert host.pipeline.store.outbox() == []
        # The next transaction of the same session starts with nothing waiting.
        host.pipeline.using(session).fire("acme", "qualify", at=T0)
        session.rollback()
        session.commit()
    assert host.moves.seen == [("acme", "convert")]
    assert host.pipeline.get("acme").stage == "lead"


def test_a_rollback_after_fire_returned_delivers_nothing(host: Host) -> None:
    """Rolled back after fire returned: no hook, no row; the view works in the next transaction."""
    with orm.Session(host.engine) as session:
        view = host.pipeline.using(session)
        view.capture("acme", at=T0)
        outcome = view.fire("acme", "convert", at=T0)
        assert outcome.lead.stage == "lead"  # describes a change that the rollback undoes
        session.rollback()
        assert host.moves.seen == []
        with pytest.raises(NotFound):
            view.get("acme")
        view.capture("acme", at=T0)  # the session's next transaction
        session.commit()
    assert host.pipeline.deliver_pending().delivered == 0
    assert host.moves.seen == []
    assert host.pipeline.get("acme").version == 0


def test_a_failed_delivery_after_commit_is_logged_not_raised(
    host: Host, caplog: pytest.LogCaptureFixture,
) -> None:
    """The host's commit happened: a delivery that cannot run is logged; the row waits."""
    def broken() -> None:
        raise RuntimeError("the delivery's database is down")

    with orm.Session(host.engine) as session:
        joined = host.pipeline.store.join(session, deliver_on_commit=broken)  # type: ignore[attr-defined]
        assert joined.claim_outbox(worker="w", now=T0, lease=host.pipeline._lease) == []
        session.commit()  # does not raise
    assert "delivering after-hooks once the host's transaction committed failed" in caplog.text


# -- the view ------------------------------------------------------------------------------------

def test_the_view_shares_the_pipeline_and_never_retries(host: Host) -> None:
    """Hooks, clock and funnel come from the pipeline, read when used; the view does not retry."""
    with host.engine.begin() as conn:
        view = host.pipeline.using(conn)
        assert view.funnel is host.pipeline.funnel
        assert view.clock is host.pipeline.clock
        assert view._retries == 0
        assert host.pipeline._retries == 3
        later = view.register(Moves())  # registers on the pipeline itself
        view.capture("acme", at=T0)
        view.fire("acme", "convert", at=T0)
        assert "using(...)" in repr(view)
        assert "joined" in repr(view.store)
        assert view.using(conn).store is not view.store
    host.pipeline.deliver_pending()
    assert later.seen == [("acme", "convert")]


@pytest.mark.postgres
def test_a_conflict_is_raised_at_once_and_the_host_retries(pg_host: Host) -> None:
    """Someone moves the lead in the middle of the host's move: ConcurrencyError, no retry.

    The savepoint rolled back, the host's transaction is still usable: the documented retry loop
    (roll back, run it all again) then succeeds.  (On SQLite the host's write lock keeps the
    other writer out until it commits, so only PostgreSQL can show this.)
    """
    pg_host.pipeline.capture("acme", at=T0)
    calls: list[str] = []

    class Interloper:
        def before_transition(self, lead: Any, transition: Any) -> None:
            calls.append(transition.event)
            if len(calls) == 1:  # another process moves the lead first, and commits
                pg_host.pipeline.store.commit(_moved(pg_host.pipeline, "acme", "convert"))

    interloper = pg_host.pipeline.register(Interloper())
    attempts = 0
    errors: list[str] = []

    def qualify(attempts_left: int = 3) -> None:
        nonlocal attempts
        for attempt in range(attempts_left):
            attempts += 1
            try:
                with pg_host.engine.begin() as conn:
                    pg_host.insert_company(conn, f"acme-{attempt}")
                    view = pg_host.pipeline.using(conn)
                    if view.get("acme").stage == "subscriber":
                        view.fire("acme", "convert", at=T0)
                    return
            except ConcurrencyError as error:
                errors.append(str(error))
                if attempt == attempts_left - 1:
                    raise

    qualify()
    pg_host.pipeline.unregister(interloper)
    # One move tried in the first attempt, not retried inside it; the second attempt reads the
    # interloper's move and has nothing left to do.
    assert attempts == 2
    assert calls == ["convert"]
    assert len(errors) == 1
    assert "roll it back and run the whole unit of work again" in errors[0]
    assert pg_host.companies_count() == 1  # the first attempt's row rolled back with it
    assert [t.version for t in pg_host.pipeline.history("acme")] == [1]


@pytest.mark.postgres
def test_a_conflict_leaves_the_host_transaction_usable(pg_host: Host) -> None:
    """After a ConcurrencyError the host may still commit its own rows (the savepoint rolled back)."""
    pg_host.pipeline.capture("acme", at=T0)
    with pg_host.engine.begin() as conn:
        pg_host.insert_company(conn, "acme")
        stale = pg_host.pipeline.using(conn)
        loaded = stale.get("acme")
        pg_host.pipeline.store.commit(_moved(pg_host.pipeline, "acme", "convert"))  # someone else
        change = _moved(pg_host.pipeline, "acme", "convert", lead=loaded)
        with pytest.raises(ConcurrencyError):
            stale.store.commit(change)
    assert pg_host.companies_count() == 1
    assert pg_host.pipeline.get("acme").version == 1


def _moved(pipeline: Pipeline, lead_id: str, event: str, *, lead: Any = None) -> Any:
    from funnelkit.stores import Change  # noqa: PLC0415

    lead = pipeline.get(lead_id) if lead is None else lead
    moved = pipeline.funnel.fire(lead, event, at=T0)
    return Change(moved.lead, lead.version, transitions=[moved.transition],
                  expected_owner=lead.owner)


# -- a crash ------------------------------------------------------------------------------------

@pytest.mark.postgres
@pytest.mark.parametrize("commit", [False, True], ids=["killed-before-commit", "committed"])
def test_a_host_killed_before_its_commit_leaves_neither(
    pg_host: Host, postgres: Any, commit: bool,
) -> None:
    """kill -9 between the host's insert + fire and its commit: no host row, no lead, no outbox.

    The control case commits first, then is killed: both are there.
    """
    config = {"url": postgres.url, "prefix": pg_host.prefix, "schema": pg_host.schema,
              "companies": pg_host.companies, "lead": "crash-1", "commit": commit}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, str(HERE / "_host_writer.py"), json.dumps(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
        if commit:
            assert proc.stdout.readline().strip() == "committed"
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    # The server ends the dead connection's transaction; reads do not wait for its locks.
    expected = 1 if commit else 0
    assert pg_host.companies_count() == expected
    assert pg_host.leads() == (["crash-1"] if commit else [])
    assert len(pg_host.outbox_keys()) == expected
    if not commit:  # the id is free: the dead transaction held nothing
        pg_host.pipeline.capture("crash-1", at=T0)


# -- bad hosts -----------------------------------------------------------------------------------

@pytest.mark.postgres
def test_a_failed_postgres_transaction_is_refused(pg_host: Host) -> None:
    """An error the host caught leaves PostgreSQL's transaction failed: HostTransactionError."""
    with pg_host.engine.connect() as conn:
        view = pg_host.pipeline.using(conn)
        with pytest.raises(sa.exc.ProgrammingError):
            conn.exec_driver_sql("SELECT * FROM no_such_table")
        with pytest.raises(HostTransactionError, match="roll it back"):
            view.capture("acme", at=T0)
        with pytest.raises(HostTransactionError):
            view.get("acme")
        conn.rollback()
        view.capture("acme", at=T0)  # a new transaction: fine
        conn.commit()
    assert pg_host.leads() == ["acme"]


def test_a_session_that_must_roll_back_is_refused(host: Host) -> None:
    """A Session whose flush failed refuses using() and the views made before; nothing written."""
    class Base(orm.DeclarativeBase):
        pass

    class Company(Base):
        __tablename__ = host.companies.rpartition(".")[2]
        __table_args__ = {"schema": host.schema} if host.schema else {}  # noqa: RUF012
        slug: orm.Mapped[str] = orm.mapped_column(sa.String(200), primary_key=True)

    with host.engine.begin() as conn:
        host.insert_company(conn, "acme")
    with orm.Session(host.engine) as session:
        view = host.pipeline.using(session)
        session.add(Company(slug="acme"))  # taken: the flush fails
        with pytest.raises(sa.exc.IntegrityError):
            session.flush()
        with pytest.raises(HostTransactionError, match="can only roll back"):
            host.pipeline.using(session)
        with pytest.raises(HostTransactionError):
            view.capture("other", at=T0)
        session.rollback()
        view.capture("other", at=T0)
        session.commit()
    assert host.leads() == ["other"]


def test_another_database_is_refused(host: Host, tmp_path: Path) -> None:
    """A connection to another database than the store's: InvalidInput, nothing written."""
    if host.schema is not None:  # the same server, another database
        other = sa.create_engine(host.engine.url.set(database="postgres"))
    else:
        other = sa.create_engine(f"sqlite:///{tmp_path / 'other.db'}")
    with other.connect() as conn:
        with pytest.raises(InvalidInput, match="another database"):
            host.pipeline.using(conn)
        with pytest.raises(InvalidInput, match="another database"):
            host.pipeline.using(orm.Session(other))
    other.dispose()
    # The same database through another engine is fine.
    same = sa.create_engine(host.engine.url)
    with same.begin() as conn:
        host.pipeline.using(conn).capture("acme", at=T0)
    same.dispose()
    assert host.leads() == ["acme"]


def test_bad_hosts_are_refused(host: Host) -> None:
    """Not a Connection or Session, a closed connection, an unbound session: refused."""
    for bad in (None, "postgresql://", host.engine, 42):
        with pytest.raises(InvalidInput, match="not a SQLAlchemy Connection or Session"):
            host.pipeline.using(bad)
    with pytest.raises(InvalidInput, match="bound to no engine"):
        host.pipeline.using(orm.Session())
    conn = host.engine.connect()
    view = host.pipeline.using(conn)
    conn.close()
    with pytest.raises(HostTransactionError, match="closed"):
        host.pipeline.using(conn)
    with pytest.raises(HostTransactionError, match="closed"):
        view.capture("acme", at=T0)
    with pytest.raises(InvalidInput, match="deliver_on_commit"):
        host.pipeline.store.join(host.engine.connect(), deliver_on_commit=42)  # type: ignore[attr-defined]
    assert host.leads() == []


def test_stores_that_cannot_join_say_what_to_use(tmp_path: Path) -> None:
    """MemoryStore has no transaction to join; SQLiteStore joins a sqlite3.Connection only."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    sqlite = SQLiteStore(tmp_path / "funnel.db")
    with engine.connect() as conn:
        with pytest.raises(InvalidInput, match="cannot join a transaction of yours.*SQLAlchemy"):
            Pipeline(templates.inbound(), store=MemoryStore()).using(conn)
        with pytest.raises(InvalidInput, match="not a sqlite3.Connection.*SQLAlchemyStore"):
            Pipeline(templates.inbound(), store=sqlite).using(conn)
    sqlite.close()
    engine.dispose()


def test_a_closed_store_refuses_its_views(host: Host) -> None:
    """Closing the store closes the views made from it."""
    with host.engine.connect() as conn:
        view = host.pipeline.using(conn)
        host.pipeline.store.close()
        with pytest.raises(Exception, match="is closed"):
            view.capture("acme", at=T0)
        with pytest.raises(Exception, match="is closed"):
            host.pipeline.using(conn)
    # reopen for the fixture's teardown
    host.pipeline.store = SQLAlchemyStore(host.engine, prefix=host.prefix, schema=host.schema)


# -- PostgreSQL: no savepoint where the database needs none ---------------------------------------

@contextlib.contextmanager
def _statements(engine: Any) -> Iterator[list[str]]:
    """Every statement *engine* sends inside the block (a before_cursor_execute listener)."""
    sent: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


@pytest.mark.postgres
def test_postgres_refusals_leave_the_host_transaction_usable_without_a_savepoint(
    pg_host: Host,
) -> None:
    """A conflict, a lead that exists, an outbox key taken: refused, no SAVEPOINT, tx goes on.

    PostgreSQL aborts a transaction at a failed statement, so these are found without one (the
    guarded UPDATE's row count, INSERT ... ON CONFLICT DO NOTHING, the keys read first): the
    host's own row still commits, and none of the refused units wrote anything.
    """
    from funnelkit.stores import Change, OutboxMessage  # noqa: PLC0415

    pipeline = pg_host.pipeline
    pipeline.capture("acme", at=T0)
    stale = pipeline.get("acme")
    pipeline.store.commit(_moved(pipeline, "acme", "convert"))  # someone else moves it
    taken = OutboxMessage("taken-key", "after_transition", {"lead_id": "acme"}, T0)
    pipeline.store.commit(Change(pipeline.funnel.new_lead("other", at=T0), None, outbox=[taken]))
    with _statements(pg_host.engine) as sent, pg_host.engine.begin() as conn:
        pg_host.insert_company(conn, "acme")
        view = pipeline.using(conn)
        with pytest.raises(ConcurrencyError, match="roll it back"):
            view.store.commit(_moved(pipeline, "acme", "convert", lead=stale))
        with pytest.raises(AlreadyExists, match="exists already"):
            view.capture("acme", at=T0)
        fresh = view.get("acme")
        moved = pipeline.funnel.fire(fresh, "qualify", at=T0)
        with pytest.raises(AlreadyExists, match="used already"):
            view.store.commit(Change(moved.lead, fresh.version, transitions=[moved.transition],
                                     expected_owner=fresh.owner, outbox=[taken]))
        view.fire("acme", "qualify", at=T0)  # and the transaction still works
    assert not [s for s in sent if "SAVEPOINT" in s.upper()]
    assert pg_host.companies_count() == 1
    assert [t.event for t in pipeline.history("acme")] == ["convert", "qualify"]


@pytest.mark.postgres
def test_postgres_failed_statement_without_a_savepoint_says_roll_back(pg_host: Host) -> None:
    """A statement that fails inside a savepoint-less write: HostTransactionError, nothing kept."""
    from funnelkit.stores import Change  # noqa: PLC0415

    pipeline = pg_host.pipeline
    pipeline.capture("acme", at=T0)
    lead = pipeline.get("acme")
    moved = pipeline.funnel.fire(lead, "convert", at=T0)
    with pg_host.engine.connect() as conn:
        pg_host.insert_company(conn, "acme")
        conn.exec_driver_sql(  # a transition the host wrote by hand where the move's goes
            f"INSERT INTO {pg_host.schema}.{pg_host.prefix}transitions (lead_id, version, event, "
            f"source, target, at, at_us) VALUES ('acme', 1, 'x', 'a', 'b', 't', 0)")
        with pytest.raises(HostTransactionError, match="roll it back"):
            pipeline.using(conn).store.commit(Change(
                moved.lead, lead.version, transitions=[moved.transition],
                expected_owner=lead.owner))
        with pytest.raises(HostTransactionError):
            pipeline.using(conn).get("acme")
        conn.rollback()
    assert pg_host.companies_count() == 0
    assert pipeline.get("acme").version == 0
