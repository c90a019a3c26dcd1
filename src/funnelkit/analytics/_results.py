"""The frozen results of the analyses, each with ``to_dict()`` in plain JSON types."""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from funnelkit._core.errors import InvalidInput
from funnelkit.analytics._estimators import Survival, cumulative_incidence, td

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "CohortRow",
    "Cohorts",
    "Conversion",
    "HandoffsReport",
    "PeriodCount",
    "StepRow",
    "TeamHandoffs",
    "TimeToOutcome",
    "Velocity",
]

_US = timedelta(microseconds=1)


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


@attrs.frozen
class StepRow:
    """One step of a conversion funnel.

    ``entered`` leads reached the step; of them ``converted`` went on to the next step, ``open``
    are still in play at ``as_of`` (neither converted nor closed, or still inside their window:
    censored, never counted as a drop-off) and ``dropped`` are the rest.  On the last step
    ``converted``, ``open``, ``dropped`` and ``rate_closed`` are None.

    ``rate_from_first`` = entered / entered at the first step; ``rate_from_previous`` = entered /
    entered at the previous step (None on the first step); ``rate_closed`` = converted /
    (converted + dropped), the rate among leads whose fate at this step is known.

    >>> from funnelkit.analytics import StepRow
    >>> StepRow("mql", 10, 4, 3, 3, 1.0, None, 4 / 7).to_dict()["rate_closed"]
    0.5714285714285714
    """

    step: str
    entered: int
    converted: int | None
    open: int | None
    dropped: int | None
    rate_from_first: float | None
    rate_from_previous: float | None
    rate_closed: float | None

    def to_dict(self) -> dict[str, Any]:
        """The row as a plain dict."""
        return attrs.asdict(self)


@attrs.frozen
class Conversion:
    """What :meth:`FunnelLog.conversion` returns: the rows per step, overall and per group.

    ``groups`` maps each of the ``top`` group values (by leads entering the first step) and
    ``other`` for the rest to its own rows; the groups add up to ``steps``.  A group value is a
    string or None (no channel, no owner).

    >>> from funnelkit.analytics import Conversion
    >>> Conversion(steps=(), mode="reached", window=None, by=None, groups={}).to_dict()["steps"]
    []
    """

    steps: tuple[StepRow, ...]
    mode: str
    window: timedelta | None
    by: str | None
    groups: Mapping[str | None, tuple[StepRow, ...]]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types; ``groups`` is a list of ``{"group": value, "steps": [...]}``."""
        return {
            "mode": self.mode,
            "window_seconds": _seconds(self.window),
            "by": self.by,
            "steps": [row.to_dict() for row in self.steps],
            "groups": [
                {"group": key, "steps": [row.to_dict() for row in rows]}
                for key, rows in self.groups.items()
            ],
        }


@attrs.frozen(eq=False)
class TimeToOutcome:
    """What :meth:`FunnelLog.time_to_outcome` returns: time from creation to won or lost.

    Won and lost compete: a lost lead can no longer win, so it is not censored (censoring it
    would overstate wins).  ``won_by(t)`` and ``lost_by(t)`` are the Aalen-Johansen cumulative
    incidences: the estimated share of leads won (lost) within *t* of creation, with leads still
    open at ``as_of`` censored.  ``median_time_to_win`` is the median among the leads that won.

    >>> from datetime import timedelta
    >>> from funnelkit.analytics import TimeToOutcome
    >>> day = 86_400_000_000
    >>> r = TimeToOutcome.from_counts([(day, 1, 0, 0), (2 * day, 0, 1, 0), (3 * day, 0, 0, 2)])
    >>> r.won_by(timedelta(days=5)), r.lost_by(timedelta(days=5))
    (0.25, 0.25)
    """

    times: tuple[int, ...] = attrs.field(repr=False)
    won_events: tuple[int, ...] = attrs.field(repr=False)
    lost_events: tuple[int, ...] = attrs.field(repr=False)
    censored_counts: tuple[int, ...] = attrs.field(repr=False)
    n: int = attrs.field(init=False)
    """How many leads."""
    won: int = attrs.field(init=False)
    """How many won by ``as_of``."""
    lost: int = attrs.field(init=False)
    """How many were lost by ``as_of``."""
    censored: int = attrs.field(init=False)
    """How many were still open at ``as_of``."""
    _won_cif: tuple[float, ...] = attrs.field(init=False, repr=False)
    _lost_cif: tuple[float, ...] = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        """Compute both cumulative incidences once."""
        won, lost = cumulative_incidence(
            self.times, self.won_events, self.lost_events, self.censored_counts)
        set_ = object.__setattr__
        set_(self, "won", sum(self.won_events))
        set_(self, "lost", sum(self.lost_events))
        set_(self, "censored", sum(self.censored_counts))
        set_(self, "n", self.won + self.lost + self.censored)
        set_(self, "_won_cif", tuple(won))
        set_(self, "_lost_cif", tuple(lost))

    @classmethod
    def from_counts(cls, rows: list[tuple[int, int, int, int]]) -> TimeToOutcome:
        """From ``(duration_us, won, lost, censored)`` rows (any order, repeats merged)."""
        merged: dict[int, list[int]] = {}
        for t, w, lo, c in rows:
            slot = merged.setdefault(t, [0, 0, 0])
            slot[0] += w
            slot[1] += lo
            slot[2] += c
        times = tuple(sorted(merged))
        return cls(times, tuple(merged[t][0] for t in times), tuple(merged[t][1] for t in times),
                   tuple(merged[t][2] for t in times))

    def _at(self, curve: tuple[float, ...], t: timedelta) -> float:
        if not isinstance(t, timedelta):
            raise InvalidInput(f"t={t!r} must be a timedelta")
        i = bisect_right(self.times, t // _US)
        return 0.0 if i == 0 else curve[i - 1]

    def won_by(self, t: timedelta) -> float:
        """The estimated share of leads won within *t* of their creation."""
        return self._at(self._won_cif, t)

    def lost_by(self, t: timedelta) -> float:
        """The estimated share of leads lost within *t* of their creation."""
        return self._at(self._lost_cif, t)

    @property
    def incidence(self) -> tuple[tuple[timedelta, float, float], ...]:
        """Rows ``(t, won_by_t, lost_by_t)`` at each distinct duration."""
        return tuple(zip(map(td, self.times), self._won_cif, self._lost_cif, strict=True))

    @property
    def median_time_to_win(self) -> timedelta | None:
        """The smallest t by which half of the leads that won had won; None when none won."""
        half = self.won / 2
        seen = 0
        for t, w in zip(self.times, self.won_events, strict=True):
            seen += w
            if w and seen >= half:
                return td(t)
        return None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types: counts, the median time to win and the incidence table."""
        return {
            "n": self.n, "won": self.won, "lost": self.lost, "censored": self.censored,
            "median_time_to_win_seconds": _seconds(self.median_time_to_win),
            "incidence": [
                {"t_seconds": t.total_seconds(), "won": w, "lost": lo}
                for t, w, lo in self.incidence
            ],
        }


