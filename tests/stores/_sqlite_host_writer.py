"""A host process for the kill -9 test of ``SQLiteStore.join``: its row and a lead, one transaction.

Run as ``python _sqlite_host_writer.py CONFIG_JSON``.  It opens the store in the SQLite file
``path``, connects to the same file with the standard library ``sqlite3``, inserts one row of its
own into ``companies``, captures and moves the lead ``lead`` through
``pipeline.using(connection)``, prints ``ready`` and then either waits to be killed (``commit``
false) or commits first and prints ``committed`` (``commit`` true, the control case).
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time

from funnelkit import Pipeline, templates
from funnelkit.stores import SQLiteStore


def main() -> None:
    """Write the host's row and the lead in one transaction, then wait (or commit) as told."""
    config = json.loads(sys.argv[1])
    store = SQLiteStore(config["path"])
    pipeline = Pipeline(templates.inbound(), store=store, outbox=["after_transition"])
    db = sqlite3.connect(config["path"])
    db.execute("INSERT INTO companies (slug) VALUES (?)", (config["lead"],))
    host = pipeline.using(db)
    host.capture(config["lead"])
    host.fire(config["lead"], "convert")
    print("ready", flush=True)
    if config["commit"]:
        db.commit()
        print("committed", flush=True)
    time.sleep(600)  # killed here


if __name__ == "__main__":
    main()
