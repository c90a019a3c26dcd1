"""``SQLiteStore.join`` / ``pipeline.using(sqlite3_connection)``: the host's own SQLite transaction.

On real SQLite files: host rows and funnel changes commit together and roll back together, a
host killed with SIGKILL before its commit leaves neither, a conflict raises ConcurrencyError and
leaves the host's transaction usable (only the savepoint rolled back), after-hooks are delivered
after the commit and never for a rollback, and every bad host is refused with the documented
error, nothing written.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
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
    StorageError,
    templates,
)
from funnelkit.stores import Change, SQLiteStore

if TYPE_CHECKING:
    from collections.abc import Iterator

HERE = Path(__file__).resolve().parent
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


class Moves:
    """An after_transition hook that remembers what it was told."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def after_transition(self, transition: Any) -> None:
        self.seen.append((transition.lead_id, transition.event))


class App:
    """A host application on one SQLite file: its table, its connection, a pipeline."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.store = SQLiteStore(path)
        self.pipeline = Pipeline(templates.inbound(), store=self.store)
        self.moves = self.pipeline.register(Moves())
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE IF NOT EXISTS companies (slug TEXT PRIMARY KEY)")
        db.close()

    def connect(self, **options: Any) -> sqlite3.Connection:
        return sqlite3.connect(self.path, **options)

    def companies(self) -> list[str]:
        db = sqlite3.connect(self.path)
        try:
            return [slug for (slug,) in db.execute("SELECT slug FROM companies ORDER BY slug")]
        finally:
            db.close()

    def leads(self) -> list[str]:
        return [lead.id for lead in self.store.leads()]


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    made = App(tmp_path / "app.db")
    yield made
    made.store.close()


def _moved(pipeline: Pipeline, lead: Any, event: str) -> Change:
    moved = pipeline.funnel.fire(lead, event, at=T0)
    return Change(moved.lead, lead.version, transitions=[moved.transition],
                  expected_owner=lead.owner)


# -- together ------------------------------------------------------------------------------------

@pytest.mark.parametrize("isolation", ["", None], ids=["implicit", "explicit-begin"])
def test_host_rows_and_the_lead_roll_back_together(app: App, isolation: str | None) -> None:
    """A transaction the host rolls back takes the lead, its moves and its outbox rows with it."""
    db = app.connect(isolation_level=isolation)
    if isolation is None:
        db.execute("BEGIN")
    db.execute("INSERT INTO companies VALUES ('acme')")
    view = app.pipeline.using(db)
    view.capture("acme", at=T0)
    view.fire("acme", "convert", at=T0)
    assert view.get("acme").stage == "lead"  # the view reads the host's own writes
    db.rollback() if isolation is not None else db.execute("ROLLBACK")
    db.close()
    assert app.companies() == []
    assert app.leads() == []
    assert app.store.outbox(undelivered_only=False) == []
    assert list(app.store.transitions()) == []
    assert app.pipeline.deliver_pending().delivered == 0
    assert app.moves.seen == []


def test_host_rows_and_the_lead_commit_together(app: App) -> None:
    """Committed, both are there; before the commit another connection sees neither."""
    db = app.connect()
    db.execute("INSERT INTO companies VALUES ('acme')")
    view = app.pipeline.using(db)
    view.capture("acme", at=T0)
    assert view.fire("acme", "convert", at=T0).lead.stage == "lead"
    with pytest.raises(NotFound):  # the store's own connection: no dirty reads
        app.pipeline.get("acme")
    db.commit()
    db.close()
    assert app.companies() == ["acme"]
    assert app.pipeline.get("acme").stage == "lead"
    assert [t.event for t in app.pipeline.history("acme")] == ["convert"]


def test_the_store_begins_the_transaction_the_driver_would_have(app: App) -> None:
    """Implicit transactions, the view writing first: BEGIN IMMEDIATE, ended by the host's commit."""
    db = app.connect()
    assert not db.in_transaction
    app.pipeline.using(db).capture("acme", at=T0)
    assert db.in_transaction  # the host's, still open: nothing committed yet
    with pytest.raises(NotFound):
        app.pipeline.get("acme")
    db.execute("INSERT INTO companies VALUES ('acme')")
    db.commit()
    db.close()
    assert app.leads() == ["acme"]
    assert app.companies() == ["acme"]


