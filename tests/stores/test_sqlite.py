"""SQLiteStore specifics: WAL, schema version and migrations, refusing files that are not ours.

A host's own database with other tables is a file SQLiteStore works in: see
``test_sqlite_host_file.py``.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from _checks import check_consistency

from funnelkit import InvalidInput, StorageError, templates
from funnelkit.stores import Change, SQLAlchemyStore, SQLiteStore, _sqlite
from funnelkit.stores import _schema as schema

if TYPE_CHECKING:
    from pathlib import Path

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_new_file_is_wal_with_schema_version(tmp_path: Path) -> None:
    """A new store file is in WAL mode, marked as funnelkit's, at the current schema version."""
    path = tmp_path / "new.db"
    store = SQLiteStore(path)
    assert store.schema_version == schema.SCHEMA_VERSION
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("PRAGMA application_id").fetchone()[0] == _sqlite.APPLICATION_ID
    indexes = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"funnelkit_handoffs_status_team", "funnelkit_outbox_due",
            "funnelkit_transitions_lead_version"} <= indexes
    raw.close()
    store.close()


def test_handoff_and_outbox_queries_use_indexes(tmp_path: Path) -> None:
    """The handoff and outbox queries are answered from indexes, not table scans."""
    store = SQLiteStore(tmp_path / "plan.db")
    raw = sqlite3.connect(store.path)
    plans = {
        "handoffs": "SELECT id FROM funnelkit_handoffs WHERE status = 'pending' AND to_team = 'sales' "
                    "AND due_us < 5 ORDER BY due_us IS NULL, due_us, id",
        "assignee": "SELECT id FROM funnelkit_handoffs WHERE assignee = 'x'",
        "outbox": "SELECT id FROM funnelkit_outbox WHERE delivered_us IS NULL AND next_attempt_us <= 5",
        "history": "SELECT version FROM funnelkit_transitions WHERE lead_id = 'L' ORDER BY version",
    }
    for name, sql in plans.items():
        plan = " ".join(str(r[-1]) for r in raw.execute(f"EXPLAIN QUERY PLAN {sql}"))
        assert "USING" in plan, (name, plan)
        assert "INDEX" in plan, (name, plan)
    raw.close()
    store.close()


def test_reopening_keeps_data_and_does_not_migrate_again(tmp_path: Path) -> None:
    """Opening an existing store twice keeps its rows and schema."""
    path = tmp_path / "again.db"
    store = SQLiteStore(path)
    store.commit(Change(templates.inbound().new_lead("L1", at=T0), None))
    store.close()
    again = SQLiteStore(path)
    assert again.load("L1").id == "L1"
    assert again.schema_version == schema.SCHEMA_VERSION
    again.close()


