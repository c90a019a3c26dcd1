"""Every public entry point, its arguments, and the wrong ones to give it.

An :class:`Entry` calls one public function or method with arguments built from a :class:`World`
(a pipeline over a store holding a few leads, a pending handoff and outbox rows).  Each argument
has a :class:`Kind`: what it takes, and both a fixed pool and a Hypothesis strategy of values it
must refuse (wrong types, out-of-range numbers and times, strings no store can keep, data nested
too deep or too large).  The tests replace one argument at a time with a refused value and check
that the call raises the documented :class:`funnelkit.FunnelError` and writes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import strategies as st

import funnelkit
from funnelkit import (
    AlreadyExists,
    BusinessCalendar,
    Context,
    Decision,
    Duration,
    Fired,
    Funnel,
    FunnelError,
    Handoff,
    InvalidFunnel,
    InvalidHook,
    InvalidInput,
    InvalidPolicy,
    Lead,
    Move,
    NotFound,
    ReasonRequired,
    Source,
    Stage,
    Touchpoint,
    Transition,
    TransitionNotAllowed,
    UnknownEvent,
    Verdict,
    parse_duration,
    policies,
    routing,
    scoring,
    templates,
)
from funnelkit._core.limits import MAX_DATA_SIZE, MAX_DERIVED_TIME, MAX_TEXT_LENGTH, MIN_TIME
from funnelkit.pipeline import Pipeline
from funnelkit.stores import (
    Change,
    MemoryStore,
    OutboxMessage,
    SQLAlchemyStore,
    SQLiteStore,
    Store,
)
from funnelkit.testing import FrozenClock

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)  # a Monday
LATER = T0 + timedelta(hours=1)
NOW = T0 + timedelta(days=1)  # the world's clock
FIVE = timezone(timedelta(hours=5))

# -- the world ------------------------------------------------------------------------------------


class Hooks:
    """A plugin with one after-hook; registering it is what the register() entry tries."""

    def after_transition(self, transition: Transition) -> None:
        """Do nothing."""


@attrs.define(repr=False)
class World:
    """A pipeline over *store*: three leads, a pending handoff, outbox rows, one claimed."""

    store: Store
    pipeline: Pipeline = attrs.field(init=False)
    funnel: Funnel = attrs.field(init=False)
    row_id: int = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.funnel = templates.inbound()
        self.pipeline = Pipeline(self.funnel, store=self.store, clock=FrozenClock(NOW),
                                 router=routing.round_robin(["ann", "bob"]),
                                 outbox=("after_transition", "after_handoff"))
        p = self.pipeline
        p.capture("L1", at=T0, attributes={"budget": 5000, "role": "cto"},
                  source=Source.of("referral"))
        p.touch("L1", Touchpoint("L1", "webinar", "email", T0 + timedelta(minutes=5)))
        p.capture("L2", at=T0)
        for event in ("convert", "qualify", "hand_to_sales"):
            p.fire("L2", event, at=LATER)  # pending handoff "L2:3", assigned to ann
        p.capture("L3", at=T0)
        p.fire("L3", "convert", at=LATER)
        p.capture("L4", at=T0)
        p.merge("L3", "L4", actor="ann", reason="same person", at=LATER)  # unmerge undoes it
        (row,) = self.store.claim_outbox(worker="w1", now=LATER, lease=timedelta(days=3000),
                                         limit=1)
        self.row_id = row.id

    def lead(self, lead_id: str = "L1") -> Lead:
        """A stored lead."""
        return self.store.load(lead_id)

    def __repr__(self) -> str:
        return f"<world on {self.store!r}>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


BACKENDS = [
    "memory",
    "sqlite",
    "sqlalchemy-sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("mariadb", marks=pytest.mark.mariadb),
]


def open_store(kind: str, request: pytest.FixtureRequest, folder: Path) -> tuple[Any, Any]:
    """A new, empty store of *kind* (one of :data:`BACKENDS`), and how to throw it away."""
    if kind == "memory":
        store: Any = MemoryStore()
        return store, store.close
    if kind == "sqlite":
        store = SQLiteStore(folder / "world.db")
        return store, store.close
    if kind == "sqlalchemy-sqlite":
        store = SQLAlchemyStore(f"sqlite:///{folder / 'world-sa.db'}")
        return store, store.close
    server = request.getfixturevalue(kind)
    store = SQLAlchemyStore(server.engine, prefix=server.prefix(), schema=server.schema)
    return store, store.drop_tables


def snapshot(store: Store) -> tuple[Any, ...]:
    """Everything a store holds, every field of every record (for "nothing written")."""
    leads = list(store.leads())
    return (
        leads,
        {lead.id: store.history(lead.id) for lead in leads},
        {lead.id: store.touchpoints(lead.id) for lead in leads},
        list(store.transitions()),
        list(store.touchpoint_stream()),
        store.handoffs(),
        store.outbox(undelivered_only=False),
    )


# -- kinds: what an argument takes, and what it must refuse -----------------------------------------


class _Opaque:
    """A host object of no type funnelkit knows."""

    def __repr__(self) -> str:
        return "<opaque>"


OPAQUE = _Opaque()

# Values of the wrong type for nearly everything: each kind keeps those it does not take.
WRONG_POOL: tuple[Any, ...] = (
    None, 0, -1, 1.5, math.nan, True, b"L1", [], ["L1"], {}, {"L1": 1}, OPAQUE, (1, 2),
    frozenset({1}), date(2026, 3, 2), timedelta(hours=1), Decimal(1), 1j,
)
WRONG = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.binary(max_size=4),
    st.lists(st.integers(), max_size=2), st.tuples(st.text(max_size=2)),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.frozensets(st.integers(), max_size=2), st.just(OPAQUE), st.dates(), st.timedeltas(),
    st.decimals(), st.complex_numbers(),
)

SURROGATE = "\udc80"
BAD_STRINGS: tuple[str, ...] = ("", "a\x00b", SURROGATE, "x" * 201)
BAD_TEXT = st.one_of(
    st.just(""),
    st.builds(lambda head, n: head + "x" * n, st.text(max_size=5), st.integers(201, 400)),
    st.tuples(st.text(max_size=5), st.text(max_size=5)).map(lambda p: f"{p[0]}\x00{p[1]}"),
    st.tuples(st.text(max_size=5), st.sampled_from(["\ud800", "\udc80", "\udfff"]),
              st.text(max_size=5)).map("".join),
)


def _deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels):
        value = {"a": value}
    return value


def _holding_itself() -> dict[str, Any]:
    value: dict[str, Any] = {"a": 1}
    value["self"] = value
    return value


NAIVE = datetime(2026, 3, 2, 9)  # noqa: DTZ001 - the point
BAD_TIMES: tuple[Any, ...] = (
    NAIVE, datetime(9999, 12, 31, 23, 59, tzinfo=UTC), datetime.max.replace(tzinfo=UTC),
    datetime.min.replace(tzinfo=FIVE), datetime(999, 1, 1, tzinfo=UTC), "2026-03-02T09:00Z",
    date(2026, 3, 2), T0.timestamp(),
)
OUT_OF_RANGE_TIMES = st.one_of(
    st.datetimes(min_value=datetime(9000, 1, 1), timezones=st.sampled_from([UTC, FIVE])).filter(
        lambda t: t >= datetime(9000, 1, 1, tzinfo=UTC)),
    st.datetimes(max_value=datetime(999, 12, 31), timezones=st.sampled_from([UTC, FIVE])),
    st.datetimes(),  # naive
)


@attrs.frozen(repr=False)
class Kind:
    """What an argument must refuse: a fixed pool and a strategy, and the errors it raises."""

    name: str
    pool: tuple[Any, ...]
    strategy: st.SearchStrategy[Any]
    errors: tuple[type[FunnelError], ...] = (InvalidInput,)
    accepts: Callable[[Any], bool] = lambda _: False

    def refused(self) -> st.SearchStrategy[Any]:
        """Values of this kind's pool or strategy that it does not accept."""
        return st.one_of(st.sampled_from(self.pool), self.strategy).filter(
            lambda v: not self.accepts(v))

    def refused_pool(self) -> tuple[Any, ...]:
        """The fixed values this kind refuses (the census tries each)."""
        return tuple(v for v in self.pool if not self.accepts(v))

    def but(self, **changes: Any) -> Kind:
        """This kind with some fields replaced."""
        return attrs.evolve(self, **changes)

    def __repr__(self) -> str:
        return f"<kind {self.name}>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


def _wrong_except(*accepted: type) -> tuple[tuple[Any, ...], st.SearchStrategy[Any]]:
    def keep(v: Any) -> bool:  # a bool is not an int here: funnelkit refuses True for counts
        return not isinstance(v, accepted) or (isinstance(v, bool) and bool not in accepted)

    return tuple(v for v in WRONG_POOL if keep(v)), WRONG.filter(keep)


def _empty(value: Any) -> bool:
    """An empty collection (not a string): a valid empty list of whatever is asked for."""
    return isinstance(value, frozenset | set | bytes | list | tuple) and not value


