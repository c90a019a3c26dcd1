"""Routers: who receives a handoff.  Factories return small objects with a readable repr.

A router answers ``router.choose(lead, team=..., workload=...)`` with a person (or None: leave the
handoff unassigned).  ``workload`` maps each person to their open (pending) handoffs; the pipeline
computes it lazily, only for routers that read it.  ``router.plan(leads)`` is a dry run: the
assignment the router would make, in order, without changing the router.
"""

from __future__ import annotations

import itertools
import math
import random
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from funnelkit._core.errors import InvalidInput
from funnelkit._core.lead import Lead
from funnelkit._core.limits import _short, is_name

__all__ = [
    "Router",
    "by_team",
    "least_loaded",
    "round_robin",
    "territory",
    "weighted",
]

_NO_LOAD: Mapping[str, int] = {}


@runtime_checkable
class Router(Protocol):
    """Chooses the assignee of a handoff; every router in :mod:`funnelkit.routing` is one.

    >>> from funnelkit.routing import Router, round_robin
    >>> isinstance(round_robin(["ann", "bob"]), Router)
    True
    """

    def choose(self, lead: Lead, *, team: str, workload: Mapping[str, int]) -> str | None:
        """The person who gets *lead*'s handoff to *team* (None: nobody, leave it unassigned)."""
        ...

    def plan(
        self, leads: Iterable[Lead], *, team: str = "", workload: Mapping[str, int] | None = None
    ) -> dict[str, str | None]:
        """A dry run: lead id -> whom :meth:`choose` would pick, in order, changing nothing."""
        ...


def _is_name(value: object) -> bool:
    """A person's name becomes a lead's owner: it must be a name every store can keep."""
    return is_name(value)


def _is_number(value: object) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def _checked(lead: object, team: object, workload: object) -> None:
    """Refuse what :meth:`Router.choose` cannot route (every router checks the same way)."""
    if type(lead) is not Lead:
        raise InvalidInput(f"lead={_short(lead)} is not a funnelkit.Lead")
    if not isinstance(team, str):
        raise InvalidInput(f"team={_short(team)} must be a team name (a string)")
    if not isinstance(workload, Mapping):
        raise InvalidInput(f"workload={_short(workload)} must map people to open handoffs")


def _planned(leads: object, team: object, workload: object) -> list[Lead]:
    """The leads of :meth:`Router.plan`, checked (every router checks the same way)."""
    if isinstance(leads, str | bytes | Mapping) or not isinstance(leads, Iterable):
        raise InvalidInput(f"leads={_short(leads)} must be an iterable of funnelkit.Lead")
    items = list(leads)
    for lead in items:
        _checked(lead, team, {} if workload is None else workload)
    return items


def _people(people: Iterable[str], factory: str) -> tuple[str, ...]:
    if isinstance(people, str):
        raise InvalidInput(f"{factory}({people!r}): give a list of people, not one string")
    try:
        chosen = tuple(people)
    except TypeError:
        raise InvalidInput(f"{factory}({people!r}): give a list of people") from None
    if not chosen:
        raise InvalidInput(f"{factory}() has no people to route to; give at least one person")
    for person in chosen:
        if not _is_name(person):
            raise InvalidInput(f"{factory}(): person {_short(person)} must be a non-empty string "
                               f"of at most 200 characters (it becomes a lead's owner)")
    if len(set(chosen)) != len(chosen):
        raise InvalidInput(f"{factory}({list(chosen)!r}): each person may appear once")
    return chosen


class _RoundRobin:
    """Each person in turn, starting with the first; ``plan`` does not advance the turn."""

    __slots__ = ("_lock", "_next", "people")

    def __init__(self, people: tuple[str, ...]) -> None:
        self.people = people
        self._next = 0
        self._lock = threading.Lock()

    def choose(
        self, lead: Lead, *, team: str = "", workload: Mapping[str, int] = _NO_LOAD
    ) -> str:
        _checked(lead, team, workload)
        with self._lock:
            person = self.people[self._next]
            self._next = (self._next + 1) % len(self.people)
            return person

    def plan(
        self, leads: Iterable[Lead], *, team: str = "", workload: Mapping[str, int] | None = None
    ) -> dict[str, str | None]:
        leads = _planned(leads, team, workload)
        with self._lock:
            start = self._next
        turn = itertools.islice(itertools.cycle(self.people), start, None)
        return {lead.id: next(turn) for lead in leads}

    def __repr__(self) -> str:
        return f"round_robin({list(self.people)!r})"


