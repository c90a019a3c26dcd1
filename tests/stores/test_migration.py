"""Schema version 2: the integer ``*_us`` columns, written by every commit, added to old stores."""

from __future__ import annotations

import calendar
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest

from funnelkit import Handoff, StorageError, templates
from funnelkit.pipeline import Pipeline
from funnelkit.stores import SQLAlchemyStore, SQLiteStore
from funnelkit.stores import _schema as schema

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from funnelkit import Lead

IST = timezone(timedelta(hours=5, minutes=30))
PDT = timezone(timedelta(hours=-7))
JST = timezone(timedelta(hours=9))
FUNNEL = templates.inbound()

# -- schema version 1, as funnelkit 1 wrote it (kept here, apart from the source it tests) -------

V1_LEAD_COLUMNS = ("id", "stage", "version", "attributes", "source_channel", "source_kind",
                   "owner", "created_at", "stage_entered_at", "updated_at")
V1_HANDOFF_COLUMNS = ("id", "lead_id", "from_team", "to_team", "created_at", "event", "version",
                      "assignee", "due_at", "due_us", "status", "resolved_at", "resolved_by",
                      "reason")


def v1_ddl(p: str) -> list[str]:
    """The SQLite DDL of schema version 1, table prefix *p*."""
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


# Offsets east and west of UTC, microseconds, and one instant a microsecond before the epoch.
LEADS = [
    FUNNEL.new_lead("L1", at=datetime(2026, 3, 2, 14, 30, 0, 123456, tzinfo=IST)),
    FUNNEL.new_lead("L2", at=datetime(2026, 3, 2, 9, tzinfo=UTC)),
    FUNNEL.new_lead("L3", at=datetime(1969, 12, 31, 16, 59, 59, 999999, tzinfo=PDT)),
]
HANDOFFS = [
    Handoff("L1:2", "L1", "marketing", "sales", event="hand_to_sales", version=2,
            created_at=datetime(2026, 3, 2, 15, 0, 0, 1, tzinfo=IST),
            due_at=datetime(2026, 3, 2, 19, 0, 0, 1, tzinfo=IST)),
    Handoff("L2:2", "L2", "marketing", "sales", event="hand_to_sales", version=2,
            created_at=datetime(2026, 3, 2, 9, 0, 0, 500000, tzinfo=UTC), status="accepted",
            assignee="ann", resolved_at=datetime(2026, 3, 3, 1, 2, 3, 999999, tzinfo=JST),
            resolved_by="ann"),
]


def oracle(value: datetime) -> int:
    """Microseconds since the epoch, computed another way than the store's ``us()``."""
    return calendar.timegm(value.utctimetuple()) * 1_000_000 + value.microsecond


def oracle_or_none(value: datetime | None) -> int | None:
    return None if value is None else oracle(value)


EXPECTED_LEADS = {lead.id: oracle(lead.created_at) for lead in LEADS}
EXPECTED_HANDOFFS = {h.id: (oracle(h.created_at), oracle_or_none(h.resolved_at))
                     for h in HANDOFFS}


def v1_rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The ``leads`` and ``handoffs`` rows of :data:`LEADS` and :data:`HANDOFFS` at version 1."""
    leads = [dict(zip(schema.LEAD_COLUMNS, schema.lead_insert_params(lead), strict=True))
             for lead in LEADS]
    handoffs = [dict(zip(schema.HANDOFF_COLUMNS, schema.handoff_params(h), strict=True))
                for h in HANDOFFS]
    return ([{c: row[c] for c in V1_LEAD_COLUMNS} for row in leads],
            [{c: row[c] for c in V1_HANDOFF_COLUMNS} for row in handoffs])


def write_v1_file(path: Path, *, stamped: bool = True, prefix: str = "funnelkit_") -> None:
    """A SQLite file at schema version 1 holding :data:`LEADS` and :data:`HANDOFFS`."""
    leads, handoffs = v1_rows()
    db = sqlite3.connect(path)
    with db:
        for statement in v1_ddl(prefix):
            db.execute(statement)
        if stamped:
            db.execute(f"INSERT INTO {prefix}schema (name, version) VALUES ('funnelkit', 1)")
        for table, columns, rows in (("leads", V1_LEAD_COLUMNS, leads),
                                     ("handoffs", V1_HANDOFF_COLUMNS, handoffs)):
            marks = ", ".join(f":{c}" for c in columns)
            db.executemany(f"INSERT INTO {prefix}{table} ({', '.join(columns)}) "  # noqa: S608
                           f"VALUES ({marks})", rows)
    db.close()


def raw_sqlite(path: Path | str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``*_us`` columns of schema version 2 in a SQLite file, read without funnelkit."""
    db = sqlite3.connect(path)
    try:
        leads = dict(db.execute("SELECT id, created_us FROM funnelkit_leads").fetchall())
        handoffs = {hid: (created, resolved) for hid, created, resolved in db.execute(
            "SELECT id, created_us, resolved_us FROM funnelkit_handoffs")}
    finally:
        db.close()
    return leads, handoffs