def _kind(name: str, *accepted: type, extra: tuple[Any, ...] = (),
          strategy: st.SearchStrategy[Any] | None = None,
          errors: tuple[type[FunnelError], ...] = (InvalidInput,),
          accepts: Callable[[Any], bool] = lambda _: False) -> Kind:
    pool, wrong = _wrong_except(*accepted)
    return Kind(name, pool + extra, wrong if strategy is None else st.one_of(wrong, strategy),
                errors, accepts)


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


# An id to look up: a string no store holds is not found.
LOOKUP = _kind("lookup id", str, extra=(*BAD_STRINGS, "nobody"), strategy=BAD_TEXT,
               errors=(InvalidInput, NotFound))
HANDOFF_ID = LOOKUP.but(name="handoff id", pool=(*LOOKUP.pool, "L1:1", "x" * 256))
NEW_ID = _kind("new id", str, extra=(*BAD_STRINGS, "L1"), strategy=BAD_TEXT,
               errors=(InvalidInput, AlreadyExists))
NAME = _kind("name", str, extra=BAD_STRINGS, strategy=BAD_TEXT)
OPT_NAME = _kind("name or None", str, type(None), extra=BAD_STRINGS, strategy=BAD_TEXT)
EVENT = _kind("event", str, extra=("", "nope", "win", "a\x00b", "x" * 500),
              errors=(InvalidInput, UnknownEvent, TransitionNotAllowed))
STAGE = _kind("stage", str, extra=("", "nope", SURROGATE), errors=(InvalidInput, NotFound))
LONG_TEXT = "x" * (MAX_TEXT_LENGTH + 1)
BAD_FREE_TEXT = st.one_of(
    st.builds(lambda c, n: c * n, st.characters(exclude_categories=["Cs"]),
              st.integers(MAX_TEXT_LENGTH + 1, MAX_TEXT_LENGTH + 50)),
    BAD_TEXT.filter(lambda t: "\x00" in t or any("\ud800" <= c <= "\udfff" for c in t)))
OPT_TEXT = _kind("text or None", str, type(None), extra=("a\x00b", SURROGATE, LONG_TEXT),
                 strategy=BAD_FREE_TEXT)
REASON = _kind("reason", str, extra=("", "  ", "a\x00b", SURROGATE, LONG_TEXT),
               strategy=BAD_FREE_TEXT, errors=(InvalidInput, ReasonRequired))
TIME = _kind("time", datetime, extra=BAD_TIMES, strategy=OUT_OF_RANGE_TIMES)
OPT_TIME = _kind("time or None", datetime, type(None), extra=BAD_TIMES,
                 strategy=OUT_OF_RANGE_TIMES)
# A due time or a retry time is derived (a time plus a duration): it may run past MAX_TIME.
def _derived(v: Any) -> bool:
    return isinstance(v, datetime) and v.utcoffset() is not None and (
        MIN_TIME <= v < MAX_DERIVED_TIME)


DUE_TIME = OPT_TIME.but(name="due time", accepts=_derived)
DERIVED_TIME = TIME.but(name="derived time", accepts=_derived)
# The lead's last change is LATER: a time before it is refused too.
MOVE_TIME = OPT_TIME.but(name="move time", pool=(*OPT_TIME.pool, T0 - timedelta(days=1)))
FLAG = _kind("flag", bool)
COUNT = _kind("int >= 1", int, extra=(0, -1, 2**31, 10**30), errors=(InvalidInput,),
              strategy=st.integers(max_value=0))
POSITION = _kind("int >= 0", int, extra=(-1, -(10**20)), strategy=st.integers(max_value=-1))
OPT_POSITION = _kind("int >= 0 or None", int, type(None), extra=(-1,),
                     strategy=st.integers(max_value=-1))
ROW_ID = _kind("row id", int, extra=(987654, -1), errors=(InvalidInput, NotFound),
               strategy=st.integers(min_value=10**6))
SPAN = _kind("timedelta > 0", timedelta,
             extra=(timedelta(0), timedelta(seconds=-1), timedelta(days=3651), timedelta.max),
             strategy=st.timedeltas(max_value=timedelta(0)) | st.timedeltas(
                 min_value=timedelta(days=3651)))
def _parses(value: Any) -> bool:
    try:
        parse_duration(value)
    except FunnelError:
        return False
    return True


DURATION = _kind("duration", str, timedelta, Duration,
                 extra=("99999 days", "0 days", "soon", "-1 hours", "4 business fortnights",
                        timedelta(0), timedelta(days=-1), timedelta(days=4000), "1e400 days"),
                 strategy=st.text(max_size=10) | st.timedeltas(max_value=timedelta(0))
                 | st.timedeltas(min_value=timedelta(days=3651)),
                 accepts=_parses)
OPT_DURATION = DURATION.but(name="duration or None",
                            pool=tuple(v for v in DURATION.pool if v is not None),
                            strategy=DURATION.strategy.filter(lambda v: v is not None))
NUMBER = _kind("finite number", int, float,
               extra=(math.nan, math.inf, -math.inf, 1e7),
               strategy=st.sampled_from([math.nan, math.inf, -math.inf]), errors=(InvalidPolicy,),
               accepts=lambda v: isinstance(v, int | float) and not isinstance(v, bool)
               and math.isfinite(v) and abs(v) <= 1_000_000)
MAPPING = _kind("mapping or None", Mapping, type(None), extra=({1: 2},),
                strategy=st.dictionaries(st.integers(), st.integers(), min_size=1, max_size=2))

# Attributes as values take any mapping of str keys not nested too deep; stored ones must be data.
ATTRIBUTES = _kind("attributes", Mapping, type(None),
                   extra=({1: "a"}, {"a": _deep(40)}, _holding_itself(), _deep(40)),
                   strategy=st.integers(33, 120).map(_deep))
UNSTORABLE_VALUES: tuple[Any, ...] = (
    OPAQUE, {1, 2}, math.nan, math.inf, Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity"),
    10**101, -(10**150), NAIVE, 1j, b"bytes", {1: 2}, "x" * (MAX_DATA_SIZE + 1),
)
STORED_ATTRIBUTES = ATTRIBUTES.but(
    name="stored attributes",
    pool=(*ATTRIBUTES.pool, *({"a": v} for v in UNSTORABLE_VALUES)),
    strategy=st.one_of(
        ATTRIBUTES.strategy,
        st.builds(lambda v: {"a": v}, st.sampled_from(UNSTORABLE_VALUES)),
        st.builds(lambda v: {"a": [1, {"b": v}]},
                  st.integers().filter(lambda i: abs(i) >= 10**100) | st.sampled_from(
                      [math.nan, Decimal("NaN"), OPAQUE])),
    ))
SOURCE = _kind("source or None", Source, type(None), extra=("referral", ("referral", "seed")))
STORE = _kind("store", extra=("memory", MemoryStore))
# A filter (stage, team...) takes any string: one no store can hold matches nothing.
FILTER = _kind("filter", str, type(None))
KEY = _kind("key", str, extra=("", "a\x00b", SURROGATE, "x" * 256))
PAYLOAD = _kind("payload", Mapping, extra=(
    _deep(100), _holding_itself(), {1: 2}, *({"a": v} for v in UNSTORABLE_VALUES
                                            if not isinstance(v, str))),
    strategy=st.integers(81, 150).map(_deep))
FUNNEL = _kind("funnel", extra=("inbound", templates.inbound))
HOOK_NAMES = _kind("outbox hooks", str, list, tuple,
                   extra=("before_transition", ["nope"], ["after_transition", 5], [[]]),
                   accepts=_empty)


def _mapping_of_policies(v: Any) -> bool:
    return v is None


POLICY_MAP = _kind("policies", Mapping, type(None), extra=({"nope": lambda lead, ctx: None},),
                   errors=(InvalidInput, InvalidFunnel))
POLICY = _kind("policy", str, Mapping,
               extra=("budget >>", "", "x" * 2001, "(" * 40 + "a" + ")" * 40, {"use": "nope"},
                      {"use": "rule"}, {"use": "bant", "params": {"min_met": "x"}},
                      {"use": "all_of", "params": {"policies": 5}}, _holding_itself(),
                      _deep(80)),
               errors=(InvalidPolicy,))


# -- entry points ---------------------------------------------------------------------------------


@attrs.frozen(repr=False)
class Entry:
    """One public entry point: how to call it, and its arguments' valid values and kinds."""

    name: str
    call: Callable[[World, dict[str, Any]], Any]
    valid: Callable[[World], dict[str, Any]]
    kinds: Mapping[str, Kind]
    store: bool = False  # touches the world's store (checked for "nothing written")
    errors: tuple[type[FunnelError], ...] = ()  # more errors than the kinds' own

    def accepted(self, param: str) -> tuple[type[FunnelError], ...]:
        """The errors a refused value of *param* may raise."""
        return self.kinds[param].errors + self.errors

    def __repr__(self) -> str:
        return f"<entry {self.name}>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


