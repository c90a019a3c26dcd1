"""Store throughput: batched moves against the raw driver, and single commits per second.

Run: ``.venv/bin/python benchmarks/bench_store.py``.  PostgreSQL and MariaDB parts run when
``FUNNELKIT_TEST_POSTGRES_URL`` / ``FUNNELKIT_TEST_MARIADB_URL`` are set (as for the tests).

1. 100,000 moves committed on ``SQLiteStore`` with ``commit_many`` (what ``Pipeline.fire_many``
   calls) in batches, against raw ``sqlite3`` ``executemany`` writing the same rows (the lead
   update with its version guard and the transition insert) into the same tables, in the same
   number of transactions.  Goal: the store reaches >= 0.5x the raw rate.
2. The same on PostgreSQL: ``SQLAlchemyStore`` against raw psycopg ``executemany``.
3. Single moves (load -> fire -> commit, one transaction each) per second on SQLite, PostgreSQL
   and MariaDB.

The raw baselines get their rows ready-made; the store's time includes turning leads and
transitions into rows.  ``fire`` itself (pure Python, the same for both) is timed separately.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from funnelkit import templates
from funnelkit.stores import Change, SQLiteStore
from funnelkit.stores import _schema as s

MOVES = 100_000
LEADS = 20_000  # each lead moves MOVES / LEADS times
BATCH = 1_000  # moves per transaction
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
CYCLE = {"cold": ("warm_up", None), "warm": ("heat", None), "hot": ("cool", "went quiet")}


def plan() -> tuple[list[Any], list[list[Change]], float]:
    """The leads and the batches of changes: every lead moves once per round."""
    funnel = templates.temperature()
    leads = [funnel.new_lead(f"L{i:06d}", at=T0) for i in range(LEADS)]
    current = list(leads)
    changes: list[Change] = []
    began = time.perf_counter()
    for round_ in range(MOVES // LEADS):
        at = T0 + timedelta(minutes=round_ + 1)
        for i, lead in enumerate(current):
            event, reason = CYCLE[lead.stage]
            outcome = funnel.fire(lead, event, at=at, reason=reason)
            changes.append(Change(outcome.lead, lead.version, (outcome.transition,),
                                  expected_owner=lead.owner))  # as the pipeline commits
            current[i] = outcome.lead
    fire_s = time.perf_counter() - began
    batches = [changes[i:i + BATCH] for i in range(0, len(changes), BATCH)]
    return leads, batches, fire_s


def raw_rows(batch: list[Change]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The exact rows a store writes for *batch*, made ahead of time for the raw baseline."""
    updates = [s.lead_update_params(c.lead, c.expected_version or 0, c.expected_owner)
               for c in batch]
    inserts = [s.transition_params(t) for c in batch for t in c.transitions]
    return updates, inserts


def _update_sql(prefix: str, mark: str, same: str) -> str:
    """The store's guarded update (version and owner, *same* being SQL's null-safe equality)."""
    sets = ", ".join(f"{c} = {mark}" for c in s.LEAD_UPDATE_COLUMNS)
    return (f"UPDATE {prefix}leads SET {sets} WHERE id = {mark} AND version = {mark} "  # noqa: S608
            f"AND ({mark} = 0 OR owner {same} {mark})")


def _insert_sql(prefix: str, mark: str) -> str:
    cols = ", ".join(s.TRANSITION_COLUMNS)
    marks = ", ".join([mark] * len(s.TRANSITION_COLUMNS))
    return f"INSERT INTO {prefix}transitions ({cols}) VALUES ({marks})"  # noqa: S608


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}/s"


def bench_sqlite(leads: list[Any], batches: list[list[Change]], tmp: Path) -> None:
    store = SQLiteStore(tmp / "store.db")
    store.commit_many([Change(lead, None) for lead in leads])
    began = time.perf_counter()
    for batch in batches:
        store.commit_many(batch)
    store_s = time.perf_counter() - began
    store.close()

    raw_path = tmp / "raw.db"
    seed = SQLiteStore(raw_path)  # the same tables, indexes and pragmas
    seed.commit_many([Change(lead, None) for lead in leads])
    seed.close()
    rows = [raw_rows(b) for b in batches]
    db = sqlite3.connect(raw_path, isolation_level=None)
    db.execute("PRAGMA synchronous = NORMAL")
    update, insert = _update_sql("funnelkit_", "?", "IS"), _insert_sql("funnelkit_", "?")
    began = time.perf_counter()
    for updates, inserts in rows:
        db.execute("BEGIN IMMEDIATE")
        db.executemany(update, updates)
        db.executemany(insert, inserts)
        db.execute("COMMIT")
    raw_s = time.perf_counter() - began
    db.close()
    print(f"SQLite  {MOVES:,} moves in {len(batches)} transactions: store {store_s:.2f} s "
          f"({rate(MOVES, store_s)}), raw sqlite3 {raw_s:.2f} s ({rate(MOVES, raw_s)}): "
          f"store = {raw_s / store_s:.2f}x raw (goal >= 0.5x)")


