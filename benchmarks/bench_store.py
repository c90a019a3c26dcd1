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
4. The host's transaction: a host that inserts one row of its own and fires one move per
   transaction through ``pipeline.using(connection)`` (SQLAlchemy, on a SQLite file and on
   PostgreSQL), against the same host doing it all by hand in one transaction with its driver
   (``sqlite3``, psycopg): its row, a read of the lead's version, the guarded lead update and
   the transition insert, the same columns, rows ready-made.  Also against the same statements
   written by hand through SQLAlchemy Core on the host's connection.  On SQLite also a host
   on the stdlib ``sqlite3`` driver itself with ``SQLiteStore`` and ``pipeline.using(sqlite3
   connection)``, against the same by-hand ``sqlite3`` host.  Rounds interleave the
   contenders; the median and the best ratio are printed.  Goal: >= 0.5x the driver.
5. Single moves on PostgreSQL (``python benchmarks/bench_store.py single``): ``Pipeline.fire`` of
   a stored lead on ``SQLAlchemyStore`` (no hooks: load, fire, guarded commit) against a raw
   psycopg script making the same read (the lead's row) and the same guarded write (the lead
   update with its version and owner guard, the transition insert) in as few round trips as
   psycopg allows: two, both outside any transaction, the write one statement (the insert
   selecting the guarded update's ``RETURNING``), rows ready-made.  Interleaved rounds, medians.
   Goal: >= 0.7x the script.

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


HOST_LEADS = 100
HOST_ROUNDS = 7


def _one_team_cycle() -> Any:
    """The temperature funnel's cycle in one team: no handoff, so each move writes two rows."""
    from funnelkit import FunnelBuilder  # noqa: PLC0415

    return (FunnelBuilder("cycle")
            .stage("cold", "marketing").stage("warm", "marketing").stage("hot", "marketing")
            .stage("won", "marketing", outcome="won")
            .move("warm_up", "cold", "warm").move("heat", "warm", "hot")
            .move("cool", "hot", "cold", backward=True).move("buy", "hot", "won")
            .build())


def plan_moves(funnel: Any, leads: list[Any],
               moves: int) -> list[tuple[Any, Any, str, str | None]]:
    """*moves* moves of *leads* in turn, one second apart: ready-made rows, event and reason.

    The rows (the guarded lead update, the transition insert) are for the hand-written
    contenders; the others take the event and reason only, and fire it themselves.
    """
    current, planned = list(leads), []
    for n in range(moves):
        lead = current[n % len(current)]
        event, reason = CYCLE[lead.stage]
        outcome = funnel.fire(lead, event, at=T0 + timedelta(seconds=n + 1), reason=reason)
        update = s.lead_update_params(outcome.lead, lead.version, lead.owner)
        planned.append((update, s.transition_params(outcome.transition), event, reason))
        current[n % len(current)] = outcome.lead
    return planned


class _HostBench:
    """Section 4: one database, three host contenders (four on SQLite), each with its own tables."""

    def __init__(self, label: str, url: str, per_round: int) -> None:
        import sqlalchemy as sa  # noqa: PLC0415 - optional

        from funnelkit import Pipeline  # noqa: PLC0415
        from funnelkit.stores import SQLAlchemyStore  # noqa: PLC0415 - optional

        self.label, self.per_round, self.sa = label, per_round, sa
        self.engine = sa.create_engine(url)
        if self.engine.dialect.name == "sqlite":
            @sa.event.listens_for(self.engine, "connect")
            def _pragmas(dbapi: Any, _: Any) -> None:  # as SQLiteStore sets them
                dbapi.execute("PRAGMA journal_mode = WAL")
                dbapi.execute("PRAGMA synchronous = NORMAL")
        self.funnel = _one_team_cycle()
        self.stores: dict[str, Any] = {name: SQLAlchemyStore(self.engine, prefix=f"bh_{name}_")
                                       for name in ("using", "core", "driver")}
        self.sqlite = self.engine.dialect.name == "sqlite"
        if self.sqlite:  # the stdlib host: SQLiteStore in the same file
            self.stores["stdlib"] = SQLiteStore(self.engine.url.database or "",
                                                 prefix="bh_stdlib_")
            self.stdlib_pipeline = Pipeline(self.funnel, store=self.stores["stdlib"])
        self.pipeline = Pipeline(self.funnel, store=self.stores["using"])
        self.companies: dict[str, str] = {}
        self.rows: dict[str, list[tuple[Any, Any, str, str | None]]] = {}
        self.count = 0
        for name, store in self.stores.items():
            table = f"bh_{name}_companies"
            with self.engine.begin() as conn:
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
                conn.exec_driver_sql(f"CREATE TABLE {table} (slug VARCHAR(100) PRIMARY KEY, "
                                     f"name VARCHAR(100) NOT NULL)")
            self.companies[name] = table
            leads = [self.funnel.new_lead(f"H{i:03d}", at=T0) for i in range(HOST_LEADS)]
            store.commit_many([Change(lead, None) for lead in leads])
            self.rows[name] = plan_moves(self.funnel, leads, per_round * HOST_ROUNDS)

    def using(self, start: int) -> float:
        """The host's row plus ``pipeline.using(conn).fire``, one transaction each."""
        sa, pipeline, table = self.sa, self.pipeline, self.companies["using"]
        rows = self.rows["using"]  # for the events only: fire loads the lead and checks them
        insert = sa.text(f"INSERT INTO {table} (slug, name) VALUES (:slug, :name)")  # noqa: S608
        began = time.perf_counter()
        for n in range(start, start + self.per_round):
            _, _, event, reason = rows[n]
            with self.engine.begin() as conn:
                conn.execute(insert, {"slug": f"c{n}", "name": "Acme"})
                pipeline.using(conn).fire(f"H{n % HOST_LEADS:03d}", event, reason=reason,
                                          at=T0 + timedelta(seconds=n + 1))
        return time.perf_counter() - began

    def stdlib(self, start: int) -> float:
        """A stdlib ``sqlite3`` host: its row plus ``pipeline.using(db).fire``, one transaction each.

        The host's connection is set up as :meth:`driver`'s, and begins and commits the same way.
        """
        pipeline, table = self.stdlib_pipeline, self.companies["stdlib"]
        rows = self.rows["stdlib"]  # for the events only: fire loads the lead and checks them
        db = sqlite3.connect(self.engine.url.database or "", isolation_level=None)
        db.execute("PRAGMA synchronous = NORMAL")
        insert = f"INSERT INTO {table} (slug, name) VALUES (?, ?)"  # noqa: S608
        began = time.perf_counter()
        for n in range(start, start + self.per_round):
            _, _, event, reason = rows[n]
            db.execute("BEGIN")
            db.execute(insert, (f"c{n}", "Acme"))
            pipeline.using(db).fire(f"H{n % HOST_LEADS:03d}", event, reason=reason,
                                    at=T0 + timedelta(seconds=n + 1))
            db.execute("COMMIT")
        elapsed = time.perf_counter() - began
        db.close()
        return elapsed

    def core(self, start: int) -> float:
        """The same statements written by hand through SQLAlchemy on the host's connection."""
        sa, table, rows = self.sa, self.companies["core"], self.rows["core"]
        mark = ":"
        update = sa.text(_update_sql("bh_core_", "?", "IS NOT DISTINCT FROM").replace(
            "?", "{}").format(*(f"{mark}p{i}" for i in range(len(s.LEAD_UPDATE_COLUMNS) + 4))))
        insert_tr = sa.text(_insert_sql("bh_core_", "?").replace("?", "{}").format(
            *(f"{mark}q{i}" for i in range(len(s.TRANSITION_COLUMNS)))))
        if self.engine.dialect.name == "sqlite":
            update = sa.text(str(update).replace("IS NOT DISTINCT FROM", "IS"))
        insert = sa.text(f"INSERT INTO {table} (slug, name) VALUES (:slug, :name)")  # noqa: S608
        version = sa.text("SELECT version, stage FROM bh_core_leads WHERE id = :id")
        began = time.perf_counter()
        for n in range(start, start + self.per_round):
            upd, tr, _, _ = rows[n]
            with self.engine.begin() as conn:
                conn.execute(insert, {"slug": f"c{n}", "name": "Acme"})
                conn.execute(version, {"id": upd[-4]}).first()
                conn.execute(update, {f"p{i}": v for i, v in enumerate(upd)})
                conn.execute(insert_tr, {f"q{i}": v for i, v in enumerate(tr)})
        return time.perf_counter() - began

    def driver(self, start: int) -> float:
        """The same, by hand with the driver itself (sqlite3 or psycopg), one transaction each."""
        table, rows = self.companies["driver"], self.rows["driver"]
        url = self.engine.url
        if url.get_backend_name() == "sqlite":
            db: Any = sqlite3.connect(url.database or "", isolation_level=None)
            db.execute("PRAGMA synchronous = NORMAL")
            mark, same = "?", "IS"
        else:
            import psycopg  # noqa: PLC0415 - optional

            db = psycopg.connect(url.set(drivername="postgresql").render_as_string(
                hide_password=False))
            mark, same = "%s", "IS NOT DISTINCT FROM"
        update, insert_tr = _update_sql("bh_driver_", mark, same), _insert_sql("bh_driver_", mark)
        insert = f"INSERT INTO {table} (slug, name) VALUES ({mark}, {mark})"  # noqa: S608
        version = f"SELECT version, stage FROM bh_driver_leads WHERE id = {mark}"  # noqa: S608
        sqlite = isinstance(db, sqlite3.Connection)
        began = time.perf_counter()
        for n in range(start, start + self.per_round):
            upd, tr, _, _ = rows[n]
            if sqlite:
                db.execute("BEGIN")
                db.execute(insert, (f"c{n}", "Acme"))
                db.execute(version, (upd[-4],)).fetchone()
                db.execute(update, upd)
                db.execute(insert_tr, tr)
                db.execute("COMMIT")
            else:
                with db.cursor() as cur:
                    cur.execute(insert, (f"c{n}", "Acme"))
                    cur.execute(version, (upd[-4],))
                    cur.fetchone()
                    cur.execute(update, upd)
                    cur.execute(insert_tr, tr)
                db.commit()
        elapsed = time.perf_counter() - began
        db.close()
        return elapsed

    def run(self) -> None:
        order = ["using", "core", "driver"] + (["stdlib"] if self.sqlite else [])
        times: dict[str, list[float]] = {name: [] for name in order}
        for round_ in range(HOST_ROUNDS):
            start = round_ * self.per_round
            for name in order:
                times[name].append(getattr(self, name)(start))
            order = order[1:] + order[:1]  # interleave: each goes first in turn
        rates = {name: sorted(self.per_round / t for t in ts) for name, ts in times.items()}
        median = {name: r[len(r) // 2] for name, r in rates.items()}
        best = {name: r[-1] for name, r in rates.items()}
        print(f"{self.label:<9} host transactions (its row + one move), {HOST_ROUNDS} rounds of "
              f"{self.per_round}, median (best): pipeline.using {median['using']:,.0f}/s "
              f"({best['using']:,.0f}), by hand via SQLAlchemy {median['core']:,.0f}/s "
              f"({best['core']:,.0f}), by hand via the driver {median['driver']:,.0f}/s "
              f"({best['driver']:,.0f})")
        print(f"{'':<9} using = {median['using'] / median['driver']:.2f}x the driver "
              f"(best {best['using'] / best['driver']:.2f}x; goal >= 0.5x), "
              f"{median['using'] / median['core']:.2f}x SQLAlchemy by hand")
        if self.sqlite:
            print(f"{'':<9} sqlite3 host, SQLiteStore + pipeline.using(sqlite3 connection) "
                  f"{median['stdlib']:,.0f}/s ({best['stdlib']:,.0f}) = "
                  f"{median['stdlib'] / median['driver']:.2f}x the driver "
                  f"(best {best['stdlib'] / best['driver']:.2f}x; goal >= 0.5x)")

    def close(self) -> None:
        for name, store in self.stores.items():
            if isinstance(store, SQLiteStore):
                store.close()  # its file goes with the temporary directory
            else:
                store.drop_tables()
            with self.engine.begin() as conn:
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {self.companies[name]}")
        self.engine.dispose()


def bench_host(label: str, url: str, per_round: int) -> None:
    bench = _HostBench(label, url, per_round)
    try:
        bench.run()
    finally:
        bench.close()


SINGLE_LEADS = 100
SINGLE_ROUNDS = 7


class _SingleBench:
    """Section 5: single moves on PostgreSQL, ``Pipeline.fire`` against a raw psycopg script.

    Each contender has its own tables (the store's, made by ``SQLAlchemyStore``) in one database
    and moves its leads in the same order at the same times.
    """

    def __init__(self, url: str, per_round: int) -> None:
        import psycopg  # noqa: PLC0415 - optional

        from funnelkit import Pipeline  # noqa: PLC0415
        from funnelkit.stores import SQLAlchemyStore  # noqa: PLC0415 - optional

        self.per_round = per_round
        self.funnel = _one_team_cycle()
        self.stores = {name: SQLAlchemyStore(url, prefix=f"bs_{name}_")
                       for name in ("pipeline", "driver")}
        self.pipeline = Pipeline(self.funnel, store=self.stores["pipeline"])
        leads = [self.funnel.new_lead(f"S{i:03d}", at=T0) for i in range(SINGLE_LEADS)]
        for store in self.stores.values():
            store.commit_many([Change(lead, None) for lead in leads])
        self.rows = plan_moves(self.funnel, leads, per_round * SINGLE_ROUNDS)
        dsn = self.stores["driver"].engine.url.set(drivername="postgresql")
        self.db = psycopg.connect(dsn.render_as_string(hide_password=False), autocommit=True)

    def pipeline_fire(self, start: int) -> float:
        """``Pipeline(funnel, store=SQLAlchemyStore(url)).fire``: load, fire, guarded commit."""
        fire, rows = self.pipeline.fire, self.rows
        began = time.perf_counter()
        for n in range(start, start + self.per_round):
            _, _, event, reason = rows[n]
            fire(f"S{n % SINGLE_LEADS:03d}", event, reason=reason,
                 at=T0 + timedelta(seconds=n + 1))
        return time.perf_counter() - began

    def driver(self, start: int) -> float:
        """The same reads and guarded writes by hand, in as few round trips as psycopg allows.

        The read is one statement outside any transaction; the write is one statement too (the
        guarded update in a ``WITH`` whose row, if any, the transition insert selects), which
        PostgreSQL runs as its own transaction: two round trips a move, rows ready-made.
        """
        sets = ", ".join(f"{c} = %s" for c in s.LEAD_UPDATE_COLUMNS)
        cols = ", ".join(s.TRANSITION_COLUMNS)
        select = (f"SELECT {', '.join(s.LEAD_COLUMNS)} FROM bs_driver_leads "  # noqa: S608
                  f"WHERE id = %s")
        move = (f"WITH moved AS (UPDATE bs_driver_leads SET {sets} WHERE id = %s "  # noqa: S608
                f"AND version = %s AND (%s = 0 OR owner IS NOT DISTINCT FROM %s) RETURNING id) "
                f"INSERT INTO bs_driver_transitions ({cols}) "
                f"SELECT {', '.join(['%s'] * len(s.TRANSITION_COLUMNS))} FROM moved")
        rows, cur = self.rows, self.db.cursor()
        began = time.perf_counter()
        for n in range(start, start + self.per_round):
            upd, tr, _, _ = rows[n]
            cur.execute(select, (upd[-4],))
            cur.fetchone()
            cur.execute(move, (*upd, *tr))
            if cur.rowcount != 1:
                raise AssertionError(f"move {n} found its lead changed")
        return time.perf_counter() - began

    def run(self) -> None:
        order = ["pipeline_fire", "driver"]
        times: dict[str, list[float]] = {name: [] for name in order}
        for round_ in range(SINGLE_ROUNDS):
            for name in order:
                times[name].append(getattr(self, name)(round_ * self.per_round))
            order = order[1:] + order[:1]  # interleave: each goes first in turn
        rates = {name: sorted(self.per_round / t for t in ts) for name, ts in times.items()}
        median = {name: r[len(r) // 2] for name, r in rates.items()}
        best = {name: r[-1] for name, r in rates.items()}
        print(f"Postgres  single moves (load, fire, guarded commit), {SINGLE_ROUNDS} rounds of "
              f"{self.per_round}, median (best): Pipeline.fire on SQLAlchemyStore "
              f"{median['pipeline_fire']:,.0f}/s ({best['pipeline_fire']:,.0f}), raw psycopg "
              f"{median['driver']:,.0f}/s ({best['driver']:,.0f})")
        print(f"{'':<9} store = {median['pipeline_fire'] / median['driver']:.2f}x raw psycopg "
              f"(best {best['pipeline_fire'] / best['driver']:.2f}x; goal >= 0.7x)")

    def close(self) -> None:
        self.db.close()
        for store in self.stores.values():
            store.drop_tables()
            store.close()


def single_part() -> None:
    """Section 5 alone: ``python benchmarks/bench_store.py single``."""
    pg = os.environ.get("FUNNELKIT_TEST_POSTGRES_URL")
    if not pg:
        print("PostgreSQL single moves skipped: set FUNNELKIT_TEST_POSTGRES_URL")
        return
    bench = _SingleBench(pg, 1_000)
    try:
        bench.run()
    finally:
        bench.close()


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
    host_part()
    single_part()


def host_part() -> None:
    """Section 4 alone: ``python benchmarks/bench_store.py host``."""
    with tempfile.TemporaryDirectory() as tmp:
        bench_host("SQLite", f"sqlite:///{Path(tmp) / 'host.db'}", 2_000)
    pg = os.environ.get("FUNNELKIT_TEST_POSTGRES_URL")
    if pg:
        bench_host("Postgres", pg, 1_000)
    else:
        print("PostgreSQL host transactions skipped: set FUNNELKIT_TEST_POSTGRES_URL")


PARTS = {"host": host_part, "single": single_part}

if __name__ == "__main__":
    PARTS[sys.argv[1]]() if sys.argv[1:2] and sys.argv[1] in PARTS else main()
