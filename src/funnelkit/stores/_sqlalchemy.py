"""``SQLAlchemyStore``: the store protocol on PostgreSQL, MariaDB/MySQL or SQLite, via SQLAlchemy 2.

Needs the ``funnelkit[sqlalchemy]`` extra; :mod:`funnelkit.stores` imports this module (and
SQLAlchemy) only when :class:`SQLAlchemyStore` is first asked for.
"""

from __future__ import annotations

import copy
import logging
import os
import re
import threading
from typing import TYPE_CHECKING, Any, TypeVar

from funnelkit._core.errors import (
    AlreadyExists,
    ConcurrencyError,
    FunnelError,
    HostTransactionError,
    InvalidInput,
    MissingExtra,
    StorageError,
)
from funnelkit._core.limits import MAX_DATA_SIZE, _short
from funnelkit.stores import _schema as s
from funnelkit.stores._protocol import (
    Change,
    OutboxRow,
    check_claim,
    check_commit_claimed,
    check_flag,
    check_max_data_size,
    check_prefix,
    findable,
    no_lead,
)
from funnelkit.stores._sqlite import (
    ADDED_IN_2,
    CLAIMED_OUTBOX_COLUMNS,
    BatchWriter,
    Cursor,
    SQLTextStore,
    Statements,
    _Batch,
    _Retry,
    check_deliver_on_commit,
    claimed_outbox_params,
)

try:
    import sqlalchemy as sa
    from sqlalchemy import exc as sa_exc
    from sqlalchemy.dialects import mysql, postgresql
    from sqlalchemy.ext.compiler import compiles
    from sqlalchemy.schema import CreateColumn
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise MissingExtra(
        "SQLAlchemyStore needs SQLAlchemy 2: install the extra with "
        "pip install 'funnelkit[sqlalchemy]'"
    ) from e

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime, timedelta

    from sqlalchemy.engine import URL, Connection, Engine
    from sqlalchemy.orm import Session

    from funnelkit._core.lead import Lead

__all__ = ["SQLAlchemyStore"]

T = TypeVar("T")
log = logging.getLogger("funnelkit.stores")
_PAGE = 1000
_TABLES = ("schema", "leads", "transitions", "touchpoints", "handoffs", "outbox")


_NAME_LENGTH = 255  # characters: ids, names and keys (see funnelkit._core.limits)


class BinaryName(mysql.VARCHAR):
    """``VARCHAR(255)`` compared byte for byte on MariaDB and MySQL, whatever the URL says.

    The collation must be binary *and* ``NO PAD``: under a ``PAD SPACE`` collation (MariaDB's
    ``utf8mb4_bin``, MySQL's ``utf8mb4_bin``) ``'K1 '`` equals ``'K1'``, so two ids would collide
    and ``' '`` would sort with ``''``.  MariaDB calls the right one ``utf8mb4_nopad_bin``, MySQL 8
    ``utf8mb4_0900_bin``; which server is on the other end is known only once connected (a
    ``mysql://`` URL may reach MariaDB), so the collation is chosen when the DDL is compiled.
    """


@compiles(BinaryName, "mysql")
@compiles(BinaryName, "mariadb")
def _compile_binary_name(type_: BinaryName, compiler: Any, **_: Any) -> str:
    return f"VARCHAR({type_.length}) COLLATE {binary_collation(compiler.dialect)}"


def binary_collation(dialect: Any) -> str:
    """The binary ``NO PAD`` collation of a MariaDB/MySQL server (see :class:`BinaryName`)."""
    return "utf8mb4_nopad_bin" if getattr(dialect, "is_mariadb", False) else "utf8mb4_0900_bin"


_PG_BINARY = "C"


def _name() -> Any:
    """Short strings compared exactly: ``'L1' != 'l1'`` and ``'K1 ' != 'K1'`` everywhere.

    Binary collations: ``"C"`` on PostgreSQL, :class:`BinaryName` on MariaDB/MySQL, and SQLite's
    default ``BINARY``.
    """
    return (sa.String(_NAME_LENGTH)
            .with_variant(postgresql.VARCHAR(_NAME_LENGTH, collation=_PG_BINARY), "postgresql")
            .with_variant(BinaryName(_NAME_LENGTH), "mysql", "mariadb"))


def _is_name(column: sa.Column[Any]) -> bool:
    """Whether *column* is one of the store's ids or names (made by :func:`_name`)."""
    return isinstance(column.type, sa.String) and column.type.length == _NAME_LENGTH


def _text() -> Any:
    return sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def _iso() -> Any:
    return sa.String(40)


def _serial() -> Any:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _added_us() -> Any:
    """A ``*_us`` column of schema version 2 (see :data:`ADDED_IN_2`).

    Nullable, unlike the ``*_us`` columns of version 1: migration 2 adds them with ``ALTER TABLE``
    to tables that may hold rows, where ``NOT NULL`` would need a default, and a nullable column
    without one is a change of the catalogue only (no table rewrite) on PostgreSQL, MariaDB and
    SQLite.  New tables have them nullable too, so that Alembic's autogenerate finds no
    difference between new and migrated tables.
    """
    return sa.BigInteger()


