"""The ``funnelkit`` command line: ``demo`` (more commands arrive with later layers)."""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from funnelkit import templates
from funnelkit._errors import FunnelError
from funnelkit._lead import Source

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["main"]

_CHANNELS = (
    ("organic_search", 0.30), ("paid_search", 0.20), ("social", 0.12), ("email", 0.10),
    ("referral", 0.10), ("outbound", 0.13), ("display", 0.05),
)


def _demo(args: argparse.Namespace) -> int:
    """Walk synthetic leads through the inbound template and print how far they got."""
    rng = random.Random(args.seed)  # noqa: S311 - synthetic demo data, not cryptography
    funnel = templates.inbound()
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)
    channels, weights = zip(*_CHANNELS, strict=True)
    reached: Counter[str] = Counter()
    final: Counter[str] = Counter()
    moves = 0
    # Forward probabilities of the main path; the rest go to nurture or are disqualified.
    forward = {"subscriber": 0.8, "lead": 0.45, "mql": 0.6, "sql": 0.55, "opportunity": 0.35,
               "customer": 0.3}
    next_event = {"subscriber": "convert", "lead": "qualify", "mql": "hand_to_sales",
                  "sql": "open_opportunity", "opportunity": "win", "customer": "advocate"}
    for i in range(args.leads):
        at = start + timedelta(minutes=rng.randrange(0, 60 * 24 * 90))
        source = Source.of(rng.choices(channels, weights)[0])
        lead = funnel.new_lead(f"L{i:05d}", at=at, source=source)
        reached[lead.stage] += 1
        while lead.stage in next_event:
            at += timedelta(hours=rng.randrange(1, 240))
            roll = rng.random()
            if roll < forward[lead.stage]:
                event, reason = next_event[lead.stage], None
            elif lead.stage == "customer":
                break
            elif roll < forward[lead.stage] + (1 - forward[lead.stage]) / 2:
                event, reason = "nurture", None
            else:
                event, reason = "disqualify", "not a fit"
            lead = funnel.fire(lead, event, at=at, reason=reason, actor="demo").lead
            moves += 1
            reached[lead.stage] += 1
            if lead.stage == "nurture":
                break
        final[lead.stage] += 1
    out = sys.stdout
    out.write(f"funnelkit demo: {args.leads} synthetic leads (seed {args.seed}) through "
              f"{funnel.name!r}, {moves} moves\n\n")
    out.write(f"{'stage':<14}{'team':<11}{'reached':>9}{'of all':>9}{'ended here':>12}\n")
    for stage in funnel.stages:
        n = reached[stage.name]
        out.write(f"{stage.name:<14}{stage.team:<11}{n:>9}{n / args.leads:>9.1%}"
                  f"{final[stage.name]:>12}\n")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="funnelkit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="walk synthetic leads through the inbound funnel")
    demo.add_argument("--leads", type=int, default=5000, help="how many leads (default 5000)")
    demo.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args = _parser().parse_args(argv)
    if getattr(args, "leads", 1) < 1:
        sys.stderr.write("funnelkit: --leads must be at least 1\n")
        return 2
    try:
        return int(args.func(args))
    except FunnelError as exc:
        sys.stderr.write(f"funnelkit: {exc}\n")
        return 1
