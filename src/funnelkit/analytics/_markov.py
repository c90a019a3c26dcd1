"""The funnel as an absorbing Markov chain fitted from history: win probabilities and forecasts.

Open stages are the transient states; won and lost stages (and ``stalled`` when the model is
fitted with ``stall_after``) absorb.  Where a lead goes when it leaves a stage is estimated from
every stay in the stage with the stays still running at ``as_of`` censored (Aalen-Johansen
cumulative incidence of each destination), so recent leads add exposure, not exits.
"""

from __future__ import annotations

import math
import random
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import attrs

from funnelkit._core.errors import InvalidInput
from funnelkit._core.lead import Lead
from funnelkit.analytics._analyses import Analyses, check_stage, duration_us, value_of
from funnelkit.analytics._estimators import Survival, stays_from_counts, td

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from funnelkit._definition.funnel import Funnel

__all__ = ["Forecast", "MarkovModel", "WhatIf", "binomial"]

STALLED = "stalled"
_BINS = 120  # time steps of the within-horizon recursion


def binomial(rng: random.Random, n: int, p: float) -> int:
    """A Binomial(n, p) draw: inversion for small means, Hormann's BTRS rejection otherwise.

    >>> rng = random.Random(1)
    >>> sum(binomial(rng, 1000, 0.3) for _ in range(200)) / 200
    300.035
    """
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    if p > 0.5:
        return n - binomial(rng, n, 1.0 - p)
    if n * p < 10.0:  # inversion: walk the probability mass function
        q = 1.0 - p
        s, a = p / q, (n + 1) * p / q
        while True:
            r = q ** n
            u = rng.random()
            x = 0
            while u > r:
                u -= r
                x += 1
                if x > n:
                    break  # rounding ran past the end: draw again
                r *= a / x - s
            else:
                return x
    spq = math.sqrt(n * p * (1.0 - p))
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * p
    c = n * p + 0.5
    vr = 0.92 - 4.2 / b
    alpha = (2.83 + 5.1 / b) * spq
    lpq = math.log(p / (1.0 - p))
    m = math.floor((n + 1) * p)
    h = math.lgamma(m + 1) + math.lgamma(n - m + 1)
    while True:
        u = rng.random() - 0.5
        v = rng.random()
        us = 0.5 - abs(u)
        k = math.floor((2.0 * a / us + b) * u + c)
        if k < 0 or k > n:
            continue
        if us >= 0.07 and v <= vr:
            return k
        v = math.log(v * alpha / (a / (us * us) + b))
        if v <= h - math.lgamma(k + 1) - math.lgamma(n - k + 1) + (k - m) * lpq:
            return k