@attrs.frozen
class CohortRow:
    """One entry period: ``leads`` created in it and the share ``won`` within each horizon.

    A share is None while the horizon has not elapsed for every lead of the cohort at ``as_of``
    (incomplete), never a low number.

    >>> from datetime import datetime, timezone
    >>> from funnelkit.analytics import CohortRow
    >>> CohortRow(datetime(2026, 1, 1, tzinfo=timezone.utc), 4, (0.25, None)).to_dict()["won"]
    [0.25, None]
    """

    period: datetime
    leads: int
    won: tuple[float | None, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types; the period as ISO 8601."""
        return {"period": self.period.isoformat(), "leads": self.leads, "won": list(self.won)}


@attrs.frozen
class Cohorts:
    """What :meth:`FunnelLog.cohorts` returns: one row per entry period, oldest first.

    >>> from funnelkit.analytics import Cohorts
    >>> Cohorts(period="month", horizons=(), rows=()).to_dict()
    {'period': 'month', 'horizons_seconds': [], 'rows': []}
    """

    period: str
    horizons: tuple[timedelta, ...]
    rows: tuple[CohortRow, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {
            "period": self.period,
            "horizons_seconds": [h.total_seconds() for h in self.horizons],
            "rows": [row.to_dict() for row in self.rows],
        }


@attrs.frozen(eq=False)
class TeamHandoffs:
    """Handoffs received by one team, and the feedback it sent back.

    ``acceptance_rate`` = accepted / (accepted + rejected + expired), among closed handoffs;
    ``sla_compliance`` = met / (met + breached) among handoffs with a due time, where a handoff
    meets its SLA when it was accepted or rejected by its due time and breaches it when it was
    closed later, expired, or is still pending past due (pending and not yet due: censored,
    counted in ``sla_open``).  ``speed_to_lead`` is a Kaplan-Meier estimate of the time from
    each lead's first handoff to this team to its acceptance (censored at ``as_of`` while
    pending, at the rejection or expiry otherwise).  ``rejection_reasons`` maps each group of the
    report's ``by`` to its reasons and their counts: the loop from sales back to marketing.

    >>> from funnelkit.analytics import Survival, TeamHandoffs
    >>> t = TeamHandoffs("sales", 1, 1, 0, 0, 0, 0, 0, 0, Survival.from_durations([60_000_000]), {})
    >>> t.acceptance_rate, t.speed_median
    (1.0, datetime.timedelta(seconds=60))
    """

    team: str
    handed: int
    accepted: int
    rejected: int
    expired: int
    pending: int
    sla_met: int
    sla_breached: int
    sla_open: int
    speed_to_lead: Survival = attrs.field(repr=False)
    rejection_reasons: Mapping[str | None, Mapping[str, int]]

    @property
    def acceptance_rate(self) -> float | None:
        """Accepted among closed handoffs (None when none is closed)."""
        closed = self.accepted + self.rejected + self.expired
        return self.accepted / closed if closed else None

    @property
    def sla_compliance(self) -> float | None:
        """SLAs met among those met or breached (None when none is known yet)."""
        known = self.sla_met + self.sla_breached
        return self.sla_met / known if known else None

    @property
    def speed_median(self) -> timedelta | None:
        """Median time from handoff to acceptance (Kaplan-Meier), or None."""
        return self.speed_to_lead.median

    @property
    def speed_p90(self) -> timedelta | None:
        """Time by which 90% of first handoffs are accepted (Kaplan-Meier), or None."""
        return self.speed_to_lead.percentile(0.9)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types; rejection reasons as a list of ``{"group", "reasons"}``."""
        return {
            "team": self.team, "handed": self.handed, "accepted": self.accepted,
            "rejected": self.rejected, "expired": self.expired, "pending": self.pending,
            "acceptance_rate": self.acceptance_rate, "sla_met": self.sla_met,
            "sla_breached": self.sla_breached, "sla_open": self.sla_open,
            "sla_compliance": self.sla_compliance,
            "speed_median_seconds": _seconds(self.speed_median),
            "speed_p90_seconds": _seconds(self.speed_p90),
            "rejection_reasons": [
                {"group": group, "reasons": dict(reasons)}
                for group, reasons in self.rejection_reasons.items()
            ],
        }


