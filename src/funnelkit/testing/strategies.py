"""Hypothesis strategies for funnel data: leads, touchpoints, sources, event sequences, funnels.

They follow Hypothesis's own API style: plural names, keyword-only ``min_size``/``max_size``
bounds, and arguments that are strategies (wrap a fixed value in ``st.just``).  Arguments are
checked at the call: impossible bounds raise :class:`InvalidArgument` there, not at the first
draw.  This module needs the extra ``funnelkit[testing]`` (Hypothesis).

>>> from hypothesis import given
>>> from funnelkit import templates
>>> from funnelkit.testing import strategies as fst
>>> funnel = templates.inbound()
>>> @given(fst.leads(funnel=funnel), fst.event_sequences(funnel, max_size=5))
... def test_walks_stay_in_the_funnel(lead, steps):
...     for event, reason in steps:
...         lead = funnel.fire(lead, event, at=lead.updated_at, reason=reason).lead
...     assert lead.stage in {s.name for s in funnel.stages}
>>> test_walks_stay_in_the_funnel()
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

try:
    from hypothesis import strategies as st
    from hypothesis.errors import InvalidArgument as _HypothesisInvalidArgument
except ImportError as exc:  # pragma: no cover - depends on the environment
    from funnelkit._core.errors import MissingExtra

    raise MissingExtra(
        "funnelkit.testing.strategies needs Hypothesis; install the extra: "
        "pip install 'funnelkit[testing]'"
    ) from exc

from funnelkit import templates
from funnelkit._core.errors import FunnelError
from funnelkit._core.lead import _DEFAULT_KINDS, Lead, Source
from funnelkit._core.touchpoint import Touchpoint
from funnelkit._definition.funnel import Funnel, Move, Stage

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "InvalidArgument",
    "event_sequences",
    "funnels",
    "leads",
    "sources",
    "touchpoints",
]

SearchStrategy = st.SearchStrategy


class InvalidArgument(FunnelError, _HypothesisInvalidArgument):  # noqa: N818 - Hypothesis's name
    """A strategy was given arguments it cannot work with (impossible bounds, a wrong type).

    Both a :class:`funnelkit.FunnelError` and Hypothesis's own ``InvalidArgument`` (itself a
    ``TypeError``), so either family of ``except`` clauses catches it.  Raised at the call.

    >>> from funnelkit import templates
    >>> event_sequences(templates.inbound(), min_size=5, max_size=2)
    Traceback (most recent call last):
    ...
    funnelkit.testing.strategies.InvalidArgument: event_sequences(min_size=5, max_size=2): min_size
    is larger than max_size; give min_size <= max_size
    """


#: Channels ``sources()`` draws from by default: the well-known ones, with their usual kinds.
CHANNELS: tuple[str, ...] = tuple(sorted(_DEFAULT_KINDS))
#: Touchpoint kinds ``touchpoints()`` draws from by default.
TOUCHPOINT_KINDS: tuple[str, ...] = (
    "email_open", "email_click", "page_view", "form_submit", "content_download", "webinar",
    "demo_request", "pricing_view", "call", "meeting", "direct_mail", "ad_click", "unsubscribe",
)
_REASONS = ("not ready to buy", "no budget this year", "wrong contact", "chose a competitor",
            "went quiet", "timing", "duplicate")
_MIN_TIME = datetime(2020, 1, 1)  # noqa: DTZ001 - Hypothesis wants naive bounds with timezones=
_MAX_TIME = datetime(2030, 12, 31)  # noqa: DTZ001 - same reason
_OPEN_NAMES = ("subscriber", "lead", "mql", "sql", "opportunity", "proposal", "negotiation",
               "nurture", "trial", "onboarding")
_CLOSED_NAMES = {
    "won": ("customer", "won", "evangelist"),
    "lost": ("disqualified", "lost", "churned"),
}
_TEAMS = ("marketing", "sales", "success")
_IDS = st.integers(min_value=1, max_value=999_999).map(lambda n: f"L{n}")
_OWNERS = st.none() | st.sampled_from(["sdr-1", "sdr-2", "ae-1", "ae-2"])
#: How many moves ``event_sequences`` makes at most when ``max_size`` is None.
DEFAULT_MAX_MOVES = 20


def _fail(call: str, message: str) -> InvalidArgument:
    return InvalidArgument(f"{call}: {message}")


def _check_strategy(call: str, name: str, value: object) -> None:
    if value is not None and not isinstance(value, SearchStrategy):
        raise _fail(call, f"{name}={value!r} is not a Hypothesis strategy; wrap a fixed value in "
                          f"hypothesis.strategies.just(...)")


def _check_size(
    function: str, min_name: str, min_size: object, max_name: str, max_size: object
) -> None:
    call = f"{function}()"
    if isinstance(min_size, bool) or not isinstance(min_size, int):
        raise _fail(call, f"{min_name}={min_size!r} must be an int")
    if min_size < 0:
        raise _fail(call, f"{min_name}={min_size!r} must be >= 0")
    if max_size is not None:
        if isinstance(max_size, bool) or not isinstance(max_size, int):
            raise _fail(call, f"{max_name}={max_size!r} must be an int or None")
        if max_size < min_size:
            raise _fail(f"{function}({min_name}={min_size}, {max_name}={max_size})",
                        f"{min_name} is larger than {max_name}; give {min_name} <= {max_name}")


def _times() -> SearchStrategy[datetime]:
    return st.datetimes(min_value=_MIN_TIME, max_value=_MAX_TIME, timezones=st.just(UTC))


def sources(*, channels: SearchStrategy[str] | None = None) -> SearchStrategy[Source]:
    """Lead sources: a channel and its Predictable Revenue kind (seed, net, spear or None).

    *channels* draws the channel names (default: the well-known channels, such as
    ``referral``, ``paid_search``, ``cold_email``); the kind is the channel's usual one
    (:meth:`funnelkit.Source.of`), None for channels it does not know.

    >>> from hypothesis import find
    >>> find(sources(), lambda s: s.kind == "spear").kind
    'spear'
    """
    _check_strategy("sources()", "channels", channels)
    return _sources(channels)


def _sources(channels: SearchStrategy[str] | None) -> SearchStrategy[Source]:
    if channels is None:
        return st.sampled_from(CHANNELS).map(Source.of)
    return channels.filter(_is_name).map(Source.of)


def _is_name(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _default_attributes() -> SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={
        "budget": st.integers(min_value=0, max_value=500_000),
        "employees": st.integers(min_value=1, max_value=100_000),
        "industry": st.sampled_from(
            ["software", "retail", "finance", "health", "education", "manufacturing"]),
        "country": st.sampled_from(["US", "GB", "DE", "FR", "BR", "IN", "JP"]),
        "title": st.sampled_from(
            ["CEO", "CTO", "VP Sales", "Head of Marketing", "Engineer", "Intern"]),
        "authority": st.booleans(),
        "need": st.booleans(),
        "timeline_days": st.integers(min_value=0, max_value=365),
    })


def leads(
    *,
    funnel: Funnel | None = None,
    ids: SearchStrategy[str] | None = None,
    attributes: SearchStrategy[Mapping[str, Any]] | None = None,
    sources: SearchStrategy[Source | None] | None = None,
    owners: SearchStrategy[str | None] | None = None,
    created_at: SearchStrategy[datetime] | None = None,
) -> SearchStrategy[Lead]:
    """New leads (version 0) in *funnel*'s initial stage (the inbound template's by default).

    Each argument is a strategy: *ids* for lead ids (default ``"L1"`` to ``"L999999"``),
    *attributes* for the attribute mapping (default: a mix of ``budget``, ``employees``,
    ``industry``, ``country``, ``title``, ``authority``, ``need``, ``timeline_days``),
    *sources* (default: None or :func:`sources`), *owners* (default: None or a rep id) and
    *created_at* (aware datetimes between 2020 and 2030 by default).

    >>> from hypothesis import find
    >>> lead = find(leads(), lambda lead: lead.attributes.get("budget", 0) > 10_000)
    >>> lead.stage, lead.version, lead.attributes["budget"]
    ('subscriber', 0, 10001)
    """
    call = "leads()"
    if funnel is not None and not isinstance(funnel, Funnel):
        raise _fail(call, f"funnel={funnel!r} is not a funnelkit.Funnel")
    for name, value in (("ids", ids), ("attributes", attributes), ("sources", sources),
                        ("owners", owners), ("created_at", created_at)):
        _check_strategy(call, name, value)
    the_funnel = funnel if funnel is not None else templates.inbound()
    return st.builds(
        lambda id_, at, attrs_, source, owner: the_funnel.new_lead(
            id_, at=at, attributes=attrs_, source=source, owner=owner),
        ids if ids is not None else _IDS,
        created_at if created_at is not None else _times(),
        attributes if attributes is not None else _default_attributes(),
        sources if sources is not None else st.none() | _sources(None),
        owners if owners is not None else _OWNERS,
    )


def touchpoints(
    *,
    lead_ids: SearchStrategy[str] | None = None,
    kinds: SearchStrategy[str] | None = None,
    channels: SearchStrategy[str] | None = None,
    times: SearchStrategy[datetime] | None = None,
    points: SearchStrategy[float | None] | None = None,
) -> SearchStrategy[Touchpoint]:
    """Touchpoints: one interaction each (an e-mail opened, a webinar, a demo request, ...).

    *lead_ids* (default ``st.just("L1")``), *kinds* (default: common kinds such as
    ``webinar`` and ``demo_request``), *channels* (default: the well-known channels),
    *times* (aware datetimes) and *points* (default None: let the scoring model decide) are
    strategies.

    >>> from hypothesis import find
    >>> find(touchpoints(), lambda tp: tp.kind == "demo_request").lead_id
    'L1'
    """
    call = "touchpoints()"
    for name, value in (("lead_ids", lead_ids), ("kinds", kinds), ("channels", channels),
                        ("times", times), ("points", points)):
        _check_strategy(call, name, value)
    return st.builds(
        lambda lead_id, kind, channel, at, pts: Touchpoint(lead_id, kind, channel, at, points=pts),
        lead_ids if lead_ids is not None else st.just("L1"),
        kinds if kinds is not None else st.sampled_from(TOUCHPOINT_KINDS),
        channels if channels is not None else st.sampled_from(CHANNELS),
        times if times is not None else _times(),
        points if points is not None else st.none(),
    )


def _walk_table(funnel: Funnel, *, guarded: bool) -> dict[str, list[tuple[str, str]]]:
    """Stage -> [(event, target)] for the moves a sequence may use."""
    table: dict[str, list[tuple[str, str]]] = {}
    for stage in funnel.stages:
        table[stage.name] = [
            (event, funnel.target(stage.name, event)) for event in funnel.events_from(stage.name)
            if guarded or funnel.policy(stage.name, event) is None
        ]
    return table


def _can_walk(table: dict[str, list[tuple[str, str]]], limit: int) -> list[set[str]]:
    """``can[k]`` is the set of stages from which *k* more moves are possible (k <= limit)."""
    can = [set(table)]
    for _ in range(limit):
        previous = can[-1]
        now = {s for s, moves in table.items() if any(t in previous for _, t in moves)}
        can.append(now)
        if not now:
            break
    return can


def event_sequences(
    funnel: Funnel,
    *,
    min_size: int = 0,
    max_size: int | None = None,
    start: str | None = None,
    reasons: SearchStrategy[str] | None = None,
    guarded: bool = True,
) -> SearchStrategy[list[tuple[str, str | None]]]:
    """Lists of ``(event, reason)`` pairs that walk *funnel* from *start* (its initial stage).

    Every event is valid from the stage the walk has reached; *reason* is drawn from *reasons*
    (default: short sales reasons such as ``"no budget this year"``) where the move needs one
    (backward moves and moves marked ``requires_reason``) and is None elsewhere.  A walk that
    reaches a stage with no way out ends there, so sequences can be shorter than *max_size*;
    every sequence has at least *min_size* moves, and a *min_size* the funnel cannot reach
    from *start* (it has no loop long enough) raises :class:`InvalidArgument` at the call.
    *max_size* None means at most ``min_size + 20`` moves.

    **Guarded moves.**  The strategy knows the funnel's graph, not its data: it does not run
    policies.  By default (*guarded* True) moves a policy guards are drawn like any other, so
    firing the sequence may raise :class:`funnelkit.PolicyRefused`; a test catches it (the lead
    stays where it was and the test can stop, skip the step or ``assume`` it away) or checks
    first with :meth:`funnelkit.Funnel.check`.  With *guarded* False the sequences only use
    unguarded moves, and a *min_size* those alone cannot reach raises :class:`InvalidArgument`.

    >>> from hypothesis import find
    >>> from funnelkit import templates
    >>> funnel = templates.inbound()
    >>> find(event_sequences(funnel, min_size=2), lambda steps: True)
    [('convert', None), ('qualify', None)]
    >>> quiet = event_sequences(funnel, reasons=st.just("went quiet"))
    >>> [reason for _, reason in find(quiet, lambda s: any(s))]
    [None]
    >>> steps = find(quiet, lambda steps: any(reason for _, reason in steps))
    >>> steps[-1][1]
    'went quiet'
    """
    call = "event_sequences()"
    if not isinstance(funnel, Funnel):
        raise _fail(call, f"funnel={funnel!r} is not a funnelkit.Funnel; pass the funnel to walk")
    _check_size("event_sequences", "min_size", min_size, "max_size", max_size)
    _check_strategy(call, "reasons", reasons)
    if type(guarded) is not bool:
        raise _fail(call, f"guarded={guarded!r} must be True or False")
    origin: object = funnel.initial if start is None else start
    if not isinstance(origin, str) or origin not in {s.name for s in funnel.stages}:
        raise _fail(call, f"start={start!r} is not a stage of funnel {funnel.name!r}; stages are "
                          f"{', '.join(s.name for s in funnel.stages)}")
    table = _walk_table(funnel, guarded=guarded)
    upper = max_size if max_size is not None else min_size + DEFAULT_MAX_MOVES
    can = _can_walk(table, upper)
    longest = max(k for k, stages in enumerate(can) if origin in stages)
    if longest < min_size:
        which = "moves" if guarded else "unguarded moves"
        raise _fail(
            f"event_sequences(min_size={min_size})",
            f"funnel {funnel.name!r} allows at most {longest} {which} from {origin!r} (no loop "
            f"keeps a lead going longer), so min_size={min_size} cannot be reached; lower min_size",
        )
    upper = min(upper, longest)
    reason_strategy = reasons if reasons is not None else st.sampled_from(_REASONS)
    needs_reason = {
        (s, e): funnel.requires_reason(s, e) for s, moves in table.items() for e, _ in moves
    }

    @st.composite
    def walk(draw: Any) -> list[tuple[str, str | None]]:
        size = draw(st.integers(min_value=min_size, max_value=upper))
        stage = origin
        steps: list[tuple[str, str | None]] = []
        for done in range(size):
            remaining = size - done - 1
            choices = [(e, t) for e, t in table[stage]
                       if remaining < len(can) and t in can[remaining]]
            if not choices:  # pragma: no cover - `can` guarantees a way on
                break
            event, target = draw(st.sampled_from(choices))
            reason = draw(reason_strategy) if needs_reason[(stage, event)] else None
            steps.append((event, reason))
            stage = target
        return steps

    return walk()


def funnels(
    *,
    min_stages: int = 2,
    max_stages: int = 8,
    teams: SearchStrategy[str] | None = None,
) -> SearchStrategy[Funnel]:
    """Random valid funnel definitions, for property tests of code that works on any funnel.

    Each funnel has between *min_stages* and *max_stages* stages (at least 2: an open initial
    stage and a won or lost one), every stage reachable from the initial one, every open stage
    able to reach a won or lost stage, forward moves (some with an SLA or ``requires_reason``)
    and backward ones (declared, so they need a reason).  Stage teams come from *teams*
    (default: marketing, sales, success), so some moves are handoffs.  Every funnel drawn passes
    :func:`funnelkit.testing.assert_funnel_ok`.

    >>> from hypothesis import find
    >>> f = find(funnels(min_stages=3), lambda f: len(f.teams) > 1)
    >>> len(f.stages), f.initial
    (3, 'subscriber')
    """
    call = "funnels()"
    _check_size("funnels", "min_stages", min_stages, "max_stages", max_stages)
    if min_stages < 2:
        raise _fail(call, f"min_stages={min_stages} is too small; a funnel needs at least 2 stages "
                          f"(an open initial stage and a won or lost one)")
    _check_strategy(call, "teams", teams)
    team_strategy = teams if teams is not None else st.sampled_from(_TEAMS)

    @st.composite
    def build(draw: Any) -> Funnel:
        n = draw(st.integers(min_value=min_stages, max_value=max_stages))
        closed = draw(st.integers(min_value=1, max_value=max(1, min(3, n - 1))))
        opened = n - closed
        extra_names = (f"stage_{i}" for i in range(max(0, opened - len(_OPEN_NAMES))))
        names = [*_OPEN_NAMES, *extra_names][:opened]
        outcomes = ["open"] * opened
        for k in range(closed):
            outcome = draw(st.sampled_from(["won", "lost"]))
            outcomes.append(outcome)
            names.append(next(name for name in (*_CLOSED_NAMES[outcome], f"{outcome}_{k}")
                              if name not in names))
        team_names: SearchStrategy[str] = team_strategy.filter(_is_name)
        stages = [Stage(names[i], draw(team_names), outcome=outcomes[i])  # type: ignore[arg-type]
                  for i in range(n)]
        pairs: dict[tuple[int, int], Move] = {}

        def add(i: int, j: int) -> None:
            if (i, j) in pairs or i == j:
                return
            backward = j < i
            crosses = stages[i].team != stages[j].team
            sla = None
            if crosses and not backward:
                sla = draw(st.sampled_from([None, "4 business hours", "2 days"]))
            requires_reason = False if backward else draw(st.booleans()) and draw(st.booleans())
            pairs[(i, j)] = Move(f"to_{names[j]}", names[i], names[j], backward=backward,
                                 requires_reason=requires_reason, sla=sla)

        for j in range(1, n):  # every stage reachable: a move in from an earlier open stage
            add(draw(st.integers(min_value=0, max_value=min(j, opened) - 1)), j)
        for i in range(opened):  # every open stage moves on, forward, so it reaches an outcome
            if not any(a == i and b > i for a, b in pairs):
                add(i, draw(st.integers(min_value=i + 1, max_value=n - 1)))
        extra = draw(st.integers(min_value=0, max_value=n))
        for _ in range(extra):  # more moves, forward or back, out of open stages
            add(draw(st.integers(min_value=0, max_value=opened - 1)),
                draw(st.integers(min_value=0, max_value=n - 1)))
        return Funnel("generated", initial=names[0], stages=stages, moves=list(pairs.values()))

    return build()
