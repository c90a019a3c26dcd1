"""The shipped matching rules: same email, similar name at one company, same phone number.

Each follows the pattern of funnelkit's policies (attrs' validators): a factory function checks
its arguments when the rule is built and returns a small frozen class with a readable ``repr``
that reads like the call that made it.  A rule never raises for a lead's data: a missing or
malformed attribute gives it nothing to compare.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from itertools import combinations, permutations
from typing import TYPE_CHECKING, Final

import attrs

from funnelkit._core.errors import InvalidInput
from funnelkit._core.lead import Lead
from funnelkit.dedupe._normalise import (
    DOT_BLIND_PROVIDERS,
    FREE_MAIL_DOMAINS,
    PLUS_TAG_PROVIDERS,
    check_region,
    company_from_domain,
    e164,
    normalize_company,
    normalize_email,
    phonenumbers_module,
)
from funnelkit.dedupe._normalise import _words as words_of
from funnelkit.dedupe._values import Evidence, check_score

if TYPE_CHECKING:
    from funnelkit.dedupe._typing import Rule

__all__ = [
    "SameEmail",
    "SamePhone",
    "SimilarName",
    "default_rules",
    "name_differences",
    "same_email",
    "same_phone",
    "similar_name",
    "typos",
]


def _attribute(value: object, what: str, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        alternative = " or None to leave it out" if optional else ""
        raise InvalidInput(
            f"{what}={value!r} must name a lead attribute (a non-empty string){alternative}"
        )
    return value


def _domains(value: object, what: str) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, Collection):
        raise InvalidInput(
            f"{what}={value!r} must be a collection of mail domains such as "
            f"{{'gmail.com'}} (an empty one turns the option off)"
        )
    for item in value:
        if not isinstance(item, str) or "@" in item or not item.strip(". "):
            raise InvalidInput(f"{what} holds {item!r}; give bare domains such as 'gmail.com'")
    return frozenset(item.strip(". ").lower() for item in value)


def _rule_score(value: object, factory: str) -> float:
    score = check_score(value, f"{factory} score")
    if score == 0:
        raise InvalidInput(f"{factory} score=0 makes a rule that never counts; give a score > 0")
    return score


def _repr(factory: str, arguments: list[tuple[str, object, object]], positional: int) -> str:
    """``factory(...)`` showing only the arguments that differ from their defaults."""
    parts: list[str] = []
    for number, (name, value, default) in enumerate(arguments):
        if value == default:
            continue
        shown = repr(sorted(value)) if isinstance(value, frozenset) else repr(value)
        parts.append(shown if number < positional and len(parts) == number else
                     f"{name}={shown}")
    return f"{factory}({', '.join(parts)})"


def _pair(a: str, b: str) -> str:
    x, y = sorted((a, b))
    return f"{x!r} (both)" if x == y else f"{x!r} and {y!r}"


def _one(what: str, a: str, b: str, normal: str) -> str:
    if a == b:
        return f"the same {what}: {a!r}"
    return f"one {what}: {_pair(a, b)} both normalise to {normal}"


# -- same email -----------------------------------------------------------------------------------


@attrs.frozen(repr=False)
class SameEmail:
    """Scores two leads whose emails are one mailbox; built by :func:`same_email`.

    Prepared lead: ``(written address, normalised address)``; blocking key: the normalised
    address.

    >>> from datetime import datetime, timezone
    >>> from funnelkit import Lead
    >>> rule = same_email()
    >>> prepared = rule.prepare(Lead("L1", "lead", attributes={"email": "Jo.Doe+x@gmail.com"},
    ...                              created_at=datetime(2026, 3, 2, tzinfo=timezone.utc)))
    >>> prepared, rule.keys(prepared)
    (('Jo.Doe+x@gmail.com', 'jodoe@gmail.com'), ('jodoe@gmail.com',))
    """

    attribute: str
    dots: frozenset[str]
    plus_tags: frozenset[str]
    score: float
    name: str

    def __repr__(self) -> str:
        """The call that builds this rule."""
        return _repr("same_email", [
            ("attribute", self.attribute, "email"), ("dots", self.dots, DOT_BLIND_PROVIDERS),
            ("plus_tags", self.plus_tags, PLUS_TAG_PROVIDERS), ("score", self.score, 1.0),
            ("name", self.name, "same_email")], positional=1)

    def prepare(self, lead: Lead) -> tuple[str, str] | None:
        """The lead's address as written and normalised, or None without a usable one."""
        value = lead.attributes.get(self.attribute)
        if not isinstance(value, str):
            return None
        normal = normalize_email(value, dots=self.dots, plus_tags=self.plus_tags)
        return None if normal is None else (value.strip(), normal)

    def keys(self, prepared: tuple[str, str]) -> tuple[str]:
        """The normalised address."""
        return (prepared[1],)

    def compare(self, a: tuple[str, str], b: tuple[str, str]) -> Evidence:
        """``score`` when both addresses normalise to one, else 0."""
        if a[1] != b[1]:
            return Evidence(self.name, 0.0, f"different addresses: {_pair(a[1], b[1])}")
        return Evidence(self.name, self.score, _one("address", a[0], b[0], a[1]))

    def __call__(self, a: Lead, b: Lead) -> Evidence | None:
        """The evidence about two leads, or None when one of them has no usable address.

        >>> from datetime import datetime, timezone
        >>> from funnelkit import Lead
        >>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
        >>> a = Lead("L1", "lead", created_at=at, attributes={"email": "Jo.Doe+ads@gmail.com"})
        >>> b = Lead("L2", "lead", created_at=at, attributes={"email": "jodoe@gmail.com"})
        >>> print(same_email()(a, b).detail)
        one address: 'Jo.Doe+ads@gmail.com' and 'jodoe@gmail.com' both normalise to jodoe@gmail.com
        """
        return _call(self, a, b)


