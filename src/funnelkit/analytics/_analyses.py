"""The analyses both engines offer: arguments checked once, statistics in, results out.

An engine (the in-memory :class:`~funnelkit.analytics.FunnelLog`, the SQL
:class:`~funnelkit.analytics.sql.SqlLog`) implements the ``_*_counts`` methods, which return
small sufficient statistics; everything a user calls lives here, once.
"""

from __future__ import annotations

import difflib
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, overload

from dateutil.relativedelta import relativedelta

from funnelkit._core.errors import InvalidInput
from funnelkit._core.time import parse_duration, require_aware
from funnelkit.analytics._attribution import Attribution, Journey, attribute, check_model
from funnelkit.analytics._estimators import Stays, Survival, ratio, stays_from_counts, td
from funnelkit.analytics._results import (
    CohortRow,
    Cohorts,
    Conversion,
    HandoffsReport,
    PeriodCount,
    StepRow,
    TeamHandoffs,
    TimeToOutcome,
    Velocity,
)

if TYPE_CHECKING:
    from funnelkit._core.lead import Lead
    from funnelkit._definition.funnel import Funnel

__all__ = [
    "By", "HandoffCounts", "VelocityCounts", "main_path", "period_starts", "value_of",
]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US = timedelta(microseconds=1)
By = str | Callable[["Lead"], str | None] | None
"""A breakdown: ``"channel"``, ``"kind"``, ``"owner"``, a function of the lead, or None."""
_BY_NAMES = ("channel", "kind", "owner")
PERIODS = ("day", "week", "month", "quarter", "year")
_STEP: dict[str, relativedelta] = {
    "day": relativedelta(days=1), "week": relativedelta(weeks=1),
    "month": relativedelta(months=1), "quarter": relativedelta(months=3),
    "year": relativedelta(years=1),
}


