"""The tables every SQL store writes, and the conversions between values and rows.

``SQLiteStore`` and ``SQLAlchemyStore`` share this layout, so a file written by one can be read by
the other.  Times are stored as ISO 8601 text with the offset (given back unchanged) and, beside
it, as integer microseconds since the Unix epoch (``*_us``): the stores order and filter on
those, and SQL engines that read the tables directly compute on them.  The text is what the
decoders read; a ``*_us`` column always equals :func:`us` of its text column.  Free-form data
(attributes, decisions, touchpoint data, outbox payloads) is JSON text written by
:func:`funnelkit._core.codec.dumps`.

Schema versions (each migration moves one version forward; a store never goes back):

1. ``leads``, ``transitions``, ``touchpoints``, ``handoffs``, ``outbox``, ``schema``; ``*_us``
   columns only where the stores query a time: ``transitions.at_us``, ``touchpoints.at_us``,
   ``handoffs.due_us`` and the outbox's.
2. ``leads.created_us``, ``handoffs.created_us`` and ``handoffs.resolved_us`` (NULL while the
   handoff is open), filled from the text for existing rows.  Analytics engines reading the
   tables in place (Ibis on PostgreSQL, SQLite, DuckDB or Spark) compute ages, durations and
   cohorts on integers, without parsing ISO text with offsets, which each engine does
   differently.  They are nullable (added by ``ALTER TABLE`` to tables that may hold rows) and
   have no index: the stores never query them.
3. Ids and names compare byte for byte on every backend: on MariaDB/MySQL their columns get the
   server's binary ``NO PAD`` collation (``utf8mb4_nopad_bin``, ``utf8mb4_0900_bin``), where a
   ``mysql://`` URL used to make ``utf8mb4_bin`` columns, under which ``'K1 '`` equals ``'K1'``.
   PostgreSQL (``COLLATE "C"``) and SQLite (``BINARY``) compared them so already: the version
   moves, nothing else changes there.  Stores check the collations when they open.
4. ``merges``: one row per merge of two leads (``Pipeline.merge``), kept when the merge is undone
   (``unmerged_at``/``unmerged_us``/``unmerged_by``/``unmerge_reason`` set then).  A row whose
   ``unmerged_us`` is NULL is an active merge: ``duplicate_id`` points at ``survivor_id``.  The
   leads as loaded and merged, and the touchpoint positions and handoff ids the merge moved, are
   JSON in ``data``.  Indexed by duplicate and by survivor.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from funnelkit._core.codec import (
    data_json,
    decision_from_data,
    decision_to_data,
    dumps,
    lead_from_data,
    lead_to_data,
    loads,
)
from funnelkit._core.errors import StorageError
from funnelkit._core.handoff import Handoff
from funnelkit._core.lead import Lead, Source, Transition, stored_attributes
from funnelkit._core.limits import MAX_DATA_SIZE
from funnelkit._core.touchpoint import Touchpoint
from funnelkit.stores._protocol import UNCHECKED, MergeRecord, OutboxMessage, OutboxRow

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "SCHEMA_NAME", "SCHEMA_VERSION", "decode_handoff", "decode_lead", "decode_merge",
    "decode_outbox", "decode_touchpoint", "decode_transition", "from_us", "handoff_params",
    "iso_us", "lead_insert_params", "lead_update_params", "merge_params", "outbox_params",
    "touchpoint_params", "transition_params", "unmerge_params", "us",
]

SCHEMA_NAME = "funnelkit"
"""The ``name`` of the store's row in its ``schema`` table: what marks a database as ours."""

SCHEMA_VERSION = 4
"""The schema version this funnelkit writes; a store refuses a database with a newer one."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)

T = TypeVar("T")


def us(value: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime (the ``*_us`` columns)."""
    return (value - EPOCH) // _ONE_US