def same_email(
    attribute: str = "email",
    *,
    dots: Collection[str] = DOT_BLIND_PROVIDERS,
    plus_tags: Collection[str] = PLUS_TAG_PROVIDERS,
    score: float = 1.0,
    name: str = "same_email",
) -> SameEmail:
    """A rule: leads whose *attribute* holds one mailbox are the same person (*score*, 1.0).

    Addresses are compared after :func:`normalize_email`: lower case everywhere, dots ignored at
    the providers in *dots* (:data:`DOT_BLIND_PROVIDERS`, Gmail) and ``+tags`` at those in
    *plus_tags* (:data:`PLUS_TAG_PROVIDERS`); pass ``dots=(), plus_tags=()`` for case only.
    Blocking key: the normalised address, so only leads sharing a mailbox are compared.

    >>> same_email(), same_email("work_email", dots=(), score=0.9)
    (same_email(), same_email('work_email', dots=[], score=0.9))
    """
    return SameEmail(
        _attribute(attribute, "same_email attribute") or "", _domains(dots, "same_email dots"),
        _domains(plus_tags, "same_email plus_tags"), _rule_score(score, "same_email"),
        _attribute(name, "same_email name") or "",
    )


# -- similar name at one company ------------------------------------------------------------------

#: What each difference between two names takes off the score of an exact match.
_PER_DIFFERENCE: Final = 0.05
_MAX_TYPOS: Final = 3
_UNMATCHED: Final = 1_000  # more differences than any budget


class _Name:
    """A lead as :class:`SimilarName` reads it.

    Its name as written, the name's words in order, the first two letters of each word, and the
    companies the lead gives.
    """

    __slots__ = ("companies", "starts", "words", "written")

    def __init__(self, written: str, words: tuple[str, ...], companies: frozenset[str]) -> None:
        self.written = written
        self.words = words
        self.starts = frozenset(word[:2] for word in words)
        self.companies = companies

    def __repr__(self) -> str:
        return f"_Name({self.written!r}, words={self.words}, companies={sorted(self.companies)})"


