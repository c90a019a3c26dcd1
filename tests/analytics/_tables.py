"""Copy a log's values into tables of a store's columns, in any Ibis backend under test."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import ibis
import pyarrow as pa

from funnelkit.stores._schema import us

if TYPE_CHECKING:
    from funnelkit import Handoff, Lead, Transition


def lead_rows(leads: list[Lead]) -> pa.Table:
    return pa.table({
        "id": pa.array([x.id for x in leads], pa.string()),
        "stage": pa.array([x.stage for x in leads], pa.string()),
        "version": pa.array([x.version for x in leads], pa.int64()),
        "attributes": pa.array([json.dumps(dict(x.attributes)) for x in leads], pa.string()),
        "source_channel": pa.array([x.source.channel if x.source else None for x in leads], pa.string()),
        "source_kind": pa.array([x.source.kind if x.source else None for x in leads], pa.string()),
        "owner": pa.array([x.owner for x in leads], pa.string()),
        "created_us": pa.array([us(x.created_at) for x in leads], pa.int64()),
    })


def transition_rows(transitions: list[Transition]) -> pa.Table:
    return pa.table({
        "position": pa.array(range(1, len(transitions) + 1), pa.int64()),
        "lead_id": pa.array([t.lead_id for t in transitions], pa.string()),
        "version": pa.array([t.version for t in transitions], pa.int64()),
        "event": pa.array([t.event for t in transitions], pa.string()),
        "source": pa.array([t.source for t in transitions], pa.string()),
        "target": pa.array([t.target for t in transitions], pa.string()),
        "at_us": pa.array([us(t.at) for t in transitions], pa.int64()),
    })


def handoff_rows(handoffs: list[Handoff]) -> pa.Table:
    def opt(values: list[Any]) -> pa.Array:
        return pa.array(values, pa.int64())

    def text(values: list[Any]) -> pa.Array:
        return pa.array(values, pa.string())
    return pa.table({
        "id": text([h.id for h in handoffs]),
        "lead_id": text([h.lead_id for h in handoffs]),
        "from_team": text([h.from_team for h in handoffs]),
        "to_team": text([h.to_team for h in handoffs]),
        "created_us": opt([us(h.created_at) for h in handoffs]),
        "version": opt([h.version for h in handoffs]),
        "due_us": opt([None if h.due_at is None else us(h.due_at) for h in handoffs]),
        "status": text([h.status for h in handoffs]),
        "resolved_us": opt([None if h.resolved_at is None else us(h.resolved_at) for h in handoffs]),
        "reason": pa.array([h.reason for h in handoffs], pa.string()),
    })


def arrow_tables(leads: list[Lead], transitions: list[Transition],
                 handoffs: list[Handoff]) -> dict[str, pa.Table]:
    """The three tables as Arrow tables, by their names without prefix."""
    return {"leads": lead_rows(leads), "transitions": transition_rows(transitions),
            "handoffs": handoff_rows(handoffs)}


def duckdb_tables(leads: list[Lead], transitions: list[Transition], handoffs: list[Handoff],
                  *, prefix: str = "funnelkit_") -> Any:
    """An Ibis DuckDB backend (in memory) holding the three tables."""
    backend = ibis.duckdb.connect()
    raw = backend.con
    for name, table in arrow_tables(leads, transitions, handoffs).items():
        raw.register("_arrow", table)
        raw.execute(f"CREATE TABLE {prefix}{name} AS SELECT * FROM _arrow")
        raw.unregister("_arrow")
    return backend
