"""Attribution: which channels make customers, from the paths of touchpoints before converting.

Every model works on :class:`Journey` values, which both the engine and the tests can build: the
channels of a lead's touchpoints in time order, their ages at conversion, whether the lead
converted, its weight (1, or its value) and, for the W-shaped model, which touches were the
last ones before the lead and opportunity milestones.  The Markov model solves its absorbing
chain exactly (Gaussian elimination), so its figures never move between runs.
"""

from __future__ import annotations

from collections import Counter
from math import factorial
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple

import attrs

from funnelkit._core.errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["MODELS", "Attribution", "Journey", "attribute", "conversion_probability"]

MODELS = ("first", "last", "linear", "time_decay", "position", "w_shaped", "markov", "shapley")
"""The attribution models :meth:`~funnelkit.analytics.FunnelLog.attribution` knows."""

MAX_SHAPLEY_CHANNELS = 15
_PATH = itemgetter(0, 2)  # a journey's (channels, converted)
_START, _CONVERSION, _NULL = "(start)", "(conversion)", "(null)"


class Journey(NamedTuple):
    """One lead's path: channels in time order, ages at conversion (microseconds), outcome."""

    channels: tuple[str, ...]
    ages: tuple[int, ...]
    converted: bool
    weight: float = 1.0
    milestones: tuple[int, ...] = ()  # touch indices of the W-shaped milestones (-1: none)


@attrs.frozen
class Attribution:
    """What :meth:`~funnelkit.analytics.FunnelLog.attribution` returns.

    ``credit`` maps each channel to its share of the conversions (or of their value); the
    credits add up to ``conversions``: conversions with at least one touchpoint in the lookback
    window (``unattributed`` counts the others), or their value when a value was named.
    ``removal_effects`` is filled by the Markov model: the share of conversions lost when the
    channel is removed.

    >>> from funnelkit.analytics import Attribution
    >>> Attribution("last", {"email": 2.0}, 2.0, 0, 3).to_dict()["credit"]
    {'email': 2.0}
    """

    model: str
    credit: Mapping[str, float]
    conversions: float
    unattributed: int
    paths: int
    removal_effects: Mapping[str, float] = attrs.field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {"model": self.model, "credit": dict(self.credit), "conversions": self.conversions,
                "unattributed": self.unattributed, "paths": self.paths,
                "removal_effects": dict(self.removal_effects)}


# -- rule-based models -----------------------------------------------------------------------------


def _shares(model: str, j: Journey, half_life_us: int) -> list[float]:  # noqa: PLR0911 - one return per model
    """The share of one conversion each touch of *j* gets (they add up to 1)."""
    n = len(j.channels)
    if model == "first":
        return [1.0] + [0.0] * (n - 1)
    if model == "last":
        return [0.0] * (n - 1) + [1.0]
    if model == "linear":
        return [1.0 / n] * n
    if model == "time_decay":
        weights = [2.0 ** (-age / half_life_us) for age in j.ages]
        total = sum(weights)
        return [w / total for w in weights]
    if model == "position":
        if n <= 2:
            return [1.0 / n] * n
        middle = 0.2 / (n - 2)
        return [0.4] + [middle] * (n - 2) + [0.4]
    assert model == "w_shaped"
    keys = sorted({0, *(m for m in j.milestones if m >= 0)})
    rest = n - len(keys)
    shares = [0.0 if rest else 1.0 / len(keys)] * n
    if rest:
        for i in range(n):
            shares[i] = 0.1 / rest
        for k in keys:
            shares[k] = 0.9 / len(keys)
    return shares


# -- Markov ------------------------------------------------------------------------------------