def typos(a: str, b: str, limit: int) -> int:
    """The typos between two words: Damerau-Levenshtein edits (adjacent transposition = 1).

    The optimal-string-alignment distance, computed only up to *limit*: any distance above it
    is answered as ``limit + 1``.

    >>> typos("jonathan", "jonahtan", 2), typos("smith", "smyth", 2), typos("ann", "anne", 2)
    (1, 1, 1)
    >>> typos("katherine", "kathryn", 1)
    2
    """
    if a == b:
        return 0
    la, lb = len(a), len(b)
    if limit <= 0 or abs(la - lb) > limit:
        return max(limit, 0) + 1
    if limit == 1:
        return _one_edit(a, b) if la <= lb else _one_edit(b, a)
    previous2: list[int] = []
    previous = list(range(lb + 1))
    for i in range(1, la + 1):
        current = [i] + [0] * lb
        ca = a[i - 1]
        for j in range(1, lb + 1):
            cost = 0 if ca == b[j - 1] else 1
            best = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == b[j - 1]:
                best = min(best, previous2[j - 2] + 1)
            current[j] = best
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return min(previous[lb], limit + 1)


def _one_edit(a: str, b: str) -> int:
    """1 when *a* (not longer than *b*) is one edit from *b*, else 2 (they differ)."""
    i = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        i += 1
    if len(a) < len(b):  # one insertion
        return 1 if a[i:] == b[i + 1:] else 2
    if a[i + 1:] == b[i + 1:]:  # one substitution
        return 1
    swapped = i + 1 < len(a) and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2:] == b[i + 2:]
    return 1 if swapped else 2


def _word_differences(a: str, b: str, budget: int) -> int:
    if a == b:
        return 0
    if len(a) == 1 or len(b) == 1:  # an initial stands for a word starting with it
        return 1 if a[0] == b[0] else _UNMATCHED
    if len(a) <= 2 and len(b) <= 2:  # "li" and "lu" are two names, not a typo
        return _UNMATCHED
    return typos(a, b, budget)


def _alignments(
    short: tuple[str, ...], long: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], tuple[str, ...]]]:
    """Pairings of *short*'s words with *long*'s worth trying: all of them up to four words."""
    if len(long) <= 4:
        for kept in combinations(long, len(short)):
            for paired in permutations(kept):
                yield short, paired
    elif len(short) == len(long):
        yield short, long
        yield tuple(sorted(short)), tuple(sorted(long))


def name_differences(a: tuple[str, ...], b: tuple[str, ...], limit: int) -> int:
    """The fewest differences between two names' words, up to *limit* (above: ``limit + 1``).

    The words are paired in the best order (every order and every choice of missing words for
    names of up to four words; word for word in order or sorted for longer ones).  Each typo
    in a word (:func:`typos`; two words of two letters or fewer must be equal), each initial
    standing for a word (``j`` for ``john``) and each word of one name missing from the other
    (a middle name) is one difference.

    >>> name_differences(("jon", "smith"), ("smith", "john"), 1)
    1
    >>> name_differences(("j", "smith"), ("john", "michael", "smith"), 3)
    2
    >>> name_differences(("katherine", "arkatu"), ("katherine", "arnu"), 1)
    2
    """
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    skipped = len(long) - len(short)
    if not short or skipped > limit:
        return limit + 1
    if len(long) == 2 and not skipped:  # the usual "first last": two pairings, no generator
        (a0, a1), (b0, b1) = short, long
        straight = _word_differences(a0, b0, limit)
        if straight <= limit:
            straight += _word_differences(a1, b1, limit - straight)
        if straight == 0:
            return 0
        crossed = _word_differences(a0, b1, limit)
        if crossed <= limit:
            crossed += _word_differences(a1, b0, limit - crossed)
        return min(straight, crossed, limit + 1)
    best = limit + 1
    for xs, ys in _alignments(short, long):
        total = skipped
        for x, y in zip(xs, ys, strict=True):
            if total >= best:
                break
            total += _word_differences(x, y, best - 1 - total)
        if total < best:
            best = total
            if best == skipped:
                break
    return best


