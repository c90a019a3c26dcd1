"""The HTML funnel report: one self-contained page built from the analytics' results.

:func:`render_report` asks an analytics log (a :class:`~funnelkit.analytics.FunnelLog` or a
:class:`~funnelkit.analytics.sql.SqlLog`) for every figure, then writes one HTML page: CSS in a
``<style>`` element, charts as inline SVG, no script and nothing fetched at view time.  Every
chart has a table under it with the same figures, every bar its number written on it, and open
(censored) leads are drawn as their own hatched band, never as drop-off.

The markup is built by small functions rather than a template engine, so the report needs
nothing beyond the standard library; every value passes through one escaping function.
"""

from __future__ import annotations

import importlib.resources
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import attrs

from funnelkit._core.errors import FunnelError, InvalidInput
from funnelkit.analytics import Analyses, MarkovModel
from funnelkit.cli._svg import Segment, bar_rows, esc, legend, range_rows

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from funnelkit._core.lead import Lead
    from funnelkit.analytics import (
        Attribution,
        Cohorts,
        Conversion,
        HandoffsReport,
        StepRow,
        Survival,
        TimeToOutcome,
    )

__all__ = ["render_report"]

_HORIZONS = ("30 days", "60 days", "90 days")
_REST = "(all others)"  # the rest group: real channels are called "other" (Olist has one)
_OUTCOME_DAYS = (30, 60, 90, 180)
_NONE = "\u2013"  # an en dash: the cell of a figure that is not known (yet)


# -- formatting ---------------------------------------------------------------------------------


def _pct(value: float | None, digits: int = 1) -> str:
    return _NONE if value is None else f"{value * 100:.{digits}f}%"


def _int(value: int | None) -> str:
    return _NONE if value is None else f"{value:,}"


def _num(value: float | None) -> str:
    if value is None:
        return _NONE
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"


