"""Funnel lint for tests: the static validation plus deeper checks, as one assertion."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, get_args

import attrs

from funnelkit._core.errors import InvalidFunnel, InvalidInput
from funnelkit._core.limits import items_of
from funnelkit._definition.funnel import Funnel
from funnelkit.testing._errors import FunnelAssertionError

__all__ = ["CHECKS", "LintCheck", "LintProblem", "assert_funnel_ok", "lint_funnel"]

LintCheck = Literal["definition", "reachable", "terminates", "shadowed"]
CHECKS: tuple[str, ...] = get_args(LintCheck)


@attrs.frozen
class LintProblem:
    """One thing :func:`lint_funnel` found wrong with a funnel.

    ``check`` names the check (``"definition"``, ``"reachable"``, ``"terminates"`` or
    ``"shadowed"``), ``path`` points into the funnel's data form, ``message`` says what is wrong
    and what to do.

    >>> LintProblem("reachable", "stages[3]", "stage 'x' is unreachable")
    LintProblem(check='reachable', path='stages[3]', message="stage 'x' is unreachable")
    """

    check: LintCheck
    path: str
    message: str

    def __str__(self) -> str:
        where = f" {self.path}:" if self.path else ""
        return f"[{self.check}]{where} {self.message}"


def _as_funnel(
    funnel: Funnel | Mapping[str, Any] | str | Path,
) -> tuple[Funnel | None, list[LintProblem]]:
    """Build the funnel from whatever was given, turning definition errors into problems."""
    try:
        if isinstance(funnel, Funnel):
            # Build it again from its parts: the constructor runs the whole static validation,
            # which catches funnels patched after they were built.
            built = Funnel(funnel.name, initial=funnel.initial, stages=funnel.stages,
                           moves=funnel.moves)
            return built, []
        if isinstance(funnel, Mapping):
            return Funnel.from_dict(funnel), []
        if isinstance(funnel, str | Path):
            return Funnel.from_file(funnel), []
    except InvalidFunnel as exc:
        return None, [
            # The build itself refuses unreachable stages; lint files them under their own check.
            LintProblem("reachable" if "is unreachable from" in message else "definition",
                        path, message)
            for path, message in exc.problems
        ]
    raise InvalidInput(
        f"funnel={funnel!r} is not a funnel; give a funnelkit.Funnel, its data form (a dict) or "
        f"the path of a .toml or .json definition"
    )


def _successors(funnel: Funnel, stage: str) -> list[str]:
    return [funnel.target(stage, event) for event in funnel.events_from(stage)]


def _check_terminates(funnel: Funnel, index: dict[str, int]) -> list[LintProblem]:
    # Walk the moves backwards from every won or lost stage: whatever is found can finish.
    back: dict[str, set[str]] = {s.name: set() for s in funnel.stages}
    for s in funnel.stages:
        for target in _successors(funnel, s.name):
            back[target].add(s.name)
    done = {s.name for s in funnel.stages if not s.is_open}
    queue = deque(done)
    while queue:
        for source in back[queue.popleft()]:
            if source not in done:
                done.add(source)
                queue.append(source)
    if not any(not s.is_open for s in funnel.stages):
        return [LintProblem("terminates", "stages", "no stage is won or lost, so no journey can "
                            "end; give at least one stage outcome 'won' or 'lost'")]
    return [
        LintProblem("terminates", f"stages[{index[s.name]}]",
                    f"open stage {s.name!r} can never reach a won or lost stage (its leads go "
                    f"round for ever); add a move from it, or from a stage it leads to, towards "
                    f"an outcome")
        for s in funnel.stages if s.is_open and s.name not in done
    ]


def _check_shadowed(funnel: Funnel) -> list[LintProblem]:
    problems = []
    move_index = {id(m): i for i, m in enumerate(funnel.moves)}
    for stage in funnel.stages:
        moves = funnel.moves_from(stage.name)
        first_free_auto = None
        for move in moves:
            if not move.auto:
                continue
            if funnel.requires_reason(stage.name, move.event):
                problems.append(LintProblem(
                    "shadowed", f"moves[{move_index[id(move)]}]",
                    f"auto move {move.event!r} from {stage.name!r} needs a reason (it is backward "
                    f"or marked requires_reason), so the pipeline never fires it by itself; drop "
                    f"auto, or requires_reason",
                ))
                continue
            guarded = funnel.policy(stage.name, move.event) is not None
            if first_free_auto is not None:
                problems.append(LintProblem(
                    "shadowed", f"moves[{move_index[id(move)]}]",
                    f"auto move {move.event!r} from {stage.name!r} never fires by itself: the "
                    f"earlier auto move {first_free_auto!r} has no policy and always fires first; "
                    f"guard {first_free_auto!r} with a policy or drop auto from one of them",
                ))
            elif not guarded:
                first_free_auto = move.event
    return problems


def lint_funnel(
    funnel: Funnel | Mapping[str, Any] | str | Path, *, skip: Iterable[LintCheck] = ()
) -> tuple[LintProblem, ...]:
    """Every problem with a funnel definition: the static validation and the deeper checks.

    *funnel* is a :class:`funnelkit.Funnel`, its data form, or the path of a ``.toml`` or
    ``.json`` definition.  The checks, each of which *skip* can leave out:

    ``definition``
        the static validation every funnel passes when it is built (unknown or duplicate stages,
        no initial stage, open stages with no way out, backward moves not declared, ...);
    ``reachable``
        every stage can be reached from the initial one (building a funnel already refuses
        an unreachable stage; lint reports it under this name so it can be told apart);
    ``terminates``
        every open stage can reach a won or lost stage (no loop leads can never leave);
    ``shadowed``
        no move is silently shadowed: an ``auto`` move after an unguarded ``auto`` move from the
        same stage, or one that needs a reason, never fires by itself.  (A ``stall_event`` that
        does not leave its stage is refused when the funnel is built, under ``definition``.)

    When the definition does not build, only its problems are listed.

    >>> from funnelkit import Funnel
    >>> loop = (Funnel.builder("loop").stage("a", "marketing").stage("b", "marketing")
    ...         .stage("won", "sales", outcome="won")
    ...         .move("go", "a", "b").move("back", "b", "a", backward=True)
    ...         .move("win", "a", "won").build())
    >>> lint_funnel(loop)
    ()
    """
    skip = items_of(skip, "skip")
    unknown = [c for c in skip if c not in CHECKS]
    if unknown:
        raise InvalidInput(
            f"skip={list(skip)!r}: unknown check(s) {unknown}; checks are {', '.join(CHECKS)}"
        )
    skipped = set(skip)
    built, problems = _as_funnel(funnel)
    if built is None:
        return tuple(p for p in problems if p.check not in skipped)
    index = {s.name: i for i, s in enumerate(built.stages)}
    if "terminates" not in skipped:
        problems += _check_terminates(built, index)
    if "shadowed" not in skipped:
        problems += _check_shadowed(built)
    return tuple(problems)


def assert_funnel_ok(
    funnel: Funnel | Mapping[str, Any] | str | Path, *, skip: Iterable[LintCheck] = ()
) -> None:
    """Fail (:class:`FunnelAssertionError`) when :func:`lint_funnel` finds any problem.

    Put it in the host's test suite so CI fails the moment someone breaks the funnel definition;
    the message lists every problem at once.

    >>> from funnelkit import templates
    >>> assert_funnel_ok(templates.inbound())
    >>> from funnelkit import Funnel
    >>> stuck = (Funnel.builder("stuck").stage("a", "marketing").stage("b", "marketing")
    ...          .stage("c", "marketing").stage("won", "sales", outcome="won")
    ...          .move("win", "a", "won").move("go", "a", "b").move("on", "b", "c")
    ...          .move("back", "c", "b", backward=True).build())
    >>> assert_funnel_ok(stuck)
    Traceback (most recent call last):
    ...
    funnelkit.testing.FunnelAssertionError: funnel 'stuck' has 2 problems:
      [terminates] stages[1]: open stage 'b' can never reach a won or lost stage ...
      [terminates] stages[2]: open stage 'c' can never reach a won or lost stage ...
    """
    problems = lint_funnel(funnel, skip=skip)
    if problems:
        name = funnel.name if isinstance(funnel, Funnel) else (
            funnel.get("name", "?") if isinstance(funnel, Mapping) else str(funnel)
        )
        count = len(problems)
        lines = [f"funnel {name!r} has {count} problem{'s' if count != 1 else ''}:"]
        lines += [f"  {p}" for p in problems]
        raise FunnelAssertionError("\n".join(lines))
