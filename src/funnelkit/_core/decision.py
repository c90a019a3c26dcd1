"""What a policy returns and what it is given: ``Decision``, ``Verdict``, ``Context``, ``Policy``.

All four are built per move, so the values are the tuple records of :mod:`funnelkit._core.record`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, Protocol, Self, get_args

from funnelkit._core.errors import InvalidInput
from funnelkit._core.limits import MAX_TIME, MIN_TIME, _short, items_of
from funnelkit._core.record import Field, Record, field, maker
from funnelkit._core.time import require_aware
from funnelkit._core.touchpoint import Touchpoint

if TYPE_CHECKING:
    from funnelkit._core.lead import Lead
    from funnelkit._definition.funnel import Funnel
    from funnelkit._policy.scoring import Score

__all__ = ["Context", "Decision", "Policy", "Status", "Verdict"]

Status = Literal["met", "partial", "unknown", "failed"]
STATUSES: tuple[str, ...] = get_args(Status)
_MIN_TIME, _MAX_TIME = MIN_TIME, MAX_TIME



def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _is_number(value: object) -> bool:
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    )


class Verdict(Record):
    """One criterion's result inside a :class:`Decision`.

    ``status`` is ``"met"``, ``"partial"``, ``"unknown"`` (the data to judge it is missing) or
    ``"failed"``; ``evidence`` is what the criterion looked at.

    >>> Verdict("budget", "met", 25_000)
    Verdict(name='budget', status='met', evidence=25000)
    """

    __slots__ = ()
    _fields = ("name", "status", "evidence")
    name: Field[str] = field(0, "The criterion's name (for example 'budget').")
    status: Field[Status] = field(1, "'met', 'partial', 'unknown' or 'failed'.")
    evidence: Field[Any] = field(2, "What the criterion looked at, or None.")

    def __new__(cls, name: str, status: Status, evidence: Any = None) -> Self:
        """Build a verdict, checking the status."""
        if not _is_text(name):
            raise InvalidInput(f"Verdict name={name!r} must be a non-empty string")
        if status not in STATUSES:
            raise InvalidInput(f"Verdict status={status!r} must be one of {', '.join(STATUSES)}")
        return super().__new__(cls, (name, status, evidence))

    def __hash__(self) -> int:
        return hash(("Verdict", self.name, self.status))


class Decision(Record):
    """A policy's answer: allowed or not, with per-criterion verdicts and human-readable reasons.

    >>> Decision.allow(policy="always")
    Decision(allowed=True, criteria=(), reasons=(), score=None, policy='always')
    >>> d = Decision.deny("budget unknown", policy="bant@1")
    >>> d.allowed, d.reasons
    (False, ('budget unknown',))
    """

    __slots__ = ()
    _fields = ("allowed", "criteria", "reasons", "score", "policy")
    allowed: Field[bool] = field(0, "Whether the move may happen.")
    criteria: Field[tuple[Verdict, ...]] = field(1, "Each criterion's verdict.")
    reasons: Field[tuple[str, ...]] = field(2, "One line per failed or unknown criterion.")
    score: Field[float | None] = field(3, "A score the policy computed, or None.")
    policy: Field[str | None] = field(4, "The name (and version) of the policy that decided.")

    def __new__(
        cls,
        allowed: bool,
        *,
        criteria: Iterable[Verdict] = (),
        reasons: Iterable[str] = (),
        score: float | None = None,
        policy: str | None = None,
    ) -> Self:
        """Build a decision, checking every field."""
        if type(allowed) is not bool:
            raise InvalidInput(f"Decision allowed={_short(allowed)} must be True or False")
        criteria = items_of(criteria, "Decision criteria")
        for verdict in criteria:
            if type(verdict) is not Verdict:
                raise InvalidInput(f"Decision criteria must be Verdicts, got {_short(verdict)}")
        reasons = items_of(reasons, "Decision reasons")
        for reason in reasons:
            if not isinstance(reason, str):
                raise InvalidInput(f"Decision reasons must be strings, got {_short(reason)}")
        if score is not None:
            if not _is_number(score):
                raise InvalidInput(f"Decision score={score!r} must be a finite number or None")
            score = float(score)
        if policy is not None and not isinstance(policy, str):
            raise InvalidInput(f"Decision policy={policy!r} must be a string or None")
        return super().__new__(cls, (allowed, criteria, reasons, score, policy))

    @classmethod
    def allow(
        cls,
        *,
        criteria: Iterable[Verdict] = (),
        score: float | None = None,
        policy: str | None = None,
    ) -> Self:
        """An allowing decision.

        >>> Decision.allow(score=72, policy="score>=60").score
        72.0
        """
        return cls(True, criteria=criteria, score=score, policy=policy)  # noqa: FBT003

    @classmethod
    def deny(
        cls,
        *reasons: str,
        criteria: Iterable[Verdict] = (),
        score: float | None = None,
        policy: str | None = None,
    ) -> Self:
        """A refusing decision with the given reasons.

        >>> Decision.deny("no budget", "no authority").reasons
        ('no budget', 'no authority')
        """
        return cls(
            False,  # noqa: FBT003 - the field is a bool
            criteria=criteria, reasons=reasons, score=score, policy=policy,
        )

    def __hash__(self) -> int:
        return hash(("Decision", self.allowed, self.reasons, self.policy))


_NO_DATA: Mapping[str, Any] = MappingProxyType({})


class Context(Record):
    """What a policy is given beside the lead: the time, the touchpoints, the funnel, host data.

    ``fire`` builds one when a guarded move has no context of its own; the pipeline passes the
    lead's touchpoints and current score.

    >>> from datetime import datetime, timezone
    >>> ctx = Context(datetime(2026, 3, 2, tzinfo=timezone.utc), data={"region": "emea"})
    >>> ctx.data["region"], ctx.touchpoints
    ('emea', ())
    """

    __slots__ = ()
    _fields = ("at", "touchpoints", "funnel", "data", "score")
    at: Field[datetime] = field(0, "When the policy runs (timezone-aware).")
    touchpoints: Field[tuple[Touchpoint, ...]] = field(1, "The lead's touchpoints, oldest first.")
    funnel: Field[Funnel | None] = field(2, "The funnel the move belongs to, or None.")
    data: Field[Mapping[str, Any]] = field(3, "Free host data (read-only).")
    score: Field[Score | None] = field(4, "The lead's current Score from a scoring model, or None.")

    def __new__(
        cls,
        at: datetime,
        *,
        touchpoints: Sequence[Touchpoint] = (),
        funnel: Funnel | None = None,
        data: Mapping[str, Any] | None = None,
        score: Score | None = None,
    ) -> Self:
        """Build a context, checking ``at`` and the types of the others."""
        # The common case costs two type tests: a plain datetime whose tzinfo is a fixed-offset
        # ``timezone`` (which cannot be subclassed) is aware, and reading ``tzinfo`` is much
        # cheaper than calling ``utcoffset()``.  Anything else goes through the full check.
        if type(at) is not datetime or (
            type(at.tzinfo) is not timezone and at.utcoffset() is None
        ) or not _MIN_TIME <= at < _MAX_TIME:
            require_aware(at)
        if data is None:  # the usual case: no host data
            frozen = _NO_DATA
        elif not data:
            if not isinstance(data, Mapping):
                raise InvalidInput(f"context data={data!r} must be a mapping or None")
            frozen = _NO_DATA
        elif isinstance(data, Mapping):
            frozen = MappingProxyType(dict(data))
            if not all(type(key) is str or isinstance(key, str) for key in frozen):
                raise InvalidInput("context data must be named by strings")
        else:
            raise InvalidInput(f"context data={_short(data)} must be a mapping or None")
        if type(touchpoints) is not tuple:
            touchpoints = items_of(touchpoints, "Context touchpoints")
        if touchpoints and not all(type(t) is Touchpoint for t in touchpoints):
            bad = next(t for t in touchpoints if type(t) is not Touchpoint)
            if not isinstance(bad, Touchpoint):
                raise InvalidInput(f"Context touchpoints holds {_short(bad)}, not a Touchpoint")
        return super().__new__(cls, (at, touchpoints, funnel, frozen, score))

    def __hash__(self) -> int:
        return hash(("Context", self.at))

    def __reduce__(self) -> Any:
        """Pickle support: the read-only data mapping is rebuilt through the constructor."""
        fields = (self.at, self.touchpoints, self.funnel, dict(self.data), self.score)
        return (_rebuild_context, fields)


# The one unchecked constructor of each record type (see funnelkit._core.record.maker).
make_verdict = maker(Verdict)
make_decision = maker(Decision)
make_context = maker(Context)


def _rebuild_context(at: datetime, touchpoints: Any, funnel: Any, data: Any, score: Any) -> Context:
    return Context(at, touchpoints=touchpoints, funnel=funnel, data=data, score=score)


class Policy(Protocol):
    """Anything that decides whether a lead may move: ``policy(lead, context) -> Decision``.

    A plain function is a policy:

    >>> def has_budget(lead, context):
    ...     if lead.attributes.get("budget", 0) >= 10_000:
    ...         return Decision.allow(policy="has_budget")
    ...     return Decision.deny("budget under 10,000", policy="has_budget")
    """

    def __call__(self, lead: Lead, context: Context, /) -> Decision:
        """Decide for *lead* in *context*."""
        ...
