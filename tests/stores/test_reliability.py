"""Races, crashes and faults on real databases: nothing lost, nothing duplicated, nothing partial.

The figures (conflicts, seconds, counts) are printed; run with ``-s`` to see them.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from _checks import check_consistency, summary

from funnelkit import ConcurrencyError, Decision, StorageError, templates
from funnelkit.stores import Change, OutboxMessage, SQLAlchemyStore, SQLiteStore, Store

if TYPE_CHECKING:
    from collections.abc import Iterator

WRITER = Path(__file__).with_name("_writer.py")
PROCESSES, FIRES, LEADS = 8, 1000, 100
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def _env() -> dict[str, str]:
    src = str(Path(__file__).resolve().parents[2] / "src")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}


class Target:
    """A store the writer processes can open: a SQLite file or a server URL with a prefix."""

    def __init__(self, label: str, config: dict[str, Any], opener: Any) -> None:
        self.label = label
        self.config = config
        self.open = opener

    def config_for(self, **extra: Any) -> str:
        return json.dumps({**self.config, **extra})


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    """A fresh store on a SQLite file, on PostgreSQL and on MariaDB."""
    if request.param == "sqlite":
        path = str(tmp_path / "race.db")
        yield Target("sqlite file", {"backend": "sqlite", "target": path},
                     lambda: SQLiteStore(path, timeout=60))
        return
    request.applymarker(getattr(pytest.mark, request.param))
    server = request.getfixturevalue(request.param)
    prefix = server.prefix()
    config = {"backend": "sqlalchemy", "target": server.url, "prefix": prefix,
              "schema": server.schema}
    first = SQLAlchemyStore(server.engine, prefix=prefix, schema=server.schema)
    try:
        yield Target(server.kind, config, lambda: SQLAlchemyStore(
            server.engine, prefix=prefix, schema=server.schema, create=False))
    finally:
        first.drop_tables()


def _seed_leads(store: Store, count: int = LEADS) -> None:
    funnel = templates.temperature()
    store_many = getattr(store, "commit_many")  # noqa: B009 - every backend here has it
    store_many([Change(funnel.new_lead(f"L{i:03d}", at=T0), None) for i in range(count)])


@pytest.mark.slow
def test_racing_processes_lose_nothing(target: Target) -> None:
    """8 processes x 1,000 fires on 100 shared leads: no lost update, no duplicate, replay agrees."""
    store = target.open()
    _seed_leads(store)
    start_at = time.time() + 3.0
    procs = [subprocess.Popen(
        [sys.executable, str(WRITER), target.config_for(mode="race", seed=i, leads=LEADS,
                                                        fires=FIRES, start_at=start_at)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
        for i in range(PROCESSES)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    funnel = templates.temperature()
    report = check_consistency(store, funnel)
    versions = sum(lead.version for lead in store.leads())
    outbox = store.outbox(undelivered_only=False)  # the writers' after-hook delivered most
    keys = {row.key for row in outbox}
    print(summary(f"race {target.label}", processes=PROCESSES, fires=PROCESSES * FIRES,
                  transitions=report.transitions, lost_updates=PROCESSES * FIRES - versions,
                  duplicates=report.duplicates, gaps=report.gaps,
                  stage_mismatches=report.stage_mismatches, outbox_rows=len(outbox),
                  conflicts_retried=sum(r["conflicts"] for r in results),
                  slowest_worker_s=round(max(r["seconds"] for r in results), 2)))
    assert report.ok, report.problems[:10]
    assert report.transitions == PROCESSES * FIRES
    assert versions == PROCESSES * FIRES
    assert len(outbox) == len(keys) == PROCESSES * FIRES
    store.close()


CRASHES = 20


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_sigkilled_writer_leaves_a_consistent_store(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A writer SIGKILLed at random 20 times: the store stays consistent and every outbox row is delivered."""
    if kind == "sqlite":
        path = str(tmp_path / "crash.db")
        config: dict[str, Any] = {"backend": "sqlite", "target": path}
        opener = lambda: SQLiteStore(path)  # noqa: E731
        cleanup = lambda: None  # noqa: E731
    else:
        request.applymarker(pytest.mark.postgres)
        server = request.getfixturevalue("postgres")
        prefix = server.prefix()
        config = {"backend": "sqlalchemy", "target": server.url, "prefix": prefix,
                  "schema": server.schema}
        first = SQLAlchemyStore(server.engine, prefix=prefix, schema=server.schema)
        opener = lambda: SQLAlchemyStore(server.engine, prefix=prefix, schema=server.schema)  # noqa: E731
        cleanup = first.drop_tables
    log = tmp_path / "delivered.log"
    config["delivered_log"] = str(log)
    try:
        store = opener()
        _seed_leads(store, 20)
        funnel = templates.temperature()
        rng = random.Random(6)
        # A zygote process imports everything once and forks each writer, so the 20 lives start
        # fast; the test kills each writer with SIGKILL at a random moment of its work.
        zygote = subprocess.Popen(
            [sys.executable, str(WRITER), json.dumps({**config, "mode": "zygote", "leads": 20})],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=_env())
        assert zygote.stdin is not None
        assert zygote.stdout is not None
        assert zygote.stdout.readline().strip() == "zygote ready"

        def tell(line: str) -> None:
            assert zygote.stdin is not None
            zygote.stdin.write(line + "\n")
            zygote.stdin.flush()

        try:
            for i in range(CRASHES):
                tell(f"fork {i}")
                said = dict(zygote.stdout.readline().split() for _ in range(2))
                assert said.keys() == {"child", "ready"}, said
                assert said["child"] == said["ready"], said
                pid = int(said["child"])
                time.sleep(rng.uniform(0.02, 0.3))  # the writer is committing by now
                os.kill(pid, signal.SIGKILL)
                tell(f"reap {pid}")
                assert zygote.stdout.readline().split() == ["status", str(-signal.SIGKILL)]
                report = check_consistency(store, funnel)
                assert report.ok, (i, report.problems[:10])
        finally:
            zygote.stdin.close()
            zygote.wait(timeout=30)
            zygote.stdout.close()
        # What the killed writers delivered themselves, then what deliver_pending() delivers
        # once the leases the dead writers held have run out (200 ms).
        delivered = {tuple(line.split()) for line in log.read_text().splitlines() if line}
        by_writers = len(delivered)
        time.sleep(0.3)
        left_by_the_dead = len(store.outbox())

        class Recorder:
            def after_transition(self, transition: Any) -> None:
                delivered.add((transition.lead_id, str(transition.version)))

        from funnelkit import Pipeline  # noqa: PLC0415 - the pipeline layer, only here

        dispatcher = Pipeline(funnel, store=store)
        dispatcher.register(Recorder())
        while dispatcher.deliver_pending(limit=500).delivered:
            pass
        transitions = [t for _, t in store.transitions()]
        expected = {(t.lead_id, str(t.version)) for t in transitions}
        print(summary(f"crash {kind}", kills=CRASHES, transitions=len(transitions),
                      outbox_rows=len(store.outbox(undelivered_only=False)),
                      delivered_by_writers=by_writers, left_by_killed_writers=left_by_the_dead,
                      undelivered_left=len(store.outbox())))
        assert transitions, "the writer never committed: raise the kill delays"
        assert expected <= delivered, sorted(expected - delivered)[:10]
        assert store.outbox() == []
        store.close()
    finally:
        cleanup()


