"""Lead scoring: fit and engagement rules, caps per group, half-life decay, an exact ledger.

Exactness: every ledger entry is rounded to a multiple of ``1/1024`` (:data:`RESOLUTION`) and
the sums are done in integer units of that size, so each entry, the fit and engagement parts and
the total are exact binary fractions.  Adding exact binary fractions in floating point is exact
while the magnitudes stay below ``2**43`` points, so ``sum(e.points for e in score.ledger) ==
score.total`` and ``score.fit + score.engagement == score.total`` hold exactly, in any order.
Points per rule are limited to a million, which keeps every realistic lead far inside that range.
"""

from __future__ import annotations

import math
import operator
import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from itertools import chain, compress
from operator import call as _call  # C-level: no Python frame per atom
from types import MappingProxyType
from typing import Any, Final, Literal, Self

import attrs
from dateutil.relativedelta import relativedelta

from funnelkit._decision import Context
from funnelkit._errors import InvalidInput, InvalidPolicy, RuleSyntaxError
from funnelkit._lead import Lead
from funnelkit._limits import MAX_DURATION, MAX_TIME, MIN_TIME, _short, items_of
from funnelkit._record import Field, Record, field
from funnelkit._rules import (
    EVAL_ERRORS,
    NAMES,
    BoolOp,
    Compare,
    Const,
    Name,
    NameTable,
    Node,
    Resolver,
    Seq,
    compile_expr,
    parse,
    reads_context,
)
from funnelkit._time import require_aware
from funnelkit._touchpoint import Touchpoint

__all__ = [
    "RESOLUTION",
    "EngagementRule",
    "FitRule",
    "LedgerEntry",
    "Score",
    "ScoringModel",
    "Temperature",
    "decay_factor",
    "parse_half_life",
]

#: Ledger entries are multiples of this (1/1024 of a point), which keeps every sum exact.
RESOLUTION: Final = 1 / 1024
_UNITS: Final = 1024
_MAX_POINTS: Final = 1_000_000
_MIN_TIME, _MAX_TIME = MIN_TIME, MAX_TIME
_tuple_new = tuple.__new__
_getitem = operator.getitem
_dict_get = dict.get

TemperatureName = Literal["cold", "warm", "hot"]


