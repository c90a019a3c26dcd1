"""``DjangoStore``: the store protocol on a Django project's database connection."""

# S608: every statement is built from this module's constant table and column names; values
# always travel as ``%s`` parameters, never inside the SQL text.
# ruff: noqa: S608

from __future__ import annotations

import copy
import threading
from typing import TYPE_CHECKING, Any, TypeVar, cast

from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, DatabaseError, IntegrityError, connections, transaction

from funnelkit._core.errors import (
    ConcurrencyError,
    HostTransactionError,
    InvalidInput,
    StorageError,
)
from funnelkit._core.limits import MAX_DATA_SIZE, _short
from funnelkit.stores import _schema as s
from funnelkit.stores._protocol import (
    Change,
    OutboxRow,
    check_claim,
    check_commit_claimed,
    check_max_data_size,
)

# What both stores that send SQL text share: the statements, a commit_many call checked and turned
# into rows before any transaction starts, the batch writer and every read.
from funnelkit.stores._sqlite import (
    BatchWriter,
    Cursor,
    SQLTextStore,
    Statements,
    _Batch,
    _cols,
    check_deliver_on_commit,
    claimed_outbox_params,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime, timedelta

    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.backends.utils import CursorWrapper


__all__ = ["DjangoStore"]

T = TypeVar("T")
P = "funnelkit_"
TABLES = tuple(f"{P}{name}" for name in
               ("schema", "leads", "transitions", "touchpoints", "handoffs", "outbox"))


# Django's cursors take ``%s`` on every backend.
SQL = Statements(P, "%s", owner_flag=True)


class _Writer(BatchWriter):
    """Django's batch writer: claimed outbox rows are one ``INSERT`` whose ids come back."""

    def insert_claimed(self, cur: Cursor, outbox: list[tuple[Any, ...]],
                       claim: tuple[str, int]) -> list[int]:
        """Insert *outbox* rows claimed in one multi-row ``INSERT``; answers their ids.

        The ids come back with ``RETURNING`` where the database has it (PostgreSQL, SQLite,
        MariaDB 10.5+) and from a ``SELECT`` by key on MySQL.
        """
        returning = cast("CursorWrapper", cur).db.features.can_return_rows_from_bulk_insert
        cur.execute(self.sql.claimed_outbox(len(outbox))
                    + (" RETURNING id, msg_key" if returning else ""),
                    [value for row in claimed_outbox_params(outbox, claim) for value in row])
        keys = [m[0] for m in outbox]
        if not returning:
            cur.execute(f"SELECT id, msg_key FROM {P}outbox WHERE msg_key IN "
                        f"({self.sql.marks(len(keys))})", keys)
        ids = {key: int(row_id) for row_id, key in cur.fetchall()}
        return [ids[key] for key in keys]


class DjangoStore(SQLTextStore):
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

    _sql = SQL
    _writer = _Writer(SQL, IntegrityError)
    _MERGE_PLACE = True

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
        check_deliver_on_commit(deliver_on_commit)
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

    def _place(self) -> str:
        return f"database {self.using!r}"

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

    def _fetch(self, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        connection = self._connection()
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, args)
                return [tuple(row) for row in cursor.fetchall()]
        except DatabaseError as e:
            raise self._translate(e) from e

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

    # -- commits ----------------------------------------------------------------------------

    def commit(self, change: Change) -> None:  # beside commit_claimed: see SQLiteStore.commit
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
        vendor = connection.vendor

        def work(cursor: Cursor) -> list[tuple[Any, ...]]:
            if vendor in ("postgresql", "sqlite"):
                # One UPDATE ... RETURNING: on SQLite it takes the write lock first, so no lock
                # upgrade can fail; on PostgreSQL the rows are picked with SKIP LOCKED.
                lock = " FOR UPDATE SKIP LOCKED" if vendor == "postgresql" else ""
                cursor.execute(f"{SQL.claim}({SQL.outbox_due}{lock}) "
                               f"RETURNING {_cols(s.OUTBOX_READ_COLUMNS)}",
                               [worker, until_us, now_us, now_us, limit])
                return [tuple(r) for r in cursor.fetchall()]
            skip_locked = connection.features.has_select_for_update_skip_locked
            return self._writer.claim_due(cursor, worker, now_us=now_us, until_us=until_us,
                                          limit=limit,
                                          lock=" FOR UPDATE SKIP LOCKED" if skip_locked else "")

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
