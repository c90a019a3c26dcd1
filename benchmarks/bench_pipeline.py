"""Benchmark: ``Pipeline.fire`` on the MemoryStore against the pure ``Funnel.fire``, same moves.

Each lead of the inbound template makes the same four unguarded moves (convert, qualify,
nurture, recycle) in both runs; the pure run keeps the lead in a local variable, the pipeline
run loads and commits it through the store.  The goal (issue 4): the pipeline costs at most 2x the
pure core.  Also measured: the store's own floor (one load + one commit of a prebuilt change, and
the MemoryStore's ``commit_move`` that ``Pipeline.fire`` uses instead of a ``Change``), and the
pipeline with an ``after_transition`` hook registered (an outbox row per move, delivered), and
the pure core keeping each transition in memory as the store does.

Issue 11 ("hooks at the speed of the commit") adds: ``Pipeline.fire`` with one after-hook on the
MemoryStore against the same move without one (goal <= 3x); on a SQLiteStore file against a raw
``sqlite3`` script that reads the lead, writes the same rows (lead update, transition, outbox row)
in one transaction, calls the same function and marks the row delivered (goal >= 0.5x); and the
storage a lead takes with a hook, after delivery and ``purge_outbox``, against without one (goal
<= 1.5x; MemoryStore by ``tracemalloc``, SQLite by the file's pages after ``VACUUM``).

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
import json
import sqlite3
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from funnelkit import templates
from funnelkit.pipeline import Pipeline
from funnelkit.stores import Change, MemoryStore, SQLiteStore
from funnelkit.stores._protocol import make_change

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


class _Before:
    """A before-hook that allows every move: fire's path with hooks, but no outbox row."""

    def before_transition(self, lead, transition):
        return None


def bench_pipeline(funnel, n_leads: int, *, hook: bool = False, before: bool = False,
                   rows: bool = False) -> float:
    """``Pipeline.fire`` on a MemoryStore; *rows*: an outbox row per move, no hook to deliver it."""
    ats = _times(n_leads)
    pipeline = Pipeline(funnel, store=MemoryStore(), outbox="after_transition" if rows else ())
    if hook:
        pipeline.register(_Count())
    if before:
        pipeline.register(_Before())
    ids = [f"L{i}" for i in range(n_leads)]
    for lead_id in ids:
        pipeline.capture(lead_id, at=START)
    fire = pipeline.fire

    def run() -> None:
        for lead_id in ids:
            for event, at in zip(EVENTS, ats, strict=True):
                fire(lead_id, event, at=at, reason=REASONS.get(event))

    return timed(run)


class _Count:
    """The after-hook of every hooked arm: counts the moves it is told about."""

    n = 0

    def after_transition(self, transition):
        _Count.n += 1


def _purge(store) -> None:
    """Remove the delivered outbox rows, where the store can (funnelkit before issue 11 could not)."""
    purge = getattr(store, "purge_outbox", None)
    if purge is not None:
        purge(delivered_before=datetime(9000, 1, 1, tzinfo=UTC))  # every row


def bench_sqlite_pipeline(funnel, n_leads: int, *, hook: bool) -> float:
    """``Pipeline.fire`` on a SQLiteStore file, with or without an after_transition hook."""
    ats = _times(n_leads)
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "bench.db")
        pipeline = Pipeline(funnel, store=store)
        if hook:
            pipeline.register(_Count())
        ids = [f"L{i}" for i in range(n_leads)]
        for lead_id in ids:
            pipeline.capture(lead_id, at=START)
        fire = pipeline.fire

        def run() -> None:
            for lead_id in ids:
                for event, at in zip(EVENTS, ats, strict=True):
                    fire(lead_id, event, at=at, reason=REASONS.get(event))

        try:
            return timed(run)
        finally:
            store.close()


