"""Analyse the real Olist B2B funnel (8,000 MQLs, 842 won deals) with funnelkit.analytics.

Reads the two CSV files of the public "Marketing Funnel by Olist" data set from a folder (by
default ``../shared/data/olist`` next to the repository), imports every lead into the funnel in
``funnel.toml`` and prints what a sales team asks first: conversion by origin (censoring the MQLs
still open), time to win, monthly cohorts and the breakdown by SDR.

    python examples/olist/olist_funnel.py [DATA_DIR]

How the data becomes a funnel history:

- each MQL is a lead created at its first contact date (midnight, Sao Paulo time), with its
  origin as the channel; an empty origin is a lead with no source, kept apart from the literal
  origin ``unknown``;
- each closed deal walks its lead ``hand_to_sdr`` (by the SDR), ``hand_to_closer`` (by the sales
  rep) and ``win`` at the won date, the SDR becomes the lead's owner and the lead type an
  attribute;
- a deal won *before* its lead's first contact (one row) cannot be imported as it stands: it is
  reported by id and its moves are dated at the first contact (a win the same day), so the win
  still counts; a deal of an unknown MQL would be reported and left out.

The observation time ``as_of`` is the last event of the data.
"""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from dateutil import tz

from funnelkit import Funnel, Lead, Source, Transition
from funnelkit.analytics import FunnelLog

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parents[2] / "shared" / "data" / "olist"
SAO_PAULO = tz.gettz("America/Sao_Paulo")


@dataclass
class OlistImport:
    """The imported history and every row that could not be imported as it stands."""

    funnel: Funnel
    leads: dict[str, Lead] = field(default_factory=dict)
    transitions: list[Transition] = field(default_factory=list)
    adjusted: list[tuple[str, str]] = field(default_factory=list)  # (mql_id, what was done)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (mql_id, why)

    @property
    def as_of(self) -> datetime:
        """The last event of the data."""
        last = max(lead.created_at for lead in self.leads.values())
        return max([last, *(t.at for t in self.transitions)])

    def log(self) -> FunnelLog:
        """The history as a FunnelLog observed at the last event."""
        return FunnelLog(self.funnel, leads=self.leads.values(), transitions=self.transitions,
                         as_of=self.as_of)


def _date(text: str) -> datetime:
    """Olist writes dates as DD-MM-YYYY and times as DD-MM-YYYY HH:MM, in Sao Paulo time."""
    fmt = "%d-%m-%Y %H:%M" if " " in text.strip() else "%d-%m-%Y"
    return datetime.strptime(text.strip(), fmt).replace(tzinfo=SAO_PAULO)