def raw_sqlalchemy(store: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``*_us`` columns of schema version 2 in a SQLAlchemyStore's tables, as stored."""
    sa = pytest.importorskip("sqlalchemy")
    leads, handoffs = store._leads, store._handoffs
    with store.engine.connect() as conn:
        lead_rows = conn.execute(sa.select(leads.c.id, leads.c.created_us)).all()
        handoff_rows = conn.execute(
            sa.select(handoffs.c.id, handoffs.c.created_us, handoffs.c.resolved_us)).all()
    return dict(lead_rows), {i: (c, r) for i, c, r in handoff_rows}


def columns_of(path: Path | str, table: str) -> list[tuple[str, str, int]]:
    """Name, declared type and NOT NULL of each column of *table*, in order."""
    db = sqlite3.connect(path)
    try:
        return [(r[1], r[2], r[3]) for r in db.execute(f"PRAGMA table_info({table})")]
    finally:
        db.close()


def test_the_oracle_agrees_with_the_store() -> None:
    """The test's own microsecond count equals the store's us() on every time used here."""
    times = [t for lead in LEADS for t in (lead.created_at,)]
    times += [t for h in HANDOFFS for t in (h.created_at, h.resolved_at) if t is not None]
    assert [oracle(t) for t in times] == [schema.us(t) for t in times]
    assert EXPECTED_LEADS["L3"] == -1
    assert [schema.iso_us(t.isoformat()) for t in times] == [oracle(t) for t in times]


# -- SQLiteStore -----------------------------------------------------------------------------


def test_sqlite_store_migrates_a_version_1_file(tmp_path: Path) -> None:
    """SQLiteStore takes a version 1 file to the current version, filling created_us exactly."""
    path = tmp_path / "v1.db"
    write_v1_file(path)
    store = SQLiteStore(path)
    assert store.schema_version == schema.SCHEMA_VERSION
    assert [store.load(lead.id) for lead in LEADS] == LEADS
    assert [store.handoff(h.id) for h in HANDOFFS] == HANDOFFS
    store.close()
    assert raw_sqlite(path) == (EXPECTED_LEADS, EXPECTED_HANDOFFS)
    fresh = SQLiteStore(tmp_path / "fresh.db")
    fresh.close()
    for table in ("funnelkit_leads", "funnelkit_handoffs"):
        assert columns_of(path, table) == columns_of(fresh.path, table)


def test_sqlite_migration_stops_at_a_time_funnelkit_never_wrote(tmp_path: Path) -> None:
    """A hand-edited time stops the migration with StorageError naming it; nothing changes."""
    path = tmp_path / "edited.db"
    write_v1_file(path)
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE funnelkit_handoffs SET resolved_at = '2026-03-03 01:02' "
                   "WHERE id = 'L2:2'")
    db.close()
    with pytest.raises(StorageError, match=r"resolved_at of row 'L2:2' is '2026-03-03 01:02'"):
        SQLiteStore(path)
    assert "created_us" not in {name for name, _, _ in columns_of(path, "funnelkit_leads")}
    db = sqlite3.connect(path)
    assert db.execute("SELECT version FROM funnelkit_schema").fetchone() == (1,)
    resolved = HANDOFFS[1].resolved_at
    assert resolved is not None
    with db:  # fixed as the error says: the next opening migrates
        db.execute("UPDATE funnelkit_handoffs SET resolved_at = ? WHERE id = 'L2:2'",
                   (resolved.isoformat(),))
    db.close()
    SQLiteStore(path).close()
    assert raw_sqlite(path) == (EXPECTED_LEADS, EXPECTED_HANDOFFS)


# -- SQLAlchemyStore -------------------------------------------------------------------------


@pytest.fixture
def sa() -> Any:
    """SQLAlchemy, or a skip without the extra."""
    return pytest.importorskip("sqlalchemy")


