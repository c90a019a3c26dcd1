"""SQLiteStore in the host's own SQLite file: its own prefix, the host's tables left alone.

Works beside other tables, two prefixes share a file, only a clash of names is refused (with
the file left byte for byte), a host's ``application_id`` is never changed, and the readers that
open the file themselves (the SQL analytics engine, the command line) read the store's prefix.
"""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from funnelkit import InvalidInput, Pipeline, StorageError, templates
from funnelkit.stores import SQLAlchemyStore, SQLiteStore, Store, _sqlite
from funnelkit.testing._store_contract import StoreContract

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
HOST_APP_ID = 0x41505031  # "APP1": the host application's own mark


def _host_file(path: Path, *, app_id: int = HOST_APP_ID) -> Path:
    """A host's database: a table with rows, an index, a view, a trigger, its application_id."""
    raw = sqlite3.connect(path)
    raw.executescript(f"""
        PRAGMA application_id = {app_id};
        CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
        CREATE INDEX customers_name ON customers (name);
        CREATE VIEW customer_names AS SELECT name FROM customers;
        CREATE TABLE funnelkit_notes (id INTEGER PRIMARY KEY, body TEXT);
        INSERT INTO customers (name) VALUES ('ACME'), ('Globex');
    """)
    raw.commit()
    raw.close()
    return path


def _host_objects(path: Path) -> list[tuple[str, str, str]]:
    """Every object of the file but the stores' own (any of the prefixes the tests use)."""
    stores = {f"{p}{n}" for p in ("funnelkit_", "crm_", "ops_")
              for n in (*_sqlite.TABLES, *_sqlite.INDEXES)}
    raw = sqlite3.connect(path)
    try:
        rows = raw.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    finally:
        raw.close()
    return [row for row in rows if row[1] not in stores and not row[1].startswith("sqlite_")]


def _pragma(path: Path, name: str) -> Any:
    raw = sqlite3.connect(path)
    try:
        return raw.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        raw.close()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_store_lives_beside_the_hosts_tables(tmp_path: Path) -> None:
    """The host's tables, rows, index, view and application_id stay exactly as they were."""
    path = _host_file(tmp_path / "app.db")
    objects = _host_objects(path)
    store = SQLiteStore(path)
    pipeline = Pipeline(templates.inbound(), store=store)
    pipeline.capture("L1", at=T0)
    pipeline.fire("L1", "convert", at=T0)
    store.close()
    assert _host_objects(path) == objects
    assert _pragma(path, "application_id") == HOST_APP_ID  # never overwritten
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT name FROM customers ORDER BY id").fetchall() == [("ACME",),
                                                                                ("Globex",)]
    assert raw.execute("SELECT count(*) FROM funnelkit_notes").fetchone() == (0,)  # not a clash
    raw.close()
    reopened = SQLiteStore(path)  # and it opens again, without migrating
    assert reopened.load("L1").stage == "lead"
    reopened.close()


def test_application_id_is_set_only_in_a_file_that_was_empty(tmp_path: Path) -> None:
    """funnelkit marks a file it has alone; a host file without a mark keeps none."""
    SQLiteStore(tmp_path / "alone.db").close()
    assert _pragma(tmp_path / "alone.db", "application_id") == _sqlite.APPLICATION_ID
    path = _host_file(tmp_path / "app.db", app_id=0)
    SQLiteStore(path).close()
    assert _pragma(path, "application_id") == 0
    # The host may mark its file after funnelkit did: the store still opens it.
    raw = sqlite3.connect(tmp_path / "alone.db")
    raw.execute(f"PRAGMA application_id = {HOST_APP_ID}")
    raw.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    raw.commit()
    raw.close()
    SQLiteStore(tmp_path / "alone.db").close()
    assert _pragma(tmp_path / "alone.db", "application_id") == HOST_APP_ID