def iso_us(text: str | None) -> int | None:
    """:func:`us` of a stored ISO 8601 text column (None stays None): what migrations backfill.

    Raises ``ValueError`` for text funnelkit never writes (not ISO 8601, or without an offset).

    >>> iso_us("1970-01-01T05:30:00.000001+05:30")
    1
    """
    if text is None:
        return None
    value = datetime.fromisoformat(text)
    if value.utcoffset() is None:
        raise ValueError(f"{text!r} has no UTC offset")
    return us(value)


def from_us(value: int | None) -> datetime | None:
    """The UTC datetime of a ``*_us`` column (None stays None)."""
    return None if value is None else EPOCH + timedelta(microseconds=value)


# -- values to rows ------------------------------------------------------------------------------

# Each table's columns in the order of its DDL; the ``*_us`` columns of schema version 2 come last,
# where ``ALTER TABLE ... ADD COLUMN`` puts them.  ``created_at`` never changes, so a lead update
# leaves ``created_us`` alone; a handoff update rewrites every column but the id.
LEAD_COLUMNS = ("id", "stage", "version", "attributes", "source_channel", "source_kind", "owner",
                "created_at", "stage_entered_at", "updated_at", "created_us")
LEAD_UPDATE_COLUMNS = ("stage", "version", "attributes", "source_channel", "source_kind", "owner",
                       "stage_entered_at", "updated_at")
#: The names of what a lead update's ``WHERE`` checks, after its ``LEAD_UPDATE_COLUMNS`` values.
LEAD_GUARD = ("id", "expected", "check_owner", "owner_was")
TRANSITION_COLUMNS = ("lead_id", "version", "event", "source", "target", "at", "at_us", "actor",
                      "reason", "decision")
TOUCHPOINT_COLUMNS = ("lead_id", "kind", "channel", "at", "at_us", "points", "data")
HANDOFF_COLUMNS = ("id", "lead_id", "from_team", "to_team", "created_at", "event", "version",
                   "assignee", "due_at", "due_us", "status", "resolved_at", "resolved_by", "reason",
                   "created_us", "resolved_us")
OUTBOX_COLUMNS = ("msg_key", "hook", "payload", "created_at", "attempts", "next_attempt_us")
MERGE_COLUMNS = ("id", "survivor_id", "duplicate_id", "at", "at_us", "actor", "reason",
                 "survivor_version", "duplicate_version", "data", "unmerged_at", "unmerged_us",
                 "unmerged_by", "unmerge_reason")
#: What an unmerge sets on a ``merges`` row, then its id (the ``WHERE`` also needs it active).
UNMERGE_COLUMNS = ("unmerged_at", "unmerged_us", "unmerged_by", "unmerge_reason")
OUTBOX_READ_COLUMNS = ("id", "msg_key", "hook", "payload", "created_at", "attempts",
                       "next_attempt_us", "claimed_by", "claimed_until_us", "delivered_us",
                       "last_error")


def _attributes(lead: Lead, limit: int) -> str:
    return data_json(lead.attributes, f"lead {lead.id!r} attributes", limit)


def lead_insert_params(lead: Lead, limit: int = MAX_DATA_SIZE) -> tuple[Any, ...]:
    """The ``leads`` row of a new lead, in :data:`LEAD_COLUMNS` order.

    *limit* is the store's ``max_data_size``: attributes whose JSON is longer are refused.
    """
    source = lead.source
    return (lead.id, lead.stage, lead.version, _attributes(lead, limit),
            None if source is None else source.channel, None if source is None else source.kind,
            lead.owner, lead.created_at.isoformat(), lead.stage_entered_at.isoformat(),
            lead.updated_at.isoformat(), us(lead.created_at))


