"""The values matching gives back: :class:`Evidence` from one rule, a :class:`Candidate` pair."""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from funnelkit._core.errors import InvalidInput

__all__ = ["Candidate", "Evidence", "check_score", "combine"]


def check_score(value: object, what: str = "score") -> float:
    """*value* as a float from 0 to 1, or :class:`~funnelkit.InvalidInput`."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise InvalidInput(
            f"{what}={value!r} must be a number from 0 to 1 (0: no evidence, 1: certain)"
        )
    return float(value)


def _name(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{what}={value!r} must be a non-empty string")
    return value


def _rule(value: object) -> str:
    return _name(value, "Evidence rule")


def _evidence_score(value: object) -> float:
    return check_score(value, "Evidence score")


def _a(value: object) -> str:
    return _name(value, "Candidate a")


def _b(value: object) -> str:
    return _name(value, "Candidate b")


def _candidate_score(value: object) -> float:
    return check_score(value, "Candidate score")


def combine(scores: Iterable[float]) -> float:
    """The chance that at least one piece of evidence is right, taken as independent.

    ``1 - (1 - s1) * (1 - s2) * ...``, rounded to 6 decimals: one certain piece makes 1, no
    evidence makes 0, and agreeing rules raise the score above each of theirs.

    >>> combine([0.9]), combine([0.9, 0.5]), combine([])
    (0.9, 0.95, 0.0)
    """
    remaining = 1.0
    for score in scores:
        remaining *= 1.0 - score
    return round(1.0 - remaining, 6)


@attrs.frozen
class Evidence:
    """What one rule found about a pair of leads: its name, a score and a sentence saying why.

    ``score`` runs from 0 (nothing found) to 1 (certainly the same person).  A rule's
    ``compare`` returns one (or None); :meth:`Matcher.explain` lists one per rule.

    >>> Evidence("same_email", 1.0, "one address: jane@acme.com")
    Evidence(rule='same_email', score=1.0, detail='one address: jane@acme.com')
    """

    rule: str = attrs.field(converter=_rule)
    score: float = attrs.field(converter=_evidence_score)
    detail: str = attrs.field()

    @detail.validator
    def _check_detail(self, _: object, value: object) -> None:
        if not isinstance(value, str):
            raise InvalidInput(f"Evidence detail={value!r} must be a string saying what matched")


def _evidence(value: object) -> tuple[Evidence, ...]:
    if isinstance(value, Evidence) or not isinstance(value, Iterable):
        raise InvalidInput(f"Candidate evidence={value!r} must be a sequence of Evidence values")
    items = tuple(value)
    for item in items:
        if not isinstance(item, Evidence):
            raise InvalidInput(f"Candidate evidence holds {item!r}; it takes Evidence values")
    return items


@attrs.frozen
class Candidate:
    """Two leads that may be one person: their ids, the combined score and each rule's evidence.

    The matcher puts the smaller id (by code point) in ``a``.  ``score`` combines the evidence
    (see :meth:`Matcher.explain`); ``evidence`` holds what each rule found, in rule order.

    >>> c = Candidate("L1", "L2", 1.0, [Evidence("same_email", 1.0, "one address: jo@acme.com")])
    >>> c.a, c.b, c.score, [e.rule for e in c.evidence]
    ('L1', 'L2', 1.0, ['same_email'])
    """

    a: str = attrs.field(converter=_a)
    b: str = attrs.field(converter=_b)
    score: float = attrs.field(converter=_candidate_score)
    evidence: tuple[Evidence, ...] = attrs.field(default=(), converter=_evidence)

    def __attrs_post_init__(self) -> None:
        """Refuse a lead paired with itself."""
        if self.a == self.b:
            raise InvalidInput(f"Candidate pairs two different leads; got {self.a!r} twice")
