"""Stores: where a pipeline keeps leads, transitions, touchpoints, handoffs and the outbox.

One protocol, :class:`Store`, and one module per backend: :class:`MemoryStore` (plain Python
objects), :class:`SQLiteStore` (one SQLite file, standard library only, the embedded default) and
:class:`SQLAlchemyStore` (PostgreSQL, MariaDB/MySQL or SQLite through SQLAlchemy 2; needs the
``funnelkit[sqlalchemy]`` extra and imports SQLAlchemy only when first used).

>>> from funnelkit.stores import MemoryStore, Store
>>> isinstance(MemoryStore(), Store)
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from funnelkit.stores._memory import MemoryStore
from funnelkit.stores._protocol import Change, MergeRecord, OutboxMessage, OutboxRow, Store
from funnelkit.stores._sqlite import SQLiteStore

if TYPE_CHECKING:
    from funnelkit.stores._sqlalchemy import SQLAlchemyStore

__all__ = [
    "Change", "MemoryStore", "MergeRecord", "OutboxMessage", "OutboxRow", "SQLAlchemyStore",
    "SQLiteStore", "Store",
]


def __getattr__(name: str) -> Any:
    """Import :class:`SQLAlchemyStore` (and SQLAlchemy) only when it is asked for."""
    if name == "SQLAlchemyStore":
        from funnelkit.stores._sqlalchemy import SQLAlchemyStore  # noqa: PLC0415 - lazy extra

        return SQLAlchemyStore
    raise AttributeError(f"module 'funnelkit.stores' has no attribute {name!r}")
