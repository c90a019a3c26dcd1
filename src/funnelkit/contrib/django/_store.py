"""``DjangoStore``: the store protocol on a Django project's database connection."""

# S608: every statement is built from this module's constant table and column names; values
# always travel as ``%s`` parameters, never inside the SQL text.
# ruff: noqa: S608

from __future__ import annotations

import copy
import threading
from typing import TYPE_CHECKING, Any, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, DatabaseError, IntegrityError, connections, transaction

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
    check_claim,
    check_commit_claimed,
    check_flag,
    check_handoff_query,
    check_max_data_size,
    check_merge_commit,
    check_retry,
    check_row_id,
    check_stream,
    check_worker,
    findable,
    no_handoff,
    no_lead,
    version_conflict,
)

# The batch logic both SQL stores share: a commit_many call checked and turned into rows before
# any transaction starts, a fast path of one statement per table, and the ordered fallback.
from funnelkit.stores._sqlite import (
    CLAIMED_OUTBOX_COLUMNS,
    MergeStatements,
    _Batch,
    _cols,
    _Retry,
    _Rows,
    claimed_outbox_params,
    handoff_query,
    merge_rows,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from datetime import datetime, timedelta

    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.backends.utils import CursorWrapper

    from funnelkit._core.handoff import Handoff, HandoffStatus
    from funnelkit._core.lead import Lead, Transition
    from funnelkit._core.touchpoint import Touchpoint

__all__ = ["DjangoStore"]

T = TypeVar("T")
P = "funnelkit_"
TABLES = tuple(f"{P}{name}" for name in
               ("schema", "leads", "transitions", "touchpoints", "handoffs", "outbox"))
_PAGE = 1000


def _marks(names: Sequence[str]) -> str:
    return ", ".join(["%s"] * len(names))


# -- the statements (Django's cursors take ``%s`` on every backend) ------------------------------

INSERT_LEAD = f"INSERT INTO {P}leads ({_cols(s.LEAD_COLUMNS)}) VALUES ({_marks(s.LEAD_COLUMNS)})"
# The guard of s.LEAD_GUARD: id, version, then the owner when the change checks it.  The owner
# test is spelt out (no IS NOT DISTINCT FROM, which MySQL spells <=>) and tests no parameter for
# NULL (PostgreSQL cannot type one under server-side binding): the last flag says "owner was None".
UPDATE_LEAD = (f"UPDATE {P}leads SET {', '.join(f'{c} = %s' for c in s.LEAD_UPDATE_COLUMNS)} "
               f"WHERE id = %s AND version = %s AND (%s = 0 OR owner = %s "
               f"OR (%s = 1 AND owner IS NULL))")
LEAD_VERSION = f"SELECT version, owner FROM {P}leads WHERE id = %s"
SELECT_LEAD = f"SELECT {_cols(s.LEAD_COLUMNS)} FROM {P}leads WHERE id = %s"
INSERT_TRANSITION = (f"INSERT INTO {P}transitions ({_cols(s.TRANSITION_COLUMNS)}) "
                     f"VALUES ({_marks(s.TRANSITION_COLUMNS)})")
INSERT_TOUCHPOINT = (f"INSERT INTO {P}touchpoints ({_cols(s.TOUCHPOINT_COLUMNS)}) "
                     f"VALUES ({_marks(s.TOUCHPOINT_COLUMNS)})")
INSERT_HANDOFF = (f"INSERT INTO {P}handoffs ({_cols(s.HANDOFF_COLUMNS)}) "
                  f"VALUES ({_marks(s.HANDOFF_COLUMNS)})")
_HANDOFF_SETS = ", ".join(f"{c} = %s" for c in s.HANDOFF_COLUMNS[1:])
REPLACE_HANDOFF = f"UPDATE {P}handoffs SET {_HANDOFF_SETS} WHERE id = %s AND status = 'pending'"
HANDOFF_STATUS = f"SELECT status FROM {P}handoffs WHERE id = %s"
INSERT_OUTBOX = (f"INSERT INTO {P}outbox ({_cols(s.OUTBOX_COLUMNS)}) "
                 f"VALUES ({_marks(s.OUTBOX_COLUMNS)})")
# Outbox rows written claimed: one multi-row INSERT (VALUES repeated per row), then their ids.
INSERT_CLAIMED_OUTBOX = f"INSERT INTO {P}outbox ({_cols(CLAIMED_OUTBOX_COLUMNS)}) VALUES "
CLAIMED_OUTBOX_ROW = f"({_marks(CLAIMED_OUTBOX_COLUMNS)})"
SELECT_HISTORY = (f"SELECT {_cols(s.TRANSITION_COLUMNS)} FROM {P}transitions WHERE lead_id = %s "
                  f"ORDER BY version")
SELECT_TOUCHPOINTS = (f"SELECT {_cols(s.TOUCHPOINT_COLUMNS)} FROM {P}touchpoints "
                      f"WHERE lead_id = %s ORDER BY at_us, position")
SELECT_HANDOFF = f"SELECT {_cols(s.HANDOFF_COLUMNS)} FROM {P}handoffs WHERE id = %s"
OUTBOX_READ = _cols(s.OUTBOX_READ_COLUMNS)
MERGE_SQL = MergeStatements(P, "%s")


def _update_params(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A ``lead_update_params`` row for :data:`UPDATE_LEAD`: plus 1 when the owner was None."""
    return (*row, int(row[-1] is None))


class DjangoStore:
    """The store protocol on a Django database: the connection of alias *using*.

    The tables are the app's (``funnelkit_leads``, ``funnelkit_transitions``, ...; add
    ``"funnelkit.contrib.django"`` to ``INSTALLED_APPS`` and run ``manage.py migrate``).  Every
    statement goes through ``django.db.connections[using]``, the connection the project's own
    queries use in that thread, and every write runs in ``transaction.atomic(using=using)``:

    - outside a transaction, each commit is a transaction of its own;
    - inside the host's ``transaction.atomic()`` it is a savepoint of the host's transaction, so
      the lead's change and the host's own rows commit, or roll back, together.  A version
      conflict rolls back to the savepoint only and raises
      :class:`~funnelkit.ConcurrencyError`; the host's transaction stays usable.

    Commits are guarded as in the other SQL stores: ``UPDATE ... WHERE id = %s AND version = %s``
    plus the expected owner, and a unique ``(lead_id, version)`` index on transitions.  Outbox
    rows are claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL and MariaDB/MySQL.  Inside a
    transaction that has not committed, :meth:`claim_outbox` hands out no rows (after-hooks must
    never run for a change that may still roll back); it schedules :attr:`deliver_on_commit`, if
    set, with ``transaction.on_commit`` instead (``get_pipeline()`` sets it to the pipeline's
    ``deliver_pending``).  Outside a transaction, :meth:`commit_claimed` writes a move's rows
    already claimed, for the pipeline to deliver them from memory; :meth:`purge_outbox` removes
    delivered rows (``Pipeline(outbox_retention=...)``).  Driver errors become
    :class:`~funnelkit.StorageError`; deadlocks and serialisation failures
    :class:`~funnelkit.ConcurrencyError` (load again and retry).

    A *using* that is not in ``settings.DATABASES`` raises :class:`~funnelkit.InvalidInput`;
    missing tables or tables of another schema version raise :class:`~funnelkit.StorageError`
    saying which ``migrate`` to run.  The store holds no connection of its own: one store object
    serves every thread (Django gives each thread its connection).

    >>> import django
    >>> from django.conf import settings
    >>> if not settings.configured:  # a project's settings.py does this
    ...     settings.configure(
    ...         DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    ...         INSTALLED_APPS=["funnelkit.contrib.django"], USE_TZ=True)
    ...     django.setup()
    >>> from django.core.management import call_command
    >>> call_command("migrate", "funnelkit", verbosity=0)
    >>> from datetime import datetime, timezone
    >>> from funnelkit import templates
    >>> from funnelkit.stores import Change
    >>> store = DjangoStore("default")
    >>> lead = templates.inbound().new_lead("doc-D1", at=datetime(2026, 3, 2, tzinfo=timezone.utc))
    >>> store.commit(Change(lead, expected_version=None))
    >>> store.load("doc-D1") == lead
    True
    >>> DjangoStore("replica")
    Traceback (most recent call last):
    ...
    funnelkit.InvalidInput: using='replica' is not a database alias of this Django project ...
    """

    deliver_on_commit: Callable[[], object] | None
    """Called (``transaction.on_commit``, robust) after a host transaction in which
    :meth:`claim_outbox` was asked for rows; ``get_pipeline()`` sets the pipeline's
    ``deliver_pending`` here.  None: the rows wait for the next delivery outside a transaction."""

    def __init__(self, using: str = DEFAULT_DB_ALIAS, *,
                 max_data_size: int = MAX_DATA_SIZE) -> None:
        """Use the database of alias *using*; checks the alias and that its tables are current."""
        self.using = _check_alias(using)
        self.max_data_size = check_max_data_size(max_data_size)
        self.deliver_on_commit = None
        self._closed = False
        self._joined: DjangoStore | None = None  # the store a join() view was made from
        self._local = threading.local()
        self._check_tables()

    def join(
        self, host: object = None, *, deliver_on_commit: Callable[[], object] | None = None,
    ) -> DjangoStore:
        """This store, writing only inside the ``transaction.atomic()`` block the host holds.

        *host* is a database alias of ``settings.DATABASES``, a Django database connection
        (``django.db.connection``, ``connections[alias]``) or None for this store's alias.
        Every write of the store returned is a savepoint of the host's block, as always; it
        also refuses, with :class:`~funnelkit.HostTransactionError`, to write outside an atomic
        block (where a write would commit at once, joining nothing) or in a block that failed.
        Its :meth:`claim_outbox` hands out no row inside the block and has
        *deliver_on_commit* (or this store's :attr:`deliver_on_commit`) run once it commits.
        ``Pipeline.using`` calls this.

        >>> from django.db import connection, transaction
        >>> joined = DjangoStore().join(connection)
        >>> joined
        DjangoStore(using='default', joined to the host's atomic block)
        >>> joined.load("nobody")  # outside an atomic block it still reads
        Traceback (most recent call last):
        ...
        funnelkit.NotFound: no lead 'nobody' ...
        >>> DjangoStore().join("replica")
        Traceback (most recent call last):
        ...
        funnelkit.InvalidInput: using='replica' is not a database alias of this Django project ...
        """
        base = self if self._joined is None else self._joined
        base._check_open()
        if deliver_on_commit is not None and not callable(deliver_on_commit):
            raise InvalidInput(f"deliver_on_commit={_short(deliver_on_commit)} must be a callable "
                               f"taking no arguments, or None")
        alias = host if host is None or isinstance(host, str) else getattr(host, "alias", host)
        if alias is None:
            alias = base.using
        if not isinstance(alias, str):
            raise InvalidInput(
                f"host={_short(host)} is neither a database alias nor a Django database "
                f"connection; pass the alias (such as 'default') whose transaction.atomic() "
                f"block the lead's changes should join")
        joined = copy.copy(base) if alias == base.using else DjangoStore(
            _check_alias(alias), max_data_size=base.max_data_size)
        joined._joined = base
        joined._local = threading.local()
        joined.deliver_on_commit = (base.deliver_on_commit if deliver_on_commit is None
                                    else deliver_on_commit)
        return joined

    # -- connection and schema --------------------------------------------------------------

    def _connection(self) -> BaseDatabaseWrapper:
        if self._closed or (self._joined is not None and self._joined._closed):
            raise StorageError(f"this {self!r} is closed; make a new DjangoStore")
        return connections[self.using]

    def _check_open(self) -> None:
        self._connection()

    def _check_tables(self) -> None:
        connection = self._connection()
        migrate = (f"add 'funnelkit.contrib.django' to INSTALLED_APPS and run "
                   f"`python manage.py migrate funnelkit --database {self.using}`")
        try:
            with connection.cursor() as cursor:
                present = set(connection.introspection.table_names(cursor))
                missing = [t for t in TABLES if t not in present]
                if missing:
                    raise StorageError(
                        f"database {self.using!r} has no funnelkit tables "
                        f"({', '.join(missing)} missing): {migrate}")
                cursor.execute(f"SELECT name, version FROM {P}schema")
                found = dict(cursor.fetchall())
        except DatabaseError as e:
            raise self._translate(e) from e
        version = found.get(s.SCHEMA_NAME)
        if len(found) != 1 or type(version) is not int:
            raise StorageError(
                f"database {self.using!r}: the {P}schema table does not name a funnelkit schema "
                f"version (found {found!r}); the tables are not funnelkit's: {migrate}")
        if version > s.SCHEMA_VERSION:
            raise StorageError(
                f"database {self.using!r} has funnelkit schema version {version}, newer than the "
                f"{s.SCHEMA_VERSION} this funnelkit understands; upgrade funnelkit")
        if version < s.SCHEMA_VERSION:
            raise StorageError(
                f"database {self.using!r} has funnelkit schema version {version}, older than the "
                f"{s.SCHEMA_VERSION} this funnelkit writes: run "
                f"`python manage.py migrate funnelkit --database {self.using}`")

    def _translate(self, e: BaseException) -> StorageError:
        """Funnelkit's error for a database error (driver errors are Django's ``__cause__``)."""
        if isinstance(e, StorageError):
            return e
        cause = e.__cause__ or e
        code = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
        args = getattr(cause, "args", ())
        mysql_code = args[0] if args and isinstance(args[0], int) else None
        where = f"database {self.using!r}"
        if code in ("40001", "40P01") or mysql_code in (1213, 1020):
            return ConcurrencyError(
                f"{where}: the database gave up a transaction that raced with another "
                f"({type(cause).__name__}: {str(cause).strip()}); nothing was written: load again "
                f"and retry")
        if code == "25P02":  # in_failed_sql_transaction: the host caught an error in its block
            return HostTransactionError(self._failed_block())
        if "locked" in str(cause) and self._vendor() == "sqlite":
            return StorageError(
                f"{where}: the SQLite file stayed locked by another writer ({cause}); nothing "
                f"was written: retry, raise OPTIONS['timeout'] or set OPTIONS"
                f"['transaction_mode'] = 'IMMEDIATE' (see the Django integration docs)")
        return StorageError(f"{where}: the database failed ({type(cause).__name__}: "
                            f"{str(cause).strip()}); nothing was written")

    def _failed_block(self) -> str:
        return (f"database {self.using!r}: the surrounding transaction.atomic() block already "
                f"failed (an error inside it was caught), so it can only roll back; nothing was "
                f"written: leave the atomic block, then retry in a new one")

    def _vendor(self) -> str:
        return str(connections[self.using].vendor)

    def _read(self, work: Callable[[CursorWrapper], T]) -> T:
        connection = self._connection()
        try:
            with connection.cursor() as cursor:
                return work(cursor)
        except DatabaseError as e:
            raise self._translate(e) from e

    def _fetch(self, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        def work(cursor: CursorWrapper) -> list[tuple[Any, ...]]:
            cursor.execute(sql, args)
            return [tuple(row) for row in cursor.fetchall()]
        return self._read(work)

    def _write(self, work: Callable[[CursorWrapper], T]) -> T:
        """Run *work* in ``transaction.atomic``: a transaction, or a savepoint of the host's."""
        connection = self._connection()
        if connection.in_atomic_block and connection.needs_rollback:
            raise HostTransactionError(self._failed_block())
        if self._joined is not None and not connection.in_atomic_block:
            raise HostTransactionError(
                f"database {self.using!r}: pipeline.using() joins the transaction.atomic() block "
                f"you hold, and there is none, so this write would commit on its own; nothing "
                f"was written: call it inside `with transaction.atomic(using={self.using!r}):`, "
                f"or use the pipeline itself outside one")
        try:
            try:
                with transaction.atomic(using=self.using), connection.cursor() as cursor:
                    return work(cursor)
            except DatabaseError as e:
                raise self._translate(e) from e
        except ConcurrencyError as e:
            if self._joined is None:
                raise
            raise ConcurrencyError(  # the advice of SQLAlchemyStore.join, word for word
                f"{e} (inside your own transaction, joined with pipeline.using(): roll it back "
                f"and run the whole unit of work again; a retry inside it reads the same data)"
            ) from e

    @property
    def schema_version(self) -> int:
        """The schema version of the tables (the one this funnelkit writes).

        >>> DjangoStore().schema_version
        4
        """
        rows = self._fetch(f"SELECT version FROM {P}schema WHERE name = %s", [s.SCHEMA_NAME])
        return int(rows[0][0])

    # -- commits ----------------------------------------------------------------------------

    def load(self, lead_id: str) -> Lead:
        """The lead with this id; :class:`~funnelkit.NotFound` if there is none."""
        if not findable(lead_id, "lead_id"):
            self._check_open()
            raise no_lead(lead_id, f"database {self.using!r}")
        rows = self._fetch(SELECT_LEAD, [lead_id])
        if not rows:
            raise no_lead(lead_id, f"database {self.using!r}")
        return s.decode_lead(rows[0])

    def commit(self, change: Change) -> None:
        """Write *change* atomically, or nothing (see :class:`~funnelkit.stores.Store`)."""
        self.commit_many((change,))

    def commit_many(self, changes: Sequence[Change]) -> None:
        """Write every change in order in one transaction (or savepoint), all or nothing."""
        self._check_open()
        self._commit_batch(_Batch(changes, self.max_data_size))

    def commit_claimed(self, change: Change, *, worker: str, until: datetime) -> list[int] | None:
        """Write *change* as :meth:`commit` does, its outbox rows claimed by *worker* until *until*.

        The optional capability of :class:`~funnelkit.stores.Store` the pipeline uses to deliver
        the rows it has just committed from memory: one transaction (or savepoint), which
        answers the rows' ids in the change's order; each counts one attempt.  Inside a
        transaction that has not committed (``transaction.atomic()``), it writes the rows
        unclaimed, as :meth:`commit` does, and answers None: they may still roll back, so they
        wait for the delivery :meth:`claim_outbox` schedules for the commit.

        >>> from datetime import datetime, timedelta, timezone
        >>> from django.db import transaction
        >>> from funnelkit import templates
        >>> from funnelkit.stores import Change, OutboxMessage
        >>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
        >>> def change(lead_id):
        ...     lead = templates.inbound().new_lead(lead_id, at=at)
        ...     message = OutboxMessage(f"{lead_id}:0", "after_capture", {"lead_id": lead_id}, at)
        ...     return Change(lead, None, outbox=[message])
        >>> store = DjangoStore()
        >>> ids = store.commit_claimed(change("doc-C1"), worker="w1",
        ...                            until=at + timedelta(minutes=5))
        >>> row = store.outbox()[-1]
        >>> (row.id, row.claimed_by) == (ids[0], "w1")
        True
        >>> store.claim_outbox(worker="w2", now=at, lease=timedelta(minutes=5))  # w1 holds it
        []
        >>> with transaction.atomic():  # the host's block: nothing is handed out before it commits
        ...     store.commit_claimed(change("doc-C2"), worker="w1", until=at + timedelta(minutes=5))
        >>> store.outbox()[-1].claimed_by is None
        True
        """
        change = check_commit_claimed(change, worker, until)
        claim = None if self._held(self._connection()) else (worker, s.us(until))
        ids = self._commit_batch(_Batch((change,), self.max_data_size, claim=claim))
        return None if claim is None else ids

    def _commit_batch(self, batch: _Batch) -> list[int]:
        """Write a checked batch; answers the ids of the outbox rows it wrote claimed."""
        if not batch.size:
            return []
        try:
            return self._write(lambda cursor: self._fast(cursor, batch) if batch.fast_ok
                               else self._sequential(cursor, batch))
        except _Retry:
            return self._write(lambda cursor: self._sequential(cursor, batch))

    def _fast(self, cursor: CursorWrapper, batch: _Batch) -> list[int]:
        if batch.inserts:
            try:
                cursor.executemany(INSERT_LEAD, batch.inserts)
            except IntegrityError:
                raise _Retry from None
        if batch.updates:
            cursor.executemany(UPDATE_LEAD, [_update_params(row) for row in batch.updates])
            if cursor.rowcount != len(batch.updates):
                raise _Retry
        return self._children(cursor, batch.rows, claim=batch.claim)

    def _sequential(self, cursor: CursorWrapper, batch: _Batch) -> list[int]:
        ids: list[int] = []
        many = batch.size > 1
        for index, (change, row) in enumerate(batch.per_change):
            where = f"change {index + 1} of {batch.size}: " if many else ""
            lead = change.lead
            if change.expected_version is None:
                try:
                    cursor.execute(INSERT_LEAD, row)
                except IntegrityError:
                    raise AlreadyExists(
                        f"{where}lead {lead.id!r} exists already; load it instead of creating "
                        f"it") from None
            else:
                cursor.execute(UPDATE_LEAD, _update_params(row))
                if cursor.rowcount != 1:
                    cursor.execute(LEAD_VERSION, [lead.id])
                    found = cursor.fetchone()
                    if found is None:
                        raise NotFound(f"{where}no lead {lead.id!r} in this store")
                    raise version_conflict(change, found[0], found[1], where)
            ids += self._children(cursor, _Rows.of(change), where=where, claim=batch.claim)
        return ids

    @staticmethod
    def _children(cursor: CursorWrapper, rows: _Rows, *, where: str = "",
                  claim: tuple[str, int] | None = None) -> list[int]:
        """Insert the child rows; answers the outbox rows' ids when they are written claimed."""
        transitions, touchpoints, handoffs, outbox = rows
        if transitions:
            try:
                cursor.executemany(INSERT_TRANSITION, transitions)
            except IntegrityError:
                raise ConcurrencyError(
                    f"{where}a transition with the same lead and version is stored already: "
                    f"someone else moved the lead first; load it again and retry") from None
        if touchpoints:
            cursor.executemany(INSERT_TOUCHPOINT, touchpoints)
        for h in handoffs:
            cursor.execute(REPLACE_HANDOFF, (*h[1:], h[0]))
            if cursor.rowcount == 1:
                continue
            cursor.execute(HANDOFF_STATUS, [h[0]])
            found = cursor.fetchone()
            if found is not None:
                raise ConcurrencyError(
                    f"{where}handoff {h[0]!r} is {found[0]} already; only a pending handoff can "
                    f"change: load it again")
            try:
                cursor.execute(INSERT_HANDOFF, h)
            except IntegrityError:
                raise ConcurrencyError(
                    f"{where}handoff {h[0]!r} was stored by someone else at the same moment; "
                    f"load it again") from None
        if not outbox:
            return []
        # Claimed rows are one INSERT, whose ids come back with RETURNING where the database
        # has it (PostgreSQL, SQLite, MariaDB 10.5+) and from a SELECT by key on MySQL.
        returning = claim is not None and cursor.db.features.can_return_rows_from_bulk_insert
        try:
            if claim is None:
                cursor.executemany(INSERT_OUTBOX, outbox)
                return []
            cursor.execute(
                INSERT_CLAIMED_OUTBOX + ", ".join([CLAIMED_OUTBOX_ROW] * len(outbox))
                + (" RETURNING id, msg_key" if returning else ""),
                [value for row in claimed_outbox_params(outbox, claim) for value in row])
        except IntegrityError:
            raise AlreadyExists(
                f"{where}an outbox key among {[m[0] for m in outbox][:5]!r} is used already; "
                f"outbox keys must be unique in a store") from None
        keys = [m[0] for m in outbox]
        if not returning:
            cursor.execute(f"SELECT id, msg_key FROM {P}outbox WHERE msg_key IN "
                           f"({_marks(keys)})", keys)
        ids = {key: int(row_id) for row_id, key in cursor.fetchall()}
        return [ids[key] for key in keys]

    def commit_merge(self, survivor: Change, duplicate: Change, merge: MergeRecord) -> MergeRecord:
        """Write a merge (or, for an undone *merge*, an unmerge) atomically (or a savepoint).

        See :class:`~funnelkit.stores.Store` for what is written; all of it, or nothing.
        """
        self._check_open()
        merge = check_merge_commit(survivor, duplicate, merge)
        batch = _Batch((survivor, duplicate), self.max_data_size)
        where = f"database {self.using!r}"

        def work(cursor: CursorWrapper) -> MergeRecord:
            self._sequential(cursor, batch)

            def execute(sql: str, args: Sequence[Any]) -> tuple[int, list[Any]]:
                cursor.execute(sql, list(args))
                count = cursor.rowcount
                rows = [tuple(r) for r in cursor.fetchall()] if sql.startswith("SELECT") else []
                return count, rows

            return merge_rows(execute, MERGE_SQL, merge, where)

        return self._write(work)

    def merges(self, *, lead_id: str | None = None, active_only: bool = False) -> list[MergeRecord]:
        """The merge records, oldest first (see :class:`~funnelkit.stores.Store`)."""
        check_flag(active_only, "active_only")
        self._check_open()
        if lead_id is not None and not findable(lead_id, "lead_id"):
            return []
        clauses = ([] if lead_id is None else [MERGE_SQL.by_lead]) + (
            ["unmerged_at IS NULL"] if active_only else [])
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        args = [] if lead_id is None else [lead_id, lead_id]
        rows = self._fetch(MERGE_SQL.select + where + MERGE_SQL.order, args)
        return [s.decode_merge(r) for r in rows]

    # -- reads ------------------------------------------------------------------------------

    def _lead_rows(self, sql: str, lead_id: str) -> list[tuple[Any, ...]]:
        """The rows *sql* selects for one lead; NotFound when there are none and no such lead."""
        if not findable(lead_id, "lead_id"):
            self._check_open()
            raise no_lead(lead_id, f"database {self.using!r}")

        def work(cursor: CursorWrapper) -> list[tuple[Any, ...]]:
            cursor.execute(sql, [lead_id])
            rows = [tuple(r) for r in cursor.fetchall()]
            if not rows:
                cursor.execute(LEAD_VERSION, [lead_id])
                if cursor.fetchone() is None:
                    raise no_lead(lead_id, f"database {self.using!r}")
            return rows

        return self._read(work)

    def history(self, lead_id: str) -> list[Transition]:
        """The lead's transitions, oldest first."""
        return [s.decode_transition(r) for r in self._lead_rows(SELECT_HISTORY, lead_id)]

    def touchpoints(self, lead_id: str) -> list[Touchpoint]:
        """The lead's touchpoints by time."""
        return [s.decode_touchpoint(r) for r in self._lead_rows(SELECT_TOUCHPOINTS, lead_id)]

    def leads(self, *, stage: str | None = None) -> Iterator[Lead]:
        """Every lead (in one stage when *stage* is given), in id order, read page by page."""
        self._check_open()
        if stage is not None and not findable(stage, "stage"):
            return iter(())
        return self._leads(stage)

    def _leads(self, stage: str | None) -> Iterator[Lead]:
        where = "" if stage is None else "stage = %s AND "
        sql = (f"SELECT {_cols(s.LEAD_COLUMNS)} FROM {P}leads WHERE {where}id > %s "
               f"ORDER BY id LIMIT {_PAGE}")
        last = ""
        while True:
            rows = self._fetch(sql, [last] if stage is None else [stage, last])
            for row in rows:
                yield s.decode_lead(row)
            if len(rows) < _PAGE:
                return
            last = rows[-1][0]

    def _stream(self, table: str, columns: Sequence[str], decode: Callable[[Any], T], *,
                after: int, since: datetime | None, limit: int | None) -> Iterator[tuple[int, T]]:
        since_us = None if since is None else s.us(since)
        where = "position > %s" + ("" if since_us is None else " AND at_us >= %s")
        left = limit
        while left is None or left > 0:
            size = _PAGE if left is None else min(_PAGE, left)
            args: list[Any] = [after] if since_us is None else [after, since_us]
            sql = (f"SELECT position, {_cols(columns)} FROM {P}{table} WHERE {where} "
                   f"ORDER BY position LIMIT {size}")
            rows = self._fetch(sql, args)
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
        check_stream(after, since, limit)
        self._check_open()
        return self._stream("transitions", s.TRANSITION_COLUMNS, s.decode_transition,
                            after=after, since=since, limit=limit)

    def touchpoint_stream(
        self, *, after: int = 0, since: datetime | None = None, limit: int | None = None
    ) -> Iterator[tuple[int, Touchpoint]]:
        """Every touchpoint with its position (increasing, > *after*), at or after *since*."""
        check_stream(after, since, limit)
        self._check_open()
        return self._stream("touchpoints", s.TOUCHPOINT_COLUMNS, s.decode_touchpoint,
                            after=after, since=since, limit=limit)

    def handoff(self, handoff_id: str) -> Handoff:
        """The handoff with this id; :class:`~funnelkit.NotFound` if there is none."""
        if not findable(handoff_id, "handoff_id", MAX_KEY_LENGTH):
            self._check_open()
            raise no_handoff(handoff_id, f"database {self.using!r}")
        rows = self._fetch(SELECT_HANDOFF, [handoff_id])
        if not rows:
            raise no_handoff(handoff_id, f"database {self.using!r}")
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
        sql, args = handoff_query(f"{P}handoffs", status=status, team=team, assignee=assignee,
                                  lead_id=lead_id, due_before=due_before, mark="%s")
        return [s.decode_handoff(r) for r in self._fetch(sql, args)]

    # -- outbox -----------------------------------------------------------------------------

    def claim_outbox(
        self, *, worker: str, now: datetime, lease: timedelta, limit: int = 100
    ) -> list[OutboxRow]:
        """Claim up to *limit* due, undelivered rows not leased by another worker, oldest first.

        Inside a transaction that has not committed (``transaction.atomic()``), no row is
        claimed: :attr:`deliver_on_commit` is scheduled to run once the transaction commits.
        """
        check_claim(worker, now, lease, limit)
        connection = self._connection()
        if self._held(connection):
            self._schedule_delivery(connection)
            return []
        now_us, until_us = s.us(now), s.us(now + lease)
        due = (f"SELECT id FROM {P}outbox WHERE delivered_us IS NULL AND next_attempt_us <= %s "
               f"AND (claimed_until_us IS NULL OR claimed_until_us <= %s) ORDER BY id LIMIT %s")
        claim = "attempts = attempts + 1, claimed_by = %s, claimed_until_us = %s"
        vendor = connection.vendor

        def work(cursor: CursorWrapper) -> list[tuple[Any, ...]]:
            if vendor in ("postgresql", "sqlite"):
                # One UPDATE ... RETURNING: on SQLite it takes the write lock first, so no lock
                # upgrade can fail; on PostgreSQL the rows are picked with SKIP LOCKED.
                lock = " FOR UPDATE SKIP LOCKED" if vendor == "postgresql" else ""
                cursor.execute(f"UPDATE {P}outbox SET {claim} WHERE id IN ({due}{lock}) "
                               f"RETURNING {OUTBOX_READ}",
                               [worker, until_us, now_us, now_us, limit])
                return [tuple(r) for r in cursor.fetchall()]
            skip_locked = connection.features.has_select_for_update_skip_locked
            skip = " FOR UPDATE SKIP LOCKED" if skip_locked else ""
            cursor.execute(due + skip, [now_us, now_us, limit])
            ids = [i for (i,) in cursor.fetchall()]
            if not ids:
                return []
            marks = ", ".join(["%s"] * len(ids))
            cursor.execute(f"UPDATE {P}outbox SET {claim} WHERE id IN ({marks})",
                           [worker, until_us, *ids])
            cursor.execute(f"SELECT {OUTBOX_READ} FROM {P}outbox WHERE id IN ({marks})", ids)
            return [tuple(r) for r in cursor.fetchall()]

        rows = sorted(self._write(work), key=lambda r: int(r[0]))
        return [s.decode_outbox(r) for r in rows]

    def _held(self, connection: BaseDatabaseWrapper) -> bool:
        """Whether a write now is part of a transaction that has not committed (the host's)."""
        return bool(connection.in_atomic_block) and not getattr(self._local, "committed", False)

    def _schedule_delivery(self, connection: BaseDatabaseWrapper) -> None:
        deliver = self.deliver_on_commit
        if deliver is None:
            return
        scheduled = getattr(connection, "run_on_commit", ())
        if any(isinstance(owner := getattr(entry[1], "__self__", None), DjangoStore)
               and owner.deliver_on_commit == deliver for entry in scheduled):
            return  # one delivery per transaction is enough: it takes every due row
        transaction.on_commit(self._deliver, using=self.using, robust=True)

    def _deliver(self) -> None:
        """Run :attr:`deliver_on_commit` (``transaction.on_commit``: the host has committed)."""
        deliver = self.deliver_on_commit
        if deliver is None or self._closed:
            return
        # Django runs this once the host's transaction committed, outside any atomic block; a
        # test that runs captured on-commit callbacks by hand (pytest-django's
        # django_capture_on_commit_callbacks, TestCase.captureOnCommitCallbacks) runs it inside
        # the test's own block, standing for that commit: claim_outbox then hands rows out.
        self._local.committed = True
        try:
            deliver()
        finally:
            self._local.committed = False

    def _release(self, row_id: int, worker: str, sets: str, args: Sequence[Any]) -> None:
        check_row_id(row_id)

        def work(cursor: CursorWrapper) -> None:
            cursor.execute(f"UPDATE {P}outbox SET {sets}, claimed_by = NULL, "
                           f"claimed_until_us = NULL WHERE id = %s AND claimed_by = %s "
                           f"AND delivered_us IS NULL", [*args, row_id, worker])
            if cursor.rowcount == 0:
                cursor.execute(f"SELECT 1 FROM {P}outbox WHERE id = %s", [row_id])
                if cursor.fetchone() is not None:
                    raise ConcurrencyError(
                        f"outbox row {row_id} is not claimed by {worker!r} (any more): its lease "
                        f"ran out and another worker took it, or it was delivered")
                raise NotFound(f"no outbox row {row_id!r} in this store (database "
                               f"{self.using!r})")

        self._write(work)

    def ack_outbox(self, row_id: int, *, worker: str, at: datetime) -> None:
        """Mark a claimed row delivered (ConcurrencyError if *worker* lost its lease)."""
        require_aware(at)
        check_worker(worker)
        self._release(row_id, worker, "delivered_us = %s", [s.us(at)])

    def retry_outbox(self, row_id: int, *, worker: str, error: str, retry_at: datetime) -> None:
        """Release a claimed row after a failed delivery, to be tried again at *retry_at*."""
        check_retry(worker, error, retry_at)
        self._release(row_id, worker, "next_attempt_us = %s, last_error = %s",
                      [s.us(retry_at), str(error)])

    def purge_outbox(self, *, delivered_before: datetime) -> int:
        """Delete the rows delivered before *delivered_before*; answers how many (see ``Store``).

        ``Pipeline(outbox_retention=...)`` calls it as it delivers; a job runner may call it
        too.  Undelivered rows stay, whatever their age.  Inside ``transaction.atomic()`` the
        rows go when the host's transaction commits.

        >>> from datetime import datetime, timezone
        >>> DjangoStore().purge_outbox(delivered_before=datetime(2026, 3, 2, tzinfo=timezone.utc))
        0
        """
        before = s.us(require_derived(delivered_before, "delivered_before"))

        def work(cursor: CursorWrapper) -> int:
            cursor.execute(f"DELETE FROM {P}outbox WHERE delivered_us < %s", [before])
            return int(cursor.rowcount)

        return self._write(work)

    def outbox(self, *, undelivered_only: bool = True) -> list[OutboxRow]:
        """The outbox rows, oldest first."""
        check_flag(undelivered_only, "undelivered_only")
        where = " WHERE delivered_us IS NULL" if undelivered_only else ""
        rows = self._fetch(f"SELECT {OUTBOX_READ} FROM {P}outbox{where} ORDER BY id", [])
        return [s.decode_outbox(r) for r in rows]

    def close(self) -> None:
        """Stop using the database; the store refuses work afterwards.

        Django's connection stays open: it is the project's, and Django closes it.
        """
        self._closed = True

    def __repr__(self) -> str:
        joined = "" if self._joined is None else ", joined to the host's atomic block"
        return f"DjangoStore(using={self.using!r}{joined})"


def _check_alias(using: object) -> str:
    """*using* when it names a database of the project; a typed error saying what to do else."""
    if not isinstance(using, str) or not using:
        raise InvalidInput(f"using={_short(using)} must be a database alias of settings.DATABASES "
                           f"(a string such as 'default')")
    try:
        aliases = list(connections)
    except ImproperlyConfigured as e:
        raise StorageError(
            f"DjangoStore(using={using!r}) needs a configured Django project ({e}); run it "
            f"under manage.py or set DJANGO_SETTINGS_MODULE and call django.setup() first"
        ) from None
    if using not in aliases:
        raise InvalidInput(
            f"using={using!r} is not a database alias of this Django project (settings.DATABASES "
            f"has {', '.join(map(repr, aliases)) or 'none'}); pass one of them or add "
            f"{using!r} to settings.DATABASES")
    return using
