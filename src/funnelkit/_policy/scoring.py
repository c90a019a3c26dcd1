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
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from itertools import chain
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal, Self, TypeAlias, TypeGuard

import attrs

from funnelkit._core.decision import Context, make_context
from funnelkit._core.errors import InvalidInput, InvalidPolicy, RuleSyntaxError
from funnelkit._core.lead import Lead
from funnelkit._core.limits import MAX_DURATION, MAX_TIME, MIN_TIME, _short, items_of
from funnelkit._core.record import Field, Record, field, maker
from funnelkit._core.time import require_aware
from funnelkit._core.touchpoint import Touchpoint
from funnelkit._policy.rules import (
    Clause,
    NameTable,
    Node,
    Resolver,
    ValueTable,
    compile_rule,
    holds,
    parse,
    reads_context,
    table_name,
)

if TYPE_CHECKING:
    # dateutil (and the calendar module it loads) is imported only for calendar half-lives.
    from dateutil.relativedelta import relativedelta

    HalfLife: TypeAlias = timedelta | relativedelta

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
_getitem = operator.getitem
_dict_get = dict.get
# Shared by every score that has none (never changed): no rules met, no touchpoints.
_NO_HITS: tuple[int, ...] = ()
_NONE_DECAYED: dict[int, float] = {}

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
        return super().__new__(cls, (rule, group, *numbers, matches))


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
        return super().__new__(cls, (float(fit), float(engagement), float(total), ledger))

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


# The one unchecked constructor of each record type (see funnelkit._core.record.maker).
make_ledger_entry = maker(LedgerEntry)
make_score = maker(Score)


def _rebuild_score(
    fit: float, engagement: float, total: float, ledger: tuple[LedgerEntry, ...]
) -> Score:
    return make_score((fit, engagement, total, ledger))


def _rebuild_model(
    fit: tuple[FitRule, ...],
    engagement: tuple[EngagementRule, ...],
    caps: dict[str, float],
    half_life: HalfLife | None,
    thresholds: Temperature,
) -> ScoringModel:
    return ScoringModel(fit, engagement, caps=caps, half_life=half_life, thresholds=thresholds)


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


def _is_relativedelta(value: object) -> TypeGuard[relativedelta]:
    """True for a dateutil ``relativedelta`` (none can exist before dateutil is imported)."""
    module = sys.modules.get("dateutil.relativedelta")
    return module is not None and isinstance(value, module.relativedelta)


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
    if isinstance(half_life, timedelta):
        days = half_life.total_seconds() / 86400
    else:
        days = (half_life.years * 365.25 + half_life.months * 30.44 + half_life.days
                + half_life.hours / 24 + half_life.minutes / 1440
                + half_life.seconds / 86400)
    if days > MAX_DURATION.days:
        raise InvalidPolicy(f"{name}={_short(given)} is longer than ten years, the longest "
                            f"half-life funnelkit takes (leave half_life out for no decay)")
    return half_life


def _half_life_of(value: object, name: str) -> HalfLife:
    if isinstance(value, timedelta):
        if value <= timedelta(0):
            raise InvalidPolicy(f"{name}={value!r} must be longer than zero")
        return value
    if _is_relativedelta(value):
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
                    from dateutil.relativedelta import relativedelta  # noqa: PLC0415 - see above

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
    if not (half_life is None or isinstance(half_life, timedelta)
            or _is_relativedelta(half_life)):
        raise InvalidInput(f"half_life={_short(half_life)} must be a timedelta, a relativedelta "
                           f"or None; parse_half_life turns '30 days' into one")
    return _decay(touched, at, half_life)


def _decay(touched: datetime, at: datetime, half_life: HalfLife | None) -> float:
    """:func:`decay_factor` of checked arguments: the one decay, the scorer's included."""
    if half_life is None or at <= touched:
        return 1.0
    if isinstance(half_life, timedelta):
        factor: float = 0.5 ** ((at - touched).total_seconds() / half_life.total_seconds())
    else:
        factor = 0.5 ** _half_lives(touched, at, half_life)
    return factor


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


