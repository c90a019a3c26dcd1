"""Funnel definitions (``Stage``, ``Move``, ``Funnel``) and the pure core, ``Funnel.fire``."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from os import PathLike
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, NoReturn, Self, TypeAlias, get_args

import attrs

from funnelkit._core.decision import _NO_DATA, Context, Decision, Policy, make_context
from funnelkit._core.errors import (
    InvalidFunnel,
    InvalidInput,
    InvalidPolicy,
    NotFound,
    PolicyRefused,
    ReasonRequired,
    TransitionNotAllowed,
    UnknownEvent,
)
from funnelkit._core.lead import _EMPTY as _EMPTY_ATTRS
from funnelkit._core.lead import (
    Fired,
    Lead,
    Source,
    Transition,
    make_fired,
    make_lead,
    make_transition,
)
from funnelkit._core.limits import (
    MAX_DEFINITION_DEPTH,
    MAX_NAME_LENGTH,
    MAX_TEXT_LENGTH,
    MAX_TIME,
    MAX_VERSION,
    MIN_TIME,
    _short,
    check_name,
    check_text,
    name_problem,
    nests_deeper,
)
from funnelkit._core.reserved import RESERVED_EVENTS, reserved_move_problem
from funnelkit._core.time import Duration, parse_duration, require_aware
from funnelkit._policy.loader import check_depth, run_policy

if TYPE_CHECKING:
    from datetime import timedelta
    from pathlib import Path

# copy, difflib, json, pathlib and tomllib are imported where they are used, so that `import
# funnelkit` does not pay for them (benchmarks/bench_import.py).

__all__ = ["Funnel", "FunnelBuilder", "Move", "Replayed", "Stage", "StageOutcome"]

StageOutcome = Literal["open", "won", "lost"]
_OUTCOMES: tuple[str, ...] = get_args(StageOutcome)
_IDENTIFIER = re.compile(rf"[A-Za-z][A-Za-z0-9_]{{0,{MAX_NAME_LENGTH - 1}}}")
_NOT_IDENTIFIER = (f"is not an identifier; start with a letter, then letters, digits or '_', "
                   f"at most {MAX_NAME_LENGTH} characters")
_tuple_iter = tuple.__iter__
_ALLOW = Decision(True)  # noqa: FBT003 - what `check` answers for an unguarded move
_MIN_TIME, _MAX_TIME, _MAX_VERSION = MIN_TIME, MAX_TIME, MAX_VERSION  # module globals: one lookup
_MAX_TEXT = MAX_TEXT_LENGTH

Problems: TypeAlias = list[tuple[str, str]]


def _is_identifier(value: object) -> bool:
    return isinstance(value, str) and _IDENTIFIER.fullmatch(value) is not None


def _default_label(stage: Stage) -> str:
    name: object = stage.name
    return name.replace("_", " ").capitalize() if isinstance(name, str) else ""


@attrs.frozen
class Stage:
    """A position in the funnel, owned by a team.

    ``name`` is an identifier (a letter, then letters, digits or ``_``); ``label`` is free text for
    display (by default the name, capitalised); ``team`` is ``"marketing"``, ``"sales"``,
    ``"success"`` or any host string.  ``outcome`` is ``"open"`` (the journey goes on), ``"won"``
    or ``"lost"``.  ``stall_after`` (a duration such as ``"14 days"``) marks a lead stalled when
    it stays longer; the pipeline's ``sweep`` then calls ``after_stalled`` and fires
    ``stall_event`` when one is set.  Stages are checked when the funnel is built.

    >>> Stage("mql", "marketing", label="Marketing qualified lead").label
    'Marketing qualified lead'
    >>> Stage("customer", "success", outcome="won").label
    'Customer'
    """

    name: str
    team: str
    label: str = attrs.field(default=attrs.Factory(_default_label, takes_self=True), kw_only=True)
    outcome: StageOutcome = attrs.field(default="open", kw_only=True)
    description: str = attrs.field(default="", kw_only=True)
    stall_after: str | timedelta | Duration | None = attrs.field(default=None, kw_only=True)
    stall_event: str | None = attrs.field(default=None, kw_only=True)

    @property
    def is_open(self) -> bool:
        """True for an open stage (neither won nor lost).

        >>> Stage("lost", "sales", outcome="lost").is_open
        False
        """
        return self.outcome == "open"


def _source(value: str | Iterable[str]) -> str | tuple[str, ...]:
    given: object = value
    if isinstance(given, str) or not isinstance(given, Iterable):
        return value  # type: ignore[return-value]  # not a name or names: validation reports it
    return tuple(given)


def _own_policy_spec(
    policy: Policy | str | Mapping[str, Any] | None,
) -> Policy | str | Mapping[str, Any] | None:
    """A policy in mapping form is copied, so nobody can change a built funnel's data.

    Data nested deeper than any policy can be (a mapping that holds itself included) is refused
    before it is copied: copying it would exhaust the stack.
    """
    if not isinstance(policy, Mapping):
        return policy
    check_depth(policy, "policy")
    import copy  # noqa: PLC0415 - see the imports

    return copy.deepcopy(dict(policy))


@attrs.frozen
class Move:
    """A way a lead can move: an event that takes it from a source stage to a target stage.

    In the data form this is one entry of ``"moves"`` (``[[moves]]`` in TOML); a
    :class:`Transition` is the record of one lead taking a move.  ``source`` is a stage name, a
    sequence of names, or ``"*"`` (every open stage except the target).  ``policy`` guards the
    move: a callable ``policy(lead, context) -> Decision``, a rule string, or ``{"use": name,
    "params": {...}}`` (strings and mappings need :mod:`funnelkit.policies`).  ``backward`` must
    be set on moves to an earlier stage; those, and moves marked ``requires_reason``, need a
    reason when fired.  ``auto`` lets the pipeline fire the move by itself when its policy
    passes; ``sla`` sets the due time of the handoff a team-crossing move creates.

    >>> Move("qualify", "lead", "mql")
    Move(event='qualify', source='lead', target='mql', policy=None, backward=False, requires_reason=False, auto=False, sla=None)
    >>> Move("recycle", ["mql", "sql"], "lead", backward=True).source
    ('mql', 'sql')
    """  # noqa: E501 - a doctest's output is one line

    event: str
    source: str | tuple[str, ...] = attrs.field(converter=_source)
    target: str
    policy: Policy | str | Mapping[str, Any] | None = attrs.field(
        default=None, kw_only=True, converter=_own_policy_spec
    )
    backward: bool = attrs.field(default=False, kw_only=True)
    requires_reason: bool = attrs.field(default=False, kw_only=True)
    auto: bool = attrs.field(default=False, kw_only=True)
    sla: str | timedelta | Duration | None = attrs.field(default=None, kw_only=True)


class _Row(NamedTuple):
    """One compiled entry of the move table, for introspection."""

    target: str
    policy: Policy | None
    needs_reason: bool
    backward: bool
    team_change: tuple[str, str] | None
    move: Move
    position: int


# What ``fire`` reads: a plain tuple unpacks at C speed (target, policy, needs_reason, team_change).
_Fast: TypeAlias = tuple[str, Policy | None, bool, tuple[str, str] | None]


@attrs.frozen
class Replayed:
    """A lead rebuilt from its transitions by :meth:`Funnel.replay`.

    ``problems`` lists every way the history breaks the funnel's rules (gaps in the versions,
    moves the funnel does not define, a move that starts where the previous one did not end).

    >>> Replayed("L1", "mql", 2, None).problems
    ()
    """

    lead_id: str
    stage: str
    version: int
    stage_entered_at: datetime | None
    problems: tuple[str, ...] = ()


def _suggest(name: object, choices: Iterable[str]) -> str:
    if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH:
        return ""  # difflib's cost grows with the product of the lengths
    import difflib  # noqa: PLC0415 - see the imports

    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _load_policy(spec: str | Mapping[str, Any], *, path: str) -> Policy:
    """Turn a policy's data form into a policy (the policies layer does the work)."""
    from funnelkit._policy import policies as _policies  # noqa: PLC0415 - the policies layer loads lazily

    return _policies.policy_from_data(spec, path=path)