def _lead(w: World) -> Lead:
    return w.lead("L1")


def _transition(**changes: Any) -> dict[str, Any]:
    fields = {"lead_id": "L1", "event": "convert", "source": "subscriber", "target": "lead",
              "at": LATER, "actor": None, "reason": None, "decision": None, "version": 1}
    fields.update(changes)
    return fields


def _handoff_fields() -> dict[str, Any]:
    return {"id": "L9:3", "lead_id": "L9", "from_team": "marketing", "to_team": "sales",
            "created_at": LATER, "event": "hand_to_sales", "version": 3, "assignee": None,
            "due_at": None, "status": "pending", "resolved_at": None, "resolved_by": None,
            "reason": None}


def _new_lead(lead_id: str = "L9") -> Lead:
    return templates.inbound().new_lead(lead_id, at=T0)


VERSION = _kind("version", int, extra=(-1, 2**31, 10**20), strategy=st.integers(max_value=-1))
STATUS = _kind("handoff status", str, type(None), extra=("open", "PENDING", ""))
PLUGIN = _kind("plugin", extra=(Hooks, type("Misnamed", (), {"after_fire": lambda self: None})()),
               errors=(InvalidHook,))
ITEMS = _kind("fire_many items", list, tuple,
              extra=("L1", {"id": "L1"}, [5], [("L1",)], [([], "convert")], [("L1", 5)],
                     [{"id": "L1"}], [{"id": "L1", "event": "convert", 1: 2}],
                     [{"id": "L1", "event": "convert", "when": NOW}],
                     [{"id": "L1", "event": "convert", "context": _deep(40)}],
                     [{"id": "L1", "event": "convert", "at": "now"}],
                     [("L1", "convert"), ("L1", "nope")], [("nobody", "convert")],
                     [("L1", "convert", "x")]),
              errors=(InvalidInput, NotFound, UnknownEvent), accepts=_empty)
ERRORS_MODE = _kind("errors", str, extra=("ignore", "RAISE", ""))
TOUCHPOINT = _kind("touchpoint", extra=(Touchpoint("L2", "call", "phone", LATER),))
# The policies' free data of fire, evaluate and touch (context=): str keys, nested within limits.
CONTEXT = _kind("context", Mapping, type(None),
                extra=({1: "a"}, _deep(40), _holding_itself(), Context(NOW)),
                strategy=st.integers(33, 120).map(_deep))
TOUCH_POINTS = _kind("points", int, float, type(None), extra=(math.nan, math.inf))
CHANGE = _kind("change", extra=(_new_lead("L9"),))
CHANGES = _kind("changes", list, tuple, extra=("L9", {}, [5], [_new_lead("L9")]),
                accepts=_empty)
CALENDAR_TZ = _kind("timezone", str, extra=("Mars/Olympus", "", "UTC\x00"))
WEEKDAYS = _kind("working days", list, tuple, frozenset,
                 extra=("01234", (), (7,), (-1,), (1.0,), (True,), [[1]], {"a": 1}))
HOURS = _kind("working hours", list, tuple,
              extra=((17, 9), (9,), (9, 25), (9, 9), ("9", "17"), (9, math.nan),
                     (9, 9 + 1 / 120)))
HOLIDAYS = _kind("holidays", list, tuple, str, date, Mapping,
                 extra=(["2026-13-01"], [5], "not a date", [OPAQUE]), accepts=_empty)
PEOPLE = _kind("people", list, tuple, Mapping, extra=("ann", [], ["ann", "ann"], [""], [5],
                                               ["x" * 201], [SURROGATE]))
WEIGHTS = _kind("weights", Mapping, extra=({"ann": -1}, {"ann": 0}, {"ann": math.inf},
                                           {"ann": math.nan}, {"": 1}, {5: 1}, {}))
CAPACITY = _kind("capacity", Mapping, extra=({"ann": 0}, {"ann": 1.5}, {"ann": True}, {}))
ROUTERS = _kind("routers", Mapping, extra=({}, {"sales": 5}))
RULES = _kind("territory rules", list, tuple, extra=([5], [({}, 5)], [(5, None)], []))
LEADS = _kind("leads", list, tuple, extra=("L1", [5], [None]), accepts=_empty)
RULE_TEXT = _kind("rule text", str, extra=("", "budget >>", "x" * 2001,
                                           "(" * 40 + "a" + ")" * 40, "__import__('os')",
                                           "a\x00b"),
                  errors=(InvalidPolicy,))
# The policies of all_of(*policies): tuples, each holding a refused policy.
POLICIES_ARG = Kind("policies", ((), (5,), ("budget >>",), (_holding_itself(),), (_deep(80),),
                                 ("a > 0", None), ({"use": "nope"},)),
                    WRONG.filter(lambda v: not isinstance(v, str | Mapping)).map(lambda v: (v,)),
                    (InvalidPolicy,))
ATTRIBUTE_NAME = _kind("attribute name", str, extra=("",), errors=(InvalidPolicy,))
CELLS = _kind("cells", list, tuple, str, frozenset, extra=("Z9", [], ["A1", 5], [["A1"]]),
              errors=(InvalidPolicy,))
AXIS = _kind("thresholds", list, tuple, extra=((1, 2, 3), (75, 50), (75, 50, math.nan),
                                              (75, 50, "25")),
             errors=(InvalidPolicy,))
HALF_LIFE = _kind("half-life", str, timedelta, type(None),
                  extra=("11 years", "4000 days", "0 days", "soon", timedelta(0),
                         timedelta(days=4000), "1.5 months"),
                  errors=(InvalidPolicy,))
MIN_MET = _kind("min_met", int, type(None), extra=(0, 99, -1), errors=(InvalidPolicy,))
REQUIRED = _kind("required", list, tuple, extra=("budget", ["nope"], [5], {"budget": 1}),
                 errors=(InvalidPolicy,), accepts=_empty)


