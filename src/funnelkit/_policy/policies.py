"""Ready policies: rules, combinators, qualification frameworks, score policies, discovery.

Every policy here follows one pattern (attrs' ``validators.py``): a factory function checks its
arguments when the policy is *built* and returns a small frozen callable class with a readable
``repr`` that reads like the call that made it, and a ``to_data()`` giving its data form for
``Funnel.to_dict``.  Calling a policy never raises for a lead's data: a missing attribute is an
``unknown`` verdict with the name in the reason.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple

import attrs

from funnelkit._core.decision import Decision, Policy, Verdict, make_decision, make_verdict
from funnelkit._core.deprecation import warn_renamed
from funnelkit._core.errors import InvalidPolicy, RuleSyntaxError
from funnelkit._core.limits import MAX_POLICY_DEPTH, _short, items_of
from funnelkit._policy.loader import check_depth, not_a_decision
from funnelkit._policy.rules import (
    EVAL_ERRORS,
    SCORE_NAMES,
    Compiled,
    NameTable,
    Resolver,
    compile_rule,
    parse,
)
from funnelkit._policy.scoring import Score, ScoringModel, make_score

if TYPE_CHECKING:
    from importlib import metadata

    from funnelkit._core.decision import Context
    from funnelkit._core.lead import Lead

__all__ = [
    "ENTRY_POINT_GROUP",
    "FRAMEWORKS",
    "AllOf",
    "AnyOf",
    "Checklist",
    "FitEngagementGrid",
    "Framework",
    "KOfN",
    "Not",
    "Rule",
    "ScoreAtLeast",
    "all_of",
    "anum",
    "any_of",
    "available",
    "bant",
    "champ",
    "checklist",
    "fit_engagement_grid",
    "from_name",
    "gpctba",
    "judge",
    "k_of_n",
    "meddic",
    "meddpicc",
    "not_",
    "policy_from_data",
    "rule",
    "score_at_least",
]

#: The entry-point group third-party packages register policy factories under.
ENTRY_POINT_GROUP: Final = "funnelkit.policies"

_NO_REASONS: tuple[str, ...] = ()
#: "Not met" reasons a rule clause remembers, by the value it saw (strings and ints only).
_REASON_MEMO: Final = 4096


def _obj(value: object) -> object:
    """Widen a typed argument so the runtime check of a caller's wrong type reads naturally."""
    return value


def _label(policy: object) -> str:
    label = getattr(policy, "label", None)
    if isinstance(label, str):
        return label
    name = getattr(policy, "__qualname__", None) or type(policy).__name__
    return str(name)


def _as_policy(value: object, what: str) -> Policy:
    if isinstance(value, str | Mapping):
        return policy_from_data(value, path=what)
    if not callable(value):
        raise InvalidPolicy(f"{what}={_short(value)} is not a policy; give a callable "
                            f"policy(lead, context) -> Decision, a rule string or "
                            f"{{'use': name, 'params': {{...}}}}")
    return value


def _data_or_repr(policy: object) -> Any:
    to_data = getattr(policy, "to_data", None)
    if callable(to_data):
        return to_data()
    return {"repr": repr(policy)}