def round_robin(people: Iterable[str]) -> Router:
    """Give each person a handoff in turn: ann, bob, cid, ann, ...

    >>> from datetime import datetime, timezone
    >>> from funnelkit import Lead
    >>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
    >>> leads = [Lead(f"L{i}", "sql", created_at=at) for i in range(4)]
    >>> round_robin(["ann", "bob", "cid"]).plan(leads)
    {'L0': 'ann', 'L1': 'bob', 'L2': 'cid', 'L3': 'ann'}
    """
    return _RoundRobin(_people(people, "round_robin"))


class _Weighted:
    """A person drawn with probability proportional to their weight, seeded by the lead's id."""

    __slots__ = ("_cumulative", "_total", "people", "seed", "weights")

    def __init__(self, weights: Mapping[str, float], seed: int | str) -> None:
        self.people = tuple(weights)
        self.weights = tuple(weights.values())
        self.seed = seed
        self._cumulative = tuple(itertools.accumulate(self.weights))
        self._total = self._cumulative[-1]

    def choose(
        self, lead: Lead, *, team: str = "", workload: Mapping[str, int] = _NO_LOAD
    ) -> str:
        _checked(lead, team, workload)
        # One draw per lead, from a generator seeded with the router's seed and the lead's id:
        # the same lead always goes to the same person, whatever the order and in any process.
        point = random.Random(f"{self.seed}:{lead.id}").random() * self._total  # noqa: S311 - not crypto
        for person, edge in zip(self.people, self._cumulative, strict=True):
            if point < edge:
                return person
        return self.people[-1]  # pragma: no cover - float rounding at the very top

    def plan(
        self, leads: Iterable[Lead], *, team: str = "", workload: Mapping[str, int] | None = None
    ) -> dict[str, str | None]:
        leads = _planned(leads, team, workload)
        return {lead.id: self.choose(lead) for lead in leads}

    def __repr__(self) -> str:
        weights = dict(zip(self.people, self.weights, strict=True))
        return f"weighted({weights!r}, seed={self.seed!r})"


def weighted(people_with_weights: Mapping[str, float], *, seed: int | str = 0) -> Router:
    """Draw a person with probability proportional to their weight; reproducible per *seed*.

    The draw for a lead depends only on *seed* and the lead's id, so a plan and the real
    assignment agree, in any order and in any process.

    >>> from datetime import datetime, timezone
    >>> from funnelkit import Lead
    >>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
    >>> router = weighted({"ann": 3, "bob": 1}, seed=7)
    >>> lead = Lead("L1", "sql", created_at=at)
    >>> router.choose(lead, team="sales", workload={}) == router.plan([lead])["L1"]
    True
    """
    if not isinstance(people_with_weights, Mapping):
        raise InvalidInput(
            f"weighted({people_with_weights!r}): give a mapping of person to weight, "
            f"for example {{'ann': 3, 'bob': 1}}"
        )
    _people(people_with_weights, "weighted")
    for person, weight in people_with_weights.items():
        if not _is_number(weight) or not weight >= 0:
            raise InvalidInput(
                f"weighted(): the weight of {person!r} ({weight!r}) must be a number >= 0"
            )
    if not sum(people_with_weights.values()) > 0:
        raise InvalidInput("weighted(): every weight is zero; give someone a weight above zero")
    if not ((isinstance(seed, str) and seed) or (isinstance(seed, int)
                                                   and not isinstance(seed, bool))):
        raise InvalidInput(f"weighted(seed={seed!r}): the seed must be an int or a string")
    return _Weighted(dict(people_with_weights), seed)