def _pipeline_entries() -> list[Entry]:
    p: Callable[[World], Pipeline] = lambda w: w.pipeline  # noqa: E731 - a short accessor
    return [
        Entry("Pipeline.capture", lambda w, a: p(w).capture(
            a["id"], attributes=a["attributes"], source=a["source"], owner=a["owner"],
            at=a["at"]),
            lambda w: {"id": "L9", "attributes": {"budget": 1}, "source": None, "owner": None,
                       "at": None},
            {"id": NEW_ID, "attributes": STORED_ATTRIBUTES, "source": SOURCE, "owner": OPT_NAME,
             "at": OPT_TIME}, store=True),
        Entry("Pipeline.fire", lambda w, a: p(w).fire(
            a["id"], a["event"], actor=a["actor"], reason=a["reason"], at=a["at"],
            context=a["context"]),
            lambda w: {"id": "L1", "event": "convert", "actor": None, "reason": None, "at": None,
                       "context": None},
            {"id": LOOKUP, "event": EVENT, "actor": OPT_NAME, "reason": OPT_TEXT,
             "at": MOVE_TIME, "context": CONTEXT}, store=True),
        Entry("Pipeline.fire (handoff)", lambda w, a: p(w).fire(
            "L2", a["event"], actor=a["actor"], reason=a["reason"], at=a["at"]),
            lambda w: {"event": "disqualify", "actor": "ann", "reason": "no budget", "at": None},
            {"event": EVENT, "actor": OPT_NAME, "reason": REASON, "at": MOVE_TIME}, store=True),
        Entry("Pipeline.fire_many", lambda w, a: p(w).fire_many(a["items"], errors=a["errors"]),
              lambda w: {"items": [("L1", "convert")], "errors": "raise"},
              {"items": ITEMS, "errors": ERRORS_MODE}, store=True),
        Entry("Pipeline.touch", lambda w, a: p(w).touch(a["id"], a["touchpoint"]),
              lambda w: {"id": "L1", "touchpoint": Touchpoint("L1", "call", "phone", NOW)},
              {"id": LOOKUP, "touchpoint": TOUCHPOINT}, store=True),
        Entry("Pipeline.touch (kind, channel)", lambda w, a: p(w).touch(
            a["id"], a["kind"], a["channel"], at=a["at"], points=a["points"], data=a["data"],
            context=a["context"]),
            lambda w: {"id": "L1", "kind": "call", "channel": "phone", "at": None,
                       "points": None, "data": None, "context": None},
            {"id": LOOKUP, "kind": NAME, "channel": NAME, "at": OPT_TIME, "points": TOUCH_POINTS,
             "data": STORED_ATTRIBUTES, "context": CONTEXT}, store=True),
        Entry("Pipeline.evaluate", lambda w, a: p(w).evaluate(
            a["id"], at=a["at"], context=a["context"]),
              lambda w: {"id": "L1", "at": None, "context": None},
              {"id": LOOKUP, "at": MOVE_TIME, "context": CONTEXT}, store=True),
        Entry("Pipeline.assign", lambda w, a: p(w).assign(a["id"], a["owner"], at=a["at"]),
              lambda w: {"id": "L1", "owner": "ann", "at": None},
              {"id": LOOKUP, "owner": NAME, "at": MOVE_TIME}, store=True),
        Entry("Pipeline.accept_handoff", lambda w, a: p(w).accept_handoff(
            a["id"], by=a["by"], at=a["at"]),
            lambda w: {"id": "L2:3", "by": "ann", "at": None},
            {"id": HANDOFF_ID, "by": NAME, "at": MOVE_TIME}, store=True),
        Entry("Pipeline.reject_handoff", lambda w, a: p(w).reject_handoff(
            a["id"], by=a["by"], reason=a["reason"], recycle_to=a["recycle_to"], at=a["at"]),
            lambda w: {"id": "L2:3", "by": "ann", "reason": "no budget", "recycle_to": "nurture",
                       "at": None},
            {"id": HANDOFF_ID, "by": NAME, "reason": REASON, "recycle_to": STAGE,
             "at": MOVE_TIME}, store=True),
        Entry("Pipeline.merge", lambda w, a: p(w).merge(
            a["survivor_id"], a["duplicate_id"], actor=a["actor"], reason=a["reason"],
            at=a["at"]),
            lambda w: {"survivor_id": "L1", "duplicate_id": "L3", "actor": "ann",
                       "reason": "same person", "at": None},
            {"survivor_id": LOOKUP, "duplicate_id": LOOKUP, "actor": NAME, "reason": REASON,
             "at": MOVE_TIME}, store=True),
        Entry("Pipeline.unmerge", lambda w, a: p(w).unmerge(
            a["duplicate_id"], actor=a["actor"], reason=a["reason"], at=a["at"]),
            lambda w: {"duplicate_id": "L4", "actor": "ann", "reason": "not the same",
                       "at": None},
            {"duplicate_id": LOOKUP, "actor": NAME, "reason": REASON, "at": MOVE_TIME},
            store=True),
        Entry("Pipeline.sweep", lambda w, a: p(w).sweep(a["now"]), lambda w: {"now": None},
              {"now": OPT_TIME}, store=True),
        Entry("Pipeline.deliver_pending", lambda w, a: p(w).deliver_pending(
            now=a["now"], limit=a["limit"]), lambda w: {"now": None, "limit": 100},
            {"now": OPT_TIME, "limit": COUNT}, store=True),
        Entry("Pipeline.verify_history", lambda w, a: p(w).verify_history(a["store"]),
              lambda w: {"store": None}, {"store": STORE.but(accepts=lambda v: v is None)},
              store=True),
        Entry("Pipeline.get", lambda w, a: p(w).get(a["id"]), lambda w: {"id": "L1"},
              {"id": LOOKUP}, store=True),
        Entry("Pipeline.history", lambda w, a: p(w).history(a["id"]), lambda w: {"id": "L1"},
              {"id": LOOKUP}, store=True),
        Entry("Pipeline.touchpoints", lambda w, a: p(w).touchpoints(a["id"]),
              lambda w: {"id": "L1"}, {"id": LOOKUP}, store=True),
        Entry("Pipeline.handoff", lambda w, a: p(w).handoff(a["id"]), lambda w: {"id": "L2:3"},
              {"id": HANDOFF_ID}, store=True),
        Entry("Pipeline.handoffs", lambda w, a: p(w).handoffs(
            status=a["status"], team=a["team"], assignee=a["assignee"], lead_id=a["lead_id"]),
            lambda w: {"status": None, "team": None, "assignee": None, "lead_id": None},
            {"status": STATUS, "team": FILTER, "assignee": FILTER, "lead_id": FILTER},
            store=True),
        Entry("Pipeline.register", lambda w, a: p(w).register(a["plugin"]),
              lambda w: {"plugin": Hooks()}, {"plugin": PLUGIN}, store=True),
        Entry("Pipeline.store =", lambda w, a: setattr(p(w), "store", a["store"]),
              lambda w: {"store": w.store}, {"store": STORE}, store=True),
        Entry("Pipeline()", lambda w, a: Pipeline(
            a["funnel"], store=a["store"], retries=a["retries"], backoff=a["backoff"],
            max_backoff=a["max_backoff"], lease=a["lease"], outbox=a["outbox"],
            calendar=a["calendar"]),
            lambda w: {"funnel": w.funnel, "store": w.store, "retries": 3,
                       "backoff": timedelta(seconds=30), "max_backoff": timedelta(hours=1),
                       "lease": timedelta(minutes=5), "outbox": (), "calendar": None},
            {"funnel": FUNNEL, "store": STORE, "retries": POSITION, "backoff": SPAN,
             "max_backoff": SPAN, "lease": SPAN, "outbox": HOOK_NAMES,
             "calendar": _kind("calendar", type(None), extra=("UTC",))}, store=True),
    ]


def _store_entries() -> list[Entry]:
    return [
        Entry("Store.load", lambda w, a: w.store.load(a["id"]), lambda w: {"id": "L1"},
              {"id": LOOKUP}, store=True),
        Entry("Store.history", lambda w, a: w.store.history(a["id"]), lambda w: {"id": "L1"},
              {"id": LOOKUP}, store=True),
        Entry("Store.touchpoints", lambda w, a: w.store.touchpoints(a["id"]),
              lambda w: {"id": "L1"}, {"id": LOOKUP}, store=True),
        Entry("Store.leads", lambda w, a: list(w.store.leads(stage=a["stage"])),
              lambda w: {"stage": None}, {"stage": FILTER}, store=True),
        Entry("Store.transitions", lambda w, a: list(w.store.transitions(
            after=a["after"], since=a["since"], limit=a["limit"])),
            lambda w: {"after": 0, "since": None, "limit": None},
            {"after": POSITION, "since": OPT_TIME, "limit": OPT_POSITION}, store=True),
        Entry("Store.touchpoint_stream", lambda w, a: list(w.store.touchpoint_stream(
            after=a["after"], since=a["since"], limit=a["limit"])),
            lambda w: {"after": 0, "since": None, "limit": None},
            {"after": POSITION, "since": OPT_TIME, "limit": OPT_POSITION}, store=True),
        Entry("Store.handoff", lambda w, a: w.store.handoff(a["id"]), lambda w: {"id": "L2:3"},
              {"id": HANDOFF_ID}, store=True),
        Entry("Store.handoffs", lambda w, a: w.store.handoffs(
            status=a["status"], team=a["team"], due_before=a["due_before"]),
            lambda w: {"status": None, "team": None, "due_before": None},
            {"status": STATUS, "team": FILTER, "due_before": OPT_TIME}, store=True),
        Entry("Store.claim_outbox", lambda w, a: w.store.claim_outbox(
            worker=a["worker"], now=a["now"], lease=a["lease"], limit=a["limit"]),
            lambda w: {"worker": "w2", "now": NOW, "lease": timedelta(minutes=5), "limit": 10},
            {"worker": NAME, "now": TIME, "lease": SPAN.but(pool=(
                timedelta(0), timedelta(seconds=-1), 5, None, "5 minutes")), "limit": COUNT},
            store=True),
        Entry("Store.ack_outbox", lambda w, a: w.store.ack_outbox(
            a["row_id"], worker=a["worker"], at=a["at"]),
            lambda w: {"row_id": w.row_id, "worker": "w1", "at": NOW},
            {"row_id": ROW_ID, "worker": NAME, "at": TIME}, store=True,
            errors=(funnelkit.ConcurrencyError,)),
        Entry("Store.retry_outbox", lambda w, a: w.store.retry_outbox(
            a["row_id"], worker=a["worker"], error=a["error"], retry_at=a["retry_at"]),
            lambda w: {"row_id": w.row_id, "worker": "w1", "error": "boom", "retry_at": NOW},
            {"row_id": ROW_ID, "worker": NAME, "error": OPT_TEXT.but(pool=(
                None, 5, "a\x00b", SURROGATE, LONG_TEXT)), "retry_at": DERIVED_TIME}, store=True,
            errors=(funnelkit.ConcurrencyError,)),
        Entry("Store.outbox", lambda w, a: w.store.outbox(undelivered_only=a["flag"]),
              lambda w: {"flag": True}, {"flag": FLAG}, store=True),
        Entry("Store.commit", lambda w, a: w.store.commit(a["change"]),
              lambda w: {"change": Change(_new_lead("L9"), None)}, {"change": CHANGE},
              store=True),
        Entry("Store.commit (data)", lambda w, a: w.store.commit(Change(
            templates.inbound().new_lead("L9", at=T0, attributes=a["attributes"]), None,
            touchpoints=[Touchpoint("L9", "call", "phone", T0, data=a["data"])])),
            lambda w: {"attributes": {"a": 1}, "data": {"b": 2}},
            {"attributes": STORED_ATTRIBUTES, "data": STORED_ATTRIBUTES}, store=True),
        Entry("Store.commit (outbox)", lambda w, a: w.store.commit(Change(
            _new_lead("L9"), None, outbox=[OutboxMessage(a["key"], "after_fire", a["payload"],
                                                         T0)])),
            lambda w: {"key": "k9", "payload": {"a": 1}},
            {"key": KEY, "payload": PAYLOAD}, store=True),
        Entry("Store.commit_many", lambda w, a: w.store.commit_many(a["changes"]),
              lambda w: {"changes": [Change(_new_lead("L9"), None)]}, {"changes": CHANGES},
              store=True),
    ]


