"""``FunnelLog``: the in-memory engine, one checking pass over the library's own values."""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, MutableSequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from funnelkit._core.errors import InvalidInput
from funnelkit._core.handoff import Handoff
from funnelkit._core.lead import Lead, Transition
from funnelkit._core.reserved import MERGE_EVENT, MERGED_STAGE, UNMERGE_EVENT
from funnelkit._core.touchpoint import Touchpoint
from funnelkit._definition.funnel import Funnel
from funnelkit.analytics._analyses import (
    EPOCH,
    US,
    Analyses,
    By,
    HandoffCounts,
    VelocityCounts,
    check_as_of,
    group_of,
    to_us,
    value_of,
)
from funnelkit.analytics._attribution import Journey

if TYPE_CHECKING:
    from datetime import datetime

    from funnelkit.stores import Store

__all__ = ["FunnelLog"]

_T = TypeVar("_T")

_PAGE = 10_000
_NEVER = -1 << 62


def _paged(stream: Callable[..., Iterable[tuple[int, Any]]],
           on_page: Callable[[int], object] | None = None) -> Iterator[Any]:
    """Every value of a store stream, page by page from each page's last position."""
    after = 0
    while True:
        page = list(stream(after=after, limit=_PAGE))
        for _, value in page:
            yield value
        if on_page is not None:
            on_page(len(page))
        if len(page) < _PAGE:
            return
        after = page[-1][0]


