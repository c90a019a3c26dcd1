"""Benchmark: ``Pipeline.fire`` on the MemoryStore against the pure ``Funnel.fire``, same moves.

Each lead of the inbound template makes the same four unguarded moves (convert, qualify,
nurture, recycle) in both runs; the pure run keeps the lead in a local variable, the pipeline
run loads and commits it through the store.  The goal (issue 4): the pipeline costs at most 2x the
pure core.  Also measured: the store's own floor (one load + one commit of a prebuilt change, and
the MemoryStore's ``commit_move`` that ``Pipeline.fire`` uses instead of a ``Change``), and the
pipeline with an ``after_transition`` hook registered (an outbox row per move, delivered), and
the pure core keeping each transition in memory as the store does.

Timings are CPU time (``time.process_time``), the arms interleaved, best of R: the machines are
shared and noisy.  Like ``timeit`` and ``bench_fire.py``, each arm runs with the cyclic garbage
collector off (``--gc`` keeps it on).  The store keeps every transition, the pure core keeps
none, so with the collector on the pipeline arm also pays for CPython scanning the growing heap
of kept records, a cost of keeping history in a Python process whoever keeps it: the last lines
measure the ratio that way too, beside the pure core keeping its transitions in a list.

Run: ``.venv/bin/python benchmarks/bench_pipeline.py [--leads N] [--repeat R] [--gc]``
"""

from __future__ import annotations

import argparse
import gc
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from funnelkit import templates
from funnelkit._pipeline import _make_change
from funnelkit.pipeline import Pipeline
from funnelkit.stores import Change, MemoryStore

if TYPE_CHECKING:
    from collections.abc import Callable

EVENTS = ("convert", "qualify", "nurture", "recycle")
REASONS = {"recycle": "warm again"}
START = datetime(2026, 3, 2, 9, tzinfo=UTC)


KEEP_GC = False


def timed(run: Callable[[], None]) -> float:
    """CPU seconds of *run*; like ``timeit``, with the cyclic collector off unless --gc."""
    gc.collect()
    if not KEEP_GC:
        gc.disable()
    try:
        t0 = time.process_time()
        run()
        return time.process_time() - t0
    finally:
        gc.enable()


def _times(n_leads: int) -> list[datetime]:
    return [START + timedelta(seconds=i) for i in range(len(EVENTS))]


def bench_pure(funnel, n_leads: int, *, keep: bool = False) -> float:
    """The pure core; *keep*: each transition appended to a list, as a store keeps them."""
    ats = _times(n_leads)
    leads = [funnel.new_lead(f"L{i}", at=START) for i in range(n_leads)]
    fire = funnel.fire
    kept: list[object] = []

    def run() -> None:
        for first in leads:
            lead = first
            for event, at in zip(EVENTS, ats, strict=True):
                lead = fire(lead, event, at=at, reason=REASONS.get(event)).lead

    def run_keeping() -> None:
        append = kept.append
        for first in leads:
            lead = first
            for event, at in zip(EVENTS, ats, strict=True):
                outcome = fire(lead, event, at=at, reason=REASONS.get(event))
                lead = outcome.lead
                append(outcome.transition)

    return timed(run_keeping if keep else run)


def bench_pipeline(funnel, n_leads: int, *, hook: bool = False) -> float:
    ats = _times(n_leads)
    pipeline = Pipeline(funnel, store=MemoryStore())
    if hook:
        class Count:
            n = 0

            def after_transition(self, transition):
                Count.n += 1

        pipeline.register(Count())
    ids = [f"L{i}" for i in range(n_leads)]
    for lead_id in ids:
        pipeline.capture(lead_id, at=START)
    fire = pipeline.fire

    def run() -> None:
        for lead_id in ids:
            for event, at in zip(EVENTS, ats, strict=True):
                fire(lead_id, event, at=at, reason=REASONS.get(event))

    return timed(run)


