"""SQLAlchemyStore specifics: metadata for Alembic, prefixes and schemas, refusing foreign tables."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from funnelkit import StorageError, templates
from funnelkit.stores import Change, SQLAlchemyStore
from funnelkit.stores import _schema as schema

sa = pytest.importorskip("sqlalchemy")

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def _store(engine: Any, **kwargs: Any) -> Any:
    return SQLAlchemyStore(engine, **kwargs)


def test_metadata_has_prefixed_tables_and_indexes() -> None:
    """build_metadata names every table and index with the prefix, for Alembic autogenerate."""
    md = SQLAlchemyStore.metadata_for(prefix="crm_", schema="sales")
    assert sorted(t.name for t in md.tables.values()) == [
        "crm_handoffs", "crm_leads", "crm_merges", "crm_outbox", "crm_schema", "crm_touchpoints",
        "crm_transitions"]
    assert all(t.schema == "sales" for t in md.tables.values())
    names = {i.name for t in md.tables.values() for i in t.indexes}
    assert all(str(n).startswith("crm_") for n in names)
    unique = {i.name for t in md.tables.values() for i in t.indexes if i.unique}
    assert unique == {"crm_transitions_lead_version", "crm_outbox_key", "crm_merges_id"}


def test_tables_made_by_the_host_are_stamped(tmp_path: Path) -> None:
    """Tables created by the host from metadata (as Alembic would) are adopted with create=False."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'alembic.db'}")
    store_md = _store(engine).metadata
    _store(engine).drop_tables()
    store_md.create_all(engine)
    store = _store(engine, create=False)
    assert store.schema_version == schema.SCHEMA_VERSION
    store.commit(Change(templates.inbound().new_lead("L1", at=T0), None))
    assert store.load("L1").id == "L1"
    engine.dispose()


def test_create_false_without_tables_says_what_to_do(tmp_path: Path) -> None:
    """create=False on an empty database raises StorageError naming metadata and create=True."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(StorageError, match="create=True"):
        _store(engine, create=False)
    engine.dispose()


def test_prefixes_keep_stores_apart(tmp_path: Path) -> None:
    """Two prefixes in one database are two independent stores."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'two.db'}")
    a, b = _store(engine, prefix="a_"), _store(engine, prefix="b_")
    a.commit(Change(templates.inbound().new_lead("L1", at=T0), None))
    assert [lead.id for lead in a.leads()] == ["L1"]
    assert list(b.leads()) == []
    engine.dispose()


def test_refuses_foreign_tables_with_the_prefix(tmp_path: Path) -> None:
    """Tables that share the prefix but are not a funnelkit store are refused and left alone."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'foreign.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE funnelkit_leads (id TEXT, mine INTEGER)")
        conn.exec_driver_sql("INSERT INTO funnelkit_leads VALUES ('x', 1)")
    with pytest.raises(StorageError, match="not a funnelkit store"):
        _store(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT * FROM funnelkit_leads").all() == [("x", 1)]
    engine.dispose()


def test_missing_driver_error_is_storage_error() -> None:
    """An unreachable database raises StorageError (the driver's error translated)."""
    engine = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none",
                              connect_args={"connect_timeout": 1})
    with pytest.raises(StorageError):
        _store(engine)


def _newer_schema_refused(engine: Any, prefix: str, schema_name: str | None) -> None:
    store = _store(engine, prefix=prefix, schema=schema_name)
    try:
        table = store.metadata.tables[f"{schema_name + '.' if schema_name else ''}{prefix}schema"]
        with engine.begin() as conn:
            conn.execute(sa.update(table).values(version=99))
        with pytest.raises(StorageError, match="schema version 99, newer"):
            _store(engine, prefix=prefix, schema=schema_name)
        with engine.connect() as conn:
            assert conn.execute(sa.select(table.c.version)).scalar_one() == 99
    finally:
        store.drop_tables()


def test_newer_schema_is_refused_on_sqlite(tmp_path: Path) -> None:
    """SQLite: a newer schema version is refused and left as it was."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'newer.db'}")
    _newer_schema_refused(engine, "funnelkit_", None)
    engine.dispose()


@pytest.mark.postgres
def test_newer_schema_is_refused_on_postgres(postgres: Any) -> None:
    """PostgreSQL: a newer schema version is refused and left as it was."""
    _newer_schema_refused(postgres.engine, postgres.prefix(), postgres.schema)


@pytest.mark.mariadb
def test_newer_schema_is_refused_on_mariadb(mariadb: Any) -> None:
    """MariaDB: a newer schema version is refused and left as it was."""
    _newer_schema_refused(mariadb.engine, mariadb.prefix(), None)


def test_server_claims_use_skip_locked(server: Any) -> None:
    """On PostgreSQL and MariaDB the outbox claim selects with FOR UPDATE SKIP LOCKED."""
    store = _store(server.engine, prefix=server.prefix(), schema=server.schema)
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(server.engine, "before_cursor_execute", record)
    try:
        store.claim_outbox(worker="w", now=T0, lease=timedelta(minutes=1))
    finally:
        sa.event.remove(server.engine, "before_cursor_execute", record)
        store.drop_tables()
    assert any("FOR UPDATE SKIP LOCKED" in s for s in statements), statements


def test_sqlalchemy_is_imported_lazily() -> None:
    """Importing funnelkit.stores does not import SQLAlchemy; asking for SQLAlchemyStore does."""
    code = ("import sys, funnelkit.stores; assert 'sqlalchemy' not in sys.modules; "
            "funnelkit.stores.SQLAlchemyStore; assert 'sqlalchemy' in sys.modules")
    src = str(Path(__file__).resolve().parents[2] / "src")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": src})
