"""The estimator layer: small sufficient statistics in, frozen results out.

Both engines (in memory and SQL) produce the same statistics, and only this module turns them
into figures, so the two can never disagree.  Durations travel as integer microseconds and become
``timedelta`` only in results.  Nothing here sees a row of the log.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import attrs

from funnelkit._core.errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "Stays",
    "Survival",
    "ratio",
    "stays_from_counts",
    "stays_from_durations",
    "td",
]

_US = timedelta(microseconds=1)


def td(us: int) -> timedelta:
    """A ``timedelta`` from integer microseconds."""
    return timedelta(microseconds=us)


def ratio(numerator: int, denominator: int) -> float | None:
    """``numerator / denominator``, or None when the denominator is zero."""
    return numerator / denominator if denominator else None


@attrs.frozen
class Stays:
    """Stays grouped by duration: the sufficient statistic of a Kaplan-Meier estimate.

    ``times`` are distinct durations in microseconds, increasing; ``events[i]`` stays ended after
    ``times[i]`` and ``censored[i]`` were still running then (censored at that duration).
    """

    times: tuple[int, ...]
    events: tuple[int, ...]
    censored: tuple[int, ...]


def stays_from_counts(counts: Iterable[tuple[int, int, int]]) -> Stays:
    """Stays from ``(duration_us, events, censored)`` rows, in any order, possibly repeated."""
    times: list[int] = []
    events: list[int] = []
    censored: list[int] = []
    for duration, e, c in sorted(counts):  # linear when the rows come sorted
        if times and times[-1] == duration:
            events[-1] += e
            censored[-1] += c
        else:
            times.append(duration)
            events.append(e)
            censored.append(c)
    return Stays(tuple(times), tuple(events), tuple(censored))


def stays_from_durations(ended: list[int], running: list[int]) -> Stays:
    """Stays from the durations of ended stays and of stays still running (censored)."""
    ended.sort()
    running.sort()
    times: list[int] = []
    events: list[int] = []
    censored: list[int] = []
    i = j = 0
    n_e, n_r = len(ended), len(running)
    while i < n_e or j < n_r:
        t = ended[i] if j >= n_r or (i < n_e and ended[i] <= running[j]) else running[j]
        e = 0
        while i < n_e and ended[i] == t:
            e += 1
            i += 1
        c = 0
        while j < n_r and running[j] == t:
            c += 1
            j += 1
        times.append(t)
        events.append(e)
        censored.append(c)
    return Stays(tuple(times), tuple(events), tuple(censored))


def _check_q(q: object) -> float:
    if isinstance(q, bool) or not isinstance(q, int | float) or not 0 < q < 1:
        raise InvalidInput(f"q={q!r} must be a number strictly between 0 and 1, for example 0.9")
    return float(q)


# S(t) is compared with a level with this slack, so that a survival that is exactly 1/2 in exact
# arithmetic (5 of 10 stays ended) reaches the median although the float product reads 0.5000001.
_SLACK = 1e-12


@attrs.frozen(eq=False)
class Survival:
    r"""A Kaplan-Meier estimate of how long stays last, with still-running stays censored.

    At each distinct duration :math:`t_i` with :math:`d_i` ended stays and :math:`n_i` stays
    still at risk (lasting at least :math:`t_i`, censored ones included),
    :math:`S(t) = \prod_{t_i \le t} (1 - d_i / n_i)`: the share of stays that last longer than
    *t*.  A stay censored at :math:`t_i` counts as at risk at :math:`t_i` (the convention of
    lifelines' ``KaplanMeierFitter``).

    >>> from datetime import timedelta
    >>> from funnelkit.analytics import Survival
    >>> day = 86_400_000_000
    >>> s = Survival.from_durations([1 * day, 2 * day, 3 * day], [2 * day])
    >>> s.n, s.n_censored, s.median
    (4, 1, datetime.timedelta(days=2))
    >>> s.survival(timedelta(days=1))
    0.75
    """

    stays: Stays = attrs.field(repr=False)
    n: int = attrs.field(init=False)
    """How many stays: ended plus censored."""
    n_censored: int = attrs.field(init=False)
    """How many stays were still running at ``as_of`` (censored)."""
    _at_risk: tuple[int, ...] = attrs.field(init=False, repr=False)
    _s: tuple[float, ...] = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        """Compute the at-risk counts and the survival curve in one pass."""
        stays = self.stays
        n = sum(stays.events) + sum(stays.censored)
        at_risk: list[int] = []
        survival: list[float] = []
        s = 1.0
        left = n
        for e, c in zip(stays.events, stays.censored, strict=True):
            at_risk.append(left)
            if e:
                s *= 1.0 - e / left
            survival.append(s)
            left -= e + c
        object.__setattr__(self, "n", n)
        object.__setattr__(self, "n_censored", sum(stays.censored))
        object.__setattr__(self, "_at_risk", tuple(at_risk))
        object.__setattr__(self, "_s", tuple(survival))

    @classmethod
    def from_durations(
        cls, ended: Iterable[int | timedelta], running: Iterable[int | timedelta] = ()
    ) -> Survival:
        """An estimate from durations (``timedelta`` or integer microseconds).

        *ended* are stays that ended after that long, *running* stays still running after that
        long (censored).
        """
        def us(values: Iterable[int | timedelta], name: str) -> list[int]:
            out = []
            for v in values:
                if isinstance(v, timedelta):
                    v = v // _US  # noqa: PLW2901 - normalised in place
                if type(v) is not int or v < 0:
                    raise InvalidInput(
                        f"{name} duration {v!r} must be a timedelta or int microseconds >= 0")
                out.append(v)
            return out
        return cls(stays_from_durations(us(ended, "ended"), us(running, "running")))

    @property
    def table(self) -> tuple[tuple[timedelta, int, int, int, float], ...]:
        """Rows ``(t, at_risk, events, censored, survival)``, one per distinct duration."""
        st = self.stays
        return tuple(
            (td(t), r, e, c, s)
            for t, r, e, c, s in zip(st.times, self._at_risk, st.events, st.censored, self._s,
                                     strict=True)
        )

    def survival(self, t: timedelta) -> float:
        """S(t): the estimated share of stays lasting longer than *t*."""
        if not isinstance(t, timedelta):
            raise InvalidInput(f"t={t!r} must be a timedelta")
        i = bisect_right(self.stays.times, t // _US)
        return 1.0 if i == 0 else self._s[i - 1]

    def _level(self, level: float) -> timedelta | None:
        for t, s in zip(self.stays.times, self._s, strict=True):
            if s <= level + _SLACK:
                return td(t)
        return None

    @property
    def median(self) -> timedelta | None:
        """The smallest t with S(t) <= 0.5, or None when fewer than half the stays have ended.

        The convention of lifelines' ``median_survival_time_`` (which gives infinity for None).
        """
        return self._level(0.5)

    def percentile(self, q: float) -> timedelta | None:
        """The smallest t by which a share *q* of stays have ended (S(t) <= 1 - q), or None.

        ``percentile(0.5)`` is the median and ``percentile(0.9)`` the P90.  lifelines names the
        same figure ``percentile(1 - q)``: its argument is the survival level.
        """
        return self._level(1.0 - _check_q(q))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types: counts, median and P90 in seconds, and the table."""
        def seconds(value: timedelta | None) -> float | None:
            return None if value is None else value.total_seconds()
        return {
            "n": self.n,
            "n_censored": self.n_censored,
            "median_seconds": seconds(self.median),
            "p90_seconds": seconds(self.percentile(0.9)),
            "table": [
                {"t_seconds": t.total_seconds(), "at_risk": r, "events": e, "censored": c,
                 "survival": s}
                for t, r, e, c, s in self.table
            ],
        }


def cumulative_incidence(
    times: tuple[int, ...], won: tuple[int, ...], lost: tuple[int, ...], censored: tuple[int, ...]
) -> tuple[list[float], list[float]]:
    r"""Aalen-Johansen cumulative incidence of two competing outcomes at each distinct time.

    :math:`F_k(t) = \sum_{t_i \le t} S(t_{i-1}) \, d_{k,i} / n_i` where *S* is the Kaplan-Meier
    estimate of no outcome at all (both outcomes are events for it).
    """
    left = sum(won) + sum(lost) + sum(censored)
    s = 1.0
    f_won = f_lost = 0.0
    out_won: list[float] = []
    out_lost: list[float] = []
    for w, lo, c in zip(won, lost, censored, strict=True):
        if w or lo:
            f_won += s * w / left
            f_lost += s * lo / left
            s *= 1.0 - (w + lo) / left
        out_won.append(f_won)
        out_lost.append(f_lost)
        left -= w + lo + c
    assert len(out_won) == len(times)
    return out_won, out_lost