def test_autocommit_without_a_transaction_is_refused(app: App) -> None:
    """isolation_level=None and no BEGIN: the change would commit alone; refused, nothing written."""
    db = app.connect(isolation_level=None)
    view = app.pipeline.using(db)
    with pytest.raises(HostTransactionError, match="execute BEGIN"):
        view.capture("acme", at=T0)
    assert not db.in_transaction
    assert app.leads() == []
    db.execute("BEGIN")
    view.capture("acme", at=T0)
    db.execute("COMMIT")
    db.close()
    assert app.leads() == ["acme"]


# -- failures inside the host's transaction -------------------------------------------------------

def test_a_conflict_raises_and_the_host_transaction_stays_usable(app: App) -> None:
    """A stale change: ConcurrencyError, its savepoint rolled back; the host's rows still commit."""
    app.pipeline.capture("acme", at=T0)
    db = app.connect()
    db.execute("INSERT INTO companies VALUES ('acme')")
    view = app.pipeline.using(db)
    stale = view.get("acme")
    view.fire("acme", "convert", at=T0)  # the lead moves on inside the transaction
    with pytest.raises(ConcurrencyError, match="roll it back and run the whole unit"):
        view.store.commit(_moved(app.pipeline, stale, "convert"))
    assert db.in_transaction
    db.execute("INSERT INTO companies VALUES ('beta')")
    db.commit()
    db.close()
    assert app.companies() == ["acme", "beta"]
    assert [t.version for t in app.pipeline.history("acme")] == [1]


def test_a_unit_that_fails_half_way_leaves_nothing_of_itself(app: App) -> None:
    """Two new leads, the second taken: the first is rolled back with the savepoint, not the host."""
    app.pipeline.capture("taken", at=T0)
    db = app.connect()
    db.execute("INSERT INTO companies VALUES ('acme')")
    view = app.pipeline.using(db)
    new = [Change(app.pipeline.funnel.new_lead(i, at=T0), None) for i in ("fresh", "taken")]
    with pytest.raises(AlreadyExists, match="'taken' exists already"):
        view.store.commit_many(new)
    db.commit()
    db.close()
    assert app.leads() == ["taken"]
    assert app.companies() == ["acme"]


def test_a_snapshot_another_connection_outdated_is_a_conflict(app: App) -> None:
    """The host read, another connection wrote and committed: ConcurrencyError, roll back, rerun."""
    app.pipeline.capture("acme", at=T0)
    db = app.connect(isolation_level=None)
    db.execute("BEGIN")
    view = app.pipeline.using(db)
    lead = view.get("acme")  # the host's transaction reads: its snapshot is taken
    app.pipeline.fire("acme", "convert", at=T0)  # the store's own connection commits a move
    with pytest.raises(ConcurrencyError, match="roll it back"):
        view.store.commit(_moved(app.pipeline, lead, "convert"))
    db.execute("ROLLBACK")
    db.execute("BEGIN")
    assert view.get("acme").version == 1  # the rerun reads the move
    db.execute("ROLLBACK")
    db.close()


# -- after-hooks ---------------------------------------------------------------------------------