def lead_update_params(
    lead: Lead, expected_version: int, expected_owner: str | None = UNCHECKED,
    limit: int = MAX_DATA_SIZE,
) -> tuple[Any, ...]:
    """``LEAD_UPDATE_COLUMNS`` values, then what the ``WHERE`` checks (:data:`LEAD_GUARD`).

    The guard: the id, the expected version, 1 when the owner is checked (else 0) and the
    expected owner.
    """
    source = lead.source
    checked = expected_owner is not UNCHECKED
    return (lead.stage, lead.version, _attributes(lead, limit),
            None if source is None else source.channel, None if source is None else source.kind,
            lead.owner, lead.stage_entered_at.isoformat(), lead.updated_at.isoformat(),
            lead.id, expected_version, int(checked), expected_owner if checked else None)


def transition_params(t: Transition) -> tuple[Any, ...]:
    """The ``transitions`` row, in :data:`TRANSITION_COLUMNS` order."""
    decision = t.decision
    at = t.at
    return (t.lead_id, t.version, t.event, t.source, t.target, at.isoformat(), us(at), t.actor,
            t.reason,
            None if decision is None else json.dumps(decision_to_data(decision),
                                                     separators=(",", ":"), allow_nan=False))


def touchpoint_params(tp: Touchpoint, limit: int = MAX_DATA_SIZE) -> tuple[Any, ...]:
    """The ``touchpoints`` row, in :data:`TOUCHPOINT_COLUMNS` order (data up to *limit* long)."""
    return (tp.lead_id, tp.kind, tp.channel, tp.at.isoformat(), us(tp.at),
            None if tp.points is None else float(tp.points),
            data_json(dict(tp.data), f"touchpoint data of lead {tp.lead_id!r}", limit))


def handoff_params(h: Handoff) -> tuple[Any, ...]:
    """The ``handoffs`` row, in :data:`HANDOFF_COLUMNS` order."""
    due, resolved = h.due_at, h.resolved_at
    return (h.id, h.lead_id, h.from_team, h.to_team, h.created_at.isoformat(), h.event, h.version,
            h.assignee, None if due is None else due.isoformat(), None if due is None else us(due),
            h.status, None if resolved is None else resolved.isoformat(), h.resolved_by, h.reason,
            us(h.created_at), None if resolved is None else us(resolved))


def outbox_params(m: OutboxMessage) -> tuple[Any, ...]:
    """The ``outbox`` row of a new message, in :data:`OUTBOX_COLUMNS` order."""
    return (m.key, m.hook, dumps(m.payload), m.created_at.isoformat(), 0, us(m.created_at))


def merge_params(m: MergeRecord, touchpoints: tuple[int, ...]) -> tuple[Any, ...]:
    """The ``merges`` row of a new merge, in :data:`MERGE_COLUMNS` order.

    *touchpoints* are the positions the store moved (what the record keeps).
    """
    data = {"survivor_before": lead_to_data(m.survivor_before),
            "survivor_after": lead_to_data(m.survivor_after),
            "duplicate_before": lead_to_data(m.duplicate_before),
            "touchpoints": list(touchpoints), "handoffs": list(m.handoffs)}
    return (m.id, m.survivor_id, m.duplicate_id, m.at.isoformat(), us(m.at), m.actor, m.reason,
            m.survivor_after.version, m.duplicate_version,
            json.dumps(data, separators=(",", ":"), allow_nan=False, sort_keys=True),
            None, None, None, None)


def unmerge_params(m: MergeRecord) -> tuple[Any, ...]:
    """:data:`UNMERGE_COLUMNS` values of an undone merge, then its id."""
    at = m.unmerged_at
    assert at is not None
    return (at.isoformat(), us(at), m.unmerged_by, m.unmerge_reason, m.id)


# -- rows to values ------------------------------------------------------------------------------


