"""The one protocol every matching rule satisfies, the shipped ones and the host's own."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Hashable, Iterable

    from funnelkit._core.lead import Lead
    from funnelkit.dedupe._values import Evidence

__all__ = ["Rule"]


class Rule(Protocol):
    """A matching rule: what it reads from a lead, its blocking keys, and how it scores a pair.

    The :class:`Matcher` calls ``prepare`` once per lead, ``keys`` once per prepared lead, and
    ``compare`` only for pairs that share a key (of this rule or another), never for every pair.
    A rule keeps three promises:

    - **Keys cover matches**: ``compare(a, b)`` scores above 0 only if ``keys(a)`` and
      ``keys(b)`` share a key.  The matcher relies on it to skip every other pair; evidence
      from a rule whose leads share none of its keys is not counted (``explain`` says so).
    - **Symmetry**: ``compare(a, b)`` and ``compare(b, a)`` give the same score.
    - **Determinism**: the same leads give the same keys and the same evidence.

    Keep keys selective: a key that many leads share (a switchboard number, ``test@test.com``)
    makes a block whose every pair is compared.  A host-written rule, matching leads that give
    the same LinkedIn profile:

    >>> from datetime import datetime, timezone
    >>> from funnelkit import Lead
    >>> from funnelkit.dedupe import Evidence, Matcher
    >>> class SameLinkedIn:
    ...     name = "same_linkedin"
    ...
    ...     def prepare(self, lead):
    ...         url = lead.attributes.get("linkedin")
    ...         return url.rstrip("/").lower() if isinstance(url, str) else None
    ...
    ...     def keys(self, prepared):
    ...         return (prepared,)
    ...
    ...     def compare(self, a, b):
    ...         if a != b:
    ...             return None
    ...         return Evidence(self.name, 0.95, f"one LinkedIn profile: {a}")
    >>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
    >>> leads = [Lead(i, "lead", created_at=at, attributes={"linkedin": url}) for i, url in
    ...          [("L1", "https://linkedin.com/in/jdoe/"), ("L2", "https://LinkedIn.com/in/jdoe")]]
    >>> [(c.a, c.b, c.score) for c in Matcher([SameLinkedIn()]).candidates(leads)]
    [('L1', 'L2', 0.95)]
    """

    @property
    def name(self) -> str:
        """The rule's name, unique among a matcher's rules; evidence carries it."""
        ...

    def prepare(self, lead: Lead) -> Any:
        """What the rule reads from *lead*, normalised; None when the lead has nothing to match.

        Called once per lead; the result is what ``keys`` and ``compare`` receive.  A missing or
        malformed attribute is None, not an error: host data is often incomplete.
        """
        ...

    def keys(self, prepared: Any) -> Iterable[Hashable]:
        """The blocking keys of a prepared lead: two leads are compared only if they share one."""
        ...

    def compare(self, a: Any, b: Any) -> Evidence | None:
        """The evidence that two prepared leads are one person, or None when there is none.

        The evidence's ``rule`` is this rule's ``name``.
        """
        ...
