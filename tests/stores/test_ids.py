"""Ids compare byte for byte on every backend, whatever the URL's dialect: schema version 3.

Under MariaDB's and MySQL's ``utf8mb4_bin`` collation (``PAD SPACE``), ``'K1 '`` equals ``'K1'``:
a ``mysql://`` URL made such columns before version 3, so ``capture("K1 ")`` after ``capture("K1")``
raised AlreadyExists and a lead with id ``" "`` was missing from ``leads()``.  Version 3 gives the
id and name columns the server's binary ``NO PAD`` collation; stores check it when they open.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from funnelkit import StorageError, templates
from funnelkit.pipeline import Pipeline
from funnelkit.stores import MemoryStore, SQLAlchemyStore, SQLiteStore
from funnelkit.stores import _schema as schema

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from funnelkit.stores import Store

sa = pytest.importorskip("sqlalchemy")

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
# Ids that differ only by trailing or leading spaces, case, accents written two ways, or nothing
# at all but a space: all distinct, listed in code point order.
IDS = ["K1", "K1 ", "K1  ", " K1", "k1", "caf\u00e9", "cafe\u0301", " ", "\U0001f600", "K1\t"]


def _mysql_url(server: Any) -> str:
    """The MariaDB server's URL with the ``mysql`` dialect, as hosts often write it."""
    return str(server.url).replace("mariadb+pymysql://", "mysql+pymysql://", 1)


@pytest.fixture(params=[
    "memory", "sqlite", "sqlalchemy-sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("mariadb", marks=pytest.mark.mariadb),
    pytest.param("mariadb-as-mysql", marks=pytest.mark.mariadb),
])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A new, empty store of each kind; MariaDB twice, through each dialect's URL."""
    kind = request.param
    if kind == "memory":
        yield MemoryStore()
        return
    if kind == "sqlite":
        made = SQLiteStore(tmp_path / "ids.db")
        yield made
        made.close()
        return
    if kind == "sqlalchemy-sqlite":
        made_sa = SQLAlchemyStore(f"sqlite:///{tmp_path / 'ids-sa.db'}")
        yield made_sa
        made_sa.close()
        return
    server = request.getfixturevalue(kind.removesuffix("-as-mysql"))
    engine = server.engine if kind != "mariadb-as-mysql" else sa.create_engine(_mysql_url(server))
    made_sa = SQLAlchemyStore(engine, prefix=server.prefix(), schema=server.schema)
    try:
        yield made_sa
    finally:
        made_sa.drop_tables()
        if engine is not server.engine:
            engine.dispose()


def test_ids_compare_byte_for_byte(store: Store) -> None:
    """Ids differing by spaces, case or Unicode form are distinct leads, listed by code point."""
    pipeline = Pipeline(templates.inbound(), store=store)
    for lead_id in IDS:
        pipeline.capture(lead_id, at=T0, attributes={"id": lead_id})
    assert [lead.id for lead in store.leads()] == sorted(IDS)
    for lead_id in IDS:
        assert store.load(lead_id).attributes["id"] == lead_id
    pipeline.fire("K1 ", "convert", at=T0)
    assert [t.lead_id for t in store.history("K1 ")] == ["K1 "]
    assert store.history("K1") == []
    assert [lead.id for lead in store.leads(stage="lead")] == ["K1 "]


# -- MariaDB: migration 3 and the check at open ---------------------------------------------------


def _pad_space(store: SQLAlchemyStore, version: int | None) -> None:
    """Make the store's id columns PAD SPACE ``utf8mb4_bin``, as a mysql:// URL did before 3."""
    from funnelkit.stores import _sqlalchemy  # noqa: PLC0415 - needs the extra

    with store.engine.begin() as conn:
        quote = conn.dialect.identifier_preparer
        for table in store.metadata.sorted_tables:
            names = [c for c in table.columns if _sqlalchemy._is_name(c)]
            parts = [f"MODIFY COLUMN {quote.quote(c.name)} VARCHAR(255) COLLATE utf8mb4_bin"
                     f"{'' if c.nullable else ' NOT NULL'}" for c in names]
            conn.exec_driver_sql(f"ALTER TABLE {quote.format_table(table)} {', '.join(parts)}")
        if version is not None:
            conn.execute(sa.update(store._schema_t).values(version=version))


