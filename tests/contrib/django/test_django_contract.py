"""DjangoStore passes the shipped store contract on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from _django_project import empty

from funnelkit.contrib.django import DjangoStore
from funnelkit.testing import StoreContract

if TYPE_CHECKING:
    from collections.abc import Iterator

    from funnelkit.stores import Store


class _DjangoContract(StoreContract):
    alias = "default"

    def open(self, alias: str) -> Iterator[Store]:
        empty(alias)
        store = DjangoStore(alias)
        yield store
        store.close()
        empty(alias)

    def reopen(self, store: Store) -> Store:
        assert isinstance(store, DjangoStore)
        return DjangoStore(store.using)


class TestDjangoStoreOnSQLite(_DjangoContract):
    @pytest.fixture
    def store(self, django_project: None) -> Iterator[Store]:
        yield from self.open("default")


@pytest.mark.postgres
class TestDjangoStoreOnPostgres(_DjangoContract):
    @pytest.fixture
    def store(self, postgres_alias: str) -> Iterator[Store]:
        yield from self.open(postgres_alias)
