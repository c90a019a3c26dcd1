"""Walk the real Olist B2B funnel (8,000 MQLs, 842 won deals) through funnelkit.

Reads the two CSV files of the public "Marketing Funnel by Olist" data set from a folder (by
default ``../shared/data/olist`` next to the repository), replays every lead through the funnel in
``funnel.toml`` and prints which acquisition channels really produce customers.

    python examples/olist/olist_funnel.py [DATA_DIR]

The data is real, so it is messy: empty origins, two date formats, and one deal "won" before its
lead's first contact. Rows the funnel refuses are counted and reported, never silently dropped.
"""

from __future__ import annotations

import csv
import statistics
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from dateutil import tz

from funnelkit import Funnel, FunnelError, Lead, Source, Transition

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parents[2] / "shared" / "data" / "olist"
SAO_PAULO = tz.gettz("America/Sao_Paulo")


@dataclass
class OlistRun:
    """Everything the walk produced."""

    funnel: Funnel
    leads: dict[str, Lead] = field(default_factory=dict)
    transitions: list[Transition] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (mql_id, why)

    def by_channel(self) -> list[tuple[str, int, int, float | None]]:
        """(channel, leads, won, median days to win) per channel, most leads first."""
        leads = Counter(lead.source.channel for lead in self.leads.values() if lead.source)
        won: Counter[str] = Counter()
        days: defaultdict[str, list[float]] = defaultdict(list)
        for lead in self.leads.values():
            if lead.stage == "won" and lead.source:
                won[lead.source.channel] += 1
                days[lead.source.channel].append(
                    (lead.stage_entered_at - lead.created_at).total_seconds() / 86400
                )
        return [
            (channel, n, won[channel], statistics.median(days[channel]) if days[channel] else None)
            for channel, n in leads.most_common()
        ]


def _date(text: str) -> datetime:
    """Olist writes dates as DD-MM-YYYY and times as DD-MM-YYYY HH:MM, in Sao Paulo time."""
    fmt = "%d-%m-%Y %H:%M" if " " in text.strip() else "%d-%m-%Y"
    return datetime.strptime(text.strip(), fmt).replace(tzinfo=SAO_PAULO)


def walk(data_dir: Path) -> OlistRun:
    """Capture every MQL at its first contact and walk the won ones to ``won``."""
    run = OlistRun(Funnel.load(HERE / "funnel.toml"))
    funnel = run.funnel
    with (data_dir / "olist_marketing_qualified_leads_dataset.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            channel = row["origin"].strip() or "unknown"
            run.leads[row["mql_id"]] = funnel.new_lead(
                row["mql_id"],
                at=_date(row["first_contact_date"]),
                source=Source.of(channel),
                attributes={"landing_page": row["landing_page_id"]},
            )
    with (data_dir / "olist_closed_deals_dataset.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            lead = run.leads.get(row["mql_id"])
            if lead is None:
                run.refused.append((row["mql_id"], "closed deal for an unknown MQL"))
                continue
            won_at = _date(row["won_date"])
            walked = lead
            moves = []
            try:
                # The data only has the close date: the SDR and closer steps happen at it.
                for event, actor in (("hand_to_sdr", row["sdr_id"]),
                                     ("hand_to_closer", row["sr_id"]), ("win", row["sr_id"])):
                    outcome = funnel.fire(walked, event, at=won_at, actor=actor or None)
                    walked = outcome.lead
                    moves.append(outcome.transition)
            except FunnelError as exc:  # a refused row leaves the lead as it was
                run.refused.append((row["mql_id"], str(exc)))
                continue
            run.leads[lead.id] = walked
            run.transitions.extend(moves)
    return run


def main(argv: list[str]) -> int:
    """Print the funnel's conversion by channel."""
    data_dir = Path(argv[1]) if len(argv) > 1 else DEFAULT_DATA
    if not (data_dir / "olist_marketing_qualified_leads_dataset.csv").is_file():
        print(f"no Olist data in {data_dir}; pass the folder holding the two CSV files")
        return 2
    run = walk(data_dir)
    won = sum(lead.stage == "won" for lead in run.leads.values())
    print(f"{len(run.leads)} MQLs, {won} won ({won / len(run.leads):.1%}), "
          f"{len(run.transitions)} transitions, {len(run.refused)} deal(s) refused")
    for mql_id, why in run.refused:
        print(f"  refused {mql_id}: {why.splitlines()[0]}")
    print(f"\n{'channel':<18}{'kind':<6}{'MQLs':>6}{'won':>6}{'conv.':>8}{'median days':>13}")
    for channel, n, w, days in run.by_channel():
        kind = Source.of(channel).kind or "-"
        median = f"{days:.0f}" if days is not None else "-"
        print(f"{channel:<18}{kind:<6}{n:>6}{w:>6}{w / n:>8.1%}{median:>13}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