# -- faults in the middle of a commit ----------------------------------------------------------


def _moved_change(store: Store, lead_id: str, key: str) -> tuple[Change, Any]:
    funnel = templates.temperature()
    lead = store.load(lead_id)
    outcome = funnel.fire(lead, "warm_up", at=lead.updated_at + timedelta(seconds=1))
    return Change(outcome.lead, lead.version, [outcome.transition],
                  outbox=[OutboxMessage(key, "after_fire", {}, T0)]), lead


def _state(store: Store) -> tuple[Any, ...]:
    return (list(store.leads()), list(store.transitions()),
            [r.key for r in store.outbox(undelivered_only=False)])


def test_sqlite_locked_past_timeout_raises_and_writes_nothing(tmp_path: Path) -> None:
    """A second connection holding the write lock past the timeout: StorageError, nothing written."""
    path = tmp_path / "locked.db"
    store = SQLiteStore(path, timeout=0.2)
    _seed_leads(store, 2)
    change, lead = _moved_change(store, "L000", "k1")
    before = _state(store)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    began = time.perf_counter()
    with pytest.raises(StorageError, match="locked") as info:
        store.commit(change)
    waited = time.perf_counter() - began
    assert not isinstance(info.value, ConcurrencyError)
    assert waited >= 0.15
    blocker.execute("ROLLBACK")
    blocker.close()
    assert _state(store) == before
    assert store.load("L000") == lead
    store.commit(change)  # once the lock is gone the same change goes through
    assert store.load("L000") == change.lead
    store.close()
    print(summary("fault sqlite locked", timeout_s=0.2, waited_s=round(waited, 3)))