def to_us(value: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime."""
    return (value - EPOCH) // US


def main_path(funnel: Funnel) -> tuple[str, ...]:
    """:attr:`Funnel.main_path <funnelkit.Funnel.main_path>`, which must end in a won stage.

    >>> from funnelkit import templates
    >>> main_path(templates.inbound())
    ('subscriber', 'lead', 'mql', 'sql', 'opportunity', 'customer')
    """
    if not any(stage.outcome == "won" for stage in funnel.stages):
        raise InvalidInput(
            f"funnel {funnel.name!r} has no won stage, so it has no main path; pass steps=[...] "
            f"naming the stages to count")
    return funnel.main_path


def _unknown_stage(funnel: Funnel, name: object, what: str) -> InvalidInput:
    names = [s.name for s in funnel.stages]
    close = difflib.get_close_matches(str(name), names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return InvalidInput(
        f"{what}={name!r} is not a stage of funnel {funnel.name!r}{hint}; stages are "
        f"{', '.join(names)}")


def check_stage(funnel: Funnel, name: object, what: str, *, open_only: bool = False) -> str:
    """*name* if it is a stage of *funnel* (an open one with *open_only*), else InvalidInput."""
    if not isinstance(name, str) or name not in {s.name for s in funnel.stages}:
        raise _unknown_stage(funnel, name, what)
    if open_only and not funnel.stage(name).is_open:
        opens = ", ".join(s.name for s in funnel.stages if s.is_open)
        raise InvalidInput(
            f"{what}={name!r} is a closed ({funnel.stage(name).outcome}) stage: leads do not "
            f"stay there; name an open stage ({opens})")
    return name


def check_by(by: object) -> By:
    """A valid breakdown, or InvalidInput saying which ones there are."""
    if by is None or callable(by) or (isinstance(by, str) and by in _BY_NAMES):
        return by
    raise InvalidInput(
        f"by={by!r} is not a breakdown; use 'channel', 'kind' (seed / net / spear), 'owner', "
        f"a function taking a Lead and returning a string or None, or None")


def by_name(by: By) -> str | None:
    """How a breakdown is named in results: its string, a function's name, or None."""
    if by is None or isinstance(by, str):
        return by
    return getattr(by, "__name__", type(by).__name__)


def group_of(by: By, lead: Lead) -> str | None:
    """The group of *lead* under the breakdown *by* (the in-memory engine's rule)."""
    if by == "channel":
        return None if lead.source is None else lead.source.channel
    if by == "kind":
        return None if lead.source is None else lead.source.kind
    if by == "owner":
        return lead.owner
    assert callable(by)
    key = by(lead)
    if key is not None and not isinstance(key, str):
        raise InvalidInput(
            f"by={by_name(by)!r} returned {key!r} for lead {lead.id!r}; a breakdown function "
            f"must return a string or None")
    return key


@overload
def value_of(
    value: str | Callable[[Lead], Any], lead: Lead, *, required: Literal[True]
) -> float: ...
@overload
def value_of(
    value: str | Callable[[Lead], Any], lead: Lead, *, required: bool = False
) -> float | None: ...
def value_of(
    value: str | Callable[[Lead], Any], lead: Lead, *, required: bool = False
) -> float | None:
    """The value of *lead* (a numeric attribute, or what a function gives): finite, or None.

    With *required*, a lead without a value is an error rather than None.
    """
    raw = lead.attributes.get(value) if isinstance(value, str) else value(lead)
    if raw is None:
        if required:
            raise InvalidInput(
                f"lead {lead.id!r} has no value; give every lead counted a value, or pass "
                f"value=None")
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise InvalidInput(
            f"value of lead {lead.id!r} is {raw!r}, not a number; store numeric values, or pass "
            f"value= a function that converts them")
    if not math.isfinite(raw):
        raise InvalidInput(f"value of lead {lead.id!r} is {raw!r}; values must be finite")
    return float(raw)


def duration_us(value: object, name: str) -> int:
    """A calendar duration (``"30 days"`` or a timedelta) in microseconds, checked."""
    duration = parse_duration(value, name=name)  # type: ignore[arg-type]
    if duration.business:
        raise InvalidInput(
            f"{name}={value!r} is in business time; analytics measure calendar time: write "
            f"'{int(duration.amount)} {duration.unit}'")
    us = duration.as_timedelta() // US
    if us <= 0:
        raise InvalidInput(f"{name}={value!r} must be at least one microsecond long")
    return us


def period_starts(period: object, first: datetime, as_of: datetime) -> list[datetime]:
    """The starts of every *period* from the one holding *first* to the one holding *as_of*.

    Periods are calendar periods in ``as_of``'s timezone (weeks start on Monday).

    >>> from datetime import datetime, timezone
    >>> utc = timezone.utc
    >>> [d.month for d in period_starts("month", datetime(2026, 1, 9, tzinfo=utc),
    ...                                  datetime(2026, 3, 2, tzinfo=utc))]
    [1, 2, 3]
    """
    if period not in PERIODS:
        raise InvalidInput(f"period={period!r} must be one of {', '.join(PERIODS)}")
    tz = as_of.tzinfo
    local = first.astimezone(tz)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":
        start -= timedelta(days=start.weekday())
    elif period == "month":
        start = start.replace(day=1)
    elif period == "quarter":
        start = start.replace(day=1, month=3 * ((start.month - 1) // 3) + 1)
    elif period == "year":
        start = start.replace(day=1, month=1)
    step = _STEP[period]
    starts = [start]
    n = 1
    # Each start is computed from the first one (wall clock in as_of's zone), so a month that
    # begins on the 31st or a DST change never drifts.
    while True:
        nxt = (start.replace(tzinfo=None) + n * step).replace(tzinfo=tz)
        if nxt > as_of:
            return starts
        starts.append(nxt)
        n += 1


class HandoffCounts:
    """What an engine counts of the handoffs to one team (see :class:`TeamHandoffs`)."""

    __slots__ = ("accepted", "expired", "handed", "pending", "reasons", "rejected", "sla_breached",
                 "sla_met", "sla_open", "speed")

    def __init__(self) -> None:
        """All zero."""
        self.handed = self.accepted = self.rejected = self.expired = self.pending = 0
        self.sla_met = self.sla_breached = self.sla_open = 0
        self.speed: list[tuple[int, int, int]] = []  # (duration_us, events, censored)
        self.reasons: dict[tuple[str | None, str], int] = {}


class VelocityCounts:
    """What an engine counts for :meth:`Analyses.velocity`."""

    __slots__ = ("cycle_n", "cycle_sum_us", "opp_lost", "opp_open", "opp_won", "qualified",
                 "value_n", "value_sum")

    def __init__(self, periods: int) -> None:
        """All zero, with *periods* period counts."""
        self.qualified = [0] * periods
        self.opp_open = self.opp_won = self.opp_lost = 0
        self.cycle_n = self.cycle_sum_us = 0
        self.value_n = 0
        self.value_sum = 0.0


def step_rows(
    steps: tuple[str, ...], counts: Mapping[tuple[int, bool], int]
) -> tuple[StepRow, ...]:
    """Rows from ``(furthest step index, still open) -> leads``."""
    k = len(steps)
    at = [[0, 0] for _ in range(k)]  # [closed, open] leads whose furthest step is i
    for (furthest, is_open), n in counts.items():
        at[furthest][int(is_open)] += n
    rows: list[StepRow] = []
    entered_after = 0
    entered = [0] * k
    for i in range(k - 1, -1, -1):
        entered_after += at[i][0] + at[i][1]
        entered[i] = entered_after
    for i, name in enumerate(steps):
        last = i == k - 1
        converted = None if last else entered[i + 1]
        rows.append(StepRow(
            step=name, entered=entered[i], converted=converted,
            open=None if last else at[i][1], dropped=None if last else at[i][0],
            rate_from_first=ratio(entered[i], entered[0]),
            rate_from_previous=None if i == 0 else ratio(entered[i], entered[i - 1]),
            rate_closed=None if converted is None else ratio(converted, converted + at[i][0]),
        ))
    return tuple(rows)


class Analyses(ABC):
    """The public analyses, on statistics an engine counts (see the module's docstring)."""

    __slots__ = ()

    funnel: Funnel
    as_of: datetime

    # -- what an engine provides ------------------------------------------------------------

    @abstractmethod
    def _step_counts(
        self, steps: tuple[str, ...], *, ordered: bool, window_us: int | None, by: By
    ) -> dict[str | None, dict[tuple[int, bool], int]]:
        """Per group: (furthest step index reached, lead still open) -> leads."""

    @abstractmethod
    def _exit_counts(self, stages: tuple[str, ...]) -> dict[str, list[tuple[int, str | None, int]]]:
        """Per open stage: ``(duration_us, next stage or None while running, stays)`` rows."""

    def _stay_counts(self, stages: tuple[str, ...]) -> dict[str, Stays]:
        """Per open stage: its stays grouped by duration (running ones censored)."""
        return {
            stage: stays_from_counts(
                (d, 0 if nxt is None else n, n if nxt is None else 0) for d, nxt, n in rows)
            for stage, rows in self._exit_counts(stages).items()
        }

    @abstractmethod
    def _outcome_counts(self) -> list[tuple[int, int, int, int]]:
        """``(duration_us, won, lost, censored)`` from creation to the first closed stage."""

    @abstractmethod
    def _created_range(self) -> tuple[int, int, int] | None:
        """The first and last creation time (microseconds) and the lead count; None for none."""

    @abstractmethod
    def _cohort_counts(
        self, bounds: list[int], horizons: list[int]
    ) -> dict[int, tuple[int, int, list[int]]]:
        """Per period index: leads, the last creation time, and leads won within each horizon."""

    @abstractmethod
    def _handoff_counts(self, by: By) -> dict[str, HandoffCounts]:
        """Per receiving team, what :class:`HandoffCounts` holds."""

    @abstractmethod
    def _velocity_counts(
        self, bounds: list[int], *, qualified: str, opportunity: str,
        value: str | Callable[[Lead], Any] | None,
    ) -> VelocityCounts:
        """What :meth:`velocity` needs (see :class:`VelocityCounts`)."""

    def _journeys(
        self, conversion: str, lookback_us: int, *, value: str | Callable[[Lead], Any] | None,
        milestones: tuple[str, ...],
    ) -> list[Journey]:
        """Every lead's touchpoint path (see :class:`Journey`); engines that read touchpoints."""
        del conversion, lookback_us, value, milestones  # refused whatever is asked
        raise InvalidInput(
            f"{type(self).__name__} does not read touchpoints: attribution runs on a FunnelLog "
            f"(FunnelLog.from_store reads the touchpoints of any store)")

    @property
    def _as_of_us(self) -> int:
        return to_us(self.as_of)

    # -- the analyses -----------------------------------------------------------------------

    def conversion(
        self,
        *,
        steps: Iterable[str] | None = None,
        mode: Literal["reached", "ordered"] = "reached",
        window: str | timedelta | None = None,
        by: By = None,
        top: int = 10,
        other: str = "other",
    ) -> Conversion:
        """How many leads enter each step and go on, with open leads censored.

        ``steps`` defaults to the funnel's main path.  ``mode="reached"`` counts a lead at every
        step up to the furthest one it entered; ``mode="ordered"`` only at steps entered in
        order, each within ``window`` of entering the first.  ``by`` breaks the figures down;
        the ``top`` groups by leads keep their own rows and the rest add up under ``other``.
        """
        funnel = self.funnel
        path = main_path(funnel) if steps is None else self._check_steps(steps)
        if mode not in ("reached", "ordered"):
            raise InvalidInput(
                f"mode={mode!r} must be 'reached' (every step up to the furthest one entered) or "
                f"'ordered' (steps entered in order, within window)")
        window_us = None
        if window is not None:
            if mode != "ordered":
                raise InvalidInput(
                    "window= applies to mode='ordered'; pass mode='ordered' with it, or drop it")
            window_us = duration_us(window, "window")
        by = check_by(by)
        given_top: object = top
        if isinstance(given_top, bool) or not isinstance(given_top, int) or top < 1:
            raise InvalidInput(f"top={top!r} must be an int >= 1")
        if not isinstance(other, str):
            raise InvalidInput(f"other={other!r} must be a string: the name of the rest group")
        counts = self._step_counts(
            path, ordered=mode == "ordered", window_us=window_us, by=by)
        total: dict[tuple[int, bool], int] = {}
        for group in counts.values():
            for key, n in group.items():
                total[key] = total.get(key, 0) + n
        groups: dict[str | None, tuple[StepRow, ...]] = {}
        if by is not None:
            if other in counts and len(counts) > top:
                raise InvalidInput(
                    f"the breakdown has a group named {other!r}, which is also the name of the "
                    f"rest group; pass other='...' with another name")
            ranked = sorted(counts, key=lambda g: (-sum(counts[g].values()), g is not None,
                                                   g or ""))
            for g in ranked[:top]:
                groups[g] = step_rows(path, counts[g])
            rest: dict[tuple[int, bool], int] = {}
            for g in ranked[top:]:
                for key, n in counts[g].items():
                    rest[key] = rest.get(key, 0) + n
            if rest:
                groups[other] = step_rows(path, rest)
        return Conversion(
            steps=step_rows(path, total), mode=mode,
            window=None if window_us is None else timedelta(microseconds=window_us),
            by=by_name(by), groups=groups)

    def _check_steps(self, steps: object) -> tuple[str, ...]:
        if isinstance(steps, str) or not isinstance(steps, Iterable):
            raise InvalidInput(
                f"steps={steps!r} must be a list of stage names, for example ['lead', 'mql']")
        path = tuple(check_stage(self.funnel, s, "step") for s in steps)
        if not path:
            raise InvalidInput("steps=[] names no stage; name at least one, or pass None")
        if len(set(path)) != len(path):
            raise InvalidInput(f"steps={list(path)!r} names a stage twice; name each once")
        return path

    def time_in_stage(self, stage: str | None = None) -> Any:
        """Kaplan-Meier estimates of how long leads stay in each open stage.

        Returns ``{stage: Survival}`` for every open stage, or the one :class:`Survival` of
        *stage*.  Each stay runs from entering the stage to leaving it; a stay still running at
        ``as_of`` is censored, never a short stay.
        """
        if stage is not None:
            name = check_stage(self.funnel, stage, "stage", open_only=True)
            return Survival(self._stay_counts((name,))[name])
        opens = tuple(s.name for s in self.funnel.stages if s.is_open)
        stays = self._stay_counts(opens)
        return {name: Survival(stays[name]) for name in opens}

    def time_to_outcome(self) -> TimeToOutcome:
        """Time from creation to the first won or lost stage, as competing outcomes."""
        return TimeToOutcome.from_counts(self._outcome_counts())

    def cohorts(
        self,
        period: str = "month",
        horizons: Iterable[str | timedelta] = ("30 days", "60 days", "90 days"),
    ) -> Cohorts:
        """Leads per creation period and the share won within each horizon.

        A share is None while the horizon has not elapsed for every lead of the cohort.
        """
        if period not in PERIODS:
            raise InvalidInput(f"period={period!r} must be one of {', '.join(PERIODS)}")
        if isinstance(horizons, str) or not isinstance(horizons, Iterable):
            raise InvalidInput(
                f"horizons={horizons!r} must be a list of durations, such as ['30 days']")
        hs = [duration_us(h, "horizon") for h in horizons]
        span = self._created_range()
        if span is None:
            return Cohorts(period=period, horizons=tuple(map(td, hs)), rows=())
        starts = period_starts(period, EPOCH + span[0] * US, self.as_of)
        bounds = [to_us(s) for s in starts]
        counts = self._cohort_counts(bounds, hs)
        as_of_us = self._as_of_us
        rows = []
        for index, start in enumerate(starts):
            if index not in counts:
                continue
            leads, last_created, won = counts[index]
            rows.append(CohortRow(start, leads, tuple(
                w / leads if last_created + h <= as_of_us else None
                for w, h in zip(won, hs, strict=True))))
        return Cohorts(period=period, horizons=tuple(map(td, hs)), rows=tuple(rows))

    def handoffs_report(self, by: By = "channel") -> HandoffsReport:
        """Handoffs per receiving team: outcomes, SLA compliance, speed to lead, feedback."""
        by = check_by(by)
        teams: dict[str, TeamHandoffs] = {}
        counts = self._handoff_counts(by)
        for team in sorted(counts):
            c = counts[team]
            reasons: dict[str | None, dict[str, int]] = {}
            for (group, reason), n in sorted(
                    c.reasons.items(), key=lambda kv: (kv[0][0] is not None, kv[0][0] or "",
                                                       -kv[1], kv[0][1])):
                reasons.setdefault(group, {})[reason] = n
            teams[team] = TeamHandoffs(
                team, c.handed, c.accepted, c.rejected, c.expired, c.pending, c.sla_met,
                c.sla_breached, c.sla_open, Survival(stays_from_counts(c.speed)), reasons)
        return HandoffsReport(by=by_name(by), teams=teams)

    def attribution(
        self,
        model: str,
        *,
        conversion: str | None = None,
        lookback: str | timedelta = "90 days",
        half_life: str | timedelta = "7 days",
        value: str | Callable[[Lead], Any] | None = None,
        order: int = 1,
        milestones: Iterable[str] | None = None,
    ) -> Attribution:
        """Credit each channel with the conversions its touchpoints led to, under *model*.

        A lead's path is the channels of its touchpoints in time order, from ``lookback`` before
        its conversion (its first entry into ``conversion``, by default the first won stage)
        up to it; leads not converted by ``as_of`` give their whole path to the non-converting
        paths (which the Markov and Shapley models use).  ``value`` (a numeric lead attribute or
        a function of the lead) makes credit add up to the conversions' value.  ``half_life``
        is the time-decay model's, ``order`` the Markov chain's memory, and ``milestones`` the
        two stages (lead creation, opportunity creation) of the W-shaped model.
        """
        model = check_model(model)
        funnel = self.funnel
        conv = main_path(funnel)[-1] if conversion is None else check_stage(
            funnel, conversion, "conversion")
        lookback_us = duration_us(lookback, "lookback")
        half_life_us = duration_us(half_life, "half_life")
        if value is not None and not (isinstance(value, str) and value) and not callable(value):
            raise InvalidInput(
                f"value={value!r} must name a numeric lead attribute or be a function of the lead")
        marks: tuple[str, ...] = ()
        if model == "w_shaped":
            if milestones is None or isinstance(milestones, str):
                raise InvalidInput(
                    "the w_shaped model needs milestones=(lead_stage, opportunity_stage): the "
                    "stages whose last touch before them get 30% each, beside the first touch")
            marks = tuple(check_stage(funnel, m, "milestone") for m in milestones)
            if len(marks) != 2:
                raise InvalidInput(f"milestones={marks!r} must name two stages: lead creation "
                                   f"and opportunity creation")
        journeys = self._journeys(conv, lookback_us, value=value, milestones=marks)
        return attribute(model, journeys, half_life_us=half_life_us, order=order)

    def velocity(
        self,
        *,
        qualified: str | None = None,
        opportunity: str | None = None,
        value: str | Callable[[Lead], Any] | None = None,
        period: str = "month",
    ) -> Velocity:
        """Lead velocity (growth of new qualified leads) and sales velocity.

        ``qualified`` (default: the initial stage) is the stage whose first entries count as
        new qualified leads; ``opportunity`` (default: the last open step of the main path) the
        stage whose open leads are the pipeline; ``value`` names a numeric lead attribute (or
        is a function of the lead) giving a won lead's value.
        """
        funnel = self.funnel
        q = funnel.initial if qualified is None else check_stage(funnel, qualified, "qualified")
        if opportunity is None:
            path = main_path(funnel)
            opp = path[-2] if len(path) > 1 else path[0]
        else:
            opp = check_stage(funnel, opportunity, "opportunity", open_only=True)
        if value is not None and not (isinstance(value, str) and value) and not callable(value):
            raise InvalidInput(
                f"value={value!r} must name a numeric lead attribute or be a function of the lead")
        if period not in PERIODS:
            raise InvalidInput(f"period={period!r} must be one of {', '.join(PERIODS)}")
        span = self._created_range()
        starts = [] if span is None else period_starts(period, EPOCH + span[0] * US, self.as_of)
        bounds = [to_us(s) for s in starts]
        c = self._velocity_counts(bounds, qualified=q, opportunity=opp, value=value)
        as_of = self.as_of
        rows = []
        for i, start in enumerate(starts):
            complete = i + 1 < len(starts) or (
                start.replace(tzinfo=None) + _STEP[period]).replace(tzinfo=as_of.tzinfo) <= as_of
            prev = c.qualified[i - 1] if i else 0
            growth = (c.qualified[i] - prev) / prev if i and prev and complete else None
            rows.append(PeriodCount(start, c.qualified[i], growth, complete))
        return Velocity(
            lead_velocity=tuple(rows), open_opportunities=c.opp_open,
            win_rate=ratio(c.opp_won, c.opp_won + c.opp_lost),
            average_value=c.value_sum / c.value_n if value is not None and c.value_n else None,
            cycle_length=td(c.cycle_sum_us // c.cycle_n) if c.cycle_n else None)




def check_as_of(as_of: object) -> datetime:
    """*as_of* if it is an aware datetime."""
    return require_aware(as_of, "as_of")
