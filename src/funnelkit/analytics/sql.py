"""The SQL engine: the same statistics as :class:`~funnelkit.analytics.FunnelLog`, in the database.

:class:`SqlLog` builds every statistic as an `Ibis <https://ibis-project.org>`_ expression over
the ``leads``, ``transitions`` and ``handoffs`` tables that :class:`~funnelkit.stores.SQLiteStore`
and :class:`~funnelkit.stores.SQLAlchemyStore` write (schema version 2), or over tables with the
same columns in DuckDB, Spark, BigQuery, ClickHouse, Snowflake or any engine Ibis reaches.  The
heavy pass (windows over each lead's moves, group-bys) runs in the engine; only small statistics
come back, and the estimators shared with the in-memory engine turn them into results, so both
engines give the same figures.

Needs the extra ``funnelkit[analytics-sql]`` (``ibis-framework``) and the Ibis backend of your
engine (``ibis-framework[duckdb]``, ``[postgres]``, ``[sqlite]``, ``[pyspark]``, ...).

The columns read (the stores' names; times as integer microseconds since the Unix epoch):

- leads: ``id``, ``stage``, ``source_channel``, ``source_kind``, ``owner``, ``created_us`` (and
  ``attributes``, JSON text, for ``velocity(value=...)``);
- transitions: ``lead_id``, ``version``, ``source``, ``target``, ``at_us``;
- handoffs: ``id``, ``lead_id``, ``to_team``, ``created_us``, ``version``, ``due_us``,
  ``status``, ``resolved_us``, ``reason``.

The engine trusts what it reads to be a store's tables (each lead's moves in version order, its
current stage in ``leads.stage``); it checks the columns, the stages and ``as_of`` when the log is
built.  Breakdowns by a Python function are refused: group by ``"channel"``, ``"kind"`` or
``"owner"``.

>>> from datetime import datetime, timezone
>>> import ibis
>>> from funnelkit import Pipeline, templates
>>> from funnelkit.stores import SQLiteStore
>>> from funnelkit.analytics.sql import SqlLog
>>> at = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "funnel.db")
>>> pipeline = Pipeline(templates.inbound(), store=SQLiteStore(path))
>>> _ = pipeline.capture("L1", at=at)
>>> _ = pipeline.fire("L1", "convert", at=at)
>>> with SqlLog.from_store(pipeline.funnel, pipeline.store, as_of=at) as log:
...     [row.entered for row in log.conversion().steps[:3]]
[1, 1, 0]
>>> pipeline.store.close()
"""

from __future__ import annotations

import importlib
from datetime import datetime
from typing import TYPE_CHECKING, Any, Self