def build_metadata(*, prefix: str = "funnelkit_", schema: str | None = None) -> sa.MetaData:
    """The tables of the current schema version as SQLAlchemy ``MetaData`` (Alembic, the store).

    Table and index names start with *prefix*; *schema* is the database schema (PostgreSQL) or
    database (MySQL) they live in, None for the connection's default.

    >>> md = build_metadata(prefix="crm_")
    >>> sorted(md.tables)  # doctest: +NORMALIZE_WHITESPACE
    ['crm_handoffs', 'crm_leads', 'crm_merges', 'crm_outbox', 'crm_schema', 'crm_touchpoints',
     'crm_transitions']
    """
    p = check_prefix(prefix)
    md = sa.MetaData(schema=schema)
    sa.Table(f"{p}schema", md, sa.Column("name", _name(), primary_key=True),
             sa.Column("version", sa.Integer, nullable=False),
             mysql_charset="utf8mb4", mysql_engine="InnoDB")
    sa.Table(
        f"{p}leads", md,
        sa.Column("id", _name(), primary_key=True),
        sa.Column("stage", _name(), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("attributes", _text(), nullable=False),
        sa.Column("source_channel", _name()),
        sa.Column("source_kind", _name()),
        sa.Column("owner", _name()),
        sa.Column("created_at", _iso(), nullable=False),
        sa.Column("stage_entered_at", _iso(), nullable=False),
        sa.Column("updated_at", _iso(), nullable=False),
        # Version 2 columns come last, where ALTER TABLE puts them in migrated tables.
        sa.Column("created_us", _added_us()),
        sa.Index(f"{p}leads_stage", "stage", "id"),
        mysql_charset="utf8mb4", mysql_engine="InnoDB",
    )
    sa.Table(
        f"{p}transitions", md,
        sa.Column("position", _serial(), primary_key=True, autoincrement=True),
        sa.Column("lead_id", _name(), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("event", _name(), nullable=False),
        sa.Column("source", _name(), nullable=False),
        sa.Column("target", _name(), nullable=False),
        sa.Column("at", _iso(), nullable=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("actor", _name()),
        sa.Column("reason", _text()),
        sa.Column("decision", _text()),
        sa.Index(f"{p}transitions_lead_version", "lead_id", "version", unique=True),
        sa.Index(f"{p}transitions_at", "at_us"),
        sqlite_autoincrement=True, mysql_charset="utf8mb4", mysql_engine="InnoDB",
    )
    sa.Table(
        f"{p}touchpoints", md,
        sa.Column("position", _serial(), primary_key=True, autoincrement=True),
        sa.Column("lead_id", _name(), nullable=False),
        sa.Column("kind", _name(), nullable=False),
        sa.Column("channel", _name(), nullable=False),
        sa.Column("at", _iso(), nullable=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("points", sa.Float(53)),
        sa.Column("data", _text(), nullable=False),
        sa.Index(f"{p}touchpoints_lead", "lead_id", "at_us"),
        sa.Index(f"{p}touchpoints_at", "at_us"),
        sqlite_autoincrement=True, mysql_charset="utf8mb4", mysql_engine="InnoDB",
    )
    sa.Table(
        f"{p}handoffs", md,
        sa.Column("id", _name(), primary_key=True),
        sa.Column("lead_id", _name(), nullable=False),
        sa.Column("from_team", _name(), nullable=False),
        sa.Column("to_team", _name(), nullable=False),
        sa.Column("created_at", _iso(), nullable=False),
        sa.Column("event", _name(), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("assignee", _name()),
        sa.Column("due_at", _iso()),
        sa.Column("due_us", sa.BigInteger),
        sa.Column("status", _name(), nullable=False),
        sa.Column("resolved_at", _iso()),
        sa.Column("resolved_by", _name()),
        sa.Column("reason", _text()),
        sa.Column("created_us", _added_us()),
        sa.Column("resolved_us", _added_us()),
        sa.Index(f"{p}handoffs_status_team", "status", "to_team", "due_us"),
        sa.Index(f"{p}handoffs_assignee", "assignee", "status", "due_us"),
        sa.Index(f"{p}handoffs_lead", "lead_id"),
        sa.Index(f"{p}handoffs_due", "due_us"),
        mysql_charset="utf8mb4", mysql_engine="InnoDB",
    )
    sa.Table(
        f"{p}outbox", md,
        sa.Column("id", _serial(), primary_key=True, autoincrement=True),
        sa.Column("msg_key", _name(), nullable=False),
        sa.Column("hook", _name(), nullable=False),
        sa.Column("payload", _text(), nullable=False),
        sa.Column("created_at", _iso(), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_us", sa.BigInteger, nullable=False),
        sa.Column("claimed_by", _name()),
        sa.Column("claimed_until_us", sa.BigInteger),
        sa.Column("delivered_us", sa.BigInteger),
        sa.Column("last_error", _text()),
        sa.Index(f"{p}outbox_key", "msg_key", unique=True),
        sa.Index(f"{p}outbox_due", "delivered_us", "next_attempt_us"),
        sqlite_autoincrement=True, mysql_charset="utf8mb4", mysql_engine="InnoDB",
    )
    sa.Table(  # schema version 4
        f"{p}merges", md,
        sa.Column("position", _serial(), primary_key=True, autoincrement=True),
        sa.Column("id", _name(), nullable=False),
        sa.Column("survivor_id", _name(), nullable=False),
        sa.Column("duplicate_id", _name(), nullable=False),
        sa.Column("at", _iso(), nullable=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("actor", _name(), nullable=False),
        sa.Column("reason", _text(), nullable=False),
        sa.Column("survivor_version", sa.Integer, nullable=False),
        sa.Column("duplicate_version", sa.Integer, nullable=False),
        sa.Column("data", _text(), nullable=False),
        sa.Column("unmerged_at", _iso()),
        sa.Column("unmerged_us", sa.BigInteger),
        sa.Column("unmerged_by", _name()),
        sa.Column("unmerge_reason", _text()),
        sa.Index(f"{p}merges_id", "id", unique=True),
        sa.Index(f"{p}merges_duplicate", "duplicate_id", "unmerged_us"),
        sa.Index(f"{p}merges_survivor", "survivor_id", "unmerged_us"),
        sqlite_autoincrement=True, mysql_charset="utf8mb4", mysql_engine="InnoDB",
    )
    return md


def _table(md: sa.MetaData, prefix: str, name: str) -> sa.Table:
    """The store's table *name* (``"leads"``, ...) in *md*."""
    return md.tables[f"{md.schema}.{prefix}{name}" if md.schema else f"{prefix}{name}"]


def _migrate_to_1(conn: Connection, md: sa.MetaData, _prefix: str) -> None:
    # The tables of the current metadata: later migrations find their changes made already.
    md.create_all(conn, checkfirst=True)


def _migrate_to_2(conn: Connection, md: sa.MetaData, prefix: str) -> None:
    """Add the ``*_us`` columns of :data:`ADDED_IN_2` where missing and fill the empty ones.

    Tables made by migration 1 of this funnelkit have the columns already; tables made at
    version 1 get them with ``ALTER TABLE``.  MariaDB/MySQL commit each ``ALTER TABLE`` at once,
    so a migration cut short there leaves the columns and version 1: the next one adds nothing and
    fills only the rows still NULL.
    """
    inspector = sa.inspect(conn)
    quote = conn.dialect.identifier_preparer
    for name, columns in ADDED_IN_2.items():
        table = _table(md, prefix, name)
        present = {c["name"] for c in inspector.get_columns(table.name, schema=table.schema)}
        for column, _ in columns:
            if column not in present:
                spec = CreateColumn(table.c[column]).compile(dialect=conn.dialect)
                conn.execute(sa.text(f"ALTER TABLE {quote.format_table(table)} ADD COLUMN {spec}"))
        _backfill(conn, table, columns)


def _backfill(conn: Connection, table: sa.Table, columns: Sequence[tuple[str, str]]) -> None:
    """Fill *columns* (``*_us``, ISO text) where still NULL, a page at a time in id order.

    The microseconds are computed in Python, the way the store writes them: no database parses
    ISO 8601 text with offsets the same way as the others, nor always to the microsecond.
    """
    key = table.c.id
    pending = table.c[columns[0][0]].is_(None)
    read = sa.select(key, *(table.c[text] for _, text in columns)).order_by(key).limit(_PAGE)
    write = (sa.update(table).where(key == sa.bindparam("v_id"))
             .values({column: sa.bindparam(f"v_{column}") for column, _ in columns}))
    last: str | None = None
    while True:
        rows = conn.execute(read.where(pending) if last is None
                            else read.where(pending, key > last)).all()
        values = []
        for row_id, *texts in rows:
            one: dict[str, Any] = {"v_id": row_id}
            for (column, text), value in zip(columns, texts, strict=True):
                try:
                    one[f"v_{column}"] = s.iso_us(value)
                except ValueError as e:
                    raise StorageError(
                        f"cannot migrate to schema version 2: {table.name}.{text} of row "
                        f"{row_id!r} is {value!r}, a time funnelkit never writes (the row was "
                        f"changed by hand); the store stays at version 1: fix or delete the "
                        f"row, then open the store again") from e
            values.append(one)
        if values:
            conn.execute(write, values)
        if len(rows) < _PAGE:
            return
        last = rows[-1][0]


def _wrong_collations(conn: Connection, md: sa.MetaData) -> list[tuple[sa.Table, str]]:
    """The (table, column) ids and names whose collation does not compare byte for byte.

    SQLite compares text with ``BINARY`` unless told otherwise (the store never tells it): no
    query.  PostgreSQL's must be ``"C"``, MariaDB/MySQL's the server's binary ``NO PAD`` one.
    """
    name = conn.dialect.name
    if name == "postgresql":
        wanted, schema = _PG_BINARY, sa.func.current_schema()
    elif name in ("mysql", "mariadb"):
        wanted, schema = binary_collation(conn.dialect), sa.func.database()
    else:
        return []
    tables = {t.name: t for t in md.tables.values()}
    columns = sa.table("columns", sa.column("table_schema"), sa.column("table_name"),
                       sa.column("column_name"), sa.column("collation_name"),
                       schema="information_schema")
    found = conn.execute(
        sa.select(columns.c.table_name, columns.c.column_name, columns.c.collation_name)
        .where(columns.c.table_schema == (md.schema or schema),
               columns.c.table_name.in_(list(tables)))).all()
    collations = {(str(t), str(c)): collation for t, c, collation in found}
    wrong: list[tuple[sa.Table, str]] = []
    for table in tables.values():
        for column in table.columns:
            key = (table.name, column.name)
            if _is_name(column) and key in collations and collations[key] != wanted:
                wrong.append((table, column.name))
    return wrong


def _fix_collations(conn: Connection, wrong: Sequence[tuple[sa.Table, str]]) -> None:
    """Give every column of *wrong* the binary collation of its server (one ALTER per table)."""
    quote = conn.dialect.identifier_preparer
    by_table: dict[sa.Table, list[str]] = {}
    for table, column in wrong:
        by_table.setdefault(table, []).append(column)
    for table, names in by_table.items():
        if conn.dialect.name == "postgresql":
            parts = [f"ALTER COLUMN {quote.quote(n)} TYPE VARCHAR({_NAME_LENGTH}) "
                     f'COLLATE "{_PG_BINARY}"' for n in names]
        else:
            parts = [f"MODIFY COLUMN {CreateColumn(table.c[n]).compile(dialect=conn.dialect)}"
                     for n in names]
        conn.execute(sa.text(f"ALTER TABLE {quote.format_table(table)} {', '.join(parts)}"))


def _migrate_to_3(conn: Connection, md: sa.MetaData, _prefix: str) -> None:
    """Ids and names compare byte for byte: binary ``NO PAD`` collations on MariaDB/MySQL.

    Before version 3 a ``mysql://`` URL made ``utf8mb4_bin`` columns, which are ``PAD SPACE`` on
    MariaDB and MySQL alike: ``'K1 '`` collided with ``'K1'``.  This changes every id and name
    column still without the server's binary ``NO PAD`` collation (``utf8mb4_nopad_bin`` on
    MariaDB, ``utf8mb4_0900_bin`` on MySQL 8), one ``ALTER TABLE`` per table; equality only gets
    stricter, so no unique index can break.  PostgreSQL's columns are ``COLLATE "C"`` since
    version 1 and SQLite compares ``BINARY``: nothing to change there.  MariaDB/MySQL commit each
    ``ALTER TABLE`` at once; a migration cut short is finished by the next opening, which alters
    only the columns still wrong.
    """
    _fix_collations(conn, _wrong_collations(conn, md))


def _migrate_to_4(conn: Connection, md: sa.MetaData, _prefix: str) -> None:
    """The ``merges`` table (see ``funnelkit.stores._schema``), made if it is not there yet.

    On MariaDB/MySQL ``CREATE TABLE`` commits at once; a migration cut short there leaves the
    table and version 3, and the next opening finds the table and only moves the version.
    """
    md.create_all(conn, checkfirst=True)


MIGRATIONS: dict[int, Callable[[Connection, sa.MetaData, str], None]] = {
    1: _migrate_to_1, 2: _migrate_to_2, 3: _migrate_to_3, 4: _migrate_to_4}
"""Forward migrations: version -> a function taking a store (a connection in the migration's
transaction, the store's metadata, its table prefix) from version - 1 to it."""


def _binds(names: Sequence[str]) -> dict[str, Any]:
    return {n: sa.bindparam(f"v_{n}") for n in names}


def _dicts(names: Sequence[str], rows: Sequence[tuple[Any, ...]], *,
           prefix: str = "v_") -> list[dict[str, Any]]:
    keys = [f"{prefix}{n}" for n in names]
    return [dict(zip(keys, row, strict=True)) for row in rows]


def _params(names: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> Any:
    """*rows* as ``execute()`` parameters: a dict for one row, else a list of dicts.

    One row is a plain execute, which drivers run with less work than an executemany of one.
    """
    params = _dicts(names, rows)
    return params[0] if len(params) == 1 else params


def _transition_taken(where: str) -> ConcurrencyError:
    """The unique ``(lead_id, version)`` index of transitions refused a move: another won."""
    return ConcurrencyError(
        f"{where}a transition with the same lead and version is stored already: someone else "
        f"moved the lead first; load it again and retry")


_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}
_ON_COMMIT = "funnelkit.deliver_on_commit"  # Session.info key: deliveries waiting for its commit


def database_of(engine: Engine) -> tuple[object, ...]:
    """Which database *engine* reaches, as its URL says: backend, host, port and database.

    Two engines with equal answers reach the same database (``mariadb`` and ``mysql`` URLs are
    one backend; a SQLite file is its real path; an in-memory SQLite database is its engine's).
    Users and passwords do not count: two roles may share one database.
    """
    url: URL = engine.url
    backend = url.get_backend_name()
    backend = "mysql" if backend == "mariadb" else backend
    if backend == "sqlite":
        name = url.database or ""
        if name in ("", ":memory:") or name.startswith("file:"):  # memory, or a URI: its engine's
            return (backend, name, id(engine))
        return (backend, os.path.realpath(name))
    return (backend, (url.host or "localhost").lower(), url.port or _DEFAULT_PORTS.get(backend),
            url.database)


def _orm() -> Any:
    """``sqlalchemy.orm``, imported the first time a store joins a host's transaction."""
    import sqlalchemy.orm  # noqa: PLC0415 - hosts that never pass a Session do not pay for it

    return sqlalchemy.orm


def _after_commit(session: Session) -> None:
    """Session ``after_commit``: run the deliveries waiting for the host's transaction."""
    if session.in_nested_transaction():
        return  # one of the host's savepoints was released: its transaction goes on
    for deliver in session.info.pop(_ON_COMMIT, ()):
        try:
            deliver()
        except Exception:  # the host's commit happened: it must not see this as its failure
            log.exception("funnelkit: delivering after-hooks once the host's transaction "
                          "committed failed; the outbox rows stay for the next "
                          "deliver_pending()")


def _after_rollback(session: Session) -> None:
    """Session ``after_rollback``: the host's transaction rolled back, so did its outbox rows."""
    if not session.in_nested_transaction():
        session.info.pop(_ON_COMMIT, None)


def _failed_statement(error: BaseException) -> bool:
    """Whether *error* came of a statement the database refused (a driver error in its chain)."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, sa_exc.DBAPIError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


_KEEP_ROWCOUNT = {"preserve_rowcount": True}


class _Cursor:
    """The DB-API :class:`~funnelkit.stores._sqlite.Cursor` the shared writer needs, on *conn*.

    Statements go through ``exec_driver_sql``: in the connection's transaction (or the host's
    savepoint), seen by the engine's event listeners, driver errors wrapped as SQLAlchemy's.
    """

    __slots__ = ("_result", "conn")

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._result: Any = None

    @property
    def rowcount(self) -> int:
        return int(self._result.rowcount)

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> object:
        self._result = self.conn.exec_driver_sql(sql, tuple(params), _KEEP_ROWCOUNT)
        return self._result

    def executemany(self, sql: str, params: Sequence[Sequence[Any]], /) -> object:
        self._result = self.conn.exec_driver_sql(sql, [tuple(p) for p in params], _KEEP_ROWCOUNT)
        return self._result

    def fetchone(self) -> Any:
        return self._result.fetchone()

    def fetchall(self) -> Any:
        return self._result.fetchall()


class _Statements(Statements):
    """The shared statements with each table named as the dialect writes it (schema, quotes)."""

    def __init__(self, prefix: str, mark: str, *, owner_flag: bool,
                 names: dict[str, str]) -> None:
        super().__init__(prefix, mark, owner_flag=owner_flag)
        found = re.compile(rf"(?<![\w.\"`]){re.escape(prefix)}({'|'.join(names)})\b")
        self._named: Callable[[str], str] = lambda sql: found.sub(lambda m: names[m[1]], sql)
        for key, value in vars(self).items():
            if isinstance(value, str) and key not in ("p", "mark"):
                setattr(self, key, self._named(value))

    def stream(self, table: str, columns: Sequence[str], *, since: bool, size: int) -> str:
        """See :meth:`Statements.stream`."""
        return self._named(super().stream(table, columns, since=since, size=size))

    def handoff_query(
        self, *, status: str | None, team: str | None, assignee: str | None,
        lead_id: str | None, due_before: datetime | None,
    ) -> tuple[str, tuple[Any, ...]]:
        """See :meth:`Statements.handoff_query`."""
        sql, args = super().handoff_query(status=status, team=team, assignee=assignee,
                                          lead_id=lead_id, due_before=due_before)
        return self._named(sql), args


class _Writer(BatchWriter):
    """The shared batch writer; claimed outbox rows answer their ids with ``RETURNING``."""

    def __init__(self, sql: Statements, insert_claimed: Any) -> None:
        super().__init__(sql, sa_exc.IntegrityError)
        self._insert_claimed = insert_claimed

    def insert_claimed(self, cur: Cursor, outbox: list[tuple[Any, ...]],
                       claim: tuple[str, int]) -> list[int]:
        """Insert *outbox* rows claimed; their ids in the rows' order (``insertmanyvalues``)."""
        assert isinstance(cur, _Cursor)  # the store's writer only ever gets its own cursors
        return [int(i) for i in cur.conn.execute(
            self._insert_claimed,
            _params(CLAIMED_OUTBOX_COLUMNS, claimed_outbox_params(outbox, claim))).scalars()]


class SQLAlchemyStore(SQLTextStore):
    """The store protocol on PostgreSQL, MariaDB/MySQL or SQLite, through SQLAlchemy 2 Core.

    *engine* is a SQLAlchemy ``Engine`` (or a URL, for which the store makes and later disposes
    its own engine).  The tables are named ``<prefix>leads``, ``<prefix>transitions``, ... (prefix
    ``"funnelkit_"`` unless given) in *schema* (a PostgreSQL schema or a MySQL database; None for
    the default one).  With ``create=True`` missing tables are created and an older funnelkit
    schema is migrated forward; with ``create=False`` the tables must exist already, for example
    made by the host's Alembic migration from :attr:`metadata`.

    Commits are one transaction each with ``UPDATE ... WHERE id = ? AND version = ?`` as the
    version guard and a unique ``(lead_id, version)`` index on transitions as a second one.
    On PostgreSQL a single move (one lead, one transition, nothing else) is one statement, the
    transition inserted from the guarded update's ``RETURNING``, which the server runs as a
    transaction of its own; with the read of :meth:`load`, also one statement, a
    ``Pipeline.fire`` costs two round trips and no ``BEGIN``, ``COMMIT`` nor ``ROLLBACK``.
    Those two statements run on the DB-API cursor of a pooled connection (through SQLAlchemy
    when the engine has event listeners or ``echo``, so that they see them).
    Outbox claims use ``FOR UPDATE SKIP LOCKED`` on PostgreSQL and MariaDB/MySQL, so dispatchers
    on many machines never wait for one another nor claim the same row.  The engine's isolation
    level is left as the host set it (the version guard holds under ``READ COMMITTED`` and
    ``REPEATABLE READ`` alike, because ``UPDATE`` always checks the latest row).  Driver errors
    become :class:`~funnelkit.StorageError` (deadlocks and serialisation failures
    :class:`~funnelkit.ConcurrencyError`: load again and retry).

    >>> import tempfile, pathlib
    >>> from datetime import datetime, timezone
    >>> from funnelkit import templates
    >>> from funnelkit.stores import Change
    >>> url = f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'funnel.db'}"
    >>> store = SQLAlchemyStore(url, prefix="crm_")
    >>> lead = templates.inbound().new_lead("L1", at=datetime(2026, 3, 2, tzinfo=timezone.utc))
    >>> store.commit(Change(lead, expected_version=None))
    >>> store.load("L1") == lead
    True
    >>> store.close()
    """

    def __init__(
        self,
        engine: Engine | str,
        *,
        prefix: str = "funnelkit_",
        schema: str | None = None,
        create: bool = True,
        max_data_size: int = MAX_DATA_SIZE,
    ) -> None:
        """Open the store on *engine*, creating or migrating its tables when *create* is true."""
        check_flag(create, "create")
        if schema is not None and not isinstance(schema, str):
            raise InvalidInput(f"schema={schema!r} must be a schema (database) name or None")
        self.max_data_size = check_max_data_size(max_data_size)
        metadata = build_metadata(prefix=prefix, schema=schema)
        self._owns_engine = isinstance(engine, str)
        if isinstance(engine, str):
            try:
                engine = sa.create_engine(engine)
            except (sa_exc.ArgumentError, ValueError) as e:
                raise InvalidInput(f"engine={engine!r} is not a database URL SQLAlchemy can "
                                   f"use ({e})") from None
            except ImportError as e:
                raise MissingExtra(f"engine={engine!r} needs a database driver that is not "
                                   f"installed ({e}); install it") from None
        if not isinstance(engine, sa.Engine):
            raise InvalidInput(f"engine={engine!r} must be a sqlalchemy.Engine or a database URL")
        self.metadata = metadata
        """The store's tables, for ``alembic revision --autogenerate`` (``target_metadata``)."""
        self.prefix = prefix
        self.schema = schema
        name = engine.dialect.name
        self._kind = "mysql" if name in ("mysql", "mariadb") else name
        self._base_engine = engine
        self.engine = engine
        # One statement needs no transaction of its own: on PostgreSQL the store's reads run on
        # connections in autocommit, which saves the BEGIN and ROLLBACK round trips, and so do
        # the statements of _alone.  Elsewhere the engine itself: setting autocommit costs a
        # round trip each way on MariaDB/MySQL, and SQLite has no round trips to save.
        self._reads = (engine.execution_options(isolation_level="AUTOCOMMIT")
                       if self._kind == "postgresql" else engine)
        # See _alone: a statement's SQL, its default parameters, their order if positional.
        self._compiled: dict[Any, tuple[str, dict[str, Any], tuple[str, ...] | None]] = {}
        self._closed = False
        self._lock = threading.Lock()
        # Set on the views join() returns: the store joined, the host's connection or session.
        self._parent: SQLAlchemyStore | None = None
        self._host: Connection | None = None
        self._session: Session | None = None
        self.deliver_on_commit: Callable[[], object] | None = None
        """Called once the host's ``Session`` commits, after :meth:`claim_outbox` was asked for
        rows inside its transaction (see :meth:`join`); None outside a joined store."""
        md = self.metadata
        self._schema_t = _table(md, prefix, "schema")
        self._leads = _table(md, prefix, "leads")
        self._transitions = _table(md, prefix, "transitions")
        self._touchpoints = _table(md, prefix, "touchpoints")
        self._handoffs = _table(md, prefix, "handoffs")
        self._outbox = _table(md, prefix, "outbox")
        self._merges = _table(md, prefix, "merges")
        self._build_statements()
        try:
            self._open(create=create)
        except BaseException:
            if self._owns_engine:
                engine.dispose()
            raise

    @staticmethod
    def metadata_for(*, prefix: str = "funnelkit_", schema: str | None = None) -> sa.MetaData:
        """The store's tables without a database, for an Alembic ``env.py`` (``target_metadata``).

        >>> sorted(SQLAlchemyStore.metadata_for(prefix="crm_").tables)[:2]
        ['crm_handoffs', 'crm_leads']
        """
        return build_metadata(prefix=prefix, schema=schema)

    # -- the host's transaction -------------------------------------------------------------

    def join(
        self, host: Connection | Session, *, deliver_on_commit: Callable[[], object] | None = None,
    ) -> SQLAlchemyStore:
        """This store, writing inside the transaction the host holds on *host*.

        *host* is a SQLAlchemy ``Connection`` or ``Session`` (sync) on the store's database.
        The store returned shares everything with this one but the transaction: reads go
        through *host* (so they see the host's uncommitted rows), and every commit is a
        ``SAVEPOINT`` of the host's transaction (``begin_nested``), released or rolled back as a
        unit, but on PostgreSQL for a single change without handoffs, which needs none (its
        refusals are found before it writes, and a failed statement fails the host's whole
        transaction: :class:`~funnelkit.HostTransactionError`, roll back); the store
        never commits nor rolls back the host's transaction, so the lead's
        change and its outbox rows commit, or roll back, with the host's own rows.  A version
        conflict rolls back the savepoint only and raises :class:`~funnelkit.ConcurrencyError`:
        roll the host's transaction back and run it again (a retry inside it would read the
        same data).  :meth:`claim_outbox` hands out no row inside the host's transaction; with a
        ``Session``, *deliver_on_commit* runs once it commits (its ``after_commit`` event; an
        error there is logged, never raised into the host's commit).  A ``Connection`` has no
        such event: deliver after the commit (``Pipeline.using`` documents how).

        Refused, with nothing done: a *host* that is neither, or reaches another database than
        the store's engine (:class:`~funnelkit.InvalidInput`); a ``Session`` that must roll back
        first, or a closed ``Connection`` (:class:`~funnelkit.HostTransactionError`).

        >>> import tempfile, pathlib
        >>> import sqlalchemy as sa
        >>> from datetime import datetime, timezone
        >>> from funnelkit import templates
        >>> from funnelkit.stores import Change
        >>> engine = sa.create_engine(f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'app.db'}")
        >>> store = SQLAlchemyStore(engine)
        >>> lead = templates.inbound().new_lead("L1", at=datetime(2026, 3, 2, tzinfo=timezone.utc))
        >>> with engine.connect() as conn:
        ...     store.join(conn).commit(Change(lead, expected_version=None))
        ...     conn.rollback()  # the host changes its mind: the lead goes with its transaction
        >>> list(store.leads())
        []
        >>> store.close()
        """
        if self._parent is not None:  # a view of a view joins the store itself
            return self._parent.join(host, deliver_on_commit=deliver_on_commit)
        self._check_open()
        check_deliver_on_commit(deliver_on_commit)
        session: Session | None = None
        conn: Connection | None = None
        if isinstance(host, sa.Connection):
            conn, bind = host, host.engine
        elif isinstance(host, _orm().Session):
            session = host
            try:
                found = host.get_bind()
            except sa_exc.UnboundExecutionError:
                raise InvalidInput(
                    f"the Session {host!r} is bound to no engine; give it the engine of "
                    f"{self!r} (Session(engine)) or pass its Connection") from None
            bind = found.engine if isinstance(found, sa.Connection) else found
        else:
            raise InvalidInput(
                f"host={_short(host)} is not a SQLAlchemy Connection or Session; pass the "
                f"connection (or session) whose transaction the lead's changes should join")
        if bind is not self.engine and database_of(bind) != database_of(self.engine):
            raise InvalidInput(
                f"host reaches {bind.url.render_as_string(hide_password=True)}, another "
                f"database than the store's ({self._where()}): one transaction cannot span two "
                f"databases; open the store on the engine your transaction uses")
        if conn is not None and (conn.closed or conn.invalidated):
            raise HostTransactionError(
                f"the Connection {conn!r} is closed or was invalidated; open a new one, begin "
                f"your transaction and join that")
        if session is not None and not session.is_active:
            raise HostTransactionError(self._failed_host())
        joined = copy.copy(self)
        joined._parent, joined._owns_engine = self, False  # a view of this class
        joined._host, joined._session = conn, session
        joined.deliver_on_commit = deliver_on_commit
        return joined

    def _failed_host(self) -> str:
        return (f"{self._where()}: the host's transaction already failed (an error inside it was "
                f"caught), so it can only roll back; nothing was written: roll it back, then run "
                f"the whole unit of work again in a new transaction")

    def _host_connection(self) -> Connection:
        """The connection of the host's transaction (a joined store's; see :meth:`join`)."""
        session = self._session
        if session is None:
            conn = self._host
            assert conn is not None  # only joined stores get here
            if conn.closed or conn.invalidated:
                raise HostTransactionError(
                    f"{self._where()}: the host's connection was closed; nothing was written: "
                    f"join the connection of your new transaction")
            return conn
        if not session.is_active:
            raise HostTransactionError(self._failed_host())
        return session.connection()

    def _in_host(self, work: Callable[[Connection], T], *, savepoint: bool,
                 bare: bool = False) -> T:
        """Run *work* on the host's connection, in a savepoint of its transaction for a write.

        *bare* (a guard-first write on PostgreSQL, see :meth:`_unit`) runs it without one: a
        statement of it that failed left the host's transaction failed, which the error says.
        """
        self._check_open()
        try:
            try:
                conn = self._host_connection()
                if not savepoint or bare:
                    return work(conn)
                if self._kind == "sqlite" and not getattr(
                        conn.connection.driver_connection, "in_transaction", True):
                    # pysqlite begins the database's transaction only before the first INSERT,
                    # UPDATE or DELETE, so the host's may not have begun yet; a SAVEPOINT
                    # outside one would commit when released.  Begin the transaction the host's
                    # SQLAlchemy transaction stands for (it commits or rolls it back);
                    # IMMEDIATE takes the write lock now, as a write is coming.
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                with conn.begin_nested():
                    return work(conn)
            except sa_exc.SQLAlchemyError as e:
                raise self._translate(e) from e
        except FunnelError as e:
            if bare and not isinstance(e, HostTransactionError) and _failed_statement(e):
                raise HostTransactionError(
                    f"{e}; the statement failed inside your transaction, which PostgreSQL then "
                    f"keeps failed (its COMMIT would roll back): roll it back and run the whole "
                    f"unit of work again") from e
            if not isinstance(e, ConcurrencyError):
                raise
            raise ConcurrencyError(
                f"{e} (inside your own transaction, joined with pipeline.using(): roll it back "
                f"and run the whole unit of work again; a retry inside it reads the same data)"
            ) from e

    def _schedule_delivery(self) -> None:
        """Have the host's Session run :attr:`deliver_on_commit` once its transaction commits."""
        session, deliver = self._session, self.deliver_on_commit
        if session is None or deliver is None:
            return
        waiting: list[Callable[[], object]] = session.info.setdefault(_ON_COMMIT, [])
        if deliver not in waiting:  # one delivery per transaction takes every due row
            waiting.append(deliver)
        if not sa.event.contains(session, "after_commit", _after_commit):
            sa.event.listen(session, "after_commit", _after_commit)
            sa.event.listen(session, "after_rollback", _after_rollback)

    # -- schema -----------------------------------------------------------------------------

    def _where(self) -> str:
        return f"{self.engine.url.render_as_string(hide_password=True)}" + (
            f" schema {self.schema!r}" if self.schema else "") + f" prefix {self.prefix!r}"

    def _refuse(self, why: str) -> StorageError:
        return StorageError(
            f"{self._where()}: {why}; funnelkit changed nothing: use another prefix or schema, "
            f"or a funnelkit store"
        )

    def _read_version(self, conn: Connection) -> int | None:
        inspector = sa.inspect(conn)
        present = {n for n in _TABLES
                   if inspector.has_table(f"{self.prefix}{n}", schema=self.schema)}
        if "schema" not in present:
            if present:
                raise self._refuse(
                    f"tables {', '.join(self.prefix + n for n in sorted(present))} exist but "
                    f"not the {self.prefix}schema table: they are not a funnelkit store")
            return None
        rows = conn.execute(sa.select(self._schema_t.c.name, self._schema_t.c.version)).all()
        found = dict(rows)
        if not rows and present == set(_TABLES):
            return 0  # made from ``metadata`` (by Alembic) and never stamped
        if s.SCHEMA_NAME not in found or len(found) != 1:
            raise self._refuse(f"the {self.prefix}schema table does not name a funnelkit schema")
        version = int(found[s.SCHEMA_NAME])
        if version > s.SCHEMA_VERSION:
            raise self._refuse(
                f"the tables have funnelkit schema version {version}, newer than the "
                f"{s.SCHEMA_VERSION} this funnelkit understands; upgrade funnelkit")
        return version

    def _missing_columns(self, conn: Connection) -> list[str]:
        """The ``table.column`` names of :attr:`metadata` the database's tables lack."""
        inspector = sa.inspect(conn)
        missing: list[str] = []
        for table in self.metadata.tables.values():
            if not inspector.has_table(table.name, schema=table.schema):
                missing.append(f"{table.name} (the table)")
                continue
            present = {c["name"] for c in inspector.get_columns(table.name, schema=table.schema)}
            missing += [f"{table.name}.{c.name}" for c in table.columns if c.name not in present]
        return missing

    def _open(self, *, create: bool) -> None:
        try:
            with self.engine.connect() as conn:
                version = self._read_version(conn)
                missing = self._missing_columns(conn) if version == 0 else []
                # Tables at version 3 or later (or unstamped) must compare ids byte for byte.
                wrong = (_wrong_collations(conn, self.metadata)
                         if version is not None and (version == 0 or version >= 3) else [])
            if wrong:
                self._collations(wrong, create=create)
            if version == s.SCHEMA_VERSION:
                return
            if missing:
                raise StorageError(
                    f"{self._where()}: the tables have no funnelkit schema version and lack the "
                    f"columns {', '.join(missing)} of schema version {s.SCHEMA_VERSION} (they "
                    f"were made from an older funnelkit's metadata): add them with your "
                    f"migrations from SQLAlchemyStore.metadata, then open the store again")
            if version == 0:  # tables made by the host, current layout: stamp them
                with self.engine.begin() as conn:
                    conn.execute(sa.insert(self._schema_t).values(
                        name=s.SCHEMA_NAME, version=s.SCHEMA_VERSION))
                return
            if not create:
                raise StorageError(
                    f"{self._where()}: no funnelkit tables (or an older schema, version "
                    f"{version}); create them with your migrations from SQLAlchemyStore.metadata "
                    f"or open the store with create=True")
            try:
                self._migrate(version)
            except sa_exc.DBAPIError:
                # Another process may have created the tables at the same moment: look again.
                with self.engine.connect() as conn:
                    if self._read_version(conn) != s.SCHEMA_VERSION:
                        raise
        except sa_exc.SQLAlchemyError as e:
            raise self._translate(e) from e

    def _collations(self, wrong: list[tuple[sa.Table, str]], *, create: bool) -> None:
        """Fix (with *create*) or refuse ids and names that would not compare byte for byte."""
        listed = ", ".join(f"{table.name}.{column}" for table, column in wrong[:6])
        if not create:
            raise StorageError(
                f"{self._where()}: the columns {listed}{' ...' if len(wrong) > 6 else ''} do not "
                f"have a binary NO PAD collation, so ids such as 'K1' and 'K1 ' would collide: "
                f"give them the collation SQLAlchemyStore.metadata sets (see the storage docs) or "
                f"open the store once with create=True to have it done")
        with self.engine.begin() as conn:
            _fix_collations(conn, wrong)

    def _migrate(self, version: int | None) -> None:
        with self.engine.begin() as conn:
            start = 0 if version is None else version
            for target in range(start + 1, s.SCHEMA_VERSION + 1):
                MIGRATIONS[target](conn, self.metadata, self.prefix)
            if version is None:
                conn.execute(sa.insert(self._schema_t).values(
                    name=s.SCHEMA_NAME, version=s.SCHEMA_VERSION))
            else:
                conn.execute(sa.update(self._schema_t)
                             .where(self._schema_t.c.name == s.SCHEMA_NAME)
                             .values(version=s.SCHEMA_VERSION))

    def drop_tables(self) -> None:
        """Drop every funnelkit table of this store (for tests and tear-down; data is lost)."""
        with self._connect() as conn, conn.begin():
            self.metadata.drop_all(conn, checkfirst=True)

    # -- plumbing ---------------------------------------------------------------------------

    def _build_statements(self) -> None:
        leads, tr, ob = self._leads, self._transitions, self._outbox
        # The statements and the batch writer SQLiteStore and DjangoStore share, sent as SQL
        # text through the connection of the unit (see _Cursor).
        dialect = self.engine.dialect
        quote = dialect.identifier_preparer
        translate = self.engine.get_execution_options().get("schema_translate_map") or {}
        names: dict[str, str] = {}
        for name in (*_TABLES, "merges"):
            table = _table(self.metadata, self.prefix, name)
            schema = translate.get(table.schema, table.schema)
            names[name] = (f"{quote.quote_schema(schema)}." if schema else "") + quote.quote(
                table.name)
        sql = _Statements(self.prefix, "?" if dialect.paramstyle == "qmark" else "%s",
                          owner_flag=self._kind != "sqlite", names=names)
        if self._kind == "postgresql":
            # A new lead whose id is taken: 0 rows, not a failed statement (which would leave
            # a transaction of the host's failed; see _unit).
            sql.create_lead += " ON CONFLICT DO NOTHING"
        self._sql = sql
        self._outbox_keys = sa.select(ob.c.msg_key).where(
            ob.c.msg_key.in_(sa.bindparam("keys", expanding=True)))
        self._update_lead = (  # the guard of s.LEAD_GUARD
            sa.update(leads)
            .where(leads.c.id == sa.bindparam("v_id"),
                   leads.c.version == sa.bindparam("v_expected"),
                   sa.or_(sa.bindparam("v_check_owner", type_=sa.Integer) == 0,
                          leads.c.owner.is_not_distinct_from(sa.bindparam("v_owner_was"))))
            .values(_binds(s.LEAD_UPDATE_COLUMNS))
        )
        # PostgreSQL: the guarded update and the move's transition in one statement, the insert
        # selecting the updated row (none when the guard refuses, so nothing is written).
        self._move: Any = None
        if self._kind == "postgresql":
            moved = self._update_lead.returning(leads.c.id).cte("moved")
            values = [sa.bindparam(f"t_{c}", type_=tr.c[c].type) for c in s.TRANSITION_COLUMNS]
            self._move = (sa.insert(tr)
                          .from_select(list(s.TRANSITION_COLUMNS),
                                       sa.select(*values).select_from(moved))
                          .execution_options(preserve_rowcount=True))
        self._writer = _Writer(sql, sa.insert(ob).values(_binds(CLAIMED_OUTBOX_COLUMNS))
                               .returning(ob.c.id, sort_by_parameter_order=True))
        self._outbox_cols = [ob.c[c] for c in s.OUTBOX_READ_COLUMNS]
        self._select_lead = (sa.select(*(leads.c[c] for c in s.LEAD_COLUMNS))
                             .where(leads.c.id == sa.bindparam("key")))

    def _connect(self, *, reads: bool = False) -> Connection:
        """A connection of the engine (in autocommit on PostgreSQL for *reads*)."""
        self._check_open()
        try:
            return (self._reads if reads else self.engine).connect()
        except sa_exc.SQLAlchemyError as e:
            raise self._translate(e) from e

    def _translate(self, e: BaseException) -> StorageError:
        if isinstance(e, StorageError):
            return e
        orig = getattr(e, "orig", None)
        code = getattr(orig, "sqlstate", None)
        if self._parent is not None and (code == "25P02" or isinstance(
                e, sa_exc.PendingRollbackError | sa_exc.ResourceClosedError)):
            return HostTransactionError(self._failed_host())
        args = getattr(orig, "args", ())
        mysql_code = args[0] if args and isinstance(args[0], int) else None
        if code in ("40001", "40P01") or mysql_code in (1213, 1020):
            return ConcurrencyError(
                f"{self._where()}: the database gave up a transaction that raced with another "
                f"({type(orig).__name__}: {str(orig).strip()}); nothing was written: load again "
                f"and retry")
        if isinstance(e, sa_exc.DBAPIError) and e.connection_invalidated:
            return StorageError(
                f"{self._where()}: the database connection was lost in the middle of the "
                f"operation ({str(orig).strip()}); nothing was written: retry once the database "
                f"is reachable")
        detail = str(orig).strip() if orig is not None else str(e)
        return StorageError(f"{self._where()}: the database failed ({type(orig or e).__name__}: "
                            f"{detail}); nothing was written")

    def _check_open(self) -> None:
        if self._closed or (self._parent is not None and self._parent._closed):
            raise StorageError(f"this SQLAlchemyStore ({self._where()}) is closed; open a new one")

    def _read(self, work: Callable[[Connection], T]) -> T:
        """Run *work*, which only reads: each statement of it sees the data as it starts."""
        if self._parent is not None:
            return self._in_host(work, savepoint=False)
        with self._connect(reads=True) as conn:
            try:
                return work(conn)
            except sa_exc.SQLAlchemyError as e:
                raise self._translate(e) from e

    def _unit(self, work: Callable[[Connection], T], *, guard_first: bool = False) -> T:
        """Run *work* as one all-or-nothing unit: a transaction, or inside the host's.

        Inside the host's transaction (see :meth:`join`) the unit is a savepoint of it, but for
        a *guard_first* unit on PostgreSQL, which needs none.  The rule: a unit is guard-first
        when every refusal it can meet (a version conflict, a lead that exists already, an
        outbox key taken) is found by statements that write nothing or by its first write,
        which writes nothing when it refuses (the guarded ``UPDATE``, ``INSERT ... ON CONFLICT
        DO NOTHING``): never by a failing statement, never after a write.  Refused, it wrote
        nothing and the host's transaction goes on.  Any other failure is a failed statement,
        and PostgreSQL keeps a transaction failed from its first failed statement on (its
        ``COMMIT`` rolls back), so nothing half-written can commit either; the error
        (:class:`~funnelkit.HostTransactionError`) says to roll back.  SQLite and MariaDB/MySQL
        carry on after a failed statement, so every unit there keeps its savepoint.
        """
        if self._parent is not None:
            return self._in_host(work, savepoint=True,
                                 bare=guard_first and self._kind == "postgresql")
        with self._connect() as conn:
            try:
                with conn.begin():
                    return work(conn)
            except sa_exc.SQLAlchemyError as e:
                raise self._translate(e) from e

    def _write(self, work: Callable[[Cursor], T]) -> T:
        """Run *work* on a cursor of one unit (see :meth:`_unit`), as the shared methods do."""
        return self._unit(lambda conn: work(_Cursor(conn)))

    def _fetch(self, sql: str, args: Sequence[Any]) -> list[Any]:
        """The rows *sql* selects with *args* (see :meth:`_read`)."""
        return self._read(
            lambda conn: [tuple(r) for r in conn.exec_driver_sql(sql, tuple(args))])

    def _place(self) -> str:
        return self._where()

    def _alone(self, stmt: Any, params: dict[str, Any], *,
               fetch: bool = False) -> tuple[int, tuple[Any, ...] | None]:
        """Run the one statement *stmt* on PostgreSQL, in autocommit: row count, first row.

        The first row only when *fetch* (None if there is none).  One statement is a
        transaction by itself, so a single read, or a move written as one statement (see
        :meth:`_moves`), needs no ``BEGIN`` nor ``COMMIT`` (nor the pool's ``ROLLBACK``): one
        round trip.  It runs on the DB-API cursor of a pooled connection, *stmt* compiled once,
        since SQLAlchemy's execution and result machinery cost more than the round trip
        itself; but through a ``Connection`` when the engine has event listeners or ``echo``,
        so that they see every statement.  Driver errors come out wrapped as SQLAlchemy's
        (``IntegrityError``, ...) either way, and a lost connection leaves the pool.  Only for
        a store not joined to a host's transaction.
        """
        self._check_open()
        engine = self.engine
        if engine._has_events or engine.echo:
            with self._connect(reads=True) as conn:
                result = conn.execute(stmt, params)
                row = result.first() if fetch else None
                return result.rowcount, None if row is None else tuple(row)
        try:
            sql, defaults, order = self._compiled[stmt]
        except KeyError:
            translate = engine.get_execution_options().get("schema_translate_map")
            compiled = stmt.compile(dialect=engine.dialect, schema_translate_map=translate,
                                    render_schema_translate=translate is not None)
            sql, defaults = compiled.string, dict(compiled.params)
            order = tuple(compiled.positiontup or ()) if compiled.positional else None
            self._compiled[stmt] = sql, defaults, order
        named = {**defaults, **params}
        args: Any = named if order is None else tuple(named[name] for name in order)
        dialect = engine.dialect
        try:
            pooled = engine.raw_connection()
        except dialect.loaded_dbapi.Error as e:  # the pool gives the driver's own errors
            raise sa_exc.DBAPIError.instance(
                sql, args, e, dialect.loaded_dbapi.Error,
                connection_invalidated=dialect.is_disconnect(e, None, None),
                dialect=dialect) from e
        # Every PostgreSQL DB-API SQLAlchemy knows has this switch; the pool's connections come
        # in as the engine's isolation level leaves them, and go back so.
        driver: Any = pooled.dbapi_connection
        try:
            was = driver.autocommit
            driver.autocommit = True
            try:
                cursor = pooled.cursor()
                try:
                    cursor.execute(sql, args)
                    return cursor.rowcount, cursor.fetchone() if fetch else None
                finally:
                    cursor.close()
            finally:
                try:
                    driver.autocommit = was
                except dialect.loaded_dbapi.Error:  # a broken connection: not back to the pool
                    pooled.invalidate()
        except dialect.loaded_dbapi.Error as e:
            lost = dialect.is_disconnect(e, driver, None)
            if lost and pooled.is_valid:
                pooled.invalidate(e)
            raise sa_exc.DBAPIError.instance(
                sql, args, e, dialect.loaded_dbapi.Error, connection_invalidated=lost,
                dialect=dialect) from e
        finally:
            pooled.close()

    # -- commits ----------------------------------------------------------------------------

    def load(self, lead_id: str) -> Lead:
        """The lead with this id; :class:`~funnelkit.NotFound` if there is none."""
        if not findable(lead_id, "lead_id"):
            self._check_open()
            raise no_lead(lead_id, str(self._where()))
        if self._kind == "postgresql" and self._parent is None:  # one round trip
            try:
                row = self._alone(self._select_lead, {"key": lead_id}, fetch=True)[1]
            except sa_exc.SQLAlchemyError as e:
                raise self._translate(e) from e
        else:
            row = self._read(
                lambda conn: conn.execute(self._select_lead, {"key": lead_id}).first())
        if row is None:
            raise no_lead(lead_id, str(self._where()))
        return s.decode_lead(tuple(row))

    def commit(self, change: Change) -> None:
        """Write *change* in one transaction, or nothing (see :class:`~funnelkit.stores.Store`)."""
        self.commit_many((change,))

    def commit_many(self, changes: Sequence[Change]) -> None:
        """Write every change in order in one transaction, all or nothing.

        >>> import tempfile, pathlib
        >>> from datetime import datetime, timezone
        >>> from funnelkit import templates
        >>> from funnelkit.stores import Change
        >>> store = SQLAlchemyStore(f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'f.db'}")
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
        answers the rows' ids in the change's order; each counts one attempt.  ``Pipeline``
        uses it to deliver the rows of its own moves right after their commit, but never in a
        view joined to the host's transaction (``pipeline.using``), whose rows wait for the
        host's commit.

        >>> import tempfile, pathlib
        >>> from datetime import datetime, timedelta, timezone
        >>> from funnelkit import templates
        >>> from funnelkit.stores import Change, OutboxMessage
        >>> store = SQLAlchemyStore(f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'f.db'}")
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

    def _commit_batch(self, batch: _Batch) -> list[int]:
        """Write a checked batch in one unit; answers the ids of the outbox rows written claimed.

        The one write path of the store: :meth:`_fast` when the batch allows it, else (or when
        it finds a lead changed) :meth:`_sequential`, which finds the exact error.
        """
        if not batch.size:
            return []
        if self._parent is not None and self._kind == "postgresql" and (
                batch.size == 1 and not batch.rows.handoffs):
            # A handoff can be refused after the guard: those keep their savepoint.
            return self._unit(lambda conn: self._guard_first(conn, batch), guard_first=True)
        move = self._moves(batch)
        if move and not any(batch.rows[1:]) and self._parent is None:
            # The move is all there is: its one statement, alone (no transaction to begin).
            try:
                written = self._alone(self._move, self._move_params(batch))[0]
            except sa_exc.IntegrityError:
                raise _transition_taken("") from None
            except sa_exc.SQLAlchemyError as e:
                raise self._translate(e) from e
            if written == 1:
                return []
            # The lead was not as loaded, and nothing was written: find out how.
            return self._unit(lambda conn: self._sequential(conn, batch))
        try:
            return self._unit(lambda conn: self._fast(conn, batch, move=move) if batch.fast_ok
                               else self._sequential(conn, batch))
        except _Retry:
            return self._unit(lambda conn: self._sequential(conn, batch))

    def _moves(self, batch: _Batch) -> bool:
        """Whether *batch* moves one lead by one transition: one statement on PostgreSQL."""
        return (self._move is not None and batch.size == 1 and len(batch.updates) == 1
                and len(batch.rows.transitions) == 1)

    @staticmethod
    def _move_params(batch: _Batch) -> dict[str, Any]:
        """The parameters of the move statement for a batch :meth:`_moves` accepts."""
        return {**_dicts((*s.LEAD_UPDATE_COLUMNS, *s.LEAD_GUARD), batch.updates)[0],
                **_dicts(s.TRANSITION_COLUMNS, batch.rows.transitions, prefix="t_")[0]}

    def _fast(self, conn: Connection, batch: _Batch, *, move: bool = False) -> list[int]:
        """Write the batch statement by statement (*move*: see :meth:`_moves`).

        Raises _Retry when a lead was not as expected: the transaction must roll back.
        """
        if not move:
            return self._writer.write(_Cursor(conn), batch, fast=True)
        try:
            written = conn.execute(self._move, self._move_params(batch)).rowcount
        except sa_exc.IntegrityError:
            raise _transition_taken("") from None
        if written != 1:
            raise _Retry
        return self._writer.children(_Cursor(conn), batch.rows._replace(transitions=[]),
                                     claim=batch.claim)

    def _guard_first(self, conn: Connection, batch: _Batch) -> list[int]:
        """Write one change without handoffs guard-first (see :meth:`_unit`).

        The outbox keys are read first; then the lead's guarded write (with its transition, in
        one statement, for a move), which writes nothing when it refuses; then rows nothing
        refuses.
        """
        if batch.rows.outbox:
            taken = list(conn.execute(self._outbox_keys,
                                      {"keys": [m[0] for m in batch.rows.outbox]}).scalars())
            if taken:
                raise AlreadyExists(f"the outbox keys {taken[:5]!r} are used already; outbox "
                                    f"keys must be unique in a store")
        if self._moves(batch):
            try:
                return self._fast(conn, batch, move=True)
            except _Retry:
                pass  # the guard refused, having written nothing: find out how
        return self._sequential(conn, batch)

    def _sequential(self, conn: Connection, batch: _Batch) -> list[int]:
        """Write the changes one by one, each refusal with its exact error."""
        return self._writer.sequential(_Cursor(conn), batch)

    # -- outbox -----------------------------------------------------------------------------

    def claim_outbox(
        self, *, worker: str, now: datetime, lease: timedelta, limit: int = 100
    ) -> list[OutboxRow]:
        """Claim up to *limit* due, undelivered rows not leased by another worker, oldest first.

        PostgreSQL and MariaDB/MySQL pick the rows with ``FOR UPDATE SKIP LOCKED``.  A joined
        store (see :meth:`join`) claims nothing inside the host's transaction: after-hooks never
        run for a change that may still roll back.
        """
        check_claim(worker, now, lease, limit)
        if self._parent is not None:
            self._check_open()
            self._schedule_delivery()
            return []
        ob = self._outbox
        now_us, until_us = s.us(now), s.us(now + lease)
        due = (sa.select(ob.c.id)
               .where(ob.c.delivered_us.is_(None), ob.c.next_attempt_us <= now_us,
                      sa.or_(ob.c.claimed_until_us.is_(None), ob.c.claimed_until_us <= now_us))
               .order_by(ob.c.id).limit(limit))
        claim = {"attempts": ob.c.attempts + 1, "claimed_by": worker, "claimed_until_us": until_us}

        def work(conn: Connection) -> list[Any]:
            if self._kind == "mysql":
                ids = list(conn.execute(due.with_for_update(skip_locked=True)).scalars())
                if not ids:
                    return []
                conn.execute(sa.update(ob).where(ob.c.id.in_(ids)).values(claim))
                return [tuple(r) for r in conn.execute(
                    sa.select(*self._outbox_cols).where(ob.c.id.in_(ids)))]
            if self._kind == "postgresql":
                chosen = due.with_for_update(skip_locked=True).scalar_subquery()
            else:  # SQLite: one UPDATE takes the write lock first, so no lock upgrade can fail
                chosen = due.scalar_subquery()
            stmt = (sa.update(ob).where(ob.c.id.in_(chosen)).values(claim)
                    .returning(*self._outbox_cols))
            return [tuple(r) for r in conn.execute(stmt)]

        rows = sorted(self._unit(work), key=lambda r: int(r[0]))
        return [s.decode_outbox(r) for r in rows]

    def close(self) -> None:
        """Stop using the engine (disposed if the store made it from a URL); unusable afterwards."""
        with self._lock:
            if not self._closed and self._owns_engine:
                self._base_engine.dispose()
            self._closed = True

    def __repr__(self) -> str:
        joined = "" if self._parent is None else (
            ", joined to the host's " + ("Session" if self._session is not None else "Connection"))
        return f"SQLAlchemyStore({self._where()}{joined})"
