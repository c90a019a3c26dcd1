"""Stores: where a pipeline keeps leads, transitions, touchpoints, handoffs and the outbox.

One protocol, :class:`Store`, and one module per backend.  :class:`MemoryStore` needs nothing;
the SQL backends arrive with the storage layer.

>>> from funnelkit.stores import MemoryStore, Store
>>> isinstance(MemoryStore(), Store)
True
"""

from __future__ import annotations

from funnelkit.stores._memory import MemoryStore
from funnelkit.stores._protocol import Change, OutboxMessage, OutboxRow, Store

__all__ = ["Change", "MemoryStore", "OutboxMessage", "OutboxRow", "Store"]
