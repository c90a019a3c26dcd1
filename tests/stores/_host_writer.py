"""A host process for the kill -9 test of ``Pipeline.using``: its row and a lead, one transaction.

Run as ``python _host_writer.py CONFIG_JSON``.  It opens the store on the server named by
``url``, begins a transaction on its own connection, inserts one row of its own into
``companies`` (a schema-qualified table), captures and moves the lead ``lead`` through
``pipeline.using(connection)``, prints ``ready`` and then either waits to be killed (``commit``
false) or commits first and prints ``committed`` (``commit`` true, the control case).
"""

from __future__ import annotations

import json
import sys
import time

import sqlalchemy as sa

from funnelkit import Pipeline, templates
from funnelkit.stores import SQLAlchemyStore


def main() -> None:
    """Write the host's row and the lead in one transaction, then wait (or commit) as told."""
    config = json.loads(sys.argv[1])
    engine = sa.create_engine(config["url"])
    store = SQLAlchemyStore(engine, prefix=config["prefix"], schema=config["schema"], create=False)
    pipeline = Pipeline(templates.inbound(), store=store, outbox=["after_transition"])
    with engine.connect() as conn:
        conn.exec_driver_sql(f"INSERT INTO {config['companies']} (slug) VALUES (%(slug)s)",
                             {"slug": config["lead"]})
        host = pipeline.using(conn)
        host.capture(config["lead"])
        host.fire(config["lead"], "convert")
        print("ready", flush=True)
        if config["commit"]:
            conn.commit()
            print("committed", flush=True)
        time.sleep(600)  # killed here


if __name__ == "__main__":
    main()
