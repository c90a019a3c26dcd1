"""Fixtures of the command line tests: a small store the report reads, and the browser marker."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from funnelkit.cli import main


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "browser: drives Debian's chromium headless (FUNNELKIT_REQUIRE_BROWSER=1 makes it required)",
    )


@pytest.fixture(scope="session")
def simulated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store of 1,500 simulated inbound leads (seed 3), written once per session."""
    path = tmp_path_factory.mktemp("sim") / "sim.db"
    assert main(["-q", "simulate", "inbound", "--leads", "1500", "--seed", "3", "--db", str(path)]) == 0
    return path


@pytest.fixture(scope="session")
def olist_log(olist_dir: Path):  # noqa: ANN201 - a FunnelLog
    """The Olist funnel's history, imported by the example (examples/olist/olist_funnel.py)."""
    example = Path(__file__).resolve().parents[2] / "examples" / "olist" / "olist_funnel.py"
    spec = importlib.util.spec_from_file_location("olist_funnel", example)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("olist_funnel", module)
    spec.loader.exec_module(module)
    return module.load(olist_dir).log()