def test_after_hooks_are_delivered_after_the_commit_and_never_for_a_rollback(app: App) -> None:
    """Inside: nothing handed out; deliver_pending after the commit delivers; a rollback: never."""
    db = app.connect()
    view = app.pipeline.using(db)
    view.capture("acme", at=T0)
    view.fire("acme", "convert", at=T0)
    assert view.deliver_pending().delivered == 0  # never inside the host's transaction
    assert view.store.claim_outbox(worker="w", now=T0, lease=app.pipeline._lease) == []
    db.commit()
    assert app.moves.seen == []  # a sqlite3.Connection has no after-commit event
    assert app.pipeline.deliver_pending().delivered == 1
    assert app.moves.seen == [("acme", "convert")]
    view.fire("acme", "qualify", at=T0)
    db.rollback()
    db.close()
    assert app.pipeline.deliver_pending().delivered == 0
    assert app.moves.seen == [("acme", "convert")]
    assert app.pipeline.get("acme").stage == "lead"


# -- a crash ------------------------------------------------------------------------------------

@pytest.mark.parametrize("commit", [False, True], ids=["killed-before-commit", "committed"])
def test_a_host_killed_before_its_commit_leaves_neither(app: App, commit: bool) -> None:
    """kill -9 between the host's insert + fire and its commit: no host row, no lead, no outbox.

    The control case commits first, then is killed: both are there.
    """
    config = {"path": str(app.path), "lead": "crash-1", "commit": commit}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "_sqlite_host_writer.py"), json.dumps(config)],
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
    expected = 1 if commit else 0
    assert len(app.companies()) == expected
    assert app.leads() == (["crash-1"] if commit else [])
    assert len(app.store.outbox(undelivered_only=False)) == expected
    if not commit:  # the id is free and the file writable: the dead transaction held nothing
        app.pipeline.capture("crash-1", at=T0)


# -- bad hosts -----------------------------------------------------------------------------------

def test_a_connection_to_another_file_is_refused(app: App, tmp_path: Path) -> None:
    """Another file, an in-memory database: HostTransactionError; the same file by a link: fine."""
    for target in (tmp_path / "other.db", ":memory:"):
        other = sqlite3.connect(target)
        with pytest.raises(HostTransactionError, match="another database than the store's"):
            app.pipeline.using(other)
        other.close()
    link = tmp_path / "link.db"
    link.symlink_to(app.path)
    db = sqlite3.connect(link)
    app.pipeline.using(db).capture("acme", at=T0)
    db.commit()
    db.close()
    assert app.leads() == ["acme"]
    memory = SQLiteStore(":memory:")
    with pytest.raises(HostTransactionError, match="another database"):
        memory.join(sqlite3.connect(":memory:"))
    memory.close()


def test_bad_hosts_are_refused(app: App) -> None:
    """Not a sqlite3.Connection, a closed one, a bad deliver_on_commit: refused, nothing written."""
    for bad in (None, str(app.path), app.store, 42):
        with pytest.raises(InvalidInput, match="not a sqlite3.Connection"):
            app.pipeline.using(bad)
    db = app.connect()
    view = app.pipeline.using(db)
    with pytest.raises(InvalidInput, match="deliver_on_commit"):
        app.store.join(db, deliver_on_commit=42)  # type: ignore[arg-type]
    db.close()
    with pytest.raises(HostTransactionError, match="closed"):
        app.pipeline.using(db)
    with pytest.raises(HostTransactionError, match="closed"):
        view.capture("acme", at=T0)
    assert app.leads() == []


def test_views_close_alone_and_with_their_store(app: App) -> None:
    """Closing a view leaves the store and the host's connection open; closing the store, not."""
    db = app.connect()
    view = app.store.join(db)
    assert "joined" in repr(view)
    assert view.join(db).path == app.store.path
    view.close()
    with pytest.raises(StorageError, match="is closed"):
        view.load("acme")
    app.pipeline.capture("acme", at=T0)  # the store's own connection is open
    db.execute("SELECT 1")  # so is the host's
    other = app.store.join(db)
    app.store.close()
    with pytest.raises(StorageError, match="is closed"):
        other.load("acme")
    with pytest.raises(StorageError, match="is closed"):
        app.store.join(db)
    db.close()
    app.store = SQLiteStore(app.path)  # for the fixture's teardown