@attrs.frozen(repr=False)
class SimilarName:
    """Scores two leads at one company with the same name, typos allowed; see :func:`similar_name`.

    Prepared lead: the name's words and the lead's companies.  Blocking keys: ``(company, first
    two letters of a word of the name)`` for each company the lead gives and each word.

    >>> from datetime import datetime, timezone
    >>> from funnelkit import Lead
    >>> rule = similar_name()
    >>> prepared = rule.prepare(Lead("L1", "lead", attributes={"name": "Doe, Jane",
    ...                              "email": "jdoe@acme.com"},
    ...                              created_at=datetime(2026, 3, 2, tzinfo=timezone.utc)))
    >>> prepared.words, rule.keys(prepared)
    (('doe', 'jane'), [('acme', 'do'), ('acme', 'ja')])
    """

    attribute: str
    email: str | None
    company: str | None
    max_typos: int
    score: float
    free_mail: frozenset[str]
    name: str

    def __repr__(self) -> str:
        """The call that builds this rule."""
        return _repr("similar_name", [
            ("attribute", self.attribute, "name"), ("email", self.email, "email"),
            ("company", self.company, "company"), ("max_typos", self.max_typos, 1),
            ("score", self.score, 0.95), ("free_mail", self.free_mail, FREE_MAIL_DOMAINS),
            ("name", self.name, "similar_name")], positional=1)

    def companies(self, lead: Lead) -> frozenset[str]:
        """The companies *lead* gives: its mail domain's (unless personal) and its company's.

        >>> from datetime import datetime, timezone
        >>> from funnelkit import Lead
        >>> lead = Lead("L1", "lead", created_at=datetime(2026, 3, 2, tzinfo=timezone.utc),
        ...             attributes={"email": "jo@eu.acme.com", "company": "Acme Corp."})
        >>> sorted(similar_name().companies(lead))
        ['acme']
        """
        found: set[str] = set()
        attributes = lead.attributes
        if self.email is not None:
            email = attributes.get(self.email)
            if isinstance(email, str) and "@" in email:
                domain = email.rpartition("@")[2].strip().lower().rstrip(".")
                if domain and domain not in self.free_mail:
                    company = company_from_domain(domain)
                    if company:
                        found.add(company)
        if self.company is not None:
            value = attributes.get(self.company)
            if isinstance(value, str):
                company = normalize_company(value)
                if company:
                    found.add(company)
        return frozenset(found)

    def prepare(self, lead: Lead) -> _Name | None:
        """The name's words and the lead's companies, or None when either is missing."""
        written = lead.attributes.get(self.attribute)
        if not isinstance(written, str):
            return None
        words = words_of(written)
        if not words:
            return None
        companies = self.companies(lead)
        if not companies:
            return None
        return _Name(written.strip(), tuple(words), companies)

    def keys(self, prepared: _Name) -> list[tuple[str, str]]:
        """One ``(company, two letters)`` key per company and distinct word start."""
        starts = sorted(prepared.starts)
        return [(company, start) for company in sorted(prepared.companies) for start in starts]

    def compare(self, a: _Name, b: _Name) -> Evidence:
        """``score`` less 0.05 per difference, up to ``max_typos`` of them, at one company."""
        shared = a.companies & b.companies
        names = _pair(a.written, b.written)
        if not shared:
            return Evidence(self.name, 0.0, f"{names} give no company in common: "
                            f"{', '.join(sorted(a.companies))} / {', '.join(sorted(b.companies))}")
        if a.starts.isdisjoint(b.starts):
            return Evidence(self.name, 0.0, f"{names}: no word of one starts with the two "
                            f"letters of a word of the other")
        differences = name_differences(a.words, b.words, self.max_typos)
        if differences > self.max_typos:
            return Evidence(self.name, 0.0, f"{names} differ by more than {self.max_typos} "
                            f"typo{'s' if self.max_typos != 1 else ''}")
        score = round(self.score - _PER_DIFFERENCE * differences, 4)
        how = ("the same name" if differences == 0 else
               f"one name with {differences} difference{'s' if differences > 1 else ''}")
        return Evidence(self.name, score, f"{names}: {how}, at {min(shared)}")

    def __call__(self, a: Lead, b: Lead) -> Evidence | None:
        """The evidence about two leads, or None when one of them lacks a name or a company.

        >>> from datetime import datetime, timezone
        >>> from funnelkit import Lead
        >>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
        >>> a = Lead("L1", "lead", created_at=at,
        ...          attributes={"name": "Jon Smith", "email": "jsmith@acme.com"})
        >>> b = Lead("L2", "lead", created_at=at,
        ...          attributes={"name": "Smith, John", "company": "ACME Inc."})
        >>> evidence = similar_name()(a, b)
        >>> evidence.score, evidence.detail
        (0.9, "'Jon Smith' and 'Smith, John': one name with 1 difference, at acme")
        """
        return _call(self, a, b)