def _finite(
    value: object, what: str, *, minimum: float | None = None, limit: float = _MAX_POINTS
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidPolicy(f"{what}={value!r} must be a number")
    if not math.isfinite(value):
        raise InvalidPolicy(f"{what}={value!r} must be a finite number (not NaN or infinity)")
    if abs(value) > limit:
        raise InvalidPolicy(f"{what}={value!r} is too large; keep it within ±{limit:,}")
    if minimum is not None and value < minimum:
        raise InvalidPolicy(f"{what}={value!r} must be at least {minimum}")
    return float(value)


# -- records -------------------------------------------------------------------------------------


class LedgerEntry(Record):
    """One line of a :class:`Score`'s ledger: a rule that contributed, or a cap that cut.

    ``raw`` is what the rule gave before decay; ``points`` is what counts (after decay, rounded to
    :data:`RESOLUTION`); ``matches`` is how many touchpoints or conditions matched (0 for a cap).

    >>> LedgerEntry("industry == 'saas'", "fit", 10.0, 10.0, 1)
    LedgerEntry(rule="industry == 'saas'", group='fit', raw=10.0, points=10.0, matches=1)
    """

    __slots__ = ()
    _fields = ("rule", "group", "raw", "points", "matches")
    rule: Field[str] = field(0, "The rule's name (or 'cap <group>' for a cap).")
    group: Field[str] = field(1, "The rule group it belongs to.")
    raw: Field[float] = field(2, "Points before decay (and before rounding).")
    points: Field[float] = field(3, "Points that count: decayed, rounded to 1/1024.")
    matches: Field[int] = field(4, "How many touchpoints or conditions matched (0 for a cap).")

    def __new__(cls, rule: str, group: str, raw: float, points: float, matches: int = 1) -> Self:
        """Build an entry (models build them; you rarely need to)."""
        _check_name(rule, "LedgerEntry rule")
        _check_name(group, "LedgerEntry group")
        numbers = (_finite(raw, "LedgerEntry raw", limit=math.inf),
                   _finite(points, "LedgerEntry points", limit=math.inf))
        if type(matches) is not int or matches < 0:
            raise InvalidPolicy(f"LedgerEntry matches={_short(matches)} must be an int >= 0")
        return _tuple_new(cls, (rule, group, *numbers, matches))


class Score(Record):
    """A lead's score at one moment: fit, engagement, their total and the ledger behind them.

    ``sum(entry.points for entry in score.ledger) == score.total`` holds exactly, and so does
    ``score.fit + score.engagement == score.total``.

    A :class:`ScoringModel` computes the three numbers eagerly and writes the ledger out the first
    time it is read (then keeps it); equality, hashing, ``repr`` and pickling all use the ledger,
    so a score behaves as the same value either way.

    >>> ledger = (LedgerEntry("saas", "fit", 10, 10), LedgerEntry("webinar", "engagement", 8, 5))
    >>> s = Score(10.0, 5.0, 15.0, ledger)
    >>> s.total, sum(e.points for e in s.ledger)
    (15.0, 15.0)
    """

    __slots__ = ()
    _fields = ("fit", "engagement", "total", "ledger")
    fit: Field[float] = field(0, "Points from who the lead is (fit rules), after caps.")
    engagement: Field[float] = field(1, "Points from touchpoints, after decay and caps.")
    total: Field[float] = field(2, "fit + engagement.")
    # Slot 3 holds the ledger tuple, or a pending list ``[None, model, recipe...]`` that
    # ``ScoringModel._write_ledger`` turns into it on first read (cached in the list's slot 0).
    _ledger_slot: Field[Any] = field(3, "The ledger, or the recipe to write it.")

    def __new__(
        cls, fit: float, engagement: float, total: float, ledger: Iterable[LedgerEntry] = ()
    ) -> Self:
        """Build a score, checking that the ledger adds up to the total."""
        ledger = items_of(ledger, "Score ledger", InvalidPolicy)
        for value, what in ((fit, "fit"), (engagement, "engagement"), (total, "total")):
            _finite(value, f"Score {what}", limit=math.inf)
        if any(type(e) is not LedgerEntry for e in ledger):
            raise InvalidPolicy("Score ledger must hold LedgerEntry values")
        if fit + engagement != total or sum(e.points for e in ledger) != total:
            raise InvalidPolicy(
                f"Score does not add up: fit {fit} + engagement {engagement} and the ledger's "
                f"{sum(e.points for e in ledger)} must both equal total {total}"
            )
        return _tuple_new(cls, (float(fit), float(engagement), float(total), ledger))

    @property
    def ledger(self) -> tuple[LedgerEntry, ...]:
        """Every rule that contributed, and every cap."""
        value = self._ledger_slot
        if type(value) is tuple:
            return value
        done: tuple[LedgerEntry, ...] | None = value[0]
        if done is None:
            done = value[0] = value[1]._write_ledger(value)
        return done

    def _values(self) -> tuple[float, float, float, tuple[LedgerEntry, ...]]:
        return (self.fit, self.engagement, self.total, self.ledger)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return False if isinstance(other, tuple) else NotImplemented
        return self._values() == other._values()

    def __ne__(self, other: object) -> bool:
        if type(other) is not type(self):
            return True if isinstance(other, tuple) else NotImplemented
        return self._values() != other._values()

    def __hash__(self) -> int:
        return hash(("Score", *self._values()))

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle with the ledger written out."""
        return (_rebuild_score, self._values())

    def __repr__(self) -> str:
        fit, engagement, total, ledger = self._values()
        return f"Score(fit={fit!r}, engagement={engagement!r}, total={total!r}, ledger={ledger!r})"

    def _asdict(self) -> dict[str, Any]:
        return dict(zip(self._fields, self._values(), strict=True))

    def by_group(self) -> dict[str, float]:
        """Points per rule group, caps applied.

        >>> Score(3.0, 0.0, 3.0, (LedgerEntry("a", "fit", 3, 3),)).by_group()
        {'fit': 3.0}
        """
        groups: dict[str, float] = {}
        for entry in self.ledger:
            groups[entry.group] = groups.get(entry.group, 0.0) + entry.points
        return groups

    def explain(self) -> str:
        """The ledger as a small text table, one line per entry, the total last.

        >>> print(Score(3.0, 0.0, 3.0, (LedgerEntry("a", "fit", 3, 3),)).explain())
        fit         a                              x1   raw        3  =>  3
        total 3 (fit 3, engagement 0)
        """
        lines = [
            f"{e.group:<11} {e.rule:<30} x{e.matches:<3} raw {_num(e.raw):>8}  =>  {_num(e.points)}"
            for e in self.ledger
        ]
        fit, engagement = _num(self.fit), _num(self.engagement)
        lines.append(f"total {_num(self.total)} (fit {fit}, engagement {engagement})")
        return "\n".join(lines)


def _rebuild_score(
    fit: float, engagement: float, total: float, ledger: tuple[LedgerEntry, ...]
) -> Score:
    return _tuple_new(Score, (fit, engagement, total, ledger))


def _rebuild_model(
    fit: tuple[FitRule, ...],
    engagement: tuple[EngagementRule, ...],
    caps: dict[str, float],
    half_life: HalfLife | None,
    thresholds: Temperature,
) -> ScoringModel:
    return ScoringModel(fit, engagement, caps=caps, half_life=half_life, thresholds=thresholds)


class _Absent:
    """Stands for a missing attribute in vectorised comparisons: every comparison is False."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return False

    __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __eq__

    def __hash__(self) -> int:
        return 0x5EED

    def __bool__(self) -> bool:
        return False


_ABSENT = _Absent()
# ``name <op> literal`` written as ``reflected_op(literal, value)`` so every atom, membership
# included, is ``op(constant, value)`` and one C-level ``map`` evaluates them all.
_REFLECTED: Mapping[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq, "<": operator.gt, "<=": operator.ge, ">": operator.lt, ">=": operator.le,
}


def _atoms(tree: Node) -> list[tuple[str, Callable[[Any, Any], Any], Any]] | None:
    parts = tree.values if isinstance(tree, BoolOp) and tree.op == "and" else (tree,)
    atoms: list[tuple[str, Callable[[Any, Any], Any], Any]] = []
    for part in parts:
        if not (isinstance(part, Compare) and len(part.rest) == 1 and isinstance(part.first, Name)
                and part.first.id not in NAMES):
            return None
        op, right = part.rest[0]
        if op in _REFLECTED and isinstance(right, Const):
            atoms.append((part.first.id, _REFLECTED[op], right.value))
        elif op == "in" and isinstance(right, Seq) and all(
            isinstance(i, Const) for i in right.items
        ):
            values = frozenset(i.value for i in right.items if isinstance(i, Const))
            atoms.append((part.first.id, operator.contains, values))
        else:
            return None
    return atoms


@attrs.frozen
class _Vector:
    """The fit rules compiled for vectorised evaluation (see ``ScoringModel.score``).

    Rules made only of ``name <op> literal`` atoms (joined by ``and``) are evaluated together:
    one ``map`` over every atom, each ``op(literal, attributes.get(name, _ABSENT))``.  Other rules
    (``spans`` entries with ``k == 0``) run their compiled closure.
    """

    names: tuple[str, ...]
    ops: tuple[Callable[[Any, Any], Any], ...]
    consts: tuple[Any, ...]
    absent: tuple[_Absent, ...]
    spans: tuple[tuple[int, int, Callable[..., Any]], ...]
    simple: bool
    general: bool

    @classmethod
    def build(cls, rules: Sequence[FitRule], tests: Sequence[Callable[..., Any]]) -> _Vector:
        names: list[str] = []
        ops: list[Callable[[Any, Any], Any]] = []
        consts: list[Any] = []
        spans: list[tuple[int, int, Callable[..., Any]]] = []
        for rule, test in zip(rules, tests, strict=True):
            atoms = _atoms(rule._tree)
            if atoms is None:
                spans.append((0, 0, test))
                continue
            spans.append((len(names), len(atoms), test))
            for name, op, const in atoms:
                names.append(name)
                ops.append(op)
                consts.append(const)
        return cls(tuple(names), tuple(ops), tuple(consts), (_ABSENT,) * len(names),
                   tuple(spans), all(k == 1 for _, k, _ in spans), any(k == 0 for _, k, _ in spans))


def _safe(test: Callable[..., Any], env: list[Any], ctx: Any) -> bool:
    try:
        return bool(test(env, ctx))
    except EVAL_ERRORS:
        return False


# -- one table per attribute ---------------------------------------------------------------------
#
# Fit rules made only of ``name <op> literal`` atoms on one attribute (``industry == 'saas'``,
# ``employees >= 50 and employees < 200``, ``role in ('cto', 'ceo')``) are grouped by attribute.
# Each attribute gets a ``_ValueTable``: a dict from the attribute's value to its contribution,
# ``(units, rule indices)``, of every such rule on that attribute.  Per lead that is one C-level
# ``dict`` lookup per attribute.  A value not in the table is worked out once by ``__missing__``:
# numbers by their position among the attribute's numeric literals (a binary search, so any
# number costs the same), other values by evaluating the atoms, exactly as the rules would.

_Atom = tuple[Callable[[Any, Any], Any], Any]
_Contribution = tuple[int, tuple[int, ...]]
_MEMO_TYPES: Final = frozenset({str, int, float, bool, type(None)})
#: Values remembered per attribute table (numbers and strings seen); more are still scored, just
#: not remembered.
_MEMO_LIMIT: Final = 4096
_ORDERING = frozenset({operator.gt, operator.ge, operator.lt, operator.le})


def _is_number(value: object) -> bool:
    return type(value) in (int, float, bool)


def _matches(atoms: Sequence[_Atom], value: Any) -> bool:
    try:
        return all(op(const, value) for op, const in atoms)
    except EVAL_ERRORS:
        return False


class _ValueTable(dict[Any, int]):
    """An attribute's value -> the units of the one-attribute fit rules it meets.

    :meth:`contribution` gives the units with the rules' indices (for the ledger); the table
    remembers the units of values already seen.
    """

    __slots__ = ("_breaks", "_empty", "_indices", "_literals", "_regions", "_rules", "_text_order")

    def __init__(self, rules: Sequence[tuple[int, tuple[_Atom, ...], int]]) -> None:
        super().__init__()
        self._rules = tuple(rules)
        interned: dict[tuple[int, ...], _Contribution] = {}

        def contribution(hits: list[int]) -> _Contribution:
            key = tuple(hits)
            if key not in interned:
                units = sum(unit for index, _, unit in self._rules if index in key)
                interned[key] = (units, key)
            return interned[key]

        numbers: set[Any] = set()
        constants: list[Any] = []
        self._text_order = False
        for _, atoms, _ in self._rules:
            for op, const in atoms:
                for value in const if isinstance(const, frozenset) else (const,):
                    constants.append(value)
                    if _is_number(value):
                        numbers.add(value)
                if op in _ORDERING and isinstance(const, str):
                    self._text_order = True
        breaks = sorted(numbers)
        self._breaks = breaks
        # Regions: 2i is strictly between breaks[i-1] and breaks[i]; 2i+1 is equal to breaks[i].
        regions: list[_Contribution] = []
        for i in range(len(breaks) + 1):
            regions.append(contribution([
                index for index, atoms, _ in self._rules
                if all(_between(op, const, i, breaks) for op, const in atoms)
            ]))
            if i < len(breaks):
                regions.append(contribution(
                    [index for index, atoms, _ in self._rules if _matches(atoms, breaks[i])]))
        self._regions = tuple(regions)
        self._empty = contribution([])
        self._literals = frozenset(constants)
        self._indices: dict[Any, tuple[int, ...]] = {}
        for value in (None, *constants):  # None (or missing): no comparison holds
            self._remember(value, self.contribution(value))

    def contribution(self, value: Any) -> _Contribution:
        """The units and rule indices *value* gives, the same every time it is asked."""
        kind = type(value)
        if (kind is int or kind is float or kind is bool) and value == value:  # noqa: PLR0124 - not NaN (any int)
            breaks = self._breaks
            i = bisect_left(breaks, value)
            return self._regions[2 * i + 1 if i < len(breaks) and breaks[i] == value else 2 * i]
        if value is None or (
            kind is str and not self._text_order and value not in self._literals
        ):
            return self._empty  # equal to no literal; ordering it against a number fails
        hits = tuple(index for index, atoms, _ in self._rules if _matches(atoms, value))
        return (sum(unit for index, _, unit in self._rules if index in hits), hits)

    def _remember(self, value: Any, found: _Contribution) -> None:
        if type(value) in _MEMO_TYPES and len(self) < _MEMO_LIMIT:
            self[value] = found[0]
            self._indices[value] = found[1]

    def __missing__(self, value: Any) -> int:
        found = self.contribution(value)
        self._remember(value, found)
        return found[0]

    def indices(self, value: Any) -> tuple[int, ...]:
        """The indices of the rules *value* meets (what :meth:`contribution` gives)."""
        found = self._indices.get(value)
        if found is None:
            contribution = self.contribution(value)
            self._remember(value, contribution)
            found = contribution[1]
        return found

    def __reduce__(self) -> tuple[Any, ...]:
        return (_ValueTable, (self._rules,))


def _between(op: Callable[[Any, Any], Any], const: Any, i: int, breaks: list[Any]) -> bool:
    """Whether ``op(const, v)`` holds for every number v strictly between breaks[i-1], breaks[i]."""
    if op is operator.eq or op is operator.contains:
        return False  # every numeric literal is a break, and v equals none of them
    if not _is_number(const):
        return False  # ordering a number against a string raises: the rule does not match
    at = bisect_left(breaks, const)  # const == breaks[at]
    if op is operator.gt or op is operator.ge:  # v < const, v <= const
        return at >= i
    return at < i  # v > const, v >= const


@attrs.frozen
class _FastFit:
    """The fast scoring plan (see ``ScoringModel.score``).

    Used when the fit rules share one group and the engagement rules are all in ``engagement``:
    attribute tables, the fit rules they do not cover, and the two caps in units.
    """

    names: tuple[str, ...]
    tables: tuple[_ValueTable, ...]
    indices: tuple[dict[Any, tuple[int, ...]], ...]  # each table's remembered rule indices
    rest: tuple[int, ...]  # fit rules the tables do not cover, evaluated by _Vector
    rest_vector: _Vector
    fit_group: str
    fit_cap: int | None
    engagement_cap: int | None
    seconds: float | None  # the half-life in seconds when it is a fixed length

    @classmethod
    def build(cls, model: ScoringModel) -> _FastFit | None:
        groups = {r.group for r in model.fit}
        if len(groups) > 1 or "engagement" in groups or any(
            r.group != "engagement" for r in model.engagement
        ):
            return None
        fit_group = groups.pop() if groups else "fit"
        by_name: dict[str, list[tuple[int, tuple[_Atom, ...], int]]] = {}
        rest: list[int] = []
        for index, (rule, step) in enumerate(zip(model.fit, model._fit_plan, strict=True)):
            atoms = _atoms(rule._tree)
            if atoms is None or len({name for name, _, _ in atoms}) != 1:
                rest.append(index)
                continue
            by_name.setdefault(atoms[0][0], []).append(
                (index, tuple((op, const) for _, op, const in atoms), step[3]))
        caps = dict(model._caps_units)
        plan = model._fit_plan
        tables = tuple(_ValueTable(rules) for rules in by_name.values())
        return cls(
            tuple(by_name), tables, tuple(table._indices for table in tables),
            tuple(rest), _Vector.build([model.fit[i] for i in rest], [plan[i][0] for i in rest]),
            fit_group, caps.get(fit_group), caps.get("engagement"),
            model.half_life.total_seconds() if isinstance(model.half_life, timedelta) else None,
        )


_NO_DATA: Mapping[str, Any] = MappingProxyType({})


def _num(value: float) -> str:
    return repr(value) if value != int(value) else str(int(value))


# -- half-life and decay -------------------------------------------------------------------------

_HALF_LIFE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$", re.IGNORECASE)
_FIXED_UNITS: Mapping[str, float] = {
    "second": 1, "seconds": 1, "minute": 60, "minutes": 60, "hour": 3600, "hours": 3600,
    "day": 86400, "days": 86400, "week": 604800, "weeks": 604800,
}
_CALENDAR_UNITS: Mapping[str, str] = {
    "month": "months", "months": "months", "year": "years", "years": "years",
}
HalfLife = timedelta | relativedelta


def parse_half_life(value: object, *, name: str = "half_life") -> HalfLife:
    """A half-life from ``"30 days"``, ``"2 weeks"``, ``"1 month"``, a timedelta or a relativedelta.

    Months and years are calendar lengths (dateutil's ``relativedelta``); the rest are fixed.
    Zero, negative and malformed half-lives, and half-lives over ten years (``MAX_DURATION``),
    raise :class:`InvalidPolicy`.

    >>> parse_half_life("2 weeks")
    datetime.timedelta(days=14)
    >>> parse_half_life("1 month")
    relativedelta(months=+1)
    """
    return _at_most_ten_years(_half_life_of(value, name), value, name)


def _at_most_ten_years(half_life: HalfLife, given: object, name: str) -> HalfLife:
    if isinstance(half_life, relativedelta):
        days = (half_life.years * 365.25 + half_life.months * 30.44 + half_life.days
                + half_life.hours / 24 + half_life.minutes / 1440
                + half_life.seconds / 86400)
    else:
        days = half_life.total_seconds() / 86400
    if days > MAX_DURATION.days:
        raise InvalidPolicy(f"{name}={_short(given)} is longer than ten years, the longest "
                            f"half-life funnelkit takes (leave half_life out for no decay)")
    return half_life


def _half_life_of(value: object, name: str) -> HalfLife:
    if isinstance(value, timedelta):
        if value <= timedelta(0):
            raise InvalidPolicy(f"{name}={value!r} must be longer than zero")
        return value
    if isinstance(value, relativedelta):
        parts = (value.years, value.months, value.days, value.hours, value.minutes, value.seconds,
                 value.microseconds)
        absolute = (value.year, value.month, value.day, value.weekday, value.hour, value.minute,
                    value.second, value.microsecond)
        if any(p is not None for p in absolute) or any(p < 0 for p in parts) or not any(parts):
            raise InvalidPolicy(f"{name}={value!r} must be a positive relative length such as "
                                f"relativedelta(months=1), with no negative or absolute fields")
        return value
    if isinstance(value, str):
        match = _HALF_LIFE.match(value)
        unit = match.group(2).lower() if match else ""
        if match and (unit in _FIXED_UNITS or unit in _CALENDAR_UNITS):
            amount = float(match.group(1))
            if amount > 0 and math.isfinite(amount):
                if unit in _FIXED_UNITS:
                    return timedelta(seconds=amount * _FIXED_UNITS[unit])
                if amount == int(amount):
                    if _CALENDAR_UNITS[unit] == "months":
                        return relativedelta(months=int(amount))
                    return relativedelta(years=int(amount))
                raise InvalidPolicy(f"{name}={value!r}: months and years must be whole numbers")
        raise InvalidPolicy(
            f"{name}={value!r} is not a half-life; write '<number> <unit>' with unit seconds, "
            f"minutes, hours, days, weeks, months or years, for example '30 days'"
        )
    raise InvalidPolicy(f"{name}={_short(value)} must be a string such as '30 days', a "
                        f"timedelta or a relativedelta")


def _half_life_data(value: HalfLife) -> str:
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
        for unit, size in (("weeks", 604800), ("days", 86400), ("hours", 3600), ("minutes", 60)):
            if seconds % size == 0:
                return f"{int(seconds // size)} {unit}"
        return f"{seconds:.6f}".rstrip("0").rstrip(".") + " seconds"
    if value.years and not (value.months or value.days or value.hours or value.minutes
                            or value.seconds or value.microseconds):
        return f"{value.years} years"
    if value.months and not (value.years or value.days or value.hours or value.minutes
                             or value.seconds or value.microseconds):
        return f"{value.months} months"
    raise InvalidPolicy(f"half_life={value!r} has no data form; use whole months or years")


def _half_lives(start: datetime, at: datetime, half_life: relativedelta) -> float:
    """How many calendar half-lives fit between *start* and *at* (piecewise linear, monotone)."""
    if at <= start:
        return 0.0
    approx_days = half_life.years * 365.2425 + half_life.months * 30.436875 + half_life.days + (
        half_life.hours / 24 + half_life.minutes / 1440 + half_life.seconds / 86400)
    n = max(int((at - start).total_seconds() / 86400 / max(approx_days, 1e-9)) - 1, 0)
    while start + half_life * (n + 1) <= at:
        n += 1
    while n > 0 and start + half_life * n > at:
        n -= 1
    low, high = start + half_life * n, start + half_life * (n + 1)
    return n + (at - low) / (high - low)


def decay_factor(touched: datetime, at: datetime, half_life: HalfLife | None) -> float:
    """How much of a touchpoint's points remain at *at*: ``0.5 ** (age / half_life)``.

    1.0 with no half-life or for a touchpoint not older than *at*; exactly 0.5 one half-life
    later; never increasing as *at* moves on.  Calendar half-lives (months, years) count each
    period with its real length (dateutil), so a one-month half-life halves on the same day
    next month.

    >>> from datetime import datetime, timedelta, timezone
    >>> t = datetime(2026, 1, 31, tzinfo=timezone.utc)
    >>> decay_factor(t, t + timedelta(days=14), timedelta(days=14))
    0.5
    >>> decay_factor(t, datetime(2026, 2, 28, tzinfo=timezone.utc), parse_half_life("1 month"))
    0.5
    """
    require_aware(touched, "touched")
    require_aware(at)
    if half_life is not None and not isinstance(half_life, timedelta | relativedelta):
        raise InvalidInput(f"half_life={_short(half_life)} must be a timedelta, a relativedelta "
                           f"or None; parse_half_life turns '30 days' into one")
    return _decay(touched, at, half_life)


def _decay(touched: datetime, at: datetime, half_life: HalfLife | None) -> float:
    """:func:`decay_factor` of checked arguments (the scorer's inner loop)."""
    if half_life is None or at <= touched:
        return 1.0
    if isinstance(half_life, timedelta):
        return float(0.5 ** ((at - touched) / half_life))
    return float(0.5 ** _half_lives(touched, at, half_life))


# -- rules ---------------------------------------------------------------------------------------


def _check_name(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidPolicy(f"{what}={value!r} must be a non-empty string")
    return value


def _fit_points(value: object) -> float:
    return _finite(value, "FitRule points")


def _engagement_points(value: object) -> float:
    return _finite(value, "EngagementRule points")


def _when(rule: FitRule) -> str:
    return rule.when


@attrs.frozen
class FitRule:
    """Points for who the lead is: ``points`` when the rule-language condition ``when`` holds.

    ``when`` is a rule expression over the lead's attributes (see :func:`funnelkit.policies.rule`),
    checked when the rule is built; an attribute the lead lacks makes it not match.

    >>> FitRule("industry == 'saas'", 10)
    FitRule(when="industry == 'saas'", points=10.0, name="industry == 'saas'", group='fit')
    """

    when: str = attrs.field()
    points: float = attrs.field(converter=_fit_points)
    name: str = attrs.field(kw_only=True, default=attrs.Factory(_when, takes_self=True))
    group: str = attrs.field(kw_only=True, default="fit")
    _tree: Node = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        _check_name(self.name, "FitRule name")
        _check_name(self.group, "FitRule group")
        object.__setattr__(self, "_tree", parse(self.when))

    def to_data(self) -> dict[str, Any]:
        """The rule's data form (for :meth:`ScoringModel.to_dict`)."""
        data: dict[str, Any] = {"when": self.when, "points": _plain(self.points)}
        if self.name != self.when:
            data["name"] = self.name
        if self.group != "fit":
            data["group"] = self.group
        return data


def _optional_name(value: object) -> str | None:
    if value is None:
        return None
    return _check_name(value, "EngagementRule kind/channel")


def _engagement_name(rule: EngagementRule) -> str:
    parts = [f"{k}={v}" for k, v in (("kind", rule.kind), ("channel", rule.channel)) if v]
    return " ".join(parts) or "any touchpoint"


@attrs.frozen
class EngagementRule:
    """Points per touchpoint of a ``kind`` and/or ``channel`` (None matches any), decayed by age.

    A touchpoint counts for the first engagement rule it matches; a touchpoint's own ``points``
    replace the rule's (clamped to ±1,000,000).  Touchpoints later than the ``at`` of scoring do
    not count.

    >>> EngagementRule(10, kind="webinar")  # doctest: +NORMALIZE_WHITESPACE
    EngagementRule(points=10.0, kind='webinar', channel=None, name='kind=webinar',
                   group='engagement')
    """

    points: float = attrs.field(converter=_engagement_points)
    kind: str | None = attrs.field(kw_only=True, default=None, converter=_optional_name)
    channel: str | None = attrs.field(kw_only=True, default=None, converter=_optional_name)
    name: str = attrs.field(kw_only=True, default=attrs.Factory(_engagement_name, takes_self=True))
    group: str = attrs.field(kw_only=True, default="engagement")

    def __attrs_post_init__(self) -> None:
        _check_name(self.name, "EngagementRule name")
        _check_name(self.group, "EngagementRule group")

    def matches(self, touchpoint: Touchpoint) -> bool:
        """True when *touchpoint* is of this rule's kind and channel."""
        return (self.kind is None or touchpoint.kind == self.kind) and (
            self.channel is None or touchpoint.channel == self.channel
        )

    def to_data(self) -> dict[str, Any]:
        """The rule's data form (for :meth:`ScoringModel.to_dict`)."""
        data: dict[str, Any] = {"points": _plain(self.points)}
        for key in ("kind", "channel"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        default = EngagementRule(self.points, kind=self.kind, channel=self.channel).name
        if self.name != default:
            data["name"] = self.name
        if self.group != "engagement":
            data["group"] = self.group
        return data


def _plain(value: float) -> float | int:
    return int(value) if value == int(value) else value


def _pair(value: object, what: str) -> tuple[float, float]:
    if not isinstance(value, Sequence) or isinstance(value, str | bytes) or len(value) != 2:
        raise InvalidPolicy(f"{what}={_short(value)} must be a (fit, engagement) pair of numbers")
    return (_finite(value[0], f"{what}[0]"), _finite(value[1], f"{what}[1]"))


def _warm(value: object) -> tuple[float, float]:
    return _pair(value, "warm")


def _hot(value: object) -> tuple[float, float]:
    return _pair(value, "hot")


@attrs.frozen
class Temperature:
    """Cold / warm / hot from thresholds on fit and engagement.

    A lead is ``hot`` when its fit and its engagement both reach ``hot``'s pair, ``warm`` when
    both reach ``warm``'s, and ``cold`` otherwise.

    >>> t = Temperature(warm=(20, 10), hot=(40, 30))
    >>> ledger = (LedgerEntry("a", "fit", 45, 45), LedgerEntry("b", "engagement", 35, 35))
    >>> t(Score(45.0, 35.0, 80.0, ledger))
    'hot'
    """

    warm: tuple[float, float] = attrs.field(default=(20, 20), converter=_warm)
    hot: tuple[float, float] = attrs.field(default=(50, 50), converter=_hot)

    def __attrs_post_init__(self) -> None:
        if self.warm[0] > self.hot[0] or self.warm[1] > self.hot[1]:
            raise InvalidPolicy(f"Temperature warm={self.warm} must not exceed hot={self.hot} "
                                f"on fit or on engagement")

    def __call__(self, score: Score) -> TemperatureName:
        """The temperature of *score*."""
        if type(score) is not Score:
            raise InvalidInput(f"score={_short(score)} is not a funnelkit.scoring.Score")
        fit, engagement = score.fit, score.engagement
        if fit >= self.hot[0] and engagement >= self.hot[1]:
            return "hot"
        if fit >= self.warm[0] and engagement >= self.warm[1]:
            return "warm"
        return "cold"


def _rules(values: object, kind: type[Any], what: str) -> tuple[Any, ...]:
    if isinstance(values, str | Mapping) or not isinstance(values, Iterable):
        raise InvalidPolicy(f"{what}={values!r} must be a list of {kind.__name__}s")
    rules = tuple(values)
    for i, rule in enumerate(rules):
        if not isinstance(rule, kind):
            raise InvalidPolicy(f"{what}[{i}]={rule!r} is not a {kind.__name__}")
    return rules


def _caps(value: object) -> Mapping[str, float]:
    if not isinstance(value, Mapping):
        raise InvalidPolicy(f"caps={value!r} must be a mapping of group name to the most points "
                            f"that group may give")
    return {
        _check_name(k, "caps key"): _finite(v, f"caps[{k!r}]", minimum=0) for k, v in value.items()
    }


def _fit_rules(value: object) -> tuple[FitRule, ...]:
    return _rules(value, FitRule, "fit")


def _engagement_rules(value: object) -> tuple[EngagementRule, ...]:
    return _rules(value, EngagementRule, "engagement")


def _half_life(value: object) -> HalfLife | None:
    return None if value is None else parse_half_life(value)


@attrs.frozen
class ScoringModel:
    """Scores leads: fit rules, engagement rules, caps per group, half-life decay, an exact ledger.

    >>> from datetime import datetime, timezone
    >>> from funnelkit import Lead, Touchpoint
    >>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
    >>> model = ScoringModel(
    ...     fit=[FitRule("industry == 'saas'", 20), FitRule("employees >= 50", 10)],
    ...     engagement=[EngagementRule(15, kind="webinar")],
    ...     caps={"engagement": 40}, half_life="30 days",
    ...     thresholds=Temperature(warm=(15, 10), hot=(40, 30)))
    >>> lead = Lead("L1", "lead", created_at=at, attributes={"industry": "saas"})
    >>> s = model.score(lead, [Touchpoint("L1", "webinar", "email", at)], at=at)
    >>> s.fit, s.engagement, s.total
    (20.0, 15.0, 35.0)
    >>> model.temperature(s)
    'warm'
    """

    fit: tuple[FitRule, ...] = attrs.field(default=(), converter=_fit_rules)
    engagement: tuple[EngagementRule, ...] = attrs.field(default=(), converter=_engagement_rules)
    caps: Mapping[str, float] = attrs.field(kw_only=True, factory=dict, converter=_caps)
    half_life: HalfLife | None = attrs.field(kw_only=True, default=None, converter=_half_life)
    thresholds: Temperature = attrs.field(kw_only=True, factory=Temperature)
    _fit_plan: tuple[Any, ...] = attrs.field(init=False, repr=False, eq=False)
    _resolve: Resolver = attrs.field(init=False, repr=False, eq=False)
    _needs_context: bool = attrs.field(init=False, repr=False, eq=False)
    _vector: _Vector = attrs.field(init=False, repr=False, eq=False)
    _engagement_meta: dict[int, tuple[str, str]] = attrs.field(init=False, repr=False, eq=False)
    _caps_units: tuple[tuple[str, int], ...] = attrs.field(init=False, repr=False, eq=False)
    _match_cache: dict[tuple[str, str], tuple[int, float | None]] = attrs.field(
        init=False, repr=False, eq=False)
    _kind_cache: dict[str, tuple[int, float | None]] = attrs.field(
        init=False, repr=False, eq=False)
    _fit_groups: frozenset[str] = attrs.field(init=False, repr=False, eq=False)
    _fast: _FastFit | None = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.thresholds, Temperature):
            raise InvalidPolicy(f"thresholds={self.thresholds!r} must be "
                                f"a Temperature")
        groups = {r.group for r in self.fit} | {r.group for r in self.engagement}
        for group in self.caps:
            if group not in groups:
                raise InvalidPolicy(f"caps names the group {group!r}, which no rule uses; groups "
                                    f"are {', '.join(sorted(groups)) or 'none'}")
        clash = {r.group for r in self.fit} & {r.group for r in self.engagement}
        if clash:
            raise InvalidPolicy(f"group {min(clash)!r} holds both fit and engagement rules; "
                                f"give each side its own groups")
        set_ = object.__setattr__
        table = NameTable()
        plan = []
        for r in self.fit:
            unit = round(r.points * _UNITS)
            # Fit entries never change from lead to lead: build each ledger entry once, here.
            entry = LedgerEntry(r.name, r.group, r.points, unit / _UNITS, 1)
            plan.append((compile_expr(r._tree, table), entry, r.group, unit))
        set_(self, "_fit_plan", tuple(plan))
        set_(self, "_resolve", table.freeze())
        set_(self, "_needs_context", any(reads_context(r._tree) for r in self.fit))
        set_(self, "_vector", _Vector.build(self.fit, [step[0] for step in plan]))
        meta = {i: (r.name, r.group) for i, r in enumerate(self.engagement)}
        meta[-1] = ("touchpoint points", "engagement")  # own points, no rule
        set_(self, "_engagement_meta", meta)
        set_(self, "_caps_units", tuple(
            (g, math.floor(c * _UNITS)) for g, c in self.caps.items()))
        set_(self, "_match_cache", {})
        set_(self, "_kind_cache", {})
        set_(self, "_fit_groups", frozenset(r.group for r in self.fit))
        set_(self, "_fast", _FastFit.build(self))

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle and copy by the model's definition; the compiled closures are rebuilt."""
        return (_rebuild_model, (self.fit, self.engagement, dict(self.caps), self.half_life,
                                 self.thresholds))

    # -- building from data ----------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, path: str = "model") -> ScoringModel:
        """Build a model from its data form (what :meth:`to_dict` writes).

        >>> m = ScoringModel.from_dict({"fit": [{"when": "budget > 0", "points": 5}],
        ...                             "engagement": [{"kind": "call", "points": 3}],
        ...                             "half_life": "2 weeks"})
        >>> ScoringModel.from_dict(m.to_dict()) == m
        True
        """
        if not isinstance(data, Mapping):
            raise InvalidPolicy(f"{path}={data!r} must be a mapping with fit, engagement, caps, "
                                f"half_life, temperature")
        unknown = set(data) - {"fit", "engagement", "caps", "half_life", "temperature"}
        if unknown:
            listed = ", ".join(sorted(unknown))
            raise InvalidPolicy(f"{path}: unknown key(s) {listed}; expected fit, "
                                f"engagement, caps, half_life, temperature")

        def build(kind: type[Any], key: str) -> list[Any]:
            items = data.get(key, [])
            if not isinstance(items, Sequence) or isinstance(items, str):
                raise InvalidPolicy(f"{path}.{key}={items!r} must be a list of tables")
            rules: list[Any] = []
            for i, item in enumerate(items):
                where = f"{path}.{key}[{i}]"
                if not isinstance(item, Mapping):
                    raise InvalidPolicy(f"{where}={item!r} must be a table")
                try:
                    if kind is FitRule:
                        rules.append(FitRule(item["when"], item["points"], **{
                            k: item[k] for k in ("name", "group") if k in item}))
                    else:
                        rules.append(EngagementRule(item["points"], **{
                            k: item[k] for k in ("kind", "channel", "name", "group") if k in item}))
                except RuleSyntaxError as exc:
                    raise RuleSyntaxError(f"{where}.when: {exc.msg}", text=str(exc.text),
                                          offset=exc.offset or 1) from None
                except InvalidPolicy as exc:
                    raise InvalidPolicy(f"{where}: {exc}") from None
                except (KeyError, TypeError) as exc:
                    raise InvalidPolicy(f"{where}: {exc}; a fit rule has when and points, an "
                                        f"engagement rule points and kind and/or channel") from None
            return rules

        temperature = data.get("temperature")
        if temperature is not None:
            if not isinstance(temperature, Mapping) or set(temperature) - {"warm", "hot"}:
                raise InvalidPolicy(f"{path}.temperature={temperature!r} must be a table with "
                                    f"warm and hot pairs")
            temperature = Temperature(**temperature)
        return cls(
            build(FitRule, "fit"), build(EngagementRule, "engagement"),
            caps=data.get("caps", {}), half_life=data.get("half_life"),
            thresholds=temperature or Temperature(),
        )

    def to_dict(self) -> dict[str, Any]:
        """The model's data form (plain lists, dicts, strings and numbers)."""
        data: dict[str, Any] = {
            "fit": [r.to_data() for r in self.fit],
            "engagement": [r.to_data() for r in self.engagement],
        }
        if self.caps:
            data["caps"] = {k: _plain(v) for k, v in self.caps.items()}
        if self.half_life is not None:
            data["half_life"] = _half_life_data(self.half_life)
        if self.thresholds != Temperature():
            t = self.thresholds
            data["temperature"] = {"warm": [_plain(x) for x in t.warm],
                                   "hot": [_plain(x) for x in t.hot]}
        return data

    # -- scoring ----------------------------------------------------------------------------
    #
    # The hot path.  Fit rules were compiled once into closures over a shared name table and their
    # ledger entries built once; per lead this resolves each attribute name once, runs the tests in
    # one comprehension, and adds integers (units of 1/1024 point), so the sums are exact.

    def _rule_for(self, kind: str, channel: str) -> tuple[int, float | None]:
        found: tuple[int, float | None] = (-1, None)
        for i, rule in enumerate(self.engagement):
            if (rule.kind is None or rule.kind == kind) and (
                rule.channel is None or rule.channel == channel
            ):
                found = (i, rule.points)
                break
        if len(self._match_cache) < 10_000:
            self._match_cache[kind, channel] = found
        if kind not in self._kind_cache and len(self._kind_cache) < 10_000:
            # When the first rule that can take this kind names no channel, every touchpoint of
            # the kind finds it whatever its channel: remember that by kind alone.
            for i, rule in enumerate(self.engagement):
                if rule.kind is None or rule.kind == kind:
                    if rule.channel is None:
                        self._kind_cache[kind] = (i, rule.points)
                    break
            else:
                self._kind_cache[kind] = (-1, None)
        return found

    def score(
        self,
        lead: Lead,
        touchpoints: Iterable[Touchpoint] = (),
        *,
        at: datetime,
        context: Context | None = None,
    ) -> Score:
        """Score *lead* at *at* from its attributes and *touchpoints*.

        Touchpoints after *at* do not count; the others decay by the model's half-life.
        ``context`` (a :class:`funnelkit.Context`) is passed to fit conditions that read the time
        or touchpoints; without one, a context at *at* with these touchpoints is used.
        """
        if type(at) is not datetime or at.tzinfo is None or not _MIN_TIME <= at < _MAX_TIME:
            require_aware(at)
        if type(lead) is not Lead:
            raise InvalidInput(f"lead={_short(lead)} is not a funnelkit.Lead")
        if context is not None and type(context) is not Context:
            raise InvalidInput(f"context={_short(context)} must be a funnelkit.Context or None")
        if type(touchpoints) is not tuple:
            if isinstance(touchpoints, str | bytes | Mapping) or not isinstance(
                    touchpoints, Iterable):
                raise InvalidInput(f"touchpoints={_short(touchpoints)} must be an iterable of "
                                   f"funnelkit.Touchpoint")
            touchpoints = tuple(touchpoints)
        try:
            return self._score(lead, touchpoints, at, context)
        except (AttributeError, TypeError):
            for tp in touchpoints:  # the cost of the check is paid only when something failed
                if not isinstance(tp, Touchpoint):
                    raise InvalidInput(
                        f"touchpoints holds {_short(tp)}, not a funnelkit.Touchpoint") from None
            raise

    def _score(
        self, lead: Lead, touchpoints: tuple[Touchpoint, ...], at: datetime,
        context: Context | None,
    ) -> Score:
        """:meth:`score` once its arguments are known to be right."""
        fast = self._fast
        if fast is None:  # several fit or engagement groups: the general path
            return self._score_eager(lead, touchpoints, at, context)
        attributes = lead.attributes
        values = list(map(attributes.get, fast.names))
        try:  # one table lookup per attribute (see _ValueTable)
            fit_units: int = sum(map(_getitem, fast.tables, values))
        except TypeError:  # an unhashable attribute value: the general path
            return self._score_eager(lead, touchpoints, at, context)
        rest: list[int] | None = None
        if fast.rest:
            rest = self._rest_hits(fast, lead, touchpoints, at, context)
            plan = self._fit_plan
            for index in rest:
                fit_units += plan[index][3]
        engagement_units = 0
        sums: dict[int, float] | None = None
        if touchpoints:
            # Per rule, the decayed points of its touchpoints summed in order, then rounded once
            # to 1/1024: the arithmetic of the general path's _engagement.  The ledger, when it
            # is read, takes its points from these very sums (see _write_ledger), so it adds up.
            sums = {}
            sums_get = sums.get
            cache_get = self._match_cache.get
            kind_get = self._kind_cache.get
            seconds = fast.seconds
            half_life = self.half_life
            for tp in touchpoints:
                touched = tp.at
                if touched > at:
                    continue
                index, points = kind_get(tp.kind) or cache_get(
                    (tp.kind, tp.channel)) or self._rule_for(tp.kind, tp.channel)
                own = tp.points
                if own is not None:  # clamped like rule points, which keeps sums exact
                    points = own if -_MAX_POINTS <= own <= _MAX_POINTS else math.copysign(
                        _MAX_POINTS, own)
                elif points is None:
                    continue
                if seconds is not None:
                    decayed = points * 0.5 ** ((at - touched).total_seconds() / seconds)
                elif half_life is None:
                    decayed = points
                else:
                    decayed = points * _decay(touched, at, half_life)
                # 0.0 + x is x (bar the sign of a zero): this adds exactly like the ledger
                sums[index] = sums_get(index, 0.0) + decayed
            for decayed in sums.values():
                engagement_units += round(decayed * _UNITS)
        fit = fit_units
        cap = fast.fit_cap
        if cap is not None and fit > cap:
            fit = cap
        engagement = engagement_units
        cap = fast.engagement_cap
        if cap is not None and engagement > cap:
            engagement = cap
        return _tuple_new(Score, (
            fit / _UNITS, engagement / _UNITS, (fit + engagement) / _UNITS,
            [None, self, values, rest, sums, touchpoints, at, fit_units, engagement_units],
        ))

    def _rest_hits(
        self,
        fast: _FastFit,
        lead: Lead,
        touchpoints: tuple[Touchpoint, ...],
        at: datetime,
        context: Context | None,
    ) -> list[int]:
        """Indices of the fit rules outside the attribute tables that *lead* meets."""
        ctx = context
        if ctx is None and self._needs_context:
            ctx = _tuple_new(Context, (at, touchpoints, None, _NO_DATA, None))
        attributes = lead.attributes
        vector = fast.rest_vector
        indices = fast.rest
        try:
            results = list(map(_call, vector.ops, vector.consts,
                               map(attributes.get, vector.names, vector.absent)))
            env = self._resolve(attributes, lead, ctx, None) if vector.general else []
            return list(compress(indices, [
                results[j] if k == 1 else all(results[j:j + k]) if k else _safe(test, env, ctx)
                for j, k, test in vector.spans
            ]))
        except EVAL_ERRORS:  # a value a rule cannot use: that rule alone does not match
            env = self._resolve(attributes, lead, ctx, None)
            plan = self._fit_plan
            return [i for i in indices if _safe(plan[i][0], env, ctx)]

    def _write_ledger(self, pending: list[Any]) -> tuple[LedgerEntry, ...]:
        """The ledger of a score from the fast path (``Score.ledger`` calls this once)."""
        _, _, values, rest, sums, touchpoints, at, fit_units, engagement_units = pending
        fast = self._fast
        assert fast is not None  # only fast-path scores are pending
        found: list[Any] = list(map(_dict_get, fast.indices, values))
        if None in found:  # a value the table did not remember: work it out again
            found = [table.indices(value) for table, value in zip(fast.tables, values, strict=True)]
        if rest:
            found.append(rest)
        plan = self._fit_plan
        # Each rule is in one table (or in rest) only, so the indices never repeat.
        ledger = [plan[i][1] for i in sorted(chain.from_iterable(found))]
        if sums:
            detail = self._engagement_detail(touchpoints, at)
            meta = self._engagement_meta
            for index in sorted(sums):
                raw, count = detail[index]
                name, group = meta[index]
                unit = round(sums[index] * _UNITS)
                ledger.append(_tuple_new(LedgerEntry, (name, group, float(raw), unit / _UNITS,
                                                       count)))
        for group, cap in self._caps_units:
            have = fit_units if group == fast.fit_group else engagement_units
            if have > cap:
                cut = cap - have
                ledger.append(_tuple_new(LedgerEntry, (f"cap {group}", group, cut / _UNITS,
                                                       cut / _UNITS, 0)))
        return tuple(ledger)

    def _engagement_detail(
        self, touchpoints: tuple[Touchpoint, ...], at: datetime
    ) -> dict[int, tuple[float, int]]:
        """Per engagement rule index: the raw points and the number of touchpoints that count."""
        detail: dict[int, tuple[float, int]] = {}
        for tp in touchpoints:
            if tp.at > at:
                continue
            index, points = self._match_cache.get((tp.kind, tp.channel)) or self._rule_for(
                tp.kind, tp.channel)
            own = tp.points
            if own is not None:
                points = own if -_MAX_POINTS <= own <= _MAX_POINTS else math.copysign(
                    _MAX_POINTS, own)
            elif points is None:
                continue
            raw, count = detail.get(index, (0.0, 0))
            detail[index] = (points if count == 0 else raw + points, count + 1)
        return detail

    def _score_eager(
        self,
        lead: Lead,
        touchpoints: tuple[Touchpoint, ...],
        at: datetime,
        context: Context | None,
    ) -> Score:
        """The general path: every fit and engagement group, the ledger written at once."""
        ctx = context
        if ctx is None and self._needs_context:
            ctx = _tuple_new(Context, (at, touchpoints, None, _NO_DATA, None))
        attributes = lead.attributes
        vector = self._vector
        try:
            results = list(map(_call, vector.ops, vector.consts,
                               map(attributes.get, vector.names, vector.absent)))
            if vector.simple:
                hits = list(compress(self._fit_plan, results))
            else:
                env = self._resolve(attributes, lead, ctx, None) if vector.general else []
                hits = list(compress(self._fit_plan, [
                    results[j] if k == 1 else all(results[j:j + k]) if k else _safe(test, env, ctx)
                    for j, k, test in vector.spans
                ]))
        except EVAL_ERRORS:  # a value a rule cannot use: that rule alone does not match
            env = self._resolve(attributes, lead, ctx, None)
            hits = [step for step in self._fit_plan if _safe(step[0], env, ctx)]
        ledger = [step[1] for step in hits]
        units: dict[str, int] = {}
        for step in hits:
            group = step[2]
            units[group] = units.get(group, 0) + step[3]
        if touchpoints:
            self._engagement(touchpoints, at, units, ledger)
        return self._finish(units, ledger)

    def _engagement(
        self,
        touchpoints: tuple[Touchpoint, ...],
        at: datetime,
        units: dict[str, int],
        ledger: list[LedgerEntry],
    ) -> None:
        half_life = self.half_life
        seconds = half_life.total_seconds() if isinstance(half_life, timedelta) else None
        cache_get = self._match_cache.get
        acc: dict[int, list[Any]] = {}
        for tp in touchpoints:
            touched = tp.at
            if touched > at:
                continue
            found = cache_get((tp.kind, tp.channel))
            if found is None:
                found = self._rule_for(tp.kind, tp.channel)
            index, points = found
            own = tp.points
            if own is not None:  # clamped like rule points, which keeps the sums exact
                points = own if -_MAX_POINTS <= own <= _MAX_POINTS else math.copysign(
                    _MAX_POINTS, own)
            elif points is None:
                continue
            if half_life is None:
                decayed = points
            elif seconds is not None:
                decayed = points * 0.5 ** ((at - touched).total_seconds() / seconds)
            else:
                decayed = points * _decay(touched, at, half_life)
            slot = acc.get(index)
            if slot is None:
                acc[index] = [points, decayed, 1]
            else:
                slot[0] += points
                slot[1] += decayed
                slot[2] += 1
        meta = self._engagement_meta
        for index in sorted(acc) if len(acc) > 1 else acc:
            raw, decayed, count = acc[index]
            name, group = meta[index]
            unit = round(decayed * _UNITS)
            units[group] = units.get(group, 0) + unit
            ledger.append(_tuple_new(LedgerEntry, (name, group, float(raw), unit / _UNITS, count)))

    def _finish(self, units: dict[str, int], ledger: list[LedgerEntry]) -> Score:
        for group, cap in self._caps_units:
            have = units.get(group, 0)
            if have > cap:
                cut = cap - have
                units[group] = cap
                ledger.append(_tuple_new(LedgerEntry, (f"cap {group}", group, cut / _UNITS,
                                                       cut / _UNITS, 0)))
        fit_units = 0
        engagement_units = 0
        fit_groups = self._fit_groups
        for group, value in units.items():
            if group in fit_groups:
                fit_units += value
            else:
                engagement_units += value
        return _tuple_new(Score, (
            fit_units / _UNITS, engagement_units / _UNITS, (fit_units + engagement_units) / _UNITS,
            tuple(ledger),
        ))

    def temperature(self, score: Score) -> TemperatureName:
        """``"cold"``, ``"warm"`` or ``"hot"`` for *score*, from the model's thresholds."""
        return self.thresholds(score)

    def __call__(
        self, lead: Lead, touchpoints: Iterable[Touchpoint] = (), *, at: datetime
    ) -> Score:
        """Same as :meth:`score`."""
        return self.score(lead, touchpoints, at=at)