def test_sqlite_error_mid_commit_rolls_back(tmp_path: Path) -> None:
    """A database error after the lead row was updated rolls the whole commit back."""
    path = tmp_path / "fault.db"
    store = SQLiteStore(path)
    _seed_leads(store, 2)
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE fault_log (x)")
    raw.execute("""CREATE TRIGGER fault BEFORE INSERT ON funnelkit_outbox
                   WHEN NEW.msg_key = 'boom' BEGIN INSERT INTO fault_log VALUES (1); END""")
    raw.execute("DROP TABLE fault_log")  # the trigger now fails when it fires
    raw.commit()
    change, lead = _moved_change(store, "L000", "boom")
    before = _state(store)
    with pytest.raises(StorageError, match="fault_log"):
        store.commit(change)
    assert _state(store) == before
    assert store.load("L000") == lead
    raw.execute("DROP TRIGGER fault")
    raw.commit()
    raw.close()
    store.commit(change)  # the fault is gone: the same change goes through
    assert store.load("L000").version == 1
    store.close()


@pytest.mark.postgres
def test_postgres_connection_killed_mid_commit(postgres: Any) -> None:
    """PostgreSQL closing the connection in the middle of a commit: StorageError, nothing written, store usable."""
    prefix = postgres.prefix()
    store = SQLAlchemyStore(postgres.engine, prefix=prefix, schema=postgres.schema)
    table = f"{postgres.schema}.{prefix}transitions"
    try:
        _seed_leads(store, 2)
        with postgres.engine.begin() as conn:
            conn.exec_driver_sql(f"""
                CREATE FUNCTION {postgres.schema}.{prefix}die() RETURNS trigger AS $$
                BEGIN
                  IF NEW.lead_id = 'L000' THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF;
                  RETURN NEW;
                END $$ LANGUAGE plpgsql""")
            conn.exec_driver_sql(f"CREATE TRIGGER die BEFORE INSERT ON {table} FOR EACH ROW "
                                 f"EXECUTE FUNCTION {postgres.schema}.{prefix}die()")
        change, lead = _moved_change(store, "L000", "k-die")
        before = _state(store)
        with pytest.raises(StorageError) as info:
            store.commit(change)
        assert "connection" in str(info.value).lower() or "terminat" in str(info.value).lower()
        assert _state(store) == before
        assert store.load("L000") == lead
        other, _ = _moved_change(store, "L001", "k-other")
        store.commit(other)  # the pool replaced the dead connection
        assert store.load("L001").version == 1
    finally:
        store.drop_tables()
        with postgres.engine.begin() as conn:
            conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {postgres.schema}.{prefix}die()")


@pytest.mark.postgres
def test_postgres_error_mid_commit_rolls_back(postgres: Any) -> None:
    """A PostgreSQL error after the lead update (trigger on the outbox) rolls everything back."""
    prefix = postgres.prefix()
    store = SQLAlchemyStore(postgres.engine, prefix=prefix, schema=postgres.schema)
    try:
        _seed_leads(store, 2)
        with postgres.engine.begin() as conn:
            conn.exec_driver_sql(f"""
                CREATE FUNCTION {postgres.schema}.{prefix}boom() RETURNS trigger AS $$
                BEGIN RAISE EXCEPTION 'injected fault'; END $$ LANGUAGE plpgsql""")
            conn.exec_driver_sql(
                f"CREATE TRIGGER boom BEFORE INSERT ON {postgres.schema}.{prefix}outbox "
                f"FOR EACH ROW WHEN (NEW.msg_key = 'boom') "
                f"EXECUTE FUNCTION {postgres.schema}.{prefix}boom()")
        change, lead = _moved_change(store, "L000", "boom")
        before = _state(store)
        with pytest.raises(StorageError, match="injected fault"):
            store.commit(change)
        assert _state(store) == before
        assert store.load("L000") == lead
    finally:
        store.drop_tables()
        with postgres.engine.begin() as conn:
            conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {postgres.schema}.{prefix}boom()")