def similar_name(
    attribute: str = "name",
    *,
    email: str | None = "email",
    company: str | None = "company",
    max_typos: int = 1,
    score: float = 0.95,
    free_mail: Collection[str] = FREE_MAIL_DOMAINS,
    name: str = "similar_name",
) -> SimilarName:
    """A rule: leads at one company whose names (*attribute*) are one, typos allowed.

    **Company**: each lead gives the companies of its *email* attribute's domain (the label
    before the public suffix, :func:`company_from_domain`; none for the personal domains in
    *free_mail*, :data:`FREE_MAIL_DOMAINS`) and of its *company* attribute (a name without its
    legal form, or a domain, :func:`normalize_company`).  ``jo@acme.com``, ``"Acme Inc."`` and
    ``"https://acme.com"`` all give ``acme``.  Pass None for an attribute to leave it out.

    **Names** are compared as words (:func:`normalize_name`), paired in the best order (so
    ``"Smith, John"`` is ``"John Smith"``).  Each typo in a word (a Damerau-Levenshtein edit:
    one letter added, dropped, changed, or two adjacent letters swapped), each initial standing
    for a word (``"J. Smith"``) and each word one name lacks (a middle name) is one difference;
    two words of two letters or fewer must be equal (``Li`` and ``Lu`` are two names, ``Jo``
    and ``Joe`` may be a typo).  Two names
    within *max_typos* differences (0 to 3) score *score* (0.95: two people at one company can
    share a name) less 0.05 per difference; others score 0.

    **Blocking keys**: ``(company, first two letters of a word of the name)``, so two names are
    compared only at one company and when a word of each starts with the same two letters; one
    typo leaves a name of two words the key of its other word.

    >>> similar_name(), similar_name("full_name", company=None, max_typos=2)
    (similar_name(), similar_name('full_name', company=None, max_typos=2))
    """
    email_attribute = _attribute(email, "similar_name email", optional=True)
    company_attribute = _attribute(company, "similar_name company", optional=True)
    if email_attribute is None and company_attribute is None:
        raise InvalidInput("similar_name needs email or company (or both) to tell the company "
                           "of a lead; give at least one attribute name")
    if type(max_typos) is not int or not 0 <= max_typos <= _MAX_TYPOS:
        raise InvalidInput(f"similar_name max_typos={max_typos!r} must be a whole number from 0 "
                           f"(names must be equal) to {_MAX_TYPOS}")
    exact = _rule_score(score, "similar_name")
    if exact - _PER_DIFFERENCE * max_typos <= 0:
        raise InvalidInput(
            f"similar_name score={score!r} leaves nothing for a name with {max_typos} typos "
            f"({_PER_DIFFERENCE} less per difference); give a higher score or fewer max_typos")
    return SimilarName(
        _attribute(attribute, "similar_name attribute") or "", email_attribute, company_attribute,
        max_typos, exact, _domains(free_mail, "similar_name free_mail"),
        _attribute(name, "similar_name name") or "",
    )


# -- same phone -----------------------------------------------------------------------------------


