"""Benchmark: the analytics engines against hand-written code computing the same figures.

Workload (seeded): N leads (default 2,000,000) created over a year, each walking a six-stage
path (five open stages, then won) with exponential stays and a 10% chance of being lost at each
step, about M moves in all (default 10,000,000), observed while leads still arrive, so many stays
are running (censored).  Times have minute resolution, as CRM exports usually do (Olist's won
dates do); ``--seconds`` uses one-second resolution instead, which multiplies the distinct
durations the Kaplan-Meier estimator walks.

Figures, in one run (CPU-heavy arms timed with ``time.perf_counter``, collector off as in
``timeit``; ``--gc`` keeps it on):

1. in memory: ``FunnelLog(...)`` + ``conversion()`` + ``time_in_stage()`` against a hand-written
   one-pass loop over the same ``Lead`` / ``Transition`` values computing the same figures (step
   counts with open leads censored, a Kaplan-Meier table and median per open stage), no checks.
   Goal: >= 0.8x.  Memory: the process's resident size after the values exist and after each arm.
2. DuckDB: ``SqlLog`` + ``conversion()`` + ``time_in_stage()`` against hand-written DuckDB SQL
   returning the same statistics, turned into the same estimates.  Goals: >= 0.8x the
   hand-written SQL, >= 5x the in-memory engine.

Both arms of each pair are checked to give the same figures before anything is printed.

Run: ``.venv/bin/python benchmarks/bench_analytics.py [--leads N] [--moves M] [--seconds]``
(``--leads 200000 --moves 1000000`` takes about a minute; the default about ten).
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa

from funnelkit import Funnel, Lead, Transition
from funnelkit.analytics import FunnelLog, Survival
from funnelkit.analytics._analyses import step_rows, to_us
from funnelkit.analytics._estimators import stays_from_counts
from funnelkit.analytics.sql import SqlLog
from funnelkit.stores._schema import us

T0 = datetime(2025, 1, 1, tzinfo=UTC)
AS_OF = T0 + timedelta(days=365)
PATH = ("new", "engaged", "mql", "sql", "proposal", "won")
KEEP_GC = False


def funnel() -> Funnel:
    b = Funnel.builder("bench")
    for name in PATH[:-1]:
        b = b.stage(name, "sales")
    b = (b.stage("won", "sales", outcome="won").stage("nurture", "marketing")
         .stage("lost", "sales", outcome="lost"))
    for source, target in zip(PATH, PATH[1:], strict=False):
        b = b.move(f"to_{target}", source, target)
    return (b.move("nurture", list(PATH[:-1]), "nurture")
            .move("recycle", "nurture", "engaged", backward=True)
            .move("lose", [*PATH[:-1], "nurture"], "lost").initial("new").build())


def generate(n_leads: int, n_moves: int, *, seconds: bool) -> tuple[list[Lead], list[Transition]]:
    """Seeded leads and their moves, grouped by lead in version order."""
    rng = random.Random(42)
    unit = 1 if seconds else 60
    horizon = int((AS_OF - T0).total_seconds()) // unit
    steps_per_lead = n_moves / n_leads
    mean_stay = 5 * 86_400 / unit  # five days
    leads: list[Lead] = []
    moves: list[Transition] = []
    at_cache: dict[int, datetime] = {}

    def when(t: int) -> datetime:
        at = at_cache.get(t)
        if at is None:
            at = at_cache[t] = T0 + timedelta(seconds=t * unit)
        return at

    # Each step: lost with probability 8%, nurtured (and later recycled to 'engaged') with
    # probability `loop`, else one stage on; `loop` is set so that moves / leads is as asked.
    loop = max(0.0, min(0.45, 0.09 * (steps_per_lead - 4.0)))
    for i in range(n_leads):
        lead_id = f"L{i:07d}"
        t = rng.randrange(horizon)
        created = last = when(t)
        stage, version, current = 0, 0, PATH[0]
        while current not in ("won", "lost"):
            t += int(rng.expovariate(1 / mean_stay)) + 1
            if t >= horizon:
                break
            version += 1
            at = when(t)
            draw = rng.random()
            if draw < 0.08:
                event, target = "lose", "lost"
            elif current == "nurture":
                event, target, stage = "recycle", "engaged", 1
            elif draw < 0.08 + loop:
                event, target = "nurture", "nurture"
            else:
                stage += 1
                event, target = f"to_{PATH[stage]}", PATH[stage]
            moves.append(Transition(lead_id, event, current, target, at, version=version))
            current, last = target, at
        leads.append(Lead(lead_id, current, version=version, created_at=created,
                          stage_entered_at=last, updated_at=last))
    return leads, moves


def timed(run: Any) -> tuple[float, Any]:
    gc.collect()
    if not KEEP_GC:
        gc.disable()
    try:
        t0 = time.perf_counter()
        result = run()
        return time.perf_counter() - t0, result
    finally:
        gc.enable()


def rss_mib() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / 2**20


# -- in memory -----------------------------------------------------------------------------------


def engine_memory(f: Funnel, leads: list[Lead], moves: list[Transition]) -> Any:
    log = FunnelLog(f, leads=leads, transitions=moves, as_of=AS_OF)
    steps = log.conversion().steps
    stays = log.time_in_stage()
    return ([(r.entered, r.converted, r.open, r.dropped) for r in steps],
            {k: (v.n, v.n_censored, v.median) for k, v in stays.items()})


def baseline_memory(f: Funnel, leads: list[Lead], moves: list[Transition]) -> Any:
    """A one-pass loop a developer would write: dicts by lead id, no checks."""
    step_of = {name: i for i, name in enumerate(PATH)}
    is_open = {s.name: s.is_open for s in f.stages}
    cur: dict[str, str] = {}
    entered: dict[str, datetime] = {}
    furthest: dict[str, int] = {}
    for lead in leads:
        cur[lead.id] = "new"
        entered[lead.id] = lead.created_at
        furthest[lead.id] = 0
    ended: dict[str, list[timedelta]] = {s.name: [] for s in f.stages if s.is_open}
    step_of["nurture"] = -1
    for t in moves:
        lead_id = t.lead_id
        ended[t.source].append(t.at - entered[lead_id])
        cur[lead_id] = t.target
        entered[lead_id] = t.at
        k = step_of[t.target] if t.target != "lost" else -1
        if k > furthest[lead_id]:
            furthest[lead_id] = k
    at: list[list[int]] = [[0, 0] for _ in PATH]
    running: dict[str, list[timedelta]] = {name: [] for name in ended}
    for lead_id, stage in cur.items():
        still = is_open[stage]
        at[furthest[lead_id]][still] += 1
        if still:
            running[stage].append(AS_OF - entered[lead_id])
    rows = []
    total = 0
    entered_at = [0] * len(PATH)
    for i in range(len(PATH) - 1, -1, -1):
        total += at[i][0] + at[i][1]
        entered_at[i] = total
    for i in range(len(PATH)):
        last = i == len(PATH) - 1
        rows.append((entered_at[i], None if last else entered_at[i + 1],
                     None if last else at[i][1], None if last else at[i][0]))
    km = {}
    for stage, durations in ended.items():
        events = sorted((d, 1) for d in durations)
        censored = sorted((d, 0) for d in running[stage])
        merged = sorted(events + censored)
        n = len(merged)
        s, median, i = 1.0, None, 0
        while i < n:
            d = merged[i][0]
            e = c = 0
            while i < n and merged[i][0] == d:
                e += merged[i][1]
                c += 1 - merged[i][1]
                i += 1
            if e:
                s *= 1 - e / (n - (i - e - c))  # at risk: every stay not yet passed
            if median is None and s <= 0.5 + 1e-12:
                median = d
        km[stage] = (n, len(running[stage]), median)
    return rows, km


# -- DuckDB --------------------------------------------------------------------------------------


def load_duckdb(leads: list[Lead], moves: list[Transition]) -> Any:
    backend = ibis.duckdb.connect()
    raw = backend.con
    lead_table = pa.table({
        "id": pa.array([x.id for x in leads], pa.string()),
        "stage": pa.array([x.stage for x in leads], pa.string()),
        "source_channel": pa.array([None] * len(leads), pa.string()),
        "source_kind": pa.array([None] * len(leads), pa.string()),
        "owner": pa.array([None] * len(leads), pa.string()),
        "created_us": pa.array([us(x.created_at) for x in leads], pa.int64()),
    })
    move_table = pa.table({
        "lead_id": pa.array([t.lead_id for t in moves], pa.string()),
        "version": pa.array([t.version for t in moves], pa.int64()),
        "source": pa.array([t.source for t in moves], pa.string()),
        "target": pa.array([t.target for t in moves], pa.string()),
        "at_us": pa.array([us(t.at) for t in moves], pa.int64()),
    })
    for name, table in (("leads", lead_table), ("transitions", move_table)):
        raw.register("_arrow", table)
        raw.execute(f"CREATE TABLE funnelkit_{name} AS SELECT * FROM _arrow")
        raw.unregister("_arrow")
    return backend


def engine_duckdb(f: Funnel, backend: Any) -> Any:
    log = SqlLog.from_backend(f, backend, as_of=AS_OF)
    steps = log.conversion().steps
    stays = log.time_in_stage()
    return ([(r.entered, r.converted, r.open, r.dropped) for r in steps],
            {k: (v.n, v.n_censored, v.median) for k, v in stays.items()})


def baseline_duckdb(f: Funnel, backend: Any) -> Any:
    """Hand-written SQL for the same statistics, then the same estimators."""
    raw = backend.con
    as_of = to_us(AS_OF)
    cases = " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(PATH))
    opens = ", ".join(f"'{s.name}'" for s in f.stages if s.is_open)
    entries = ("SELECT id AS lead_id, 'new' AS stage, 0 AS version, created_us AS at_us "
               "FROM funnelkit_leads UNION ALL SELECT lead_id, target, version, at_us "
               "FROM funnelkit_transitions WHERE source <> target")
    counts = raw.execute(f"""
        WITH e AS ({entries}),
        r AS (SELECT lead_id, max(CASE stage {cases} END) AS f FROM e
              WHERE stage IN ({", ".join(f"'{s}'" for s in PATH)}) GROUP BY lead_id)
        SELECT r.f, l.stage IN ({opens}) AS o, count(*) AS n
        FROM r JOIN funnelkit_leads l ON l.id = r.lead_id GROUP BY 1, 2""").fetchall()
    rows = step_rows(PATH, {(f_, bool(o)): n for f_, o, n in counts})
    stays = raw.execute(f"""
        WITH e AS ({entries}),
        s AS (SELECT stage, at_us, lead(at_us) OVER (PARTITION BY lead_id ORDER BY version) AS nxt
              FROM e)
        SELECT stage, coalesce(nxt, {as_of}) - at_us AS d,
               sum(CASE WHEN nxt IS NULL THEN 0 ELSE 1 END) AS ev,
               sum(CASE WHEN nxt IS NULL THEN 1 ELSE 0 END) AS ce
        FROM s WHERE stage IN ({opens}) GROUP BY 1, 2""").fetchall()
    by_stage: dict[str, list[tuple[int, int, int]]] = {s.name: [] for s in f.stages if s.is_open}
    for stage, d, ev, ce in stays:
        by_stage[stage].append((d, int(ev), int(ce)))
    km = {}
    for stage, counts_ in by_stage.items():
        s = Survival(stays_from_counts(counts_))
        km[stage] = (s.n, s.n_censored, s.median)
    return [(r.entered, r.converted, r.open, r.dropped) for r in rows], km


def main() -> None:
    global KEEP_GC  # noqa: PLW0603 - a command-line switch
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=2_000_000)
    parser.add_argument("--moves", type=int, default=10_000_000)
    parser.add_argument("--seconds", action="store_true", help="one-second time resolution")
    parser.add_argument("--gc", action="store_true", help="keep the cyclic collector on")
    parser.add_argument("--skip-memory", action="store_true", help="only the DuckDB pair")
    args = parser.parse_args()
    KEEP_GC = args.gc
    f = funnel()
    base_rss = rss_mib()
    t0 = time.perf_counter()
    leads, moves = generate(args.leads, args.moves, seconds=args.seconds)
    print(f"workload: {len(leads):,} leads, {len(moves):,} moves "
          f"({'second' if args.seconds else 'minute'} resolution), generated in "
          f"{time.perf_counter() - t0:.0f} s; values take {rss_mib() - base_rss:,.0f} MiB")

    memory_s = None
    if not args.skip_memory:
        gc.collect()
        before = rss_mib()
        held = FunnelLog(f, leads=leads, transitions=moves, as_of=AS_OF)
        print(f"a FunnelLog of them holds {rss_mib() - before:,.0f} MiB beyond the values "
              f"(per-lead state and four machine integers per move)")
        del held
        gc.collect()
        before = rss_mib()
        base_s, base_result = timed(lambda: baseline_memory(f, leads, moves))
        mid = rss_mib()
        memory_s, result = timed(lambda: engine_memory(f, leads, moves))
        after = rss_mib()
        assert result == base_result, (result, base_result)
        print("\nin memory: FunnelLog + conversion + time_in_stage vs a hand-written loop")
        print(f"  hand-written loop   {base_s:8.2f} s   (resident +{mid - before:,.0f} MiB)")
        print(f"  FunnelLog           {memory_s:8.2f} s   (resident +{after - mid:,.0f} MiB)")
        print(f"  ratio (loop / FunnelLog): {base_s / memory_s:.2f}x   goal >= 0.8x")

    t0 = time.perf_counter()
    backend = load_duckdb(leads, moves)
    print(f"\nDuckDB: tables loaded in {time.perf_counter() - t0:.0f} s")
    hand_s, hand = timed(lambda: baseline_duckdb(f, backend))
    sql_s, sql = timed(lambda: engine_duckdb(f, backend))
    hand_s = min(hand_s, timed(lambda: baseline_duckdb(f, backend))[0])
    sql_s = min(sql_s, timed(lambda: engine_duckdb(f, backend))[0])
    assert sql == hand, (sql, hand)
    print(f"  hand-written SQL    {hand_s:8.2f} s")
    print(f"  SqlLog (Ibis)       {sql_s:8.2f} s")
    print(f"  ratio (hand SQL / SqlLog): {hand_s / sql_s:.2f}x   goal >= 0.8x")
    if memory_s is not None:
        print(f"  ratio (FunnelLog / SqlLog): {memory_s / sql_s:.2f}x   goal >= 5x")


if __name__ == "__main__":
    main()