from funnelkit._core.errors import InvalidInput, MissingExtra
from funnelkit._core.reserved import MERGED_STAGE
from funnelkit._definition.funnel import Funnel
from funnelkit.analytics._analyses import (
    Analyses,
    By,
    HandoffCounts,
    VelocityCounts,
    check_as_of,
    value_of,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from funnelkit._core.lead import Lead

__all__ = ["SqlLog"]

_COLUMNS: dict[str, tuple[str, ...]] = {
    "leads": ("id", "stage", "source_channel", "source_kind", "owner", "created_us"),
    "transitions": ("lead_id", "version", "source", "target", "at_us"),
    "handoffs": ("id", "lead_id", "to_team", "created_us", "version", "due_us", "status",
                 "resolved_us", "reason"),
}
_BY_COLUMN = {"channel": "source_channel", "kind": "source_kind", "owner": "owner"}


def _ibis() -> Any:
    try:
        return importlib.import_module("ibis")
    except ImportError as e:
        raise MissingExtra(
            "funnelkit.analytics.sql needs Ibis: pip install 'funnelkit[analytics-sql]' (and the "
            "Ibis backend of your engine, for example 'ibis-framework[duckdb]')") from e


def _rows(expr: Any) -> list[dict[str, Any]]:
    """Run *expr* and return its (small) result as dicts, without pandas."""
    result: list[dict[str, Any]] = expr.to_pyarrow().to_pylist()
    return result


def _columns(expr: Any) -> list[list[Any]]:
    """Run *expr* and return its result column by column (cheaper for long results)."""
    table = expr.to_pyarrow()
    return [table.column(name).to_pylist() for name in table.column_names]


def _int(value: Any) -> int:
    return 0 if value is None else int(value)


def _following_merges(leads: Any, transitions: Any, handoffs: Any) -> tuple[Any, Any, Any]:
    """The tables as :class:`~funnelkit.analytics.FunnelLog` reads a store with merges.

    A lead merged into another is left out with its moves and handoffs (its survivor counts the
    person); a merge later undone is no stay of its own: the merge move is dropped and the
    unmerge leaves from the stage the merge left.  Tables with no merge are returned as given
    (one query tells).
    """
    merges = transitions.filter(transitions.target == MERGED_STAGE)
    (row,) = _rows(merges.aggregate(n=merges.count()))
    if not _int(row["n"]):
        return leads, transitions, handoffs
    leads = leads.filter(leads.stage != MERGED_STAGE)
    back = merges.select(m_lead=merges.lead_id, m_next=merges.version + 1, m_source=merges.source)
    kept = transitions.filter(transitions.target != MERGED_STAGE)
    joined = kept.left_join(back, [kept.lead_id == back.m_lead, kept.version == back.m_next])
    rewritten = joined.select(
        lead_id=joined.lead_id, version=joined.version,
        source=_ibis().ifelse(joined.source == MERGED_STAGE, joined.m_source, joined.source),
        target=joined.target, at_us=joined.at_us)
    rewritten = rewritten.semi_join(leads, rewritten.lead_id == leads.id)
    if handoffs is not None:
        handoffs = handoffs.semi_join(leads, handoffs.lead_id == leads.id)
    return leads, rewritten, handoffs


class SqlLog(Analyses):
    """A funnel's history in SQL tables, analysed where it lives (see the module docstring).

    *leads*, *transitions* and *handoffs* are Ibis tables (``backend.table(name)``);
    :meth:`from_backend` and :meth:`from_store` find them by the stores' table names.  Every
    analysis of :class:`~funnelkit.analytics.FunnelLog` is here, with the same arguments and the
    same results.
    """

    __slots__ = ("_entries", "_handoffs", "_leads", "_owned", "_transitions", "as_of", "funnel")

    funnel: Funnel
    """The funnel the tables are read with."""
    as_of: datetime
    """When the data were observed: leads still open then are censored."""

    def __init__(
        self, funnel: Funnel, *, leads: Any, transitions: Any, handoffs: Any = None,
        as_of: datetime,
    ) -> None:
        """Check the tables' columns, their stages and ``as_of`` (one query each)."""
        ibis = _ibis()
        if not isinstance(funnel, Funnel):
            raise InvalidInput(f"funnel={funnel!r} must be a funnelkit.Funnel")
        check_as_of(as_of)
        tables = {"leads": leads, "transitions": transitions, "handoffs": handoffs}
        for name, table in tables.items():
            if table is None and name == "handoffs":
                continue
            if not isinstance(table, ibis.Table):
                raise InvalidInput(f"{name}={table!r} must be an Ibis table, such as "
                                   f"backend.table('funnelkit_{name}')")
            missing = [c for c in _COLUMNS[name] if c not in table.columns]
            if missing:
                raise InvalidInput(
                    f"the {name} table lacks column(s) {', '.join(missing)}; it needs "
                    f"{', '.join(_COLUMNS[name])} (a funnelkit store's table, schema version 2)")
        self.funnel = funnel
        self.as_of = as_of
        leads, transitions, handoffs = _following_merges(leads, transitions, handoffs)
        self._leads = leads
        self._transitions = transitions
        self._handoffs = handoffs
        self._owned: Any = None  # the Ibis backend from_store opened, closed by close()
        moved = transitions.filter(transitions.source != transitions.target)
        # Every lead enters the initial stage when created, then each move that changes stage
        # is an entry; both sides typed alike (nullable), whatever the tables declare.
        text, integer = ibis.expr.datatypes.String(), ibis.expr.datatypes.Int64()
        self._entries = leads.select(
            lead_id=leads.id.cast(text), stage=ibis.literal(funnel.initial).cast(text),
            version=ibis.literal(0).cast(integer), at_us=leads.created_us.cast(integer),
        ).union(moved.select(lead_id=moved.lead_id.cast(text), stage=moved.target.cast(text),
                             version=moved.version.cast(integer),
                             at_us=moved.at_us.cast(integer)))
        self._check()

    @classmethod
    def from_backend(
        cls, funnel: Funnel, backend: Any, *, as_of: datetime, prefix: str = "funnelkit_",
        database: Any = None,
    ) -> SqlLog:
        """Read the tables ``{prefix}leads``, ``{prefix}transitions``, ``{prefix}handoffs``.

        *backend* is an Ibis backend (``ibis.duckdb.connect(...)``,
        ``ibis.pyspark.connect(session)``, ...); *database* is passed to ``backend.table``.
        A backend without a handoffs table gives empty handoff reports.
        """
        if not isinstance(prefix, str):
            raise InvalidInput(f"prefix={prefix!r} must be a string")
        if not callable(getattr(backend, "list_tables", None)):
            raise InvalidInput(f"backend={backend!r} is not an Ibis backend")
        names = set(backend.list_tables(database=database) if database is not None
                    else backend.list_tables())

        def table(name: str) -> Any:
            full = f"{prefix}{name}"
            if database is not None:
                return backend.table(full, database=database)
            return backend.table(full)

        for name in ("leads", "transitions"):
            if f"{prefix}{name}" not in names:
                raise InvalidInput(
                    f"the backend has no table {prefix}{name!s}; pass prefix= as the store "
                    f"wrote it (tables found: {', '.join(sorted(names)[:8]) or 'none'})")
        handoffs = table("handoffs") if f"{prefix}handoffs" in names else None
        return cls(funnel, leads=table("leads"), transitions=table("transitions"),
                   handoffs=handoffs, as_of=as_of)

    @classmethod
    def from_store(cls, funnel: Funnel, store: Any, *, as_of: datetime) -> SqlLog:
        """Open an Ibis connection on the database of a SQLiteStore or SQLAlchemyStore.

        SQLite files and PostgreSQL servers are supported this way; for another engine pass
        its Ibis backend to :meth:`from_backend`.
        """
        ibis = _ibis()
        from funnelkit.stores import SQLiteStore  # noqa: PLC0415 - stores load on first use

        prefix, database = "funnelkit_", None
        if isinstance(store, SQLiteStore):
            if store.path == ":memory:":
                raise InvalidInput(
                    "an in-memory SQLiteStore has no file another connection can read; use "
                    "FunnelLog.from_store for it")
            backend = ibis.sqlite.connect(store.path)
            prefix = store.prefix
        else:
            engine = getattr(store, "engine", None)
            url = getattr(engine, "url", None)
            if url is None:
                raise InvalidInput(
                    f"store={store!r} is not a SQL store; use FunnelLog.from_store for it")
            prefix = store.prefix
            kind = url.get_backend_name()
            if kind == "sqlite" and url.database:
                backend = ibis.sqlite.connect(url.database)
            elif kind == "postgresql":
                backend = ibis.postgres.connect(
                    host=url.host, port=url.port, user=url.username, password=url.password,
                    database=url.database)
                database = store.schema
            else:
                raise InvalidInput(
                    f"SqlLog.from_store reads SQLite files and PostgreSQL; for {kind} connect "
                    f"Ibis yourself and call SqlLog.from_backend")
        try:
            log = cls.from_backend(funnel, backend, as_of=as_of, prefix=prefix,
                                   database=database)
        except BaseException:
            backend.disconnect()
            raise
        log._owned = backend
        return log

    def close(self) -> None:
        """Close the connection :meth:`from_store` opened (a backend you passed stays open)."""
        if self._owned is not None:
            self._owned.disconnect()
            self._owned = None

    def __enter__(self) -> Self:
        """Use the log in a ``with`` block; the connection it opened closes at the end."""
        return self

    def __exit__(self, *_: object) -> None:
        """Close the connection :meth:`from_store` opened."""
        self.close()

    def __repr__(self) -> str:
        """Name the funnel and as_of (the tables are the engine's)."""
        return f"SqlLog({self.funnel.name!r}, as_of={self.as_of.isoformat()})"

    # -- checks -----------------------------------------------------------------------------

    def _check(self) -> None:
        ibis = _ibis()
        stages = [s.name for s in self.funnel.stages]
        t, leads = self._transitions, self._leads
        text, integer = ibis.expr.datatypes.String(), ibis.expr.datatypes.Int64()
        bad = (t.filter(~t.target.isin(stages) | ~t.source.isin(stages))
               .select(row=t.lead_id.cast(text), version=t.version.cast(integer),
                       stage=ibis.ifelse(t.target.isin(stages), t.source, t.target).cast(text))
               .union(leads.filter(~leads.stage.isin(stages))
                      .select(row=leads.id.cast(text), version=ibis.null(integer),
                              stage=leads.stage.cast(text)))
               .limit(1))
        for row in _rows(bad):
            where = (f"transition ({row['row']!r} v{row['version']})" if row["version"] is not None
                     else f"lead {row['row']!r}")
            raise InvalidInput(
                f"{where}: stage {row['stage']!r} is not in funnel {self.funnel.name!r}; read the "
                f"tables with the funnel that wrote them")
        h = self._handoffs
        parts = [t.aggregate(m=t.at_us.max()), leads.aggregate(m=leads.created_us.max())]
        if h is not None:
            parts += [h.aggregate(m=h.created_us.max()), h.aggregate(m=h.resolved_us.max())]
        latest = max((_int(r["m"]) for p in parts for r in _rows(p)), default=0)
        as_of_us = self._as_of_us
        if latest > as_of_us:
            raise InvalidInput(
                f"as_of={self.as_of.isoformat()} is before the last event in the tables "
                f"({latest} us since the epoch); as_of must be at or after the last event")

    def _group(self, by: By) -> Any:
        if by is None:
            return None
        if not isinstance(by, str):
            raise InvalidInput(
                "the SQL engine groups by 'channel', 'kind' or 'owner'; a breakdown function "
                "runs in Python: use FunnelLog for it")
        return self._leads[_BY_COLUMN[by]]

    def _bucket(self, column: Any, bounds: list[int]) -> Any:
        ibis = _ibis()
        cases = [(column >= b, i) for i, b in reversed(list(enumerate(bounds)))]
        return ibis.cases(*cases, else_=-1) if cases else ibis.literal(-1)

    # -- statistics -------------------------------------------------------------------------

    def _step_counts(
        self, steps: tuple[str, ...], *, ordered: bool, window_us: int | None, by: By
    ) -> dict[str | None, dict[tuple[int, bool], int]]:
        ibis = _ibis()
        e, leads = self._entries, self._leads
        group = self._group(by)
        open_stages = [s.name for s in self.funnel.stages if s.is_open]
        if not ordered:
            k = ibis.cases(*((e.stage == s, i) for i, s in enumerate(steps)), else_=-1)
            reached = (e.filter(e.stage.isin(steps)).mutate(k=k)
                       .group_by("lead_id").aggregate(f=lambda x: x.k.max()))
        else:
            matched = []
            prev = None
            for i, step in enumerate(steps):
                here = e.filter(e.stage == step)
                if prev is None:
                    cur = here.group_by("lead_id").aggregate(
                        v=here.version.min(), t0=here.at_us.min())
                else:
                    j = here.join(prev, here.lead_id == prev.lead_id)
                    cond = j.version > j.v
                    if window_us is not None:
                        cond &= (j.at_us - j.t0) <= window_us
                    j = j.filter(cond)
                    cur = j.group_by("lead_id").aggregate(v=j.version.min(), t0=j.t0.min())
                matched.append(cur.select("lead_id", "t0", k=ibis.literal(i, "int64")))
                prev = cur
            u = matched[0]
            for m in matched[1:]:
                u = u.union(m)
            reached = u.group_by("lead_id").aggregate(f=u.k.max(), t0=u.t0.min())
        joined = reached.join(leads, reached.lead_id == leads.id)
        is_open = joined.stage.isin(open_stages)
        if ordered and window_us is not None:
            is_open &= (self._as_of_us - joined.t0) < window_us
        keys: dict[str, Any] = {"f": joined.f, "o": is_open}
        if group is not None:
            keys["g"] = joined[group.get_name()]
        agg = joined.group_by(**keys).aggregate(n=joined.count())
        out: dict[str | None, dict[tuple[int, bool], int]] = {}
        for row in _rows(agg):
            slot = out.setdefault(row.get("g"), {})
            key = (int(row["f"]), bool(row["o"]))
            slot[key] = slot.get(key, 0) + int(row["n"])
        return out

    def _exit_counts(self, stages: tuple[str, ...]) -> dict[str, list[tuple[int, str | None, int]]]:
        ibis = _ibis()
        e = self._entries
        w = ibis.window(group_by=e.lead_id, order_by=e.version)
        s = e.mutate(nxt=e.at_us.lead().over(w), to=e.stage.lead().over(w))
        s = s.filter(s.stage.isin(stages))
        s = s.mutate(d=ibis.coalesce(s.nxt, self._as_of_us) - s.at_us)
        agg = s.group_by(["stage", "d", "to"]).aggregate(n=s.count()).order_by(["stage", "d"])
        rows: dict[str, list[tuple[int, str | None, int]]] = {name: [] for name in stages}
        for name, d, to, n in zip(*_columns(agg), strict=True):
            rows[name].append((d, to, n))
        return rows

    def _first_closes(self) -> Any:
        ibis = _ibis()
        e = self._entries
        won = [s.name for s in self.funnel.stages if s.outcome == "won"]
        lost = [s.name for s in self.funnel.stages if s.outcome == "lost"]
        null = ibis.null("int64")
        c = e.filter(e.stage.isin(won + lost))
        c = c.mutate(w=ibis.ifelse(c.stage.isin(won), c.at_us, null),
                     lo=ibis.ifelse(c.stage.isin(lost), c.at_us, null))
        return c.group_by("lead_id").aggregate(won_us=c.w.min(), lost_us=c.lo.min())

    def _outcome_counts(self) -> list[tuple[int, int, int, int]]:
        ibis = _ibis()
        leads = self._leads
        firsts = self._first_closes()
        j = leads.left_join(firsts, leads.id == firsts.lead_id)
        won = j.won_us.notnull() & (j.lost_us.isnull() | (j.won_us <= j.lost_us))
        lost = j.lost_us.notnull() & ~won
        d = ibis.cases((won, j.won_us), (lost, j.lost_us), else_=self._as_of_us) - j.created_us
        cls = ibis.cases((won, 1), (lost, 2), else_=0)
        agg = j.group_by(d=d, c=cls).aggregate(n=j.count())
        out = []
        for row in _rows(agg):
            n, c = int(row["n"]), int(row["c"])
            out.append((int(row["d"]), n if c == 1 else 0, n if c == 2 else 0, n if c == 0 else 0))
        return out

    def _created_range(self) -> tuple[int, int, int] | None:
        leads = self._leads
        (row,) = _rows(leads.aggregate(lo=leads.created_us.min(), hi=leads.created_us.max(),
                                       n=leads.count()))
        return None if row["lo"] is None else (int(row["lo"]), int(row["hi"]), int(row["n"]))

    def _cohort_counts(
        self, bounds: list[int], horizons: list[int]
    ) -> dict[int, tuple[int, int, list[int]]]:
        ibis = _ibis()
        leads = self._leads
        firsts = self._first_closes()
        j = leads.left_join(firsts, leads.id == firsts.lead_id)
        metrics: dict[str, Any] = {"leads": j.count(), "last": j.created_us.max()}
        for i, h in enumerate(horizons):
            within = j.won_us.notnull() & ((j.won_us - j.created_us) <= h)
            metrics[f"h{i}"] = ibis.ifelse(within, 1, 0).sum()
        agg = j.group_by(p=self._bucket(j.created_us, bounds)).aggregate(**metrics)
        return {
            int(r["p"]): (int(r["leads"]), int(r["last"]),
                          [_int(r[f"h{i}"]) for i in range(len(horizons))])
            for r in _rows(agg)
        }

    def _handoff_counts(self, by: By) -> dict[str, HandoffCounts]:
        ibis = _ibis()
        group = self._group(by)
        h = self._handoffs
        teams: dict[str, HandoffCounts] = {}
        if h is None:
            return teams
        as_of_us = self._as_of_us
        st = h.status
        closed_in_time = st.isin(["accepted", "rejected"]) & h.resolved_us.notnull()
        sla = ibis.cases(
            (h.due_us.isnull(), "none"),
            (closed_in_time & (h.resolved_us <= h.due_us), "met"),
            (closed_in_time, "breached"),
            ((st == "expired") | (h.due_us < as_of_us), "breached"),
            else_="open")
        agg = h.group_by(team=h.to_team, status=st, sla=sla).aggregate(n=h.count())
        for row in _rows(agg):
            c = teams.get(row["team"]) or teams.setdefault(row["team"], HandoffCounts())
            n = int(row["n"])
            c.handed += n
            setattr(c, row["status"], getattr(c, row["status"]) + n)
            if row["sla"] != "none":
                name = f"sla_{row['sla']}"
                setattr(c, name, getattr(c, name) + n)
        if group is not None:
            r = h.filter(st == "rejected")
            r = r.join(self._leads, r.lead_id == self._leads.id)
            agg = r.group_by(team=r.to_team, g=r[group.get_name()],
                             reason=ibis.coalesce(r.reason, "")).aggregate(n=r.count())
            for row in _rows(agg):
                teams[row["team"]].reasons[row["g"], row["reason"]] = int(row["n"])
        w = ibis.window(group_by=[h.to_team, h.lead_id], order_by=[h.created_us, h.version])
        first = h.mutate(rank=ibis.row_number().over(w))
        first = first.filter(first.rank == 0)
        accepted = (first.status == "accepted") & first.resolved_us.notnull()
        end = ibis.cases((accepted, first.resolved_us), (first.resolved_us.notnull(),
                                                         first.resolved_us), else_=as_of_us)
        speed = first.group_by(team=first.to_team, d=end - first.created_us,
                               e=ibis.ifelse(accepted, 1, 0)).aggregate(n=first.count())
        for row in _rows(speed):
            n, ev = int(row["n"]), int(row["e"])
            teams[row["team"]].speed.append((int(row["d"]), n * ev, n * (1 - ev)))
        return teams

    def _velocity_counts(
        self, bounds: list[int], *, qualified: str, opportunity: str,
        value: str | Callable[[Lead], Any] | None,
    ) -> VelocityCounts:
        ibis = _ibis()
        counts = VelocityCounts(len(bounds))
        e, leads = self._entries, self._leads
        q = e.filter(e.stage == qualified).group_by("lead_id").aggregate(a=lambda x: x.at_us.min())
        agg = q.group_by(p=self._bucket(q.a, bounds)).aggregate(n=q.count())
        for row in _rows(agg):
            counts.qualified[int(row["p"])] += int(row["n"])
        won = [s.name for s in self.funnel.stages if s.outcome == "won"]
        lost = [s.name for s in self.funnel.stages if s.outcome == "lost"]
        opp = e.filter(e.stage == opportunity).select("lead_id").distinct()
        j = opp.join(leads, opp.lead_id == leads.id)
        kind = ibis.cases((j.stage == opportunity, "open"), (j.stage.isin(won), "won"),
                          (j.stage.isin(lost), "lost"), else_="other")
        for row in _rows(j.group_by(k=kind).aggregate(n=j.count())):
            if row["k"] != "other":
                name = f"opp_{row['k']}"
                setattr(counts, name, getattr(counts, name) + int(row["n"]))
        firsts = self._first_closes()
        w = firsts.join(leads, firsts.lead_id == leads.id)
        w = w.filter(w.won_us.notnull())
        (row,) = _rows(w.aggregate(n=w.count(), s=(w.won_us - w.created_us).sum()))
        counts.cycle_n, counts.cycle_sum_us = _int(row["n"]), _int(row["s"])
        if value is not None:
            self._values(counts, value, w)
        return counts

    def _values(self, counts: VelocityCounts, value: Any, won: Any) -> None:
        """Sum the values of won leads: their attributes come back, then Python reads them."""
        if not isinstance(value, str):
            raise InvalidInput(
                "the SQL engine reads value= from a lead attribute; name it (value='amount'), "
                "or use FunnelLog for a value function")
        if "attributes" not in won.columns:
            raise InvalidInput("the leads table has no attributes column to read value= from")
        from funnelkit._core.codec import loads  # noqa: PLC0415 - only for value=
        from funnelkit._core.lead import Lead  # noqa: PLC0415

        epoch = datetime.fromtimestamp(0, tz=self.as_of.tzinfo)
        for row in _rows(won.select("id", "attributes")):
            attributes = loads(row["attributes"]) if row["attributes"] else {}
            v = value_of(value, Lead(row["id"], self.funnel.initial, attributes=attributes,
                                     created_at=epoch))
            if v is not None:
                counts.value_n += 1
                counts.value_sum += v
