"""Policy backtest: what another qualification policy would have done on the recorded history."""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import TYPE_CHECKING, Any

import attrs

from funnelkit._core.decision import Context
from funnelkit._core.errors import InvalidInput
from funnelkit._core.lead import Lead
from funnelkit._policy.loader import run_policy
from funnelkit.analytics._analyses import EPOCH, US, check_stage, main_path

if TYPE_CHECKING:
    from collections.abc import Mapping

    from funnelkit._core.decision import Policy
    from funnelkit._core.touchpoint import Touchpoint
    from funnelkit.analytics._log import FunnelLog

__all__ = ["Backtest", "Cell", "backtest"]


@attrs.frozen
class Cell:
    """Leads in one cell of the backtest and how many of them converted afterwards.

    ``converted`` is observed for leads the recorded policy passed, and ``estimated`` (None
    otherwise) for leads only the new policy passes, whose history never went that way.

    >>> from funnelkit.analytics import Cell
    >>> Cell(10, 3, None).to_dict()
    {'leads': 10, 'converted': 3, 'estimated': None}
    """

    leads: int
    converted: int | None
    estimated: float | None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return attrs.asdict(self)


@attrs.frozen
class Backtest:
    """What :func:`backtest` returns.

    The recorded policy passed some leads (they made the ``event`` move) and not others (they
    sat in its source stage and left another way, or are still there).  The new policy decides
    each of them again, on the lead as it was then.  ``both`` and ``old_only`` hold the
    observed outcomes (``old_only`` is what the new policy would have lost); ``new_only`` has
    an estimate resting on ``assumption``; ``neither`` were refused by both.

    >>> from funnelkit.analytics import Backtest, Cell
    >>> c = Cell(1, 0, None)
    >>> Backtest("qualify", 4, 2, 2, c, c, c, c, "same as passed leads").to_dict()["new_passed"]
    2
    """

    event: str
    candidates: int
    new_passed: int
    new_refused: int
    both: Cell
    old_only: Cell
    new_only: Cell
    neither: Cell
    assumption: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {"event": self.event, "candidates": self.candidates,
                "new_passed": self.new_passed, "new_refused": self.new_refused,
                "both": self.both.to_dict(), "old_only": self.old_only.to_dict(),
                "new_only": self.new_only.to_dict(), "neither": self.neither.to_dict(),
                "assumption": self.assumption}


def backtest(
    log: FunnelLog, *, event: str, policy: Policy | str, outcome: str | None = None,
    bands: int = 5,
) -> Backtest:
    """Decide every recorded *event* again with *policy*, and compare what followed.

    Candidates are the leads that were ever in a stage *event* leaves.  A lead the recorded
    policy passed is decided at the moment of its first *event* move; any other candidate at
    the moment it left that stage by another move (or ``as_of`` when it is still there).  The
    lead is rebuilt as it was then: that stage, its attributes and source as the log has them
    (stores keep no history of attributes), and its touchpoints up to then.  A lead converted
    when it entered *outcome* (default: the first won stage) after that moment.  Leads only
    the new policy passes are estimated to convert like the leads the recorded policy passed
    whose new score falls in the same quantile band (*bands* of them), or at their overall
    rate when the policy gives no score.  *policy* is a callable policy or a rule string.
    """
    from funnelkit.analytics._log import FunnelLog  # noqa: PLC0415 - a type check at run time

    if not isinstance(log, FunnelLog):
        raise InvalidInput("backtest replays moves and touchpoints: pass a FunnelLog (the SQL "
                           "engine keeps neither in memory)")
    funnel = log.funnel
    if event not in funnel.events:
        raise InvalidInput(f"event={event!r} is not an event of funnel {funnel.name!r}; events "
                           f"are {', '.join(funnel.events)}")
    if isinstance(policy, str):
        from funnelkit.policies import rule  # noqa: PLC0415 - the policy layer, on demand

        policy = rule(policy)
    if not callable(policy):
        raise InvalidInput(f"policy={policy!r} must be a policy (a callable returning a "
                           f"Decision) or a rule string")
    target = main_path(funnel)[-1] if outcome is None else check_stage(funnel, outcome, "outcome")
    given_bands: object = bands
    if isinstance(given_bands, bool) or not isinstance(given_bands, int) or bands < 1:
        raise InvalidInput(f"bands={bands!r} must be an int >= 1")
    sources = {s.name for s in funnel.stages if event in funnel.events_from(s.name)}
    points = _decision_points(log, event, sources)
    goal = log._stage_index[target]
    reached = _entries_after(log, goal)
    touches: dict[str, list[Touchpoint]] = {}
    for tp in sorted(log.touchpoints, key=lambda tp: tp.at):
        touches.setdefault(tp.lead_id, []).append(tp)
    rows: list[tuple[bool, bool, float | None, bool]] = []  # old, new, score, converted
    for i, (stage, entered, at, passed, version) in points.items():
        lead = log._leads[i]
        then = Lead(lead.id, stage, version=version, attributes=lead.attributes,
                    source=lead.source, owner=lead.owner, created_at=lead.created_at,
                    stage_entered_at=EPOCH + entered * US, updated_at=EPOCH + at * US)
        when = EPOCH + at * US
        seen = tuple(tp for tp in touches.get(lead.id, ()) if tp.at <= when)
        decision = run_policy(policy, then, Context(when, touchpoints=seen, funnel=funnel), event)
        converted = any(a >= at for a in reached.get(i, ()))
        rows.append((passed, decision.allowed, decision.score, converted))
    cells = {(o, n): [r for r in rows if r[0] == o and r[1] == n]
             for o in (True, False) for n in (True, False)}
    estimate, assumption = _estimate([r for r in rows if r[0]], cells[False, True], bands)

    def observed(key: tuple[bool, bool]) -> Cell:
        return Cell(len(cells[key]), sum(r[3] for r in cells[key]), None)

    new_passed = len(cells[True, True]) + len(cells[False, True])
    return Backtest(event, len(rows), new_passed, len(rows) - new_passed, observed((True, True)),
                    observed((True, False)), Cell(len(cells[False, True]), None, estimate),
                    Cell(len(cells[False, False]), None, None), assumption)