def _decode(table: str, key: object, build: Callable[[], T]) -> T:
    try:
        return build()
    except Exception as e:  # any failure means the row is not one funnelkit wrote
        raise StorageError(
            f"row {key!r} of table {table!r} cannot be read ({type(e).__name__}: {e}); it was not "
            f"written by funnelkit or was changed by hand: fix or delete the row"
        ) from e


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def decode_lead(row: Any) -> Lead:
    """A lead from a ``leads`` row in :data:`LEAD_COLUMNS` order."""
    def build() -> Lead:
        (lead_id, stage, version, attributes, channel, kind, owner, created, entered, updated,
         _) = row
        return Lead(
            lead_id, stage, version=version,
            # Attributes, not a dict: what a store wrote was checked then (keys, depth).
            attributes=None if attributes == "{}" else stored_attributes(loads(attributes)),
            source=None if channel is None else Source(channel, kind), owner=owner,
            created_at=datetime.fromisoformat(created),
            stage_entered_at=datetime.fromisoformat(entered),
            updated_at=datetime.fromisoformat(updated),
        )
    return _decode("leads", row[0], build)


def decode_transition(row: Any) -> Transition:
    """A transition from a ``transitions`` row in :data:`TRANSITION_COLUMNS` order."""
    def build() -> Transition:
        lead_id, version, event, source, target, at, _, actor, reason, decision = row
        return Transition(
            lead_id, event, source, target, datetime.fromisoformat(at), actor=actor,
            reason=reason, version=version,
            decision=None if decision is None else decision_from_data(json.loads(decision)),
        )
    return _decode("transitions", (row[0], row[1]), build)


def decode_touchpoint(row: Any) -> Touchpoint:
    """A touchpoint from a ``touchpoints`` row in :data:`TOUCHPOINT_COLUMNS` order."""
    def build() -> Touchpoint:
        lead_id, kind, channel, at, _, points, data = row
        return Touchpoint(lead_id, kind, channel, datetime.fromisoformat(at), points=points,
                          data=None if data == "{}" else loads(data))
    return _decode("touchpoints", row[0], build)


def decode_handoff(row: Any) -> Handoff:
    """A handoff from a ``handoffs`` row in :data:`HANDOFF_COLUMNS` order."""
    def build() -> Handoff:
        (hid, lead_id, from_team, to_team, created, event, version, assignee, due, _, status,
         resolved, resolved_by, reason, _, _) = row
        return Handoff(hid, lead_id, from_team, to_team, created_at=datetime.fromisoformat(created),
                       event=event, version=version, assignee=assignee, due_at=_dt(due),
                       status=status, resolved_at=_dt(resolved), resolved_by=resolved_by,
                       reason=reason)
    return _decode("handoffs", row[0], build)


def decode_outbox(row: Any) -> OutboxRow:
    """An outbox row from columns in :data:`OUTBOX_READ_COLUMNS` order."""
    def build() -> OutboxRow:
        (rid, key, hook, payload, created, attempts, next_us, claimed_by, claimed_us,
         delivered_us, last_error) = row
        return OutboxRow(int(rid), key, hook, loads(payload), datetime.fromisoformat(created),
                         attempts=int(attempts), next_attempt_at=from_us(next_us),
                         claimed_by=claimed_by, claimed_until=from_us(claimed_us),
                         delivered_at=from_us(delivered_us), last_error=last_error)
    return _decode("outbox", row[0], build)


def decode_merge(row: Any) -> MergeRecord:
    """A merge record from a ``merges`` row in :data:`MERGE_COLUMNS` order."""
    def build() -> MergeRecord:
        (_, survivor_id, duplicate_id, at, _, actor, reason, _, _, data, unmerged_at, _,
         unmerged_by, unmerge_reason) = row
        parts = json.loads(data)
        return MergeRecord(
            survivor_id, duplicate_id, at=datetime.fromisoformat(at), actor=actor, reason=reason,
            survivor_before=lead_from_data(parts["survivor_before"]),
            survivor_after=lead_from_data(parts["survivor_after"]),
            duplicate_before=lead_from_data(parts["duplicate_before"]),
            touchpoints=tuple(parts["touchpoints"]), handoffs=tuple(parts["handoffs"]),
            unmerged_at=_dt(unmerged_at), unmerged_by=unmerged_by, unmerge_reason=unmerge_reason)
    return _decode("merges", row[0], build)
