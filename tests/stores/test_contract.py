"""Every store backend passes the shipped contract suite (funnelkit.testing.StoreContract)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from funnelkit.stores import MemoryStore, SQLAlchemyStore, SQLiteStore, Store
from funnelkit.testing._store_contract import StoreContract

sa = pytest.importorskip("sqlalchemy")

if TYPE_CHECKING:
    from collections.abc import Iterator


class TestMemoryStore(StoreContract):
    @pytest.fixture
    def store(self) -> Store:
        return MemoryStore()


class TestSQLiteStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Any) -> Iterator[Store]:
        self._handles: list[SQLiteStore] = []
        store = SQLiteStore(tmp_path / "contract.db")
        yield store
        for handle in [store, *self._handles]:
            handle.close()

    def reopen(self, store: Store) -> Store:
        assert isinstance(store, SQLiteStore)
        handle = SQLiteStore(store.path)
        self._handles.append(handle)
        return handle


class _SQLAlchemyContract(StoreContract):
    """Tables are made once per class; each test starts from empty tables (faster than DDL)."""

    @staticmethod
    def _open(engine: Any, *, prefix: str, schema: str | None) -> Iterator[Store]:
        store = SQLAlchemyStore(engine, prefix=prefix, schema=schema)  # creates the tables once
        try:
            yield store
        finally:
            store.close()
            with engine.begin() as conn:
                for table in reversed(store.metadata.sorted_tables):
                    if not table.name.endswith("schema"):
                        conn.execute(table.delete())

    def reopen(self, store: Store) -> Store:
        assert isinstance(store, SQLAlchemyStore)
        return SQLAlchemyStore(store.engine, prefix=store.prefix, schema=store.schema, create=False)


class TestSQLAlchemyOnSQLite(_SQLAlchemyContract):
    @pytest.fixture
    def store(self, tmp_path: Any) -> Iterator[Store]:
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'sa.db'}")
        yield from self._open(engine, prefix="funnelkit_", schema=None)
        engine.dispose()


@pytest.fixture(scope="module")
def postgres_prefix(postgres: Any) -> Iterator[str]:
    """Store tables on PostgreSQL for this module, dropped afterwards."""
    prefix = postgres.prefix()
    yield prefix
    SQLAlchemyStore(postgres.engine, prefix=prefix, schema=postgres.schema).drop_tables()


@pytest.fixture(scope="module")
def mariadb_prefix(mariadb: Any) -> Iterator[str]:
    """Store tables on MariaDB for this module, dropped afterwards."""
    prefix = mariadb.prefix()
    yield prefix
    SQLAlchemyStore(mariadb.engine, prefix=prefix).drop_tables()


@pytest.mark.postgres
class TestSQLAlchemyOnPostgres(_SQLAlchemyContract):
    @pytest.fixture
    def store(self, postgres: Any, postgres_prefix: str) -> Iterator[Store]:
        yield from self._open(postgres.engine, prefix=postgres_prefix, schema=postgres.schema)


@pytest.mark.mariadb
class TestSQLAlchemyOnMariaDB(_SQLAlchemyContract):
    @pytest.fixture
    def store(self, mariadb: Any, mariadb_prefix: str) -> Iterator[Store]:
        yield from self._open(mariadb.engine, prefix=mariadb_prefix, schema=None)


def test_every_backend_refuses_an_unknown_handoff_status(tmp_path) -> None:
    """MemoryStore and SQLiteStore both refuse a misspelt status filter instead of matching nothing."""
    import pytest  # noqa: PLC0415

    from funnelkit import InvalidInput  # noqa: PLC0415
    from funnelkit.stores import MemoryStore, SQLiteStore  # noqa: PLC0415

    for store in (MemoryStore(), SQLiteStore(tmp_path / "s.db")):
        with pytest.raises(InvalidInput, match="pendng"):
            store.handoffs(status="pendng")  # type: ignore[arg-type]
        store.close()