def bench_store_floor(funnel, n_leads: int, *, checked: bool | None) -> float:
    """One load and one commit per move of changes built beforehand: what any pipeline pays.

    ``checked=None``: no Change, the MemoryStore's ``commit_move`` (Pipeline.fire's hot path).
    """
    store = MemoryStore()
    ats = _times(n_leads)
    plans = []
    for i in range(n_leads):
        lead = funnel.new_lead(f"L{i}", at=START)
        store.commit(Change(lead, None))
        steps = []
        for event, at in zip(EVENTS, ats, strict=True):
            o = funnel.fire(lead, event, at=at, reason=REASONS.get(event))
            steps.append((lead.version, o.lead, (o.transition,)))
            lead = o.lead
        plans.append((f"L{i}", steps))
    def make(lead, version, transitions):
        if checked:  # the owner guard too, as the pipeline's commits carry it
            return Change(lead, version, transitions, expected_owner=lead.owner)
        return _make_change(lead, version, transitions, (), (), (), lead.owner)

    load, commit = store.load, store.commit
    move = store.commit_move

    def run_moves() -> None:
        for lead_id, steps in plans:
            for _version, lead, ts in steps:
                move(load(lead_id), lead, ts[0])

    def run_changes() -> None:
        for lead_id, steps in plans:
            for version, lead, ts in steps:
                load(lead_id)
                commit(make(lead, version, ts))

    return timed(run_moves if checked is None else run_changes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--gc", action="store_true", help="keep the garbage collector on")
    args = parser.parse_args()
    global KEEP_GC  # noqa: PLW0603 - a command-line switch read by timed()
    KEEP_GC = args.gc
    funnel = templates.inbound()
    moves = args.leads * len(EVENTS)
    best: dict[str, float] = {}
    runs = {
        "pure funnel.fire": lambda: bench_pure(funnel, args.leads),
        "pure funnel.fire, keeping each transition": lambda: bench_pure(
            funnel, args.leads, keep=True),
        "pipeline.fire (MemoryStore, no hooks)": lambda: bench_pipeline(funnel, args.leads),
        "pipeline.fire (MemoryStore, after_transition hook)": lambda: bench_pipeline(
            funnel, args.leads // 10, hook=True) * 10,
        "store floor: load + commit(Change(...))": lambda: bench_store_floor(
            funnel, args.leads, checked=True),
        "store floor: load + commit(prebuilt change)": lambda: bench_store_floor(
            funnel, args.leads, checked=False),
        "store floor: load + commit_move (fire's path)": lambda: bench_store_floor(
            funnel, args.leads, checked=None),
    }
    for _ in range(args.repeat):  # interleaved, best of R: the machines are shared and noisy
        for name, run in runs.items():
            best[name] = min(best.get(name, float("inf")), run())
    pure = best["pure funnel.fire"]
    collector = "on" if KEEP_GC else "off while timing"
    print(f"{moves} moves ({args.leads} leads x {len(EVENTS)}), best of {args.repeat}, "
          f"garbage collector {collector}")
    for name, seconds in best.items():
        print(f"  {name:52s} {seconds / moves * 1e6:7.2f} us/move  {seconds / pure:5.2f}x pure")
    pipeline = best["pipeline.fire (MemoryStore, no hooks)"]
    own = pipeline - pure - best["store floor: load + commit_move (fire's path)"]
    label = "pipeline's own work = no hooks - pure - fire's floor"
    print(f"  {label:52s} {own / moves * 1e6:7.2f} us/move  {own / pure:5.2f}x pure")
    print(f"\npipeline.fire / pure funnel.fire: {pipeline / pure:.2f}x  (goal <= 2x)")
    if not KEEP_GC:
        print("\nwith the garbage collector on (the store's kept records are scanned too):")
        KEEP_GC = True
        on: dict[str, float] = {}
        arms = {
            "pure funnel.fire": runs["pure funnel.fire"],
            "pure funnel.fire, keeping each transition":
                runs["pure funnel.fire, keeping each transition"],
            "pipeline.fire (MemoryStore, no hooks)": runs["pipeline.fire (MemoryStore, no hooks)"],
        }
        for _ in range(args.repeat):
            for name, run in arms.items():
                on[name] = min(on.get(name, float("inf")), run())
        for name, seconds in on.items():
            print(f"  {name:52s} {seconds / moves * 1e6:7.2f} us/move  "
                  f"{seconds / on['pure funnel.fire']:5.2f}x pure")
        KEEP_GC = False


if __name__ == "__main__":
    main()