def test_forward_migration_runs_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store at an older schema version is migrated forward, once, keeping its rows."""
    path = tmp_path / "old.db"
    store = SQLiteStore(path)
    store.commit(Change(templates.inbound().new_lead("L1", at=T0), None))
    store.close()
    calls: list[str] = []
    following = schema.SCHEMA_VERSION + 1

    def to_following(db: sqlite3.Connection, prefix: str) -> None:
        calls.append(prefix)
        db.execute(f"CREATE INDEX {prefix}leads_owner ON {prefix}leads (owner)")

    monkeypatch.setattr(schema, "SCHEMA_VERSION", following)
    monkeypatch.setitem(_sqlite.MIGRATIONS, following, to_following)
    migrated = SQLiteStore(path)
    assert migrated.schema_version == following
    assert migrated.load("L1").id == "L1"
    migrated.close()
    SQLiteStore(path).close()
    assert calls == ["funnelkit_"]
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT 1 FROM sqlite_master WHERE name = 'funnelkit_leads_owner'").fetchone()
    raw.close()


def test_refuses_a_text_file_and_leaves_it(tmp_path: Path) -> None:
    """A file that is not a SQLite database is refused with a clear error and left as it was."""
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 100)
    before = _digest(path)
    with pytest.raises(StorageError, match="not a SQLite database"):
        SQLiteStore(path)
    assert _digest(path) == before
    assert not (tmp_path / "notes.db-wal").exists()


def test_refuses_a_newer_schema(tmp_path: Path) -> None:
    """A store written by a newer funnelkit (higher schema version) is refused, untouched."""
    path = tmp_path / "future.db"
    SQLiteStore(path).close()
    raw = sqlite3.connect(path)
    raw.execute("UPDATE funnelkit_schema SET version = 99")
    raw.commit()
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.close()
    before = _digest(path)
    with pytest.raises(StorageError, match="schema version 99, newer"):
        SQLiteStore(path)
    assert _digest(path) == before


def test_refuses_a_directory(tmp_path: Path) -> None:
    """A directory path is refused with StorageError."""
    with pytest.raises(StorageError, match="directory"):
        SQLiteStore(tmp_path)


def test_bad_arguments(tmp_path: Path) -> None:
    """Bad timeouts, synchronous modes and paths raise InvalidInput."""
    with pytest.raises(InvalidInput):
        SQLiteStore(tmp_path / "a.db", timeout=-1)
    with pytest.raises(InvalidInput):
        SQLiteStore(tmp_path / "a.db", synchronous="OFF")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        SQLiteStore(42)  # type: ignore[arg-type]


def test_corrupt_row_raises_storage_error_naming_it(tmp_path: Path) -> None:
    """A row changed by hand into something funnelkit never writes is named in a StorageError."""
    store = SQLiteStore(tmp_path / "corrupt.db")
    store.commit(Change(templates.inbound().new_lead("L1", at=T0), None))
    raw = sqlite3.connect(store.path)
    raw.execute("UPDATE funnelkit_leads SET attributes = '{not json' WHERE id = 'L1'")
    raw.commit()
    raw.close()
    with pytest.raises(StorageError, match="'L1' of table 'leads'"):
        store.load("L1")
    store.close()


def test_unknown_stage_is_reported(tmp_path: Path) -> None:
    """A stored lead whose stage the funnel does not know is named by fire and by the consistency check."""
    funnel = templates.inbound()
    store = SQLiteStore(tmp_path / "stage.db")
    store.commit(Change(funnel.new_lead("L1", at=T0), None))
    raw = sqlite3.connect(store.path)
    raw.execute("UPDATE funnelkit_leads SET stage = 'limbo' WHERE id = 'L1'")
    raw.commit()
    raw.close()
    lead = store.load("L1")
    assert lead.stage == "limbo"
    with pytest.raises(InvalidInput, match="'limbo' is not a stage of funnel 'inbound'"):
        funnel.fire(lead, "convert", at=T0 + timedelta(minutes=1))
    report = check_consistency(store, funnel)
    assert any("limbo" in p for p in report.problems)
    store.close()


def test_store_survives_fork(tmp_path: Path) -> None:
    """A store opened before os.fork() opens its own connection in the child."""
    store = SQLiteStore(tmp_path / "fork.db")
    store.commit(Change(templates.inbound().new_lead("L1", at=T0), None))
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            store.commit(Change(templates.inbound().new_lead("child", at=T0), None))
        except BaseException:  # noqa: BLE001
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert {lead.id for lead in store.leads()} == {"L1", "child"}
    store.close()


def test_sqlite_and_sqlalchemy_share_a_file(tmp_path: Path) -> None:
    """A file written by SQLiteStore is read back by SQLAlchemyStore on SQLite, and the other way."""
    pytest.importorskip("sqlalchemy")
    funnel = templates.inbound()
    path = tmp_path / "shared.db"
    native = SQLiteStore(path)
    lead = funnel.new_lead("L1", at=T0, attributes={"when": T0})
    native.commit(Change(lead, None))
    other = SQLAlchemyStore(f"sqlite:///{path}")
    assert other.load("L1") == lead
    moved = funnel.fire(lead, "convert", at=T0 + timedelta(minutes=1))
    other.commit(Change(moved.lead, 0, [moved.transition]))
    assert native.history("L1") == [moved.transition]
    other.close()
    native.close()