class _LeastLoaded:
    """The person with the fewest open handoffs below their capacity; ties go to the first."""

    __slots__ = ("capacity",)

    def __init__(self, capacity: Mapping[str, int]) -> None:
        self.capacity = dict(capacity)

    def _pick(self, workload: Mapping[str, int]) -> str | None:
        best: str | None = None
        best_load = 0
        for person, limit in self.capacity.items():
            load = workload.get(person, 0)
            if load < limit and (best is None or load < best_load):
                best, best_load = person, load
        return best

    def choose(
        self, lead: Lead, *, team: str = "", workload: Mapping[str, int] = _NO_LOAD
    ) -> str | None:
        _checked(lead, team, workload)
        return self._pick(workload)

    def plan(
        self, leads: Iterable[Lead], *, team: str = "", workload: Mapping[str, int] | None = None
    ) -> dict[str, str | None]:
        leads = _planned(leads, team, workload)
        load = dict(workload or {})
        result: dict[str, str | None] = {}
        for lead in leads:
            person = self._pick(load)
            result[lead.id] = person
            if person is not None:
                load[person] = load.get(person, 0) + 1
        return result

    def __repr__(self) -> str:
        return f"least_loaded({self.capacity!r})"


def least_loaded(capacity: Mapping[str, int]) -> Router:
    """Give the handoff to whoever has the fewest open handoffs, below their *capacity*.

    *capacity* maps each person to the most open (pending) handoffs they may hold; when everyone
    is full the handoff stays unassigned (None).

    >>> from datetime import datetime, timezone
    >>> from funnelkit import Lead
    >>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
    >>> leads = [Lead(f"L{i}", "sql", created_at=at) for i in range(4)]
    >>> least_loaded({"ann": 2, "bob": 1}).plan(leads, workload={"ann": 1})
    {'L0': 'bob', 'L1': 'ann', 'L2': None, 'L3': None}
    """
    if not isinstance(capacity, Mapping):
        raise InvalidInput(f"least_loaded({capacity!r}): give a mapping of person to capacity")
    _people(capacity, "least_loaded")
    for person, limit in capacity.items():
        if type(limit) is not int or limit < 1:
            raise InvalidInput(
                f"least_loaded(): the capacity of {person!r} ({limit!r}) must be an int >= 1"
            )
    return _LeastLoaded(capacity)


Condition = Mapping[str, Any] | Callable[[Lead], bool]


def _holds(expected: Any, value: Any) -> bool:
    if callable(expected):
        return bool(expected(value))
    if isinstance(expected, set | frozenset | tuple | list | range):
        try:
            return value in expected
        except TypeError:
            return False
    return bool(value == expected)


def _matches(condition: Condition, lead: Lead) -> bool:
    if callable(condition):
        return bool(condition(lead))
    attributes = lead.attributes
    return all(
        name in attributes and _holds(expected, attributes[name])
        for name, expected in condition.items()
    )


class _Territory:
    """The router of the first rule whose condition matches the lead, else the default."""

    __slots__ = ("default", "rules")

    def __init__(self, rules: tuple[tuple[Condition, Router], ...], default: Router | None) -> None:
        self.rules = rules
        self.default = default

    def _route(self, lead: Lead) -> Router | None:
        for condition, router in self.rules:
            if _matches(condition, lead):
                return router
        return self.default

    def choose(
        self, lead: Lead, *, team: str = "", workload: Mapping[str, int] = _NO_LOAD
    ) -> str | None:
        _checked(lead, team, workload)
        router = self._route(lead)
        return None if router is None else router.choose(lead, team=team, workload=workload)

    def plan(
        self, leads: Iterable[Lead], *, team: str = "", workload: Mapping[str, int] | None = None
    ) -> dict[str, str | None]:
        leads = _planned(leads, team, workload)
        # Plan each sub-router over its own leads (so stateful ones keep their turn), then put
        # the answers back in the leads' order.
        ordered = list(leads)
        groups: dict[int, list[Lead]] = {}
        routers: dict[int, Router | None] = {}
        for lead in ordered:
            router = self._route(lead)
            groups.setdefault(id(router), []).append(lead)
            routers[id(router)] = router
        answers: dict[str, str | None] = {}
        for key, group in groups.items():
            router = routers[key]
            if router is None:
                answers.update(dict.fromkeys((lead.id for lead in group), None))
            else:
                answers.update(router.plan(group, team=team, workload=workload))
        return {lead.id: answers[lead.id] for lead in ordered}

    def __repr__(self) -> str:
        return f"territory({list(self.rules)!r}, default={self.default!r})"