def _value_entries() -> list[Entry]:
    return [
        Entry("Lead()", lambda w, a: Lead(
            a["id"], a["stage"], version=a["version"], attributes=a["attributes"],
            source=a["source"], owner=a["owner"], created_at=a["created_at"]),
            lambda w: {"id": "L1", "stage": "lead", "version": 0, "attributes": None,
                       "source": None, "owner": None, "created_at": T0},
            {"id": NAME, "stage": NAME, "version": VERSION, "attributes": ATTRIBUTES,
             "source": SOURCE, "owner": OPT_NAME, "created_at": TIME}),
        Entry("Lead.evolve", lambda w, a: _lead(w).evolve(
            attributes=a["attributes"], owner=a["owner"], at=a["at"]),
            lambda w: {"attributes": {"a": 1}, "owner": "ann", "at": None},
            {"attributes": ATTRIBUTES, "owner": OPT_NAME, "at": MOVE_TIME}),
        Entry("Source()", lambda w, a: Source(a["channel"], a["kind"]),
              lambda w: {"channel": "referral", "kind": "seed"},
              {"channel": NAME, "kind": _kind("source kind", type(None), extra=("rocket", 5))}),
        Entry("Transition()", lambda w, a: Transition(**_transition(**a)),
              lambda w: {"actor": None, "reason": None, "at": LATER, "version": 1,
                         "lead_id": "L1"},
              {"actor": OPT_NAME, "reason": OPT_TEXT, "at": TIME, "version": VERSION.but(
                  pool=(0, -1, 2**31)), "lead_id": NAME}),
        Entry("Fired()", lambda w, a: Fired(a["lead"], a["transition"]),
              lambda w: {"lead": _lead(w), "transition": Transition(**_transition())},
              {"lead": _kind("lead", extra=("L1",)), "transition": _kind("transition")}),
        Entry("Decision()", lambda w, a: Decision(
            a["allowed"], criteria=a["criteria"], reasons=a["reasons"], score=a["score"],
            policy=a["policy"]),
            lambda w: {"allowed": True, "criteria": (), "reasons": (), "score": None,
                       "policy": None},
            {"allowed": FLAG,
             "criteria": _kind("criteria", list, tuple, extra=([5],), accepts=_empty),
             "reasons": _kind("reasons", list, tuple, extra=([5],), accepts=_empty),
             "score": _kind("score", int, float, type(None), extra=(math.nan, math.inf)),
             "policy": _kind("policy name", str, type(None))}),
        Entry("Verdict()", lambda w, a: Verdict(a["name"], a["status"]),
              lambda w: {"name": "budget", "status": "met"},
              {"name": _kind("verdict name", str, extra=("",)),
               "status": _kind("verdict status", extra=("ok", "MET"))}),
        Entry("Context()", lambda w, a: Context(a["at"], data=a["data"]),
              lambda w: {"at": NOW, "data": None}, {"at": TIME, "data": MAPPING}),
        Entry("Handoff()", lambda w, a: Handoff(**{**_handoff_fields(), **a}),
              lambda w: {"id": "L9:3", "assignee": None, "due_at": None, "version": 3,
                         "reason": None},
              {"id": KEY, "assignee": OPT_NAME,
               "due_at": DUE_TIME, "version": VERSION.but(pool=(0, -1, 2**31)),
               "reason": OPT_TEXT}),
        Entry("Handoff.accept", lambda w, a: w.store.handoff("L2:3").accept(by=a["by"],
                                                                              at=a["at"]),
              lambda w: {"by": "ann", "at": NOW},
              {"by": OPT_NAME, "at": TIME.but(pool=(*TIME.pool, T0))}),
        Entry("Handoff.reject", lambda w, a: w.store.handoff("L2:3").reject(
            by=a["by"], reason=a["reason"], at=a["at"]),
            lambda w: {"by": "ann", "reason": "no budget", "at": NOW},
            {"by": OPT_NAME, "reason": REASON, "at": TIME}),
        Entry("Handoff.is_overdue", lambda w, a: w.store.handoff("L2:3").is_overdue(a["at"]),
              lambda w: {"at": NOW}, {"at": TIME}),
        Entry("Touchpoint()", lambda w, a: Touchpoint(
            a["lead_id"], a["kind"], "email", a["at"], points=a["points"], data=a["data"]),
            lambda w: {"lead_id": "L1", "kind": "call", "at": NOW, "points": None, "data": None},
            {"lead_id": NAME, "kind": NAME, "at": TIME,
             "points": _kind("points", int, float, type(None), extra=(math.nan, math.inf)),
             "data": ATTRIBUTES}),
        Entry("Change()", lambda w, a: Change(a["lead"], a["expected"], a["transitions"]),
              lambda w: {"lead": _lead(w), "expected": 0, "transitions": ()},
              {"lead": _kind("lead", extra=("L1",)),
               "expected": _kind("expected version", int, type(None), extra=(-1, 2**31, 5)),
               "transitions": _kind("transitions", list, tuple,
                                    extra=([5], [Transition(**_transition(lead_id="L2"))]),
                                    accepts=_empty)}),
        Entry("OutboxMessage()", lambda w, a: OutboxMessage(
            a["key"], a["hook"], a["payload"], a["created_at"]),
            lambda w: {"key": "k", "hook": "after_transition", "payload": {}, "created_at": T0},
            {"key": KEY, "hook": NAME,
             "payload": _kind("payload", Mapping), "created_at": TIME}),
        Entry("parse_duration", lambda w, a: parse_duration(a["value"]),
              lambda w: {"value": "4 business hours"}, {"value": DURATION}),
        Entry("Duration()", lambda w, a: Duration(a["amount"], a["unit"], a["business"]),
              lambda w: {"amount": 4.0, "unit": "hours", "business": True},
              {"amount": _kind("amount", int, float, extra=(0, -1, math.nan, math.inf)),
               "unit": _kind("unit", extra=("fortnights", "hour")), "business": FLAG}),
        Entry("BusinessCalendar()", lambda w, a: BusinessCalendar(
            timezone=a["timezone"], working_days=a["days"], working_hours=a["hours"],
            holidays=a["holidays"]),
            lambda w: {"timezone": "Europe/Berlin", "days": (0, 1, 2, 3, 4), "hours": (9, 17),
                       "holidays": ()},
            {"timezone": CALENDAR_TZ, "days": WEEKDAYS, "hours": HOURS, "holidays": HOLIDAYS}),
        Entry("BusinessCalendar.add", lambda w, a: BusinessCalendar().add(a["start"],
                                                                          a["duration"]),
              lambda w: {"start": T0, "duration": "4 business hours"},
              {"start": TIME, "duration": DURATION.but(pool=(
                  *DURATION.pool, "3000 business days"))}),
        Entry("BusinessCalendar.between", lambda w, a: BusinessCalendar().between(a["a"],
                                                                                  a["b"]),
              lambda w: {"a": T0, "b": NOW}, {"a": TIME, "b": TIME}),
        Entry("BusinessCalendar.is_working_time",
              lambda w, a: BusinessCalendar().is_working_time(a["at"]),
              lambda w: {"at": T0}, {"at": TIME}),
        Entry("FrozenClock()", lambda w, a: FrozenClock(a["start"]), lambda w: {"start": T0},
              {"start": TIME}),
        Entry("FrozenClock.advance", lambda w, a: FrozenClock(T0).advance(
            days=a["days"], years=a["years"], business_days=a["business_days"]),
            lambda w: {"days": 1, "years": 0, "business_days": 0},
            {"days": _kind("days", int, float, extra=(-1, math.nan, 1e12, 10**9)),
             "years": _kind("years", int, float, extra=(-1, 8000, 1.5)),
             "business_days": _kind("business days", int, float, extra=(-1, 1e9, 5000))}),
        Entry("FrozenClock.set", lambda w, a: FrozenClock(T0).set(a["when"]),
              lambda w: {"when": NOW}, {"when": TIME.but(pool=(*TIME.pool, T0 - timedelta(1)))}),
    ]


def _definition(**changes: Any) -> dict[str, Any]:
    data = templates.temperature().to_dict()
    data.update(changes)
    return data