def _policy_to_data(policy: object) -> object:
    if isinstance(policy, Mapping):
        import copy  # noqa: PLC0415 - see the imports

        return copy.deepcopy(dict(policy))
    if policy is None or isinstance(policy, str):
        return policy
    to_data = getattr(policy, "to_data", None)
    if callable(to_data):
        return to_data()
    return {"repr": repr(policy)}


def _stages(value: Iterable[Stage]) -> tuple[Stage, ...]:
    given: object = value
    if isinstance(given, str | Mapping) or not isinstance(given, Iterable):
        raise InvalidFunnel([("stages", f"{_short(given)} is not a list of funnelkit.Stage")])
    return tuple(value)


def _moves(value: Iterable[Move]) -> tuple[Move, ...]:
    given: object = value
    if isinstance(given, str | Mapping) or not isinstance(given, Iterable):
        raise InvalidFunnel([("moves", f"{_short(given)} is not a list of funnelkit.Move")])
    return tuple(value)


@attrs.frozen(eq=False)
class Funnel:
    """An immutable funnel definition and the pure state machine over it.

    Build one in code (:meth:`builder` or the constructor), from data (:meth:`from_dict`,
    :meth:`from_toml`, :meth:`from_json`, :meth:`from_file`) or from :mod:`funnelkit.templates`.
    Every problem in a definition is reported at once in one :class:`InvalidFunnel`.  The moves
    are compiled into a lookup table once, when the funnel is built; :meth:`fire` only reads it.

    >>> from datetime import datetime, timezone
    >>> f = (Funnel.builder("mini")
    ...      .stage("lead", "marketing").stage("customer", "sales", outcome="won")
    ...      .stage("lost", "sales", outcome="lost")
    ...      .move("win", "lead", "customer").move("lose", "lead", "lost")
    ...      .build())
    >>> at = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    >>> outcome = f.fire(f.new_lead("L1", at=at), "win", at=at)
    >>> outcome.lead.stage, outcome.lead.version, outcome.team_change
    ('customer', 1, ('marketing', 'sales'))
    """

    name: str
    initial: str = attrs.field(kw_only=True)
    stages: tuple[Stage, ...] = attrs.field(kw_only=True, converter=_stages)
    moves: tuple[Move, ...] = attrs.field(kw_only=True, converter=_moves)
    _by_name: dict[str, Stage] = attrs.field(init=False, repr=False)
    _order: dict[str, int] = attrs.field(init=False, repr=False)
    _table: dict[str, dict[str, _Row]] = attrs.field(init=False, repr=False)
    _fast: dict[str, dict[str, _Fast]] = attrs.field(init=False, repr=False)
    _events: frozenset[str] = attrs.field(init=False, repr=False)
    _policies: tuple[Policy | None, ...] = attrs.field(init=False, repr=False)
    _cache: dict[str, str] = attrs.field(init=False, repr=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        """Check the definition (every problem at once) and compile the move table."""
        problems: Problems = []
        by_name, order = self._check_stages(problems)
        policies = self._resolve_policies(problems)
        table = self._compile(by_name, order, policies, problems)
        self._check_graph(order, table, problems)
        name: object = self.name
        if problems:
            raise InvalidFunnel(problems, name=name if isinstance(name, str) else "")
        set_ = object.__setattr__
        set_(self, "_by_name", by_name)
        set_(self, "_order", order)
        set_(self, "_table", table)
        set_(self, "_fast", {
            stage: {
                event: (row.target, row.policy, row.needs_reason, row.team_change)
                for event, row in rows.items()
            }
            for stage, rows in table.items()
        })
        set_(self, "_events", frozenset(m.event for m in self.moves))
        set_(self, "_policies", policies)

    # -- validation -------------------------------------------------------------------------

    def _check_stages(self, problems: Problems) -> tuple[dict[str, Stage], dict[str, int]]:
        name: object = self.name
        if not isinstance(name, str) or not name.strip():
            problems.append(
                ("name", f"{_short(name)} is not a funnel name; give a non-empty string"))
        if not self.stages:
            problems.append(("stages", "a funnel needs at least one stage"))
        by_name: dict[str, Stage] = {}
        order: dict[str, int] = {}
        items: tuple[object, ...] = self.moves
        events = [m.event for m in items if isinstance(m, Move) and isinstance(m.event, str)]
        for i, item in enumerate(self.stages):
            path = f"stages[{i}]"
            stage: object = item
            if not isinstance(stage, Stage):
                problems.append((path, f"{_short(stage)} is not a funnelkit.Stage"))
                continue
            stage_name: object = stage.name
            if not isinstance(stage_name, str) or not _is_identifier(stage_name):
                problems.append((f"{path}.name", f"{_short(stage_name)} {_NOT_IDENTIFIER}"))
                continue
            if stage_name in by_name:
                problems.append(
                    (f"{path}.name", f"duplicate stage {stage_name!r}; name each stage once")
                )
                continue
            self._check_stage_fields(stage, path, events, problems)
            by_name[stage_name] = stage
            order[stage_name] = i
        initial: object = self.initial
        if isinstance(initial, str) and not initial:
            problems.append(("initial", "missing initial stage; name the stage new leads start in"))
        elif not isinstance(initial, str):
            problems.append(("initial", (f"{_short(initial)} is not a stage name; name the "
                                         f"stage new leads start in")))
        elif self.stages and initial not in by_name:
            problems.append(
                ("initial", f"unknown stage {initial!r}{_suggest(initial, by_name)}")
            )
        return by_name, order

    @staticmethod
    def _check_stage_fields(stage: Stage, path: str, events: list[str], problems: Problems) -> None:
        team: object = stage.team
        problem = name_problem(team)
        if problem is None and not str(team).strip():
            problem = "is blank"
        if problem is not None:
            problems.append((
                f"{path}.team",
                (f"{_short(team)} is not a team ({problem}); give a non-empty string such as "
                 f"'marketing', at most {MAX_NAME_LENGTH} characters"),
            ))
        outcome: object = stage.outcome
        if not isinstance(outcome, str) or outcome not in _OUTCOMES:
            problems.append(
                (f"{path}.outcome", f"{_short(outcome)} is not one of {', '.join(_OUTCOMES)}")
            )
        for field in ("label", "description"):
            value: object = getattr(stage, field)
            if not isinstance(value, str):
                problems.append((f"{path}.{field}", f"{_short(value)} is not a string"))
        if stage.stall_after is not None:
            try:
                parse_duration(stage.stall_after, name="stall_after")
            except InvalidInput as exc:
                problems.append((f"{path}.stall_after", str(exc)))
        stall_event: object = stage.stall_event
        if stall_event is not None and not isinstance(stall_event, str):
            problems.append((f"{path}.stall_event", f"{_short(stall_event)} is not an event name"))
        elif stall_event is not None and stall_event not in events:
            problems.append((
                f"{path}.stall_event",
                f"unknown event {stall_event!r}{_suggest(stall_event, events)}",
            ))

    def _resolve_policies(self, problems: Problems) -> tuple[Policy | None, ...]:
        resolved: list[Policy | None] = []
        items: tuple[object, ...] = self.moves
        for i, move in enumerate(items):
            path = f"moves[{i}].policy"
            spec: object = move.policy if isinstance(move, Move) else None
            policy: Policy | None = None
            if isinstance(spec, str | Mapping):
                try:
                    policy = _load_policy(spec, path=path)
                except (InvalidPolicy, InvalidInput) as exc:
                    problems.append((path, str(exc).removeprefix(f"{path}: ")))
            elif callable(spec):
                policy = spec
            elif spec is not None:
                problems.append((
                    path,
                    (f"{spec!r} is not callable; a policy is a callable "
                    "policy(lead, context) -> Decision, a rule string or "
                    "{'use': name, 'params': {...}}"),
                ))
            resolved.append(policy)
        return tuple(resolved)

    def _compile(
        self,
        by_name: dict[str, Stage],
        order: dict[str, int],
        policies: tuple[Policy | None, ...],
        problems: Problems,
    ) -> dict[str, dict[str, _Row]]:
        table: dict[str, dict[str, _Row]] = {name: {} for name in by_name}
        for i, item in enumerate(self.moves):
            path = f"moves[{i}]"
            move: object = item
            if not isinstance(move, Move):
                problems.append((path, f"{_short(move)} is not a funnelkit.Move"))
                continue
            event: object = move.event
            if not isinstance(event, str) or not _is_identifier(event):
                problems.append((f"{path}.event", f"{_short(event)} {_NOT_IDENTIFIER}"))
                continue
            target_name: object = move.target
            target = by_name.get(target_name) if isinstance(target_name, str) else None
            if target is None:
                problems.append((
                    f"{path}.target",
                    f"unknown stage {_short(target_name)}{_suggest(target_name, by_name)}",
                ))
            self._check_move_fields(move, path, problems)
            sources = self._sources(move, path, by_name, problems)
            if target is None:
                continue
            for source in sources:
                backward = order[target.name] < order[source.name]
                pair = f"{source.name!r} -> {target.name!r}"
                if backward and move.backward is not True:
                    problems.append((
                        f"{path}.backward",
                        (f"{pair} goes back to an earlier stage; declare it backward: true "
                        "(backward moves need a reason when fired)"),
                    ))
                elif move.backward is True and not backward:
                    problems.append((
                        f"{path}.backward",
                        f"{pair} does not go back; remove backward: true or fix the stages' order",
                    ))
                if event in table[source.name]:
                    first = table[source.name][event].position
                    problems.append((
                        f"{path}.event",
                        (f"event {event!r} from {source.name!r} is defined twice (first in "
                        f"moves[{first}]); each event leaves a stage one way"),
                    ))
                    continue
                team_change = (source.team, target.team) if source.team != target.team else None
                table[source.name][event] = _Row(
                    target=target.name,
                    policy=policies[i],
                    needs_reason=backward or move.requires_reason is True,
                    backward=backward,
                    team_change=team_change,
                    move=move,
                    position=i,
                )
        return table

    @staticmethod
    def _check_move_fields(move: Move, path: str, problems: Problems) -> None:
        if move.sla is not None:
            try:
                parse_duration(move.sla, name="sla")
            except InvalidInput as exc:
                problems.append((f"{path}.sla", str(exc)))
        for flag in ("backward", "requires_reason", "auto"):
            value: object = getattr(move, flag)
            if type(value) is not bool:
                problems.append((f"{path}.{flag}", f"{value!r} must be true or false"))

    @staticmethod
    def _sources(
        move: Move, path: str, by_name: dict[str, Stage], problems: Problems
    ) -> list[Stage]:
        source: object = move.source
        if source == "*":
            return [s for s in by_name.values() if s.is_open and s.name != move.target]
        names: tuple[object, ...] = (
            (source,) if isinstance(source, str) else tuple(source) if isinstance(
                source, Iterable) else (source,)
        )
        if not names:
            problems.append((f"{path}.source", "no source stage; name one, a list, or '*'"))
        sources: list[Stage] = []
        for name in names:
            stage = by_name.get(name) if isinstance(name, str) else None
            if stage is None:
                problems.append(
                    (f"{path}.source", f"unknown stage {_short(name)}{_suggest(name, by_name)}")
                )
            else:
                sources.append(stage)
        return sources

    def _event_names(self) -> set[str]:
        items: tuple[object, ...] = self.moves
        return {m.event for m in items if isinstance(m, Move) and isinstance(m.event, str)}

    def _check_graph(
        self, order: dict[str, int], table: dict[str, dict[str, _Row]], problems: Problems
    ) -> None:
        initial: object = self.initial
        # Reachability needs the initial stage; every other check here goes on without it, so
        # one misspelt `initial` does not hide the rest of what is wrong.
        seen: set[str] | None = None
        if isinstance(initial, str) and initial in order:
            seen = {initial}
            queue = deque([initial])
            while queue:
                for row in table[queue.popleft()].values():
                    if row.target not in seen:
                        seen.add(row.target)
                        queue.append(row.target)
        elif order:
            why = "unknown" if isinstance(initial, str) and initial else "missing"
            problems.append((
                "stages",
                (f"reachability was not checked because the initial stage is {why}; fix "
                 "'initial' to have it checked"),
            ))
        events = self._event_names()
        for name, position in order.items():
            stage = self.stages[position]
            path = f"stages[{position}]"
            if seen is not None and name not in seen:
                problems.append((
                    path,
                    (f"stage {name!r} is unreachable from the initial stage {self.initial!r}; "
                    "add a move into it or remove it"),
                ))
            if stage.is_open and not table[name]:
                problems.append((
                    path,
                    (f"open stage {name!r} has no way out; add a move from it, or give it "
                    "outcome 'won' or 'lost'"),
                ))
            stall_event: object = stage.stall_event
            if isinstance(stall_event, str) and stall_event in events and (
                stall_event not in table[name]
            ):
                problems.append((
                    f"{path}.stall_event",
                    (f"event {stall_event!r} does not leave stage {name!r}, so a stalled lead "
                     f"could not take it; events valid from {name!r}: "
                     f"{', '.join(table[name]) or 'none'}"),
                ))

    # -- building ---------------------------------------------------------------------------

    @staticmethod
    def builder(name: str) -> FunnelBuilder:
        """Start a fluent :class:`FunnelBuilder`.

        >>> Funnel.builder("mini").stage("lead", "marketing").stage(
        ...     "won", "sales", outcome="won").move("win", "lead", "won").build().initial
        'lead'
        """
        return FunnelBuilder(name)

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *,
        policies: Mapping[str, Policy | str | Mapping[str, Any]] | None = None,
    ) -> Self:
        """Build a funnel from its data form (the format is in the docs page *Funnels*).

        *policies* attaches a policy to every move of the named event, overriding the data: a
        callable, a rule string or ``{"use": name, "params": {...}}``, as in the data itself.
        Every problem, in the structure or in the funnel it describes, is listed in one
        :class:`InvalidFunnel` with its path.  The moves' old key, ``"transitions"``, is still
        read, with a ``DeprecationWarning``, until the next release.

        >>> f = Funnel.from_dict({
        ...     "name": "tiny", "initial": "lead",
        ...     "stages": [{"name": "lead", "team": "marketing"},
        ...                {"name": "won", "team": "sales", "outcome": "won"}],
        ...     "moves": [{"event": "win", "source": "lead", "target": "won"}]})
        >>> f.events_from("lead")
        ('win',)
        """
        if not isinstance(data, Mapping):
            raise InvalidFunnel([("", f"{type(data).__name__} is not a mapping; give a dict")])
        if nests_deeper(data, MAX_DEFINITION_DEPTH):
            raise _too_deep_definition("")
        if policies is not None and not isinstance(policies, Mapping):
            raise InvalidInput(
                f"policies={_short(policies)} must be a mapping of event name to policy, or None"
            )
        problems: Problems = []
        if _OLD_MOVES_KEY in data:
            data = _renamed_moves_key(data, problems)
        _check_keys(data, "", _FUNNEL_KEYS, {"name", "initial", "stages"}, problems)
        stages: list[Stage] = []
        for i, raw in enumerate(_as_list(data.get("stages", []), "stages", problems)):
            path = f"stages[{i}]"
            if not isinstance(raw, Mapping):
                problems.append((path, f"{raw!r} is not a table/object"))
                continue
            _check_keys(raw, path, _STAGE_KEYS, {"name", "team"}, problems)
            kwargs = {k: raw[k] for k in _STAGE_KEYS - {"name", "team"} if k in raw}
            stages.append(Stage(raw.get("name", ""), raw.get("team", ""), **kwargs))
        moves: list[Move] = []
        policies = {} if policies is None else policies
        for i, raw in enumerate(_as_list(data.get("moves", []), "moves", problems)):
            path = f"moves[{i}]"
            if not isinstance(raw, Mapping):
                problems.append((path, f"{raw!r} is not a table/object"))
                continue
            _check_keys(raw, path, _MOVE_KEYS, {"event", "source", "target"}, problems)
            source = raw.get("source")
            if not isinstance(source, str) and not (
                isinstance(source, list | tuple) and all(isinstance(s, str) for s in source)
            ):
                if "source" in raw:
                    problems.append((
                        f"{path}.source",
                        f"{source!r} must be a stage name, a list of names or '*'",
                    ))
                source = "*"
            kwargs = {k: raw[k] for k in ("backward", "requires_reason", "auto", "sla") if k in raw}
            event = raw.get("event", "")
            policy = policies.get(event, raw.get("policy")) if isinstance(event, str) else None
            try:
                moves.append(Move(event, source, raw.get("target", ""), policy=policy, **kwargs))
            except InvalidPolicy as exc:
                problems.append((f"{path}.policy", str(exc)))
        given: list[object] = [m.event for m in moves]
        events = {event for event in given if isinstance(event, str)}
        for event in policies:
            if event not in events:
                problems.append((
                    f"policies[{_short(event)}]",
                    f"the funnel has no event {_short(event)}{_suggest(event, events)}",
                ))
        name = data.get("name", "")
        if problems:
            # Report structural problems together with whatever the funnel checks still find,
            # leaving out the checks' echo of a key already reported missing.
            missing = {path for path, message in problems if message == "missing"}
            try:
                cls(name, initial=data.get("initial", ""), stages=stages, moves=moves)
            except InvalidFunnel as exc:
                problems.extend(p for p in exc.problems if p[0] not in missing)
            raise InvalidFunnel(problems, name=name if isinstance(name, str) else "")
        return cls(name, initial=data["initial"], stages=stages, moves=moves)

    @classmethod
    def from_json(cls, text: str | bytes, *, policies: Mapping[str, Policy] | None = None) -> Self:
        """Build a funnel from JSON text in the data form.

        >>> Funnel.from_json('{"name": "tiny", "initial": "lead", "stages": ['
        ...     '{"name": "lead", "team": "marketing"}, {"name": "won", "team": "sales",'
        ...     ' "outcome": "won"}], "moves": [{"event": "win", "source": "lead",'
        ...     ' "target": "won"}]}').teams
        ('marketing', 'sales')
        """
        if not isinstance(text, str | bytes | bytearray):
            raise InvalidFunnel([("<json>", f"{type(text).__name__} is not JSON text; give a str")])
        import json  # noqa: PLC0415 - see the imports

        try:
            data = json.loads(text)
        except RecursionError:  # the json module's own guard against deep nesting
            raise _too_deep_definition("<json>") from None
        except (ValueError, TypeError) as exc:  # JSONDecodeError, UnicodeDecodeError, huge ints
            raise InvalidFunnel([("<json>", f"not valid JSON: {exc}")]) from None
        return cls.from_dict(data, policies=policies)

    @classmethod
    def from_toml(cls, text: str, *, policies: Mapping[str, Policy] | None = None) -> Self:
        """Build a funnel from TOML text in the data form (``[[stages]]``, ``[[moves]]``).

        >>> f = Funnel.from_toml('''
        ... name = "tiny"
        ... initial = "lead"
        ... [[stages]]
        ... name = "lead"
        ... team = "marketing"
        ... [[stages]]
        ... name = "won"
        ... team = "sales"
        ... outcome = "won"
        ... [[moves]]
        ... event = "win"
        ... source = "lead"
        ... target = "won"
        ... ''')
        >>> [s.name for s in f.stages]
        ['lead', 'won']
        """
        if not isinstance(text, str):
            raise InvalidFunnel([("<toml>", f"{type(text).__name__} is not TOML text; give a str")])
        import tomllib  # noqa: PLC0415 - see the imports

        try:
            data = tomllib.loads(text)
        except RecursionError:  # tomllib parses nested arrays and tables by recursion
            raise _too_deep_definition("<toml>") from None
        except (ValueError, TypeError) as exc:  # TOMLDecodeError, huge ints
            raise InvalidFunnel([("<toml>", f"not valid TOML: {exc}")]) from None
        return cls.from_dict(data, policies=policies)

    @classmethod
    def from_file(
        cls, path: str | Path, *, policies: Mapping[str, Policy] | None = None
    ) -> Self:
        """Build a funnel from a ``.toml`` or ``.json`` file, chosen by the file's suffix.

        >>> import pathlib, tempfile
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "tiny.json").write_text(Funnel.from_dict({
        ...     "name": "tiny", "initial": "lead",
        ...     "stages": [{"name": "lead", "team": "marketing"},
        ...                {"name": "won", "team": "sales", "outcome": "won"}],
        ...     "moves": [{"event": "win", "source": "lead", "target": "won"}],
        ... }).to_json())
        >>> Funnel.from_file(folder / "tiny.json").name
        'tiny'
        """
        given: object = path
        if not isinstance(given, str | PathLike) or (isinstance(given, str) and not given):
            raise InvalidInput(f"path={_short(path)} must be the path of a .toml or .json file")
        from pathlib import Path  # noqa: PLC0415 - see the imports

        try:
            path = Path(path)
        except TypeError:
            raise InvalidInput(f"path={_short(path)} is not a file path") from None
        loaders = {".toml": cls.from_toml, ".json": cls.from_json}
        loader = loaders.get(path.suffix.lower())
        if loader is None:
            raise InvalidInput(
                f"{path}: unknown suffix {path.suffix!r}; name the file .toml or .json"
            )
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, ValueError) as exc:  # ValueError: undecodable text, a NUL in the path
            raise InvalidInput(f"{path}: cannot read the funnel definition ({exc})") from None
        try:
            return loader(text, policies=policies)
        except InvalidFunnel as exc:
            raise InvalidFunnel(
                [(f"{path}: {where}" if where.startswith("<") else where, what)
                 for where, what in exc.problems],
                name=exc.name,
            ) from None

    @classmethod
    def load(cls, path: str | Path, *, policies: Mapping[str, Policy] | None = None) -> Self:
        """Deprecated: the old name of :meth:`from_file`, removed in the next release.

        ``load`` is kept for reading a stored thing by its key (``store.load(lead_id)``);
        building a value from an outside form is ``from_*``.  Warns, then calls :meth:`from_file`.
        """
        from funnelkit._core.deprecation import warn_renamed  # noqa: PLC0415 - old names only

        warn_renamed("Funnel.load", "Funnel.from_file")
        return cls.from_file(path, policies=policies)

    def to_dict(self) -> dict[str, Any]:
        """The funnel's data form; :meth:`from_dict` of it gives an equal funnel.

        Policies written as data (rule strings, ``{"use": ...}``) round-trip; a policy object with
        a ``to_data()`` method writes that; any other callable is written as ``{"repr": ...}``,
        which :meth:`from_dict` refuses (attach it again with ``policies=``).

        >>> from funnelkit import templates
        >>> data = templates.temperature().to_dict()
        >>> data["moves"][0]
        {'event': 'warm_up', 'source': 'cold', 'target': 'warm'}
        >>> Funnel.from_dict(data) == templates.temperature()
        True
        """
        stages: list[dict[str, Any]] = []
        for s in self.stages:
            d: dict[str, Any] = {"name": s.name, "team": s.team}
            if s.label != _default_label(s):
                d["label"] = s.label
            if s.outcome != "open":
                d["outcome"] = s.outcome
            if s.description:
                d["description"] = s.description
            if s.stall_after is not None:
                d["stall_after"] = str(parse_duration(s.stall_after))
            if s.stall_event is not None:
                d["stall_event"] = s.stall_event
            stages.append(d)
        moves: list[dict[str, Any]] = []
        for m in self.moves:
            t: dict[str, Any] = {
                "event": m.event,
                "source": m.source if isinstance(m.source, str) else list(m.source),
                "target": m.target,
            }
            if m.policy is not None:
                t["policy"] = _policy_to_data(m.policy)
            t.update({flag: True for flag in ("backward", "requires_reason", "auto")
                      if getattr(m, flag)})
            if m.sla is not None:
                t["sla"] = str(parse_duration(m.sla))
            moves.append(t)
        return {"name": self.name, "initial": self.initial, "stages": stages, "moves": moves}

    def to_json(self) -> str:
        """The data form as JSON text (:meth:`from_json` reads it back).

        >>> from funnelkit import templates
        >>> Funnel.from_json(templates.inbound().to_json()) == templates.inbound()
        True
        """
        import json  # noqa: PLC0415 - see the imports

        return json.dumps(self.to_dict(), indent=2)

    def __eq__(self, other: object) -> bool:
        """Funnels are equal when their data forms and their policies are."""
        if type(other) is not type(self):
            return NotImplemented
        return self.to_dict() == other.to_dict() and self._policies == other._policies

    def __hash__(self) -> int:
        """Hash of the name, initial stage and stage names (consistent with ``==``)."""
        return hash((self.name, self.initial, tuple(s.name for s in self.stages)))

    # -- introspection ----------------------------------------------------------------------

    def stage(self, name: str) -> Stage:
        """The stage called *name*; :class:`NotFound` (a ``LookupError``) if there is none.

        >>> from funnelkit import templates
        >>> templates.inbound().stage("sql").team
        'sales'
        """
        try:
            return self._by_name[name]
        except (KeyError, TypeError):
            if not isinstance(name, str):
                raise InvalidInput(
                    f"stage={_short(name)} is not a stage name; stages are "
                    f"{', '.join(self._by_name)}") from None
            raise NotFound(
                f"funnel {self.name!r} has no stage {_short(name)}{_suggest(name, self._by_name)}"
                f"; stages are {', '.join(self._by_name)}"
            ) from None

    @property
    def teams(self) -> tuple[str, ...]:
        """Every team that owns a stage, in order of first appearance.

        >>> from funnelkit import templates
        >>> templates.inbound().teams
        ('marketing', 'sales', 'success')
        """
        return tuple(dict.fromkeys(s.team for s in self.stages))

    @property
    def main_path(self) -> tuple[str, ...]:
        """The way a lead is meant to go: the open stages up to the first won stage, then it.

        The open stages are those defined before the first won stage, in order; a funnel with
        no won stage has every open stage on it.  Analytics count conversion along it by
        default, and a merge keeps the stage furthest along it.

        >>> from funnelkit import templates
        >>> templates.inbound().main_path
        ('subscriber', 'lead', 'mql', 'sql', 'opportunity', 'customer')
        """
        path: list[str] = []
        for stage in self.stages:
            if stage.outcome == "won":
                return (*path, stage.name)
            if stage.outcome == "open":
                path.append(stage.name)
        return tuple(path)

    @property
    def events(self) -> tuple[str, ...]:
        """Every event name, in order of definition.

        >>> from funnelkit import templates
        >>> templates.temperature().events
        ('warm_up', 'heat', 'buy', 'cool', 'lose')
        """
        return tuple(dict.fromkeys(m.event for m in self.moves))

    def events_from(self, stage: str) -> tuple[str, ...]:
        """The events valid from *stage*, in order of definition (no policy is run).

        >>> from funnelkit import templates
        >>> templates.temperature().events_from("hot")
        ('buy', 'cool', 'lose')
        """
        self.stage(stage)
        return tuple(self._table[stage])

    def moves_from(self, stage: str) -> tuple[Move, ...]:
        """The move definitions that leave *stage*, in order of definition.

        >>> from funnelkit import templates
        >>> [m.target for m in templates.temperature().moves_from("hot")]
        ['customer', 'cold', 'lost']
        """
        self.stage(stage)
        return tuple(row.move for row in self._table[stage].values())

    def move(self, stage: str, event: str) -> Move:
        """The move definition *event* takes from *stage* (errors as for :meth:`fire`).

        >>> from funnelkit import templates
        >>> templates.inbound().move("nurture", "recycle").backward
        True
        """
        return self._row(stage, event).move

    def target(self, stage: str, event: str) -> str:
        """The stage *event* leads to from *stage*.

        >>> from funnelkit import templates
        >>> templates.inbound().target("mql", "hand_to_sales")
        'sql'
        """
        return self._row(stage, event).target

    def policy(self, stage: str, event: str) -> Policy | None:
        """The policy guarding *event* from *stage* (data forms already turned into policies).

        >>> from funnelkit import templates
        >>> templates.inbound().policy("lead", "qualify") is None
        True
        """
        return self._row(stage, event).policy

    def requires_reason(self, stage: str, event: str) -> bool:
        """True when firing *event* from *stage* needs a reason (backward or marked so).

        >>> from funnelkit import templates
        >>> templates.inbound().requires_reason("nurture", "recycle")
        True
        """
        return self._row(stage, event).needs_reason

    def is_backward(self, source: str, target: str) -> bool:
        """True when *target* was defined before *source* (a move back).

        >>> from funnelkit import templates
        >>> templates.inbound().is_backward("nurture", "lead")
        True
        """
        return self._order[self.stage(target).name] < self._order[self.stage(source).name]

    def _row(self, stage: str, event: str) -> _Row:
        try:
            return self._table[stage][event]
        except (KeyError, TypeError):
            self._refuse(stage, event)

    def _refuse(self, stage: object, event: object) -> NoReturn:
        """Raise the error that says why *event* cannot be taken from *stage*."""
        if not isinstance(stage, str) or stage not in self._table:
            raise InvalidInput(
                f"stage {_short(stage)} is not a stage of funnel {self.name!r}"
                f"{_suggest(stage, self._table)}; was the lead stored under another funnel "
                f"definition? Stages are {', '.join(self._table)}"
            )
        valid = tuple(self._table[stage])
        listed = ", ".join(valid) if valid else "none (it is a final stage)"
        if not isinstance(event, str):
            raise InvalidInput(
                f"event={_short(event)} is not a string; give an event name (valid from "
                f"{stage!r}: {listed})"
            )
        if event not in self._events:
            raise UnknownEvent(
                f"funnel {self.name!r} has no event {_short(event)}"
                f"{_suggest(event, self._events)}; "
                f"events valid from {stage!r}: {listed}",
                event=event, stage=stage, valid_events=valid,
            )
        raise TransitionNotAllowed(
            f"event {event!r} is not allowed from stage {stage!r} in funnel {self.name!r}; "
            f"events valid from {stage!r}: {listed}",
            event=event, stage=stage, valid_events=valid,
        )

    # -- the pure core ----------------------------------------------------------------------

    def new_lead(
        self,
        id: str,  # noqa: A002 - the field is called id in the data model
        *,
        at: datetime,
        attributes: Mapping[str, Any] | None = None,
        source: Source | None = None,
        owner: str | None = None,
    ) -> Lead:
        """A new lead (version 0) in the initial stage, captured at *at* (timezone-aware).

        >>> from datetime import datetime, timezone
        >>> from funnelkit import Source, templates
        >>> lead = templates.inbound().new_lead(
        ...     "L1", at=datetime(2026, 3, 2, 9, tzinfo=timezone.utc),
        ...     attributes={"company": "Acme"}, source=Source.of("referral"))
        >>> lead.stage, lead.version, lead.source.kind
        ('subscriber', 0, 'seed')
        """
        if (
            type(id) is str and 0 < len(id) <= MAX_NAME_LENGTH and id.isascii()
            and "\x00" not in id and type(at) is datetime and at.utcoffset() is not None
            and _MIN_TIME <= at < _MAX_TIME
            and attributes is None and source is None and owner is None
        ):  # the common case, a fast path: nothing optional to check
            return make_lead((id, self.initial, 0, _EMPTY_ATTRS, None, None, at, at, at))
        require_aware(at)
        return Lead(
            id, self.initial, attributes=attributes, source=source, owner=owner, created_at=at
        )

    def check(
        self,
        lead: Lead,
        event: str,
        *,
        at: datetime,
        context: Context | Mapping[str, Any] | None = None,
    ) -> Decision:
        """Run the policy guarding *event* for *lead* without moving it.

        Returns the policy's :class:`Decision` (an allowing one with no criteria when the move is
        unguarded); raises as :meth:`fire` does when the event cannot be taken from the stage.

        >>> from datetime import datetime, timezone
        >>> from funnelkit import Decision, templates
        >>> def budget(lead, context):
        ...     if lead.attributes.get("budget", 0) >= 10_000:
        ...         return Decision.allow(policy="budget")
        ...     return Decision.deny("budget under 10,000", policy="budget")
        >>> funnel = templates.inbound(policies={"qualify": budget})
        >>> at = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
        >>> lead = funnel.fire(funnel.new_lead("L1", at=at), "convert", at=at).lead
        >>> funnel.check(lead, "qualify", at=at).reasons
        ('budget under 10,000',)
        """
        if type(lead) is not Lead:
            raise InvalidInput(f"lead={lead!r} is not a funnelkit.Lead")
        require_aware(at)
        row = self._row(lead.stage, event)
        if row.policy is None:
            if context is not None:
                self._context(at, context)  # unused, but a wrong type is still an error
            return _ALLOW
        return run_policy(row.policy, lead, self._context(at, context), event)

    def _context(self, at: datetime, context: Context | Mapping[str, Any] | None) -> Context:
        if type(context) is Context:
            if context.at != at:
                raise InvalidInput(
                    f"context.at={context.at.isoformat()} is not at={at.isoformat()}; a policy "
                    "judges the move at the time it happens: build the Context with the same at"
                )
            return context
        if context is None:
            return make_context((at, (), self, _NO_DATA, None))
        if isinstance(context, Mapping):
            return Context(at, funnel=self, data=context)
        raise InvalidInput(f"context={context!r} must be a funnelkit.Context, a mapping or None")

    def _check_extras(
        self, stage: str, event: str, row: _Fast, actor: object, reason: object
    ) -> None:
        """The rare checks of :meth:`fire`: a reason, an actor."""
        if reason is not None and not (
                type(reason) is str and reason.isascii() and len(reason) <= _MAX_TEXT
                and "\x00" not in reason):  # the usual reason passes these C-level tests
            check_text(reason, "reason")
        if actor is not None:
            check_name(actor, "actor")
        target, _, needs_reason, _ = row
        if needs_reason and (reason is None or not reason.strip()):  # type: ignore[attr-defined]
            why = (
                "goes back to an earlier stage" if self._table[stage][event].backward
                else "is marked requires_reason"
            )
            raise ReasonRequired(
                f"{event!r} from {stage!r} to {target!r} {why}; pass reason='...' saying why "
                "(it is kept on the transition, for the feedback loop)"
            )

    @staticmethod
    def _worn_out(lead: Lead) -> NoReturn:
        raise InvalidInput(
            f"lead {lead.id!r} has made {lead.version:,} moves, the most a lead can make (its "
            f"version is kept in a 32-bit column); capture a new lead to go on"
        )

    @staticmethod
    def _refused(policy: Policy, decision: Decision, lead: Lead, event: str) -> NoReturn:
        """Raise for a policy that said no."""
        why = "; ".join(decision.reasons) or "no reason given"
        name = decision.policy or repr(policy)
        raise PolicyRefused(
            f"policy {name} refused {event!r} for lead {lead.id!r} in {lead.stage!r}: {why}; "
            "the decision is on the error's .decision",
            decision=decision, event=event, stage=lead.stage,
        )

    def fire(
        self,
        lead: Lead,
        event: str,
        *,
        at: datetime,
        actor: str | None = None,
        reason: str | None = None,
        context: Context | Mapping[str, Any] | None = None,
    ) -> Fired:
        """Move *lead* by *event* at *at*: pure, no I/O, the input lead is never changed.

        Looks the move up in the table compiled when the funnel was built, runs its policy (with
        *context*, or a :class:`Context` built from *at* and the mapping given), and returns a
        :class:`Fired` with the new lead, the :class:`Transition` record and the team change.

        Raises :class:`UnknownEvent`, :class:`TransitionNotAllowed`, :class:`PolicyRefused`,
        :class:`ReasonRequired` or :class:`InvalidInput`; nothing is half done.

        >>> from datetime import datetime, timezone
        >>> from funnelkit import templates
        >>> funnel = templates.inbound()
        >>> at = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
        >>> outcome = funnel.fire(funnel.new_lead("L1", at=at), "convert", at=at, actor="web")
        >>> outcome.lead.stage, outcome.transition.source, outcome.transition.version
        ('lead', 'subscriber', 1)
        """
        # The hot path: every line here runs once per move.  Rare checks live in helpers.
        if type(lead) is not Lead:
            raise InvalidInput(
                f"lead={lead!r} is not a funnelkit.Lead; build leads with funnel.new_lead"
            )
        lead_id, stage, version, attributes, source, owner, created, entered, updated = (
            _tuple_iter(lead)
        )
        try:
            row = self._fast[stage][event]
        except (KeyError, TypeError):
            self._refuse(stage, event)
        target, policy, needs_reason, team_change = row
        try:
            late = at < updated
        except TypeError:
            require_aware(at)  # names what is wrong with a naive or non-datetime `at`
            raise
        if late or type(at) is not datetime or at >= _MAX_TIME:
            require_aware(at)  # a datetime subclass passes if aware; out of range raises
        if late:
            raise InvalidInput(
                f"at={at.isoformat()} is before lead {lead_id!r}'s last change "
                f"({updated.isoformat()}); a lead's moves happen in time order"
            )
        if needs_reason or reason is not None or actor is not None:
            self._check_extras(stage, event, row, actor, reason)
        if policy is None:
            decision = None
            if context is not None:
                self._context(at, context)  # unused, but a wrong type is still an error
        else:
            ctx = (make_context((at, (), self, _NO_DATA, None)) if context is None
                   else self._context(at, context))
            decision = run_policy(policy, lead, ctx, event)
            if not decision.allowed:
                self._refused(policy, decision, lead, event)
        if version >= _MAX_VERSION:
            self._worn_out(lead)
        version += 1
        return make_fired((
            make_lead((lead_id, target, version, attributes, source, owner, created,
                       entered if target == stage else at, at)),
            make_transition((lead_id, event, stage, target, at, actor, reason, decision, version)),
            team_change,
        ))

    def replay(self, transitions: Iterable[Transition]) -> dict[str, Replayed]:
        """Rebuild every lead's stage and version from its transitions, checking each move.

        Transitions may come in any order; each lead's are sorted by version.  A lead whose history
        has gaps, duplicates, or moves the funnel does not define gets ``problems``.  The moves a
        merge or an unmerge records (events ``funnelkit.merge`` and ``funnelkit.unmerge``) count
        as defined: a merged duplicate replays to the stage ``funnelkit.merged`` (see
        :mod:`funnelkit.dedupe`).  So do the audit records the pipeline writes (``funnelkit.assign``,
        ``funnelkit.accept``, ``funnelkit.reject``, ``funnelkit.expire``, ``funnelkit.stall``,
        ``funnelkit.escalate``): each stays in its stage, with a reason, and counts one version.

        >>> from datetime import datetime, timezone
        >>> from funnelkit import templates
        >>> funnel = templates.inbound()
        >>> at = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
        >>> first = funnel.fire(funnel.new_lead("L1", at=at), "convert", at=at)
        >>> funnel.replay([first.transition])["L1"]
        Replayed(lead_id='L1', stage='lead', version=1, stage_entered_at=datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.timezone.utc), problems=())
        """  # noqa: E501 - a doctest's output is one line
        given: object = transitions
        if isinstance(given, str | bytes | Mapping) or not isinstance(given, Iterable):
            raise InvalidInput(
                f"replay takes an iterable of Transitions, got {_short(transitions)}")
        by_lead: dict[str, list[Transition]] = {}
        for t in transitions:
            if type(t) is not Transition:
                raise InvalidInput(f"replay takes Transitions, got {t!r}")
            by_lead.setdefault(t.lead_id, []).append(t)
        result: dict[str, Replayed] = {}
        for lead_id, items in by_lead.items():
            items.sort(key=lambda t: t.version)
            stage, version, entered = self.initial, 0, None
            problems: list[str] = []
            for t in items:
                at_version = f"version {t.version}"
                if t.version != version + 1:
                    problems.append(f"{at_version} follows {version}; versions must be contiguous")
                if t.source != stage:
                    problems.append(
                        f"{at_version} leaves {t.source!r} but the lead was in {stage!r}"
                    )
                row = self._table.get(t.source, {}).get(t.event)
                # recorded by funnelkit itself (funnelkit._core.reserved)
                if t.event in RESERVED_EVENTS:
                    problem = reserved_move_problem(t, self._by_name)
                    if problem is not None:
                        problems.append(f"{at_version}: {problem}")
                elif row is None or row.target != t.target:
                    problems.append(
                        f"{at_version}: {t.event!r} from {t.source!r} to {t.target!r} is not a "
                        f"move of funnel {self.name!r}"
                    )
                elif row.needs_reason and not t.reason:
                    problems.append(f"{at_version}: {t.event!r} needs a reason and has none")
                if t.target != stage:
                    entered = t.at
                stage, version = t.target, t.version
            result[lead_id] = Replayed(lead_id, stage, version, entered, tuple(problems))
        return result

    # -- diagrams ---------------------------------------------------------------------------

    def to_mermaid(self) -> str:
        """A Mermaid ``stateDiagram-v2`` of the funnel, drawn by ``transitions`` once per funnel.

        Stage labels are shown, won and lost stages styled, the initial stage marked with
        ``[*] -->``.  The text is built on the first call and kept.

        >>> from funnelkit import templates
        >>> print(templates.temperature().to_mermaid().splitlines()[3])
        stateDiagram-v2
        """
        diagram = self._cache.get("mermaid")
        if diagram is None:
            from funnelkit._definition import diagrams as _diagrams  # noqa: PLC0415 - diagrams are drawn lazily

            diagram = self._cache.setdefault("mermaid", _diagrams.mermaid(self))
        return diagram

    def to_dot(self) -> str:
        """Graphviz DOT source of the funnel; needs the extra ``funnelkit[diagrams]``.

        Drawn by ``transitions`` through the small pure-Python ``graphviz`` package (no Graphviz
        binary is needed for the source text), once per funnel.  Without the package it raises
        :class:`MissingExtra`.

        >>> from funnelkit import templates
        >>> templates.temperature().to_dot().startswith("digraph temperature {")
        True
        """
        diagram = self._cache.get("dot")
        if diagram is None:
            from funnelkit._definition import diagrams as _diagrams  # noqa: PLC0415 - diagrams are drawn lazily

            diagram = self._cache.setdefault("dot", _diagrams.dot(self))
        return diagram