class FunnelLog(Analyses):
    """A funnel's history as of one moment: leads, their moves, touchpoints and handoffs.

    Built from plain iterables of the library's own values (each lead's creation is its entry
    into the funnel's initial stage) or streamed from a store with :meth:`from_store`.  The
    log is checked once, when it is built: a move of a lead not in *leads*, moves of one lead
    out of version order, going back in time or not starting where the previous one ended,
    stages the funnel does not know, an ``as_of`` that is naive or before the last event: each
    raises :class:`~funnelkit.InvalidInput` naming the row.  An empty log is valid and gives
    empty results.

    A lead merged into another (``Pipeline.merge``: its stage is ``funnelkit.merged``) is the
    same person as its survivor, which holds its touchpoints and pending handoffs and the stage
    furthest along: the log counts the person once, through the survivor, and leaves the
    duplicate's lead, moves, touchpoints and handoffs out (their ids are in :attr:`merged`).  A
    merge that was undone is no stay of its own: the lead stays where it was until the unmerge
    moves it on, as if it had never left.

    Memory holds per-lead state and four machine integers per move, never the moves
    themselves.  Every lead still open at ``as_of`` is censored in every analysis.

    >>> from datetime import datetime, timedelta, timezone
    >>> from funnelkit import templates
    >>> from funnelkit.analytics import FunnelLog
    >>> funnel = templates.inbound()
    >>> t0 = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    >>> leads, moves = [], []
    >>> for i, events in enumerate([("convert", "qualify"), ("convert",), ()]):
    ...     lead = funnel.new_lead(f"L{i}", at=t0)
    ...     for day, event in enumerate(events, start=1):
    ...         outcome = funnel.fire(lead, event, at=t0 + timedelta(days=day))
    ...         lead = outcome.lead
    ...         moves.append(outcome.transition)
    ...     leads.append(lead)
    >>> log = FunnelLog(funnel, leads=leads, transitions=moves, as_of=t0 + timedelta(days=10))
    >>> [(r.step, r.entered, r.converted, r.open) for r in log.conversion().steps[:3]]
    [('subscriber', 3, 2, 1), ('lead', 2, 1, 1), ('mql', 1, 0, 1)]
    >>> log.time_in_stage("subscriber").median
    datetime.timedelta(days=1)
    """

    __slots__ = (
        "_created",
        "_cur",
        "_entered",
        "_event_names",
        "_exits",
        "_index",
        "_leads",
        "_lost",
        "_mask",
        "_memos",
        "_merged",
        "_moves_at",
        "_moves_event",
        "_moves_lead",
        "_moves_stage",
        "_open",
        "_outcome",
        "_stage_index",
        "_stages",
        "_stays",
        "_touch_paths",
        "_won",
        "as_of",
        "funnel",
        "handoffs",
        "touchpoints",
    )

    funnel: Funnel
    """The funnel the log is read with."""
    as_of: datetime
    """When the data were observed: leads still open then are censored."""
    touchpoints: tuple[Touchpoint, ...]
    """The touchpoints, checked (each of a known lead, not after ``as_of``)."""
    handoffs: tuple[Handoff, ...]
    """The handoffs, checked (each of a known lead, not after ``as_of``)."""

    def __init__(
        self,
        funnel: Funnel,
        *,
        leads: Iterable[Lead],
        transitions: Iterable[Transition],
        touchpoints: Iterable[Touchpoint] = (),
        handoffs: Iterable[Handoff] = (),
        as_of: datetime,
    ) -> None:
        """Check and index the log in one pass (see the class docstring)."""
        if not isinstance(funnel, Funnel):
            raise InvalidInput(f"funnel={funnel!r} must be a funnelkit.Funnel")
        check_as_of(as_of)
        given: tuple[object, ...] = (leads, transitions, touchpoints, handoffs)
        for value, name in zip(given, ("leads", "transitions", "touchpoints", "handoffs"),
                               strict=True):
            if isinstance(value, str | bytes) or not isinstance(value, Iterable):
                raise InvalidInput(f"{name}={value!r} must be an iterable of funnelkit values")
        self.funnel = funnel
        self.as_of = as_of
        stages = funnel.stages
        self._stages = tuple(s.name for s in stages)
        self._stage_index = {s.name: i for i, s in enumerate(stages)}
        self._open = tuple(s.is_open for s in stages)
        self._outcome = tuple(s.outcome for s in stages)
        self._leads: list[Lead] = []
        self._merged: set[str] = set()
        self._index: dict[str, int] = {}
        # Per-lead state in machine integers (a stage mask is a bit per stage, so a funnel of
        # more than 62 stages keeps its masks as Python ints).
        self._created = array("q")
        self._cur = array("h")
        self._entered = array("q")
        self._mask: MutableSequence[int] = array("q") if len(stages) < 63 else []
        self._won = array("q")
        self._lost = array("q")
        self._moves_lead = array("q")
        self._moves_stage = array("h")
        self._moves_at = array("q")
        self._moves_event = array("h")  # index into _event_names
        self._event_names: list[str] = []
        self._stays = [array("q") for _ in stages]  # durations of ended stays, per stage
        self._exits = [array("h") for _ in stages]  # where each of them went
        as_of_us = to_us(as_of)
        self._add_leads(leads, as_of_us)
        self._add_transitions(transitions, as_of_us)
        self.touchpoints = tuple(self._checked(touchpoints, Touchpoint, as_of_us))
        self.handoffs = tuple(self._checked(handoffs, Handoff, as_of_us))
        self._touch_paths: dict[int, list[tuple[int, str]]] | None = None
        self._memos: dict[tuple[Any, ...], Any] = {}

    @classmethod
    def from_store(
        cls,
        funnel: Funnel,
        store: Store,
        *,
        as_of: datetime,
        on_page: Callable[[int], object] | None = None,
    ) -> FunnelLog:
        """Stream a log from any store, page by page (resuming from each page's last position).

        *on_page*, when given, is called with the number of transitions of each page read, for
        a progress bar.

        >>> from datetime import datetime, timezone
        >>> from funnelkit import Pipeline, templates
        >>> from funnelkit.stores import MemoryStore
        >>> at = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
        >>> pipeline = Pipeline(templates.inbound(), store=MemoryStore())
        >>> _ = pipeline.capture("L1", at=at)
        >>> _ = pipeline.fire("L1", "convert", at=at)
        >>> pages = []
        >>> log = FunnelLog.from_store(pipeline.funnel, pipeline.store, as_of=at,
        ...                            on_page=pages.append)
        >>> log.conversion().steps[1].entered, pages
        (1, [1])
        """
        if on_page is not None and not callable(on_page):
            raise InvalidInput(f"on_page={on_page!r} must be a callable taking a count, or None")
        return cls(funnel, leads=store.leads(), transitions=_paged(store.transitions, on_page),
                   touchpoints=_paged(store.touchpoint_stream), handoffs=store.handoffs(),
                   as_of=as_of)

    # -- building ---------------------------------------------------------------------------

    def _add_leads(self, leads: Iterable[Lead], as_of_us: int) -> None:
        index = self._index
        initial = self._stage_index[self.funnel.initial]
        bit = 1 << initial
        for n, lead in enumerate(leads, start=1):
            if type(lead) is not Lead:
                raise InvalidInput(f"leads row {n} is {lead!r}, not a funnelkit.Lead")
            if lead.id in index or lead.id in self._merged:
                raise InvalidInput(f"leads row {n}: lead {lead.id!r} is given twice")
            if lead.stage == MERGED_STAGE:
                self._merged.add(lead.id)  # counted once, as its survivor
                continue
            if lead.stage not in self._stage_index:
                raise InvalidInput(
                    f"leads row {n}: lead {lead.id!r} is in stage {lead.stage!r}, which funnel "
                    f"{self.funnel.name!r} does not have")
            created = to_us(lead.created_at)
            if created > as_of_us:
                raise InvalidInput(
                    f"leads row {n}: lead {lead.id!r} was created at "
                    f"{lead.created_at.isoformat()}, after as_of={self.as_of.isoformat()}; "
                    f"as_of must be at or after the last event")
            index[lead.id] = len(self._leads)
            self._leads.append(lead)
            self._created.append(created)
            self._entered.append(created)
            self._cur.append(initial)
            self._mask.append(bit)
            self._won.append(_NEVER)
            self._lost.append(_NEVER)

    def _add_transitions(self, transitions: Iterable[Transition], as_of_us: int) -> None:
        index, stage_index, names = self._index, self._stage_index, self._stages
        cur, entered, mask, won, lost = self._cur, self._entered, self._mask, self._won, self._lost
        is_open, outcome, stays, exits = self._open, self._outcome, self._stays, self._exits
        m_lead, m_stage, m_at = self._moves_lead, self._moves_stage, self._moves_at
        m_event, event_names = self._moves_event, self._event_names
        event_index: dict[str, int] = {}
        version = array("q", bytes(8 * len(cur)))
        last_at = array("q", self._created)
        for n, t in enumerate(transitions, start=1):
            if type(t) is not Transition:
                raise InvalidInput(f"transitions row {n} is {t!r}, not a funnelkit.Transition")
            lead_id, source, target, at, v = t.lead_id, t.source, t.target, t.at, t.version
            i = index.get(lead_id)
            if i is None:
                if lead_id in self._merged:
                    continue
                raise InvalidInput(
                    f"transitions row {n} ({lead_id!r} v{v}): lead {lead_id!r} is not in leads; "
                    f"pass every lead whose moves you pass")
            s = stage_index.get(target)
            if s is None and target == MERGED_STAGE and t.event == MERGE_EVENT:
                s = cur[i]  # merged, later undone: the lead stays where it was meanwhile
            elif source == MERGED_STAGE and t.event == UNMERGE_EVENT:
                source = names[cur[i]]  # the unmerge moves on from where the merge left it
            if s is None or source not in stage_index:
                bad = target if s is None else source
                raise InvalidInput(
                    f"transitions row {n} ({lead_id!r} v{v}): stage {bad!r} is not in funnel "
                    f"{self.funnel.name!r}; read the log with the funnel that wrote it")
            if v <= version[i]:
                raise InvalidInput(
                    f"transitions row {n} ({lead_id!r} v{v}) comes after v{version[i]}: the "
                    f"moves of a lead must be given in version order")
            a = (at - EPOCH) // US
            if a < last_at[i]:
                raise InvalidInput(
                    f"transitions row {n} ({lead_id!r} v{v}) at {at.isoformat()} goes back in "
                    f"time from the lead's previous event")
            if a > as_of_us:
                raise InvalidInput(
                    f"transitions row {n} ({lead_id!r} v{v}) at {at.isoformat()} is after "
                    f"as_of={self.as_of.isoformat()}; as_of must be at or after the last event")
            c = cur[i]
            if source != names[c]:
                raise InvalidInput(
                    f"transitions row {n} ({lead_id!r} v{v}) leaves {source!r}, but the lead was "
                    f"in {names[c]!r}: a move is missing before it")
            version[i] = v
            last_at[i] = a
            e = event_index.get(t.event)
            if e is None:
                e = event_index[t.event] = len(event_names)
                event_names.append(t.event)
            m_lead.append(i)
            m_stage.append(s)
            m_at.append(a)
            m_event.append(e)
            if s == c:
                continue  # a move that stays in its stage does not end the stay
            if is_open[c]:
                stays[c].append(a - entered[i])
                exits[c].append(s)
            cur[i] = s
            entered[i] = a
            mask[i] |= 1 << s
            kind = outcome[s]
            if kind == "won":
                if won[i] == _NEVER:
                    won[i] = a
            elif kind == "lost" and lost[i] == _NEVER:
                lost[i] = a

    def _checked(self, values: Iterable[Any], kind: type[Any], as_of_us: int) -> Iterable[Any]:
        name = kind.__name__.lower() + "s"
        value: Any
        for n, value in enumerate(values, start=1):
            if type(value) is not kind:
                raise InvalidInput(f"{name} row {n} is {value!r}, not a funnelkit.{kind.__name__}")
            if value.lead_id not in self._index:
                if value.lead_id in self._merged:
                    continue
                raise InvalidInput(
                    f"{name} row {n}: lead {value.lead_id!r} is not in leads; pass every lead "
                    f"whose {name} you pass")
            times = [value.at] if kind is Touchpoint else [value.created_at, value.resolved_at]
            for at in times:
                if at is not None and to_us(at) > as_of_us:
                    raise InvalidInput(
                        f"{name} row {n} (lead {value.lead_id!r}) at {at.isoformat()} is after "
                        f"as_of={self.as_of.isoformat()}; as_of must be at or after the last "
                        f"event")
            yield value

    @property
    def leads(self) -> tuple[Lead, ...]:
        """The leads, in the order given, but for those merged into another (:attr:`merged`)."""
        return tuple(self._leads)

    @property
    def merged(self) -> frozenset[str]:
        """The ids of the leads merged into another, counted once as their survivor.

        >>> from datetime import datetime, timezone
        >>> from funnelkit import templates
        >>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
        >>> FunnelLog(templates.inbound(), leads=[], transitions=[], as_of=at).merged
        frozenset()
        """
        return frozenset(self._merged)

    def __repr__(self) -> str:
        """Say what the log holds."""
        return (f"FunnelLog({self.funnel.name!r}, leads={len(self._leads)}, "
                f"moves={len(self._moves_at)}, as_of={self.as_of.isoformat()})")

    # -- statistics -------------------------------------------------------------------------

    def _groups(self, by: By) -> list[str | None] | None:
        return None if by is None else [group_of(by, lead) for lead in self._leads]

    def _step_counts(
        self, steps: tuple[str, ...], *, ordered: bool, window_us: int | None, by: By
    ) -> dict[str | None, dict[tuple[int, bool], int]]:
        idx = [self._stage_index[s] for s in steps]
        closed = [not o for o in self._open]
        as_of_us = self._as_of_us
        if ordered:
            furthest, still = self._ordered(idx, window_us, as_of_us)
        else:
            # The furthest step of a set of entered stages depends only on the set: compute it
            # once per distinct set.
            by_mask: dict[int, int] = {}
            for m in set(self._mask):
                f = -1
                for k in range(len(idx) - 1, -1, -1):
                    if m >> idx[k] & 1:
                        f = k
                        break
                by_mask[m] = f
            furthest = [by_mask[m] for m in self._mask]
            still = [not closed[c] for c in self._cur]
        groups = self._groups(by)
        keys: Iterable[Any] = (zip(groups, furthest, still, strict=True) if groups is not None
                               else zip(furthest, still, strict=True))
        out: dict[str | None, dict[tuple[int, bool], int]] = {}
        for key, n in Counter(keys).items():
            g, f, o = key if groups is not None else (None, *key)
            if f >= 0:
                slot = out.setdefault(g, {})
                slot[f, o] = slot.get((f, o), 0) + n
        return out

    def _ordered(
        self, idx: list[int], window_us: int | None, as_of_us: int
    ) -> tuple[list[int], list[bool]]:
        """Per lead: the last step entered in order within the window, and whether still open."""
        k_steps = len(idx)
        step_of = {s: k for k, s in enumerate(idx)}
        initial = self._stage_index[self.funnel.initial]
        n = len(self._leads)
        k = [0] * n
        t0 = [0] * n
        if step_of.get(initial) == 0:
            k = [1] * n
            t0 = list(self._created)
        for i, s, a in zip(self._moves_lead, self._moves_stage, self._moves_at, strict=True):
            ki = k[i]
            if ki < k_steps and step_of.get(s) == ki:
                if ki == 0:
                    k[i] = 1
                    t0[i] = a
                elif window_us is None or a - t0[i] <= window_us:
                    k[i] = ki + 1
        closed = [not o for o in self._open]
        still = [
            not closed[c] and (window_us is None or (ki > 0 and as_of_us - t < window_us))
            for c, ki, t in zip(self._cur, k, t0, strict=True)
        ]
        return [ki - 1 for ki in k], still

    @property
    def as_of_us(self) -> int:
        """``as_of`` in microseconds since the Unix epoch."""
        return to_us(self.as_of)

    def _memo(self, key: tuple[Any, ...], compute: Callable[[], _T]) -> _T:
        """*compute*'s answer, kept for *key*.

        The log never changes once built, so a statistic two analyses need (a report's time in
        stage and its Markov model, two attribution models) is counted once.
        """
        if key not in self._memos:
            self._memos[key] = compute()
        return cast("_T", self._memos[key])

    def _exit_counts(self, stages: tuple[str, ...]) -> dict[str, list[tuple[int, str | None, int]]]:
        return self._memo(("exits", stages), lambda: self._count_exits(stages))

    def _count_exits(self, stages: tuple[str, ...]) -> dict[str, list[tuple[int, str | None, int]]]:
        as_of_us = self._as_of_us
        names = self._stages
        wanted = {self._stage_index[s] for s in stages}
        running: dict[int, Counter[int]] = {s: Counter() for s in wanted}
        for c, e in zip(self._cur, self._entered, strict=True):
            if c in wanted:
                running[c][as_of_us - e] += 1
        out: dict[str, list[tuple[int, str | None, int]]] = {}
        for s in wanted:
            ended = Counter(zip(self._stays[s], self._exits[s], strict=True))
            rows: list[tuple[int, str | None, int]] = [
                (d, names[t], n) for (d, t), n in ended.items()]
            rows.extend((d, None, n) for d, n in running[s].items())
            out[names[s]] = rows
        return out

    def _outcome_counts(self) -> list[tuple[int, int, int, int]]:
        as_of_us = self._as_of_us
        counts: Counter[tuple[int, int, int, int]] = Counter()
        for created, w, lo in zip(self._created, self._won, self._lost, strict=True):
            if w == _NEVER and lo == _NEVER:
                counts[as_of_us - created, 0, 0, 1] += 1
            elif lo == _NEVER or (w != _NEVER and w <= lo):
                counts[w - created, 1, 0, 0] += 1
            else:
                counts[lo - created, 0, 1, 0] += 1
        return [(t, w * n, lo * n, c * n) for (t, w, lo, c), n in counts.items()]

    def _created_range(self) -> tuple[int, int, int] | None:
        created = self._created
        return (min(created), max(created), len(created)) if created else None

    def _cohort_counts(
        self, bounds: list[int], horizons: list[int]
    ) -> dict[int, tuple[int, int, list[int]]]:
        out: dict[int, tuple[int, int, list[int]]] = {}
        for created, w in zip(self._created, self._won, strict=True):
            p = bisect_right(bounds, created) - 1
            leads, last, won = out.get(p) or (0, created, [0] * len(horizons))
            if w != _NEVER:
                for j, h in enumerate(horizons):
                    if w - created <= h:
                        won[j] += 1
            out[p] = (leads + 1, max(last, created), won)
        return out

    def _handoff_counts(self, by: By) -> dict[str, HandoffCounts]:
        as_of_us = self._as_of_us
        teams: dict[str, HandoffCounts] = {}
        first: dict[tuple[str, str], Handoff] = {}
        groups: dict[str, str | None] = {}
        for h in self.handoffs:
            c = teams.get(h.to_team) or teams.setdefault(h.to_team, HandoffCounts())
            c.handed += 1
            status = h.status
            resolved = None if h.resolved_at is None else to_us(h.resolved_at)
            if status == "accepted":
                c.accepted += 1
            elif status == "rejected":
                c.rejected += 1
                if by is not None:
                    g = groups.get(h.lead_id)
                    if h.lead_id not in groups:
                        g = groups[h.lead_id] = group_of(by, self._leads[self._index[h.lead_id]])
                    key = (g, h.reason or "")
                    c.reasons[key] = c.reasons.get(key, 0) + 1
            elif status == "expired":
                c.expired += 1
            else:
                c.pending += 1
            if h.due_at is not None:
                due = to_us(h.due_at)
                if status in ("accepted", "rejected") and resolved is not None:
                    if resolved <= due:
                        c.sla_met += 1
                    else:
                        c.sla_breached += 1
                elif status == "expired" or due < as_of_us:
                    c.sla_breached += 1
                else:
                    c.sla_open += 1
            key2 = (h.to_team, h.lead_id)
            best = first.get(key2)
            if best is None or (h.created_at, h.version) < (best.created_at, best.version):
                first[key2] = h
        for (team, _), h in first.items():
            start = to_us(h.created_at)
            if h.status == "accepted" and h.resolved_at is not None:
                teams[team].speed.append((to_us(h.resolved_at) - start, 1, 0))
            else:
                end = as_of_us if h.resolved_at is None else to_us(h.resolved_at)
                teams[team].speed.append((end - start, 0, 1))
        return teams

    def _first_entries(self, stage: int) -> dict[int, int]:
        """Lead index -> when it first entered *stage* (creation for the initial stage)."""
        if stage == self._stage_index[self.funnel.initial]:
            return dict(enumerate(self._created))
        first: dict[int, int] = {}
        for i, s, a in zip(self._moves_lead, self._moves_stage, self._moves_at, strict=True):
            if s == stage and i not in first:
                first[i] = a
        return first

    def _paths(self) -> dict[int, list[tuple[int, str]]]:
        """Lead index -> its touchpoints as (microseconds, channel), oldest first; built once."""
        if self._touch_paths is None:
            touches: dict[int, list[tuple[int, str]]] = {}
            index = self._index
            for tp in self.touchpoints:
                touches.setdefault(index[tp.lead_id], []).append(((tp.at - EPOCH) // US,
                                                                  tp.channel))
            for path in touches.values():
                path.sort()
            self._touch_paths = touches
        return self._touch_paths

    def _journeys(
        self, conversion: str, lookback_us: int, *, value: str | Callable[[Lead], Any] | None,
        milestones: tuple[str, ...],
    ) -> list[Journey]:
        return self._memo(("journeys", conversion, lookback_us, value, milestones),
                          lambda: self._make_journeys(conversion, lookback_us, value, milestones))

    def _make_journeys(
        self, conversion: str, lookback_us: int, value: str | Callable[[Lead], Any] | None,
        milestones: tuple[str, ...],
    ) -> list[Journey]:
        converted_at = self._first_entries(self._stage_index[conversion])
        marks = [self._first_entries(self._stage_index[m]) for m in milestones]
        paths = self._paths()
        journeys = []
        for i, lead in enumerate(self._leads):
            path = paths.get(i, ())
            at = converted_at.get(i)
            if at is None:
                channels = tuple(c for _, c in path)
                journeys.append(Journey(channels, (0,) * len(path), converted=False))
                continue
            window = [(a, c) for a, c in path if at - lookback_us <= a <= at]
            weight = 1.0 if value is None else value_of(value, lead, required=True)
            ms = tuple(
                max((k for k, (a, _) in enumerate(window) if a <= m[i]), default=-1)
                if i in m else -1 for m in marks)
            journeys.append(Journey(tuple(c for _, c in window), tuple(at - a for a, _ in window),
                                    converted=True, weight=weight, milestones=ms))
        return journeys

    def _velocity_counts(
        self, bounds: list[int], *, qualified: str, opportunity: str,
        value: str | Callable[[Lead], Any] | None,
    ) -> VelocityCounts:
        counts = VelocityCounts(len(bounds))
        q = self._stage_index[qualified]
        opp = self._stage_index[opportunity]
        first = self._first_entries(q)
        for a in first.values():
            counts.qualified[bisect_right(bounds, a) - 1] += 1
        outcome = self._outcome
        for i, (m, c, w) in enumerate(zip(self._mask, self._cur, self._won, strict=True)):
            if m >> opp & 1:
                kind = outcome[c]
                if c == opp:
                    counts.opp_open += 1
                elif kind == "won":
                    counts.opp_won += 1
                elif kind == "lost":
                    counts.opp_lost += 1
            if w != _NEVER:
                counts.cycle_n += 1
                counts.cycle_sum_us += w - self._created[i]
                if value is not None:
                    v = value_of(value, self._leads[i])
                    if v is not None:
                        counts.value_n += 1
                        counts.value_sum += v
        return counts