@pytest.mark.mariadb
def test_mariadb_connection_killed_mid_commit(mariadb: Any) -> None:
    """MariaDB killing the connection in the middle of a commit: StorageError, nothing written, store usable."""
    prefix = mariadb.prefix()
    store = SQLAlchemyStore(mariadb.engine, prefix=prefix)
    try:
        _seed_leads(store, 2)
        with mariadb.engine.begin() as conn:
            conn.exec_driver_sql(
                f"CREATE TRIGGER {prefix}slow BEFORE INSERT ON {prefix}transitions FOR EACH ROW "
                f"BEGIN IF NEW.lead_id = 'L000' THEN DO SLEEP(3); END IF; END")
        change, lead = _moved_change(store, "L000", "k-kill")
        before = _state(store)
        database = mariadb.engine.url.database

        def killer() -> None:
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                with mariadb.engine.connect() as conn:
                    ids = [r[0] for r in conn.exec_driver_sql(
                        "SELECT id FROM information_schema.processlist WHERE db = %s "
                        "AND id <> CONNECTION_ID() AND (state = 'User sleep' "
                        "OR info LIKE '%%SLEEP(3)%%')", (database,))]
                    for pid in ids:
                        conn.exec_driver_sql(f"KILL CONNECTION {int(pid)}")
                    if ids:
                        return
                time.sleep(0.05)

        thread = threading.Thread(target=killer)
        thread.start()
        with pytest.raises(StorageError):
            store.commit(change)
        thread.join()
        assert _state(store) == before
        assert store.load("L000") == lead
        other, _ = _moved_change(store, "L001", "k-other")
        store.commit(other)
        assert store.load("L001").version == 1
    finally:
        store.drop_tables()


@pytest.mark.mariadb
def test_mariadb_error_mid_commit_rolls_back(mariadb: Any) -> None:
    """A MariaDB error after the lead update (SIGNAL in a trigger) rolls everything back."""
    prefix = mariadb.prefix()
    store = SQLAlchemyStore(mariadb.engine, prefix=prefix)
    try:
        _seed_leads(store, 2)
        with mariadb.engine.begin() as conn:
            conn.exec_driver_sql(
                f"CREATE TRIGGER {prefix}boom BEFORE INSERT ON {prefix}outbox FOR EACH ROW "
                f"BEGIN IF NEW.msg_key = 'boom' THEN "
                f"SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected fault'; END IF; END")
        change, lead = _moved_change(store, "L000", "boom")
        before = _state(store)
        with pytest.raises(StorageError, match="injected fault"):
            store.commit(change)
        assert _state(store) == before
        assert store.load("L000") == lead
    finally:
        store.drop_tables()


def test_policy_that_raises_writes_nothing(tmp_path: Path) -> None:
    """A policy raising inside fire stops the move before any store call: nothing is written."""
    def broken(lead: Any, context: Any) -> Decision:
        raise RuntimeError("scoring service down")

    funnel = templates.temperature(policies={"warm_up": broken})
    store = SQLiteStore(tmp_path / "policy.db")
    _seed_leads(store, 1)
    before = _state(store)
    lead = store.load("L000")
    with pytest.raises(RuntimeError, match="scoring service down"):
        funnel.fire(lead, "warm_up", at=lead.updated_at + timedelta(seconds=1))
    assert _state(store) == before
    store.close()


def test_pipeline_before_hook_that_raises_writes_nothing(tmp_path: Path) -> None:
    """A before-hook raising inside Pipeline.fire surfaces as Veto (cause kept); nothing is written."""
    from funnelkit import Pipeline, Veto  # noqa: PLC0415 - the pipeline layer, only here

    class Broken:
        def before_transition(self, lead: Any, transition: Any) -> None:
            raise RuntimeError("CRM unreachable")

    store = SQLiteStore(tmp_path / "hook.db")
    pipeline = Pipeline(templates.temperature(), store=store)
    pipeline.capture("L1", at=T0)
    pipeline.register(Broken())
    before = _state(store)
    with pytest.raises(Veto) as caught:
        pipeline.fire("L1", "warm_up", at=T0 + timedelta(hours=1))
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert _state(store) == before
    assert store.load("L1").stage == "cold"
    assert store.outbox() == []
    store.close()


def test_pipeline_policy_that_raises_writes_nothing(tmp_path: Path) -> None:
    """A guarding policy raising inside Pipeline.fire propagates and leaves the store unchanged."""
    from funnelkit import Pipeline  # noqa: PLC0415 - the pipeline layer, only here

    def broken(lead: Any, context: Any) -> Decision:
        raise RuntimeError("scoring service down")

    store = SQLiteStore(tmp_path / "policy-pipeline.db")
    pipeline = Pipeline(templates.temperature(policies={"warm_up": broken}), store=store)
    pipeline.capture("L1", at=T0)
    before = _state(store)
    with pytest.raises(RuntimeError, match="scoring service down"):
        pipeline.fire("L1", "warm_up", at=T0 + timedelta(hours=1))
    assert _state(store) == before
    assert pipeline.history("L1") == []
    store.close()