def _check_router(router: object, where: str) -> Router:
    if not isinstance(router, Router):
        raise InvalidInput(f"{where}: {router!r} is not a router; build one with round_robin, "
                           f"weighted, least_loaded or territory")
    return router


def territory(
    rules: Sequence[tuple[Condition, Router]] | Iterator[tuple[Condition, Router]],
    *,
    default: Router | None = None,
) -> Router:
    """Route by the lead's attributes: the first rule whose condition matches picks the router.

    A condition is a mapping of attribute name to a value (equal), a collection or ``range``
    (contains) or a callable (true), all of which must hold; or a callable taking the lead.
    Leads no rule matches go to *default* (or stay unassigned).

    >>> from datetime import datetime, timezone
    >>> from funnelkit import Lead
    >>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
    >>> router = territory([
    ...     ({"country": {"DE", "AT", "CH"}}, round_robin(["dana"])),
    ...     ({"employees": range(1000, 10**9)}, round_robin(["enzo"])),
    ... ], default=round_robin(["finn"]))
    >>> leads = [Lead("L1", "sql", created_at=at, attributes={"country": "AT"}),
    ...          Lead("L2", "sql", created_at=at, attributes={"employees": 5000}),
    ...          Lead("L3", "sql", created_at=at)]
    >>> router.plan(leads)
    {'L1': 'dana', 'L2': 'enzo', 'L3': 'finn'}
    """
    checked: list[tuple[Condition, Router]] = []
    try:
        items = list(rules)
    except TypeError:
        raise InvalidInput(
            f"territory({rules!r}): give a list of (condition, router) pairs"
        ) from None
    if not items and default is None:
        raise InvalidInput("territory() has no rules and no default; give at least one of them")
    for i, item in enumerate(items):
        pair: object = item
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise InvalidInput(
                f"territory(): rule {i} ({item!r}) is not a (condition, router) pair"
            )
        condition, router = item
        if not callable(condition) and not isinstance(condition, Mapping):
            raise InvalidInput(
                f"territory(): rule {i}'s condition {condition!r} must be a mapping of attribute "
                f"to value, or a callable taking the lead"
            )
        checked.append((condition, _check_router(router, f"territory(): rule {i}")))
    if default is not None:
        _check_router(default, "territory(default=...)")
    return _Territory(tuple(checked), default)


class _ByTeam:
    """One router per receiving team; teams without one leave their handoffs unassigned."""

    __slots__ = ("default", "routers")

    def __init__(self, routers: dict[str, Router], default: Router | None) -> None:
        self.routers = routers
        self.default = default

    def choose(
        self, lead: Lead, *, team: str = "", workload: Mapping[str, int] = _NO_LOAD
    ) -> str | None:
        _checked(lead, team, workload)
        router = self.routers.get(team, self.default)
        return None if router is None else router.choose(lead, team=team, workload=workload)

    def plan(
        self, leads: Iterable[Lead], *, team: str = "", workload: Mapping[str, int] | None = None
    ) -> dict[str, str | None]:
        leads = _planned(leads, team, workload)
        router = self.routers.get(team, self.default)
        if router is None:
            return dict.fromkeys((lead.id for lead in leads), None)
        return router.plan(leads, team=team, workload=workload)

    def __repr__(self) -> str:
        return f"by_team({self.routers!r}, default={self.default!r})"


def by_team(routers: Mapping[str, Router], *, default: Router | None = None) -> Router:
    """A router per receiving team (sales, success, ...), for handoffs to several teams.

    >>> from datetime import datetime, timezone
    >>> from funnelkit import Lead
    >>> router = by_team({"sales": round_robin(["ann"]), "success": round_robin(["sam"])})
    >>> lead = Lead("L1", "customer", created_at=datetime(2026, 3, 2, tzinfo=timezone.utc))
    >>> router.choose(lead, team="success", workload={})
    'sam'
    """
    given: object = routers
    if not isinstance(given, Mapping) or not given:
        raise InvalidInput(f"by_team({routers!r}): give a mapping of team name to router")
    checked = {
        team: _check_router(router, f"by_team(): team {team!r}") for team, router in routers.items()
    }
    if default is not None:
        _check_router(default, "by_team(default=...)")
    return _ByTeam(checked, default)