@attrs.frozen(eq=False)
class _Plan:
    """What :meth:`ScoringModel.score` reads, compiled once when the model is built.

    Groups have slots, fit groups first: scoring adds each group's units into its slot.
    """

    groups: tuple[str, ...]  # every group, fit groups first
    fit_slots: int  # how many of them are fit groups
    fit_clauses: tuple[tuple[Clause, ...], ...]  # per fit rule (see funnelkit._policy.rules)
    fit_entries: tuple[LedgerEntry, ...]  # per fit rule: its ledger entry, built once
    fit_units: tuple[int, ...]  # per fit rule: its points in units of RESOLUTION
    fit_slot: tuple[int, ...]  # per fit rule: the slot of its group
    resolve: Resolver
    needs_context: bool
    table_names: tuple[str, ...]  # the attribute each value table reads, by group
    tables: tuple[ValueTable, ...]
    fit_parts: tuple[tuple[int, int, int], ...]  # per fit group: slot, its tables' first, end
    rest: tuple[int, ...]  # the fit rules no table holds
    engagement_meta: dict[int, tuple[str, str, int]]  # per engagement rule index: name, group, slot
    caps: tuple[tuple[int, int], ...]  # slot and cap in units, in the order of the model's caps
    match_cache: dict[tuple[str, str], tuple[int, float | None]]
    kind_cache: dict[str, tuple[int, float | None]]
    # The usual layout, one fit group and every engagement rule in ``engagement``, caps the two
    # sums directly; any other layout adds up each group (units, capped; the test suite proves
    # the two agree).  None: that side has no cap.
    simple: bool
    fit_cap: int | None
    engagement_cap: int | None
    seconds: float | None  # a fixed half-life in seconds (None: none, or a calendar one)

    def table_units(self, values: list[Any]) -> list[int]:
        """Each value table's units for its attribute's value (in ``table_names`` order)."""
        try:
            return list(map(_getitem, self.tables, values))
        except TypeError:  # an unhashable attribute value: worked out, not remembered
            return [t.contribution(v)[0] for t, v in zip(self.tables, values, strict=True)]

    def units(
        self, values: list[Any], rest: Sequence[int], decayed: Mapping[int, float]
    ) -> list[int]:
        """Each group's units, before caps, from what ``ScoringModel._score`` found."""
        units = [0] * len(self.groups)
        found = self.table_units(values)
        for slot, start, stop in self.fit_parts:
            units[slot] = sum(found[start:stop])
        for index in rest:
            units[self.fit_slot[index]] += self.fit_units[index]
        for index, points in decayed.items():  # each rule's sum is rounded once
            units[self.engagement_meta[index][2]] += round(points * _UNITS)
        return units

    def capped(self, units: list[int]) -> tuple[int, int]:
        """The fit and engagement units once each group is capped."""
        capped = list(units)
        for slot, cap in self.caps:
            capped[slot] = min(capped[slot], cap)
        return sum(capped[:self.fit_slots]), sum(capped[self.fit_slots:])

    @classmethod
    def build(cls, model: ScoringModel) -> _Plan:
        table = NameTable()
        clauses = tuple(compile_rule(r._tree, table, text=r.when) for r in model.fit)
        units = tuple(round(r.points * _UNITS) for r in model.fit)
        groups = tuple(dict.fromkeys([r.group for r in model.fit] + ["engagement"]
                                     + [r.group for r in model.engagement]))
        slot = {group: i for i, group in enumerate(groups)}
        fit_slots = len({r.group for r in model.fit})
        # Per fit group, one table per attribute for the rules that only compare it with literals.
        by_group: dict[str, dict[str, list[tuple[int, tuple[Clause, ...], int]]]] = {
            group: {} for group in groups[:fit_slots]}
        rest = []
        for index, (rule, parts) in enumerate(zip(model.fit, clauses, strict=True)):
            name = table_name(parts)
            if name is None:
                rest.append(index)
            else:
                by_group[rule.group].setdefault(name, []).append((index, parts, units[index]))
        size = len(table.names)
        names: list[str] = []
        tables: list[ValueTable] = []
        fit_parts = []
        for group, by_name in by_group.items():
            start = len(tables)
            for name, rules in by_name.items():
                names.append(name)
                tables.append(ValueTable(rules, slot=table.slot(name), size=size))
            fit_parts.append((slot[group], start, len(tables)))
        meta = {i: (r.name, r.group, slot[r.group]) for i, r in enumerate(model.engagement)}
        meta[-1] = ("touchpoint points", "engagement", slot["engagement"])  # own points, no rule
        caps = {g: math.floor(c * _UNITS) for g, c in model.caps.items()}
        fit_cap = caps.get(groups[0]) if fit_slots == 1 else None
        return cls(
            groups, fit_slots, clauses,
            tuple(LedgerEntry(r.name, r.group, r.points, u / _UNITS, 1)
                  for r, u in zip(model.fit, units, strict=True)),
            units, tuple(slot[r.group] for r in model.fit),
            table.freeze(), any(reads_context(r._tree) for r in model.fit),
            tuple(names), tuple(tables), tuple(fit_parts), tuple(rest), meta,
            tuple((slot[g], cap) for g, cap in caps.items()), {}, {},
            fit_slots <= 1 and len(groups) == fit_slots + 1, fit_cap, caps.get("engagement"),
            model.half_life.total_seconds() if isinstance(model.half_life, timedelta) else None,
        )


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
    _plan: _Plan = attrs.field(init=False, repr=False, eq=False)  # compiled once, see _Plan

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
        object.__setattr__(self, "_plan", _Plan.build(self))

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
    # The hot path.  Fit rules were compiled once over a shared name table, grouped into value
    # tables where they only compare one attribute with literals, and their ledger entries built
    # once; per lead this looks each table's attribute up once, runs the other rules' clauses, and
    # adds integers (units of 1/1024 point), so the sums are exact.  The ledger is written from
    # what scoring kept, the first time it is read (see Score.ledger and _write_ledger).

    def _rule_for(self, kind: str, channel: str) -> tuple[int, float | None]:
        found: tuple[int, float | None] = (-1, None)
        for i, rule in enumerate(self.engagement):
            if (rule.kind is None or rule.kind == kind) and (
                rule.channel is None or rule.channel == channel
            ):
                found = (i, rule.points)
                break
        if len(self._plan.match_cache) < 10_000:
            self._plan.match_cache[kind, channel] = found
        if kind not in self._plan.kind_cache and len(self._plan.kind_cache) < 10_000:
            # When the first rule that can take this kind names no channel, every touchpoint of
            # the kind finds it whatever its channel: remember that by kind alone.
            for i, rule in enumerate(self.engagement):
                if rule.kind is None or rule.kind == kind:
                    if rule.channel is None:
                        self._plan.kind_cache[kind] = (i, rule.points)
                    break
            else:
                self._plan.kind_cache[kind] = (-1, None)
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
        context: Context | None, counted: list[Any] | None = None,
    ) -> Score:
        """:meth:`score` once its arguments are known to be right.

        With *counted*, also appends the rule index and the points of every touchpoint that
        counts: what the ledger needs beyond the sums (see :meth:`_write_ledger`).
        """
        plan = self._plan
        values = list(map(lead.attributes.get, plan.table_names))
        rest = self._rest_hits(lead, touchpoints, at, context) if plan.rest else _NO_HITS
        decayed: dict[int, float] = _NONE_DECAYED  # per engagement rule index: decayed points
        if touchpoints:
            decayed = {}
            # The one clamp-and-decay loop.  A touchpoint counts for the first rule it matches
            # (-1: none, but it has points of its own), its own points replacing the rule's,
            # clamped like rule points (which keeps the sums exact); touchpoints after ``at`` do
            # not count.  A fixed half-life decays as decay_factor does, written out here (a call
            # per touchpoint costs more than the arithmetic; the tests hold the two equal).
            half_life = self.half_life
            seconds = plan.seconds
            kind_get = plan.kind_cache.get
            rule_get = plan.match_cache.get
            decayed_get = decayed.get
            for tp in touchpoints:
                touched = tp.at
                if touched > at:
                    continue
                index, points = kind_get(tp.kind) or rule_get(
                    (tp.kind, tp.channel)) or self._rule_for(tp.kind, tp.channel)
                own = tp.points
                if own is not None:
                    points = own if -_MAX_POINTS <= own <= _MAX_POINTS else math.copysign(
                        _MAX_POINTS, own)
                elif points is None:
                    continue
                if seconds is not None:
                    points_now = points * 0.5 ** ((at - touched).total_seconds() / seconds)
                else:
                    points_now = points * _decay(touched, at, half_life)
                decayed[index] = decayed_get(index, 0.0) + points_now
                if counted is not None:  # the ledger's run (see _write_ledger)
                    counted += (index, points)
        if plan.simple:
            try:  # one lookup per table (see ValueTable)
                fit = sum(map(_getitem, plan.tables, values))
            except TypeError:  # an unhashable attribute value
                fit = sum(plan.table_units(values))
            for index in rest:
                fit += plan.fit_units[index]
            engagement = 0
            for points_now in decayed.values():  # each rule's sum is rounded once
                engagement += round(points_now * _UNITS)
            cap = plan.fit_cap
            if cap is not None and fit > cap:
                fit = cap
            cap = plan.engagement_cap
            if cap is not None and engagement > cap:
                engagement = cap
        else:
            fit, engagement = plan.capped(plan.units(values, rest, decayed))
        return make_score((
            fit / _UNITS, engagement / _UNITS, (fit + engagement) / _UNITS,
            [None, self, values, rest, decayed, lead, touchpoints, at, context],
        ))

    def _rest_hits(
        self,
        lead: Lead,
        touchpoints: tuple[Touchpoint, ...],
        at: datetime,
        context: Context | None,
    ) -> list[int]:
        """Indices of the fit rules outside the value tables that *lead* meets."""
        plan = self._plan
        ctx = context
        if ctx is None and plan.needs_context:
            ctx = make_context((at, touchpoints, None, _NO_DATA, None))
        env = plan.resolve(lead.attributes, lead, ctx, None)
        clauses = plan.fit_clauses
        return [i for i in plan.rest if holds(clauses[i], env, ctx)]

    def _write_ledger(self, pending: list[Any]) -> tuple[LedgerEntry, ...]:
        """The ledger of a score (``Score.ledger`` calls this once, on first read)."""
        _, _, values, rest, decayed, lead, touchpoints, at, context = pending
        counted: list[Any] = []
        if decayed:  # run the scoring again, recording the rule and points of each touchpoint
            self._score(lead, touchpoints, at, context, counted)
        plan = self._plan
        tables = plan.tables
        try:
            found: list[Any] = list(map(_dict_get, [t.hits for t in tables], values))
        except TypeError:  # an unhashable value
            found = [None]
        if None in found:  # a value a table did not remember: work it out again
            found = [table.indices(value) for table, value in zip(tables, values, strict=True)]
        entries = plan.fit_entries
        # Each rule is in one table (or in rest) only, so the indices never repeat.
        ledger = [entries[i] for i in sorted(chain(chain.from_iterable(found), rest))]
        raw: dict[int, list[Any]] = {}  # per engagement rule index: its points, its touchpoints
        for index, points in zip(counted[::2], counted[1::2], strict=True):
            sums = raw.get(index)
            if sums is None:
                raw[index] = [points, 1]
            else:
                sums[0] += points
                sums[1] += 1
        for index in sorted(decayed):
            name, group, _ = plan.engagement_meta[index]
            points, count = raw[index]
            ledger.append(make_ledger_entry((
                name, group, float(points), round(decayed[index] * _UNITS) / _UNITS, count)))
        units = plan.units(values, rest, decayed)
        for slot, cap in plan.caps:
            over = units[slot] - cap
            if over > 0:
                group = plan.groups[slot]
                ledger.append(make_ledger_entry((f"cap {group}", group, -over / _UNITS,
                                                       -over / _UNITS, 0)))
        return tuple(ledger)

    def temperature(self, score: Score) -> TemperatureName:
        """``"cold"``, ``"warm"`` or ``"hot"`` for *score*, from the model's thresholds."""
        return self.thresholds(score)

    def __call__(
        self, lead: Lead, touchpoints: Iterable[Touchpoint] = (), *, at: datetime
    ) -> Score:
        """Same as :meth:`score`."""
        return self.score(lead, touchpoints, at=at)