def _invert(matrix: list[list[float]]) -> list[list[float]]:
    """The inverse of a square matrix (Gauss-Jordan with partial pivoting)."""
    n = len(matrix)
    a = [row[:] + [float(i == j) for j in range(n)] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        if abs(a[pivot][col]) < 1e-12:
            raise InvalidInput(
                "the fitted chain has a loop no lead ever leaves (a set of open stages whose "
                "every exit leads back into it); fit with stall_after= so idle leads absorb")
        a[col], a[pivot] = a[pivot], a[col]
        inv = 1.0 / a[col][col]
        a[col] = [x * inv for x in a[col]]
        for r in range(n):
            if r != col and a[r][col]:
                f = a[r][col]
                a[r] = [x - f * y for x, y in zip(a[r], a[col], strict=True)]
    return [row[n:] for row in a]


def _quantiles(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    n = len(ordered)
    return tuple(ordered[max(0, math.ceil(q * n) - 1)] for q in (0.1, 0.5, 0.9))  # type: ignore[return-value]


@attrs.frozen
class Forecast:
    """What :meth:`MarkovModel.forecast` returns.

    ``expected_wins`` is exactly the sum of the leads' win probabilities (within ``horizon``
    when one is set); ``wins`` and ``value`` are the (P10, P50, P90) of ``runs`` seeded Monte
    Carlo draws of the chain (``value`` None without a value).

    >>> from funnelkit.analytics import Forecast
    >>> Forecast(10, 4.2, (3.0, 4.0, 6.0), None, None, 1000, None).to_dict()["wins"]
    [3.0, 4.0, 6.0]
    """

    leads: int
    expected_wins: float
    wins: tuple[float, float, float]
    expected_value: float | None
    value: tuple[float, float, float] | None
    runs: int
    horizon: timedelta | None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {"leads": self.leads, "expected_wins": self.expected_wins, "wins": list(self.wins),
                "expected_value": self.expected_value,
                "value": None if self.value is None else list(self.value), "runs": self.runs,
                "horizon_seconds": None if self.horizon is None else self.horizon.total_seconds()}


@attrs.frozen
class WhatIf:
    """What :meth:`MarkovModel.what_if` returns: today's forecast beside the scenario's.

    >>> from funnelkit.analytics import Forecast, WhatIf
    >>> f = Forecast(1, 0.5, (0.0, 0.0, 1.0), None, None, 10, None)
    >>> WhatIf(f, f, {"move": "mql->sql 0.5"}).to_dict()["changes"]
    {'move': 'mql->sql 0.5'}
    """

    today: Forecast
    scenario: Forecast
    changes: Mapping[str, str]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {"today": self.today.to_dict(), "scenario": self.scenario.to_dict(),
                "changes": dict(self.changes)}


@attrs.frozen(eq=False)
class MarkovModel:
    """An absorbing Markov chain over a funnel's stages, fitted from its history.

    ``probabilities[s][t]`` is the estimated probability that a lead leaving open stage *s*
    goes to *t*; ``stays[s]`` the Kaplan-Meier estimate of how long it stays first.  Build one
    with :meth:`fit`.

    >>> from datetime import datetime, timedelta, timezone
    >>> from funnelkit import templates
    >>> from funnelkit.analytics import FunnelLog, MarkovModel
    >>> f = templates.inbound()
    >>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
    >>> leads, moves = [], []
    >>> for i, last in enumerate(["win", "disqualify", "win", "disqualify"]):
    ...     lead = f.new_lead(f"L{i}", at=at)
    ...     for event in ("convert", "qualify", "hand_to_sales", "open_opportunity", last):
    ...         o = f.fire(lead, event, at=at + timedelta(days=1), reason="r")
    ...         lead, moves = o.lead, moves + [o.transition]
    ...     leads.append(lead)
    >>> log = FunnelLog(f, leads=leads, transitions=moves, as_of=at + timedelta(days=2))
    >>> MarkovModel.fit(log).win_probability("subscriber")
    0.5
    """

    funnel: Funnel
    probabilities: Mapping[str, Mapping[str, float]]
    stays: Mapping[str, Survival] = attrs.field(repr=False)
    arrivals_per_day: float
    stall_after: timedelta | None
    _transient: tuple[str, ...] = attrs.field(init=False, repr=False)
    _absorbing: tuple[str, ...] = attrs.field(init=False, repr=False)
    _n: list[list[float]] = attrs.field(init=False, repr=False)
    _b: list[list[float]] = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        """Solve the chain once: N = (I - Q)^-1 and B = N R."""
        transient = tuple(s.name for s in self.funnel.stages if s.is_open)
        absorbing = tuple(s.name for s in self.funnel.stages if not s.is_open)
        if self.stall_after is not None:
            absorbing = (*absorbing, STALLED)
        ti = {s: i for i, s in enumerate(transient)}
        size = len(transient)
        i_minus_q = [[float(i == j) for j in range(size)] for i in range(size)]
        r = [[0.0] * len(absorbing) for _ in range(size)]
        ai = {s: i for i, s in enumerate(absorbing)}
        for s, targets in self.probabilities.items():
            for t, p in targets.items():
                if t in ti:
                    i_minus_q[ti[s]][ti[t]] -= p
                else:
                    r[ti[s]][ai[t]] += p
        n = _invert(i_minus_q) if size else []
        b = [[sum(n[i][k] * r[k][j] for k in range(size)) for j in range(len(absorbing))]
             for i in range(size)]
        object.__setattr__(self, "_transient", transient)
        object.__setattr__(self, "_absorbing", absorbing)
        object.__setattr__(self, "_n", n)
        object.__setattr__(self, "_b", b)

    @classmethod
    def fit(cls, log: Analyses, *, stall_after: str | timedelta | None = None) -> MarkovModel:
        """Fit the chain from a log (either engine), open stays censored.

        With ``stall_after`` (a duration), a stay longer than it ends in the absorbing state
        ``stalled`` at that age, running stays included.
        """
        if not isinstance(log, Analyses):
            raise InvalidInput(f"log={log!r} must be a FunnelLog or SqlLog")
        funnel = log.funnel
        if not any(s.outcome == "won" for s in funnel.stages):
            raise InvalidInput(f"funnel {funnel.name!r} has no won stage: nothing to win")
        stall = None if stall_after is None else duration_us(stall_after, "stall_after")
        opens = tuple(s.name for s in funnel.stages if s.is_open)
        probabilities: dict[str, dict[str, float]] = {}
        stays: dict[str, Survival] = {}
        for stage, seen in log._exit_counts(opens).items():
            rows = seen if stall is None else [
                (stall, STALLED, n) if d >= stall and (nxt is None or d > stall) else (d, nxt, n)
                for d, nxt, n in seen]
            probabilities[stage] = _destinations(rows)
            stays[stage] = Survival(stays_from_counts(
                (d, 0 if nxt is None else n, n if nxt is None else 0) for d, nxt, n in rows))
        span = log._created_range()
        days = 0.0 if span is None else (log._as_of_us - span[0]) / 86_400_000_000
        return cls(funnel, probabilities, stays, span[2] / days if span and days > 0 else 0.0,
                   None if stall is None else td(stall))

    # -- reading the chain ------------------------------------------------------------------

    def _stage(self, stage: object) -> str:
        if stage == STALLED and self.stall_after is not None:
            return STALLED
        return check_stage(self.funnel, stage, "stage")

    def win_probability(self, stage: str) -> float:
        """The probability that a lead now entering *stage* ends in a won stage: (N R) summed."""
        name = self._stage(stage)
        if name not in self._transient:
            return 1.0 if name != STALLED and self.funnel.stage(name).outcome == "won" else 0.0
        row = self._b[self._transient.index(name)]
        return sum(p for p, a in zip(row, self._absorbing, strict=True)
                   if a != STALLED and self.funnel.stage(a).outcome == "won")

    def expected_visits(self, stage: str) -> dict[str, float]:
        """Expected visits to each open stage for a lead now entering open *stage* (a row of N)."""
        name = check_stage(self.funnel, stage, "stage", open_only=True)
        return dict(zip(self._transient, self._n[self._transient.index(name)], strict=True))

    def mean_stay(self, stage: str) -> timedelta | None:
        """The mean stay in open *stage*, None when nobody was ever seen in it.

        The area under its Kaplan-Meier curve, restricted to the longest stay seen.
        """
        name = check_stage(self.funnel, stage, "stage", open_only=True)
        table = self.stays[name].table
        if not table:
            return None
        area = timedelta(0)
        previous, level = timedelta(0), 1.0
        for t, _, _, _, s in table:
            area += (t - previous) * level
            previous, level = t, s
        return area

    def expected_time_to_close(self, stage: str) -> timedelta | None:
        """Expected time until a lead now entering open *stage* reaches a closed stage.

        Expected visits times mean stays, summed over the open stages.
        """
        total = timedelta(0)
        for name, visits in self.expected_visits(stage).items():
            if visits > 1e-12:
                mean = self.mean_stay(name)
                if mean is None:
                    return None
                total += mean * visits
        return total

    def matrix(self) -> dict[str, dict[str, float]]:
        """Every open stage's exit probabilities, for inspection (rows add up to 1)."""
        return {s: dict(targets) for s, targets in self.probabilities.items()}

    # -- forecasts --------------------------------------------------------------------------

    def _within(self, horizon_us: int) -> dict[str, float]:
        """P(won within the horizon) from entering each open stage, on a grid of time steps."""
        step = max(1, horizon_us // _BINS)
        pmf: dict[str, list[float]] = {}
        for s in self._transient:
            curve = self.stays[s]
            f = [0.0] * (_BINS + 1)
            previous = 1.0
            for b in range(1, _BINS + 1):
                now = curve.survival(timedelta(microseconds=b * step))
                f[b] = previous - now
                previous = now
            pmf[s] = f
        won = {a for a in self._absorbing if a != STALLED and self.funnel.stage(a).outcome == "won"}
        w: dict[str, list[float]] = {s: [0.0] * (_BINS + 1) for s in self._transient}
        for t in range(1, _BINS + 1):
            for s in self._transient:
                f, total = pmf[s], 0.0
                for target, p in self.probabilities.get(s, {}).items():
                    if target in won:
                        total += p * sum(f[1:t + 1])
                    elif target in w:
                        wt = w[target]
                        total += p * sum(f[b] * wt[t - b] for b in range(1, t + 1))
                w[s][t] = total
        return {s: w[s][_BINS] for s in self._transient}

    def _probabilities(self, horizon_us: int | None) -> dict[str, float]:
        if horizon_us is None:
            return {s: self.win_probability(s) for s in self._transient}
        return self._within(horizon_us)

    def forecast(
        self,
        leads: Iterable[Lead],
        *,
        runs: int = 10_000,
        seed: int,
        horizon: str | timedelta | None = None,
        value: str | Callable[[Lead], Any] | None = None,
    ) -> Forecast:
        """What the open *leads* will bring: expected wins, and P10/P50/P90 of wins and value.

        Each lead wins with the win probability of its stage (within *horizon* of now when
        given, counting its stay as starting now); the Monte Carlo draws each stage's winners
        as a binomial and, with *value*, sums the values of a random set of that many of the
        stage's leads.
        """
        return self._forecast(leads, runs=runs, seed=seed, horizon=horizon, value=value)

    def _forecast(
        self, leads: Iterable[Lead], *, runs: int, seed: int, horizon: str | timedelta | None,
        value: str | Callable[[Lead], Any] | None, extra: tuple[int, float] = (0, 0.0),
        scale: Mapping[str, float] | None = None,
    ) -> Forecast:
        given_runs: object = runs
        if isinstance(given_runs, bool) or not isinstance(given_runs, int) or runs < 1:
            raise InvalidInput(f"runs={runs!r} must be an int >= 1")
        given_seed: object = seed
        if isinstance(given_seed, bool) or not isinstance(given_seed, int):
            raise InvalidInput(f"seed={seed!r} must be an int: forecasts are reproducible")
        if value is not None and not (isinstance(value, str) and value) and not callable(value):
            raise InvalidInput(
                f"value={value!r} must name a numeric lead attribute or be a function of the lead")
        horizon_us = None if horizon is None else duration_us(horizon, "horizon")
        p = self._probabilities(horizon_us)
        if scale:
            p = {s: v * scale.get(s, 1.0) for s, v in p.items()}
        groups: dict[str, list[float]] = {}
        n_leads = 0
        for n, lead in enumerate(leads, start=1):
            if type(lead) is not Lead:
                raise InvalidInput(f"leads item {n} is {lead!r}, not a funnelkit.Lead")
            stage = check_stage(self.funnel, lead.stage, f"lead {lead.id!r}'s stage")
            if stage not in p:
                raise InvalidInput(
                    f"lead {lead.id!r} is already closed ({stage}); forecast open leads only")
            v = 0.0 if value is None else value_of(value, lead, required=True)
            groups.setdefault(stage, []).append(v)
            n_leads += 1
        extra_n, extra_p = extra
        expected = sum(p[s] * len(vs) for s, vs in groups.items()) + extra_n * extra_p
        expected_value = (None if value is None else
                          sum(p[s] * sum(vs) for s, vs in groups.items())
                          + extra_n * extra_p * _mean(groups))
        rng = random.Random(seed)  # noqa: S311 - a seeded simulation, not cryptography
        wins: list[float] = []
        values: list[float] = []
        mean_value = _mean(groups)
        for _ in range(runs):
            total, worth = 0, 0.0
            for s, vs in groups.items():
                k = binomial(rng, len(vs), p[s])
                total += k
                if value is not None and k:
                    worth += sum(rng.sample(vs, k))
            if extra_n:
                k = binomial(rng, extra_n, extra_p)
                total += k
                worth += k * mean_value
            wins.append(float(total))
            values.append(worth)
        return Forecast(n_leads + extra_n, expected, _quantiles(wins), expected_value,
                        None if value is None else _quantiles(values), runs,
                        None if horizon_us is None else td(horizon_us))

    def what_if(
        self,
        leads: Iterable[Lead],
        *,
        move: tuple[str, str, float] | None = None,
        new_leads: float | None = None,
        capacity: tuple[str, int] | None = None,
        horizon: str | timedelta | None = None,
        runs: int = 10_000,
        seed: int,
        value: str | Callable[[Lead], Any] | None = None,
    ) -> WhatIf:
        """The forecast of *leads* under a changed funnel, beside today's.

        ``move=(source, target, p)`` sets the probability of leaving *source* for *target* to
        *p* (the other exits of *source* keep their proportions); ``new_leads=k`` adds the leads
        that arrive within *horizon* at *k* times the log's arrival rate (today's forecast adds
        them at the rate seen); ``capacity=(team, n)`` lets at most *n* leads into the team's
        stages within *horizon*: when more are expected to arrive, every lead still to pass
        through the team wins in proportion (an approximation, stated in the docs).
        """
        leads = list(leads)
        changes: dict[str, str] = {}
        model = self
        if move is not None:
            model = self._with_move(move)
            changes["move"] = f"{move[0]}->{move[1]} {move[2]}"
        horizon_us = None if horizon is None else duration_us(horizon, "horizon")
        extra_today = extra_then = (0, 0.0)
        if new_leads is not None:
            if horizon_us is None:
                raise InvalidInput("new_leads= needs horizon=: arrivals are counted over it")
            factor: object = new_leads
            if isinstance(factor, bool) or not isinstance(factor, int | float) or not (
                    0 <= factor < math.inf):
                raise InvalidInput(f"new_leads={new_leads!r} must be a finite factor >= 0")
            today_n = round(self.arrivals_per_day * horizon_us / 86_400_000_000)
            extra_today = (today_n, self._arrival_probability(horizon_us))
            extra_then = (round(today_n * new_leads),
                          model._arrival_probability(horizon_us))
            changes["new_leads"] = f"x{new_leads}"
        scale = None
        if capacity is not None:
            if horizon_us is None:
                raise InvalidInput("capacity= needs horizon=: a capacity is per horizon")
            scale = model._capacity_scale(leads, capacity, extra_then[0])
            changes["capacity"] = f"{capacity[0]} <= {capacity[1]} leads"
        today = self._forecast(leads, runs=runs, seed=seed, horizon=horizon, value=value,
                               extra=extra_today)
        scenario = model._forecast(leads, runs=runs, seed=seed, horizon=horizon, value=value,
                                   extra=extra_then, scale=scale)
        return WhatIf(today, scenario, changes)

    def _arrival_probability(self, horizon_us: int) -> float:
        """Win probability within the horizon of a lead arriving at a uniform time in it."""
        initial = self.funnel.initial
        if initial not in self._transient:
            return self.win_probability(initial)
        steps = 12
        total = 0.0
        for k in range(steps):
            left = horizon_us * (steps - k - 0.5) / steps
            total += self._within(max(1, int(left)))[initial]
        return total / steps

    def _with_move(self, move: object) -> MarkovModel:
        if not isinstance(move, tuple) or len(move) != 3:
            raise InvalidInput(f"move={move!r} must be (source, target, probability)")
        source, target, p = move
        source = check_stage(self.funnel, source, "move source", open_only=True)
        target = self._stage(target)
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 1:
            raise InvalidInput(f"move probability {p!r} must be a number from 0 to 1")
        row = dict(self.probabilities.get(source, {}))
        rest = 1.0 - row.get(target, 0.0)
        others = {t: q for t, q in row.items() if t != target}
        new = {t: (q / rest * (1.0 - p) if rest > 0 else 0.0) for t, q in others.items()}
        new[target] = float(p)
        probabilities = {**self.probabilities, source: new}
        return attrs.evolve(self, probabilities=probabilities)

    def _capacity_scale(
        self, leads: list[Lead], capacity: object, arriving: int
    ) -> dict[str, float]:
        if not isinstance(capacity, tuple) or len(capacity) != 2:
            raise InvalidInput(f"capacity={capacity!r} must be (team, leads per horizon)")
        team, limit = capacity
        stages = {s.name for s in self.funnel.stages if s.team == team}
        if not stages:
            raise InvalidInput(f"capacity team {team!r} owns no stage of funnel "
                               f"{self.funnel.name!r}; teams are {', '.join(self.funnel.teams)}")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise InvalidInput(f"capacity limit {limit!r} must be an int >= 0")
        reach = self._hit_probability(stages)
        before = [s for s in self._transient if s not in stages]
        demand = sum(reach[lead.stage] for lead in leads if lead.stage in before)
        demand += arriving * reach.get(self.funnel.initial, 0.0)
        factor = min(1.0, limit / demand) if demand > 0 else 1.0
        return dict.fromkeys(before, factor)

    def _hit_probability(self, stages: set[str]) -> dict[str, float]:
        """P(ever entering one of *stages*) from each open stage outside them."""
        outside = [s for s in self._transient if s not in stages]
        index = {s: i for i, s in enumerate(outside)}
        size = len(outside)
        a = [[float(i == j) for j in range(size)] for i in range(size)]
        r = [0.0] * size
        for s in outside:
            for t, p in self.probabilities.get(s, {}).items():
                if t in stages:
                    r[index[s]] += p
                elif t in index:
                    a[index[s]][index[t]] -= p
        inv = _invert(a) if size else []
        return {s: sum(inv[index[s]][k] * r[k] for k in range(size)) for s in outside}


def _mean(groups: Mapping[str, list[float]]) -> float:
    values = [v for vs in groups.values() for v in vs]
    return sum(values) / len(values) if values else 0.0


def _destinations(rows: list[tuple[int, str | None, int]]) -> dict[str, float]:
    """Where stays end, Aalen-Johansen: each destination's cumulative incidence, normalised."""
    by_time: dict[int, dict[str | None, int]] = {}
    total = 0
    for d, nxt, n in rows:
        slot = by_time.setdefault(d, {})
        slot[nxt] = slot.get(nxt, 0) + n
        total += n
    left, survival = total, 1.0
    incidence: dict[str, float] = {}
    for d in sorted(by_time):
        slot = by_time[d]
        ended = sum(n for t, n in slot.items() if t is not None)
        if ended:
            for t, n in slot.items():
                if t is not None:
                    incidence[t] = incidence.get(t, 0.0) + survival * n / left
            survival *= 1.0 - ended / left
        left -= sum(slot.values())
    mass = sum(incidence.values())
    return {t: f / mass for t, f in sorted(incidence.items())} if mass else {}