def bench_postgres(url: str, leads: list[Any], batches: list[list[Change]]) -> None:
    import psycopg  # noqa: PLC0415 - optional

    from funnelkit.stores import SQLAlchemyStore  # noqa: PLC0415 - optional

    store = SQLAlchemyStore(url, prefix="bench_store_")
    raw_seed = SQLAlchemyStore(url, prefix="bench_raw_")
    try:
        store.commit_many([Change(lead, None) for lead in leads])
        raw_seed.commit_many([Change(lead, None) for lead in leads])
        began = time.perf_counter()
        for batch in batches:
            store.commit_many(batch)
        store_s = time.perf_counter() - began
        rows = [raw_rows(b) for b in batches]
        dsn = store.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn) as conn:
            update, insert = _update_sql("bench_raw_", "%s", "IS NOT DISTINCT FROM"), _insert_sql("bench_raw_", "%s")
            began = time.perf_counter()
            for updates, inserts in rows:
                with conn.cursor() as cur:
                    cur.executemany(update, updates)
                    cur.executemany(insert, inserts)
                conn.commit()
            raw_s = time.perf_counter() - began
        print(f"Postgres {MOVES:,} moves in {len(batches)} transactions: store {store_s:.2f} s "
              f"({rate(MOVES, store_s)}), raw psycopg {raw_s:.2f} s ({rate(MOVES, raw_s)}): "
              f"store = {raw_s / store_s:.2f}x raw (goal >= 0.5x)")
    finally:
        store.drop_tables()
        raw_seed.drop_tables()
        store.close()
        raw_seed.close()


def single_commits(label: str, store: Any, seconds: float = 3.0) -> None:
    funnel = templates.temperature()
    ids = [f"S{i:03d}" for i in range(100)]
    store.commit_many([Change(funnel.new_lead(i, at=T0), None) for i in ids])
    n = 0
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        lead = store.load(ids[n % len(ids)])
        event, reason = CYCLE[lead.stage]
        outcome = funnel.fire(lead, event, at=lead.updated_at + timedelta(seconds=1),
                              reason=reason)
        store.commit(Change(outcome.lead, lead.version, (outcome.transition,),
                            expected_owner=lead.owner))
        n += 1
    elapsed = time.perf_counter() - began
    print(f"{label:<9} single moves (load -> fire -> commit, one transaction each): "
          f"{rate(n, elapsed)} ({n} in {elapsed:.1f} s)")


def main() -> None:
    print(f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}")
    leads, batches, fire_s = plan()
    print(f"fire: {MOVES:,} moves planned in {fire_s:.2f} s ({rate(MOVES, fire_s)}), not counted below")
    with tempfile.TemporaryDirectory() as tmp:
        bench_sqlite(leads, batches, Path(tmp))
        store = SQLiteStore(Path(tmp) / "single.db")
        single_commits("SQLite", store)
        store.close()
    pg = os.environ.get("FUNNELKIT_TEST_POSTGRES_URL")
    maria = os.environ.get("FUNNELKIT_TEST_MARIADB_URL")
    if pg:
        bench_postgres(pg, leads, batches)
    else:
        print("PostgreSQL skipped: set FUNNELKIT_TEST_POSTGRES_URL")
    from funnelkit.stores import SQLAlchemyStore  # noqa: PLC0415 - optional

    for label, url in (("Postgres", pg), ("MariaDB", maria)):
        if not url:
            print(f"{label} single moves skipped: set its FUNNELKIT_TEST_*_URL")
            continue
        store = SQLAlchemyStore(url, prefix="bench_single_")
        try:
            single_commits(label, store)
        finally:
            store.drop_tables()
            store.close()


if __name__ == "__main__":
    main()