DEFINITION = _kind("definition", Mapping, extra=(
    _definition(initial=[]), _definition(initial={}), _definition(stages=5),
    _definition(stages=[{"name": "x", "team": []}]),
    _definition(moves=[{"event": {}, "source": "cold", "target": "warm"}]),
    _definition(moves=[{"event": ["a"], "source": "cold", "target": "warm"}]),
    _definition(moves=[{"event": "go", "source": [[]], "target": "warm"}]),
    _definition(moves=[{"event": "go", "source": "cold", "target": "warm",
                              "sla": "9999999 hours"}]),
    _definition(stages=[{"name": "x", "team": "t", "stall_after": "99999 days"}]),
    _definition(stages=[{"name": "x" * 300, "team": "t"}]),
    _definition(stages=[{"name": "x", "team": "t\x00"}]),
    _definition(moves=[{"event": "go", "source": "cold", "target": "warm",
                              "policy": _deep(80)}]),
    _definition(moves=[{"event": "go", "source": "cold", "target": "warm",
                              "policy": _holding_itself()}]),
    _deep(200), _holding_itself(),
), errors=(InvalidFunnel,))


def _funnel_entries() -> list[Entry]:
    f: Callable[[World], Funnel] = lambda w: w.funnel  # noqa: E731 - a short accessor
    return [
        Entry("Funnel.from_dict", lambda w, a: Funnel.from_dict(a["data"],
                                                               policies=a["policies"]),
              lambda w: {"data": _definition(), "policies": None},
              {"data": DEFINITION, "policies": POLICY_MAP}),
        Entry("Funnel.from_json", lambda w, a: Funnel.from_json(a["text"]),
              lambda w: {"text": templates.temperature().to_json()},
              {"text": _kind("json", extra=("[" * 100_000, "{", '{"a": ' + "9" * 5000 + "}",
                                            "1e999999", "null", b"\xff\xfe"),
                             errors=(InvalidFunnel,))}),
        Entry("Funnel.from_toml", lambda w, a: Funnel.from_toml(a["text"]),
              lambda w: {"text": 'name = "t"\ninitial = "a"\n[[stages]]\nname = "a"\n'
                                 'team = "x"\noutcome = "won"\n'},
              {"text": _kind("toml", extra=("a = " + "[" * 2000, "x = =", "a = " + "9" * 5000,
                                            "[[stages]]\nname = 5", b"name = 'x'"),
                             errors=(InvalidFunnel,))}),
        Entry("Funnel.from_file", lambda w, a: Funnel.from_file(a["path"]),
              lambda w: {"path": _definition_file()},
              {"path": _kind("path", Path, extra=("", "missing.json", "f.yaml", "a\x00b.json"),
                             errors=(InvalidInput, InvalidFunnel))}),
        Entry("Funnel()", lambda w, a: Funnel(a["name"], initial=a["initial"],
                                              stages=a["stages"], moves=a["moves"]),
              lambda w: {"name": "f", "initial": "a", "stages": [Stage("a", "t", outcome="won")],
                         "moves": []},
              {"name": _kind("funnel name", str, extra=("", " "), errors=(InvalidFunnel,)),
               "initial": _kind("initial", str, extra=("", "b"), errors=(InvalidFunnel,)),
               "stages": _kind("stages", list, tuple, extra=(
                   "a", [5], [Stage("a", 5)], [Stage([], "t")], [Stage("a", "t", outcome="x")],
                   [Stage("a", "t" * 201)], [Stage("a", "t", stall_after="99999 days")],
                   [Stage("a", "t", outcome="won", stall_event=[])]), errors=(InvalidFunnel,)),
               "moves": _kind("moves", list, tuple, extra=(
                   "a", [5], [Move("go", "a", "a", backward="yes")],
                   [Move("go", "a", "a", sla="forever")], [Move({}, "a", "a")],
                   [Move("go" * 200, "a", "a")]), errors=(InvalidFunnel,), accepts=_empty)}),
        Entry("FunnelBuilder.build", lambda w, a: Funnel.builder(a["name"]).stage(
            a["stage"], "t", outcome="won").move(a["event"], a["stage"], a["stage"],
                                                 policy=a["policy"]).build(),
            lambda w: {"name": "f", "stage": "a", "event": "go", "policy": None},
            {"name": _kind("funnel name", str, extra=("",), errors=(InvalidFunnel,)),
             "stage": _kind("stage name", str, extra=("", "1a", "a b", "x" * 201),
                            errors=(InvalidFunnel,)),
             "event": _kind("event name", str, extra=("", "1a", "x" * 201),
                            errors=(InvalidFunnel,)),
             "policy": POLICY.but(pool=(*POLICY.pool, 5), errors=(InvalidPolicy, InvalidFunnel),
                                  accepts=lambda v: v is None)}),
        Entry("Funnel.new_lead", lambda w, a: f(w).new_lead(
            a["id"], at=a["at"], attributes=a["attributes"], source=a["source"],
            owner=a["owner"]),
            lambda w: {"id": "L9", "at": T0, "attributes": None, "source": None, "owner": None},
            {"id": NAME, "at": TIME, "attributes": ATTRIBUTES, "source": SOURCE,
             "owner": OPT_NAME}),
        Entry("Funnel.fire", lambda w, a: f(w).fire(
            a["lead"], a["event"], at=a["at"], actor=a["actor"], reason=a["reason"],
            context=a["context"]),
            lambda w: {"lead": _lead(w), "event": "convert", "at": NOW, "actor": None,
                       "reason": None, "context": None},
            {"lead": _kind("lead", extra=("L1",)), "event": EVENT, "at": TIME.but(
                pool=(*TIME.pool, T0 - timedelta(days=1))), "actor": OPT_NAME,
             "reason": OPT_TEXT, "context": _kind("context", Mapping, type(None),
                                                  extra=(5, "x"))}),
        Entry("Funnel.check", lambda w, a: f(w).check(a["lead"], a["event"], at=a["at"]),
              lambda w: {"lead": _lead(w), "event": "convert", "at": NOW},
              {"lead": _kind("lead", extra=("L1",)), "event": EVENT, "at": TIME}),
        Entry("Funnel.stage", lambda w, a: f(w).stage(a["name"]), lambda w: {"name": "lead"},
              {"name": STAGE}),
        Entry("Funnel.events_from", lambda w, a: f(w).events_from(a["name"]),
              lambda w: {"name": "lead"}, {"name": STAGE}),
        Entry("Funnel.move", lambda w, a: f(w).move(a["stage"], a["event"]),
              lambda w: {"stage": "lead", "event": "qualify"},
              {"stage": STAGE.but(errors=(InvalidInput,)), "event": EVENT}),
        Entry("Funnel.is_backward", lambda w, a: f(w).is_backward(a["source"], a["target"]),
              lambda w: {"source": "nurture", "target": "lead"},
              {"source": STAGE, "target": STAGE}),
        Entry("Funnel.replay", lambda w, a: f(w).replay(a["transitions"]),
              lambda w: {"transitions": []},
              {"transitions": _kind("transitions", list, tuple, extra=([5], "x", {"a": 1}),
                                    accepts=_empty)}),
        Entry("templates.inbound", lambda w, a: templates.inbound(policies=a["policies"]),
              lambda w: {"policies": None}, {"policies": POLICY_MAP}),
    ]


_FILES: dict[str, Path] = {}


def _definition_file() -> Path:
    """A valid definition file (written once per process, in the temporary directory)."""
    import tempfile  # noqa: PLC0415 - only for this one file

    if "json" not in _FILES:
        folder = Path(tempfile.mkdtemp(prefix="fk-boundary-"))
        path = folder / "temperature.json"
        path.write_text(templates.temperature().to_json(), encoding="utf-8")
        _FILES["json"] = path
    return _FILES["json"]