def bench_sqlite_raw(funnel, n_leads: int) -> float:
    """A hand-written ``sqlite3`` script making the pipeline's reads and writes for a hooked move.

    Per move: read the lead; in one ``BEGIN IMMEDIATE`` transaction update it (guarded by its
    version), insert the transition and an outbox row whose payload is the JSON of the lead and
    the transition; call the hook function; mark the row delivered (its own transaction).  The
    same tables, indexes, WAL mode and ``synchronous=NORMAL`` as the SQLiteStore's.
    """
    ats = _times(n_leads)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "raw.db"
        store = SQLiteStore(path)
        for i in range(n_leads):
            store.commit(Change(funnel.new_lead(f"L{i}", at=START), None))
        store.close()
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        lead0 = funnel.new_lead("x", at=START)
        stage_of, stage = {}, lead0.stage
        for event, at in zip(EVENTS, ats, strict=True):
            lead0 = funnel.fire(lead0, event, at=at, reason=REASONS.get(event)).lead
            stage_of[event], stage = (stage, lead0.stage), lead0.stage
        hook = _Count().after_transition
        ids = [f"L{i}" for i in range(n_leads)]

        def run() -> None:
            execute = db.execute
            for lead_id in ids:
                for event, at in zip(EVENTS, ats, strict=True):
                    row = execute("SELECT id, stage, version, attributes, source_channel, "
                                  "source_kind, owner, created_at, stage_entered_at, updated_at "
                                  "FROM funnelkit_leads WHERE id = ?", (lead_id,)).fetchone()
                    version = row[2] + 1
                    source, target = stage_of[event]
                    iso = at.isoformat()
                    at_us = (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
                    reason = REASONS.get(event)
                    transition = {"lead_id": lead_id, "version": version, "event": event,
                                  "source": source, "target": target, "at": iso, "actor": None,
                                  "reason": reason, "decision": None}
                    payload = json.dumps({"lead": {"id": lead_id, "stage": target,
                                                   "version": version, "attributes": {},
                                                   "created_at": row[7], "updated_at": iso},
                                          "transition": transition})
                    execute("BEGIN IMMEDIATE")
                    execute("UPDATE funnelkit_leads SET stage = ?, version = ?, "
                            "stage_entered_at = ?, updated_at = ? WHERE id = ? AND version = ?",
                            (target, version, iso, iso, lead_id, row[2]))
                    execute("INSERT INTO funnelkit_transitions (lead_id, version, event, source, "
                            "target, at, at_us, actor, reason, decision) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (lead_id, version, event, source, target, iso, at_us, None, reason,
                             None))
                    row_id = execute(
                        "INSERT INTO funnelkit_outbox (msg_key, hook, payload, created_at, "
                        "attempts, next_attempt_us) VALUES (?, ?, ?, ?, ?, ?)",
                        (f"after_transition:{lead_id}:{version}", "after_transition", payload,
                         iso, 0, at_us)).lastrowid
                    execute("COMMIT")
                    hook(json.loads(payload)["transition"])
                    execute("UPDATE funnelkit_outbox SET delivered_us = ? WHERE id = ?",
                            (at_us, row_id))

        try:
            return timed(run)
        finally:
            db.close()


def storage_memory(funnel, n_leads: int, *, hook: bool) -> float:
    """Bytes a lead keeps in a MemoryStore after four moves, delivery and purge (tracemalloc)."""
    ats = _times(n_leads)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        store = MemoryStore()
        pipeline = Pipeline(funnel, store=store)
        if hook:
            pipeline.register(_Count())
        for i in range(n_leads):
            lead_id = f"L{i}"
            pipeline.capture(lead_id, at=START)
            for event, at in zip(EVENTS, ats, strict=True):
                pipeline.fire(lead_id, event, at=at, reason=REASONS.get(event))
        pipeline.deliver_pending(now=ats[-1])
        _purge(store)
        gc.collect()
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    del pipeline, store
    return used / n_leads