def _solve(states: list[str], rows: dict[str, dict[str, float]]) -> float:
    """P(reaching conversion from start) in the absorbing chain *rows* (Gaussian elimination)."""
    index = {s: i for i, s in enumerate(states)}
    n = len(states)
    # (I - Q) x = r, where r is the one-step probability of converting.
    a = [[0.0] * (n + 1) for _ in range(n)]
    for s, i in index.items():
        a[i][i] = 1.0
        for t, p in rows.get(s, {}).items():
            if t == _CONVERSION:
                a[i][n] += p
            elif t in index:
                a[i][index[t]] -= p
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        if abs(a[pivot][col]) < 1e-300:
            continue  # a state that never leads anywhere: its probability stays 0
        a[col], a[pivot] = a[pivot], a[col]
        head = a[col]
        inv = 1.0 / head[col]
        for r in range(n):
            if r != col and a[r][col]:
                f = a[r][col] * inv
                row = a[r]
                for c in range(col, n + 1):
                    row[c] -= f * head[c]
    i = index[_START]
    return a[i][n] / a[i][i] if a[i][i] else 0.0


def _chain(
    paths: Mapping[tuple[str, ...], tuple[float, float]], order: int
) -> dict[str, dict[str, float]]:
    """Transition probabilities between k-th order states (the last k channels seen)."""
    counts: dict[str, dict[str, float]] = {}
    for path, (conv, null) in paths.items():
        state = _START
        for i in range(len(path)):
            nxt = ">".join(path[max(0, i + 1 - order):i + 1])
            slot = counts.setdefault(state, {})
            slot[nxt] = slot.get(nxt, 0.0) + conv + null
            state = nxt
        slot = counts.setdefault(state, {})
        if conv:
            slot[_CONVERSION] = slot.get(_CONVERSION, 0.0) + conv
        if null:
            slot[_NULL] = slot.get(_NULL, 0.0) + null
    return {s: {t: c / sum(cs.values()) for t, c in cs.items()} for s, cs in counts.items()}


def _without(rows: dict[str, dict[str, float]], channel: str) -> dict[str, dict[str, float]]:
    """The chain with *channel* removed: every transition into a state holding it goes to null."""
    def holds(state: str) -> bool:
        return state not in (_START, _CONVERSION, _NULL) and channel in state.split(">")

    out: dict[str, dict[str, float]] = {}
    for s, targets in rows.items():
        if holds(s):
            continue
        row: dict[str, float] = {}
        for t, p in targets.items():
            key = _NULL if holds(t) else t
            row[key] = row.get(key, 0.0) + p
        out[s] = row
    return out


def conversion_probability(
    paths: Mapping[tuple[str, ...], tuple[float, float]], *, order: int = 1,
    removed: str | None = None,
) -> float:
    """P(conversion) of the k-th order Markov chain of *paths*, with a channel removed or not.

    *paths* maps each path (channels in order) to (conversions, non-conversions).

    >>> conversion_probability({("a",): (1.0, 1.0), ("b",): (1.0, 0.0)})
    0.6666666666666666
    >>> conversion_probability({("a",): (1.0, 1.0), ("b",): (1.0, 0.0)}, removed="b")
    0.3333333333333333
    """
    rows = _chain(paths, order)
    if removed is not None:
        rows = _without(rows, removed)
    if _START not in rows:
        return 0.0
    return _solve(list(rows), rows)


def _markov(paths: Mapping[tuple[str, ...], tuple[float, float]], order: int
            ) -> tuple[dict[str, float], dict[str, float]]:
    rows = _chain(paths, order)  # built once; each removal only reroutes its edges
    base = _solve(list(rows), rows) if _START in rows else 0.0
    channels = sorted({c for path in paths for c in path})
    effects = {}
    for c in channels:
        cut = _without(rows, c)
        without = _solve(list(cut), cut) if _START in cut else 0.0
        effects[c] = 1.0 - without / base if base else 0.0
    total = sum(effects.values())
    return ({c: e / total for c, e in effects.items()} if total else dict.fromkeys(effects, 0.0),
            effects)


# -- Shapley -----------------------------------------------------------------------------------