def test_two_prefixes_are_two_stores_in_one_file(tmp_path: Path) -> None:
    """Stores with different prefixes in one file see only their own leads and outbox rows."""
    path = _host_file(tmp_path / "app.db")
    crm = Pipeline(templates.inbound(), store=SQLiteStore(path, prefix="crm_"),
                   outbox=["after_transition"])
    ops = Pipeline(templates.inbound(), store=SQLiteStore(path, prefix="ops_"))
    crm.capture("L1", at=T0)
    crm.fire("L1", "convert", at=T0)
    ops.capture("L1", at=T0)
    ops.capture("L2", at=T0)
    assert [lead.id for lead in crm.store.leads()] == ["L1"]
    assert [lead.id for lead in ops.store.leads()] == ["L1", "L2"]
    assert crm.get("L1").stage == "lead"
    assert ops.get("L1").stage == "subscriber"
    assert len(crm.store.outbox()) == 1
    assert ops.store.outbox() == []
    assert [t.event for _, t in crm.store.transitions()] == ["convert"]
    assert list(ops.store.transitions()) == []
    assert crm.store.prefix == "crm_"  # type: ignore[attr-defined]
    for pipeline in (crm, ops):
        pipeline.store.close()  # type: ignore[attr-defined]
    raw = sqlite3.connect(path)
    tables = {name for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    raw.close()
    assert {f"{p}{t}" for p in ("crm_", "ops_") for t in _sqlite.TABLES} <= tables
    assert not {f"funnelkit_{t}" for t in _sqlite.TABLES} & tables


def test_sqlalchemy_opens_the_same_prefixed_tables(tmp_path: Path) -> None:
    """A prefixed SQLiteStore's tables are SQLAlchemyStore's with the same prefix, and back."""
    pytest.importorskip("sqlalchemy")
    path = _host_file(tmp_path / "app.db")
    sqlite_store = SQLiteStore(path, prefix="crm_")
    Pipeline(templates.inbound(), store=sqlite_store).capture("L1", at=T0)
    alchemy = SQLAlchemyStore(f"sqlite:///{path}", prefix="crm_", create=False)
    assert alchemy.load("L1") == sqlite_store.load("L1")
    alchemy.close()
    sqlite_store.close()


@pytest.mark.parametrize(("kind", "ddl"), [
    ("table", "CREATE TABLE funnelkit_leads (id INTEGER PRIMARY KEY)"),
    ("table", "CREATE TABLE funnelkit_merges (id INTEGER PRIMARY KEY)"),
    ("index", "CREATE INDEX funnelkit_outbox_key ON customers (name)"),
    ("view", "CREATE VIEW funnelkit_schema AS SELECT 1 AS name, 4 AS version"),
])
def test_a_clash_of_names_is_refused_and_the_file_left_alone(
    tmp_path: Path, kind: str, ddl: str,
) -> None:
    """A table, index or view named like the store's own, not made by funnelkit: StorageError.

    Another prefix in the same file works.
    """
    path = _host_file(tmp_path / "app.db")
    raw = sqlite3.connect(path)
    raw.execute(ddl)
    raw.commit()
    raw.close()
    before = _digest(path)
    with pytest.raises(StorageError, match="another prefix=") as info:
        SQLiteStore(path)
    assert kind in str(info.value)
    assert _digest(path) == before
    assert not (tmp_path / "app.db-wal").exists()
    store = SQLiteStore(path, prefix="crm_")
    Pipeline(templates.inbound(), store=store).capture("L1", at=T0)
    store.close()


def test_the_clash_list_names_every_object_the_store_makes(tmp_path: Path) -> None:
    """TABLES and INDEXES are exactly what a store creates, so the clash check misses none."""
    SQLiteStore(tmp_path / "f.db", prefix="crm_").close()
    raw = sqlite3.connect(tmp_path / "f.db")
    made = {(kind, name) for kind, name in raw.execute(
        "SELECT type, name FROM sqlite_master WHERE name LIKE 'crm\\_%' ESCAPE '\\'")}
    raw.close()
    assert made == ({("table", f"crm_{t}") for t in _sqlite.TABLES}
                    | {("index", f"crm_{i}") for i in _sqlite.INDEXES})


@pytest.mark.parametrize("prefix", ["", "1x_", "a-b", "a b", "crm;drop", "é_", "x" * 31, 42, None])
def test_bad_prefixes_are_refused_before_the_file_is_touched(tmp_path: Path, prefix: Any) -> None:
    """A prefix that is not 1 to 30 ASCII letters, digits and underscores: InvalidInput."""
    with pytest.raises(InvalidInput, match="prefix="):
        SQLiteStore(tmp_path / "f.db", prefix=prefix)
    assert not (tmp_path / "f.db").exists()


def test_the_report_command_reads_the_stores_prefix(tmp_path: Path) -> None:
    """The command line's quick look at a store reads its prefix's tables."""
    from funnelkit.cli._report_command import last_event  # noqa: PLC0415

    path = _host_file(tmp_path / "app.db")
    store = SQLiteStore(path, prefix="crm_")
    pipeline = Pipeline(templates.inbound(), store=store)
    pipeline.capture("L1", at=T0)
    pipeline.fire("L1", "convert", at=T0)
    assert last_event(store) == (T0, 1)
    store.close()


def test_the_sql_engine_reads_the_stores_prefix(tmp_path: Path) -> None:
    """SqlLog.from_store on a prefixed SQLiteStore analyses that prefix's tables."""
    pytest.importorskip("ibis")
    from funnelkit.analytics import FunnelLog  # noqa: PLC0415
    from funnelkit.analytics.sql import SqlLog  # noqa: PLC0415

    path = _host_file(tmp_path / "app.db")
    other = Pipeline(templates.inbound(), store=SQLiteStore(path))  # the default prefix: not read
    other.capture("X1", at=T0)
    store = SQLiteStore(path, prefix="crm_")
    pipeline = Pipeline(templates.inbound(), store=store)
    for lead_id in ("L1", "L2"):
        pipeline.capture(lead_id, at=T0)
    pipeline.fire("L1", "convert", at=T0)
    as_of = datetime(2026, 4, 1, tzinfo=UTC)
    log = SqlLog.from_store(pipeline.funnel, store, as_of=as_of)
    try:
        assert log.conversion() == FunnelLog.from_store(pipeline.funnel, store,
                                                        as_of=as_of).conversion()
    finally:
        log.close()
    store.close()
    other.store.close()  # type: ignore[attr-defined]


class TestPrefixedSQLiteStoreInAHostFile(StoreContract):
    """The shipped contract suite, on a prefixed store in a file that holds the host's tables."""

    @pytest.fixture
    def store(self, tmp_path: Any) -> Iterator[Store]:
        self._handles: list[SQLiteStore] = []
        path = _host_file(tmp_path / "app.db")
        SQLiteStore(path).close()  # another store, default prefix, in the same file
        store = SQLiteStore(path, prefix="crm_")
        yield store
        for handle in [store, *self._handles]:
            handle.close()

    def reopen(self, store: Store) -> Store:
        assert isinstance(store, SQLiteStore)
        handle = SQLiteStore(store.path, prefix=store.prefix)
        self._handles.append(handle)
        return handle
