"""Benchmark: `funnelkit report` on a million transitions, `funnelkit import` against raw sqlite3.

1. **Report.**  A SQLite store with about N transitions (default 1,000,000) is written by the
   simulator (inbound template, seeded, leads moving on more than the default plan so the store
   has about 3.4 moves a lead, with touchpoints and handoffs).  Then ``funnelkit report`` runs
   as a user runs it, in its own process, timed from start to exit (wall clock), and the HTML
   file's size is printed.  Goals: under 30 s, under 500 KB.
2. **Import.**  A CSV event log of R rows (default 1,000,000: ``lead_id,stage,time,channel,owner``,
   each lead walking the inbound main path, one row per stage) is imported into a new store by
   ``funnelkit import`` (its own process), and by a raw script (``csv`` + ``sqlite3``, no checks)
   writing the same rows: each lead's row in ``funnelkit_leads`` and each move in
   ``funnelkit_transitions``, with the same columns, the same values and one transaction per
   2,000 leads.  Both are timed from start to exit; the figure is rows per second and the ratio
   funnelkit / raw (goal >= 0.5).  Both stores are compared row by row before anything is printed.

Run: ``.venv/bin/python benchmarks/bench_cli.py [--transitions N] [--rows R] [--keep DIR]``
(``--transitions 100000 --rows 100000`` for a quick look).
"""

from __future__ import annotations

import argparse
import csv
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from funnelkit import templates
from funnelkit.cli._simulate import plan_from, simulate_into
from funnelkit.stores import SQLiteStore

PATH = ("subscriber", "lead", "mql", "sql", "opportunity", "customer")
CHANNELS = ("organic_search", "paid_search", "social", "email", "referral", "outbound")
T0 = datetime(2025, 1, 6, tzinfo=UTC)


def make_store(path: Path, transitions: int) -> tuple[int, int, float]:
    """A simulated store of about *transitions* moves; returns (leads, moves, seconds)."""
    funnel = templates.inbound()
    weights = [f"{stage}.stay=0.25" for stage in PATH[:-1]]
    weights += [f"{stage}.disqualify=0.5" for stage in PATH[:-1]]
    plan = plan_from(funnel, {"stays": {"default": "2 days"}}, weights, [])
    leads = max(int(transitions / 3.38), 10)  # the plan below makes about 3.38 moves a lead
    store = SQLiteStore(path)
    started = time.perf_counter()
    try:
        totals = simulate_into(funnel, store, leads=leads, seed=11, plan=plan, start=T0, days=365)
    finally:
        store.close()
    return totals.leads, totals.moves, time.perf_counter() - started


def bench_report(db: Path, out: Path) -> tuple[float, int]:
    command = [sys.executable, "-m", "funnelkit", "-q", "report", "--db", str(db), "--funnel",
               "inbound", "-o", str(out)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"report failed: {done.stderr}")
    return seconds, out.stat().st_size


def make_csv(path: Path, rows: int) -> int:
    """*rows* rows: leads walking the main path, one row per stage, shuffled across leads."""
    rng = random.Random(5)
    lines: list[tuple[str, str, str, str, str]] = []
    n = 0
    while len(lines) < rows:
        lead = f"C{n:07d}"
        at = T0 + timedelta(minutes=rng.randrange(0, 60 * 24 * 300))
        channel = rng.choice(CHANNELS)
        owner = f"rep{rng.randrange(20)}"
        for i, stage in enumerate(PATH[: rng.randrange(1, len(PATH) + 1)]):
            if len(lines) == rows:
                break
            lines.append((lead, stage, at.strftime("%Y-%m-%d %H:%M:%S"), channel if i == 0 else "",
                          owner if i == 0 else ""))
            at += timedelta(minutes=rng.randrange(10, 60 * 24 * 10))
        n += 1
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("lead_id", "stage", "time", "channel", "owner"))
        writer.writerows(lines)
    return n