def test_sqlalchemy_store_migrates_a_version_1_sqlite_file(
    tmp_path: Path, sa: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLAlchemyStore on SQLite takes a version 1 file to the current version, page by page."""
    from funnelkit.stores import _sqlalchemy  # noqa: PLC0415 - needs the extra

    monkeypatch.setattr(_sqlalchemy, "_PAGE", 2)  # three leads: two pages
    path = tmp_path / "v1.db"
    write_v1_file(path)
    store = SQLAlchemyStore(f"sqlite:///{path}")
    assert store.schema_version == schema.SCHEMA_VERSION
    assert [store.load(lead.id) for lead in LEADS] == LEADS
    assert [store.handoff(h.id) for h in HANDOFFS] == HANDOFFS
    assert raw_sqlalchemy(store) == (EXPECTED_LEADS, EXPECTED_HANDOFFS)
    store.close()
    native = SQLiteStore(path)  # the migrated file is a current file to the other store too
    assert native.schema_version == schema.SCHEMA_VERSION
    assert native.load("L1") == LEADS[0]
    native.close()


def test_sqlalchemy_migration_cut_short_resumes(tmp_path: Path, sa: Any) -> None:
    """Columns added by a migration that stopped early are not added again; NULLs are filled."""
    path = tmp_path / "half.db"
    write_v1_file(path)
    db = sqlite3.connect(path)
    with db:  # what MariaDB keeps of a migration cut short: its ALTER TABLEs commit at once
        db.execute("ALTER TABLE funnelkit_leads ADD COLUMN created_us BIGINT")
        db.execute("ALTER TABLE funnelkit_handoffs ADD COLUMN created_us BIGINT")
        db.execute("ALTER TABLE funnelkit_handoffs ADD COLUMN resolved_us BIGINT")
        db.execute("UPDATE funnelkit_leads SET created_us = ? WHERE id = 'L1'",
                   (EXPECTED_LEADS["L1"],))
    db.close()
    store = SQLAlchemyStore(f"sqlite:///{path}")
    assert store.schema_version == schema.SCHEMA_VERSION
    assert raw_sqlalchemy(store) == (EXPECTED_LEADS, EXPECTED_HANDOFFS)
    store.close()


def test_sqlalchemy_migration_stops_at_a_time_funnelkit_never_wrote(
    tmp_path: Path, sa: Any
) -> None:
    """A hand-edited time stops the SQLAlchemy migration with StorageError naming the row."""
    path = tmp_path / "edited.db"
    write_v1_file(path)
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE funnelkit_leads SET created_at = '2026-03-02T09:00:00' WHERE id = 'L2'")
    db.close()
    with pytest.raises(StorageError, match=r"funnelkit_leads\.created_at of row 'L2' is "
                                           r"'2026-03-02T09:00:00'.*stays at version 1"):
        SQLAlchemyStore(f"sqlite:///{path}")
    db = sqlite3.connect(path)
    assert db.execute("SELECT version FROM funnelkit_schema").fetchone() == (1,)
    db.close()


def test_unstamped_tables_without_the_new_columns_are_refused(tmp_path: Path, sa: Any) -> None:
    """Tables made from version 1 metadata and never stamped are refused, naming the columns."""
    path = tmp_path / "alembic-v1.db"
    write_v1_file(path, stamped=False)
    for create in (False, True):
        with pytest.raises(StorageError, match=r"funnelkit_leads\.created_us.*migrations"):
            SQLAlchemyStore(f"sqlite:///{path}", create=create)
    assert "created_us" not in {name for name, _, _ in columns_of(path, "funnelkit_leads")}
    db = sqlite3.connect(path)
    assert db.execute("SELECT count(*) FROM funnelkit_schema").fetchone() == (0,)
    db.close()


def test_metadata_has_the_version_2_columns_nullable_and_last(sa: Any) -> None:
    """metadata lists the added *_us columns last, BIGINT and nullable, as migrated tables have them."""
    md = SQLAlchemyStore.metadata_for(prefix="crm_")
    for table, added in (("crm_leads", ["created_us"]),
                         ("crm_handoffs", ["created_us", "resolved_us"])):
        columns = list(md.tables[table].columns)
        assert [c.name for c in columns[-len(added):]] == added
        for column in columns[-len(added):]:
            assert column.nullable
            assert isinstance(column.type, sa.BigInteger)
        assert not any(c.name in added for i in md.tables[table].indexes for c in i.columns)


def _v1_tables_on(server: Any, prefix: str) -> SQLAlchemyStore:
    """Version 1 tables with :data:`LEADS` and :data:`HANDOFFS` on a server.

    Made as version 2 (the only metadata this funnelkit has), then taken back to version 1 with
    ``DROP COLUMN``: the tables version 1's metadata made.
    """
    sa = pytest.importorskip("sqlalchemy")
    store = SQLAlchemyStore(server.engine, prefix=prefix, schema=server.schema)
    quote = server.engine.dialect.identifier_preparer
    leads, handoffs = v1_rows()
    with server.engine.begin() as conn:
        for table, columns in ((store._leads, ["created_us"]),
                               (store._handoffs, ["created_us", "resolved_us"])):
            for column in columns:
                conn.execute(sa.text(f"ALTER TABLE {quote.format_table(table)} "
                                     f"DROP COLUMN {quote.quote(column)}"))
        conn.execute(sa.update(store._schema_t).values(version=1))
        conn.execute(sa.insert(store._leads), leads)
        conn.execute(sa.insert(store._handoffs), handoffs)
    return store


def test_sqlalchemy_store_migrates_version_1_tables_on_servers(
    server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL and MariaDB: version 1 tables get BIGINT NULL columns filled exactly."""
    sa = pytest.importorskip("sqlalchemy")
    from funnelkit.stores import _sqlalchemy  # noqa: PLC0415 - needs the extra

    old = _v1_tables_on(server, server.prefix())
    try:
        inspector = sa.inspect(server.engine)
        names = {c["name"] for c in inspector.get_columns(old._leads.name, schema=server.schema)}
        assert "created_us" not in names
        monkeypatch.setattr(_sqlalchemy, "_PAGE", 2)
        store = SQLAlchemyStore(server.engine, prefix=old.prefix, schema=server.schema)
        assert store.schema_version == schema.SCHEMA_VERSION
        assert [store.load(lead.id) for lead in LEADS] == LEADS
        assert [store.handoff(h.id) for h in HANDOFFS] == HANDOFFS
        assert raw_sqlalchemy(store) == (EXPECTED_LEADS, EXPECTED_HANDOFFS)
        inspector = sa.inspect(server.engine)
        for table, added in ((old._leads, ["created_us"]),
                             (old._handoffs, ["created_us", "resolved_us"])):
            columns = inspector.get_columns(table.name, schema=server.schema)
            assert [c["name"] for c in columns[-len(added):]] == added
            for column in columns[-len(added):]:
                assert column["nullable"]
                assert isinstance(column["type"], sa.BigInteger)
        SQLAlchemyStore(server.engine, prefix=old.prefix, schema=server.schema)  # no second ALTER
    finally:
        old.drop_tables()


# -- every store writes the columns ----------------------------------------------------------


@pytest.fixture(params=[
    "sqlite",
    "sqlalchemy-sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("mariadb", marks=pytest.mark.mariadb),
])
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A new, empty store of each kind."""
    if request.param == "sqlite":
        store: Any = SQLiteStore(tmp_path / "fresh.db")
        yield store
        store.close()
        return
    pytest.importorskip("sqlalchemy")
    if request.param == "sqlalchemy-sqlite":
        store = SQLAlchemyStore(f"sqlite:///{tmp_path / 'fresh.db'}")
        yield store
        store.close()
        return
    server = request.getfixturevalue(request.param)
    store = SQLAlchemyStore(server.engine, prefix=server.prefix(), schema=server.schema)
    try:
        yield store
    finally:
        store.drop_tables()


def test_new_writes_fill_the_us_columns(fresh: Any) -> None:
    """Capturing a lead and opening, then closing a handoff write the *_us columns of their times."""
    raw = raw_sqlite if isinstance(fresh, SQLiteStore) else raw_sqlalchemy
    pipeline = Pipeline(FUNNEL, store=fresh)
    created = datetime(2026, 3, 2, 14, 30, 0, 123456, tzinfo=IST)
    lead: Lead = pipeline.capture("L1", at=created)
    pipeline.fire("L1", "convert", at=created + timedelta(minutes=1))
    pipeline.fire("L1", "qualify", at=created + timedelta(minutes=2))
    handed = pipeline.fire("L1", "hand_to_sales", at=created + timedelta(minutes=3, microseconds=7))
    (opened,) = pipeline.handoffs(lead_id="L1")
    assert opened.created_at == handed.transition.at
    args = fresh.path if isinstance(fresh, SQLiteStore) else fresh
    assert raw(args) == ({"L1": oracle(created)}, {opened.id: (oracle(opened.created_at), None)})
    resolved = datetime(2026, 3, 2, 8, 15, 0, 999999, tzinfo=PDT)
    closed = pipeline.accept_handoff(opened.id, by="ann", at=resolved)
    assert closed.resolved_at == resolved
    assert raw(args) == ({"L1": oracle(created)},
                         {opened.id: (oracle(opened.created_at), oracle(resolved))})
    assert pipeline.get("L1").created_at == lead.created_at