def _too_deep_definition(where: str) -> InvalidFunnel:
    return InvalidFunnel([(where, (f"the definition nests deeper than {MAX_DEFINITION_DEPTH} "
                                   f"levels (or holds itself); no funnel needs that: flatten it"))])


_FUNNEL_KEYS = frozenset({"name", "initial", "stages", "moves"})
#: The key the moves had before they were called moves, read until the next release.
_OLD_MOVES_KEY = "transitions"


def _renamed_moves_key(data: Mapping[str, Any], problems: Problems) -> dict[str, Any]:
    """*data* with its moves under ``"moves"``: warn about the old key, refuse both at once."""
    renamed = {key: value for key, value in data.items() if key != _OLD_MOVES_KEY}
    if "moves" in data:
        problems.append((_OLD_MOVES_KEY, (
            'both "moves" and "transitions" are given; "transitions" is the old name of '
            '"moves": keep one list, under "moves"')))
        return renamed
    from funnelkit._core.deprecation import warn_renamed  # noqa: PLC0415 - old names only

    warn_renamed('the funnel data key "transitions"', '"moves" ([[moves]] in TOML)')
    renamed["moves"] = data[_OLD_MOVES_KEY]
    return renamed
_STAGE_KEYS = frozenset(
    {"name", "team", "label", "outcome", "description", "stall_after", "stall_event"}
)
_MOVE_KEYS = frozenset(
    {"event", "source", "target", "policy", "backward", "requires_reason", "auto", "sla"}
)