RAW = r"""
import csv, sqlite3, sys
from datetime import datetime, timezone
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
KINDS = {"referral": "seed", "outbound": "spear"}
events = {}
for source, event, target in [tuple(x.split(":")) for x in sys.argv[3].split(",")]:
    events.setdefault((source, target), event)
db = sqlite3.connect(sys.argv[2], isolation_level=None)
db.execute("PRAGMA synchronous = NORMAL")
by_lead = {}
with open(sys.argv[1], newline="", encoding="utf-8-sig") as f:
    reader = csv.reader(f)
    next(reader)
    for lead_id, stage, time, channel, owner in reader:
        by_lead.setdefault(lead_id, []).append((stage, time, channel, owner))
leads, moves = [], []
def flush():
    db.execute("BEGIN IMMEDIATE")
    db.executemany("INSERT INTO funnelkit_leads (id, stage, version, attributes, source_channel, "
                   "source_kind, owner, created_at, stage_entered_at, updated_at, created_us) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", leads)
    db.executemany("INSERT INTO funnelkit_transitions (lead_id, version, event, source, target, "
                   "at, at_us, actor, reason, decision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   moves)
    db.execute("COMMIT")
    leads.clear(); moves.clear()
for lead_id, rows in by_lead.items():
    first = rows[0]
    created = datetime.fromisoformat(first[1]).replace(tzinfo=timezone.utc)
    stage, version, entered = first[0], 0, created
    for target, time, _, _ in rows[1:]:
        at = datetime.fromisoformat(time).replace(tzinfo=timezone.utc)
        version += 1
        moves.append((lead_id, version, events[stage, target], stage, target, at.isoformat(),
                      (at - EPOCH) // datetime.resolution, None, None, None))
        stage, entered = target, at
    channel = first[2] or None
    leads.append((lead_id, stage, version, "{}", channel,
                  None if channel is None else KINDS.get(channel, "net"), first[3] or None,
                  created.isoformat(), entered.isoformat(), entered.isoformat(),
                  (created - EPOCH) // datetime.resolution))
    if len(leads) >= 2000:
        flush()
flush()
db.close()
"""


def bench_import(csv_path: Path, folder: Path) -> tuple[float, float]:
    ours, raw = folder / "import-funnelkit.db", folder / "import-raw.db"
    for path in (ours, raw):
        path.unlink(missing_ok=True)
    SQLiteStore(raw).close()  # the same schema, empty
    funnel = templates.inbound()
    moves = ",".join(f"{s.name}:{m.event}:{m.target}" for s in funnel.stages
                     for m in funnel.moves_from(s.name))
    command = [sys.executable, "-m", "funnelkit", "-q", "import", str(csv_path), "--funnel",
               "inbound", "--db", str(ours)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    ours_s = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"import failed: {done.stdout[-500:]} {done.stderr}")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", RAW, str(csv_path), str(raw), moves], check=True)
    raw_s = time.perf_counter() - started
    same(ours, raw)
    return ours_s, raw_s


def same(a: Path, b: Path) -> None:
    """Both stores hold the same leads and transitions, column by column."""
    with sqlite3.connect(a) as x, sqlite3.connect(b) as y:
        for query in ("SELECT * FROM funnelkit_leads ORDER BY id",
                      ("SELECT lead_id, version, event, source, target, at, at_us, actor, "
                       "reason, decision FROM funnelkit_transitions ORDER BY lead_id, version")):
            left, right = x.execute(query).fetchall(), y.execute(query).fetchall()
            if left != right:
                first = next(i for i, (p, q) in enumerate(zip(left, right, strict=False)) if p != q)
                raise SystemExit(f"stores differ ({len(left)} vs {len(right)} rows), first at "
                                 f"{first}: {left[first]} != {right[first]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transitions", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="keep the stores, CSV and report here")
    parser.add_argument("--reuse", action="store_true",
                        help="with --keep: time the report on the store kept there before")
    parser.add_argument("--only", choices=("report", "import"), help="run one of the two")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        db = folder / "report.db"
        if args.only != "import":
            if not (args.reuse and db.exists()):
                db.unlink(missing_ok=True)
                leads, moves, made = make_store(db, args.transitions)
                print(f"store: {leads:,} leads, {moves:,} transitions "
                      f"({db.stat().st_size / 2**20:,.0f} MiB, simulated in {made:,.1f} s)",
                      flush=True)
            with sqlite3.connect(db) as conn:
                (moves,) = conn.execute("SELECT count(*) FROM funnelkit_transitions").fetchone()
            seconds, size = bench_report(db, folder / "report.html")
            print(f"funnelkit report on {moves:,} transitions: {seconds:,.1f} s (goal < 30 s), "
                  f"{size / 1024:,.0f} KB (goal < 500 KB)", flush=True)
        if args.only == "report":
            return
        csv_path = folder / "events.csv"
        n = make_csv(csv_path, args.rows)
        ours_s, raw_s = bench_import(csv_path, folder)
        ours_rate, raw_rate = args.rows / ours_s, args.rows / raw_s
        print(f"import of {args.rows:,} CSV rows ({n:,} leads): funnelkit {ours_rate:,.0f} rows/s "
              f"({ours_s:,.1f} s), raw csv + sqlite3 {raw_rate:,.0f} rows/s ({raw_s:,.1f} s): "
              f"{ours_rate / raw_rate:.2f}x (goal >= 0.5x)")


if __name__ == "__main__":
    main()
