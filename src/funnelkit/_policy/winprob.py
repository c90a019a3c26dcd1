"""A learned win probability: naive Bayes over per-value frequencies of closed leads.

The approach Odoo's predictive lead scoring uses (``crm_lead._pls_get_naive_bayes_probabilities``):
for every field, count how often each value appears among won and among lost leads, add a small
smoothing count, multiply the per-value likelihoods with the won / lost prior, and clamp the
result away from 0 and 1 so no single value can make a lead certain.  Computed in log space, so
many fields never underflow.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from funnelkit._core.errors import InvalidPolicy
from funnelkit._core.lead import Lead
from funnelkit._core.limits import items_of

__all__ = ["Factor", "WinProbability"]

_OUTCOMES: Mapping[object, bool] = {"won": True, "lost": False, True: True, False: False}


@attrs.frozen
class Factor:
    """One field's pull on a lead's win probability, from :meth:`WinProbability.explain`.

    ``weight`` is the log-likelihood ratio ``ln(P(value | won) / P(value | lost))``: above zero
    the value pushes the probability up, below zero down.  ``won`` and ``lost`` count the closed
    leads that had the value.
    """

    field: str
    value: Any
    won: int
    lost: int
    weight: float

    @property
    def direction(self) -> str:
        """``"up"``, ``"down"`` or ``"neutral"``."""
        return "up" if self.weight > 0 else "down" if self.weight < 0 else "neutral"


def _category(value: Any, edges: Sequence[float] | None) -> Hashable | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if edges is not None and isinstance(value, int | float) and not isinstance(value, bool):
        i = bisect.bisect_right(edges, value)
        if i == 0:
            return f"<{edges[0]:g}"
        if i == len(edges):
            return f">={edges[-1]:g}"
        return f"{edges[i - 1]:g}..{edges[i]:g}"
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value  # type: ignore[no-any-return]


def _values(item: Lead | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(item, Lead):
        if item.source is not None and "source" not in item.attributes:
            return {**item.attributes, "source": item.source.channel}
        return item.attributes
    if isinstance(item, Mapping):
        return item
    raise InvalidPolicy(f"{item!r} is not a Lead or a mapping of attributes")


@attrs.frozen
class WinProbability:
    """Estimates how likely an open lead is to be won, from closed leads' attribute values.

    Build it with :meth:`fit`; call :meth:`predict` (or the model itself) on a lead or a mapping
    of attributes, and :meth:`explain` to see which values pushed it up or down.

    >>> history = [({"source": "referral"}, "won"), ({"source": "referral"}, "won"),
    ...            ({"source": "referral"}, "lost"), ({"source": "paid_search"}, "lost"),
    ...            ({"source": "paid_search"}, "lost"), ({"source": "paid_search"}, "won")]
    >>> model = WinProbability.fit(history)
    >>> model.predict({"source": "referral"}) > model.predict({"source": "paid_search"})
    True
    >>> model.explain({"source": "referral"})[0].direction
    'up'
    """

    fields: tuple[str, ...]
    won: int
    lost: int
    counts: Mapping[str, Mapping[Hashable, tuple[int, int]]] = attrs.field(repr=False)
    smoothing: float = 0.1
    bounds: tuple[float, float] = (0.01, 0.99)
    bins: Mapping[str, tuple[float, ...]] = attrs.field(factory=dict, repr=False)

    @classmethod
    def fit(
        cls,
        history: Iterable[tuple[Lead | Mapping[str, Any], bool | str]],
        *,
        fields: Iterable[str] | None = None,
        smoothing: float = 0.1,
        bounds: tuple[float, float] = (0.01, 0.99),
        bins: Mapping[str, Sequence[float]] | None = None,
    ) -> WinProbability:
        """Learn from closed leads: pairs of (lead or attribute mapping, won).

        ``won`` is True / ``"won"`` or False / ``"lost"``.  ``fields`` limits the attributes
        used (default: every attribute seen; a Lead's source channel counts as ``source``).
        Values are categories; ``bins`` cuts numeric fields at the given edges first.
        ``smoothing`` (> 0) is added to every count, as Odoo adds 0.1; ``bounds`` clamps the
        probability.
        """
        alpha: object = smoothing
        if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not (
            math.isfinite(smoothing) and smoothing > 0
        ):
            raise InvalidPolicy(f"smoothing={smoothing!r} must be a finite number above zero")
        low, high = _bounds(bounds)
        edges = _bins(bins)
        wanted: tuple[Any, ...] | None = (
            None if fields is None else items_of(fields, "fields", InvalidPolicy))
        if wanted is not None and not all(isinstance(f, str) and f for f in wanted):
            raise InvalidPolicy(f"fields={wanted!r} must be attribute names")
        counts: dict[str, dict[Hashable, list[int]]] = {}
        won = lost = 0
        pairs: Iterable[Any] = items_of(history, "history", InvalidPolicy)
        for i, pair in enumerate(pairs):
            if not isinstance(pair, tuple | list) or len(pair) != 2:
                raise InvalidPolicy(f"history[{i}]={pair!r} must be a (lead, outcome) pair")
            item, outcome = pair
            result = _OUTCOMES.get(outcome) if isinstance(outcome, Hashable) else None
            if result is None:
                raise InvalidPolicy(f"history[{i}] outcome={outcome!r} must be True / 'won' or "
                                    f"False / 'lost'")
            values = _values(item)
            won += result
            lost += not result
            for name in wanted if wanted is not None else values:
                if not isinstance(name, str):
                    continue
                value = _category(values.get(name), edges.get(name))
                if value is None:
                    counts.setdefault(name, {})
                    continue
                slot = counts.setdefault(name, {}).setdefault(value, [0, 0])
                slot[0 if result else 1] += 1
        if not won or not lost:
            raise InvalidPolicy(f"history has {won} won and {lost} lost leads; a win probability "
                                f"needs at least one of each")
        names = wanted if wanted is not None else tuple(sorted(counts))
        return cls(
            names, won, lost,
            {n: {v: (c[0], c[1]) for v, c in counts.get(n, {}).items()} for n in names},
            float(smoothing), (low, high), edges,
        )

    def _likelihood(self, name: str, value: Hashable) -> tuple[int, int, float]:
        won, lost = self.counts[name].get(value, (0, 0))
        a = self.smoothing
        k = len(self.counts[name]) + 1  # seen values plus one for "unseen"
        p_won = (won + a) / (self.won + a * k)
        p_lost = (lost + a) / (self.lost + a * k)
        return won, lost, math.log(p_won / p_lost)

    def _factors(self, item: Lead | Mapping[str, Any]) -> list[Factor]:
        values = _values(item)
        factors = []
        for name in self.fields:
            value = _category(values.get(name), self.bins.get(name))
            if value is None:
                continue
            won, lost, weight = self._likelihood(name, value)
            factors.append(Factor(name, value, won, lost, weight))
        return factors

    def predict(self, item: Lead | Mapping[str, Any]) -> float:
        """The probability that *item* (a lead or attributes) is won, within ``bounds``."""
        log_odds = math.log(self.won / self.lost) + sum(f.weight for f in self._factors(item))
        if log_odds >= 0:
            p = 1.0 / (1.0 + math.exp(-log_odds))
        else:
            e = math.exp(log_odds)
            p = e / (1.0 + e)
        low, high = self.bounds
        return min(max(p, low), high)

    __call__ = predict

    def explain(self, item: Lead | Mapping[str, Any]) -> tuple[Factor, ...]:
        """What pushed *item*'s probability up or down, strongest first.

        Fields *item* lacks are left out.
        """
        return tuple(sorted(self._factors(item), key=lambda f: (-abs(f.weight), f.field)))

    @property
    def base_rate(self) -> float:
        """The share of closed leads that were won."""
        return self.won / (self.won + self.lost)


def _bounds(value: object) -> tuple[float, float]:
    if (
        not isinstance(value, tuple | list) or len(value) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        or not 0 < value[0] < value[1] < 1
    ):
        raise InvalidPolicy(f"bounds={value!r} must be (low, high) with 0 < low < high < 1, "
                            f"for example (0.01, 0.99)")
    return (float(value[0]), float(value[1]))


def _bins(value: object) -> dict[str, tuple[float, ...]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidPolicy(f"bins={value!r} must map field names to ascending edges")
    result = {}
    for name, edges in value.items():
        if (
            not isinstance(edges, Sequence) or isinstance(edges, str) or not edges
            or not all(isinstance(e, int | float) and not isinstance(e, bool) and math.isfinite(e)
                       for e in edges)
            or list(edges) != sorted(set(edges))
        ):
            raise InvalidPolicy(f"bins[{name!r}]={edges!r} must be finite numbers in ascending "
                                f"order, for example [1000, 10000]")
        result[name] = tuple(float(e) for e in edges)
    return result
