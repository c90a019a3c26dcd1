"""``funnelkit report``: read a store, run every analysis, write the HTML report."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from funnelkit._core.errors import FunnelError, InvalidInput
from funnelkit.cli._common import (
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    load_funnel,
    open_store,
    parse_time,
    writable,
)

if TYPE_CHECKING:
    import argparse

    from funnelkit._definition.funnel import Funnel
    from funnelkit.analytics import FunnelLog
    from funnelkit.cli._console import Console, Progress
    from funnelkit.stores import Store

__all__ = ["last_event", "read_log", "report"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def last_event(store: Store) -> tuple[datetime | None, int | None]:
    """The time of the store's last event and its number of transitions, when cheap to know.

    Read with one small query per table from a SQLite or SQLAlchemy store (the stores write
    every time as integer microseconds too); (None, None) for other stores.
    """
    from funnelkit.stores import SQLiteStore  # noqa: PLC0415

    queries = [("leads", "max(created_us)"), ("transitions", "max(at_us)"),
               ("touchpoints", "max(at_us)"), ("handoffs", "max(created_us)"),
               ("handoffs", "max(resolved_us)")]
    found: list[int] = []
    count: int | None = None
    if isinstance(store, SQLiteStore):
        db = sqlite3.connect(f"file:{store.path}?mode=ro", uri=True)
        prefix = store.prefix  # checked by the store: letters, digits and underscores
        try:
            for table, what in queries:
                (value,) = db.execute(f"SELECT {what} FROM {prefix}{table}").fetchone()  # noqa: S608 - checked names
                if value is not None:
                    found.append(int(value))
            (count,) = db.execute(f"SELECT count(*) FROM {prefix}transitions").fetchone()  # noqa: S608
        finally:
            db.close()
    elif type(store).__name__ == "SQLAlchemyStore":
        import sqlalchemy as sa  # noqa: PLC0415 - the sqlalchemy extra, present with that store

        alchemy: Any = store
        tables = {t.name.removeprefix(alchemy.prefix): t for t in alchemy.metadata.sorted_tables}
        with alchemy.engine.connect() as conn:
            for table, what in queries:
                column = tables[table].c[what[4:-1]]
                value = conn.execute(sa.select(sa.func.max(column))).scalar()
                if value is not None:
                    found.append(int(value))
            count = conn.execute(
                sa.select(sa.func.count()).select_from(tables["transitions"])).scalar()
    else:
        return None, None
    return (_from_us(max(found)) if found else None), count


def read_log(funnel: Funnel, store: Store, as_of: datetime, *,
             progress: Progress | None = None) -> FunnelLog:
    """The store's log, as ``FunnelLog.from_store`` reads it, counting transitions read."""
    from funnelkit.analytics import FunnelLog  # noqa: PLC0415

    try:
        return FunnelLog.from_store(funnel, store, as_of=as_of,
                                    on_page=None if progress is None else progress.advance)
    except InvalidInput as exc:
        raise CommandError(
            f"the store does not fit funnel {funnel.name!r} ({str(exc).splitlines()[0]}); "
            f"pass the --funnel the store was written with") from None
    except FunnelError as exc:
        raise CommandError(f"reading the store failed: {str(exc).splitlines()[0]}") from None


def report(args: argparse.Namespace, console: Console) -> int:
    """Write the HTML report of the store to ``-o``."""
    from funnelkit.cli._report import render_report  # noqa: PLC0415

    models = [m.strip() for m in args.attribution.split(",") if m.strip()]
    from funnelkit.analytics import MODELS  # noqa: PLC0415

    known = [m for m in MODELS if m != "w_shaped"]  # w_shaped needs milestones: Python only
    if len(models) != 2 or not set(models) <= set(known):
        raise CommandError(f"--attribution {args.attribution!r} must name two models of "
                           f"{', '.join(known)}, such as linear,markov", code=EXIT_USAGE)
    if args.runs < 1:
        raise CommandError("--runs must be at least 1", code=EXIT_USAGE)
    funnel = load_funnel(args.funnel)
    output = writable(args.output, what="-o")
    as_of = parse_time(args.as_of, name="--as-of") if args.as_of else None
    store = open_store(db=args.db, url=args.url, create=False)
    try:
        last, count = last_event(store)
        if as_of is None:
            as_of = last if last is not None else datetime.now(UTC)
        elif last is not None and as_of < last:
            raise CommandError(
                f"--as-of {args.as_of} is before the store's last event ({last.isoformat()}); "
                f"give a later time, or leave --as-of out to use the last event", code=EXIT_USAGE)
        with console.progress("report: reading transitions", count) as progress:
            log = read_log(funnel, store, as_of, progress=progress)
        console.note(f"report: {len(log.leads):,} leads, as of {as_of.isoformat()}; analysing")
        try:
            html = render_report(log, title=args.title, attribution=models, runs=args.runs,
                                 seed=args.seed, value=args.value)
        except InvalidInput as exc:
            raise CommandError(str(exc).splitlines()[0], code=EXIT_USAGE) from None
    finally:
        store.close()
    try:
        output.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot write -o {args.output} ({exc.strerror}); choose another "
                           f"path") from None
    size = len(html.encode("utf-8"))
    console.write(f"wrote {output} ({size / 1024:,.0f} KB): funnel {funnel.name!r}, "
                  f"{len(log.leads):,} leads, as of {as_of.isoformat(timespec='minutes')}")
    return EXIT_OK
