"""The commands as a user meets them: help, version, validate, diagram, simulate, and bad input."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

import funnelkit
from funnelkit import Pipeline, templates
from funnelkit.cli import main
from funnelkit.cli._console import Console
from funnelkit.stores import SQLiteStore

ROOT = Path(__file__).resolve().parents[2]
OLIST_FUNNEL = ROOT / "examples" / "olist" / "funnel.toml"
BROKEN = """
name = "broken"
initial = "lead"
[[stages]]
name = "lead"
team = "marketing"
[[stages]]
name = "won"
team = "sales"
outcome = "won"
[[moves]]
event = "win"
source = "lead"
target = "wonn"
"""


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "funnelkit", *args], capture_output=True,
                          text=True, timeout=120, check=False)


def test_version_is_the_package_version() -> None:
    """`funnelkit --version` prints the one version the package has."""
    done = run("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"funnelkit {funnelkit.__version__}"


@pytest.mark.parametrize("command", ["validate", "diagram", "simulate", "import", "report", "demo"])
def test_every_command_has_help_with_examples_and_exit_codes(command: str) -> None:
    """`funnelkit COMMAND --help` shows examples and the exit codes."""
    done = run(command, "--help")
    assert done.returncode == 0
    assert "examples:" in done.stdout
    assert f"funnelkit {command}" in done.stdout
    assert "exit codes:" in done.stdout


def test_usage_errors_are_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown command or option is one line on stderr and exit code 2, no traceback."""
    assert main(["nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "invalid choice: 'nope'" in err
    assert main(["demo", "--leads", "zero"]) == 2
    assert "--leads" in capsys.readouterr().err
    assert main(["demo", "--leads", "0"]) == 2
    assert "--leads must be at least 1" in capsys.readouterr().err


def test_validate_lists_every_problem_with_its_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A broken definition: each problem with its path and hint, exit code 1; a good one is ok."""
    bad = tmp_path / "broken.toml"
    bad.write_text(BROKEN)
    assert main(["validate", str(OLIST_FUNNEL), str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{OLIST_FUNNEL}: ok (funnel 'olist'" in out
    assert f"{bad}: 3 problems" in out
    assert "stages[1]: stage 'won' is unreachable" in out
    assert "moves[0].target: unknown stage 'wonn'; did you mean 'won'?" in out
    assert "open stage 'lead' has no way out" in out


def test_validate_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--format json gives one object per file, problems as path and message."""
    bad = tmp_path / "broken.json"
    bad.write_text("{not json")
    assert main(["validate", "--format", "json", str(OLIST_FUNNEL), str(bad)]) == 1
    results = json.loads(capsys.readouterr().out)
    assert [r["ok"] for r in results] == [True, False]
    assert results[0]["stages"] == 5
    assert results[1]["problems"][0]["message"].startswith("not valid JSON")


def test_validate_reads_the_old_moves_key_and_says_it_is_deprecated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """A definition with [[transitions]] is ok for now; validate names the key to write instead."""
    old = tmp_path / "old.toml"
    old.write_text(OLIST_FUNNEL.read_text(encoding="utf-8").replace("[[moves]]", "[[transitions]]"),
                   encoding="utf-8")
    assert main(["validate", str(old)]) == 0
    out = capsys.readouterr().out
    assert 'deprecated: the funnel data key "transitions" is deprecated' in out
    assert 'use "moves" ([[moves]] in TOML)' in out
    assert main(["validate", "--format", "json", str(OLIST_FUNNEL)]) == 0
    assert json.loads(capsys.readouterr().out)[0]["deprecated"] == []


def test_validate_a_missing_file_is_usage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file that does not exist, or has another suffix, is exit code 2 with what to do."""
    other = tmp_path / "funnel.yaml"
    other.write_text("name: x")
    assert main(["validate", str(tmp_path / "missing.toml"), str(other)]) == 2
    out = capsys.readouterr().out
    assert "missing.toml: no such file" in out
    assert "unknown suffix '.yaml'; name the file .toml or .json" in out


def test_diagram_mermaid_and_dot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Mermaid on stdout; DOT to a file."""
    assert main(["diagram", str(OLIST_FUNNEL)]) == 0
    assert "stateDiagram-v2" in capsys.readouterr().out
    out = tmp_path / "olist.dot"
    assert main(["-q", "diagram", "inbound", "--format", "dot", "-o", str(out)]) == 0
    assert out.read_text().lstrip().startswith("digraph")


def test_diagram_svg_needs_graphviz(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Without Graphviz's dot, --format svg names the package to install, exit code 1."""
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["diagram", "inbound", "--format", "svg"]) == 1
    err = capsys.readouterr().err
    assert "needs Graphviz's `dot` program" in err
    assert "apt-get install graphviz" in err


def test_diagram_output_folder_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An output path in a folder that does not exist is one line, exit code 2."""
    assert main(["diagram", "inbound", "-o", str(tmp_path / "no" / "x.mmd")]) == 2
    assert "does not exist; create it first" in capsys.readouterr().err


def test_unknown_funnel_names_the_templates(capsys: pytest.CaptureFixture[str]) -> None:
    """A funnel that is neither a file nor a template: exit 2, listing the templates."""
    assert main(["diagram", "inbund"]) == 2
    err = capsys.readouterr().err
    assert "inbund: no such file" in err
    assert "inbound, demand_waterfall, predictable_revenue, temperature" in err


def test_invalid_funnel_in_another_command_points_to_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Report, simulate and import refuse a broken definition in one line naming validate."""
    bad = tmp_path / "broken.toml"
    bad.write_text(BROKEN)
    assert main(["simulate", str(bad), "--leads", "5"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"run `funnelkit validate {bad}` to see every problem" in err


def test_simulate_writes_a_store_the_report_reads(simulated_db: Path) -> None:
    """simulate --db leaves leads, transitions, touchpoints and handoffs in a SQLite store."""
    store = SQLiteStore(simulated_db)
    try:
        leads = list(store.leads())
        assert len(leads) == 1500
        assert sum(1 for _ in store.transitions()) > 1500
        assert sum(1 for _ in store.touchpoint_stream()) >= 1500
        statuses = {h.status for h in store.handoffs()}
        assert {"accepted", "rejected"} <= statuses
        assert all(h.reason for h in store.handoffs(status="rejected"))
    finally:
        store.close()


def test_simulate_is_reproducible_and_its_history_replays(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The same seed prints the same counts; every stored lead is the replay of its history."""
    assert main(["simulate", "inbound", "--leads", "300", "--seed", "5", "--format", "json"]) == 0
    first = json.loads(capsys.readouterr().out)
    db = tmp_path / "s.db"
    assert main(["simulate", "inbound", "--leads", "300", "--seed", "5", "--format", "json",
                 "--db", str(db)]) == 0
    second = json.loads(capsys.readouterr().out)
    assert {k: v for k, v in first.items() if k != "db"} == {k: v for k, v in second.items() if k != "db"}
    store = SQLiteStore(db)
    try:
        assert Pipeline(templates.inbound(), store=store).verify_history().ok
    finally:
        store.close()


def test_simulate_weights_and_stays(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--weight 0 removes a move; a config file sets stays; unknown names are usage errors."""
    assert main(["simulate", "inbound", "--leads", "400", "--format", "json",
                 "--weight", "subscriber.disqualify=0", "--weight", "lead.disqualify=0",
                 "--weight", "mql.disqualify=0", "--weight", "sql.disqualify=0",
                 "--weight", "opportunity.disqualify=0", "--weight", "nurture.disqualify=0"]) == 0
    totals = json.loads(capsys.readouterr().out)
    assert "disqualified" not in totals["reached"]
    config = tmp_path / "sim.toml"
    config.write_text('[stays]\ndefault = "1 hour"\n[weights.subscriber]\nstay = 0\n')
    assert main(["simulate", "inbound", "--leads", "200", "--format", "json", "--days", "30",
                 "--config", str(config)]) == 0
    fast = json.loads(capsys.readouterr().out)
    assert fast["reached"]["lead"] + fast["reached"].get("nurture", 0) > 150
    assert main(["simulate", "inbound", "--weight", "mql.hand_to_sale=3"]) == 2
    assert "no move 'hand_to_sale' from 'mql'" in capsys.readouterr().err
    assert main(["simulate", "inbound", "--stay", "mql=soon"]) == 2
    assert "is not a duration" in capsys.readouterr().err


def test_simulate_refuses_an_existing_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An existing --db is never overwritten."""
    db = tmp_path / "taken.db"
    db.write_bytes(b"mine")
    assert main(["simulate", "inbound", "--db", str(db)]) == 2
    assert "exists" in capsys.readouterr().err
    assert db.read_bytes() == b"mine"


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    """--debug lets the error through with its traceback; without it, one line."""
    quiet = run("report", "--db", str(tmp_path / "none.db"), "--funnel", "inbound")
    assert quiet.returncode == 2
    assert "Traceback" not in quiet.stderr
    assert quiet.stderr.count("\n") == 1
    loud = run("--debug", "report", "--db", str(tmp_path / "none.db"), "--funnel", "inbound")
    assert loud.returncode == 1
    assert "Traceback" in loud.stderr


def test_tables_are_plain_when_piped_and_rich_on_a_terminal() -> None:
    """Piped output is plain aligned text; on a terminal with rich it is a rich table."""
    plain = io.StringIO()
    Console(out=plain, fancy=False).table(["stage", "n"], [["mql", 3]], right=[False, True])
    assert plain.getvalue() == "stage  n\nmql    3\n"
    pytest.importorskip("rich")
    fancy = io.StringIO()
    Console(out=fancy, fancy=True).table(["stage", "n"], [["mql", 3]], right=[False, True])
    assert "┃" in fancy.getvalue() or "│" in fancy.getvalue()
    assert "mql" in fancy.getvalue()


def test_commands_work_without_rich(tmp_path: Path) -> None:
    """With rich unimportable, simulate, import and report still work with plain output."""
    code = (
        "import sys; sys.modules['rich'] = None\n"
        "from funnelkit.cli import main\n"
        f"assert main(['simulate', 'inbound', '--leads', '50', '--db', {str(tmp_path / 'a.db')!r}]) == 0\n"
        f"assert main(['report', '--db', {str(tmp_path / 'a.db')!r}, '--funnel', 'inbound', '-o', {str(tmp_path / 'r.html')!r}]) == 0\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "simulated 50 leads" in done.stdout
    assert (tmp_path / "r.html").stat().st_size > 1000
