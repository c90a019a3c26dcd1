"""``funnelkit demo``: synthetic leads through the inbound template, and what happened to them.

A few thousand synthetic leads (seeded) walk through the inbound template with a
:class:`~funnelkit.Pipeline` on the embedded default store, a SQLite file; the demo prints how far
they got, how sales answered marketing's handoffs, and why it rejected leads, by source.
"""

from __future__ import annotations

import random
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from funnelkit import templates
from funnelkit._core.lead import Source
from funnelkit.cli._common import EXIT_OK, EXIT_USAGE, CommandError

if TYPE_CHECKING:
    import argparse

    from funnelkit._pipeline.pipeline import Pipeline
    from funnelkit.cli._console import Console

__all__ = ["demo"]

_CHANNELS = (
    ("organic_search", 0.30), ("paid_search", 0.20), ("social", 0.12), ("email", 0.10),
    ("referral", 0.10), ("outbound", 0.13), ("display", 0.05),
)
# How likely a lead in each stage moves on; the rest go to nurture or are disqualified.
_FORWARD = {"subscriber": 0.8, "lead": 0.45, "mql": 0.6, "sql": 0.55, "opportunity": 0.35,
            "customer": 0.3}
_NEXT = {"subscriber": "convert", "lead": "qualify", "mql": "hand_to_sales",
         "sql": "open_opportunity", "opportunity": "win", "customer": "advocate"}
# Sales rejects handoffs more often from some sources: the feedback marketing needs to hear.
_REJECT = {"referral": 0.10, "outbound": 0.20, "organic_search": 0.25, "email": 0.30,
           "paid_search": 0.35, "social": 0.45, "display": 0.50}
_REASONS = ("no budget", "not the decision maker", "no project this year", "wrong segment")


def _walk(pipeline: Pipeline, lead_id: str, rng: random.Random, at: datetime) -> int:
    """One lead's journey through the pipeline; returns how many moves it made."""
    moves = 0
    lead = pipeline.get(lead_id)
    while lead.stage in _NEXT:
        at += timedelta(hours=rng.randrange(1, 240))
        roll = rng.random()
        forward = _FORWARD[lead.stage]
        if roll < forward:
            lead = pipeline.fire(lead_id, _NEXT[lead.stage], actor="demo", at=at).lead
        elif lead.stage == "customer":
            break
        elif roll < forward + (1 - forward) / 2:
            lead = pipeline.fire(lead_id, "nurture", actor="demo", at=at).lead
        else:
            lead = pipeline.fire(lead_id, "disqualify", actor="demo", reason="not a fit",
                                 at=at).lead
        moves += 1
        if lead.stage == "sql":  # marketing handed the lead to sales: sales answers
            (handoff,) = pipeline.handoffs(status="pending", team="sales", lead_id=lead_id)
            at += timedelta(hours=rng.randrange(1, 8))
            channel = lead.source.channel if lead.source else ""
            if rng.random() < _REJECT.get(channel, 0.3):
                pipeline.reject_handoff(handoff.id, by="sdr", reason=rng.choice(_REASONS), at=at)
                moves += 1
                break
            pipeline.accept_handoff(handoff.id, by="sdr", at=at)
        if lead.stage == "nurture":
            break
    return moves


def _report(pipeline: Pipeline, args: argparse.Namespace, moves: int, out: TextIO) -> None:
    """Print how far the leads got, how sales answered handoffs, and why it rejected leads."""
    leads = args.leads
    funnel = pipeline.funnel
    reached: Counter[str] = Counter()
    final: Counter[str] = Counter()
    for lead in pipeline.store.leads():
        final[lead.stage] += 1
        reached[funnel.initial] += 1
    for _, transition in pipeline.store.transitions():
        if transition.target != transition.source:
            reached[transition.target] += 1
    where = args.db or "a temporary SQLite file"
    out.write(f"funnelkit demo: {leads} synthetic leads (seed {args.seed}) through "
              f"{funnel.name!r}, {moves} moves, stored in {where}\n\n")
    out.write(f"{'stage':<14}{'team':<11}{'reached':>9}{'of all':>9}{'ended here':>12}\n")
    for stage in funnel.stages:
        n = reached[stage.name]
        out.write(f"{stage.name:<14}{stage.team:<11}{n:>9}{n / leads:>9.1%}"
                  f"{final[stage.name]:>12}\n")
    handoffs = pipeline.handoffs(team="sales")
    status = Counter(h.status for h in handoffs)
    out.write(f"\nhandoffs to sales: {len(handoffs)} ("
              + ", ".join(f"{status[s]} {s}" for s in ("accepted", "rejected", "pending")) + ")\n")
    rejected: Counter[str] = Counter()
    for h in handoffs:
        if h.status == "rejected":
            source = pipeline.get(h.lead_id).source
            rejected[source.channel if source else "unknown"] += 1
    out.write("rejected by sales, by source: "
              + ", ".join(f"{channel} {n}" for channel, n in rejected.most_common()) + "\n")


def demo(args: argparse.Namespace, console: Console) -> int:
    """Walk synthetic leads through the inbound template on a SQLite store."""
    if args.leads < 1:
        raise CommandError("--leads must be at least 1", code=EXIT_USAGE)
    from funnelkit._pipeline.pipeline import Pipeline  # noqa: PLC0415 - the CLI loads layers on demand
    from funnelkit.stores import SQLiteStore  # noqa: PLC0415

    rng = random.Random(args.seed)  # noqa: S311 - a reproducible simulation, not secrets
    channels, weights = zip(*_CHANNELS, strict=True)
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)
    with tempfile.TemporaryDirectory(prefix="funnelkit-demo-") as scratch:
        path = Path(args.db) if args.db else Path(scratch) / "demo.sqlite3"
        if path.exists():
            raise CommandError(f"{path} exists; the demo writes a new store, pass another --db "
                               f"path or remove it", code=EXIT_USAGE)
        store = SQLiteStore(path)
        try:
            pipeline = Pipeline(templates.inbound(), store=store)
            moves = 0
            with console.progress("demo: walking leads", args.leads) as progress:
                for i in range(args.leads):
                    at = start + timedelta(minutes=rng.randrange(0, 60 * 24 * 90))
                    lead_id = f"L{i:05d}"
                    source = Source.of(rng.choices(channels, weights)[0])
                    pipeline.capture(lead_id, source=source, at=at)
                    moves += _walk(pipeline, lead_id, rng, at)
                    progress.advance()
            _report(pipeline, args, moves, console.out)
        finally:
            store.close()
    return EXIT_OK