def _policy_entries() -> list[Entry]:
    return [
        Entry("policies.rule", lambda w, a: policies.rule(a["text"], name=a["name"]),
              lambda w: {"text": "budget > 0", "name": "rule"},
              {"text": RULE_TEXT, "name": _kind("rule name", str, extra=("",),
                                               errors=(InvalidPolicy,))}),
        Entry("policies.all_of", lambda w, a: policies.all_of(*a["policies"]),
              lambda w: {"policies": ("a > 0", "b > 0")}, {"policies": POLICIES_ARG}),
        Entry("policies.any_of", lambda w, a: policies.any_of(*a["policies"]),
              lambda w: {"policies": ("a > 0",)}, {"policies": POLICIES_ARG}),
        Entry("policies.not_", lambda w, a: policies.not_(a["policy"]),
              lambda w: {"policy": "a > 0"}, {"policy": POLICY.but(pool=(*POLICY.pool, 5,
                                                                           None))}),
        Entry("policies.not_ (nested)", lambda w, a: _nest(policies.not_, a["depth"]),
              lambda w: {"depth": 16}, {"depth": NESTING}),
        Entry("policies.all_of (nested)", lambda w, a: _nest(policies.all_of, a["depth"]),
              lambda w: {"depth": 16}, {"depth": NESTING}),
        Entry("policies.k_of_n", lambda w, a: policies.k_of_n(a["k"], *a["policies"]),
              lambda w: {"k": 1, "policies": ("a > 0", "b > 0")},
              {"k": _kind("k", int, extra=(0, 3, -1), errors=(InvalidPolicy,)),
               "policies": POLICIES_ARG}),
        Entry("policies.bant", lambda w, a: policies.bant(
            budget=a["budget"], min_budget=a["min_budget"], min_met=a["min_met"],
            required=a["required"]),
            lambda w: {"budget": "budget", "min_budget": None, "min_met": None,
                       "required": ()},
            {"budget": ATTRIBUTE_NAME, "min_budget": NUMBER.but(
                pool=(math.nan, -1, "1", math.inf), accepts=lambda v: v is None or (
                    NUMBER.accepts(v) and v >= 0)), "min_met": MIN_MET,
             "required": REQUIRED}),
        Entry("policies.checklist", lambda w, a: policies.checklist(
            a["name"], a["criteria"], version=a["version"]),
            lambda w: {"name": "fit", "criteria": {"icp": "icp"}, "version": 1},
            {"name": ATTRIBUTE_NAME, "criteria": _kind("criteria", Mapping, list, tuple, extra=(
                "icp", {}, {"icp": 5}, {5: "icp"}, [5]), errors=(InvalidPolicy,)),
             "version": _kind("version", int, extra=(0,), errors=(InvalidPolicy,))}),
        Entry("policies.score_at_least", lambda w, a: policies.score_at_least(
            a["threshold"], score=a["score"], model=a["model"]),
            lambda w: {"threshold": 50, "score": "total", "model": None},
            {"threshold": NUMBER.but(pool=(math.nan, math.inf, "50")),
             "score": _kind("score part", extra=("all", 5), errors=(InvalidPolicy,)),
             "model": _kind("model", Mapping, type(None), extra=({"fit": 5},),
                            errors=(InvalidPolicy,))}),
        Entry("policies.fit_engagement_grid", lambda w, a: policies.fit_engagement_grid(
            fit=a["fit"], engagement=a["engagement"], qualifying=a["qualifying"]),
            lambda w: {"fit": (75, 50, 25), "engagement": (75, 50, 25), "qualifying": ("A1",)},
            {"fit": AXIS, "engagement": AXIS, "qualifying": CELLS}),
        Entry("policies.from_name", lambda w, a: policies.from_name(a["name"], **a["params"]),
              lambda w: {"name": "bant", "params": {}},
              {"name": _kind("policy name", str, extra=("nope", ""), errors=(InvalidPolicy,)),
               "params": _params({"min_met": "x"}, {"nope": 1}, {"required": 5},
                                 {"budget": []}, {"min_budget": math.nan})}),
        Entry("policies.from_name (data)", lambda w, a: policies.from_name(a["name"], **a["params"]),
              lambda w: {"name": "all_of", "params": {"policies": ["a > 0"]}},
              {"name": _kind("policy name", extra=(5,), errors=(InvalidPolicy,)),
               "params": _params({"policies": 5}, {"policies": "a > 0"},
                                 {"policies": [_holding_itself()]}, {"policies": [_deep(80)]},
                                 {"policies": [{"use": "nope"}]}, {"policies": []})}),
    ]


def _params(*pool: dict[str, Any]) -> Kind:
    """Keyword arguments of load(): mappings of names to refused values."""
    return Kind("params", pool, st.sampled_from(pool), (InvalidPolicy,))


NESTING = Kind("nesting", (17, 166, 300), st.integers(17, 400), (InvalidPolicy,))


def _nest(factory: Callable[..., Any], depth: int) -> Any:
    policy: Any = "a > 0"
    for _ in range(depth):
        policy = factory(policy)
    return policy


def _scoring_entries() -> list[Entry]:
    model = scoring.ScoringModel([scoring.FitRule("budget > 0", 10)],
                                 [scoring.EngagementRule(5, kind="call")], half_life="30 days")
    return [
        Entry("ScoringModel()", lambda w, a: scoring.ScoringModel(
            a["fit"], a["engagement"], caps=a["caps"], half_life=a["half_life"]),
            lambda w: {"fit": (), "engagement": (), "caps": {}, "half_life": None},
            {"fit": _kind("fit rules", list, tuple, extra=("x", [5]), errors=(InvalidPolicy,),
                          accepts=_empty),
             "engagement": _kind("engagement rules", list, tuple, extra=("x", [5]),
                                 errors=(InvalidPolicy,), accepts=_empty),
             "caps": _kind("caps", Mapping, extra=({"nope": 5}, {"fit": -1}),
                           errors=(InvalidPolicy,)),
             "half_life": HALF_LIFE}),
        Entry("FitRule()", lambda w, a: scoring.FitRule(a["when"], a["points"]),
              lambda w: {"when": "budget > 0", "points": 10},
              {"when": RULE_TEXT, "points": NUMBER.but(pool=(
                  math.nan, math.inf, 10**7, "10", None))}),
        Entry("EngagementRule()", lambda w, a: scoring.EngagementRule(a["points"],
                                                                      kind=a["kind"]),
              lambda w: {"points": 5, "kind": "call"},
              {"points": NUMBER, "kind": _kind("kind", str, type(None), extra=("", "  "),
                                               errors=(InvalidPolicy,))}),
        Entry("ScoringModel.score", lambda w, a: model.score(a["lead"], a["touchpoints"],
                                                             at=a["at"]),
              lambda w: {"lead": _lead(w), "touchpoints": (), "at": NOW},
              {"lead": _kind("lead", extra=("L1",)),
               "touchpoints": _kind("touchpoints", list, tuple, extra=("x", [5], 5),
                                    accepts=_empty),
               "at": TIME}),
        Entry("ScoringModel.from_dict", lambda w, a: scoring.ScoringModel.from_dict(a["data"]),
              lambda w: {"data": model.to_dict()},
              {"data": _kind("model data", Mapping, extra=(
                  {"fit": 5}, {"fit": [{"when": "x >>", "points": 1}]},
                  {"half_life": "100 years"}, {"nope": 1}, {"fit": [{"points": 1}]}),
                  errors=(InvalidPolicy,))}),
        Entry("parse_half_life", lambda w, a: scoring.parse_half_life(a["value"]),
              lambda w: {"value": "30 days"}, {"value": HALF_LIFE.but(
                  pool=tuple(v for v in HALF_LIFE.pool if v is not None))}),
        Entry("decay_factor", lambda w, a: scoring.decay_factor(a["touched"], a["at"],
                                                                 timedelta(days=30)),
              lambda w: {"touched": T0, "at": NOW}, {"touched": TIME, "at": TIME}),
    ]


def _routing_entries() -> list[Entry]:
    return [
        Entry("routing.round_robin", lambda w, a: routing.round_robin(a["people"]),
              lambda w: {"people": ["ann", "bob"]}, {"people": PEOPLE}),
        Entry("routing.weighted", lambda w, a: routing.weighted(a["weights"], seed=a["seed"]),
              lambda w: {"weights": {"ann": 1}, "seed": 0},
              {"weights": WEIGHTS, "seed": _kind("seed", int, str, extra=("",))}),
        Entry("routing.least_loaded", lambda w, a: routing.least_loaded(a["capacity"]),
              lambda w: {"capacity": {"ann": 1}}, {"capacity": CAPACITY}),
        Entry("routing.territory", lambda w, a: routing.territory(a["rules"]),
              lambda w: {"rules": [({"country": "DE"}, routing.round_robin(["ann"]))]},
              {"rules": RULES}),
        Entry("routing.by_team", lambda w, a: routing.by_team(a["routers"]),
              lambda w: {"routers": {"sales": routing.round_robin(["ann"])}},
              {"routers": ROUTERS}),
        Entry("Router.plan", lambda w, a: routing.round_robin(["ann"]).plan(
            a["leads"], team=a["team"]),
            lambda w: {"leads": [_lead(w)], "team": "sales"},
            {"leads": LEADS, "team": _kind("team", str)}),
        Entry("Router.choose", lambda w, a: routing.weighted({"ann": 1}).choose(
            a["lead"], team="sales", workload=a["workload"]),
            lambda w: {"lead": _lead(w), "workload": {}},
            {"lead": _kind("lead", extra=("L1",)), "workload": _kind("workload", Mapping)}),
    ]


def _store_constructor_entries() -> list[Entry]:
    return [
        Entry("MemoryStore()", lambda w, a: MemoryStore(max_data_size=a["size"]),
              lambda w: {"size": 1000}, {"size": _kind("size", int, extra=(0, 1, -5))}),
        Entry("SQLiteStore()", lambda w, a: SQLiteStore(
            a["path"], timeout=a["timeout"], synchronous=a["synchronous"],
            max_data_size=a["size"]),
            lambda w: {"path": ":memory:", "timeout": 1.0, "synchronous": "NORMAL",
                       "size": 1000},
            {"path": _kind("path", str, Path, extra=("a\x00b",)),
             "timeout": _kind("timeout", int, float, extra=(-1, math.nan, math.inf, 10**9)),
             "synchronous": _kind("synchronous", extra=("OFF", "normal")),
             "size": _kind("size", int, extra=(0, 1))}),
        Entry("SQLAlchemyStore()", lambda w, a: SQLAlchemyStore(
            a["engine"], prefix=a["prefix"], schema=a["schema"], create=a["create"],
            max_data_size=a["size"]).close(),
            lambda w: {"engine": "sqlite://", "prefix": "crm_", "schema": None, "create": True,
                       "size": 1000},
            {"engine": _kind("engine", extra=("not a url", "nosuchdialect://x", "")),
             "prefix": _kind("prefix", str, extra=("", "a-b", "a b", "crm;drop")),
             "schema": _kind("schema", str, type(None)),
             "create": FLAG, "size": _kind("size", int, extra=(0, 1, -5))}),
    ]


