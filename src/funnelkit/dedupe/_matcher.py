"""The :class:`Matcher`: rules composed, pairs found by blocking keys, pairs explained."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Hashable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from funnelkit._core.errors import InvalidInput, MissingExtra
from funnelkit._core.lead import Lead
from funnelkit.dedupe._rules import default_rules
from funnelkit.dedupe._values import Candidate, Evidence, check_score, combine

if TYPE_CHECKING:
    from funnelkit.dedupe._typing import Rule
    from funnelkit.stores import Store

__all__ = ["CandidateIterator", "Matcher"]

_METHODS = ("prepare", "keys", "compare")


def _check_rules(rules: object) -> tuple[Rule, ...]:
    if rules is None:
        try:
            return default_rules()
        except MissingExtra:
            raise MissingExtra(
                "Matcher() uses default_rules(), whose same_phone needs the 'phonenumbers' "
                "package: pip install 'funnelkit[dedupe]', or give the rules you want, for "
                "example Matcher([same_email(), similar_name()])"
            ) from None
    if (isinstance(rules, str | bytes | Mapping) or not isinstance(rules, Iterable)
            or callable(getattr(rules, "compare", None))):
        raise InvalidInput(
            f"rules={rules!r} must be a list of rules, for example [same_email(), "
            f"similar_name()], or None for default_rules()"
        )
    checked = tuple(rules)
    if not checked:
        raise InvalidInput("rules=[] gives the matcher nothing to match on; give at least one "
                           "rule, or leave rules out for default_rules()")
    names: dict[str, int] = {}
    for position, rule in enumerate(checked):
        name = getattr(rule, "name", None)
        if not isinstance(name, str) or not name:
            raise InvalidInput(
                f"rules[{position}]={rule!r} has no name; a rule has a non-empty string name, "
                f"prepare(lead), keys(prepared) and compare(a, b) (see funnelkit.dedupe.Rule)"
            )
        for method in _METHODS:
            if not callable(getattr(rule, method, None)):
                raise InvalidInput(
                    f"rule {name!r} (rules[{position}]) has no {method} method; a rule has a "
                    f"name, prepare(lead), keys(prepared) and compare(a, b) (see "
                    f"funnelkit.dedupe.Rule)"
                )
        if name in names:
            raise InvalidInput(
                f"rules[{names[name]}] and rules[{position}] are both named {name!r}; evidence "
                f"names its rule, so give one of them another name (name=...)"
            )
        names[name] = position
    return checked


def _check_lead(value: object, what: str) -> Lead:
    if not isinstance(value, Lead):
        raise InvalidInput(f"{what}={value!r} is not a funnelkit.Lead; pass leads as loaded")
    return value


def _read(source: object) -> list[Lead]:
    """The leads of a store or an iterable, checked: all leads, each id once."""
    if isinstance(source, Lead):
        raise InvalidInput(f"candidates takes several leads (a list) or a store; got one lead, "
                           f"{source.id!r}: put it in a list with the others")
    if isinstance(source, Mapping):
        raise InvalidInput(f"candidates takes a store or an iterable of leads, not a "
                           f"{type(source).__name__}; pass the mapping's values()")
    if isinstance(source, str | bytes):
        raise InvalidInput(f"candidates takes a store or an iterable of leads, not "
                           f"{type(source).__name__} {source!r}")
    stream = getattr(source, "leads", None)
    if callable(stream):
        items: Any = stream()
    elif isinstance(source, Iterable):
        items = source
    else:
        raise InvalidInput(f"candidates takes a store (with leads()) or an iterable of leads; "
                           f"got {source!r}")
    leads: list[Lead] = []
    seen: dict[str, int] = {}
    for position, lead in enumerate(items):
        if not isinstance(lead, Lead):
            raise InvalidInput(f"candidates takes funnelkit.Lead values; item {position} is "
                               f"{lead!r}")
        first = seen.setdefault(lead.id, position)
        if first != position:
            raise InvalidInput(
                f"lead {lead.id!r} is given twice (items {first} and {position}); candidates "
                f"name leads by id, so give each lead once"
            )
        leads.append(lead)
    return leads


def _check_evidence(rule: Rule, result: object) -> Evidence | None:
    if result is None:
        return None
    if not isinstance(result, Evidence) or result.rule != rule.name:
        raise InvalidInput(
            f"rule {rule.name!r} compare returned {result!r}; return "
            f"Evidence({rule.name!r}, score, detail) or None"
        )
    return result


def _unique_keys(rule: Rule, prepared: object) -> tuple[Hashable, ...]:
    keys = rule.keys(prepared)
    try:
        return tuple(dict.fromkeys(keys))
    except TypeError:
        raise InvalidInput(
            f"rule {rule.name!r} gave keys {keys!r}; keys must be an iterable of hashable values "
            f"(strings, numbers, tuples)"
        ) from None


class CandidateIterator(Iterator[Candidate]):
    """The candidates of :meth:`Matcher.candidates`, found block by block, with counters.

    The leads are read, checked, prepared and put in blocks when ``candidates`` is called;
    pairs are compared as you iterate.  ``leads`` is how many were read, ``blocks`` how many
    blocking keys two or more leads share, ``largest_block`` the most leads sharing one (a
    placeholder value such as a switchboard number shows up here) and ``compared`` how many
    distinct pairs were compared so far (each pair once, whatever its number of shared keys).

    >>> from datetime import datetime, timezone
    >>> from funnelkit import Lead
    >>> from funnelkit.dedupe import Matcher, same_email
    >>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
    >>> leads = [Lead(f"L{i}", "lead", created_at=at, attributes={"email": e})
    ...          for i, e in enumerate(["a@x.com", "A@x.com", "b@x.com", "a@X.com"])]
    >>> found = Matcher([same_email()]).candidates(leads)
    >>> (found.leads, found.blocks, found.largest_block, found.compared)
    (4, 1, 3, 0)
    >>> [(c.a, c.b) for c in found], found.compared
    ([('L0', 'L1'), ('L0', 'L3'), ('L1', 'L3')], 3)
    """

    __slots__ = (
        "_generator", "_ids", "_lead_blocks", "_matcher", "_prepared", "blocks", "compared",
        "largest_block", "leads",
    )

    leads: int
    blocks: int
    largest_block: int
    compared: int

    def __init__(self, matcher: Matcher, leads: list[Lead]) -> None:
        """Prepare *leads* and block them by every rule's keys (built by ``candidates``)."""
        self._matcher = matcher
        self._ids = [lead.id for lead in leads]
        self.leads = len(leads)
        self.blocks = self.largest_block = self.compared = 0
        self._prepared: list[list[Any]] = []
        # For each lead in a block of two or more: (rule bit, block) pairs; None for the others.
        self._lead_blocks: list[list[tuple[int, list[int]]] | None] = [None] * len(leads)
        for number, rule in enumerate(matcher.rules):
            prepared = [rule.prepare(lead) for lead in leads]
            self._prepared.append(prepared)
            self._block(rule, 1 << number, prepared)
        self._generator = self._pairs()

    def _block(self, rule: Rule, bit: int, prepared: list[Any]) -> None:
        index: dict[Hashable, int | list[int]] = {}
        for position, value in enumerate(prepared):
            if value is None:
                continue
            for key in _unique_keys(rule, value):
                members = index.get(key)
                if members is None:
                    index[key] = position
                elif type(members) is int:
                    index[key] = [members, position]
                else:
                    members.append(position)  # type: ignore[union-attr]
        lead_blocks = self._lead_blocks
        for members in index.values():
            if type(members) is int:
                continue
            block: list[int] = members  # type: ignore[assignment]
            self.blocks += 1
            self.largest_block = max(self.largest_block, len(block))
            for position in block:
                entries = lead_blocks[position]
                if entries is None:
                    lead_blocks[position] = [(bit, block)]
                else:
                    entries.append((bit, block))

    def _pairs(self) -> Iterator[Candidate]:
        rules = self._matcher.rules
        threshold = self._matcher.threshold
        prepared = self._prepared
        ids = self._ids
        for first, entries in enumerate(self._lead_blocks):
            if entries is None:
                continue
            partners: dict[int, int] = {}
            for bit, block in entries:  # blocks hold positions in increasing order
                for second in block[bisect_right(block, first):]:
                    partners[second] = partners.get(second, 0) | bit
            for second in sorted(partners):
                self.compared += 1
                shared = partners[second]
                low, high = (first, second) if ids[first] < ids[second] else (second, first)
                evidence: list[Evidence] = []
                for number, rule in enumerate(rules):
                    if shared >> number & 1:
                        found = _check_evidence(
                            rule, rule.compare(prepared[number][low], prepared[number][high]))
                        if found is not None and found.score > 0:
                            evidence.append(found)
                if evidence:
                    score = combine(e.score for e in evidence)
                    if score >= threshold:
                        yield Candidate(ids[low], ids[high], score, evidence)

    def __iter__(self) -> CandidateIterator:
        """The iterator itself."""
        return self

    def __next__(self) -> Candidate:
        """The next candidate pair; pairs come in the order of their first lead's position."""
        return next(self._generator)

    def __repr__(self) -> str:
        """The counters so far."""
        return (f"<CandidateIterator leads={self.leads} blocks={self.blocks} "
                f"largest_block={self.largest_block} compared={self.compared}>")


