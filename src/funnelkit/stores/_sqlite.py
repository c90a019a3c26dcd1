"""``SQLiteStore``: the store protocol on one SQLite file, with nothing but the standard library.

Also what it shares with ``DjangoStore``, the other store that sends SQL text through a DB-API
cursor: the statements (:class:`Statements`), the batch writer and every read (``SQLTextStore``).
"""

# S608: every statement is built from this module's constant table and column names; values
# always travel as parameters (``?``, or ``%s`` for Django), never inside the SQL text.
# ruff: noqa: S608

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol, TypeVar

import attrs

from funnelkit._core.errors import (
    AlreadyExists,
    ConcurrencyError,
    HostTransactionError,
    InvalidInput,
    NotFound,
    StorageError,
)
from funnelkit._core.limits import MAX_DATA_SIZE, MAX_KEY_LENGTH, _short
from funnelkit._core.time import require_aware, require_derived
from funnelkit.stores import _schema as s
from funnelkit.stores._protocol import (
    Change,
    MergeRecord,
    OutboxRow,
    changes_of,
    check_claim,
    check_commit_claimed,
    check_flag,
    check_handoff_query,
    check_max_data_size,
    check_merge_commit,
    check_prefix,
    check_retry,
    check_row_id,
    check_stream,
    check_worker,
    findable,
    merge_undone,
    no_handoff,
    no_lead,
    no_merge,
    version_conflict,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from datetime import datetime, timedelta

    from funnelkit._core.handoff import Handoff, HandoffStatus
    from funnelkit._core.lead import Lead, Transition
    from funnelkit._core.touchpoint import Touchpoint

__all__ = ["SQLiteStore"]

T = TypeVar("T")

_MAX_TIMEOUT = 86_400  # seconds: SQLite's busy timeout is a 32-bit count of milliseconds
APPLICATION_ID = 0x464E4B31  # "FNK1" in ``PRAGMA application_id``: the file is a funnelkit store
PREFIX = "funnelkit_"  # the default table prefix
#: The store's tables and indexes, without the prefix (schema version 4): a database object of
#: one of these names (with the store's prefix) that is not the store's own is a clash.
TABLES = ("schema", "leads", "transitions", "touchpoints", "handoffs", "outbox", "merges")
INDEXES = ("leads_stage", "transitions_lead_version", "transitions_at", "touchpoints_lead",
           "touchpoints_at", "handoffs_status_team", "handoffs_assignee", "handoffs_lead",
           "handoffs_due", "outbox_key", "outbox_due", "merges_id", "merges_duplicate",
           "merges_survivor")
_INHERITED: list[sqlite3.Connection] = []  # connections a forked child must leave alone
_PAGE = 1000


def _ddl(prefix: str) -> list[str]:
    """Schema version 1 as SQLite DDL (the tables ``SQLAlchemyStore`` defined at version 1).

    Left as it was released: a new file is made at version 1 and migrated forward like an old
    one, so new and migrated files have the same columns in the same order.
    """
    p = prefix
    return [
        f"CREATE TABLE {p}schema (name TEXT PRIMARY KEY, version INTEGER NOT NULL)",
        f"""CREATE TABLE {p}leads (
            id TEXT PRIMARY KEY, stage TEXT NOT NULL, version INTEGER NOT NULL,
            attributes TEXT NOT NULL, source_channel TEXT, source_kind TEXT, owner TEXT,
            created_at TEXT NOT NULL, stage_entered_at TEXT NOT NULL, updated_at TEXT NOT NULL)""",
        f"CREATE INDEX {p}leads_stage ON {p}leads (stage, id)",
        f"""CREATE TABLE {p}transitions (
            position INTEGER PRIMARY KEY AUTOINCREMENT, lead_id TEXT NOT NULL,
            version INTEGER NOT NULL, event TEXT NOT NULL, source TEXT NOT NULL,
            target TEXT NOT NULL, at TEXT NOT NULL, at_us INTEGER NOT NULL, actor TEXT,
            reason TEXT, decision TEXT)""",
        f"CREATE UNIQUE INDEX {p}transitions_lead_version ON {p}transitions (lead_id, version)",
        f"CREATE INDEX {p}transitions_at ON {p}transitions (at_us)",
        f"""CREATE TABLE {p}touchpoints (
            position INTEGER PRIMARY KEY AUTOINCREMENT, lead_id TEXT NOT NULL,
            kind TEXT NOT NULL, channel TEXT NOT NULL, at TEXT NOT NULL, at_us INTEGER NOT NULL,
            points REAL, data TEXT NOT NULL)""",
        f"CREATE INDEX {p}touchpoints_lead ON {p}touchpoints (lead_id, at_us)",
        f"CREATE INDEX {p}touchpoints_at ON {p}touchpoints (at_us)",
        f"""CREATE TABLE {p}handoffs (
            id TEXT PRIMARY KEY, lead_id TEXT NOT NULL, from_team TEXT NOT NULL,
            to_team TEXT NOT NULL, created_at TEXT NOT NULL, event TEXT NOT NULL,
            version INTEGER NOT NULL, assignee TEXT, due_at TEXT, due_us INTEGER,
            status TEXT NOT NULL, resolved_at TEXT, resolved_by TEXT, reason TEXT)""",
        f"CREATE INDEX {p}handoffs_status_team ON {p}handoffs (status, to_team, due_us)",
        f"CREATE INDEX {p}handoffs_assignee ON {p}handoffs (assignee, status, due_us)",
        f"CREATE INDEX {p}handoffs_lead ON {p}handoffs (lead_id)",
        f"CREATE INDEX {p}handoffs_due ON {p}handoffs (due_us)",
        f"""CREATE TABLE {p}outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT, msg_key TEXT NOT NULL, hook TEXT NOT NULL,
            payload TEXT NOT NULL, created_at TEXT NOT NULL, attempts INTEGER NOT NULL,
            next_attempt_us INTEGER NOT NULL, claimed_by TEXT, claimed_until_us INTEGER,
            delivered_us INTEGER, last_error TEXT)""",
        f"CREATE UNIQUE INDEX {p}outbox_key ON {p}outbox (msg_key)",
        f"CREATE INDEX {p}outbox_due ON {p}outbox (delivered_us, next_attempt_us)",
    ]


def _migrate_to_1(db: sqlite3.Connection, prefix: str) -> None:
    for statement in _ddl(prefix):
        db.execute(statement)


#: The ``*_us`` columns schema version 2 adds, by table, each with the text column it mirrors.
ADDED_IN_2 = {"leads": (("created_us", "created_at"),),
              "handoffs": (("created_us", "created_at"), ("resolved_us", "resolved_at"))}


def _migrate_to_2(db: sqlite3.Connection, prefix: str) -> None:
    """Add the ``*_us`` columns of :data:`ADDED_IN_2` and fill them from their ISO text.

    SQLite's own date functions keep milliseconds at best, so the ``UPDATE`` calls
    :func:`~funnelkit.stores._schema.iso_us` (exact to the microsecond, any offset) through a
    function registered on this connection for the migration only.  The columns stay nullable:
    SQLite adds a ``NOT NULL`` column only with a default, and cannot drop the default afterwards.
    """
    unreadable: list[str] = []

    def iso_us(where: str, key: object, text: object) -> int | None:
        try:
            return s.iso_us(None if text is None else str(text))
        except ValueError:
            unreadable.append(f"{where} of row {key!r} is {text!r}")
            raise

    name = "funnelkit_iso_us"
    db.create_function(name, 3, iso_us)
    try:
        for table, columns in ADDED_IN_2.items():
            for column, _ in columns:
                db.execute(f"ALTER TABLE {prefix}{table} ADD COLUMN {column} INTEGER")
            sets = ", ".join(f"{column} = {name}('{prefix}{table}.{text}', id, {text})"
                             for column, text in columns)
            db.execute(f"UPDATE {prefix}{table} SET {sets}")
    except sqlite3.OperationalError as e:
        if not unreadable:
            raise
        raise StorageError(
            f"cannot migrate to schema version 2: {unreadable[0]}, a time funnelkit never writes "
            f"(the row was changed by hand); nothing was changed: fix or delete the row, then "
            f"open the store again") from e
    finally:
        db.create_function(name, 3, None)


def _migrate_to_3(db: sqlite3.Connection, prefix: str) -> None:
    """Ids and names compare byte for byte: nothing to change in SQLite.

    Version 3 gives MariaDB/MySQL binary ``NO PAD`` collations (see
    ``funnelkit.stores._sqlalchemy``).  SQLite compares text with its ``BINARY`` collation, byte
    for byte, unless a column names another, and no funnelkit table ever did: only the version
    moves, so both stores keep reading each other's files.
    """


def _migrate_to_4(db: sqlite3.Connection, prefix: str) -> None:
    """The ``merges`` table: one row per merge, kept when it is undone (see ``_schema``)."""
    p = prefix
    db.execute(f"""CREATE TABLE {p}merges (
        position INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, survivor_id TEXT NOT NULL,
        duplicate_id TEXT NOT NULL, at TEXT NOT NULL, at_us INTEGER NOT NULL, actor TEXT NOT NULL,
        reason TEXT NOT NULL, survivor_version INTEGER NOT NULL,
        duplicate_version INTEGER NOT NULL, data TEXT NOT NULL, unmerged_at TEXT,
        unmerged_us INTEGER, unmerged_by TEXT, unmerge_reason TEXT)""")
    db.execute(f"CREATE UNIQUE INDEX {p}merges_id ON {p}merges (id)")
    db.execute(f"CREATE INDEX {p}merges_duplicate ON {p}merges (duplicate_id, unmerged_us)")
    db.execute(f"CREATE INDEX {p}merges_survivor ON {p}merges (survivor_id, unmerged_us)")


MIGRATIONS: dict[int, Callable[[sqlite3.Connection, str], None]] = {
    1: _migrate_to_1, 2: _migrate_to_2, 3: _migrate_to_3, 4: _migrate_to_4}
"""Forward migrations: version -> a function taking a store (its connection, its table prefix)
from version - 1 to it, inside the transaction that opening the store holds."""


def _cols(names: Sequence[str]) -> str:
    return ", ".join(names)


class Cursor(Protocol):
    """The DB-API cursor the stores that send SQL text go through.

    ``sqlite3.Cursor`` and Django's ``CursorWrapper``: execute, then read ``rowcount`` or fetch.
    """

    @property
    def rowcount(self) -> int:
        """The rows the last statement changed."""

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> object:
        """Run one statement."""

    def executemany(self, sql: str, params: Sequence[Sequence[Any]], /) -> object:
        """Run one statement per row of *params*."""

    def fetchone(self) -> Any:
        """The next row of the last ``SELECT``, or None."""

    def fetchall(self) -> Any:
        """The rows left of the last ``SELECT``."""


class Statements:
    """The SQL text of every statement of the stores that send SQL text.

    Built once per table prefix *p* and placeholder *mark*: ``?`` for ``SQLiteStore``, ``%s``
    for ``DjangoStore``.
    *owner_flag* spells the owner guard of an update out for every database: no
    ``IS NOT DISTINCT FROM`` (MySQL spells it ``<=>``), and no parameter tested for NULL
    (PostgreSQL cannot type one under server-side binding); its rows then end with a flag,
    1 when the expected owner was None (:meth:`BatchWriter.update_rows`).  SQLite tests
    ``owner IS ?``.
    """

    def __init__(self, p: str, mark: str = "?", *, owner_flag: bool = False) -> None:
        m = mark
        self.p, self.mark, self.owner_flag = p, m, owner_flag

        def insert(table: str, columns: Sequence[str]) -> str:
            return f"INSERT INTO {p}{table} ({_cols(columns)}) VALUES ({self.marks(len(columns))})"

        def select(table: str, columns: Sequence[str], where: str = "") -> str:
            return f"SELECT {_cols(columns)} FROM {p}{table}{where}"

        self.insert_lead = insert("leads", s.LEAD_COLUMNS)
        # The insert of a new lead change by change; a store may make it write nothing (rather
        # than fail) when the id is taken, as PostgreSQL's SQLAlchemyStore does.
        self.create_lead = self.insert_lead
        sets = ", ".join(f"{c} = {m}" for c in s.LEAD_UPDATE_COLUMNS)
        # The guard of s.LEAD_GUARD: id, version, then the owner when the change checks it.
        owner = (f"owner = {m} OR ({m} = 1 AND owner IS NULL)" if owner_flag
                 else f"owner IS {m}")
        self.update_lead = (f"UPDATE {p}leads SET {sets} WHERE id = {m} AND version = {m} "
                            f"AND ({m} = 0 OR {owner})")
        self.lead_version = f"SELECT version, owner FROM {p}leads WHERE id = {m}"
        self.select_lead = select("leads", s.LEAD_COLUMNS, f" WHERE id = {m}")
        self.leads_page = select("leads", s.LEAD_COLUMNS, " WHERE {}id > " + m
                                 + f" ORDER BY id LIMIT {_PAGE}")
        self.schema_version = f"SELECT version FROM {p}schema WHERE name = {m}"
        self.insert_transition = insert("transitions", s.TRANSITION_COLUMNS)
        self.select_history = select("transitions", s.TRANSITION_COLUMNS,
                                     f" WHERE lead_id = {m} ORDER BY version")
        self.insert_touchpoint = insert("touchpoints", s.TOUCHPOINT_COLUMNS)
        self.select_touchpoints = select("touchpoints", s.TOUCHPOINT_COLUMNS,
                                         f" WHERE lead_id = {m} ORDER BY at_us, position")
        self.insert_handoff = insert("handoffs", s.HANDOFF_COLUMNS)
        hsets = ", ".join(f"{c} = {m}" for c in s.HANDOFF_COLUMNS[1:])
        self.replace_handoff = (f"UPDATE {p}handoffs SET {hsets} "
                                f"WHERE id = {m} AND status = 'pending'")
        self.handoff_status = f"SELECT status FROM {p}handoffs WHERE id = {m}"
        self.select_handoff = select("handoffs", s.HANDOFF_COLUMNS, f" WHERE id = {m}")
        self.insert_outbox = insert("outbox", s.OUTBOX_COLUMNS)
        self.insert_claimed_outbox = self.claimed_outbox(1)
        self.select_outbox = select("outbox", s.OUTBOX_READ_COLUMNS)
        self.outbox_due = (f"SELECT id FROM {p}outbox WHERE delivered_us IS NULL "
                           f"AND next_attempt_us <= {m} AND (claimed_until_us IS NULL "
                           f"OR claimed_until_us <= {m}) ORDER BY id LIMIT {m}")
        self.claim = (f"UPDATE {p}outbox SET attempts = attempts + 1, claimed_by = {m}, "
                      f"claimed_until_us = {m} WHERE id IN ")
        # {} takes what the release sets (a delivery, or a retry), then the row id and worker.
        self.release = (f"UPDATE {p}outbox SET {{}}, claimed_by = NULL, claimed_until_us = NULL "
                        f"WHERE id = {m} AND claimed_by = {m} AND delivered_us IS NULL")
        self.outbox_exists = f"SELECT 1 FROM {p}outbox WHERE id = {m}"
        self.purge_outbox = f"DELETE FROM {p}outbox WHERE delivered_us < {m}"
        self.positions = (f"SELECT position FROM {p}touchpoints WHERE lead_id = {m} "
                          f"ORDER BY position")
        self.move_all = f"UPDATE {p}touchpoints SET lead_id = {m} WHERE lead_id = {m}"
        self.move_back = (f"UPDATE {p}touchpoints SET lead_id = {m} "
                          f"WHERE position = {m} AND lead_id = {m}")
        self.insert_merge = insert("merges", s.MERGE_COLUMNS)
        self.merge_exists = f"SELECT unmerged_us FROM {p}merges WHERE id = {m}"
        usets = ", ".join(f"{c} = {m}" for c in s.UNMERGE_COLUMNS)
        self.undo_merge = f"UPDATE {p}merges SET {usets} WHERE id = {m} AND unmerged_at IS NULL"
        self.select_merges = select("merges", s.MERGE_COLUMNS)
        self.merges_of_lead = f"(survivor_id = {m} OR duplicate_id = {m})"

    def marks(self, count: int) -> str:
        """*count* placeholders, separated by commas."""
        return ", ".join([self.mark] * count)

    def claimed_outbox(self, count: int) -> str:
        """The ``INSERT`` of *count* outbox rows written claimed (``CLAIMED_OUTBOX_COLUMNS``)."""
        row = f"({self.marks(len(CLAIMED_OUTBOX_COLUMNS))})"
        return (f"INSERT INTO {self.p}outbox ({_cols(CLAIMED_OUTBOX_COLUMNS)}) VALUES "
                + ", ".join([row] * count))

    def stream(self, table: str, columns: Sequence[str], *, since: bool, size: int) -> str:
        """A page of *table*'s rows after a position (at or after a time, if *since*)."""
        m = self.mark
        where = f"position > {m}" + (f" AND at_us >= {m}" if since else "")
        return (f"SELECT position, {_cols(columns)} FROM {self.p}{table} WHERE {where} "
                f"ORDER BY position LIMIT {size}")

    def handoff_query(
        self, *, status: str | None, team: str | None, assignee: str | None,
        lead_id: str | None, due_before: datetime | None,
    ) -> tuple[str, tuple[Any, ...]]:
        """The ``SELECT`` of a handoff query and its arguments.

        Rows come in the order every store answers: by due time (none last), then id.
        """
        clauses: list[str] = []
        args: list[Any] = []
        for column, value in (("status", status), ("to_team", team), ("assignee", assignee),
                              ("lead_id", lead_id)):
            if value is not None:
                clauses.append(f"{column} = {self.mark}")
                args.append(value)
        if due_before is not None:
            clauses.append(f"due_us < {self.mark}")
            args.append(s.us(require_aware(due_before, "due_before")))
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        return (f"SELECT {_cols(s.HANDOFF_COLUMNS)} FROM {self.p}handoffs{where} "
                f"ORDER BY CASE WHEN due_us IS NULL THEN 1 ELSE 0 END, due_us, id"), tuple(args)


class BatchWriter:
    """Writes a checked :class:`_Batch` (or a merge) through a DB-API :class:`Cursor`.

    Shared by the stores that send SQL text; each gives its statements and its driver's
    ``IntegrityError`` (``SQLAlchemyStore``: SQLAlchemy's, its cursor on a ``Connection``).
    """

    def __init__(self, sql: Statements, integrity: type[Exception]) -> None:
        self.sql = sql
        self.integrity = integrity

    def update_rows(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """``lead_update_params`` rows for the statements' ``update_lead`` (see *owner_flag*)."""
        if not self.sql.owner_flag:
            return rows
        return [(*row, int(row[-1] is None)) for row in rows]

    def write(self, cur: Cursor, batch: _Batch, *, fast: bool) -> list[int]:
        """Write *batch* (one statement per table if *fast*, else change by change).

        Answers the ids of the outbox rows written claimed.  The fast path raises
        :class:`_Retry` when a lead was not as expected: the transaction must roll back.
        """
        if not fast:
            return self.sequential(cur, batch)
        sql = self.sql
        if batch.inserts:
            try:
                cur.executemany(sql.insert_lead, batch.inserts)
            except self.integrity:
                raise _Retry from None
        if batch.updates:
            cur.executemany(sql.update_lead, self.update_rows(batch.updates))
            if cur.rowcount != len(batch.updates):
                raise _Retry
        return self.children(cur, batch.rows, claim=batch.claim)

    def sequential(self, cur: Cursor, batch: _Batch) -> list[int]:
        """Write *batch* change by change, with the exact error of the first that fails."""
        sql = self.sql
        ids: list[int] = []
        many = batch.size > 1
        for index, (change, row) in enumerate(batch.per_change):
            where = f"change {index + 1} of {batch.size}: " if many else ""
            lead = change.lead
            if change.expected_version is None:
                try:
                    cur.execute(sql.create_lead, row)
                    created = cur.rowcount == 1
                except self.integrity:
                    created = False
                if not created:
                    raise AlreadyExists(
                        f"{where}lead {lead.id!r} exists already; load it instead of creating "
                        f"it")
            else:
                cur.execute(sql.update_lead, self.update_rows([row])[0])
                if cur.rowcount != 1:
                    cur.execute(sql.lead_version, (lead.id,))
                    found = cur.fetchone()
                    if found is None:
                        raise NotFound(f"{where}no lead {lead.id!r} in this store")
                    raise version_conflict(change, found[0], found[1], where)
            ids += self.children(cur, _Rows.of(change), where=where, claim=batch.claim)
        return ids

    def children(self, cur: Cursor, rows: _Rows, *, where: str = "",
                 claim: tuple[str, int] | None = None) -> list[int]:
        """Insert the child rows; answers the outbox rows' ids when they are written claimed."""
        sql = self.sql
        transitions, touchpoints, handoffs, outbox = rows
        if transitions:
            try:
                cur.executemany(sql.insert_transition, transitions)
            except self.integrity:
                raise ConcurrencyError(
                    f"{where}a transition with the same lead and version is stored already: "
                    f"someone else moved the lead first; load it again and retry") from None
        if touchpoints:
            cur.executemany(sql.insert_touchpoint, touchpoints)
        for h in handoffs:
            cur.execute(sql.replace_handoff, (*h[1:], h[0]))
            if cur.rowcount == 1:
                continue
            cur.execute(sql.handoff_status, (h[0],))
            found = cur.fetchone()
            if found is not None:
                raise ConcurrencyError(
                    f"{where}handoff {h[0]!r} is {found[0]} already; only a pending handoff can "
                    f"change: load it again")
            try:
                cur.execute(sql.insert_handoff, h)
            except self.integrity:
                raise ConcurrencyError(
                    f"{where}handoff {h[0]!r} was stored by someone else at the same moment; "
                    f"load it again") from None
        if not outbox:
            return []
        try:
            if claim is None:
                cur.executemany(sql.insert_outbox, outbox)
                return []
            return self.insert_claimed(cur, outbox, claim)
        except self.integrity:
            raise AlreadyExists(
                f"{where}an outbox key among {[m[0] for m in outbox][:5]!r} is used already; "
                f"outbox keys must be unique in a store") from None

    def insert_claimed(self, cur: Cursor, outbox: list[tuple[Any, ...]],
                       claim: tuple[str, int]) -> list[int]:
        """Insert *outbox* rows claimed (*claim*: worker, lease end in us); answers their ids."""
        cur.executemany(self.sql.insert_claimed_outbox, claimed_outbox_params(outbox, claim))
        # One writer holds the transaction: AUTOINCREMENT gave the rows consecutive ids.
        cur.execute("SELECT last_insert_rowid()")
        (last,) = cur.fetchone()
        return list(range(last - len(outbox) + 1, last + 1))

    def merge(self, cur: Cursor, batch: _Batch, merge: MergeRecord,
              where: str = "") -> MergeRecord:
        """Write a merge's two changes (*batch*), move the touchpoints and write its record.

        For an undone *merge*, the touchpoints move back and the record is marked undone.
        Answers the record written.
        """
        sql = self.sql
        self.sequential(cur, batch)
        cur.execute(sql.merge_exists, (merge.id,))
        found = cur.fetchall()
        if merge.active:
            if found:
                raise AlreadyExists(f"merge {merge.id!r} is stored already; load the leads again")
            cur.execute(sql.positions, (merge.duplicate_id,))
            moved = tuple(int(position) for (position,) in cur.fetchall())
            if moved:
                cur.execute(sql.move_all, (merge.survivor_id, merge.duplicate_id))
            merge = attrs.evolve(merge, touchpoints=moved)
            cur.execute(sql.insert_merge, s.merge_params(merge, moved))
            return merge
        if not found:
            raise no_merge(merge.id, where)
        for position in merge.touchpoints:
            cur.execute(sql.move_back, (merge.duplicate_id, position, merge.survivor_id))
        cur.execute(sql.undo_merge, s.unmerge_params(merge))
        if cur.rowcount != 1:
            raise merge_undone(merge.id, f"{where}: " if where else "")
        return merge

    def claim_due(self, cur: Cursor, worker: str, *, now_us: int, until_us: int, limit: int,
                  lock: str = "") -> list[Any]:
        """Claim up to *limit* due rows for *worker*: their ``OUTBOX_READ_COLUMNS``, by id.

        *lock* ends the ``SELECT`` of the due rows (``FOR UPDATE SKIP LOCKED``).
        """
        sql = self.sql
        cur.execute(sql.outbox_due + lock, (now_us, now_us, limit))
        ids = [i for (i,) in cur.fetchall()]
        if not ids:
            return []
        marks = sql.marks(len(ids))
        cur.execute(f"{sql.claim}({marks})", (worker, until_us, *ids))
        cur.execute(f"{sql.select_outbox} WHERE id IN ({marks}) ORDER BY id", ids)
        return [tuple(r) for r in cur.fetchall()]


class SQLTextStore:
    """The store methods ``SQLiteStore``, ``DjangoStore`` and ``SQLAlchemyStore`` share, once.

    Both send SQL text through a DB-API cursor, so each read, outbox step and batch is the same.

    A store gives its statements (``_sql``), its writer (``_writer``), and the few things that
    truly differ: how it reads (``_fetch``) and writes (``_write``: a transaction, or a savepoint
    of the host's), whether it is open (``_check_open``) and how errors name it (``_place``).
    """

    _sql: Statements
    _writer: BatchWriter
    max_data_size: int
    _MERGE_PLACE = False  # whether a merge's errors name the store (DjangoStore's do)

    def _fetch(self, sql: str, args: Sequence[Any]) -> list[Any]:
        """The rows *sql* selects with *args*."""
        raise NotImplementedError

    def _write(self, work: Callable[[Cursor], T]) -> T:
        """Run *work* in one transaction (or a savepoint of the host's), all or nothing."""
        raise NotImplementedError

    def _check_open(self) -> None:
        """Raise :class:`~funnelkit.StorageError` when the store is closed."""
        raise NotImplementedError

    def _place(self) -> str:
        """The store as errors name it (its file, its database)."""
        raise NotImplementedError

    @property
    def schema_version(self) -> int:
        """The schema version of the tables (the one this funnelkit writes once opened)."""
        return int(self._fetch(self._sql.schema_version, (s.SCHEMA_NAME,))[0][0])

    # -- commits ----------------------------------------------------------------------------

    def load(self, lead_id: str) -> Lead:
        """The lead with this id; :class:`~funnelkit.NotFound` if there is none."""
        if not findable(lead_id, "lead_id"):
            self._check_open()
            raise no_lead(lead_id, self._place())
        rows = self._fetch(self._sql.select_lead, (lead_id,))
        if not rows:
            raise no_lead(lead_id, self._place())
        return s.decode_lead(rows[0])

    def _commit_batch(self, batch: _Batch) -> list[int]:
        """Write a checked batch in one transaction; answers the ids of claimed outbox rows."""
        if not batch.size:
            return []
        writer = self._writer
        try:
            return self._write(lambda cur: writer.write(cur, batch, fast=batch.fast_ok))
        except _Retry:
            # Some lead was not at its expected version: find which, with exact errors.
            return self._write(lambda cur: writer.sequential(cur, batch))

    def commit_merge(self, survivor: Change, duplicate: Change, merge: MergeRecord) -> MergeRecord:
        """Write a merge (or, for an undone *merge*, an unmerge) in one transaction.

        See :class:`~funnelkit.stores.Store` for what is written; all of it, or nothing.
        """
        merge = check_merge_commit(survivor, duplicate, merge)
        batch = _Batch((survivor, duplicate), self.max_data_size)
        where = self._place() if self._MERGE_PLACE else ""
        return self._write(lambda cur: self._writer.merge(cur, batch, merge, where))

    def merges(self, *, lead_id: str | None = None, active_only: bool = False) -> list[MergeRecord]:
        """The merge records, oldest first (see :class:`~funnelkit.stores.Store`)."""
        check_flag(active_only, "active_only")
        self._check_open()
        if lead_id is not None and not findable(lead_id, "lead_id"):
            return []
        sql = self._sql
        clauses = ([] if lead_id is None else [sql.merges_of_lead]) + (
            ["unmerged_at IS NULL"] if active_only else [])
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        args = () if lead_id is None else (lead_id, lead_id)
        rows = self._fetch(f"{sql.select_merges}{where} ORDER BY position", args)
        return [s.decode_merge(r) for r in rows]

    # -- reads ------------------------------------------------------------------------------

    def _lead_rows(self, sql: str, lead_id: str) -> list[Any]:
        """The rows *sql* selects for one lead; NotFound when there are none and no such lead."""
        if not findable(lead_id, "lead_id"):
            self._check_open()
            raise no_lead(lead_id, self._place())
        rows = self._fetch(sql, (lead_id,))
        if not rows and not self._fetch(self._sql.lead_version, (lead_id,)):
            raise no_lead(lead_id, self._place())
        return rows

    def history(self, lead_id: str) -> list[Transition]:
        """The lead's transitions, oldest first."""
        return [s.decode_transition(r) for r in self._lead_rows(self._sql.select_history, lead_id)]

    def touchpoints(self, lead_id: str) -> list[Touchpoint]:
        """The lead's touchpoints by time."""
        rows = self._lead_rows(self._sql.select_touchpoints, lead_id)
        return [s.decode_touchpoint(r) for r in rows]

    def leads(self, *, stage: str | None = None) -> Iterator[Lead]:
        """Every lead (in one stage when *stage* is given), in id order, read page by page."""
        self._check_open()
        if stage is not None and not findable(stage, "stage"):
            return iter(())
        return self._lead_pages(stage)

    def _lead_pages(self, stage: str | None) -> Iterator[Lead]:
        sql = self._sql.leads_page.format("" if stage is None else f"stage = {self._sql.mark} AND ")
        last = ""
        while True:
            rows = self._fetch(sql, (last,) if stage is None else (stage, last))
            for row in rows:
                yield s.decode_lead(row)
            if len(rows) < _PAGE:
                return
            last = rows[-1][0]

    def _stream(self, table: str, columns: Sequence[str], decode: Callable[[Any], T], *,
                after: int, since: datetime | None, limit: int | None) -> Iterator[tuple[int, T]]:
        check_stream(after, since, limit)
        self._check_open()
        return self._pages(table, columns, decode, after=after,
                           since_us=None if since is None else s.us(since), left=limit)

    def _pages(self, table: str, columns: Sequence[str], decode: Callable[[Any], T], *,
               after: int, since_us: int | None, left: int | None) -> Iterator[tuple[int, T]]:
        while left is None or left > 0:
            size = _PAGE if left is None else min(_PAGE, left)
            sql = self._sql.stream(table, columns, since=since_us is not None, size=size)
            rows = self._fetch(sql, (after,) if since_us is None else (after, since_us))
            for row in rows:
                yield int(row[0]), decode(row[1:])
            if len(rows) < size:
                return
            after = int(rows[-1][0])
            if left is not None:
                left -= len(rows)

    def transitions(
        self, *, after: int = 0, since: datetime | None = None, limit: int | None = None
    ) -> Iterator[tuple[int, Transition]]:
        """Every transition with its position (increasing, > *after*), at or after *since*."""
        return self._stream("transitions", s.TRANSITION_COLUMNS, s.decode_transition,
                            after=after, since=since, limit=limit)

    def touchpoint_stream(
        self, *, after: int = 0, since: datetime | None = None, limit: int | None = None
    ) -> Iterator[tuple[int, Touchpoint]]:
        """Every touchpoint with its position (increasing, > *after*), at or after *since*."""
        return self._stream("touchpoints", s.TOUCHPOINT_COLUMNS, s.decode_touchpoint,
                            after=after, since=since, limit=limit)

    def handoff(self, handoff_id: str) -> Handoff:
        """The handoff with this id; :class:`~funnelkit.NotFound` if there is none."""
        if not findable(handoff_id, "handoff_id", MAX_KEY_LENGTH):
            self._check_open()
            raise no_handoff(handoff_id, self._place())
        rows = self._fetch(self._sql.select_handoff, (handoff_id,))
        if not rows:
            raise no_handoff(handoff_id, self._place())
        return s.decode_handoff(rows[0])

    def handoffs(
        self,
        *,
        status: HandoffStatus | None = None,
        team: str | None = None,
        assignee: str | None = None,
        lead_id: str | None = None,
        due_before: datetime | None = None,
    ) -> list[Handoff]:
        """Handoffs matching every filter given, by due time (none last), then id; indexed."""
        if not check_handoff_query(status, due_before, team, assignee, lead_id):
            self._check_open()
            return []
        sql, args = self._sql.handoff_query(status=status, team=team, assignee=assignee,
                                            lead_id=lead_id, due_before=due_before)
        return [s.decode_handoff(r) for r in self._fetch(sql, args)]

    # -- outbox -----------------------------------------------------------------------------

    def _release(self, row_id: int, worker: str, sets: str, args: tuple[Any, ...]) -> None:
        check_row_id(row_id)
        sql = self._sql

        def work(cur: Cursor) -> None:
            cur.execute(sql.release.format(sets), (*args, row_id, worker))
            if cur.rowcount == 0:
                cur.execute(sql.outbox_exists, (row_id,))
                if cur.fetchone() is not None:
                    raise ConcurrencyError(
                        f"outbox row {row_id} is not claimed by {worker!r} (any more): its lease "
                        f"ran out and another worker took it, or it was delivered")
                raise NotFound(f"no outbox row {row_id!r} in this store ({self._place()})")

        self._write(work)

    def ack_outbox(self, row_id: int, *, worker: str, at: datetime) -> None:
        """Mark a claimed row delivered (ConcurrencyError if *worker* lost its lease)."""
        require_aware(at)
        check_worker(worker)
        self._release(row_id, worker, f"delivered_us = {self._sql.mark}", (s.us(at),))

    def retry_outbox(self, row_id: int, *, worker: str, error: str, retry_at: datetime) -> None:
        """Release a claimed row after a failed delivery, to be tried again at *retry_at*."""
        check_retry(worker, error, retry_at)
        m = self._sql.mark
        self._release(row_id, worker, f"next_attempt_us = {m}, last_error = {m}",
                      (s.us(retry_at), str(error)))

    def purge_outbox(self, *, delivered_before: datetime) -> int:
        """Delete the rows delivered before *delivered_before*; answers how many (see ``Store``).

        ``Pipeline(outbox_retention=...)`` calls it as it delivers; a job runner may call it
        too.  Undelivered rows stay, whatever their age.  Inside a host's transaction the rows
        go when it commits.

        >>> import tempfile, pathlib
        >>> from datetime import datetime, timezone
        >>> store = SQLiteStore(pathlib.Path(tempfile.mkdtemp()) / "f.db")
        >>> store.purge_outbox(delivered_before=datetime(2026, 3, 2, tzinfo=timezone.utc))
        0
        >>> store.close()
        """
        before = s.us(require_derived(delivered_before, "delivered_before"))

        def work(cur: Cursor) -> int:
            cur.execute(self._sql.purge_outbox, (before,))
            return int(cur.rowcount)

        return self._write(work)

    def outbox(self, *, undelivered_only: bool = True) -> list[OutboxRow]:
        """The outbox rows, oldest first."""
        check_flag(undelivered_only, "undelivered_only")
        where = " WHERE delivered_us IS NULL" if undelivered_only else ""
        rows = self._fetch(f"{self._sql.select_outbox}{where} ORDER BY id", ())
        return [s.decode_outbox(r) for r in rows]


class SQLiteStore(SQLTextStore):
    """The store protocol on a SQLite file: the embedded default, standard library only.

    One file holds leads, transitions, touchpoints, handoffs and the outbox in tables named
    ``<prefix>leads``, ``<prefix>transitions``, ... (*prefix* ``"funnelkit_"`` unless given).  The
    file is put in WAL mode so readers never wait for writers; every commit is one
    ``BEGIN IMMEDIATE`` transaction, so several threads and several processes can share the
    file.  A writer waits up to *timeout* seconds for another's transaction to finish, then
    raises :class:`~funnelkit.StorageError`.

    The file may be the host application's own database: its tables stay as they are, and two
    stores with different prefixes share one file.  Missing tables are created and an older
    funnelkit schema is migrated forward.  Refused with :class:`~funnelkit.StorageError`, the
    file left exactly as it was: a file that is not a SQLite database, a schema from a newer
    funnelkit, and a clash of names (a table or index named like one of the store's that is not
    the store's: choose another *prefix*).  ``PRAGMA application_id`` is set to funnelkit's
    only in a database that was empty; a host's is never changed.

    ``synchronous="NORMAL"`` (the default, what SQLite recommends with WAL) keeps every commit
    through a crash of the process or of the host application; ``"FULL"`` also through a power
    cut, at a cost in commits per second.  *max_data_size* (characters of JSON, 1 MiB by
    default) limits a lead's attributes and a touchpoint's data.

    >>> import tempfile, pathlib
    >>> from datetime import datetime, timezone
    >>> from funnelkit import templates
    >>> from funnelkit.stores import Change
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "funnel.db"
    >>> store = SQLiteStore(path)
    >>> lead = templates.inbound().new_lead("L1", at=datetime(2026, 3, 2, tzinfo=timezone.utc))
    >>> store.commit(Change(lead, expected_version=None))
    >>> store.load("L1") == lead
    True
    >>> store.close()
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float = 5.0,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
        max_data_size: int = MAX_DATA_SIZE,
        prefix: str = PREFIX,
    ) -> None:
        """Open (creating or migrating if needed) the store in the SQLite file at *path*."""
        given: object = path
        if not isinstance(given, str | os.PathLike):
            raise InvalidInput(f"path={path!r} must be a file path (str or pathlib.Path)")
        seconds: object = timeout
        if (isinstance(seconds, bool) or not isinstance(seconds, int | float)
                or not 0 <= seconds <= _MAX_TIMEOUT):
            raise InvalidInput(
                f"timeout={timeout!r} must be a number of seconds from 0 to {_MAX_TIMEOUT:,}")
        if synchronous not in ("NORMAL", "FULL"):
            raise InvalidInput(f"synchronous={synchronous!r} must be 'NORMAL' or 'FULL'")
        self.max_data_size = check_max_data_size(max_data_size)
        self.prefix = check_prefix(prefix)
        """The table prefix (``"funnelkit_"`` unless given)."""
        self.path = os.fspath(path)
        if "\x00" in self.path:
            raise InvalidInput(f"path={path!r} contains a NUL character; no file has that name")
        self.timeout = float(timeout)
        self.synchronous = synchronous
        self._sql = Statements(self.prefix)
        self._writer = BatchWriter(self._sql, sqlite3.IntegrityError)
        self._lock = threading.RLock()
        self._closed = False
        self._pid = os.getpid()
        self._db: sqlite3.Connection | None = None
        self._db = self._open()
        # Set on the views join() returns: the store joined and the host's connection.
        self._parent: SQLiteStore | None = None
        self._host: sqlite3.Connection | None = None
        self._file = _main_file(self._db)  # (as SQLite names it, its real path)
        self.deliver_on_commit: Callable[[], object] | None = None
        """What ``Pipeline.using`` asks a joined store to call once the host commits; a
        ``sqlite3.Connection`` has no commit event, so it is kept and never called (see
        :meth:`join`).  None outside a joined store."""

    # -- connection and schema --------------------------------------------------------------

    def _refuse(self, why: str) -> StorageError:
        return StorageError(
            f"{self.path} {why}; funnelkit left the file as it was: point SQLiteStore at a new "
            f"file or at a funnelkit store"
        )

    def _open(self) -> sqlite3.Connection:
        memory = self.path == ":memory:" or self.path.startswith("file::memory:")
        if not memory and Path(self.path).is_dir():
            raise self._refuse("is a directory, not a SQLite file")
        try:
            db = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None,
                                 check_same_thread=False)
        except sqlite3.Error as e:
            raise StorageError(f"cannot open SQLite file {self.path}: {e}") from e
        try:
            db.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            self._check_and_migrate(db, memory=memory)
            db.execute(f"PRAGMA synchronous = {self.synchronous}")
        except sqlite3.DatabaseError as e:
            db.close()
            if isinstance(e, sqlite3.OperationalError) and "locked" in str(e):
                raise self._translate(e) from e
            raise self._refuse(f"is not a SQLite database funnelkit can use ({e})") from e
        except BaseException:
            db.close()
            raise
        return db

    def _version(self, db: sqlite3.Connection) -> tuple[int | None, bool]:
        """The store's schema version in *db* (None: no store yet), and whether *db* is empty.

        Other tables (the host's, another prefix's) are left alone; a table or index named like
        one of the store's is refused unless the store's schema table is there to vouch for it.
        """
        p = self.prefix
        objects = dict(db.execute(
            "SELECT name, type FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchall())
        if f"{p}schema" not in objects:
            ours = [f"{p}{name}" for name in (*TABLES, *INDEXES)]
            clash = [f"{objects[name]} {name}" for name in ours if name in objects]
            if clash:
                raise self._refuse(
                    f"has {', '.join(clash[:5])}, named like the store's own with "
                    f"prefix={p!r} but not made by funnelkit (there is no {p}schema table); "
                    f"open the store with another prefix=, or rename yours")
            return None, not any(kind == "table" for kind in objects.values())
        if objects[f"{p}schema"] != "table":
            raise self._refuse(f"has a {objects[f'{p}schema']} named {p}schema, not funnelkit's "
                               f"schema table; open the store with another prefix=")
        row = db.execute(self._sql.schema_version, (s.SCHEMA_NAME,)).fetchone()
        if row is None or type(row[0]) is not int:
            raise self._refuse(f"has a {p}schema table without a funnelkit version in it")
        version: int = row[0]
        if version > s.SCHEMA_VERSION:
            raise self._refuse(
                f"has funnelkit schema version {version}, newer than the {s.SCHEMA_VERSION} this "
                f"funnelkit understands; upgrade funnelkit to open it"
            )
        return version, False

    def _check_and_migrate(self, db: sqlite3.Connection, *, memory: bool) -> None:
        version, _ = self._version(db)  # read-only: refuses before anything is written
        if version == s.SCHEMA_VERSION:
            return
        if not memory:
            db.execute("PRAGMA journal_mode = WAL")
        db.execute("BEGIN IMMEDIATE")
        p = self.prefix
        try:
            version, empty = self._version(db)  # again, now that no one else can write
            (app_id,) = db.execute("PRAGMA application_id").fetchone()
            if empty and app_id == 0:  # the file is funnelkit's alone: say so; a host's stays
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            start = 0 if version is None else version
            for target in range(start + 1, s.SCHEMA_VERSION + 1):
                MIGRATIONS[target](db, p)
            if version is None:
                db.execute(f"INSERT INTO {p}schema (name, version) VALUES (?, ?)",
                           (s.SCHEMA_NAME, s.SCHEMA_VERSION))
            else:
                db.execute(f"UPDATE {p}schema SET version = ? WHERE name = ?",
                           (s.SCHEMA_VERSION, s.SCHEMA_NAME))
            db.execute("COMMIT")
        except BaseException as e:
            db.execute("ROLLBACK")
            if isinstance(e, StorageError):
                raise StorageError(f"{self.path}: {e}") from e
            raise

    # -- the host's transaction -------------------------------------------------------------

    def join(
        self, host: sqlite3.Connection, *,
        deliver_on_commit: Callable[[], object] | None = None,
    ) -> SQLiteStore:
        """This store, writing inside the transaction the host holds on *host*.

        *host* is a standard library ``sqlite3.Connection`` to the store's own file.  The store
        returned shares everything with this one but the connection: reads go through *host*
        (so they see the host's uncommitted rows), and every commit is a ``SAVEPOINT`` of the
        host's transaction, released when the whole unit is written and rolled back to when any
        of it fails, so the lead's change and its outbox rows commit, or roll back, with the
        host's own rows.  The store never commits nor rolls back the host's transaction.

        No transaction open on *host* when a commit comes: with the driver's implicit
        transactions (``isolation_level`` a string, the default) the store begins the one the
        driver would have begun before the host's next write, as ``BEGIN IMMEDIATE`` (a write
        is coming), and the host's ``commit()`` or ``rollback()`` ends it; in autocommit
        (``isolation_level=None``) that transaction would be no one's to end, so the commit is
        refused with :class:`~funnelkit.HostTransactionError`: execute ``BEGIN`` first.

        A version conflict rolls back the savepoint only and raises
        :class:`~funnelkit.ConcurrencyError`: roll the host's transaction back and run it
        again.  :meth:`claim_outbox` hands out no row inside the host's transaction, and a
        ``sqlite3.Connection`` has no commit event: deliver after the commit
        (``pipeline.deliver_pending()``).  *deliver_on_commit* is accepted for ``Pipeline.using``
        and never called.

        Refused, with nothing done: a *host* that is not a ``sqlite3.Connection`` (a callable
        *deliver_on_commit* that is not one), :class:`~funnelkit.InvalidInput`; a closed
        connection or one whose main database is another file than the store's (an in-memory
        store has no file to share), :class:`~funnelkit.HostTransactionError`.

        >>> import sqlite3, tempfile, pathlib
        >>> from datetime import datetime, timezone
        >>> from funnelkit import templates
        >>> from funnelkit.stores import Change
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "app.db"
        >>> store = SQLiteStore(path)
        >>> lead = templates.inbound().new_lead("L1", at=datetime(2026, 3, 2, tzinfo=timezone.utc))
        >>> conn = sqlite3.connect(path)
        >>> store.join(conn).commit(Change(lead, expected_version=None))
        >>> conn.rollback()  # the host changes its mind: the lead goes with its transaction
        >>> list(store.leads())
        []
        >>> conn.close(); store.close()
        """
        if self._parent is not None:  # a view of a view joins the store itself
            return self._parent.join(host, deliver_on_commit=deliver_on_commit)
        self._conn()
        check_deliver_on_commit(deliver_on_commit)
        if not isinstance(host, sqlite3.Connection):
            raise InvalidInput(
                f"host={_short(host)} is not a sqlite3.Connection; pass the connection whose "
                f"transaction the lead's changes should join (a SQLAlchemy Connection or Session "
                f"joins SQLAlchemyStore)")
        try:
            found = _main_file(host, self._file)
        except sqlite3.ProgrammingError:
            raise HostTransactionError(
                f"the sqlite3.Connection {host!r} is closed; open a new one, begin your "
                f"transaction and join that") from None
        except sqlite3.Error as e:
            raise self._translate(e) from e
        if not found[1] or found[1] != self._file[1]:
            raise HostTransactionError(
                f"host is a connection to {found[1] or 'an in-memory database'!r}, another "
                f"database than the store's ({self._file[1] or self.path!r}): one transaction "
                f"cannot span two databases; connect to the store's file, or open the store on "
                f"yours")
        joined = object.__new__(type(self))  # a shallow copy (copy.copy, without its detours)
        joined.__dict__.update(self.__dict__)
        joined._parent, joined._host = self, host
        joined._lock = threading.RLock()  # the host's connection, not the store's, is used
        joined.deliver_on_commit = deliver_on_commit
        return joined

    def _host_conn(self) -> sqlite3.Connection:
        """The host's connection (a joined store's; see :meth:`join`), checked usable."""
        parent, host = self._parent, self._host
        assert parent is not None  # only joined stores get here
        assert host is not None
        if self._closed or parent._closed:
            raise StorageError(f"this SQLiteStore ({self.path}) is closed; open a new one")
        try:
            host.in_transaction  # noqa: B018 - raises when the host closed its connection
        except sqlite3.ProgrammingError:
            raise HostTransactionError(
                f"{self.path}: the host's sqlite3.Connection was closed; nothing was written: "
                f"join the connection of your new transaction") from None
        return host

    def _in_host(self, work: Callable[[Cursor], T]) -> T:
        """Run *work* in a ``SAVEPOINT`` of the host's transaction: all of it or nothing."""
        db = self._host_conn()
        try:
            if not db.in_transaction:
                if db.isolation_level is None:
                    raise HostTransactionError(
                        f"{self.path}: the host's sqlite3.Connection has no transaction open "
                        f"(isolation_level=None: each statement commits on its own), so the "
                        f"change would be committed alone; nothing was written: execute BEGIN "
                        f"on it first, and COMMIT once your unit of work is done")
                # The driver begins the host's transaction only before its first INSERT,
                # UPDATE or DELETE: begin it as the driver would have, IMMEDIATE as a write is
                # coming.  The host's commit() or rollback() ends it.
                db.execute("BEGIN IMMEDIATE")
            db.execute("SAVEPOINT funnelkit_unit")
        except sqlite3.Error as e:
            raise self._translate(e) from e
        try:
            result = _on_cursor(db, work)
            db.execute("RELEASE funnelkit_unit")
        except BaseException as e:
            if not db.in_transaction:  # SQLite ended the host's transaction itself (I/O, ...)
                raise HostTransactionError(
                    f"{self.path}: SQLite rolled back the host's whole transaction ({e}); "
                    f"nothing of it was written: run the whole unit of work again") from e
            try:
                db.execute("ROLLBACK TO funnelkit_unit")
                db.execute("RELEASE funnelkit_unit")
            except sqlite3.Error as undo:
                raise HostTransactionError(
                    f"{self.path}: undoing a failed change inside the host's transaction "
                    f"failed too ({undo}); roll the transaction back") from e
            if getattr(e, "sqlite_errorcode", None) == _BUSY_SNAPSHOT:
                e = ConcurrencyError(
                    f"{self.path}: another connection wrote to the file after the host's "
                    f"transaction began reading it, so it cannot write; nothing was written")
            elif isinstance(e, sqlite3.Error):
                e = self._translate(e)
            if isinstance(e, ConcurrencyError):
                raise ConcurrencyError(
                    f"{e} (inside your own transaction, joined with pipeline.using(): roll it "
                    f"back and run the whole unit of work again; a retry inside it reads the "
                    f"same data)") from e
            raise e  # noqa: TRY201 - a store error instead of the driver's
        return result

    def _conn(self) -> sqlite3.Connection:
        if self._host is not None:
            return self._host_conn()
        if self._closed or self._db is None:
            raise StorageError(f"this SQLiteStore ({self.path}) is closed; open a new one")
        if os.getpid() != self._pid:
            # A forked child must not use (nor close) its parent's connection: keep it from the
            # garbage collector and open one of its own.
            _INHERITED.append(self._db)
            self._pid = os.getpid()
            self._db = self._open()
        return self._db

    def _translate(self, e: sqlite3.Error) -> StorageError:
        text = str(e)
        if isinstance(e, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
            return StorageError(
                f"{self.path} stayed locked by another writer for longer than "
                f"timeout={self.timeout}s ({text}); nothing was written: retry later, or open "
                f"the store with a longer timeout"
            )
        return StorageError(f"SQLite failed on {self.path} ({type(e).__name__}: {text}); "
                            f"nothing was written")

    def _check_open(self) -> None:
        self._conn()

    def _place(self) -> str:
        return str(self.path)

    def _fetch(self, sql: str, args: Sequence[Any]) -> list[Any]:
        with self._lock:
            db = self._conn()
            try:
                return db.execute(sql, args).fetchall()
            except sqlite3.Error as e:
                raise self._translate(e) from e

    def _write(self, work: Callable[[Cursor], T]) -> T:
        """Run *work* in one ``BEGIN IMMEDIATE`` transaction (or a savepoint of the host's)."""
        if self._host is not None:
            return self._in_host(work)
        with self._lock:
            db = self._conn()
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as e:
                raise self._translate(e) from e
            try:
                result = _on_cursor(db, work)
                db.execute("COMMIT")
            except BaseException as e:
                try:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                except sqlite3.Error:  # the connection is broken: start a new one next time
                    self._db = None
                    self._db = self._open()
                if isinstance(e, sqlite3.Error):
                    raise self._translate(e) from e
                raise
            return result

    # -- commits ----------------------------------------------------------------------------

    # commit is defined beside commit_claimed, not in SQLTextStore: the pipeline takes a store's
    # commit_claimed shortcut only from the class whose commit is in force (``_shortcut``).
    def commit(self, change: Change) -> None:
        """Write *change* in one transaction, or nothing (see :class:`~funnelkit.stores.Store`)."""
        self.commit_many((change,))

    def commit_many(self, changes: Sequence[Change]) -> None:
        """Write every change in order in one transaction, all or nothing.

        Much faster than one :meth:`commit` per change: ``Pipeline.fire_many`` uses it.

        >>> import tempfile, pathlib
        >>> from datetime import datetime, timezone
        >>> from funnelkit import templates
        >>> from funnelkit.stores import Change
        >>> store = SQLiteStore(pathlib.Path(tempfile.mkdtemp()) / "f.db")
        >>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
        >>> store.commit_many([Change(templates.inbound().new_lead(i, at=at), None) for i in "AB"])
        >>> [lead.id for lead in store.leads()]
        ['A', 'B']
        >>> store.close()
        """
        self._commit_batch(_Batch(changes, self.max_data_size))

    def commit_claimed(self, change: Change, *, worker: str, until: datetime) -> list[int]:
        """Write *change* as :meth:`commit` does, its outbox rows claimed by *worker* until *until*.

        The optional capability of :class:`~funnelkit.stores.Store`: one transaction, which
        answers the rows' ids in the change's order; each counts one attempt.

        >>> import tempfile, pathlib
        >>> from datetime import datetime, timedelta, timezone
        >>> from funnelkit import templates
        >>> from funnelkit.stores import Change, OutboxMessage
        >>> store = SQLiteStore(pathlib.Path(tempfile.mkdtemp()) / "f.db")
        >>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
        >>> lead = templates.inbound().new_lead("L1", at=at)
        >>> message = OutboxMessage("L1:0", "after_capture", {"lead_id": "L1"}, at)
        >>> store.commit_claimed(Change(lead, None, outbox=[message]), worker="w1",
        ...                      until=at + timedelta(minutes=5))
        [1]
        >>> store.claim_outbox(worker="w2", now=at, lease=timedelta(minutes=5))  # w1 holds it
        []
        >>> store.close()
        """
        change = check_commit_claimed(change, worker, until)
        return self._commit_batch(_Batch((change,), self.max_data_size,
                                         claim=(worker, s.us(until))))

    # -- outbox -----------------------------------------------------------------------------

    def claim_outbox(
        self, *, worker: str, now: datetime, lease: timedelta, limit: int = 100
    ) -> list[OutboxRow]:
        """Claim up to *limit* due, undelivered rows not leased by another worker, oldest first.

        A joined store (see :meth:`join`) claims nothing inside the host's transaction.
        """
        check_claim(worker, now, lease, limit)
        if self._host is not None:  # after-hooks never run for a change that may roll back
            self._conn()
            return []
        now_us, until_us = s.us(now), s.us(now + lease)
        rows = self._write(lambda cur: self._writer.claim_due(
            cur, worker, now_us=now_us, until_us=until_us, limit=limit))
        return [s.decode_outbox(r) for r in rows]

    def close(self) -> None:
        """Close the connection; the store raises :class:`~funnelkit.StorageError` afterwards.

        A joined store (see :meth:`join`) closes only itself: the store's connection and the
        host's stay open.
        """
        with self._lock:
            self._closed = True
            db, self._db = self._db, None
            if db is not None and os.getpid() == self._pid and self._parent is None:
                db.close()

    def __repr__(self) -> str:
        joined = "" if self._host is None else ", joined to the host's sqlite3.Connection"
        return f"SQLiteStore({self.path!r}{joined})"


_BUSY_SNAPSHOT = 517  # SQLITE_BUSY_SNAPSHOT: a read transaction too old to write in WAL mode


def _main_file(db: sqlite3.Connection, known: tuple[str, str] = ("", "")) -> tuple[str, str]:
    """*db*'s main database file as SQLite names it and its real path (``""`` in memory).

    A name equal to *known*'s is *known* (no path to resolve, as when a host joins again).
    """
    for _, name, file in db.execute("PRAGMA database_list"):
        if name == "main":
            if not file or file == known[0]:
                return (file, known[1] if file else "")
            return (file, os.path.realpath(file))
    return ("", "")  # pragma: no cover - SQLite always lists main


#: The columns of an outbox row written claimed (``commit_claimed``), in the order of
#: :func:`claimed_outbox_params`.
CLAIMED_OUTBOX_COLUMNS = (*s.OUTBOX_COLUMNS, "claimed_by", "claimed_until_us")


def check_deliver_on_commit(deliver_on_commit: object) -> None:
    """Refuse a ``join(deliver_on_commit=...)`` that is neither a callable nor None."""
    if deliver_on_commit is not None and not callable(deliver_on_commit):
        raise InvalidInput(f"deliver_on_commit={_short(deliver_on_commit)} must be a callable "
                           f"taking no arguments, or None")


def _on_cursor(db: sqlite3.Connection, work: Callable[[Cursor], T]) -> T:
    """*work* on a cursor of *db*, closed after it (no statement left in progress)."""
    cur = db.cursor()
    try:
        return work(cur)
    finally:
        cur.close()


def claimed_outbox_params(outbox: Sequence[tuple[Any, ...]],
                          claim: tuple[str, int]) -> list[tuple[Any, ...]]:
    """*outbox* rows (``s.outbox_params``) written claimed: *claim* is (worker, lease end in us).

    One attempt is counted, as :meth:`~funnelkit.stores.Store.claim_outbox` would leave them.
    """
    return [(*m[:4], 1, m[5], *claim) for m in outbox]


class _Rows(NamedTuple):
    """The child rows of one or more changes, ready for ``executemany``."""

    transitions: list[tuple[Any, ...]]
    touchpoints: list[tuple[Any, ...]]
    handoffs: list[tuple[Any, ...]]
    outbox: list[tuple[Any, ...]]

    @classmethod
    def of(cls, change: Change) -> _Rows:
        """The rows of one change (checked when its batch was built)."""
        return cls([s.transition_params(t) for t in change.transitions],
                   [s.touchpoint_params(t, _UNLIMITED) for t in change.touchpoints],
                   [s.handoff_params(h) for h in change.handoffs],
                   [s.outbox_params(m) for m in change.outbox])


class _Retry(Exception):  # noqa: N818 - an internal signal, not an error users see
    """The fast path found a lead not at its expected version; redo the batch one by one."""


class _Batch:
    """One ``commit_many`` call turned into rows, checked before any transaction starts."""

    def __init__(self, changes: Sequence[Change], limit: int = MAX_DATA_SIZE,
                 claim: tuple[str, int] | None = None) -> None:
        """*claim* (worker, lease end in microseconds) writes the outbox rows claimed."""
        self.claim = claim
        changes = changes_of(changes)
        inserts: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        transitions: list[tuple[Any, ...]] = []
        touchpoints: list[tuple[Any, ...]] = []
        handoffs: list[tuple[Any, ...]] = []
        outbox: list[tuple[Any, ...]] = []
        keys: set[str] = set()
        created: set[str] = set()
        moved: set[str] = set()
        per_change: list[tuple[Change, tuple[Any, ...]]] = []
        for change in changes:
            if type(change) is not Change and not isinstance(change, Change):
                raise InvalidInput(f"commit takes funnelkit.stores.Change values, got {change!r}")
            lead = change.lead
            expected = change.expected_version
            if expected is None:
                row = s.lead_insert_params(lead, limit)
                inserts.append(row)
                created.add(lead.id)
            else:
                row = s.lead_update_params(lead, expected, change.expected_owner, limit)
                updates.append(row)
                moved.add(lead.id)
            per_change.append((change, row))
            if change.transitions:
                transitions.extend(map(s.transition_params, change.transitions))
            if change.touchpoints:
                touchpoints.extend(s.touchpoint_params(tp, limit) for tp in change.touchpoints)
            if change.handoffs:
                handoffs.extend(map(s.handoff_params, change.handoffs))
            for m in change.outbox:
                if m.key in keys:
                    raise AlreadyExists(
                        f"outbox key {m.key!r} appears twice in one commit; outbox keys must be "
                        f"unique in a store")
                keys.add(m.key)
                outbox.append(s.outbox_params(m))
        self.size = len(per_change)
        self.per_change = per_change
        self.inserts, self.updates = inserts, updates
        self.rows = _Rows(transitions, touchpoints, handoffs, outbox)
        # Creating and moving one lead in one batch needs the statements in the callers' order.
        self.fast_ok = not (created & moved)


_UNLIMITED = 2**63  # rows rebuilt from a batch whose data sizes were checked already
