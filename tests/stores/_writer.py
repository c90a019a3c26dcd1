"""A writer process for the reliability tests: load -> fire -> commit -> retry on conflict.

Run as ``python _writer.py CONFIG_JSON``.  ``mode`` ``race`` makes ``fires`` moves and prints a JSON
summary; ``crash`` moves (and claims / acknowledges outbox rows) until it is killed; ``zygote``
imports everything once, then forks one crash writer per ``fork`` line read on stdin (so each of
the 20 lives of the crash test starts in milliseconds) and reports a child's exit status on
``reap PID``.  The pipeline is being written in parallel, so the retry loop is done here by hand,
the way it will do it.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from funnelkit import ConcurrencyError, Touchpoint, templates
from funnelkit.stores import Change, OutboxMessage, SQLiteStore, Store

# The temperature funnel cycles forever: cold -> warm -> hot -> cold (a backward move).
CYCLE = {"cold": ("warm_up", None), "warm": ("heat", None), "hot": ("cool", "went quiet")}


def open_store(config: dict[str, Any]) -> Store:
    """The store the parent test names in *config*."""
    if config["backend"] == "sqlite":
        return SQLiteStore(config["target"], timeout=60)
    from funnelkit.stores import SQLAlchemyStore  # noqa: PLC0415 - SQLite writers skip SQLAlchemy

    return SQLAlchemyStore(config["target"], prefix=config["prefix"], schema=config.get("schema"),
                           create=False)


def fire_once(store: Store, funnel: Any, lead_id: str, rng: random.Random) -> int:
    """Move one lead by one step, retrying on conflicts; return how many conflicts it met."""
    conflicts = 0
    while True:
        lead = store.load(lead_id)
        event, reason = CYCLE[lead.stage]
        at = lead.updated_at + timedelta(seconds=1)
        outcome = funnel.fire(lead, event, at=at, reason=reason, actor=f"w{rng.random():.6f}")
        version = outcome.lead.version
        change = Change(
            outcome.lead, lead.version, [outcome.transition],
            touchpoints=[Touchpoint(lead_id, "call", "phone", at)] if version % 3 == 0 else (),
            outbox=[OutboxMessage(f"{lead_id}:{version}", "after_fire",
                                  {"lead_id": lead_id, "version": version, "at": at}, at)],
        )
        try:
            store.commit(change)
        except ConcurrencyError:
            conflicts += 1
            continue
        return conflicts


def zygote(config: dict[str, Any]) -> None:
    """Fork a crash writer per ``fork SEED`` line; answer ``reap PID`` with its exit status."""
    if config["backend"] != "sqlite":
        from funnelkit.stores import SQLAlchemyStore  # noqa: F401, PLC0415 - import before forking
    print("zygote ready", flush=True)
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command == "fork":
            pid = os.fork()
            if pid == 0:
                sys.stdin.close()
                try:
                    main({**config, "mode": "crash", "seed": int(arg)})
                finally:
                    os._exit(1)
            print(f"child {pid}", flush=True)
        elif command == "reap":
            _, status = os.waitpid(int(arg), 0)
            print(f"status {os.waitstatus_to_exitcode(status)}", flush=True)


def main(config: dict[str, Any] | None = None) -> None:
    """Run the writer described by *config* or by the JSON config in argv[1]."""
    if config is None:
        config = json.loads(sys.argv[1])
    if config["mode"] == "zygote":
        zygote(config)
        return
    funnel = templates.temperature()
    rng = random.Random(config["seed"])
    store = open_store(config)
    lead_ids = [f"L{i:03d}" for i in range(config["leads"])]
    print(f"ready {os.getpid()}", flush=True)
    start_at = config.get("start_at")
    if start_at:
        time.sleep(max(0.0, start_at - time.time()))
    if config["mode"] == "race":
        conflicts = 0
        began = time.perf_counter()
        for _ in range(config["fires"]):
            conflicts += fire_once(store, funnel, rng.choice(lead_ids), rng)
        elapsed = time.perf_counter() - began
        print(json.dumps({"fires": config["fires"], "conflicts": conflicts, "seconds": elapsed}),
              flush=True)
        store.close()
        return
    worker = f"crash-{config['seed']}"
    n = 0
    while True:  # until SIGKILL
        fire_once(store, funnel, rng.choice(lead_ids), rng)
        n += 1
        if n % 7 == 0:
            rows = store.claim_outbox(worker=worker, now=datetime.now(UTC),
                                      lease=timedelta(milliseconds=200), limit=4)
            for row in rows[: len(rows) // 2]:
                store.ack_outbox(row.id, worker=worker, at=datetime.now(UTC))


if __name__ == "__main__":
    main()
