"""The docs a newcomer follows are true: README snippets, `$ funnelkit` lines, cookbook files."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COOKBOOK = ROOT / "examples" / "cookbook"
_BLOCK = re.compile(r"^```(python|console)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
PAGES = ["quickstart.md", "cookbook.md"]


def funnelkit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "funnelkit", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, check=False)


README_PYTHON = [code for kind, code in _BLOCK.findall((ROOT / "README.md").read_text())
                 if kind == "python"]


@pytest.mark.parametrize("number", range(len(README_PYTHON)))
def test_readme_snippets_stand_alone_and_run_twice(number: int, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Each README Python block runs in a fresh namespace (its own imports), and again."""
    code = README_PYTHON[number]
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        exec(compile(code, f"README.md block {number + 1}", "exec"), {"__name__": "readme"})  # noqa: S102
    assert list(tmp_path.iterdir()) == []  # nothing left in the working folder


@pytest.mark.parametrize("page", PAGES)
def test_documented_commands_run(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every `$ funnelkit ...` line of the page runs, after the page's Python blocks before it,
    with exit code 0 (or 1 where the page shows refused rows), printing the lines shown."""
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs_{page}"}
    ran = 0
    for kind, body in _BLOCK.findall((ROOT / "docs" / page).read_text()):
        if kind == "python":
            exec(compile(body, page, "exec"), namespace)  # noqa: S102 - our own documentation
            continue
        lines = body.splitlines()
        for i, line in enumerate(lines):
            if not line.startswith("$ funnelkit"):
                continue
            command = shlex.split(line[2:], comments=True)[1:]
            shown = [s for s in lines[i + 1:] if not s.startswith("$")]
            shown = shown[: next((k for k, s in enumerate(lines[i + 1:]) if s.startswith("$")), len(shown))]
            done = funnelkit(*command, cwd=tmp_path)
            expected = 1 if any("refused" in s and not s.endswith(" 0 refused") for s in shown) else 0
            assert done.returncode == expected, (line, done.stdout, done.stderr)
            for text in shown:
                assert text in done.stdout, (line, text, done.stdout)
            ran += 1
    assert ran, f"{page} shows no `$ funnelkit` command"


def test_nightly_report_script(tmp_path: Path) -> None:
    """The cron script imports the export (one refused row: exit 1) and writes today's report."""
    if shutil.which("sh") is None:
        pytest.skip("needs a POSIX shell")
    env = {**os.environ, "FUNNELKIT": f"{shlex.quote(sys.executable)} -m funnelkit",
           "EXPORT": str(COOKBOOK / "crm_export.csv"), "FUNNEL": "inbound",
           "DB": str(tmp_path / "funnel.db"), "REPORTS": str(tmp_path / "reports")}
    done = subprocess.run(["sh", str(COOKBOOK / "nightly_report.sh")], env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 1, done.stderr
    assert "crm_export.csv:10: lead 'C3': no move from 'subscriber' to 'mql'" in done.stdout
    (report,) = (tmp_path / "reports").iterdir()
    assert report.suffix == ".html"
    again = subprocess.run(["sh", str(COOKBOOK / "nightly_report.sh")], env=env,
                           capture_output=True, text=True, timeout=300, check=False)
    assert "0 leads created, 0 updated, 0 moves" in again.stdout  # nothing imported twice


def test_simulation_plan_example(tmp_path: Path) -> None:
    """examples/cookbook/simulation.toml is a valid plan."""
    done = funnelkit("simulate", "inbound", "--leads", "300", "--config",
                     str(COOKBOOK / "simulation.toml"), "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert '"leads": 300' in done.stdout


def test_the_policy_package_registers_by_entry_point(tmp_path: Path) -> None:
    """acme_policies, made visible as an installed distribution, is found by name."""
    dist = tmp_path / "acme_policies-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-policies\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[funnelkit.policies]\ntarget_account = acme_policies:target_account\n")
    code = (
        "from datetime import datetime, timezone\n"
        "from funnelkit import Lead, Context, policies\n"
        "p = policies.from_name('target_account', domains=['acme.example'])\n"
        "at = datetime(2026, 3, 2, tzinfo=timezone.utc)\n"
        "lead = Lead('L1', 'lead', created_at=at, attributes={'email': 'a@acme.example'})\n"
        "assert p(lead, Context(at)).allowed\n"
        "print('ok')\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(COOKBOOK / "acme_policies")])}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.stdout.strip() == "ok", done.stderr
