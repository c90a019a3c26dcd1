"""Funnel definitions (``Stage``, ``Move``, ``Funnel``) and the pure core, ``Funnel.fire``."""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, NamedTuple, Self, get_args

import attrs

from funnelkit._decision import Context, Decision, Policy, make_context
from funnelkit._errors import (
    InvalidFunnel,
    InvalidInput,
    InvalidPolicy,
    NotFound,
    PolicyRefused,
    ReasonRequired,
    TransitionNotAllowed,
    UnknownEvent,
)
from funnelkit._lead import _EMPTY as _EMPTY_ATTRS
from funnelkit._lead import Lead, Outcome, Source, Transition
from funnelkit._time import Duration, parse_duration, require_aware

__all__ = ["Funnel", "FunnelBuilder", "Move", "Replayed", "Stage", "StageOutcome"]

StageOutcome = Literal["open", "won", "lost"]
_OUTCOMES: tuple[str, ...] = get_args(StageOutcome)
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_tuple_new = tuple.__new__
_tuple_iter = tuple.__iter__
_ALLOW = Decision(True)  # noqa: FBT003 - what `check` answers for an unguarded move


def _default_label(stage: Stage) -> str:
    return stage.name.replace("_", " ").capitalize() if isinstance(stage.name, str) else ""


@attrs.frozen
class Stage:
    """A position in the funnel, owned by a team.

    ``outcome`` is ``"open"`` (the journey goes on), ``"won"`` or ``"lost"``.  ``stall_after``
    (a duration such as ``"14 days"``) marks a lead stalled when it stays longer; the pipeline's
    ``sweep`` then calls ``on_stalled`` and fires ``stall_event`` when one is set.

    >>> Stage("mql", "marketing", label="Marketing qualified lead")
    Stage(name='mql', team='marketing', label='Marketing qualified lead', outcome='open', description='', stall_after=None, stall_event=None)
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
        """True for an open stage (neither won nor lost)."""
        return self.outcome == "open"


@attrs.frozen
class Move:
    """A way a lead can move: an event that takes it from a source stage to a target stage.

    ``source`` is a stage name, a sequence of names, or ``"*"`` (every open stage except the
    target).  ``policy`` guards the move: a callable ``policy(lead, context) -> Decision``, a rule
    string, or ``{"use": name, "params": {...}}`` (strings and mappings need
    :mod:`funnelkit.policies`).  ``backward`` must be set on moves to an earlier stage; those,
    and moves marked ``requires_reason``, need a reason when fired.  ``auto`` lets the pipeline
    fire the move by itself when its policy passes; ``sla`` sets the due time of the handoff a
    team-crossing move creates.

    >>> Move("qualify", "lead", "mql")
    Move(event='qualify', source='lead', target='mql', policy=None, backward=False, requires_reason=False, auto=False, sla=None)
    """

    event: str
    source: str | tuple[str, ...] = attrs.field(
        converter=lambda v: v if isinstance(v, str) else tuple(v)
    )
    target: str
    policy: Policy | str | Mapping[str, Any] | None = attrs.field(default=None, kw_only=True)
    backward: bool = attrs.field(default=False, kw_only=True)
    requires_reason: bool = attrs.field(default=False, kw_only=True)
    auto: bool = attrs.field(default=False, kw_only=True)
    sla: str | timedelta | Duration | None = attrs.field(default=None, kw_only=True)


class _Row(NamedTuple):
    """One compiled entry of the move table: everything ``fire`` needs, looked up once."""

    target: str
    policy: Policy | None
    needs_reason: bool
    backward: bool
    team_change: tuple[str, str] | None
    move: Move
    index: int


@attrs.frozen
class Replayed:
    """A lead rebuilt from its transitions by :meth:`Funnel.replay`.

    ``problems`` lists every way the history breaks the funnel's rules (gaps in the versions,
    moves the funnel does not define, a move that starts where the previous one did not end).
    """

    lead_id: str
    stage: str
    version: int
    stage_entered_at: datetime | None
    problems: tuple[str, ...] = ()


def _suggest(name: object, choices: Iterable[str]) -> str:
    if not isinstance(name, str):
        return ""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _load_policy(spec: str | Mapping[str, Any], *, path: str) -> Policy:
    """Turn a policy's data form into a policy (the policies layer does the work)."""
    from funnelkit import _policy_loader  # noqa: PLC0415 - the policies layer loads lazily

    return _policy_loader.policy_from_data(spec, path=path)