def _collations(store: SQLAlchemyStore) -> set[str]:
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT DISTINCT collation_name FROM information_schema.columns WHERE "
            "table_schema = DATABASE() AND table_name LIKE %s AND character_maximum_length = 255",
            (f"{store.prefix}%",)).all()
    return {row[0] for row in rows}


@pytest.mark.mariadb
@pytest.mark.parametrize("dialect", ["mariadb", "mysql"])
def test_migration_3_gives_mariadb_binary_no_pad_ids(mariadb: Any, dialect: str) -> None:
    """Version 2 tables with PAD SPACE ids move to version 3: 'K1 ' and 'K1' become two leads."""
    url = mariadb.url if dialect == "mariadb" else _mysql_url(mariadb)
    engine = sa.create_engine(url)
    prefix = mariadb.prefix()
    old = SQLAlchemyStore(engine, prefix=prefix)
    try:
        _pad_space(old, version=2)
        Pipeline(templates.inbound(), store=old).capture("K1", at=T0)
        assert _collations(old) == {"utf8mb4_bin"}
        store = SQLAlchemyStore(engine, prefix=prefix)  # opening migrates
        assert store.schema_version == schema.SCHEMA_VERSION  # through 3, to the current one
        assert _collations(store) == {"utf8mb4_nopad_bin"}
        Pipeline(templates.inbound(), store=store).capture("K1 ", at=T0)
        assert [lead.id for lead in store.leads()] == ["K1", "K1 "]
        SQLAlchemyStore(engine, prefix=prefix)  # nothing left to change
    finally:
        old.drop_tables()
        engine.dispose()


@pytest.mark.mariadb
def test_a_wrong_collation_at_version_3_is_found_when_the_store_opens(mariadb: Any) -> None:
    """Tables stamped 3 with PAD SPACE ids: refused with create=False, fixed with create=True."""
    engine = sa.create_engine(mariadb.url)
    prefix = mariadb.prefix()
    made = SQLAlchemyStore(engine, prefix=prefix)
    try:
        _pad_space(made, version=None)
        with pytest.raises(StorageError, match="binary NO PAD collation"):
            SQLAlchemyStore(engine, prefix=prefix, create=False)
        assert _collations(made) == {"utf8mb4_bin"}
        fixed = SQLAlchemyStore(engine, prefix=prefix)
        assert _collations(fixed) == {"utf8mb4_nopad_bin"}
        SQLAlchemyStore(engine, prefix=prefix, create=False)
    finally:
        made.drop_tables()
        engine.dispose()


def test_the_ddl_names_each_server_s_binary_no_pad_collation() -> None:
    """MariaDB gets utf8mb4_nopad_bin, MySQL utf8mb4_0900_bin, PostgreSQL "C", whatever the URL."""
    from sqlalchemy.dialects import mysql, postgresql  # noqa: PLC0415 - needs the extra
    from sqlalchemy.schema import CreateTable  # noqa: PLC0415

    table = SQLAlchemyStore.metadata_for().tables["funnelkit_leads"]
    on_mysql = mysql.dialect()
    on_mariadb = mysql.dialect()
    on_mariadb.is_mariadb = True  # what a mysql:// URL finds out once connected to MariaDB
    assert "COLLATE utf8mb4_0900_bin" in str(CreateTable(table).compile(dialect=on_mysql))
    ddl = str(CreateTable(table).compile(dialect=on_mariadb))
    assert "id VARCHAR(255) COLLATE utf8mb4_nopad_bin NOT NULL" in ddl
    assert "utf8mb4_bin" not in ddl
    assert 'COLLATE "C"' in str(CreateTable(table).compile(dialect=postgresql.dialect()))
