"""Benchmark: exact Markov attribution against ChannelAttribution, and the Markov forecast.

1. Markov attribution (removal effects, order 1) over N seeded paths of 8 channels (default
   1,000,000): funnelkit's exact absorbing-chain solution against ChannelAttribution's simulated
   ``markov_model`` on the same paths (when the package is installed; it is GPL and only used
   here and in the tests).  Printed: both times, the ratio, and the largest relative difference
   of the credits.  Goal: faster, and exact (ChannelAttribution's figures move with its seed).
2. ``MarkovModel.fit`` on a seeded funnel history and a 10,000-run forecast over 100,000 open
   leads: seconds printed.

Run: ``.venv/bin/python benchmarks/bench_modelling.py [--paths N] [--leads M]``
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import time
import warnings
from datetime import UTC, datetime, timedelta

from funnelkit import Funnel, Lead
from funnelkit.analytics import FunnelLog, Journey, MarkovModel, attribute

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def paths(n: int) -> list[tuple[tuple[str, ...], bool]]:
    rng = random.Random(3)
    channels = [f"c{i}" for i in range(8)]
    lift = {c: 0.02 + 0.03 * i for i, c in enumerate(channels)}
    out = []
    for _ in range(n):
        path = tuple(rng.choice(channels) for _ in range(rng.randint(1, 6)))
        out.append((path, rng.random() < min(0.9, sum(lift[c] for c in set(path)))))
    return out


def attribution(n: int) -> None:
    data = paths(n)
    journeys = [Journey(p, (0,) * len(p), c) for p, c in data]
    t0 = time.perf_counter()
    ours = attribute("markov", journeys).credit
    ours_s = time.perf_counter() - t0
    print(f"Markov attribution, {n:,} paths of 8 channels")
    print(f"  funnelkit (exact)           {ours_s:8.2f} s")
    try:
        import ChannelAttribution as ca  # noqa: N813, PLC0415 - optional, GPL, benchmark only
        import pandas as pd  # noqa: PLC0415
    except ImportError:
        print("  ChannelAttribution is not installed: pip install ChannelAttribution to compare")
        return
    frame = pd.DataFrame({"path": [">".join(p) for p, _ in data],
                          "conv": [int(c) for _, c in data],
                          "null": [int(not c) for _, c in data]})
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        theirs = ca.markov_model(frame, "path", "conv", var_null="null", order=1,
                                 verbose=False, flg_pro=False)
        theirs_s = time.perf_counter() - t0
    diff = max(abs(ours[c] - float(v)) / ours[c]
               for c, v in zip(theirs["channel_name"], theirs["total_conversions"], strict=True))
    print(f"  ChannelAttribution (sim.)   {theirs_s:8.2f} s")
    print(f"  ratio (theirs / ours): {theirs_s / ours_s:.2f}x   goal > 1x")
    print(f"  largest relative difference of the credits: {diff:.2%} (their simulation noise)")


def forecast(leads: int) -> None:
    f = (Funnel.builder("m").stage("new", "m").stage("mql", "m").stage("sql", "s")
         .stage("won", "s", outcome="won").stage("lost", "s", outcome="lost")
         .move("qualify", "new", "mql").move("hand", "mql", "sql").move("win", "sql", "won")
         .move("lose", ["new", "mql", "sql"], "lost").initial("new").build())
    moves = {"new": (("qualify", 0.6), ("lose", 0.4)), "mql": (("hand", 0.7), ("lose", 0.3)),
             "sql": (("win", 0.5), ("lose", 0.5))}
    rng = random.Random(1)
    as_of = T0 + timedelta(days=150)
    history, transitions = [], []
    for i in range(leads):
        at = T0 + timedelta(days=rng.uniform(0, 150))
        lead = f.new_lead(f"L{i}", at=at)
        while lead.stage in moves:
            at += timedelta(days=rng.expovariate(1 / 10))
            if at > as_of:
                break
            events = moves[lead.stage]
            event = rng.choices([e for e, _ in events], [p for _, p in events])[0]
            outcome = f.fire(lead, event, at=at)
            lead = outcome.lead
            transitions.append(outcome.transition)
        history.append(lead)
    log = FunnelLog(f, leads=history, transitions=transitions, as_of=as_of)
    t0 = time.perf_counter()
    model = MarkovModel.fit(log)
    fit_s = time.perf_counter() - t0
    open_leads = [Lead(f"O{i}", rng.choice(["new", "mql", "sql"]), created_at=T0)
                  for i in range(100_000)]
    t0 = time.perf_counter()
    result = model.forecast(open_leads, runs=10_000, seed=7)
    forecast_s = time.perf_counter() - t0
    print(f"\nMarkovModel.fit on {leads:,} leads ({len(transitions):,} moves): {fit_s:.2f} s")
    print(f"10,000-run forecast over 100,000 open leads: {forecast_s:.2f} s "
          f"(expected wins {result.expected_wins:,.0f}, P10/P50/P90 {result.wins})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=1_000_000)
    parser.add_argument("--leads", type=int, default=100_000)
    args = parser.parse_args()
    attribution(args.paths)
    forecast(args.leads)


if __name__ == "__main__":
    main()