def _policy_to_data(policy: Any) -> Any:
    if policy is None or isinstance(policy, str | Mapping):
        return policy
    to_data = getattr(policy, "to_data", None)
    if callable(to_data):
        return to_data()
    return {"repr": repr(policy)}


@attrs.frozen(eq=False)
class Funnel:
    """An immutable funnel definition and the pure state machine over it.

    Build one in code (:meth:`builder` or the constructor), from data (:meth:`from_dict`,
    :meth:`from_toml`, :meth:`from_json`, :meth:`load`) or from :mod:`funnelkit.templates`.
    Every problem in a definition is reported at once in one :class:`InvalidFunnel`.

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
    stages: tuple[Stage, ...] = attrs.field(kw_only=True, converter=tuple)
    moves: tuple[Move, ...] = attrs.field(kw_only=True, converter=tuple)
    _by_name: dict[str, Stage] = attrs.field(init=False, repr=False)
    _order: dict[str, int] = attrs.field(init=False, repr=False)
    _table: dict[str, dict[str, _Row]] = attrs.field(init=False, repr=False)
    _events: frozenset[str] = attrs.field(init=False, repr=False)
    _policies: tuple[Policy | None, ...] = attrs.field(init=False, repr=False)
    _cache: dict[str, Any] = attrs.field(init=False, repr=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        problems: list[tuple[str, str]] = []
        by_name, order = self._check_stages(problems)
        policies = self._resolve_policies(problems)
        table = self._compile(by_name, order, policies, problems)
        self._check_graph(by_name, table, problems)
        if problems:
            raise InvalidFunnel(problems, name=self.name if isinstance(self.name, str) else "")
        set_ = object.__setattr__
        set_(self, "_by_name", by_name)
        set_(self, "_order", order)
        set_(self, "_table", table)
        set_(self, "_events", frozenset(m.event for m in self.moves))
        set_(self, "_policies", policies)

    # -- validation -------------------------------------------------------------------------

    def _check_stages(self, problems: list[tuple[str, str]]) -> tuple[dict[str, Stage], dict[str, int]]:
        if not isinstance(self.name, str) or not self.name.strip():
            problems.append(("name", f"{self.name!r} is not a funnel name; give a non-empty string"))
        if not self.stages:
            problems.append(("stages", "a funnel needs at least one stage"))
        by_name: dict[str, Stage] = {}
        order: dict[str, int] = {}
        for i, stage in enumerate(self.stages):
            path = f"stages[{i}]"
            if not isinstance(stage, Stage):
                problems.append((path, f"{stage!r} is not a funnelkit.Stage"))
                continue
            if not isinstance(stage.name, str) or not _IDENTIFIER.match(stage.name):
                problems.append((
                    f"{path}.name",
                    f"{stage.name!r} is not an identifier; start with a letter, then letters, "
                    f"digits or '_'",
                ))
                continue
            if stage.name in by_name:
                problems.append((f"{path}.name", f"duplicate stage {stage.name!r}; name each stage once"))
                continue
            if not isinstance(stage.team, str) or not stage.team.strip():
                problems.append((f"{path}.team", f"{stage.team!r} is not a team; give a non-empty string such as 'marketing'"))
            if stage.outcome not in _OUTCOMES:
                problems.append((f"{path}.outcome", f"{stage.outcome!r} is not one of {', '.join(_OUTCOMES)}"))
            if not isinstance(stage.label, str) or not isinstance(stage.description, str):
                problems.append((path, "label and description must be strings"))
            if stage.stall_after is not None:
                try:
                    parse_duration(stage.stall_after, name="stall_after")
                except InvalidInput as exc:
                    problems.append((f"{path}.stall_after", str(exc)))
            by_name[stage.name] = stage
            order[stage.name] = i
        for i, stage in enumerate(self.stages):
            if isinstance(stage, Stage) and stage.stall_event is not None and not any(
                isinstance(m, Move) and m.event == stage.stall_event for m in self.moves
            ):
                problems.append((f"stages[{i}].stall_event", f"unknown event {stage.stall_event!r}"
                                 f"{_suggest(stage.stall_event, (m.event for m in self.moves if isinstance(m, Move)))}"))
        if not isinstance(self.initial, str) or not self.initial:
            problems.append(("initial", "missing initial stage; name the stage new leads start in"))
        elif self.stages and self.initial not in by_name:
            problems.append(("initial", f"unknown stage {self.initial!r}{_suggest(self.initial, by_name)}"))
        return by_name, order

    def _resolve_policies(self, problems: list[tuple[str, str]]) -> tuple[Policy | None, ...]:
        resolved: list[Policy | None] = []
        for i, move in enumerate(self.moves):
            policy = move.policy if isinstance(move, Move) else None
            if isinstance(policy, str | Mapping):
                try:
                    policy = _load_policy(policy, path=f"transitions[{i}].policy")
                except (InvalidPolicy, InvalidInput) as exc:
                    problems.append((f"transitions[{i}].policy", str(exc)))
                    policy = None
            elif policy is not None and not callable(policy):
                problems.append((f"transitions[{i}].policy", f"{policy!r} is not callable; a policy is "
                                 f"a callable policy(lead, context) -> Decision, a rule string or "
                                 f"{{'use': name, 'params': {{...}}}}"))
                policy = None
            resolved.append(policy)
        return tuple(resolved)

    def _compile(
        self,
        by_name: dict[str, Stage],
        order: dict[str, int],
        policies: tuple[Policy | None, ...],
        problems: list[tuple[str, str]],
    ) -> dict[str, dict[str, _Row]]:
        table: dict[str, dict[str, _Row]] = {name: {} for name in by_name}
        for i, move in enumerate(self.moves):
            path = f"transitions[{i}]"
            if not isinstance(move, Move):
                problems.append((path, f"{move!r} is not a funnelkit.Move"))
                continue
            if not isinstance(move.event, str) or not _IDENTIFIER.match(move.event):
                problems.append((f"{path}.event", f"{move.event!r} is not an identifier; start with a "
                                 f"letter, then letters, digits or '_'"))
                continue
            target = by_name.get(move.target) if isinstance(move.target, str) else None
            if target is None:
                problems.append((f"{path}.target", f"unknown stage {move.target!r}{_suggest(move.target, by_name)}"))
            if move.sla is not None:
                try:
                    parse_duration(move.sla, name="sla")
                except InvalidInput as exc:
                    problems.append((f"{path}.sla", str(exc)))
            for flag in ("backward", "requires_reason", "auto"):
                if type(getattr(move, flag)) is not bool:
                    problems.append((f"{path}.{flag}", f"{getattr(move, flag)!r} must be true or false"))
            if move.source == "*":
                sources = [s for s in by_name.values() if s.is_open and s.name != move.target]
            else:
                names = (move.source,) if isinstance(move.source, str) else move.source
                if not names:
                    problems.append((f"{path}.source", "no source stage; name one, a list, or '*'"))
                sources = []
                for name in names:
                    stage = by_name.get(name) if isinstance(name, str) else None
                    if stage is None:
                        problems.append((f"{path}.source", f"unknown stage {name!r}{_suggest(name, by_name)}"))
                    else:
                        sources.append(stage)
            if target is None:
                continue
            declared_backward = move.backward is True
            for source in sources:
                backward = order[target.name] < order[source.name]
                if backward and not declared_backward:
                    problems.append((f"{path}.backward", f"{source.name!r} -> {target.name!r} goes back "
                                     f"to an earlier stage; declare it backward: true (backward moves need a reason)"))
                elif declared_backward and not backward:
                    problems.append((f"{path}.backward", f"{source.name!r} -> {target.name!r} does not go "
                                     f"back; remove backward: true or fix the stages' order"))
                if move.event in table[source.name]:
                    problems.append((f"{path}.event", f"event {move.event!r} from {source.name!r} is "
                                     f"defined twice; each event leaves a stage one way"))
                    continue
                team_change = (source.team, target.team) if source.team != target.team else None
                table[source.name][move.event] = _Row(
                    target=target.name,
                    policy=policies[i],
                    needs_reason=backward or move.requires_reason is True,
                    backward=backward,
                    team_change=team_change,
                    move=move,
                    index=i,
                )
        return table

    def _check_graph(
        self, by_name: dict[str, Stage], table: dict[str, dict[str, _Row]], problems: list[tuple[str, str]]
    ) -> None:
        if self.initial not in by_name:
            return
        seen = {self.initial}
        queue = deque([self.initial])
        while queue:
            for row in table[queue.popleft()].values():
                if row.target not in seen:
                    seen.add(row.target)
                    queue.append(row.target)
        index = {s.name: i for i, s in enumerate(self.stages) if isinstance(s, Stage)}
        for name, stage in by_name.items():
            if name not in seen:
                problems.append((f"stages[{index[name]}]", f"stage {name!r} is unreachable from the "
                                 f"initial stage {self.initial!r}; add a move into it or remove it"))
            if stage.is_open and not table[name]:
                problems.append((f"stages[{index[name]}]", f"open stage {name!r} has no way out; add a "
                                 f"move from it, or give it outcome 'won' or 'lost'"))

    # -- building ---------------------------------------------------------------------------

    @staticmethod
    def builder(name: str) -> FunnelBuilder:
        """Start a fluent :class:`FunnelBuilder`."""
        return FunnelBuilder(name)

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, policies: Mapping[str, Policy] | None = None
    ) -> Self:
        """Build a funnel from its data form (see ``docs/funnel-format.md``).

        *policies* attaches a policy to every move of the named event, overriding the data.

        >>> f = Funnel.from_dict({
        ...     "name": "tiny", "initial": "lead",
        ...     "stages": [{"name": "lead", "team": "marketing"},
        ...                {"name": "won", "team": "sales", "outcome": "won"}],
        ...     "transitions": [{"event": "win", "source": "lead", "target": "won"}]})
        >>> f.events_from("lead")
        ('win',)
        """
        problems: list[tuple[str, str]] = []
        if not isinstance(data, Mapping):
            raise InvalidFunnel([("", f"{type(data).__name__} is not a mapping; give a dict")])
        _check_keys(data, "", {"name", "initial", "stages", "transitions"}, {"name", "stages"}, problems)
        stages: list[Stage] = []
        for i, raw in enumerate(_as_list(data.get("stages", []), "stages", problems)):
            path = f"stages[{i}]"
            if not isinstance(raw, Mapping):
                problems.append((path, f"{raw!r} is not a table/object"))
                continue
            _check_keys(raw, path, {"name", "team", "label", "outcome", "description", "stall_after",
                                    "stall_event"}, {"name", "team"}, problems)
            kwargs = {k: raw[k] for k in ("label", "outcome", "description", "stall_after", "stall_event") if k in raw}
            stages.append(Stage(raw.get("name"), raw.get("team"), **kwargs))  # type: ignore[arg-type]
        moves: list[Move] = []
        for i, raw in enumerate(_as_list(data.get("transitions", []), "transitions", problems)):
            path = f"transitions[{i}]"
            if not isinstance(raw, Mapping):
                problems.append((path, f"{raw!r} is not a table/object"))
                continue
            _check_keys(raw, path, {"event", "source", "target", "policy", "backward",
                                    "requires_reason", "auto", "sla"}, {"event", "source", "target"}, problems)
            source = raw.get("source")
            if not isinstance(source, str) and not (
                isinstance(source, Sequence) and all(isinstance(s, str) for s in source)
            ):
                problems.append((f"{path}.source", f"{source!r} must be a stage name, a list of names or '*'"))
                source = ()
            kwargs = {k: raw[k] for k in ("backward", "requires_reason", "auto", "sla") if k in raw}
            policy = (policies or {}).get(raw.get("event", ""), raw.get("policy"))
            moves.append(Move(raw.get("event"), source, raw.get("target"), policy=policy, **kwargs))  # type: ignore[arg-type]
        if problems:
            # Report structural problems together with whatever the graph checks still find.
            try:
                cls(data.get("name", ""), initial=data.get("initial", ""), stages=stages, moves=moves)
            except InvalidFunnel as exc:
                problems.extend(exc.problems)
            raise InvalidFunnel(problems, name=str(data.get("name", "")))
        return cls(data["name"], initial=data.get("initial", ""), stages=stages, moves=moves)

    @classmethod
    def from_json(cls, text: str, *, policies: Mapping[str, Policy] | None = None) -> Self:
        """Build a funnel from JSON text in the data form."""
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, TypeError) as exc:
            raise InvalidFunnel([("<json>", f"not valid JSON: {exc}")]) from None
        return cls.from_dict(data, policies=policies)

    @classmethod
    def from_toml(cls, text: str, *, policies: Mapping[str, Policy] | None = None) -> Self:
        """Build a funnel from TOML text in the data form (``[[stages]]``, ``[[transitions]]``).

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
        ... [[transitions]]
        ... event = "win"
        ... source = "lead"
        ... target = "won"
        ... ''')
        >>> [s.name for s in f.stages]
        ['lead', 'won']
        """
        try:
            data = tomllib.loads(text)
        except (tomllib.TOMLDecodeError, TypeError) as exc:
            raise InvalidFunnel([("<toml>", f"not valid TOML: {exc}")]) from None
        return cls.from_dict(data, policies=policies)

    @classmethod
    def load(cls, path: str | Path, *, policies: Mapping[str, Policy] | None = None) -> Self:
        """Build a funnel from a ``.toml`` or ``.json`` file, chosen by the file's suffix."""
        path = Path(path)
        loaders = {".toml": cls.from_toml, ".json": cls.from_json}
        loader = loaders.get(path.suffix.lower())
        if loader is None:
            raise InvalidInput(f"{path}: unknown suffix {path.suffix!r}; name the file .toml or .json")
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"{path}: cannot read the funnel definition ({exc.strerror or exc})") from None
        return loader(text, policies=policies)

    def to_dict(self) -> dict[str, Any]:
        """The funnel's data form; :meth:`from_dict` of it gives an equal funnel.

        Policies written as data (rule strings, ``{"use": ...}``) round-trip; a policy object with
        a ``to_data()`` method writes that; any other callable is written as ``{"repr": ...}``,
        which :meth:`from_dict` refuses (attach it again with ``policies=``).
        """
        stages = []
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
        moves = []
        for m in self.moves:
            t: dict[str, Any] = {"event": m.event,
                                 "source": m.source if isinstance(m.source, str) else list(m.source),
                                 "target": m.target}
            if m.policy is not None:
                t["policy"] = _policy_to_data(m.policy)
            for flag in ("backward", "requires_reason", "auto"):
                if getattr(m, flag):
                    t[flag] = True
            if m.sla is not None:
                t["sla"] = str(parse_duration(m.sla))
            moves.append(t)
        return {"name": self.name, "initial": self.initial, "stages": stages, "transitions": moves}

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.to_dict() == other.to_dict() and self._policies == other._policies

    def __hash__(self) -> int:
        return hash((self.name, self.initial, tuple(s.name for s in self.stages)))

    # -- introspection ----------------------------------------------------------------------

    def stage(self, name: str) -> Stage:
        """The stage called *name*; :class:`NotFound` (a ``LookupError``) if there is none."""
        try:
            return self._by_name[name]
        except (KeyError, TypeError):
            raise NotFound(f"funnel {self.name!r} has no stage {name!r}{_suggest(name, self._by_name)}; "
                           f"stages are {', '.join(self._by_name)}") from None

    @property
    def teams(self) -> tuple[str, ...]:
        """Every team that owns a stage, in order of first appearance."""
        return tuple(dict.fromkeys(s.team for s in self.stages))

    @property
    def events(self) -> tuple[str, ...]:
        """Every event name, in order of definition."""
        return tuple(dict.fromkeys(m.event for m in self.moves))

    def events_from(self, stage: str) -> tuple[str, ...]:
        """The events valid from *stage*, in order of definition (no policy is run)."""
        self.stage(stage)
        return tuple(self._table[stage])

    def moves_from(self, stage: str) -> tuple[Move, ...]:
        """The move definitions that leave *stage*, in order of definition."""
        self.stage(stage)
        return tuple(row.move for row in self._table[stage].values())

    def move(self, stage: str, event: str) -> Move:
        """The move definition *event* takes from *stage* (errors as for :meth:`fire`)."""
        return self._row(stage, event).move

    def target(self, stage: str, event: str) -> str:
        """The stage *event* leads to from *stage*."""
        return self._row(stage, event).target

    def policy(self, stage: str, event: str) -> Policy | None:
        """The policy guarding *event* from *stage* (data forms already turned into policies)."""
        return self._row(stage, event).policy

    def requires_reason(self, stage: str, event: str) -> bool:
        """True when firing *event* from *stage* needs a reason (backward or marked so)."""
        return self._row(stage, event).needs_reason

    def is_backward(self, source: str, target: str) -> bool:
        """True when *target* was defined before *source* (a move back)."""
        return self._order[self.stage(target).name] < self._order[self.stage(source).name]

    def _row(self, stage: str, event: str) -> _Row:
        try:
            return self._table[stage][event]
        except (KeyError, TypeError):
            self._refuse(stage, event)

    def _refuse(self, stage: object, event: object) -> Any:
        if not isinstance(stage, str) or stage not in self._table:
            raise InvalidInput(
                f"stage {stage!r} is not a stage of funnel {self.name!r}{_suggest(stage, self._table)}; "
                f"was the lead stored under another funnel definition? Stages are "
                f"{', '.join(self._table)}"
            )
        valid = tuple(self._table[stage])
        listed = ", ".join(valid) if valid else "none (it is a final stage)"
        if not isinstance(event, str) or event not in self._events:
            raise UnknownEvent(
                f"funnel {self.name!r} has no event {event!r}{_suggest(event, self._events)}; "
                f"events valid from {stage!r}: {listed}",
                event=str(event), stage=stage, valid_events=valid,
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
        """A new lead (version 0) in the initial stage, captured at *at*."""
        if type(id) is str and id and type(at) is datetime and at.tzinfo is not None and (
            attributes is None and source is None and owner is None and at.utcoffset() is not None
        ):  # the common case, a fast path: no optional field to check
            return _tuple_new(Lead, (id, self.initial, 0, _EMPTY_ATTRS, None, None, at, at, at))
        return Lead(id, self.initial, attributes=attributes, source=source, owner=owner, created_at=at)

    def check(
        self, lead: Lead, event: str, *, at: datetime, context: Context | Mapping[str, Any] | None = None
    ) -> Decision:
        """Run the policy guarding *event* for *lead* without moving it.

        Returns the policy's :class:`Decision` (an allowing one with no criteria when the move is
        unguarded); raises as :meth:`fire` does when the event cannot be taken from the stage.
        """
        if type(lead) is not Lead:
            raise InvalidInput(f"lead={lead!r} is not a funnelkit.Lead")
        require_aware(at)
        row = self._row(lead.stage, event)
        if row.policy is None:
            return _ALLOW
        return self._decide(row.policy, lead, at, context)

    def _decide(
        self, policy: Policy, lead: Lead, at: datetime, context: Context | Mapping[str, Any] | None
    ) -> Decision:
        if type(context) is Context:
            ctx = context
        elif context is None or isinstance(context, Mapping):
            ctx = make_context(at, self, context)
        else:
            raise InvalidInput(f"context={context!r} must be a funnelkit.Context, a mapping or None")
        decision = policy(lead, ctx)
        if type(decision) is not Decision:
            raise InvalidPolicy(
                f"policy {policy!r} returned {decision!r}; a policy must return a funnelkit.Decision"
            )
        return decision

    def fire(
        self,
        lead: Lead,
        event: str,
        *,
        at: datetime,
        actor: str | None = None,
        reason: str | None = None,
        context: Context | Mapping[str, Any] | None = None,
    ) -> Outcome:
        """Move *lead* by *event* at *at*: pure, no I/O, the input lead is never changed.

        Looks the move up in the table compiled when the funnel was built, runs its policy (with
        *context*, or a :class:`Context` built from *at* and the mapping given), and returns an
        :class:`Outcome` with the new lead, the :class:`Transition` record and the team change.

        Raises :class:`UnknownEvent`, :class:`TransitionNotAllowed`, :class:`PolicyRefused`,
        :class:`ReasonRequired` or :class:`InvalidInput`; nothing is half done.
        """
        if type(lead) is not Lead:
            raise InvalidInput(f"lead={lead!r} is not a funnelkit.Lead; build leads with funnel.new_lead")
        lead_id, stage, version, attributes, source, owner, created, entered, updated = _tuple_iter(lead)
        try:
            row = self._table[stage][event]
        except (KeyError, TypeError):
            self._refuse(stage, event)
        try:
            if at < updated:
                raise InvalidInput(
                    f"at={at.isoformat()} is before lead {lead_id!r}'s last change "
                    f"({updated.isoformat()}); a lead's moves happen in time order"
                )
        except TypeError:
            require_aware(at)
            raise
        if reason is not None and type(reason) is not str:
            raise InvalidInput(f"reason={reason!r} must be a string or None")
        if row.needs_reason and not reason:
            why = "goes back to an earlier stage" if row.backward else "is marked requires_reason"
            raise ReasonRequired(
                f"{event!r} from {stage!r} to {row.target!r} {why}; pass reason='...' "
                f"saying why (it is kept on the transition for the feedback loop)"
            )
        if actor is not None and type(actor) is not str:
            raise InvalidInput(f"actor={actor!r} must be a string or None")
        decision = None
        if row.policy is not None:
            decision = self._decide(row.policy, lead, at, context)
            if not decision.allowed:
                why = "; ".join(decision.reasons) or "no reason given"
                raise PolicyRefused(
                    f"policy {decision.policy or row.policy!r} refused {event!r} for lead "
                    f"{lead_id!r} in {stage!r}: {why}",
                    decision=decision, event=event, stage=stage,
                )
        target = row.target
        version += 1
        return _tuple_new(Outcome, (
            _tuple_new(Lead, (lead_id, target, version, attributes, source, owner, created,
                              entered if target == stage else at, at)),
            _tuple_new(Transition, (lead_id, event, stage, target, at, actor, reason, decision, version)),
            row.team_change,
        ))

    def replay(self, transitions: Iterable[Transition]) -> dict[str, Replayed]:
        """Rebuild every lead's stage and version from its transitions, checking each move.

        Transitions may come in any order; each lead's are sorted by version.  A lead whose history
        has gaps, duplicates, or moves the funnel does not define gets ``problems``.
        """
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
                if t.version != version + 1:
                    problems.append(f"version {t.version} follows {version}; versions must be contiguous")
                if t.source != stage:
                    problems.append(f"version {t.version} leaves {t.source!r} but the lead was in {stage!r}")
                row = self._table.get(t.source, {}).get(t.event)
                if row is None or row.target != t.target:
                    problems.append(f"version {t.version}: {t.event!r} from {t.source!r} to "
                                    f"{t.target!r} is not a move of funnel {self.name!r}")
                elif row.needs_reason and not t.reason:
                    problems.append(f"version {t.version}: {t.event!r} needs a reason and has none")
                if t.target != stage:
                    entered = t.at
                stage, version = t.target, t.version
            result[lead_id] = Replayed(lead_id, stage, version, entered, tuple(problems))
        return result

    # -- diagrams ---------------------------------------------------------------------------

    def to_mermaid(self) -> str:
        """A Mermaid ``stateDiagram-v2`` of the funnel, made through ``transitions`` once per funnel."""
        from funnelkit import _diagrams  # noqa: PLC0415 - diagrams are built lazily, once

        if "mermaid" not in self._cache:
            self._cache["mermaid"] = _diagrams.mermaid(self)
        return str(self._cache["mermaid"])

    def to_dot(self) -> str:
        """Graphviz DOT source of the funnel; needs the extra ``funnelkit[diagrams]``."""
        from funnelkit import _diagrams  # noqa: PLC0415 - diagrams are built lazily, once

        if "dot" not in self._cache:
            self._cache["dot"] = _diagrams.dot(self)
        return str(self._cache["dot"])


def _check_keys(
    data: Mapping[str, Any], path: str, allowed: set[str], required: set[str],
    problems: list[tuple[str, str]],
) -> None:
    prefix = f"{path}." if path else ""
    for key in data:
        if key not in allowed:
            problems.append((f"{prefix}{key}", f"unknown key{_suggest(key, allowed)}; expected "
                             f"{', '.join(sorted(allowed))}"))
    for key in sorted(required - set(data)):
        problems.append((f"{prefix}{key}", "missing"))


def _as_list(value: Any, path: str, problems: list[tuple[str, str]]) -> list[Any]:
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
        """Add a stage (see :class:`Stage`)."""
        kwargs: dict[str, Any] = {} if label is None else {"label": label}
        self._stages.append(Stage(name, team, outcome=outcome, description=description,
                                  stall_after=stall_after, stall_event=stall_event, **kwargs))
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
        """Add a move (see :class:`Move`)."""
        self._moves.append(Move(event, source, target, policy=policy, backward=backward,  # type: ignore[arg-type]
                                requires_reason=requires_reason, auto=auto, sla=sla))
        return self

    def initial(self, name: str) -> Self:
        """Make *name* the stage new leads start in."""
        self._initial = name
        return self

    def build(self) -> Funnel:
        """Check the definition and build the funnel (:class:`InvalidFunnel` lists every problem)."""
        initial = self._initial if self._initial is not None else (
            self._stages[0].name if self._stages else ""
        )
        return Funnel(self._name, initial=initial, stages=self._stages, moves=self._moves)

