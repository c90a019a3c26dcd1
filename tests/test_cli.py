"""`funnelkit demo` and `python -m funnelkit demo` run and print counts (other commands: tests/cli/)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from funnelkit.cli import main
from funnelkit.stores import SQLiteStore

STAGES = ("subscriber", "lead", "mql", "sql", "opportunity", "customer", "evangelist",
          "nurture", "disqualified")


def check_report(text: str, leads: int) -> None:
    assert text.startswith(f"funnelkit demo: {leads} synthetic leads (seed 7) through 'inbound'")
    rows = {m[1]: (int(m[2]), int(m[3]))
            for m in re.finditer(r"^(\w+)\s+\w+\s+(\d+)\s+[\d.]+%\s+(\d+)$", text, re.MULTILINE)}
    assert tuple(rows) == STAGES
    assert rows["subscriber"][0] == leads
    assert sum(ended for _, ended in rows.values()) == leads
    assert all(reached >= ended for reached, ended in rows.values())


def test_python_dash_m_funnelkit_demo() -> None:
    """`python -m funnelkit demo` exits 0 and prints how many leads reached each stage."""
    done = subprocess.run(
        [sys.executable, "-m", "funnelkit", "demo", "--leads", "300"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    check_report(done.stdout, 300)


def test_funnelkit_entry_point_demo() -> None:
    """The installed `funnelkit` command runs the same demo with its defaults."""
    command = shutil.which("funnelkit", path=str(Path(sys.executable).parent))
    if command is None:
        pytest.skip("the funnelkit command is not installed next to this interpreter")
    done = subprocess.run([command, "demo"], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    check_report(done.stdout, 3000)


def test_demo_is_reproducible(capsys: pytest.CaptureFixture[str]) -> None:
    """The same seed gives the same report; another seed another one."""
    assert main(["demo", "--leads", "200", "--seed", "7"]) == 0
    first = capsys.readouterr().out
    assert main(["demo", "--leads", "200", "--seed", "7"]) == 0
    assert capsys.readouterr().out == first
    check_report(first, 200)
    assert main(["demo", "--leads", "200", "--seed", "8"]) == 0
    assert capsys.readouterr().out != first


def test_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    """--leads below 1 and an unknown command exit 2 with a one-line message."""
    assert main(["demo", "--leads", "0"]) == 2
    assert "--leads must be at least 1" in capsys.readouterr().err
    assert main(["nope"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_demo_keeps_its_sqlite_store_when_asked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--db PATH` leaves a SQLite store whose leads and handoffs match the printed report."""
    path = tmp_path / "demo.sqlite3"
    assert main(["demo", "--leads", "150", "--db", str(path)]) == 0
    out = capsys.readouterr().out
    check_report(out, 150)
    assert str(path) in out
    store = SQLiteStore(path)
    try:
        assert len(list(store.leads())) == 150
        handoffs = store.handoffs(team="sales")
        accepted = sum(h.status == "accepted" for h in handoffs)
        rejected = [h for h in handoffs if h.status == "rejected"]
        assert f"handoffs to sales: {len(handoffs)} ({accepted} accepted, {len(rejected)} rejected" in out
        assert all(h.reason for h in rejected)  # every rejection carries sales' reason
    finally:
        store.close()


def test_demo_refuses_to_overwrite_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An existing --db file is never overwritten: the demo says so and exits 2."""
    path = tmp_path / "taken.sqlite3"
    path.write_bytes(b"not mine")
    assert main(["demo", "--leads", "5", "--db", str(path)]) == 2
    assert "exists" in capsys.readouterr().err
    assert path.read_bytes() == b"not mine"


def test_demo_stops_quietly_when_its_reader_goes_away() -> None:
    """`funnelkit demo | head -1`: no traceback when the reader closes the pipe early."""
    if shutil.which("head") is None or shutil.which("sh") is None:
        pytest.skip("needs a POSIX shell and head")
    command = f"{shlex.quote(sys.executable)} -m funnelkit demo --leads 200 | head -1"
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.stdout.startswith("funnelkit demo:")
    assert "Traceback" not in done.stderr
    assert "BrokenPipeError" not in done.stderr