@attrs.frozen(repr=False)
class SamePhone:
    """Scores two leads with one phone number in E.164; built by :func:`same_phone`.

    Prepared lead: ``(written number, E.164 number)``; blocking key: the E.164 number.

    >>> from datetime import datetime, timezone
    >>> from funnelkit import Lead
    >>> rule = same_phone(region="GB")
    >>> prepared = rule.prepare(Lead("L1", "lead", attributes={"phone": "020 7946 0958"},
    ...                              created_at=datetime(2026, 3, 2, tzinfo=timezone.utc)))
    >>> prepared, rule.keys(prepared)
    (('020 7946 0958', '+442079460958'), ('+442079460958',))
    """

    attribute: str
    region: str | None
    score: float
    name: str

    def __repr__(self) -> str:
        """The call that builds this rule."""
        return _repr("same_phone", [
            ("attribute", self.attribute, "phone"), ("region", self.region, None),
            ("score", self.score, 0.9), ("name", self.name, "same_phone")], positional=1)

    def prepare(self, lead: Lead) -> tuple[str, str] | None:
        """The lead's number as written and in E.164, or None without a possible number."""
        value = lead.attributes.get(self.attribute)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            return None
        number = e164(phonenumbers_module("same_phone"), value, self.region)
        return None if number is None else (value.strip(), number)

    def keys(self, prepared: tuple[str, str]) -> tuple[str]:
        """The E.164 number."""
        return (prepared[1],)

    def compare(self, a: tuple[str, str], b: tuple[str, str]) -> Evidence:
        """``score`` when both numbers are one, else 0."""
        if a[1] != b[1]:
            return Evidence(self.name, 0.0, f"different numbers: {_pair(a[1], b[1])}")
        return Evidence(self.name, self.score, _one("number", a[0], b[0], a[1]))

    def __call__(self, a: Lead, b: Lead) -> Evidence | None:
        """The evidence about two leads, or None when one of them has no possible number.

        >>> from datetime import datetime, timezone
        >>> from funnelkit import Lead
        >>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
        >>> a = Lead("L1", "lead", created_at=at, attributes={"phone": "+1 (415) 555-0123"})
        >>> b = Lead("L2", "lead", created_at=at, attributes={"phone": "+1.415.555.0123"})
        >>> same_phone()(a, b).score
        0.9
        """
        return _call(self, a, b)


def same_phone(
    attribute: str = "phone",
    *,
    region: str | None = None,
    score: float = 0.9,
    name: str = "same_phone",
) -> SamePhone:
    """A rule: leads whose *attribute* holds one phone number are the same person (*score*).

    Numbers are compared in E.164 (:func:`normalize_phone`, with ``phonenumbers``), so
    ``+1 (415) 555-0123`` and ``+1.415.555.0123`` are one; *region* (``"US"``, ``"GB"``) is
    the country assumed for numbers written without their country code (None: such numbers are
    not read).  The score, 0.9, stays below 1 because people share numbers (a switchboard, a
    family line); give ``score`` below the matcher's threshold to use phones only to corroborate
    other evidence.  Blocking key: the E.164 number.

    Needs the ``funnelkit[dedupe]`` extra: without ``phonenumbers`` it raises
    :class:`~funnelkit.MissingExtra`.

    >>> same_phone(), same_phone(region="GB", score=0.5)
    (same_phone(), same_phone(region='GB', score=0.5))
    """
    phonenumbers_module("same_phone")
    return SamePhone(
        _attribute(attribute, "same_phone attribute") or "", check_region(region, "same_phone"),
        _rule_score(score, "same_phone"), _attribute(name, "same_phone name") or "",
    )


# -- shared ---------------------------------------------------------------------------------------


def _call(rule: Rule, a: Lead, b: Lead) -> Evidence | None:
    for lead, which in ((a, "a"), (b, "b")):
        if not isinstance(lead, Lead):
            raise InvalidInput(f"{rule.name} compares two funnelkit.Lead values; {which}={lead!r}")
    prepared_a, prepared_b = rule.prepare(a), rule.prepare(b)
    if prepared_a is None or prepared_b is None:
        return None
    result: Evidence | None = rule.compare(prepared_a, prepared_b)
    return result


def default_rules(
    *,
    email: str = "email",
    name: str = "name",
    company: str = "company",
    phone: str = "phone",
    region: str | None = None,
) -> tuple[SameEmail, SimilarName, SamePhone]:
    """The rules a :class:`Matcher` uses when given none, reading the named attributes.

    ``(same_email(email), similar_name(name, email=email, company=company),
    same_phone(phone, region=region))``.  The phone rule needs ``funnelkit[dedupe]``; without
    it this raises :class:`~funnelkit.MissingExtra` (build your rules without ``same_phone``).

    >>> default_rules(email="work_email")
    (same_email('work_email'), similar_name(email='work_email'), same_phone())
    """
    return (same_email(email), similar_name(name, email=email, company=company),
            same_phone(phone, region=region))