class Matcher:
    """Finds leads that may be one person, with rules the host composes, by blocking keys.

    *rules* is a list of :class:`Rule` values (the shipped :func:`same_email`,
    :func:`similar_name`, :func:`same_phone`, or the host's own); None means
    :func:`default_rules`.  Each rule scores a pair from 0 to 1 with its evidence; the pair's
    score combines them as the chance that at least one is right, ``1 - (1 - s1)(1 - s2)...``,
    and pairs scoring at least *threshold* are candidates.

    >>> from datetime import datetime, timezone
    >>> from funnelkit import Lead
    >>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
    >>> leads = [Lead(i, "lead", created_at=at, attributes=a) for i, a in [
    ...     ("L1", {"email": "jo.doe@gmail.com", "phone": "+1 415 555 0123"}),
    ...     ("L2", {"email": "JoDoe+webinar@gmail.com"}),
    ...     ("L3", {"name": "Jon Doe", "email": "jdoe@acme.com", "phone": "+14155550123"}),
    ...     ("L4", {"name": "John Doe", "company": "ACME Inc."}),
    ... ]]
    >>> matcher = Matcher(threshold=0.8)
    >>> for c in matcher.candidates(leads):
    ...     print(c.a, c.b, c.score, [e.rule for e in c.evidence])
    L1 L2 1.0 ['same_email']
    L1 L3 0.9 ['same_phone']
    L3 L4 0.9 ['similar_name']
    """

    __slots__ = ("_rules", "_threshold")

    def __init__(self, rules: Iterable[Rule] | None = None, *, threshold: float = 0.8) -> None:
        """Check *rules* and *threshold* (a number above 0, at most 1)."""
        score = check_score(threshold, "threshold")
        if score == 0:
            raise InvalidInput("threshold=0 would make every pair a candidate; give a threshold "
                               "above 0, such as 0.8")
        self._rules = _check_rules(rules)
        self._threshold = score

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The rules, in the order their evidence is listed.

        >>> from funnelkit.dedupe import same_email
        >>> Matcher([same_email()]).rules
        (same_email(),)
        """
        return self._rules

    @property
    def threshold(self) -> float:
        """The score a pair needs to be a candidate.

        >>> from funnelkit.dedupe import same_email
        >>> Matcher([same_email()], threshold=0.9).threshold
        0.9
        """
        return self._threshold

    def __repr__(self) -> str:
        """The call that builds this matcher."""
        return f"Matcher([{', '.join(repr(r) for r in self._rules)}], threshold={self._threshold})"

    def candidates(self, leads: Store | Iterable[Lead]) -> CandidateIterator:
        """The pairs of *leads* (a store, or an iterable of leads) scoring at least the threshold.

        Only leads sharing a blocking key of some rule are compared, each pair once; a
        candidate lists the evidence of the rules that scored it above 0, its ``a`` is the
        smaller id.  The leads are read and checked here (each must be a
        :class:`~funnelkit.Lead`, each id once) and blocked; the pairs are compared as you
        iterate.  See :class:`CandidateIterator` for the counters.

        >>> from funnelkit import Pipeline, templates
        >>> from funnelkit.dedupe import same_email
        >>> from funnelkit.stores import MemoryStore
        >>> pipeline = Pipeline(templates.inbound(), store=MemoryStore())
        >>> for lead_id, email in [("L1", "ann@acme.com"), ("L2", "Ann@ACME.com")]:
        ...     _ = pipeline.capture(lead_id, attributes={"email": email})
        >>> [(c.a, c.b) for c in Matcher([same_email()]).candidates(pipeline.store)]
        [('L1', 'L2')]
        """
        return CandidateIterator(self, _read(leads))

    def explain(self, a: Lead, b: Lead) -> Candidate:
        """The pair's score with one piece of evidence per rule, whatever the score.

        Gives the score :meth:`candidates` gives the pair (when it reaches the threshold); the
        evidence holds every rule, in order, those that found nothing with score 0 and a
        sentence saying why.  The ids are in order, so ``explain(a, b) == explain(b, a)``.

        >>> from datetime import datetime, timezone
        >>> from funnelkit import Lead
        >>> from funnelkit.dedupe import same_email, similar_name
        >>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
        >>> a = Lead("L1", "lead", created_at=at,
        ...          attributes={"name": "Ann Lee", "email": "ann@acme.com"})
        >>> b = Lead("L2", "lead", created_at=at,
        ...          attributes={"name": "Anne Lee", "email": "alee@acme.com"})
        >>> pair = Matcher([same_email(), similar_name()]).explain(b, a)
        >>> pair.a, pair.score
        ('L1', 0.9)
        >>> for e in pair.evidence:
        ...     print(f"{e.rule}: {e.score} {e.detail}")
        same_email: 0.0 different addresses: 'alee@acme.com' and 'ann@acme.com'
        similar_name: 0.9 'Ann Lee' and 'Anne Lee': one name with 1 difference, at acme
        """
        first, second = _check_lead(a, "a"), _check_lead(b, "b")
        if first.id == second.id:
            raise InvalidInput(f"explain compares two different leads; got lead {first.id!r} "
                               f"twice")
        if second.id < first.id:
            first, second = second, first
        evidence = [self._evidence(rule, first, second) for rule in self._rules]
        return Candidate(first.id, second.id, combine(e.score for e in evidence), evidence)

    def _evidence(self, rule: Rule, a: Lead, b: Lead) -> Evidence:
        prepared_a, prepared_b = rule.prepare(a), rule.prepare(b)
        missing = [lead.id for lead, p in ((a, prepared_a), (b, prepared_b)) if p is None]
        if missing:
            which = " and ".join(repr(lead_id) for lead_id in missing)
            plural = "s" if len(missing) > 1 else ""
            return Evidence(rule.name, 0.0, f"nothing to compare: lead{plural} {which} "
                            f"{'give' if plural else 'gives'} this rule nothing to read")
        apart = set(_unique_keys(rule, prepared_a)).isdisjoint(_unique_keys(rule, prepared_b))
        found = _check_evidence(rule, rule.compare(prepared_a, prepared_b))
        if found is None:
            return Evidence(rule.name, 0.0, "no match")
        if found.score > 0 and apart:
            return Evidence(rule.name, 0.0, f"{found.detail} (not counted: the leads share none "
                            f"of this rule's blocking keys, so candidates() never compares them)")
        return found

    def blocking_keys(self, lead: Lead) -> dict[str, tuple[Hashable, ...]]:
        """Each rule's blocking keys for *lead* (empty when the rule finds nothing to read).

        >>> from datetime import datetime, timezone
        >>> from funnelkit import Lead
        >>> from funnelkit.dedupe import same_email, similar_name
        >>> lead = Lead("L1", "lead", created_at=datetime(2026, 3, 2, tzinfo=timezone.utc),
        ...             attributes={"name": "Ann Lee", "email": "Ann@Acme.com"})
        >>> Matcher([same_email(), similar_name()]).blocking_keys(lead)
        {'same_email': ('ann@acme.com',), 'similar_name': (('acme', 'an'), ('acme', 'le'))}
        """
        checked = _check_lead(lead, "lead")
        keys: dict[str, tuple[Hashable, ...]] = {}
        for rule in self._rules:
            prepared = rule.prepare(checked)
            keys[rule.name] = () if prepared is None else _unique_keys(rule, prepared)
        return keys