def _decision_points(
    log: FunnelLog, event: str, sources: set[str]
) -> dict[int, tuple[str, int, int, bool, int]]:
    """Per candidate lead: (stage, entered it at, decided at, recorded policy passed, version)."""
    names = log._stages
    source_idx = {log._stage_index[s] for s in sources}
    initial = log._stage_index[log.funnel.initial]
    cur = dict.fromkeys(range(len(log._leads)), initial)
    entered = dict(enumerate(log._created))
    version = dict.fromkeys(range(len(log._leads)), 0)
    first_stay: dict[int, tuple[int, int, int]] = {}  # lead -> (stage, entered, left or -1)
    if initial in source_idx:
        first_stay = {i: (initial, c, -1) for i, c in enumerate(log._created)}
    passed: dict[int, tuple[str, int, int, bool, int]] = {}
    events = log._event_names
    for i, s, a, e in zip(log._moves_lead, log._moves_stage, log._moves_at, log._moves_event,
                          strict=True):
        c = cur[i]
        if c in source_idx and events[e] == event and i not in passed:
            passed[i] = (names[c], entered[i], a, True, version[i])
        stay = first_stay.get(i)
        if stay is not None and stay[2] < 0 and s != c:
            first_stay[i] = (stay[0], stay[1], a)
        version[i] += 1
        if s != c:
            cur[i] = s
            entered[i] = a
            if s in source_idx and i not in first_stay:
                first_stay[i] = (s, a, -1)
    as_of = log._as_of_us
    points = dict(passed)
    for i, (stage, since, left) in first_stay.items():
        if i not in points:
            points[i] = (names[stage], since, as_of if left < 0 else left, False, 0)
    return points


def _entries_after(log: FunnelLog, stage: int) -> Mapping[int, list[int]]:
    out: dict[int, list[int]] = {}
    if stage == log._stage_index[log.funnel.initial]:
        for i, c in enumerate(log._created):
            out[i] = [c]
    for i, s, a in zip(log._moves_lead, log._moves_stage, log._moves_at, strict=True):
        if s == stage:
            out.setdefault(i, []).append(a)
    return out


def _estimate(
    passed: list[tuple[bool, bool, float | None, bool]],
    new_only: list[tuple[bool, bool, float | None, bool]], bands: int,
) -> tuple[float | None, str]:
    if not new_only:
        return 0.0, "no lead passes only the new policy"
    if not passed:
        return None, "no lead passed the recorded policy: nothing to estimate from"
    scored = [r[2] for r in passed if r[2] is not None]
    if len(scored) < len(passed) or any(r[2] is None for r in new_only) or bands == 1:
        rate = sum(r[3] for r in passed) / len(passed)
        return len(new_only) * rate, (
            f"leads only the new policy passes convert at the rate of the leads the recorded "
            f"policy passed ({rate:.1%})")
    ordered = sorted(scored)
    edges = [ordered[min(len(ordered) - 1, math.ceil(k * len(ordered) / bands))]
             for k in range(1, bands)]
    def band(score: float) -> int:
        return bisect_right(edges, score)
    hits = [0] * bands
    counts = [0] * bands
    for r in passed:
        b = band(r[2])  # type: ignore[arg-type]
        counts[b] += 1
        hits[b] += r[3]
    overall = sum(hits) / sum(counts)
    total = 0.0
    for r in new_only:
        b = band(r[2])  # type: ignore[arg-type]
        total += hits[b] / counts[b] if counts[b] else overall
    return total, (
        f"leads only the new policy passes convert like the leads the recorded policy passed "
        f"whose new score is in the same of {bands} quantile bands")