def _class_entries() -> list[Entry]:
    """The public classes behind the factories, built directly."""
    model = scoring.ScoringModel()
    return [
        Entry("Attributes()", lambda w, a: funnelkit.Attributes(a["value"]),
              lambda w: {"value": {"a": 1}},
              {"value": _kind("attributes", Mapping, list, tuple, extra=(
                  {1: "a"}, _deep(40), _holding_itself(), [(1, 2)], [5]), accepts=_empty)}),
        Entry("policies.Rule()", lambda w, a: policies.Rule(a["text"], a["name"], a["model"]),
              lambda w: {"text": "a > 0", "name": "rule", "model": None},
              {"text": RULE_TEXT, "name": _kind("rule name", str, extra=("",),
                                               errors=(InvalidPolicy,)),
               "model": _kind("model", type(None), extra=({"fit": []},),
                              errors=(InvalidPolicy,))}),
        Entry("policies.AllOf()", lambda w, a: policies.AllOf(a["policies"]),
              lambda w: {"policies": (policies.rule("a > 0"),)},
              {"policies": _kind("policies", extra=((), ("a > 0",), [policies.rule("a > 0")]),
                                 errors=(InvalidPolicy,))}),
        Entry("policies.KOfN()", lambda w, a: policies.KOfN((policies.rule("a > 0"),),
                                                            k=a["k"]),
              lambda w: {"k": 1}, {"k": _kind("k", extra=(0, 2, 1.0), errors=(InvalidPolicy,))}),
        Entry("policies.Checklist()", lambda w, a: policies.Checklist(
            a["framework"], a["criteria"], a["min_met"], a["required"], a["min_budget"],
            a["money"], a["version"]),
            lambda w: {"framework": "fit", "criteria": (("icp", "icp"),), "min_met": None,
                       "required": (), "min_budget": None, "money": None, "version": 1},
            {"framework": ATTRIBUTE_NAME,
             "criteria": _kind("criteria", extra=((), (("icp",),), (("icp", 5),), ("icp",),
                                                  (("a", "x"), ("a", "y"))),
                               errors=(InvalidPolicy,)),
             "min_met": MIN_MET, "required": REQUIRED,
             "min_budget": NUMBER.but(pool=(-1, math.nan, "1"),
                                      accepts=lambda v: v is None or (
                                          NUMBER.accepts(v) and v >= 0)),
             "money": _kind("money", type(None), extra=("nope",), errors=(InvalidPolicy,)),
             "version": _kind("version", int, extra=(0,), errors=(InvalidPolicy,))}),
        Entry("policies.ScoreAtLeast()", lambda w, a: policies.ScoreAtLeast(
            a["threshold"], a["part"], a["model"]),
            lambda w: {"threshold": 50.0, "part": "total", "model": None},
            {"threshold": NUMBER.but(pool=(math.nan, "x")),
             "part": _kind("score part", extra=("all",), errors=(InvalidPolicy,)),
             "model": _kind("model", type(None), extra=({"fit": []},), errors=(InvalidPolicy,))}),
        Entry("policies.FitEngagementGrid()", lambda w, a: policies.FitEngagementGrid(
            a["fit"], (75.0, 50.0, 25.0), a["qualifying"]),
            lambda w: {"fit": (75.0, 50.0, 25.0), "qualifying": frozenset({"A1"})},
            {"fit": AXIS, "qualifying": _kind("cells", extra=(frozenset(), frozenset({"Z9"}),
                                                              {"A1"}, ["A1"]),
                                              errors=(InvalidPolicy,))}),
        Entry("scoring.Temperature()", lambda w, a: scoring.Temperature(a["warm"], a["hot"]),
              lambda w: {"warm": (20, 20), "hot": (50, 50)},
              {"warm": AXIS.but(pool=((20,), (20, math.nan), (60, 60))), "hot": AXIS.but(
                  pool=((50,), (50, "x"), (10, 10)))}),
        Entry("ScoringModel.temperature", lambda w, a: model.temperature(a["score"]),
              lambda w: {"score": scoring.Score(0.0, 0.0, 0.0)},
              {"score": _kind("score", extra=(50,))}),
        Entry("scoring.LedgerEntry()", lambda w, a: scoring.LedgerEntry(
            a["rule"], "fit", a["raw"], 1.0, a["matches"]),
            lambda w: {"rule": "a > 0", "raw": 1.0, "matches": 1},
            {"rule": ATTRIBUTE_NAME, "raw": NUMBER.but(accepts=lambda v: isinstance(
                v, int | float) and not isinstance(v, bool) and math.isfinite(v)),
             "matches": _kind("matches", int, extra=(-1,), errors=(InvalidPolicy,))}),
        Entry("scoring.Score()", lambda w, a: scoring.Score(a["fit"], 0.0, 0.0, a["ledger"]),
              lambda w: {"fit": 0.0, "ledger": ()},
              {"fit": NUMBER.but(pool=(math.nan, 1.0, "0"),
                                 accepts=lambda v: type(v) in (int, float) and v == 0),
               "ledger": _kind("ledger", list, tuple, extra=([5],), errors=(InvalidPolicy,),
                               accepts=_empty)}),
        Entry("WinProbability.fit", lambda w, a: scoring.WinProbability.fit(
            a["history"], fields=a["fields"]),
            lambda w: {"history": [({"s": "a"}, "won"), ({"s": "b"}, "lost")], "fields": None},
            {"history": _kind("history", list, tuple, extra=(
                [5], [({"s": "a"}, "maybe")], [({"s": "a"}, "won")]), errors=(InvalidPolicy,)),
             "fields": _kind("fields", list, tuple, type(None), extra=([5], [""]),
                             errors=(InvalidPolicy,), accepts=_empty)}),
    ]


def _testing_entries() -> list[Entry]:
    from funnelkit import testing  # noqa: PLC0415 - the testing kit, on first use

    return [
        Entry("testing.assert_journey", lambda w, a: testing.assert_journey(
            a["history"], a["stages"], events=a["events"]),
            lambda w: {"history": w.store.history("L2"),
                       "stages": ["subscriber", "lead", "mql", "sql"], "events": None},
            {"history": _kind("history", list, tuple, extra=([5],), accepts=_empty,
                              errors=(InvalidInput, testing.FunnelAssertionError)),
             "stages": _kind("stages", list, tuple, extra=("lead", [5], ["lead"]),
                             errors=(InvalidInput, testing.FunnelAssertionError)),
             "events": _kind("events", list, tuple, type(None), extra=(["x"],),
                             errors=(InvalidInput, testing.FunnelAssertionError))}),
        Entry("testing.assert_handoff", lambda w, a: testing.assert_handoff(
            a["handoffs"], due_within=a["due_within"]),
            lambda w: {"handoffs": w.store.handoffs(), "due_within": None},
            {"handoffs": _kind("handoffs", list, tuple, Handoff, extra=([5], []),
                               errors=(InvalidInput, testing.FunnelAssertionError)),
             "due_within": OPT_DURATION}),
        Entry("testing.lint_funnel", lambda w, a: testing.lint_funnel(a["funnel"],
                                                                      skip=a["skip"]),
              lambda w: {"funnel": w.funnel, "skip": ()},
              {"funnel": _kind("funnel", Mapping, Path, str, extra=("x.yaml", "missing.toml"),
                               errors=(InvalidInput, InvalidFunnel)),
               "skip": _kind("skip", list, tuple, extra=("stalls", ["nope"]),
                             accepts=_empty)}),
        Entry("testing.scenario", lambda w, a: testing.scenario(a["pipeline"]),
              lambda w: {"pipeline": w.pipeline}, {"pipeline": _kind("pipeline")}),
        Entry("testing.capture_hooks", lambda w, a: testing.capture_hooks(
            a["pipeline"]).__enter__(),
            lambda w: {"pipeline": Pipeline(w.funnel, store=MemoryStore())},
            {"pipeline": _kind("pipeline")}),
    ]


def entries() -> list[Entry]:
    """Every entry point in the catalogue."""
    return [*_pipeline_entries(), *_store_entries(), *_value_entries(), *_funnel_entries(),
            *_policy_entries(), *_scoring_entries(), *_routing_entries(),
            *_store_constructor_entries(), *_class_entries(), *_testing_entries()]


ENTRIES = entries()
STORE_ENTRIES = [e for e in ENTRIES if e.store]
PURE_ENTRIES = [e for e in ENTRIES if not e.store]