def storage_sqlite(funnel, n_leads: int, *, hook: bool) -> float:
    """Bytes a lead takes in a SQLite file after four moves, delivery, purge and VACUUM."""
    ats = _times(n_leads)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "size.db"
        store = SQLiteStore(path)
        pipeline = Pipeline(funnel, store=store)
        if hook:
            pipeline.register(_Count())
        for i in range(n_leads):
            lead_id = f"L{i}"
            pipeline.capture(lead_id, at=START)
            for event, at in zip(EVENTS, ats, strict=True):
                pipeline.fire(lead_id, event, at=at, reason=REASONS.get(event))
        pipeline.deliver_pending(now=ats[-1])
        _purge(store)
        store.close()
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("VACUUM")
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        size = db.execute("PRAGMA page_size").fetchone()[0]
        db.close()
    return pages * size / n_leads


def issue_11(funnel, n_leads: int, repeat: int) -> None:
    """The figures of issue 11's "hooks at the speed of the commit", printed in one run."""
    sql_leads = max(n_leads // 40, 10)
    mem_leads = max(n_leads // 10, 10)
    arms = {
        "memory, no hook": lambda: bench_pipeline(funnel, mem_leads),
        "memory, after_transition hook": lambda: bench_pipeline(funnel, mem_leads, hook=True),
        "memory, before_transition hook (no outbox row)": lambda: bench_pipeline(
            funnel, mem_leads, before=True),
        "memory, outbox row written, no hook (not delivered)": lambda: bench_pipeline(
            funnel, mem_leads, rows=True),
        "sqlite, no hook": lambda: bench_sqlite_pipeline(funnel, sql_leads, hook=False),
        "sqlite, after_transition hook": lambda: bench_sqlite_pipeline(
            funnel, sql_leads, hook=True),
        "sqlite, raw sqlite3 script (hooked move)": lambda: bench_sqlite_raw(funnel, sql_leads),
    }
    best: dict[str, float] = {}
    for _ in range(repeat):  # interleaved, best of R
        for name, run in arms.items():
            best[name] = min(best.get(name, float("inf")), run())
    print("\nissue 11, hooks at the speed of the commit (best of "
          f"{repeat}; memory {mem_leads * len(EVENTS)} moves, sqlite {sql_leads * len(EVENTS)}):")
    for name, seconds in best.items():
        moves = (mem_leads if name.startswith("memory") else sql_leads) * len(EVENTS)
        print(f"  {name:52s} {seconds / moves * 1e6:8.2f} us/move")
    mem = best["memory, after_transition hook"] / best["memory, no hook"]
    raw = best["sqlite, raw sqlite3 script (hooked move)"] / best["sqlite, after_transition hook"]
    floor = best["memory, before_transition hook (no outbox row)"] / best["memory, no hook"]
    print(f"  MemoryStore: hooked / unhooked move       {mem:5.2f}x  (goal <= 3x)")
    print(f"  MemoryStore: before-hook / unhooked move  {floor:5.2f}x  (a move planned off "
          f"fire's hot path, no outbox row; an after-hook alone stays on the hot path)")
    rows = best["memory, outbox row written, no hook (not delivered)"] / best["memory, no hook"]
    print(f"  MemoryStore: row written / unhooked move  {rows:5.2f}x  (the hooked move's row "
          f"without its claimed commit and delivery: the floor of the hooked line)")
    print(f"  SQLiteStore: raw script / hooked pipeline {raw:5.2f}x  (goal >= 0.5x)")
    size_leads = max(n_leads // 20, 10)
    sizes = {
        (kind, hook): measure(funnel, size_leads, hook=hook)
        for kind, measure in (("memory", storage_memory), ("sqlite", storage_sqlite))
        for hook in (False, True)
    }
    print(f"  storage per lead ({size_leads} leads x {len(EVENTS)} moves, delivered and purged):")
    for kind in ("memory", "sqlite"):
        without, with_hook = sizes[kind, False], sizes[kind, True]
        print(f"    {kind:6s} no hook {without:8,.0f} B  hook {with_hook:8,.0f} B  "
              f"{with_hook / without:5.2f}x  (goal <= 1.5x)")


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
        return make_change(lead, version, transitions, (), (), (), lead.owner)

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
    issue_11(funnel, args.leads, args.repeat)


if __name__ == "__main__":
    main()