def _has_data(value: Any) -> bool:
    if isinstance(value, str):
        return True
    if isinstance(value, Mapping):
        return "repr" not in value and all(_has_data(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(_has_data(v) for v in value)
    return True


# -- the rule policy -----------------------------------------------------------------------------


class _Criterion(NamedTuple):
    """A clause of a ``rule()`` policy and the parts of its decision that no lead changes.

    ``Rule.__call__`` unpacks these fields in one step, from a plain tuple (CPython unpacks a
    plain tuple faster than a subclass of one).
    """

    text: str
    test: Compiled  # the clause's one compiled closure (funnelkit._policy.rules.compile_rule)
    reads: tuple[tuple[str, int], ...]  # the names it reads, with their slots in env
    # For a clause that reads one name: the name, its slot, and the verdict and reason for a
    # missing value, built once (None, -1, None, None for other clauses).
    name: str | None
    slot: int
    unknown: Verdict | None
    unknown_reason: str | None
    not_met: dict[Any, str]  # its "not met" reasons, remembered by value (strings and ints)


def _criteria(
    text: str, *, specialise: bool = True
) -> tuple[Resolver, tuple[tuple[Any, ...], ...], bool]:
    """Compile a rule into what ``Rule.__call__`` reads.

    That is the resolver of the names the rule reads, its criteria, and whether it reads a score.
    """
    table = NameTable()
    criteria = []
    for clause in compile_rule(parse(text), table, text=text, specialise=specialise):
        one: tuple[str | None, int, Verdict | None, str | None] = (None, -1, None, None)
        if len(clause.reads) == 1:
            (name, slot), = clause.reads
            one = (name, slot, make_verdict((clause.text, "unknown", None)),
                   f"{clause.text}: unknown, {_missing([name])}")
        criteria.append(tuple(_Criterion(clause.text, clause.test, clause.reads, *one, {})))
    return (table.freeze(), tuple(criteria), bool(SCORE_NAMES.intersection(table.names)))


@attrs.frozen(repr=False)
class Rule:
    """A policy written in the rule language; build it with :func:`rule`."""

    text: str
    name: str = "rule"
    model: ScoringModel | None = None
    # What __call__ reads, compiled once (see _criteria).
    _compiled: tuple[Resolver, tuple[tuple[Any, ...], ...], bool] = attrs.field(
        init=False, eq=False)

    def __attrs_post_init__(self) -> None:
        if not isinstance(_obj(self.name), str) or not self.name:
            raise InvalidPolicy(f"rule name={_short(self.name)} must be a non-empty string")
        _built_model(self.model)
        object.__setattr__(self, "_compiled", _criteria(self.text))

    @property
    def label(self) -> str:
        """The name decisions carry in ``policy``."""
        return self.name

    def __call__(self, lead: Lead, context: Context, /) -> Decision:
        """Decide: every top-level ``and`` clause is one criterion; all must be met."""
        resolve, criteria, scored = self._compiled
        sc = context.score
        if sc is None and scored and self.model is not None:
            sc = self.model.score(lead, context.touchpoints, at=context.at, context=context)
        env = resolve(lead.attributes, lead, context, sc)
        new = make_verdict
        verdicts: list[Verdict] = []
        add = verdicts.append
        reasons = []
        allowed = True
        for text, test, reads, name, slot, unknown, unknown_reason, not_met in criteria:
            try:
                value = test(env, context)
            except EVAL_ERRORS as exc:
                allowed = False
                add(new((text, "unknown", _evidence(env, reads))))
                reasons.append(f"{text}: cannot be evaluated: {exc}")
                continue
            if name is not None:  # one name, the common case: parts built in _criteria
                seen = env[slot]
                if seen is None:
                    if value:
                        add(new((text, "met", None)))
                        continue
                    allowed = False
                    if value is None:
                        add(unknown)
                        reasons.append(unknown_reason)
                    else:
                        add(new((text, "failed", None)))
                        reasons.append(f"{text}: not met")
                    continue
                if value:
                    add(new((text, "met", {name: seen})))
                    continue
                allowed = False
                if value is None:
                    add(new((text, "unknown", {name: seen})))
                    reasons.append(f"{text}: unknown, {_missing(())}")
                    continue
                add(new((text, "failed", {name: seen})))
                seen_type = type(seen)
                if seen_type is str or seen_type is int:  # its repr is fixed by the value
                    reason = not_met.get(seen)
                    if reason is None:
                        reason = f"{text}: not met ({name}={seen!r})"
                        if len(not_met) < _REASON_MEMO:
                            not_met[seen] = reason
                    reasons.append(reason)
                else:
                    reasons.append(f"{text}: not met ({name}={seen!r})")
                continue
            evidence = _evidence(env, reads)  # no name or several: the same decision, in general
            if value:
                add(new((text, "met", evidence)))
                continue
            allowed = False
            if value is None:
                add(new((text, "unknown", evidence)))
                missing = [n for n, i in reads if env[i] is None]
                reasons.append(f"{text}: unknown, {_missing(missing)}")
            elif evidence is None:
                add(new((text, "failed", None)))
                reasons.append(f"{text}: not met")
            else:
                add(new((text, "failed", evidence)))
                shown = ", ".join([f"{k}={v!r}" for k, v in evidence.items()])
                reasons.append(f"{text}: not met ({shown})")
        return make_decision((
            allowed, tuple(verdicts), tuple(reasons) if reasons else _NO_REASONS, None, self.name
        ))

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle and copy by the rule's text; the compiled closures are rebuilt."""
        return (Rule, (self.text, self.name, self.model))

    def to_data(self) -> str | dict[str, Any]:
        """The rule string, or ``{"use": "rule", "params": {...}}`` when it has a name or model."""
        if self.name == "rule" and self.model is None:
            return self.text
        params: dict[str, Any] = {"text": self.text}
        if self.name != "rule":
            params["name"] = self.name
        if self.model is not None:
            params["model"] = self.model.to_dict()
        return {"use": "rule", "params": params}

    def __repr__(self) -> str:
        extra = "" if self.name == "rule" else f", name={self.name!r}"
        extra += "" if self.model is None else ", model=..."
        return f"rule({self.text!r}{extra})"


def _evidence(env: list[Any], slots: tuple[tuple[str, int], ...]) -> dict[str, Any] | None:
    if len(slots) == 1:
        name, i = slots[0]
        value = env[i]
        return None if value is None else {name: value}
    found = {name: env[i] for name, i in slots if env[i] is not None}
    return found or None


def _missing(names: Sequence[str]) -> str:
    if not names:
        return "a value it needs is missing"
    parts = []
    for name in names:
        if name in SCORE_NAMES:
            parts.append(f"no score for {name!r} (pass a Score in the context or build the rule "
                         f"with model=)")
        else:
            parts.append(f"attribute {name!r} is missing")
    return "; ".join(parts)


def _model(value: object, what: str = "model") -> ScoringModel | None:
    if value is None or isinstance(value, ScoringModel):
        return value
    if isinstance(value, Mapping):
        return ScoringModel.from_dict(value, path=what)
    raise InvalidPolicy(f"{what}={value!r} must be a funnelkit.scoring.ScoringModel, its data "
                        f"form (a mapping) or None")


def _built_model(value: object) -> None:
    """Refuse a policy class's model that is not a ScoringModel (factories convert data forms)."""
    if value is not None and not isinstance(value, ScoringModel):
        raise InvalidPolicy(f"model={_short(value)} must be a funnelkit.scoring.ScoringModel or "
                            f"None (the factories also take its data form)")


def rule(
    text: str, *, name: str = "rule", model: ScoringModel | Mapping[str, Any] | None = None
) -> Rule:
    """A policy from a rule-language expression, checked and compiled now.

    Each top-level ``and`` clause becomes one criterion; the lead passes when all are met.  A
    missing attribute makes its clause ``unknown`` (the lead does not pass) with the name in the
    reason.  ``score``, ``fit_score`` and ``engagement_score`` read the context's Score, or
    *model*'s score of the lead when the context has none.  Refused rules raise
    :class:`funnelkit.RuleSyntaxError` with the column.

    >>> from datetime import datetime, timezone
    >>> from funnelkit import Context, Lead
    >>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
    >>> policy = rule("budget >= 10000 and role in ('cto', 'ceo')")
    >>> d = policy(Lead("L1", "lead", created_at=at, attributes={"budget": 5000}), Context(at))
    >>> d.allowed
    False
    >>> for reason in d.reasons:
    ...     print(reason)
    budget >= 10000: not met (budget=5000)
    role in ('cto', 'ceo'): unknown, attribute 'role' is missing
    """
    if not isinstance(_obj(name), str) or not name:
        raise InvalidPolicy(f"rule name={name!r} must be a non-empty string")
    return Rule(text, name, _model(model))


# -- combinators ---------------------------------------------------------------------------------


def _merge(decisions: Iterable[Decision]) -> tuple[tuple[Verdict, ...], tuple[str, ...]]:
    criteria: list[Verdict] = []
    reasons: list[str] = []
    for d in decisions:
        criteria.extend(d.criteria)
        reasons.extend(d.reasons)
    return tuple(criteria), tuple(reasons)


def _run(policy: Policy, lead: Lead, context: Context) -> Decision:
    decision = policy(lead, context)
    if type(decision) is not Decision:
        raise not_a_decision(policy, decision)
    return decision


def _policies(values: Sequence[object], what: str, *, minimum: int = 1) -> tuple[Policy, ...]:
    if isinstance(values, str | bytes | Mapping) or not isinstance(values, Iterable):
        raise InvalidPolicy(f"{what} takes policies, got {_short(values)}")
    values = tuple(values)
    if len(values) < minimum:
        plural = "y" if minimum == 1 else "ies"
        raise InvalidPolicy(f"{what} needs at least {minimum} polic{plural}")
    return tuple(_as_policy(v, f"{what}[{i}]") for i, v in enumerate(values))


def _depth(policy: object) -> int:
    """How many combinators nest in *policy*, itself included (0 for a rule or a function)."""
    return policy.depth if isinstance(policy, _Combinator) else 0


@attrs.frozen(repr=False)
class _Combinator:
    policies: tuple[Policy, ...]
    label: str = attrs.field(init=False, eq=False)
    depth: int = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        given: object = self.policies
        if not isinstance(given, tuple) or not given or not all(map(callable, given)):
            raise InvalidPolicy(f"{self._factory}: policies={_short(given)} must be a non-empty "
                                f"tuple of policies; build it with {self._factory}(...)")
        depth = 1 + max(map(_depth, given))
        if depth > MAX_POLICY_DEPTH:
            raise InvalidPolicy(
                f"{self._factory}(...) would nest {depth} combinators inside each other; the "
                f"limit is {MAX_POLICY_DEPTH}: combine the inner policies side by side instead")
        object.__setattr__(self, "depth", depth)
        object.__setattr__(self, "label", self._name())

    def _name(self) -> str:
        return f"{self._factory}({', '.join(_label(p) for p in self.policies)})"

    def __call__(self, lead: Lead, context: Context, /) -> Decision:
        """Run every policy, merge their criteria and reasons, and allow as the combinator says."""
        decisions = [_run(p, lead, context) for p in self.policies]
        criteria, reasons = _merge(decisions)
        allowed, why = self._allows(sum(1 for d in decisions if d.allowed), len(decisions))
        if why:
            reasons = (*reasons, why)
        return make_decision((allowed, criteria, reasons, None, self.label))

    def _allows(self, passed: int, total: int) -> tuple[bool, str | None]:
        """Whether *passed* allowing policies of *total* allow, and a reason to add, if any."""
        raise NotImplementedError

    _factory = "combinator"

    def __repr__(self) -> str:
        return f"{self._factory}({', '.join(repr(p) for p in self.policies)})"

    def to_data(self) -> dict[str, Any]:
        """The data form, or ``{"repr": ...}`` when a part has none."""
        parts = [_data_or_repr(p) for p in self.policies]
        if not _has_data(parts):
            return {"repr": repr(self)}
        return {"use": self._factory, "params": {"policies": parts}}


@attrs.frozen(repr=False)
class AllOf(_Combinator):
    """Allows when every policy allows; built by :func:`all_of`."""

    _factory = "all_of"

    def _allows(self, passed: int, total: int) -> tuple[bool, str | None]:
        return passed == total, None


@attrs.frozen(repr=False)
class AnyOf(_Combinator):
    """Allows when at least one policy allows; built by :func:`any_of`."""

    _factory = "any_of"

    def _allows(self, passed: int, total: int) -> tuple[bool, str | None]:  # noqa: ARG002
        return passed > 0, None


@attrs.frozen(repr=False)
class KOfN(_Combinator):
    """Allows when at least ``k`` policies allow; built by :func:`k_of_n`."""

    k: int = attrs.field(kw_only=True)
    _factory = "k_of_n"

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        if type(self.k) is not int or not 1 <= self.k <= len(self.policies):
            raise InvalidPolicy(f"k_of_n k={_short(self.k)} must be a whole number from 1 to "
                                f"{len(self.policies)} (the number of policies)")

    def _name(self) -> str:
        return f"k_of_n({self.k}, {', '.join(_label(p) for p in self.policies)})"

    def __repr__(self) -> str:
        return f"k_of_n({self.k}, {', '.join(repr(p) for p in self.policies)})"

    def _allows(self, passed: int, total: int) -> tuple[bool, str | None]:
        if passed < self.k:
            return False, f"{passed} of {total} policies allowed; {self.k} needed"
        return True, None

    def to_data(self) -> dict[str, Any]:
        """The data form, or ``{"repr": ...}`` when a part has none."""
        data = super().to_data()
        if "params" in data:
            data["params"] = {"k": self.k, **data["params"]}
        return data


@attrs.frozen(repr=False)
class Not(_Combinator):
    """Allows when its policy refuses; built by :func:`not_`."""

    _factory = "not_"

    def __call__(self, lead: Lead, context: Context, /) -> Decision:
        """Run the policy and invert its answer (its criteria are kept as evidence)."""
        inner = _run(self.policies[0], lead, context)
        if inner.allowed:
            reasons = (f"{_label(self.policies[0])} allowed, and {self.label} needs it to refuse",)
            return make_decision((False, inner.criteria, reasons, inner.score, self.label))
        return make_decision((True, inner.criteria, _NO_REASONS, inner.score, self.label))

    def to_data(self) -> dict[str, Any]:
        """The data form, or ``{"repr": ...}`` when the inner policy has none."""
        inner = _data_or_repr(self.policies[0])
        if not _has_data(inner):
            return {"repr": repr(self)}
        return {"use": "not", "params": {"policy": inner}}


def all_of(*policies: Policy | str | Mapping[str, Any]) -> AllOf:
    """A policy that allows when every one of *policies* allows.

    Every policy runs, so the decision lists all criteria and reasons.  Rule strings and
    ``{"use": ...}`` mappings are accepted in place of policies.

    >>> all_of("budget > 0", "employees >= 10")
    all_of(rule('budget > 0'), rule('employees >= 10'))
    """
    return AllOf(_policies(policies, "all_of"))


def any_of(*policies: Policy | str | Mapping[str, Any]) -> AnyOf:
    """A policy that allows when at least one of *policies* allows.

    >>> any_of("role == 'ceo'", "budget > 50000").label
    'any_of(rule, rule)'
    """
    return AnyOf(_policies(policies, "any_of"))


def not_(policy: Policy | str | Mapping[str, Any]) -> Not:
    """A policy that allows exactly when *policy* refuses.

    >>> not_("competitor == true")
    not_(rule('competitor == true'))
    """
    return Not(_policies((policy,), "not_"))


def k_of_n(k: int, *policies: Policy | str | Mapping[str, Any]) -> KOfN:
    """A policy that allows when at least *k* of *policies* allow (``1 <= k <= n``).

    >>> k_of_n(2, "a > 0", "b > 0", "c > 0")
    k_of_n(2, rule('a > 0'), rule('b > 0'), rule('c > 0'))
    """
    parts = _policies(policies, "k_of_n")
    if type(k) is not int or not 1 <= k <= len(parts):
        raise InvalidPolicy(f"k_of_n k={k!r} must be a whole number from 1 to {len(parts)} "
                            f"(the number of policies)")
    return KOfN(parts, k=k)


# -- qualification frameworks --------------------------------------------------------------------


@attrs.frozen
class Framework:
    """A qualification framework: its criteria (in order), the money criterion, and its origin."""

    name: str
    title: str
    criteria: tuple[str, ...]
    money: str | None
    source: str


FRAMEWORKS: Final[Mapping[str, Framework]] = {
    f.name: f for f in (
        Framework("bant", "BANT", ("budget", "authority", "need", "timeline"), "budget",
                  "IBM's sales guidance, 1950s-1960s: qualify on Budget, Authority, Need, "
                  "Timeline."),
        Framework("champ", "CHAMP", ("challenges", "authority", "money", "prioritization"), "money",
                  "InsightSquared (2013), reordering BANT to lead with the buyer's Challenges."),
        Framework("anum", "ANUM", ("authority", "need", "urgency", "money"), "money",
                  "Ken Krogue, InsideSales.com (2012): Authority, Need, Urgency, Money."),
        Framework("meddic", "MEDDIC", ("metrics", "economic_buyer", "decision_criteria",
                                       "decision_process", "identify_pain", "champion"), None,
                  "Jack Napoli and Dick Dunkel at PTC (Parametric Technology), 1996."),
        Framework("meddpicc", "MEDDPICC", ("metrics", "economic_buyer", "decision_criteria",
                                           "decision_process", "paper_process", "identify_pain",
                                           "champion", "competition"), None,
                  "MEDDIC extended with Paper process and Competition (enterprise sales practice, "
                  "2010s)."),
        Framework("gpctba", "GPCTBA/C&I", ("goals", "plans", "challenges", "timeline", "budget",
                                           "authority", "negative_consequences",
                                           "positive_implications"), "budget",
                  "HubSpot (2014), for inbound selling: Goals, Plans, Challenges, Timeline, "
                  "Budget, Authority, Negative Consequences and Positive Implications."),
    )
}

_YES = frozenset({"yes", "y", "true", "met", "confirmed", "identified", "done", "ok", "agreed",
                  "approved", "known"})
_PARTIAL = frozenset({"partial", "partly", "partially", "in progress", "in_progress", "some",
                      "maybe", "soft", "tentative"})
_NO = frozenset({"no", "n", "false", "none", "failed", "not met", "rejected", "missing", "0"})
_UNSURE = frozenset({"unknown", "?", "n/a", "na", "tbd", "unsure"})


def judge(value: Any) -> str:  # noqa: PLR0911 - one return per kind of value
    """How a framework reads one attribute value: ``met``, ``partial``, ``failed`` or ``unknown``.

    ``None`` and empty strings are unknown; booleans are met or failed; numbers are met above
    zero; strings are read as yes / partial / no / unknown words, and any other text (a name, a
    description) is met.

    >>> [judge(v) for v in (True, 0, "in progress", "Jane Doe (CFO)", "tbd", None)]
    ['met', 'failed', 'partial', 'met', 'unknown', 'unknown']
    """
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "met" if value else "failed"
    if isinstance(value, int | float):
        if isinstance(value, float) and math.isnan(value):
            return "unknown"
        return "met" if value > 0 else "failed"
    if isinstance(value, str):
        word = value.strip().lower()
        if not word or word in _UNSURE:
            return "unknown"
        if word in _YES:
            return "met"
        if word in _PARTIAL:
            return "partial"
        if word in _NO:
            return "failed"
        return "met"
    try:
        return "met" if value else "failed"
    except Exception:  # noqa: BLE001 - a host value with a broken __bool__ is simply unknown
        return "unknown"


def _check_attribute(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidPolicy(f"{what}={value!r} must be the name of a lead attribute (a non-empty "
                            f"string)")
    return value


@attrs.frozen(repr=False)
class Checklist:
    """A criteria checklist (BANT, MEDDIC, ... or your own); build it with a framework factory.

    Each criterion reads one lead attribute (see :func:`judge`); the pass rule is: every
    criterion in ``required`` met, and at least ``min_met`` criteria met (all of them when
    neither is set).  ``partial`` counts as not met; the decision's ``score`` is the share met,
    partial criteria counting half.
    """

    framework: str
    criteria: tuple[tuple[str, str], ...]
    min_met: int | None = None
    required: tuple[str, ...] = ()
    min_budget: float | None = None
    money: str | None = None
    version: int = 1
    label: str = attrs.field(init=False, eq=False)

    def __attrs_post_init__(self) -> None:
        # The factories check and convert their arguments; this checks what a direct call gives.
        if not isinstance(_obj(self.framework), str) or not self.framework:
            raise InvalidPolicy(f"checklist name={_short(self.framework)} must be a non-empty "
                                f"string")
        pairs = items_of(self.criteria, "criteria", InvalidPolicy)
        if not pairs or not all(isinstance(p, tuple) and len(p) == 2 for p in pairs):
            raise InvalidPolicy(f"criteria={_short(self.criteria)} must be a non-empty tuple of "
                                f"(criterion, attribute) pairs; build it with checklist()")
        for c, a in pairs:
            _check_attribute(c, "criterion")
            _check_attribute(a, f"criteria[{c!r}]")
        names = [c for c, _ in pairs]
        if len(set(names)) != len(names):
            raise InvalidPolicy(f"criteria {names} repeat a name; name each criterion once")
        _pass_rule(names, self.min_met, self.required)
        _min_budget(self.min_budget)
        if self.money is not None and self.money not in names:
            raise InvalidPolicy(f"money={_short(self.money)} must be one of the criteria or None")
        if type(self.version) is not int or self.version < 1:
            raise InvalidPolicy(f"version={_short(self.version)} must be a whole number >= 1")
        object.__setattr__(self, "label", f"{self.framework}@{self.version}")

    def __call__(self, lead: Lead, context: Context, /) -> Decision:  # noqa: ARG002 - the protocol
        """Judge every criterion from the lead's attributes and apply the pass rule."""
        attributes = lead.attributes
        verdicts: list[Verdict] = []
        reasons: list[str] = []
        met = 0
        partial = 0
        statuses: dict[str, str] = {}
        for criterion, attribute in self.criteria:
            value = attributes.get(attribute)
            status = judge(value)
            if (
                criterion == self.money and self.min_budget is not None and status == "met"
                and isinstance(value, int | float) and value < self.min_budget
            ):
                status = "failed"
            statuses[criterion] = status
            verdicts.append(make_verdict((criterion, status, value)))
            if status == "met":
                met += 1
            elif status == "partial":
                partial += 1
                reasons.append(f"{criterion}: only partly met ({attribute}={value!r})")
            elif status == "unknown":
                shown = "is missing" if attribute not in attributes else f"is {value!r}"
                reasons.append(f"{criterion}: unknown, attribute {attribute!r} {shown}")
            else:
                why = (f"under the minimum budget {self.min_budget:g}"
                       if criterion == self.money and self.min_budget is not None
                       and isinstance(value, int | float) and not isinstance(value, bool)
                       and value > 0 else "not met")
                reasons.append(f"{criterion}: {why} ({attribute}={value!r})")
        total = len(self.criteria)
        need = total if self.min_met is None and not self.required else (self.min_met or 0)
        missing_required = [c for c in self.required if statuses[c] != "met"]
        allowed = met >= need and not missing_required
        if met < need:
            reasons.append(f"{met} of {total} criteria met; {need} needed")
        if missing_required:
            reasons.append(f"required criteria not met: {', '.join(missing_required)}")
        score = (met + 0.5 * partial) / total if total else None
        return make_decision((allowed, tuple(verdicts), tuple(reasons), score, self.label))

    def _params(self) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if self.framework in FRAMEWORKS:
            params.update({c: a for c, a in self.criteria if c != a})
        else:
            params["name"] = self.framework
            params["criteria"] = dict(self.criteria)
        if self.min_budget is not None:
            params["min_budget"] = self.min_budget
        if self.min_met is not None:
            params["min_met"] = self.min_met
        if self.required:
            params["required"] = list(self.required)
        return params

    def to_data(self) -> dict[str, Any]:
        """``{"use": <framework>, "params": {...}}`` with only the non-default parameters."""
        if self.framework in FRAMEWORKS:
            return {"use": self.framework, "params": self._params()}
        return {"use": "checklist", "params": self._params()}

    def __repr__(self) -> str:
        params = self._params()
        if self.framework in FRAMEWORKS:
            return f"{self.framework}({', '.join(f'{k}={v!r}' for k, v in params.items())})"
        criteria = params.pop("criteria")
        name = params.pop("name")
        rest = "".join(f", {k}={v!r}" for k, v in params.items())
        return f"checklist({name!r}, {criteria!r}{rest})"


def _pass_rule(
    criteria: Sequence[str], min_met: object, required: object
) -> tuple[int | None, tuple[str, ...]]:
    if min_met is not None and (type(min_met) is not int or not 1 <= min_met <= len(criteria)):
        raise InvalidPolicy(f"min_met={min_met!r} must be None (all criteria) or a whole number "
                            f"from 1 to {len(criteria)}")
    if isinstance(required, str | bytes | Mapping) or not isinstance(required, Iterable):
        raise InvalidPolicy(f"required={_short(required)} must be a list of criterion names")
    names = tuple(required)
    for name in names:
        if name not in criteria:
            raise InvalidPolicy(f"required names {name!r}, which is not a criterion; criteria are "
                                f"{', '.join(criteria)}")
    return min_met, names


def checklist(
    name: str,
    criteria: Mapping[str, str] | Iterable[str],
    *,
    min_met: int | None = None,
    required: Iterable[str] = (),
    version: int = 1,
) -> Checklist:
    """Your own qualification checklist: criterion names mapped to the attributes they read.

    >>> policy = checklist("fit", {"icp_match": "icp", "budget": "budget_usd"}, min_met=1)
    >>> policy
    checklist('fit', {'icp_match': 'icp', 'budget': 'budget_usd'}, min_met=1)
    """
    if not isinstance(_obj(name), str) or not name:
        raise InvalidPolicy(f"checklist name={name!r} must be a non-empty string")
    if isinstance(criteria, str) or not isinstance(criteria, Mapping | Iterable):
        raise InvalidPolicy(f"criteria={criteria!r} must map criterion names to attribute names")
    pairs = tuple(criteria.items()) if isinstance(criteria, Mapping) else tuple(
        (c, c) for c in criteria)
    if not pairs:
        raise InvalidPolicy("a checklist needs at least one criterion")
    for c, a in pairs:
        _check_attribute(c, "criterion")
        _check_attribute(a, f"criteria[{c!r}]")
    names = [c for c, _ in pairs]
    if len(set(names)) != len(names):
        raise InvalidPolicy(f"criteria {names} repeat a name; name each criterion once")
    if type(version) is not int or version < 1:
        raise InvalidPolicy(f"version={version!r} must be a whole number >= 1")
    low, req = _pass_rule(names, min_met, required)
    return Checklist(name, pairs, low, req, version=version)


def _framework(
    name: str, attributes: Mapping[str, object], min_met: object, required: object,
    min_budget: object = None,
) -> Checklist:
    fw = FRAMEWORKS[name]
    pairs = tuple((c, _check_attribute(attributes[c], c)) for c in fw.criteria)
    low, req = _pass_rule(fw.criteria, min_met, required)
    return Checklist(name, pairs, low, req, _min_budget(min_budget), fw.money)


def _min_budget(value: object) -> float | None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int | float)
        or not math.isfinite(value) or value < 0
    ):
        raise InvalidPolicy(f"min_budget={_short(value)} must be a finite number >= 0 or None")
    return value


def bant(
    *,
    budget: str = "budget",
    authority: str = "authority",
    need: str = "need",
    timeline: str = "timeline",
    min_budget: float | None = None,
    min_met: int | None = None,
    required: Iterable[str] = (),
) -> Checklist:
    """BANT: Budget, Authority, Need, Timeline (IBM, 1950s-60s).

    Each keyword names the attribute a criterion reads.  ``min_budget`` makes a numeric budget
    below it ``failed``.  Pass rule: all criteria, or ``min_met`` of them, and every ``required``.

    >>> bant(budget="budget_usd", min_met=3, required=["authority"])
    bant(budget='budget_usd', min_met=3, required=['authority'])
    """
    return _framework("bant", locals(), min_met, required, min_budget)


def champ(
    *,
    challenges: str = "challenges",
    authority: str = "authority",
    money: str = "money",
    prioritization: str = "prioritization",
    min_budget: float | None = None,
    min_met: int | None = None,
    required: Iterable[str] = (),
) -> Checklist:
    """CHAMP: Challenges, Authority, Money, Prioritization (InsightSquared, 2013).

    >>> champ(money="budget").label
    'champ@1'
    """
    return _framework("champ", locals(), min_met, required, min_budget)


def anum(
    *,
    authority: str = "authority",
    need: str = "need",
    urgency: str = "urgency",
    money: str = "money",
    min_budget: float | None = None,
    min_met: int | None = None,
    required: Iterable[str] = (),
) -> Checklist:
    """ANUM: Authority, Need, Urgency, Money (Ken Krogue, InsideSales.com, 2012).

    >>> anum(min_met=3)
    anum(min_met=3)
    """
    return _framework("anum", locals(), min_met, required, min_budget)


def meddic(
    *,
    metrics: str = "metrics",
    economic_buyer: str = "economic_buyer",
    decision_criteria: str = "decision_criteria",
    decision_process: str = "decision_process",
    identify_pain: str = "identify_pain",
    champion: str = "champion",
    min_met: int | None = None,
    required: Iterable[str] = (),
) -> Checklist:
    """MEDDIC: Metrics, Economic buyer, Decision criteria and process, Identify pain, Champion.

    Created by Jack Napoli and Dick Dunkel at PTC in 1996 for complex enterprise deals.

    >>> meddic(min_met=4, required=["economic_buyer", "champion"])
    meddic(min_met=4, required=['economic_buyer', 'champion'])
    """
    return _framework("meddic", locals(), min_met, required)


def meddpicc(
    *,
    metrics: str = "metrics",
    economic_buyer: str = "economic_buyer",
    decision_criteria: str = "decision_criteria",
    decision_process: str = "decision_process",
    paper_process: str = "paper_process",
    identify_pain: str = "identify_pain",
    champion: str = "champion",
    competition: str = "competition",
    min_met: int | None = None,
    required: Iterable[str] = (),
) -> Checklist:
    """MEDDPICC: MEDDIC plus Paper process and Competition.

    >>> len(meddpicc().criteria)
    8
    """
    return _framework("meddpicc", locals(), min_met, required)


def gpctba(
    *,
    goals: str = "goals",
    plans: str = "plans",
    challenges: str = "challenges",
    timeline: str = "timeline",
    budget: str = "budget",
    authority: str = "authority",
    negative_consequences: str = "negative_consequences",
    positive_implications: str = "positive_implications",
    min_budget: float | None = None,
    min_met: int | None = None,
    required: Iterable[str] = (),
) -> Checklist:
    """GPCTBA/C&I: Goals, Plans, Challenges, Timeline, Budget, Authority, C&I.

    HubSpot's inbound qualification framework (2014); the C&I are negative consequences and
    positive implications.

    >>> gpctba(min_met=6).label
    'gpctba@1'
    """
    return _framework("gpctba", locals(), min_met, required, min_budget)


# -- score policies ------------------------------------------------------------------------------

ScorePart = Literal["total", "fit", "engagement"]
_PARTS = ("total", "fit", "engagement")


def _context_score(model: ScoringModel | None, lead: Lead, context: Context) -> Score | None:
    score: object = context.score
    if score is None and model is not None:
        score = model.score(lead, context.touchpoints, at=context.at, context=context)
    if isinstance(score, int | float) and not isinstance(score, bool) and math.isfinite(score):
        # A host scorer that returns a bare number: it is the total, with no fit or engagement.
        return make_score((math.nan, math.nan, float(score), ()))
    return score if isinstance(score, Score) else None


_NO_SCORE = ("no Score in the context; pass one (Context(score=...)) or build the policy with "
             "model=")


@attrs.frozen(repr=False)
class ScoreAtLeast:
    """Allows when a part of the lead's score reaches a threshold; see :func:`score_at_least`."""

    threshold: float
    part: str = "total"
    model: ScoringModel | None = None
    label: str = attrs.field(init=False, eq=False)

    def __attrs_post_init__(self) -> None:
        _threshold(self.threshold, "threshold")
        if not isinstance(_obj(self.part), str) or self.part not in _PARTS:
            raise InvalidPolicy(f"score={_short(self.part)} must be one of {', '.join(_PARTS)}")
        _built_model(self.model)
        object.__setattr__(self, "label", "score_at_least")

    def __call__(self, lead: Lead, context: Context, /) -> Decision:
        """Compare the score's part with the threshold."""
        score = _context_score(self.model, lead, context)
        name = f"{self.part} score >= {self.threshold:g}"
        if score is None:
            return make_decision((
                False, (make_verdict((name, "unknown", None)),), (f"{name}: {_NO_SCORE}",), None,
                self.label
            ))
        value = getattr(score, self.part)
        if math.isnan(value):
            reason = f"{name}: the score has no {self.part} part (the scorer gave a bare number)"
            return make_decision((
                False, (make_verdict((name, "unknown", None)),), (reason,), None, self.label
            ))
        if value >= self.threshold:
            return make_decision((
                True, (make_verdict((name, "met", value)),), _NO_REASONS, value, self.label
            ))
        return make_decision((
            False, (make_verdict((name, "failed", value)),),
            (f"{name}: the {self.part} score is {value:g}",), value, self.label
        ))

    def to_data(self) -> dict[str, Any]:
        """``{"use": "score_at_least", "params": {...}}``."""
        params: dict[str, Any] = {"threshold": self.threshold}
        if self.part != "total":
            params["score"] = self.part
        if self.model is not None:
            params["model"] = self.model.to_dict()
        return {"use": "score_at_least", "params": params}

    def __repr__(self) -> str:
        extra = "" if self.part == "total" else f", score={self.part!r}"
        extra += "" if self.model is None else ", model=..."
        return f"score_at_least({self.threshold:g}{extra})"


def _threshold(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidPolicy(f"{what}={value!r} must be a finite number (not NaN or infinity)")
    return float(value)


def score_at_least(
    threshold: float,
    *,
    score: ScorePart = "total",
    model: ScoringModel | Mapping[str, Any] | None = None,
) -> ScoreAtLeast:
    """Allows when the lead's ``score`` part (``total``, ``fit`` or ``engagement``) >= *threshold*.

    The score comes from the context (``Context(score=...)``); with *model*, a context without
    one is scored on the spot from its touchpoints.

    >>> score_at_least(50, score="fit")
    score_at_least(50, score='fit')
    """
    if score not in _PARTS:
        raise InvalidPolicy(f"score={score!r} must be one of {', '.join(_PARTS)}")
    return ScoreAtLeast(_threshold(threshold, "threshold"), score, _model(model))


def _grid_axis(value: object, what: str) -> tuple[float, float, float]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or len(value) != 3:
        raise InvalidPolicy(f"{what}={_short(value)} must be three descending thresholds, "
                            f"for example (75, 50, 25)")
    a, b, c = (_threshold(v, f"{what}[{i}]") for i, v in enumerate(value))
    if not a >= b >= c:
        raise InvalidPolicy(f"{what}={value!r} must be in descending order (best first)")
    return (a, b, c)


_CELLS = frozenset(f"{f}{e}" for f in "ABCD" for e in "1234")


@attrs.frozen(repr=False)
class FitEngagementGrid:
    """The fit (A-D) x engagement (1-4) grid; built by :func:`fit_engagement_grid`."""

    fit: tuple[float, float, float]
    engagement: tuple[float, float, float]
    qualifying: frozenset[str]
    model: ScoringModel | None = None
    label: str = attrs.field(init=False, eq=False)

    def __attrs_post_init__(self) -> None:
        _grid_axis(self.fit, "fit")
        _grid_axis(self.engagement, "engagement")
        cells: object = self.qualifying
        if not isinstance(cells, frozenset) or not cells or not cells <= _CELLS:
            raise InvalidPolicy(f"qualifying={_short(cells)} must be a non-empty frozenset of "
                                f"cells such as 'A1'; build it with fit_engagement_grid()")
        _built_model(self.model)
        object.__setattr__(self, "label", "fit_engagement_grid")

    def cell(self, score: Score) -> str:
        """The grid cell of *score*, from ``"A1"`` (best fit, most engaged) to ``"D4"``."""
        letter = next((x for x, t in zip("ABC", self.fit, strict=True) if score.fit >= t), "D")
        number = next((x for x, t in zip("123", self.engagement, strict=True)
                       if score.engagement >= t), "4")
        return letter + number

    def __call__(self, lead: Lead, context: Context, /) -> Decision:
        """Place the lead's score on the grid; allow when its cell qualifies."""
        score = _context_score(self.model, lead, context)
        name = "fit x engagement"
        if score is None:
            return make_decision((
                False, (make_verdict((name, "unknown", None)),), (f"{name}: {_NO_SCORE}",), None,
                self.label
            ))
        if math.isnan(score.fit):
            reason = f"{name}: the score has no fit and engagement parts (a bare number)"
            return make_decision((
                False, (make_verdict((name, "unknown", None)),), (reason,), None, self.label
            ))
        cell = self.cell(score)
        if cell in self.qualifying:
            return make_decision((
                True, (make_verdict((name, "met", cell)),), _NO_REASONS, score.total, self.label
            ))
        reason = (f"{name}: cell {cell} (fit {score.fit:g}, engagement {score.engagement:g}) is "
                  f"not one of {', '.join(sorted(self.qualifying))}")
        return make_decision((
            False, (make_verdict((name, "failed", cell)),), (reason,), score.total, self.label
        ))

    def _params(self) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if self.fit != _DEFAULT_AXIS:
            params["fit"] = list(self.fit)
        if self.engagement != _DEFAULT_AXIS:
            params["engagement"] = list(self.engagement)
        if self.qualifying != frozenset(_DEFAULT_CELLS):
            params["qualifying"] = sorted(self.qualifying)
        return params

    def to_data(self) -> dict[str, Any]:
        """``{"use": "fit_engagement_grid", "params": {...}}``."""
        params = self._params()
        if self.model is not None:
            params["model"] = self.model.to_dict()
        return {"use": "fit_engagement_grid", "params": params}

    def __repr__(self) -> str:
        parts = [f"{k}={v!r}" for k, v in self._params().items()]
        if self.model is not None:
            parts.append("model=...")
        return f"fit_engagement_grid({', '.join(parts)})"


_DEFAULT_AXIS = (75.0, 50.0, 25.0)
_DEFAULT_CELLS = ("A1", "A2", "B1")


def fit_engagement_grid(
    *,
    fit: Sequence[float] = _DEFAULT_AXIS,
    engagement: Sequence[float] = _DEFAULT_AXIS,
    qualifying: Iterable[str] = _DEFAULT_CELLS,
    model: ScoringModel | Mapping[str, Any] | None = None,
) -> FitEngagementGrid:
    """Fit letter A-D x engagement number 1-4; allows the *qualifying* cells.

    ``fit`` gives the fit scores for A, B and C (below the last is D); ``engagement`` the
    engagement scores for 1, 2 and 3 (below the last is 4).

    >>> grid = fit_engagement_grid(qualifying=["A1", "A2", "B1", "B2"])
    >>> from funnelkit.scoring import Score, LedgerEntry
    >>> ledger = (LedgerEntry("x", "fit", 60, 60), LedgerEntry("y", "engagement", 80, 80))
    >>> grid.cell(Score(60.0, 80.0, 140.0, ledger))
    'B1'
    """
    if isinstance(qualifying, str):
        qualifying = (qualifying,)
    if isinstance(qualifying, bytes | Mapping) or not isinstance(qualifying, Iterable):
        raise InvalidPolicy(f"qualifying={_short(qualifying)} must list grid cells such as "
                            f"['A1', 'A2', 'B1']")
    given = tuple(qualifying)
    if not all(isinstance(c, str) for c in given):
        raise InvalidPolicy(f"qualifying={_short(given)}: cells are strings such as 'A1'")
    cells = frozenset(given)
    bad = sorted(str(c) for c in cells if c not in _CELLS)
    if bad or not cells:
        raise InvalidPolicy(f"qualifying={sorted(map(str, cells))!r}: cells are a fit letter A-D "
                            f"and an engagement number 1-4, such as 'A1'; give at least one")
    return FitEngagementGrid(_grid_axis(fit, "fit"), _grid_axis(engagement, "engagement"), cells,
                             _model(model))


# -- discovery -----------------------------------------------------------------------------------


def _all_of_data(policies: Sequence[Any]) -> Policy:
    return all_of(*_policies(policies, "all_of"))


def _any_of_data(policies: Sequence[Any]) -> Policy:
    return any_of(*_policies(policies, "any_of"))


def _k_of_n_data(k: int, policies: Sequence[Any]) -> Policy:
    return k_of_n(k, *_policies(policies, "k_of_n"))


def _not_data(policy: Any) -> Policy:
    return not_(policy)


_BUILTINS: Final[Mapping[str, Callable[..., Any]]] = {
    "all_of": _all_of_data,
    "any_of": _any_of_data,
    "anum": anum,
    "bant": bant,
    "champ": champ,
    "checklist": checklist,
    "fit_engagement_grid": fit_engagement_grid,
    "gpctba": gpctba,
    "k_of_n": _k_of_n_data,
    "meddic": meddic,
    "meddpicc": meddpicc,
    "not": _not_data,
    "rule": rule,
    "score_at_least": score_at_least,
}


#: Names from_name() still takes for one release, with the name that replaces each.  A data name is
#: its factory's name, less the trailing underscore a Python keyword needs (``not_`` -> ``not``).
_DEPRECATED_NAMES: Final[Mapping[str, str]] = {"not_": "not"}


def _entry_points() -> dict[str, metadata.EntryPoint]:
    from importlib import metadata  # noqa: PLC0415 - slow to import; only discovery needs it

    found: dict[str, metadata.EntryPoint] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep)
    return found


def available() -> tuple[str, ...]:
    """Every policy name :func:`from_name` knows: the built-ins and registered third-party ones.

    Deprecated names (``not_``, now ``not``) are still taken for one release but not listed.

    >>> "bant" in available() and "rule" in available()
    True
    """
    return tuple(sorted(set(_BUILTINS) | set(_entry_points())))


@attrs.frozen(repr=False)
class _Loaded:
    """A third-party policy loaded by name, remembering how so ``to_data`` can round-trip."""

    name: str
    params: Mapping[str, Any]
    policy: Policy = attrs.field(eq=False)  # same name and parameters: the same policy

    @property
    def label(self) -> str:
        return _label(self.policy)

    def __call__(self, lead: Lead, context: Context, /) -> Decision:
        return self.policy(lead, context)

    def to_data(self) -> dict[str, Any]:
        return {"use": self.name, "params": dict(self.params)}

    def __repr__(self) -> str:
        return repr(self.policy)


def from_name(name: str, /, **params: Any) -> Policy:
    """The policy called *name*, built with *params*: a built-in or a third-party one.

    Third-party packages register a factory under the entry-point group
    ``funnelkit.policies`` (``name = "package.module:factory"``); built-ins win on a clash.
    An unknown name, or parameters the factory does not take, raise
    :class:`funnelkit.InvalidPolicy` listing what is available.

    >>> from_name("bant", min_met=3)
    bant(min_met=3)
    >>> from_name("rule", text="budget > 0")
    rule('budget > 0')
    """
    if not isinstance(name, str):
        raise InvalidPolicy(f"policy name {_short(name)} must be a string")
    if name in _DEPRECATED_NAMES:
        warn_renamed(f"the policy name {name!r}", repr(_DEPRECATED_NAMES[name]))
        name = _DEPRECATED_NAMES[name]
    factory = _BUILTINS.get(name)
    third_party = False
    if factory is None:
        ep = _entry_points().get(name)
        if ep is None:
            raise InvalidPolicy(f"no policy called {name!r}; available: {', '.join(available())} "
                                f"(third-party policies register under the entry-point group "
                                f"{ENTRY_POINT_GROUP!r})")
        try:
            factory = ep.load()
        except Exception as exc:
            raise InvalidPolicy(f"policy {name!r} is registered as {ep.value!r} but cannot be "
                                f"loaded: {exc!r}") from exc
        third_party = True
        if not callable(factory):
            raise InvalidPolicy(f"policy {name!r} ({ep.value}) is not a callable factory")
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # pragma: no cover - builtins without signatures
        signature = None
    if signature is not None:
        try:
            signature.bind(**params)
        except TypeError as exc:
            accepted = ", ".join(p for p in signature.parameters if not p.startswith("_")) or "none"
            raise InvalidPolicy(f"policy {name!r}: {exc}; its parameters are {accepted}") from None
    try:
        policy = factory(**params)
    except RuleSyntaxError:
        raise
    except InvalidPolicy as exc:
        raise InvalidPolicy(f"policy {name!r}: {exc}") from None
    except (TypeError, ValueError, LookupError, AttributeError) as exc:
        # A factory that did not check a parameter's type: still the caller's bad parameter.
        raise InvalidPolicy(f"policy {name!r} cannot be built from these parameters: "
                            f"{type(exc).__name__}: {exc}") from exc
    if not callable(policy):
        raise InvalidPolicy(f"policy {name!r}: its factory returned {policy!r}, which is not "
                            f"callable; a factory must return policy(lead, context) -> Decision")
    if third_party and not callable(getattr(policy, "to_data", None)):
        return _Loaded(name, dict(params), policy)
    return policy  # type: ignore[no-any-return]


def load(name: str, /, **params: Any) -> Policy:
    """Deprecated: the old name of :func:`from_name`, removed in the next release.

    ``load`` is kept for reading a stored thing by its key (``store.load(lead_id)``); building
    a value from an outside form, here a name, is ``from_*``.  Warns, then calls :func:`from_name`.
    """
    warn_renamed("funnelkit.policies.load", "funnelkit.policies.from_name")
    return from_name(name, **params)


# -- the data form: rule strings and {'use': name, 'params': {...}} --------------------


def policy_from_data(spec: str | Mapping[str, Any], *, path: str) -> Policy:
    """Build the policy *spec* describes; raise :class:`InvalidPolicy` naming *path* if it cannot.

    A string is a rule (:func:`funnelkit.policies.rule`); a mapping is ``{"use": name}`` with an
    optional ``"params"`` mapping, passed to :func:`funnelkit.policies.from_name`.  Parameters named
    ``policies`` / ``policy`` of the combinators may hold data forms themselves.

    >>> policy_from_data({"use": "bant", "params": {"min_met": 3}}, path="moves[0].policy")
    bant(min_met=3)
    >>> try:
    ...     policy_from_data("budget >>", path="moves[1].policy")
    ... except RuleSyntaxError as e:
    ...     print(e.msg, "| column", e.offset)
    moves[1].policy: unexpected '>'; expected a value, a name or '(' | column 9
    """
    if isinstance(spec, str):
        try:
            return rule(spec)
        except RuleSyntaxError as exc:
            raise _at(path, exc) from None
    if not isinstance(spec, Mapping):
        raise InvalidPolicy(f"{path}: {_short(spec)} is not a policy; write a rule string or "
                            f"{{'use': name, 'params': {{...}}}}")
    check_depth(spec, path)
    extra = sorted(str(k) for k in spec if k not in {"use", "params"})
    if extra:
        raise InvalidPolicy(f"{path}: unknown key(s) {', '.join(extra)}; a policy table has "
                            f"'use' and optional 'params'")
    name = spec.get("use")
    if not isinstance(name, str) or not name:
        raise InvalidPolicy(f"{path}.use: {_short(name)} must name a policy; available: "
                            f"{', '.join(available())}")
    params = spec.get("params", {})
    if not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params):
        raise InvalidPolicy(f"{path}.params: {_short(params)} must be a table of parameter names "
                            f"to values")
    params = dict(params)
    if "policies" in params and isinstance(params["policies"], list | tuple):
        params["policies"] = [
            _nested(p, f"{path}.params.policies[{i}]") for i, p in enumerate(params["policies"])
        ]
    if "policy" in params:
        params["policy"] = _nested(params["policy"], f"{path}.params.policy")
    try:
        return from_name(name, **params)
    except RuleSyntaxError as exc:
        raise _at(path, exc) from None
    except InvalidPolicy as exc:
        raise InvalidPolicy(f"{path}: {exc}") from None


def _at(path: str, exc: RuleSyntaxError) -> RuleSyntaxError:
    return RuleSyntaxError(f"{path}: {exc.msg}", text=str(exc.text), offset=exc.offset or 1)


def _nested(value: Any, path: str) -> Any:
    if isinstance(value, str | Mapping):
        return policy_from_data(value, path=path)
    return value