def load(data_dir: Path) -> OlistImport:
    """Import every MQL and walk the won ones to ``won`` (see the module docstring)."""
    run = OlistImport(Funnel.from_file(HERE / "funnel.toml"))
    funnel = run.funnel
    with (data_dir / "olist_marketing_qualified_leads_dataset.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            origin = row["origin"].strip()
            run.leads[row["mql_id"]] = funnel.new_lead(
                row["mql_id"], at=_date(row["first_contact_date"]),
                source=Source.of(origin) if origin else None,
                attributes={"landing_page": row["landing_page_id"]},
            )
    with (data_dir / "olist_closed_deals_dataset.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            lead = run.leads.get(row["mql_id"])
            if lead is None:
                run.refused.append((row["mql_id"], "closed deal of an MQL not in the MQL file"))
                continue
            won_at = _date(row["won_date"])
            if won_at < lead.created_at:
                run.adjusted.append((lead.id, (
                    f"won {won_at:%Y-%m-%d} before its first contact {lead.created_at:%Y-%m-%d}: "
                    f"moves dated at the first contact")))
                won_at = lead.created_at
            walked = lead.evolve(owner=row["sdr_id"] or None,
                                 attributes={**lead.attributes, "lead_type": row["lead_type"],
                                             "closer": row["sr_id"]})
            # The data only has the close date: the SDR and closer steps happen at it.
            for event, actor in (("hand_to_sdr", row["sdr_id"]),
                                 ("hand_to_closer", row["sr_id"]), ("win", row["sr_id"])):
                outcome = funnel.fire(walked, event, at=won_at, actor=actor or None)
                walked = outcome.lead
                run.transitions.append(outcome.transition)
            run.leads[lead.id] = walked
    return run


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def report(run: OlistImport) -> str:
    """The printed report: conversion by origin, time to win, cohorts, SDRs."""
    log = run.log()
    lines: list[str] = []
    out = lines.append
    overall = log.conversion()
    won = overall.steps[-1].entered
    out(f"{overall.steps[0].entered} MQLs, {won} won, {len(run.transitions)} transitions, "
        f"as of {log.as_of:%Y-%m-%d %H:%M}")
    for mql_id, what in run.adjusted:
        out(f"  adjusted {mql_id}: {what}")
    for mql_id, why in run.refused:
        out(f"  refused {mql_id}: {why}")

    out("\nConversion from MQL to won, by origin (open MQLs are censored, not lost)")
    out(f"{'origin':<20}{'MQLs':>6}{'won':>6}{'open':>7}{'from first':>12}{'of closed':>11}"
        f"{'in 90 days':>12}")
    # Olist has a real origin called "other", so the rest group needs another name.
    options = {"steps": ["mql", "won"], "by": "channel", "top": 20, "other": "(rest)"}
    by_origin = log.conversion(**options)  # type: ignore[arg-type]
    in_window = log.conversion(mode="ordered", window="90 days", **options)  # type: ignore[arg-type]
    for origin, rows in by_origin.groups.items():
        first, last = rows
        name = "(no origin)" if origin is None else origin
        out(f"{name:<20}{first.entered:>6}{last.entered:>6}{first.open:>7}"
            f"{_pct(last.rate_from_first):>12}{_pct(first.rate_closed):>11}"
            f"{_pct(in_window.groups[origin][0].rate_closed):>12}")
    out("  Olist records no lost deals: every MQL not won is open, so 'of closed' is 100%; the\n"
        "  90-day window closes them (won within 90 days of the MQL, or dropped).")

    outcome = log.time_to_outcome()
    out("\nTime to win (Aalen-Johansen: share of all MQLs won within t; open MQLs censored)")
    for days in (30, 60, 90, 180):
        out(f"  within {days:>3} days: {_pct(outcome.won_by(timedelta(days=days)))}")
    median = outcome.median_time_to_win
    out(f"  median among the {outcome.won} winners: "
        f"{'-' if median is None else f'{median / timedelta(days=1):.0f} days'}")

    cohorts = log.cohorts("month", horizons=("30 days", "90 days"))
    out("\nMonthly cohorts: share won within 30 / 90 days (- while the horizon is still open)")
    for row in cohorts.rows:
        out(f"  {row.period:%Y-%m}  {row.leads:>5} MQLs  {_pct(row.won[0]):>6}  "
            f"{_pct(row.won[1]):>6}")

    by_sdr = log.conversion(steps=["mql", "won"], by="owner", top=5, other="(other SDRs)")
    out("\nWon deals by SDR (the five busiest; MQLs never worked have no SDR)")
    for sdr, rows in by_sdr.groups.items():
        name = "(none)" if sdr is None else sdr[:12]
        out(f"  {name:<14}{rows[-1].entered:>5} won")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Print the report for the data in ``argv[1]`` (or the default folder)."""
    data_dir = Path(argv[1]) if len(argv) > 1 else DEFAULT_DATA
    if not (data_dir / "olist_marketing_qualified_leads_dataset.csv").is_file():
        print(f"no Olist data in {data_dir}; pass the folder holding the two CSV files")
        return 2
    print(report(load(data_dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
