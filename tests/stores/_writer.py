"""A writer process for the reliability tests: a real ``Pipeline`` moving shared leads.

Run as ``python _writer.py CONFIG_JSON``.  ``mode`` ``race`` makes ``fires`` moves and prints a JSON
summary; ``crash`` moves until it is killed, with an ``after_transition`` hook that appends each
delivered ``lead_id version`` to the file ``delivered_log`` (the pipeline delivers after-hooks
from the outbox right after each commit); ``zygote`` imports everything once, then forks one crash
writer per ``fork`` line read on stdin (so each of the 20 lives of the crash test starts in
milliseconds) and reports a child's exit status on ``reap PID``.

Each move picks its event from the lead's current stage and its time from the lead's last change,
so a move another writer made first shows up as a refused event or a version conflict: the writer
counts it as a conflict and tries again on a fresh load.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from funnelkit import (
    ConcurrencyError,
    InvalidInput,
    Pipeline,
    Touchpoint,
    TransitionNotAllowed,
    templates,
)
from funnelkit.stores import SQLiteStore, Store

# The temperature funnel cycles forever: cold -> warm -> hot -> cold (a backward move).
CYCLE = {"cold": ("warm_up", None), "warm": ("heat", None), "hot": ("cool", "went quiet")}


def open_store(config: dict[str, Any]) -> Store:
    """The store the parent test names in *config*."""
    if config["backend"] == "sqlite":
        return SQLiteStore(config["target"], timeout=60)
    from funnelkit.stores import SQLAlchemyStore  # noqa: PLC0415 - SQLite writers skip SQLAlchemy

    return SQLAlchemyStore(config["target"], prefix=config["prefix"], schema=config.get("schema"),
                           create=False)


class DeliveryLog:
    """An after_transition hook that appends every delivery to a file, one line each."""

    def __init__(self, path: str) -> None:
        self.file = Path(path).open("a", buffering=1, encoding="utf-8")  # noqa: SIM115 - kept till killed

    def after_transition(self, transition: Any) -> None:
        self.file.write(f"{transition.lead_id} {transition.version}\n")
        self.file.flush()


class Count:
    """An after_transition hook that only counts, so every move writes an outbox row."""

    def __init__(self) -> None:
        self.calls = 0

    def after_transition(self, transition: Any) -> None:
        self.calls += 1


def fire_once(pipeline: Pipeline, lead_id: str, rng: random.Random) -> int:
    """Move one lead by one step through the pipeline; return how many conflicts it met."""
    conflicts = 0
    while True:
        lead = pipeline.get(lead_id)
        event, reason = CYCLE[lead.stage]
        at = lead.updated_at + timedelta(seconds=1)
        try:
            outcome = pipeline.fire(lead_id, event, at=at, reason=reason,
                                    actor=f"w{rng.random():.6f}")
        except (ConcurrencyError, TransitionNotAllowed):
            conflicts += 1  # another writer moved the lead first
            continue
        except InvalidInput:
            # `at` came from our load; if another writer moved the lead since, it is now stale.
            if pipeline.get(lead_id).version == lead.version:
                raise
            conflicts += 1
            continue
        if outcome.lead.version % 3 == 0:
            while True:
                try:
                    pipeline.touch(lead_id, Touchpoint(lead_id, "call", "phone", at))
                    break
                except ConcurrencyError:  # the lead moved on meanwhile: touch it again
                    conflicts += 1
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
    rng = random.Random(config["seed"])
    store = open_store(config)
    # retries=0: a conflict comes back here, where the next event is chosen from the fresh stage.
    pipeline = Pipeline(templates.temperature(), store=store, retries=0,
                        lease=timedelta(milliseconds=200))
    lead_ids = [f"L{i:03d}" for i in range(config["leads"])]
    print(f"ready {os.getpid()}", flush=True)
    start_at = config.get("start_at")
    if start_at:
        time.sleep(max(0.0, start_at - time.time()))
    if config["mode"] == "race":
        pipeline.register(Count())
        conflicts = 0
        began = time.perf_counter()
        for _ in range(config["fires"]):
            conflicts += fire_once(pipeline, rng.choice(lead_ids), rng)
        elapsed = time.perf_counter() - began
        print(json.dumps({"fires": config["fires"], "conflicts": conflicts, "seconds": elapsed}),
              flush=True)
        store.close()
        return
    pipeline.register(DeliveryLog(config["delivered_log"]))
    while True:  # until SIGKILL
        fire_once(pipeline, rng.choice(lead_ids), rng)


if __name__ == "__main__":
    main()