def _dur(value: timedelta | None) -> str:
    """A duration in the unit a person would use.

    >>> _dur(timedelta(hours=36)), _dur(timedelta(minutes=90)), _dur(None)
    ('1.5 d', '1.5 h', '\u2013')
    """
    if value is None:
        return _NONE
    seconds = value.total_seconds()
    if seconds >= 86_400:
        return f"{seconds / 86_400:.1f} d"
    if seconds >= 3_600:
        return f"{seconds / 3_600:.1f} h"
    return f"{seconds / 60:.0f} min"


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, css: str = "",
           caption: str = "", numeric_from: int = 1) -> str:
    """A table; columns from *numeric_from* on are right-aligned numbers."""
    head = "".join(
        f'<th scope="col"{" class=num" if i >= numeric_from else ""}>{esc(h)}</th>'
        for i, h in enumerate(headers))
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            if i == 0:
                cells.append(f'<th scope="row">{esc(cell)}</th>')
            elif isinstance(cell, _Raw):
                cells.append(cell.html)
            else:
                cells.append(f'<td class="num">{esc(cell)}</td>' if i >= numeric_from
                             else f"<td>{esc(cell)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return (f'<table class="{esc(css)}">{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


@attrs.frozen
class _Raw:
    """A table cell already written as HTML (the cohort heat cells)."""

    html: str


def _note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def _section(anchor: str, title: str, intro: str, *parts: str) -> str:
    return (f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2><p class="intro">{esc(intro)}'
            f"</p>{''.join(parts)}</section>")


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{esc(caption)}</figcaption></figure>"


# -- sections -----------------------------------------------------------------------------------


def _summary(conversion: Conversion, outcome: TimeToOutcome) -> str:
    steps = conversion.steps
    first = steps[0].entered if steps else 0
    won_share = outcome.won_by(timedelta(days=90)) if outcome.n else None
    cards = [
        ("leads", _int(outcome.n)),
        ("won", _int(outcome.won)),
        ("lost", _int(outcome.lost)),
        ("still open", _int(outcome.censored)),
        (f"reached {steps[-1].step}" if steps else "reached the last step",
         _pct(steps[-1].rate_from_first) if steps and first else _NONE),
        ("won within 90 days", _pct(won_share)),
        ("median time to win", _dur(outcome.median_time_to_win)),
    ]
    items = "".join(f'<div class="card"><span class="value">{esc(v)}</span>'
                    f'<span class="label">{esc(k)}</span></div>' for k, v in cards)
    return f'<section id="summary" class="cards">{items}</section>'


def _step_segments(row: StepRow, last: bool) -> list[Segment]:
    if last or row.converted is None:
        return [Segment(row.entered, "won", f"{row.entered:,} reached")]
    return [
        Segment(row.converted, "converted", f"{row.converted:,} went on"),
        Segment(row.open or 0, "open", f"{row.open or 0:,} open"),
        Segment(row.dropped or 0, "dropped", f"{row.dropped or 0:,} dropped"),
    ]


def _funnel(conversion: Conversion) -> str:
    steps = conversion.steps
    if not steps or not steps[0].entered:
        return _section("funnel", "Funnel", "No lead has entered the funnel yet.")
    rows = []
    for i, row in enumerate(steps):
        last = i == len(steps) - 1
        prev = "" if row.rate_from_previous is None else \
            f", {_pct(row.rate_from_previous)} of previous"
        caption = f"{row.entered:,} entered: {_pct(row.rate_from_first)} of first{prev}"
        rows.append((row.step, caption, _step_segments(row, last)))
    chart = bar_rows(rows, title="Leads entering each step: went on, still open, dropped",
                     css="funnel-chart")
    key = legend([("converted", "went on to the next step"),
                  ("open", "still open at the report's date (censored, not a drop-off)"),
                  ("dropped", "dropped (closed, or lost)"), ("won", "reached the last step")])
    table = _table(
        ["step", "entered", "of first", "of previous", "went on", "open", "dropped",
         "drop-off", "rate among closed"],
        [[r.step, _int(r.entered), _pct(r.rate_from_first), _pct(r.rate_from_previous),
          _int(r.converted), _int(r.open), _int(r.dropped),
          _pct(r.dropped / r.entered) if r.dropped is not None and r.entered else _NONE,
          _pct(r.rate_closed)] for r in steps],
        css="funnel-table")
    intro = ("Each bar is the leads that entered the step. Open leads have neither moved on nor "
             "closed yet: they are censored, drawn as their own hatched band, and never counted "
             "as drop-off. 'Rate among closed' divides those that went on by those whose fate "
             "at the step is known.")
    return _section("funnel", "Funnel", intro, key, _figure(chart, "Conversion per step"), table)


def _stages(stays: dict[str, Survival]) -> str:
    rows = []
    table_rows = []
    for stage, km in stays.items():
        median, p90 = km.median, km.percentile(0.9)
        table_rows.append([stage, _int(km.n), _int(km.n - km.n_censored), _int(km.n_censored),
                           _dur(median), _dur(p90)])
        if median is not None:
            high = p90 if p90 is not None else median
            label = f"median {_dur(median)}, P90 {_dur(p90)}"
            if p90 is None:
                label += " (P90 not reached yet)"
            rows.append((stage, 0.0, median.total_seconds(), high.total_seconds(), label))
    parts = []
    if rows:
        parts.append(_figure(range_rows(rows, title="Time in stage: median and P90",
                                        css="stage-chart"),
                             "Bar to P90, tick at the median (Kaplan-Meier)"))
    else:
        parts.append(_note("No stage has a median yet: too few stays have ended."))
    parts.append(_table(["stage", "stays", "ended", "still running (censored)", "median", "P90"],
                        table_rows, css="stage-table"))
    intro = ("Kaplan-Meier estimates over every stay in each open stage. A stay still running "
             "at the report's date is censored: it counts for as long as it was seen, never as "
             "a short stay. A median or P90 not reached yet shows as a dash.")
    return _section("time-in-stage", "Time in stage", intro, *parts)


def _outcome(outcome: TimeToOutcome) -> str:
    rows = [[f"within {d} days", _pct(outcome.won_by(timedelta(days=d))),
             _pct(outcome.lost_by(timedelta(days=d)))] for d in _OUTCOME_DAYS]
    intro = (f"Share of all {outcome.n:,} leads won or lost within each time of their creation "
             f"(Aalen-Johansen: lost leads cannot win any more; the {outcome.censored:,} open "
             f"leads are censored). Median time to win among the {outcome.won:,} winners: "
             f"{_dur(outcome.median_time_to_win)}.")
    return _section("time-to-outcome", "Time to win or lose", intro,
                    _table(["time since creation", "won", "lost"], rows, css="outcome-table"))


def _breakdown(anchor: str, title: str, what: str, conversion: Conversion) -> str:
    groups = conversion.groups
    if not groups:
        return _section(anchor, title, f"No lead has a {what}.")
    step_names = [r.step for r in conversion.steps]
    rows = []
    table_rows = []
    for group, steps in groups.items():
        name = "(none)" if group is None else str(group)
        first, last = steps[0], steps[-1]
        rate = last.rate_from_first
        rows.append((name, f"{first.entered:,} leads, {_pct(rate)} reached {last.step}",
                     [Segment(last.entered, "won", f"{last.entered:,}"),
                      Segment(first.entered - last.entered, "rest", "")]))
        table_rows.append([name, _int(first.entered),
                           *[_pct(r.rate_from_first) for r in steps[1:]],
                           _int(first.open), _pct(first.rate_closed)])
    chart = bar_rows(rows, title=f"Leads by {what} and how many reached the last step",
                     css=f"{anchor}-chart")
    table = _table([what, "leads", *[f"reached {s}" for s in step_names[1:]],
                    f"open at {step_names[0]}", "went on among closed"], table_rows,
                   css=f"{anchor}-table")
    intro = (f"Conversion from the first step, by the lead's {what}. The dark part of each bar "
             f"is the leads that reached {step_names[-1]}.")
    return _section(anchor, title, intro,
                    legend([("won", f"reached {step_names[-1]}"), ("rest", "did not (yet)")]),
                    _figure(chart, f"Conversion by {what}"), table)


def _heat(value: float | None, top: float) -> _Raw:
    if value is None:
        return _Raw('<td class="num incomplete" title="not over yet for every lead of the '
                    'cohort">incomplete</td>')
    level = 0 if top <= 0 else min(value / top, 1.0)
    light = 97 - level * 52
    ink = "#fff" if light < 62 else "#111"
    return _Raw(f'<td class="num heat" style="background:hsl(212 60% {light:.0f}%);color:{ink}">'
                f"{esc(_pct(value))}</td>")


def _cohorts(cohorts: Cohorts) -> str:
    if not cohorts.rows:
        return _section("cohorts", "Monthly cohorts", "No lead yet.")
    top = max((w for row in cohorts.rows for w in row.won if w is not None), default=0.0)
    labels = [f"won within {h.days} days" for h in cohorts.horizons]
    rows = [[row.period.strftime("%Y-%m"), _int(row.leads), *[_heat(w, top) for w in row.won]]
            for row in cohorts.rows]
    intro = ("Leads by month of creation and the share won within each horizon. A cell is "
             "'incomplete' while the horizon has not passed for every lead of the month: it "
             "would only be a low number, so it is not shown.")
    return _section("cohorts", "Monthly cohorts", intro,
                    _table(["month", "leads", *labels], rows, css="cohort-table heat-table"))


def _handoffs(report: HandoffsReport) -> str:
    teams = report.teams
    if not teams:
        return _section("handoffs", "Handoffs and feedback",
                        "No handoff between teams in this store.")
    rows = []
    table_rows = []
    for team in teams.values():
        caption = (f"{team.handed:,} handed, acceptance {_pct(team.acceptance_rate)}, "
                   f"SLA met {_pct(team.sla_compliance)}")
        rows.append((team.team, caption,
                     [Segment(team.accepted, "converted", f"{team.accepted:,} accepted"),
                      Segment(team.pending, "open", f"{team.pending:,} pending"),
                      Segment(team.rejected, "dropped", f"{team.rejected:,} rejected"),
                      Segment(team.expired, "expired", f"{team.expired:,} expired")]))
        table_rows.append([team.team, _int(team.handed), _int(team.accepted),
                           _int(team.rejected), _int(team.expired), _int(team.pending),
                           _pct(team.acceptance_rate), _pct(team.sla_compliance),
                           _int(team.sla_breached), _dur(team.speed_median),
                           _dur(team.speed_p90)])
    chart = bar_rows(rows, title="Handoffs received by each team", css="handoff-chart")
    table = _table(["receiving team", "handed", "accepted", "rejected", "expired", "pending",
                    "acceptance", "SLA met", "SLA breached", "speed to lead (median)",
                    "P90"], table_rows, css="handoff-table")
    parts = [legend([("converted", "accepted"), ("open", "pending (censored)"),
                     ("dropped", "rejected"), ("expired", "expired")]),
             _figure(chart, "Handoffs by status"), table]
    for team in teams.values():
        parts.extend(_reasons(team.team, team.rejection_reasons))
    intro = ("A handoff is a move that crosses teams. Acceptance is among closed handoffs "
             "(pending ones are censored); the SLA is met when the handoff was answered by its "
             "due time; speed to lead is the Kaplan-Meier time from handoff to acceptance. The "
             "rejection reasons are the feedback from sales to marketing, by lead source.")
    return _section("handoffs", "Handoffs and feedback", intro, *parts)


def _reasons(team: str, by_source: Mapping[str | None, Mapping[str, int]]) -> list[str]:
    """Rejections received by *team*, one row per source and one column per reason."""
    totals: dict[str, int] = {}
    for counts in by_source.values():
        for reason, count in counts.items():
            totals[reason] = totals.get(reason, 0) + count
    if not totals:
        return []
    reasons = sorted(totals, key=lambda r: (-totals[r], r))
    shown, rest = reasons[:6], reasons[6:]
    headers = ["source", *shown, *(["other reasons"] if rest else []), "rejections"]
    rows = []
    for group, counts in sorted(by_source.items(), key=lambda kv: -sum(kv[1].values())):
        row: list[object] = ["(none)" if group is None else str(group)]
        row += [_int(counts.get(r, 0)) for r in shown]
        if rest:
            row.append(_int(sum(counts.get(r, 0) for r in rest)))
        row.append(_int(sum(counts.values())))
        rows.append(row)
    return [f"<h3>Why {esc(team)} rejected leads, by source</h3>",
            _table(headers, rows, css="reasons-table")]


_Credit = list[tuple[str, "Attribution"]] | str  # each model and its result, or why none


def _credit(log: Analyses, models: Sequence[str], value: str | None) -> _Credit:
    """Each model's :class:`~funnelkit.analytics.Attribution`, or why there is none."""
    if not getattr(log, "touchpoints", True):
        return ("No touchpoints in this store: attribution credits the channels of each lead's "
                "touchpoints, so there is nothing to credit.")
    results: list[tuple[str, Attribution]] = []
    for model in models:
        try:
            results.append((model, log.attribution(model, value=value)))
        except FunnelError as exc:
            return f"The {model} model gave no answer: {str(exc).splitlines()[0]}"
    return results


def _attribution(results: _Credit, value: str | None) -> str:
    title = "Attribution by channel"
    if isinstance(results, str):
        return _section("attribution", title, results)
    channels = sorted({c for _, r in results for c in r.credit},
                      key=lambda c: (-max(r.credit.get(c, 0.0) for _, r in results), c))
    if not channels:
        return _section("attribution", title, "No conversion has a touchpoint to credit.")
    totals = [sum(r.credit.values()) or 1.0 for _, r in results]
    rows = []
    for channel in channels:
        for i, ((model, result), total) in enumerate(zip(results, totals, strict=True)):
            credit = result.credit.get(channel, 0.0)
            label = f"{model}: {_num(credit)} ({_pct(credit / total)})"
            rows.append((channel if i == 0 else "", "",
                         [Segment(credit, ("model-a", "model-b")[i], label)]))
    chart = bar_rows(rows, title="_Credit per channel under each model", css="attribution-chart")
    headers = ["channel"]
    for model, _ in results:
        headers += [f"{model} credit", f"{model} share"]
    table_rows = []
    for channel in channels:
        cells: list[object] = [channel]
        for (_, result), total in zip(results, totals, strict=True):
            credit = result.credit.get(channel, 0.0)
            cells += [_num(credit), _pct(credit / total)]
        table_rows.append(cells)
    first = results[0][1]
    what = f"the value of {value!r}" if value else "conversions"
    intro = (f"How much of the {_num(first.conversions)} {what} each channel's touchpoints "
             f"earn, under two models side by side ({first.paths:,} paths; "
             f"{first.unattributed:,} conversions had no touchpoint in the lookback window and "
             f"are not credited).")
    return _section("attribution", title, intro,
                    legend([("model-a", results[0][0]), ("model-b", results[-1][0])]),
                    _figure(chart, "Attribution credit by channel"),
                    _table(headers, table_rows, css="attribution-table"))


def _open_leads(log: Analyses) -> list[Lead]:
    leads = getattr(log, "leads", ())
    stages = {s.name: s.is_open for s in log.funnel.stages}
    return [lead for lead in leads if stages.get(lead.stage, False)]


def _forecast(log: Analyses, outcome: TimeToOutcome, runs: int, seed: int,
              value: str | None) -> str:
    title = "Forecast"
    leads = _open_leads(log)
    try:
        model = MarkovModel.fit(log)
        result = model.forecast(leads, runs=runs, seed=seed, value=value)
    except FunnelError as exc:
        return _section("forecast", title,
                        f"No forecast could be made: {str(exc).splitlines()[0]}")
    ranges: list[tuple[str, float | None, tuple[float, float, float]]] = [
        ("wins", result.expected_wins, result.wins)]
    if result.value is not None:
        ranges.append((f"value ({value})", result.expected_value, result.value))
    rows = [(name, p10, p50, p90, f"P10 {_num(p10)}, P50 {_num(p50)}, P90 {_num(p90)}")
            for name, _, (p10, p50, p90) in ranges]
    chart = range_rows(rows, title="Forecast: P10 to P90, tick at P50", css="forecast-chart")
    table = _table(["figure", "expected", "P10", "P50", "P90"],
                   [[name, _num(expected), _num(p10), _num(p50), _num(p90)]
                    for name, expected, (p10, p50, p90) in ranges],
                   css="forecast-table")
    intro = (f"What the {len(leads):,} open leads should bring, from a Markov model of the "
             f"funnel fitted on its history (open stays censored) and {runs:,} Monte Carlo runs "
             f"(seed {seed}): 80% of the runs fall between P10 and P90.")
    if outcome.n and not outcome.lost:
        intro += (" No lead of this history was ever lost, so the model sees no way to lose: "
                  "read the forecast as an upper bound until losses are recorded.")
    return _section("forecast", title, intro, _figure(chart, "Forecast of the open pipeline"),
                    table)


# -- the page -----------------------------------------------------------------------------------

_TOC = (("summary", "Summary"), ("funnel", "Funnel"), ("time-in-stage", "Time in stage"),
        ("time-to-outcome", "Time to win or lose"), ("by-channel", "By channel"),
        ("by-kind", "By lead kind"), ("cohorts", "Cohorts"),
        ("handoffs", "Handoffs and feedback"), ("attribution", "Attribution"),
        ("forecast", "Forecast"))


def _css() -> str:
    return importlib.resources.files("funnelkit.cli").joinpath("report.css").read_text("utf-8")


def render_report(
    log: Analyses,
    *,
    title: str | None = None,
    attribution: Sequence[str] = ("linear", "markov"),
    runs: int = 2000,
    seed: int = 0,
    value: str | None = None,
    generated_at: datetime | None = None,
) -> str:
    """The HTML report of *log*: one self-contained page, returned as text.

    *log* is a :class:`~funnelkit.analytics.FunnelLog` (or any analytics log); *title*
    defaults to the funnel's name; *attribution* names the two models shown side by side;
    *runs* and *seed* drive the forecast's Monte Carlo runs; *value* names a numeric lead
    attribute that attribution credits and the forecast sums (conversions and wins only when
    None).

    >>> from datetime import datetime, timezone
    >>> from funnelkit import templates
    >>> from funnelkit.analytics import FunnelLog
    >>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
    >>> log = FunnelLog(templates.inbound(), leads=[], transitions=[], as_of=at)
    >>> html = render_report(log, generated_at=at)
    >>> html.startswith("<!doctype html>"), "No lead has entered the funnel yet." in html
    (True, True)
    """
    if not isinstance(log, Analyses):
        raise InvalidInput(f"log={log!r} must be a funnelkit.analytics log (FunnelLog, SqlLog)")
    models: list[object] = list(attribution)
    if len(models) != 2 or not all(isinstance(m, str) and m for m in models):
        raise InvalidInput(f"attribution={attribution!r} must name two models, such as "
                           f"('linear', 'markov')")
    if type(runs) is not int or runs < 1:
        raise InvalidInput(f"runs={runs!r} must be an int >= 1")
    names = [str(m) for m in models]
    return _page(log, title=title, attribution=_credit(log, names, value), runs=runs,
                seed=seed, value=value, generated_at=generated_at)


def _page(
    log: Analyses,
    *,
    title: str | None,
    attribution: _Credit,
    runs: int,
    seed: int,
    value: str | None,
    generated_at: datetime | None,
) -> str:
    """The page of :func:`render_report`, given the attribution results."""
    funnel = log.funnel
    name = title or f"Funnel report: {funnel.name}"
    when = generated_at or datetime.now(UTC)
    conversion = log.conversion()
    outcome = log.time_to_outcome()
    sections = [
        _summary(conversion, outcome),
        _funnel(conversion),
        _stages(log.time_in_stage()),
        _outcome(outcome),
        _breakdown("by-channel", "By channel", "channel",
                   log.conversion(by="channel", top=10, other=_REST)),
        _breakdown("by-kind", "By lead kind (seed, net, spear)", "kind",
                   log.conversion(by="kind", other=_REST)),
        _cohorts(log.cohorts("month", horizons=_HORIZONS)),
        _handoffs(log.handoffs_report(by="channel")),
        _attribution(attribution, value),
        _forecast(log, outcome, runs, seed, value),
    ]
    import funnelkit  # noqa: PLC0415 - for its version only

    toc = "".join(f'<li><a href="#{a}">{esc(t)}</a></li>' for a, t in _TOC)
    as_of = log.as_of.isoformat(timespec="minutes")
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="funnelkit {esc(funnelkit.__version__)}">'
        f"<title>{esc(name)}</title><style>{_css()}</style></head><body>"
        f'<header><h1>{esc(name)}</h1><p class="meta">Funnel <strong>{esc(funnel.name)}'
        f"</strong>, observed as of <strong>{esc(as_of)}</strong>; written "
        f"{esc(when.isoformat(timespec='minutes'))} by funnelkit {esc(funnelkit.__version__)}."
        f'</p><nav aria-label="sections"><ol>{toc}</ol></nav></header><main>'
        + "".join(sections)
        + "</main><footer><p>Leads still open at the observation time are censored in every "
          "figure: never a drop-off, never a short stay. Made with funnelkit.</p></footer>"
          "</body></html>\n"
    )