@attrs.frozen
class HandoffsReport:
    """What :meth:`FunnelLog.handoffs_report` returns: one :class:`TeamHandoffs` per team.

    >>> from funnelkit.analytics import HandoffsReport
    >>> HandoffsReport(by="channel", teams={}).to_dict()
    {'by': 'channel', 'teams': []}
    """

    by: str | None
    teams: Mapping[str, TeamHandoffs]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {"by": self.by, "teams": [team.to_dict() for team in self.teams.values()]}


@attrs.frozen
class PeriodCount:
    """New qualified leads in one period and the growth over the previous period.

    ``growth`` (the lead velocity rate) is None for the first period, after an empty one, and
    for a period not yet over at ``as_of`` (``complete`` false): never a low number.

    >>> from datetime import datetime, timezone
    >>> from funnelkit.analytics import PeriodCount
    >>> PeriodCount(datetime(2026, 2, 1, tzinfo=timezone.utc), 12, 0.2, True).growth
    0.2
    """

    period: datetime
    qualified: int
    growth: float | None
    complete: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {"period": self.period.isoformat(), "qualified": self.qualified,
                "growth": self.growth, "complete": self.complete}


@attrs.frozen
class Velocity:
    """What :meth:`FunnelLog.velocity` returns: lead velocity and sales velocity.

    ``lead_velocity`` has one :class:`PeriodCount` per period.  Sales velocity =
    ``open_opportunities`` x ``win_rate`` x ``average_value`` / ``cycle_length`` in days: the
    value the open pipeline brings per day.  ``win_rate`` = won / (won + lost) among leads that
    reached the opportunity stage and closed; ``average_value`` is the mean value of won leads;
    ``cycle_length`` the mean time from creation to winning.  Any of them is None when it cannot
    be known yet (no closed opportunity, no value named, nothing won).

    >>> from funnelkit.analytics import Velocity
    >>> Velocity((), 3, 0.5, 1000.0, None).sales_velocity is None
    True
    """

    lead_velocity: tuple[PeriodCount, ...]
    open_opportunities: int
    win_rate: float | None
    average_value: float | None
    cycle_length: timedelta | None

    @property
    def sales_velocity(self) -> float | None:
        """Value per day the open pipeline brings, or None when a part is unknown."""
        if self.win_rate is None or self.average_value is None or not self.cycle_length:
            return None
        days = self.cycle_length / timedelta(days=1)
        return self.open_opportunities * self.win_rate * self.average_value / days

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {
            "lead_velocity": [row.to_dict() for row in self.lead_velocity],
            "open_opportunities": self.open_opportunities, "win_rate": self.win_rate,
            "average_value": self.average_value,
            "cycle_length_seconds": _seconds(self.cycle_length),
            "sales_velocity": self.sales_velocity,
        }
