"""The HTML report: every section, censored leads as their own band, self-contained, small, safe."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from funnelkit import InvalidInput, Source, templates
from funnelkit.analytics import FunnelLog
from funnelkit.cli import main, render_report
from funnelkit.stores import SQLiteStore

if TYPE_CHECKING:
    from pathlib import Path

SECTIONS = ("summary", "funnel", "time-in-stage", "time-to-outcome", "by-channel", "by-kind",
            "cohorts", "handoffs", "attribution", "forecast")


@pytest.fixture(scope="module")
def report_html(simulated_db: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("report") / "report.html"
    assert main(["-q", "report", "--db", str(simulated_db), "--funnel", "inbound", "-o", str(out)]) == 0
    return out.read_text(encoding="utf-8")


def test_every_section_is_there_with_a_table(report_html: str) -> None:
    """Each section of the issue is present; each chart has a table under it."""
    for anchor in SECTIONS:
        assert f'<section id="{anchor}"' in report_html
    assert report_html.count('<svg class="chart') <= report_html.count("<table")
    assert "not available in this version" not in report_html


def test_open_leads_are_their_own_band(report_html: str) -> None:
    """The funnel chart draws open (censored) leads as a hatched band with their count."""
    chart = report_html.split('class="chart funnel-chart"', 1)[1].split("</svg>", 1)[0]
    assert 'class="bar seg open"' in chart
    assert re.search(r"[\d,]+ open", chart)
    assert 'class="bar seg dropped"' in chart


def test_cohorts_mark_incomplete_cells(report_html: str) -> None:
    """A horizon not over for the whole cohort is marked incomplete, never a low number."""
    cohorts = report_html.split('<section id="cohorts"', 1)[1].split("</section>", 1)[0]
    assert 'class="num incomplete"' in cohorts
    assert 'class="num heat"' in cohorts


def test_attribution_two_models_and_forecast_percentiles(report_html: str) -> None:
    """Attribution by channel under linear and markov side by side; forecast P10/P50/P90."""
    attribution = report_html.split('<section id="attribution"', 1)[1].split("</section>", 1)[0]
    assert "linear credit" in attribution
    assert "markov credit" in attribution
    assert "organic_search" in attribution
    forecast = report_html.split('<section id="forecast"', 1)[1].split("</section>", 1)[0]
    for header in ("P10", "P50", "P90"):
        assert f'<th scope="col" class=num>{header}</th>' in forecast


def test_self_contained_and_small(report_html: str) -> None:
    """No script, no stylesheet or image fetched, no URL but the SVG namespace; a few dozen KB."""
    assert "<script" not in report_html
    assert "<link" not in report_html
    assert "<img" not in report_html
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", report_html))
    assert urls <= {"http://www.w3.org/2000/svg"}
    assert "@import" not in report_html
    assert len(report_html.encode()) < 500_000


def test_values_are_escaped(tmp_path: Path) -> None:
    """A hostile channel or team name is written as text, never as markup."""
    funnel = templates.inbound()
    at = datetime(2026, 1, 5, tzinfo=UTC)
    hostile = '<script>alert("x")</script>'
    lead = funnel.new_lead("L1", at=at, source=Source.of(hostile))
    moved = funnel.fire(lead, "convert", at=at + timedelta(days=1))
    log = FunnelLog(funnel, leads=[moved.lead], transitions=[moved.transition],
                    as_of=at + timedelta(days=2))
    html = render_report(log, title=hostile, generated_at=at)
    assert hostile not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


def test_an_empty_store_gives_a_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A store with no lead yet: a report that says so, exit code 0."""
    db = tmp_path / "empty.db"
    SQLiteStore(db).close()
    out = tmp_path / "r.html"
    assert main(["report", "--db", str(db), "--funnel", "inbound", "-o", str(out)]) == 0
    assert "No lead has entered the funnel yet." in out.read_text()
    assert "0 leads" in capsys.readouterr().out


def test_as_of(simulated_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--as-of after the last event is used; before it is a usage error naming the last event."""
    out = tmp_path / "r.html"
    assert main(["-q", "report", "--db", str(simulated_db), "--funnel", "inbound", "-o", str(out),
                 "--as-of", "2027-01-01"]) == 0
    assert "2027-01-01T00:00" in out.read_text()
    assert main(["report", "--db", str(simulated_db), "--funnel", "inbound", "-o", str(out),
                 "--as-of", "2026-01-01"]) == 2
    err = capsys.readouterr().err
    assert "is before the store's last event" in err
    assert main(["report", "--db", str(simulated_db), "--funnel", "inbound", "--as-of", "soon"]) == 2
    assert "is not an ISO 8601 time" in capsys.readouterr().err
    assert main(["report", "--db", str(simulated_db), "--funnel", "inbound",
                 "--attribution", "linear,magic"]) == 2
    assert "must name two models of first, last, linear" in capsys.readouterr().err


def test_wrong_funnel_for_the_store(simulated_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A store read with another funnel: one line saying so, exit code 1, no report written."""
    out = tmp_path / "r.html"
    assert main(["report", "--db", str(simulated_db), "--funnel", "temperature", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "does not fit funnel 'temperature'" in err
    assert err.count("\n") == 1
    assert not out.exists()


def test_unwritable_output(simulated_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An output in a missing folder or a folder itself: one line, nothing read."""
    assert main(["report", "--db", str(simulated_db), "--funnel", "inbound", "-o", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert main(["report", "--db", str(simulated_db), "--funnel", "inbound",
                 "-o", str(tmp_path / "no" / "r.html")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_report_through_a_database_url(simulated_db: Path, tmp_path: Path) -> None:
    """--url reads the same store through SQLAlchemy and writes the same figures."""
    pytest.importorskip("sqlalchemy")
    by_path, by_url = tmp_path / "a.html", tmp_path / "b.html"
    assert main(["-q", "report", "--db", str(simulated_db), "--funnel", "inbound", "-o", str(by_path)]) == 0
    assert main(["-q", "report", "--url", f"sqlite:///{simulated_db}", "--funnel", "inbound",
                 "-o", str(by_url)]) == 0

    def body(path: Path) -> str:  # everything but the time the report was written
        return re.sub(r"written [^;]*? by", "", path.read_text())

    assert body(by_path) == body(by_url)


def test_render_report_checks_its_arguments() -> None:
    """render_report refuses what is not a log, and anything but two attribution models."""
    log = FunnelLog(templates.inbound(), leads=[], transitions=[], as_of=datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(InvalidInput, match="must be a funnelkit.analytics log"):
        render_report("log")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="must name two models"):
        render_report(log, attribution=("linear",))
    with pytest.raises(InvalidInput, match="runs=0"):
        render_report(log, runs=0)


@pytest.mark.olist
def test_the_olist_report(olist_log: FunnelLog, tmp_path: Path) -> None:
    """On the real Olist funnel: every section renders, 8,000 MQLs, the file stays small."""
    html = render_report(olist_log, title="Olist")
    for anchor in SECTIONS:
        assert f'<section id="{anchor}"' in html
    assert "8,000" in html
    assert len(html.encode()) < 500_000
    (tmp_path / "olist.html").write_text(html, encoding="utf-8")

