"""Schema version 4: the merges table, added to version 3 stores (and at the end of the chain)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from test_migration import write_v1_file

from funnelkit import StorageError, templates
from funnelkit.pipeline import Pipeline
from funnelkit.stores import SQLAlchemyStore, SQLiteStore
from funnelkit.stores import _schema as schema

if TYPE_CHECKING:
    from pathlib import Path

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
FUNNEL = templates.inbound()


def _to_version_3(execute: Any, prefix: str) -> None:
    """Make a current store a version 3 one: no merges table, the schema row at 3."""
    execute(f"DROP TABLE {prefix}merges")
    execute(f"UPDATE {prefix}schema SET version = 3 WHERE name = 'funnelkit'")


def _merge_works(store: Any) -> None:
    pipeline = Pipeline(FUNNEL, store=store)
    pipeline.capture("M1", at=T0)
    pipeline.capture("M2", at=T0)
    pipeline.fire("M2", "convert", at=T0)
    record = pipeline.merge("M1", "M2", actor="ana", reason="dup", at=T0)
    assert store.merges() == [record]
    assert pipeline.verify_history().ok


def test_sqlite_store_migrates_a_version_3_file(tmp_path: Path) -> None:
    """A version 3 file gets the merges table and keeps its leads; merging works at once."""
    path = tmp_path / "v3.db"
    store = SQLiteStore(path)
    Pipeline(FUNNEL, store=store).capture("L1", at=T0)
    store.close()
    db = sqlite3.connect(path)
    _to_version_3(db.execute, "funnelkit_")
    db.commit()
    db.close()
    store = SQLiteStore(path)
    assert store.schema_version == schema.SCHEMA_VERSION == 4
    assert store.load("L1").stage == "subscriber"
    _merge_works(store)
    store.close()
    db = sqlite3.connect(path)
    indexes = {name for (name,) in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'funnelkit_merges'")}
    db.close()
    assert {"funnelkit_merges_id", "funnelkit_merges_duplicate",
            "funnelkit_merges_survivor"} <= indexes


def test_sqlite_store_migrates_a_version_1_file_through_to_4(tmp_path: Path) -> None:
    """The chain from version 1 ends with the merges table."""
    path = tmp_path / "v1.db"
    write_v1_file(path)
    store = SQLiteStore(path)
    assert store.schema_version == 4
    _merge_works(store)
    store.close()


def test_a_file_from_a_newer_funnelkit_is_still_refused(tmp_path: Path) -> None:
    """Version 5 is refused by this funnelkit, the file left as it was."""
    path = tmp_path / "v5.db"
    SQLiteStore(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE funnelkit_schema SET version = 5")
    db.commit()
    db.close()
    with pytest.raises(StorageError, match="version 5, newer than the 4"):
        SQLiteStore(path)


def _sqlalchemy_v3(engine: Any, *, prefix: str, schema_name: str | None) -> None:
    store = SQLAlchemyStore(engine, prefix=prefix, schema=schema_name)
    Pipeline(FUNNEL, store=store).capture("L1", at=T0)
    store.close()
    where = f"{schema_name}." if schema_name else ""
    with engine.begin() as conn:
        _to_version_3(conn.exec_driver_sql, f"{where}{prefix}")


def _sqlalchemy_migrates(engine: Any, *, prefix: str, schema_name: str | None) -> None:
    _sqlalchemy_v3(engine, prefix=prefix, schema_name=schema_name)
    with pytest.raises(StorageError, match="older schema, version 3"):
        SQLAlchemyStore(engine, prefix=prefix, schema=schema_name, create=False)
    store = SQLAlchemyStore(engine, prefix=prefix, schema=schema_name)
    try:
        assert store.schema_version == 4
        assert store.load("L1").stage == "subscriber"
        _merge_works(store)
        again = SQLAlchemyStore(engine, prefix=prefix, schema=schema_name, create=False)
        assert again.merges() == store.merges()
        again.close()
    finally:
        store.drop_tables()
        store.close()


def test_sqlalchemy_store_migrates_version_3_on_sqlite(tmp_path: Path) -> None:
    """SQLAlchemyStore adds the merges table to version 3 tables (create=False refuses them)."""
    sa = pytest.importorskip("sqlalchemy")
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'sa.db'}")
    _sqlalchemy_migrates(engine, prefix="crm_", schema_name=None)
    engine.dispose()


@pytest.mark.postgres
def test_sqlalchemy_store_migrates_version_3_on_postgres(postgres: Any) -> None:
    """The same on PostgreSQL."""
    _sqlalchemy_migrates(postgres.engine, prefix=postgres.prefix(), schema_name=postgres.schema)


@pytest.mark.mariadb
def test_sqlalchemy_store_migrates_version_3_on_mariadb(mariadb: Any) -> None:
    """The same on MariaDB (where CREATE TABLE commits at once)."""
    _sqlalchemy_migrates(mariadb.engine, prefix=mariadb.prefix(), schema_name=None)


def test_sqlite_and_sqlalchemy_read_each_others_merges(tmp_path: Path) -> None:
    """One layout: a merge written by SQLiteStore is read back equal by SQLAlchemyStore."""
    pytest.importorskip("sqlalchemy")
    path = tmp_path / "shared.db"
    native = SQLiteStore(path)
    _merge_works(native)
    other = SQLAlchemyStore(f"sqlite:///{path}", create=False)
    try:
        assert other.merges() == native.merges()
    finally:
        other.close()
        native.close()
