"""`funnelkit import`: rows become the funnel's own moves, every refused row is reported."""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING

import pytest

from funnelkit import Pipeline, templates
from funnelkit.cli import main
from funnelkit.stores import SQLiteStore

if TYPE_CHECKING:
    from pathlib import Path

GOOD = """lead_id,stage,time,channel,owner
L1,subscriber,2026-01-05 09:00,referral,
L1,lead,2026-01-06 10:00,,
L1,mql,2026-01-08T10:00:00+01:00,,
L2,lead,2026-01-05,paid_search,ann
L3,subscriber,2026-01-07,email,
"""


def write(tmp_path: Path, text: str, name: str = "events.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_rows_become_moves(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each stage row is the funnel's move to it; channel and owner come from the first row."""
    db = tmp_path / "f.db"
    assert main(["import", str(write(tmp_path, GOOD)), "--funnel", "inbound", "--db", str(db)]) == 0
    assert "5 rows of events.csv: 3 leads created, 0 updated, 3 moves" in capsys.readouterr().out
    store = SQLiteStore(db)
    try:
        l1, l2 = store.load("L1"), store.load("L2")
        assert (l1.stage, l1.version, l1.source.channel) == ("mql", 2, "referral")
        assert [t.event for t in store.history("L1")] == ["convert", "qualify"]
        assert store.history("L1")[1].at.isoformat() == "2026-01-08T10:00:00+01:00"
        assert (l2.stage, l2.owner) == ("lead", "ann")  # created in subscriber, moved at once
        assert Pipeline(templates.inbound(), store=store).verify_history().ok
    finally:
        store.close()


def test_every_refused_row_is_reported_with_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Unknown stages and events, bad times, impossible moves: reported by line, exit code 1."""
    text = GOOD + (
        "L2,sqll,2026-01-09,,\n"          # line 7: unknown stage, with a suggestion
        "L2,customer,2026-01-10,,\n"      # line 8: no move from lead to customer
        "L3,lead,yesterday,,\n"           # line 9: bad time
        ",lead,2026-01-09,,\n"            # line 10: no lead id
        "L3,,2026-01-09,,\n"              # line 11: neither stage nor event
    )
    db = tmp_path / "f.db"
    assert main(["import", str(write(tmp_path, text)), "--funnel", "inbound", "--db", str(db),
                 "--format", "json"]) == 1
    result = json.loads(capsys.readouterr().out)
    refused = {r["line"]: r["reason"] for r in result["refused"]}
    assert sorted(refused) == [7, 8, 9, 10, 11]
    assert "did you mean 'sql'?" in refused[7]
    assert "no move from 'lead' to 'customer'" in refused[8]
    assert "is not ISO 8601" in refused[9]
    assert refused[10] == "no lead id"
    assert refused[11] == "neither a stage nor an event"
    assert result["rows"] == 10
    store = SQLiteStore(db)
    try:  # the good rows were imported; the refused ones changed nothing
        assert store.load("L2").stage == "lead"
    finally:
        store.close()


def test_a_refused_first_row_does_not_create_the_lead(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A lead whose only row is refused is not created in the initial stage behind your back."""
    db = tmp_path / "f.db"
    path = write(tmp_path, "lead_id,stage,time\nL9,customer,2026-01-05\n")
    assert main(["import", str(path), "--funnel", "inbound", "--db", str(db)]) == 1
    assert "events.csv:2: lead 'L9': no move from 'subscriber' to 'customer'" in capsys.readouterr().out
    store = SQLiteStore(db)
    try:
        assert list(store.leads()) == []
    finally:
        store.close()


def test_importing_twice_adds_only_what_is_new(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A second run of the same file writes nothing; a grown file adds its new rows."""
    db = tmp_path / "f.db"
    path = write(tmp_path, GOOD)
    assert main(["import", str(path), "--funnel", "inbound", "--db", str(db)]) == 0
    capsys.readouterr()
    assert main(["import", str(path), "--funnel", "inbound", "--db", str(db)]) == 0
    assert "0 leads created, 0 updated, 0 moves, 5 rows already in the store" in capsys.readouterr().out
    write(tmp_path, GOOD + "L1,sql,2026-01-10,,\n")
    assert main(["import", str(path), "--funnel", "inbound", "--db", str(db)]) == 0
    assert "0 leads created, 1 updated, 1 moves" in capsys.readouterr().out


def test_events_columns_and_timezone(tmp_path: Path) -> None:
    """Columns are renamed with --column; an event column works; naive times use --timezone."""
    text = "contact;what;when;src\nC1;convert;2026-03-01 09:00;webinar\nC1;qualify;2026-03-02 09:00;\n"
    db = tmp_path / "f.db"
    assert main(["-q", "import", str(write(tmp_path, text)), "--funnel", "inbound", "--db", str(db),
                 "--delimiter", ";", "--column", "lead=contact", "--column", "event=what",
                 "--column", "time=when", "--column", "channel=src",
                 "--timezone", "Europe/Paris"]) == 0
    store = SQLiteStore(db)
    try:
        (first, _) = store.history("C1")
        assert first.at.isoformat() == "2026-03-01T09:00:00+01:00"
        assert store.load("C1").stage == "mql"
    finally:
        store.close()


def test_dry_run_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--dry-run checks every row and creates no store."""
    db = tmp_path / "f.db"
    assert main(["import", str(write(tmp_path, GOOD)), "--funnel", "inbound", "--db", str(db),
                 "--dry-run"]) == 0
    assert "checked (dry run, nothing written) 5 rows" in capsys.readouterr().out
    assert not db.exists()


@pytest.mark.parametrize(("text", "args", "message"), [
    ("id,stage,time\n", [], "has no column 'lead_id' for the lead (its columns: id, stage, time); name it with --column lead=COLUMN"),
    ("lead_id,time\n", [], "has neither a 'stage' nor an 'event' column"),
    ("lead_id,stage,time\n", ["--column", "owner=rep"], "has no column 'rep' for the owner"),
    ("lead_id,stage,time\n", ["--column", "colour=x"], "--column 'colour=x' must be FIELD=NAME"),
    ("", [], "is empty; it needs a header row"),
    ("lead_id,stage,time\n", ["--timezone", "Mars/Olympus"], "is not a time zone name"),
], ids=["no-lead-column", "no-stage-or-event", "renamed-missing", "unknown-field", "empty", "bad-zone"])
def test_bad_files_and_options_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                text: str, args: list[str], message: str) -> None:
    """A CSV without the needed columns, or a bad option: one line, exit code 2, nothing written."""
    db = tmp_path / "f.db"
    assert main(["import", str(write(tmp_path, text)), "--funnel", "inbound", "--db", str(db), *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
    assert not db.exists()


def test_missing_csv_and_unwritable_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A CSV that does not exist is exit 2; a store that cannot be opened is exit 1."""
    assert main(["import", str(tmp_path / "none.csv"), "--funnel", "inbound", "--db", "x.db"]) == 2
    assert "none.csv: no such file" in capsys.readouterr().err
    not_a_store = tmp_path / "other.db"
    with sqlite3.connect(not_a_store) as db:  # a host table named like the store's own
        db.execute("CREATE TABLE funnelkit_leads (x)")
    assert main(["import", str(write(tmp_path, GOOD)), "--funnel", "inbound", "--db", str(not_a_store)]) == 1
    err = capsys.readouterr().err
    assert "not made by funnelkit" in err
    assert err.count("\n") == 1


def test_a_store_url_that_does_not_connect(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--url to a server that is not there: one line without the password, exit code 1."""
    pytest.importorskip("sqlalchemy")
    pytest.importorskip("psycopg")
    url = "postgresql+psycopg://user:secret@127.0.0.1:1/none"
    assert main(["import", str(write(tmp_path, GOOD)), "--funnel", "inbound", "--url", url]) == 1
    err = capsys.readouterr().err
    assert "cannot open the store at postgresql+psycopg://user:***@127.0.0.1:1/none" in err
    assert "secret" not in err
    assert err.count("\n") == 1