def _shapley(sets: Mapping[frozenset[str], tuple[float, float]]) -> dict[str, float]:
    """Exact Shapley values of v(S) = sum of the conversion rates of coalitions inside S."""
    channels = sorted({c for s in sets for c in s})
    n = len(channels)
    if n > MAX_SHAPLEY_CHANNELS:
        raise InvalidInput(
            f"the shapley model enumerates every coalition of channels and is refused above "
            f"{MAX_SHAPLEY_CHANNELS} channels ({n} here): group channels first (for example map "
            f"rare ones to 'other' with a breakdown of the touchpoints you pass), or use 'markov'")
    bit = {c: 1 << i for i, c in enumerate(channels)}
    rate = [0.0] * (1 << n)
    for s, (conv, total) in sets.items():
        mask = 0
        for c in s:
            mask |= bit[c]
        rate[mask] += conv / total if total else 0.0
    value = rate[:]  # v(S) = sum over subsets T of S of rate(T): a subset-sum transform
    for i in range(n):
        for mask in range(1 << n):
            if mask >> i & 1:
                value[mask] += value[mask ^ (1 << i)]
    weight = [factorial(k) * factorial(n - k - 1) / factorial(n) for k in range(n)]
    out = {}
    for i, c in enumerate(channels):
        phi = 0.0
        for mask in range(1 << n):
            if not mask >> i & 1:
                phi += weight[mask.bit_count()] * (value[mask | 1 << i] - value[mask])
        out[c] = phi
    return out


# -- the one entry point -----------------------------------------------------------------------


def attribute(
    model: str, journeys: Iterable[Journey], *, half_life_us: int = 7 * 86_400_000_000,
    order: int = 1,
) -> Attribution:
    """Attribute the conversions of *journeys* to channels under *model*.

    >>> js = [Journey(("ads", "email"), (5, 1), True), Journey(("ads",), (0,), False)]
    >>> attribute("linear", js).credit
    {'ads': 0.5, 'email': 0.5}
    """
    if model not in MODELS:
        raise InvalidInput(f"model={model!r} is not an attribution model; use one of "
                           f"{', '.join(MODELS)}")
    given: object = order
    if isinstance(given, bool) or not isinstance(given, int) or order < 1:
        raise InvalidInput(f"order={order!r} must be an int >= 1 (the Markov chain's memory)")
    credit: dict[str, float] = {}
    converted = unattributed = paths = 0
    total = 0.0
    by_path: dict[tuple[str, ...], list[float]] = {}
    if model in ("markov", "shapley"):
        # The chain and the coalitions only count paths: group identical ones first, in C.
        for (channels, won), n in Counter(map(_PATH, journeys)).items():
            if not channels:
                unattributed += n * won
                continue
            paths += n
            by_path.setdefault(channels, [0.0, 0.0])[0 if won else 1] += n
            converted += n * won
        total = float(sum(j.weight for j in journeys if j.converted and j.channels))
    else:
        for j in journeys:
            if not j.channels:
                unattributed += j.converted
                continue
            paths += 1
            if j.converted:
                converted += 1
                total += j.weight
                for channel, share in zip(j.channels, _shares(model, j, half_life_us),
                                          strict=True):
                    credit[channel] = credit.get(channel, 0.0) + share * j.weight
    effects: dict[str, float] = {}
    if model == "markov":
        shares, effects = _markov({p: (c, n) for p, (c, n) in by_path.items()}, order)
        credit = {c: s * total for c, s in shares.items()}
    elif model == "shapley":
        by_set: dict[frozenset[str], tuple[float, float]] = {}
        for path, (won, lost) in by_path.items():
            key = frozenset(path)
            conv, seen = by_set.get(key, (0.0, 0.0))
            by_set[key] = (conv + won, seen + won + lost)
        phi = _shapley(by_set)
        scale = sum(phi.values())
        credit = {c: v / scale * total if scale else 0.0 for c, v in phi.items()}
    if not converted:
        credit = dict.fromkeys(credit, 0.0)
    return Attribution(model, dict(sorted(credit.items(), key=lambda kv: (-kv[1], kv[0]))),
                       total, unattributed, paths, effects)


def check_model(model: object) -> str:
    """*model* if it is a known model name."""
    if not isinstance(model, str) or model not in MODELS:
        raise InvalidInput(f"model={model!r} is not an attribution model; use one of "
                           f"{', '.join(MODELS)}")
    return model