def _check_keys(
    data: Mapping[Any, Any],
    path: str,
    allowed: frozenset[str],
    required: set[str],
    problems: Problems,
) -> None:
    prefix = f"{path}." if path else ""
    problems.extend(
        (
            f"{prefix}{key}",
            f"unknown key{_suggest(key, allowed)}; expected {', '.join(sorted(allowed))}",
        )
        for key in data
        if key not in allowed
    )
    problems.extend((f"{prefix}{key}", "missing") for key in sorted(required - set(data)))


def _as_list(value: object, path: str, problems: Problems) -> list[object]:
    if isinstance(value, list | tuple):
        return list(value)
    problems.append((path, f"{value!r} is not a list"))
    return []


class FunnelBuilder:
    """Builds a :class:`Funnel` step by step; every method returns the builder.

    The first stage is the initial one unless :meth:`initial` names another.

    >>> f = (FunnelBuilder("mini").stage("lead", "marketing")
    ...      .stage("won", "sales", outcome="won").move("win", "lead", "won").build())
    >>> f.initial
    'lead'
    """

    def __init__(self, name: str) -> None:
        """Start a funnel called *name*."""
        self._name = name
        self._initial: str | None = None
        self._stages: list[Stage] = []
        self._moves: list[Move] = []

    def stage(
        self,
        name: str,
        team: str,
        *,
        label: str | None = None,
        outcome: StageOutcome = "open",
        description: str = "",
        stall_after: str | timedelta | Duration | None = None,
        stall_event: str | None = None,
    ) -> Self:
        """Add a stage (see :class:`Stage`); *label* defaults to the name, capitalised.

        >>> FunnelBuilder("f").stage("mql", "marketing", label="MQL")._stages[0].label
        'MQL'
        """
        kwargs: dict[str, Any] = {} if label is None else {"label": label}
        self._stages.append(Stage(
            name, team, outcome=outcome, description=description,
            stall_after=stall_after, stall_event=stall_event, **kwargs,
        ))
        return self

    def move(
        self,
        event: str,
        source: str | Sequence[str],
        target: str,
        *,
        policy: Policy | str | Mapping[str, Any] | None = None,
        backward: bool = False,
        requires_reason: bool = False,
        auto: bool = False,
        sla: str | timedelta | Duration | None = None,
    ) -> Self:
        """Add a move (see :class:`Move`); *source* may be a name, a list of names or ``"*"``.

        >>> FunnelBuilder("f").move("lose", "*", "lost", requires_reason=True)._moves[0].source
        '*'
        """
        self._moves.append(Move(
            event, source, target, policy=policy, backward=backward,
            requires_reason=requires_reason, auto=auto, sla=sla,
        ))
        return self

    def initial(self, name: str) -> Self:
        """Make *name* the stage new leads start in (by default the first stage added).

        >>> FunnelBuilder("f").stage("a", "t").stage("b", "t").initial("b")._initial
        'b'
        """
        self._initial = name
        return self

    def build(self) -> Funnel:
        """Check the definition and build the funnel (:class:`InvalidFunnel` lists every problem).

        >>> FunnelBuilder("f").stage("a", "t", outcome="won").build().stages[0].outcome
        'won'
        """
        initial = self._initial if self._initial is not None else (
            self._stages[0].name if self._stages else ""
        )
        return Funnel(self._name, initial=initial, stages=self._stages, moves=self._moves)
