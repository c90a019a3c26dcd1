"""The shipped rules: what each reads, its keys, its scores and evidence, and its checked options."""

from __future__ import annotations

import pickle
import sys
from itertools import combinations, permutations

import pytest
from _dedupe_support import lead, needs_phonenumbers
from hypothesis import given
from hypothesis import strategies as st

from funnelkit import InvalidInput, MissingExtra
from funnelkit.dedupe import (
    Evidence,
    SameEmail,
    SamePhone,
    SimilarName,
    _normalise,
    default_rules,
    name_differences,
    same_email,
    same_phone,
    similar_name,
    typos,
)

# -- same_email -----------------------------------------------------------------------------------


def test_same_email_matches_one_mailbox() -> None:
    """Two spellings of one Gmail mailbox score 1.0, with both spellings in the evidence."""
    rule = same_email()
    evidence = rule(lead("A", email="Jo.Doe+ads@gmail.com"), lead("B", email="jodoe@GoogleMail.com"))
    assert evidence == Evidence(
        "same_email", 1.0,
        "one address: 'Jo.Doe+ads@gmail.com' and 'jodoe@GoogleMail.com' both normalise to "
        "jodoe@gmail.com")
    same = rule(lead("A", email="ann@acme.com"), lead("B", email="ann@acme.com"))
    assert same is not None
    assert same.detail == "the same address: 'ann@acme.com'"


def test_same_email_keys_and_misses() -> None:
    """The key is the normalised address; other addresses score 0; no address gives None."""
    rule = same_email()
    prepared = rule.prepare(lead("A", email=" Ann@Acme.com "))
    assert prepared == ("Ann@Acme.com", "ann@acme.com")
    assert tuple(rule.keys(prepared)) == ("ann@acme.com",)
    other = rule(lead("A", email="ann@acme.com"), lead("B", email="ann.lee@acme.com"))
    assert other is not None
    assert other.score == 0.0
    assert "different addresses" in other.detail
    for missing in ({}, {"email": None}, {"email": 42}, {"email": "no address"}):
        assert rule.prepare(lead("A", **missing)) is None
    assert rule(lead("A"), lead("B", email="ann@acme.com")) is None


def test_same_email_options() -> None:
    """Another attribute, case-only matching and a lower score are options."""
    rule = same_email("work_email", dots=(), plus_tags=(), score=0.8, name="work")
    a, b = lead("A", work_email="J.Doe@gmail.com"), lead("B", work_email="jdoe@gmail.com")
    assert rule(a, b) == Evidence("work", 0.0, "different addresses: 'j.doe@gmail.com' and "
                                                "'jdoe@gmail.com'")
    c = lead("C", work_email="j.doe@GMAIL.com")
    assert rule(a, c) is not None
    assert rule(a, c).score == 0.8


# -- similar_name ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("a", "b", "score"), [
    ({"name": "John Smith", "email": "john@acme.com"}, {"name": "john smith", "company": "ACME"}, 0.95),
    ({"name": "Jon Smith", "email": "john@acme.com"}, {"name": "John Smith", "email": "js@acme.com"}, 0.9),
    ({"name": "Smith, John", "company": "Acme Inc."}, {"name": "John Smith", "company": "acme.com"}, 0.95),
    ({"name": "J. Smith", "company": "Acme"}, {"name": "John Smith", "company": "Acme"}, 0.9),
    ({"name": "John Michael Smith", "company": "Acme"}, {"name": "John Smith", "company": "Acme"}, 0.9),
    ({"name": "Zoë Müller", "company": "Acme"}, {"name": "ZOE MULLER", "company": "Acme"}, 0.95),
    ({"name": "Jo Lee", "company": "Acme"}, {"name": "Joe Lee", "company": "Acme"}, 0.9),
    ({"name": "Ann Li", "company": "Acme"}, {"name": "Ann Lu", "company": "Acme"}, 0.0),
    ({"name": "Katherine Arkatu", "company": "Acme"}, {"name": "Katherine Arnu", "company": "Acme"}, 0.0),
    ({"name": "Jon Smyth", "company": "Acme"}, {"name": "John Smith", "company": "Acme"}, 0.0),
    ({"name": "John Smith", "email": "john@gmail.com"}, {"name": "John Smith", "email": "js@gmail.com"}, None),
    ({"name": "John Smith", "company": "Acme"}, {"name": "John Smith", "company": "Globex"}, 0.0),
    ({"name": "Jxhn Smith", "company": "Acme"}, {"name": "John Smiht", "company": "Acme"}, 0.0),
])
def test_similar_name_scores(a: dict[str, str], b: dict[str, str], score: float | None) -> None:
    """One company and one name up to a typo: 0.95 less 0.05 per difference; else 0 or None."""
    evidence = similar_name()(lead("A", **a), lead("B", **b))
    assert (None if evidence is None else evidence.score) == score
    if evidence is not None:
        assert evidence.rule == "similar_name"
        assert evidence.detail


def test_similar_name_evidence_says_why() -> None:
    """The detail names both spellings and the company, or what kept them apart."""
    rule = similar_name()
    at_acme = rule(lead("A", name="Jon Smith", email="j@acme.com"),
                   lead("B", name="John Smith", company="Acme Corp"))
    assert at_acme is not None
    assert at_acme.detail == "'John Smith' and 'Jon Smith': one name with 1 difference, at acme"
    apart = rule(lead("A", name="Jon Smith", company="Acme"), lead("B", name="Jon Smith",
                                                                    company="Globex"))
    assert apart is not None
    assert apart.detail == "'Jon Smith' (both) give no company in common: acme / globex"


def test_similar_name_companies_and_keys() -> None:
    """A lead's companies come from its work domain and its company; keys pair them with starts."""
    rule = similar_name()
    a = lead("A", name="Ann Lee", email="ann@eu.acme.co.uk", company="Globex GmbH")
    assert rule.companies(a) == {"acme", "globex"}
    assert rule.companies(lead("B", email="ann@gmail.com")) == frozenset()
    prepared = rule.prepare(a)
    assert prepared is not None
    assert list(rule.keys(prepared)) == [("acme", "an"), ("acme", "le"), ("globex", "an"),
                                        ("globex", "le")]
    assert rule.prepare(lead("C", name="Ann Lee", email="ann@gmail.com")) is None
    assert rule.prepare(lead("D", name="---", company="Acme")) is None
    only_company = similar_name(email=None)
    assert only_company.companies(a) == {"globex"}


def test_similar_name_options() -> None:
    """max_typos and score shape the scores; attribute names are configurable."""
    a = lead("A", full_name="Jxhn Smiht", org="Acme")
    b = lead("B", full_name="John Smith", org="Acme")
    rule = similar_name("full_name", email=None, company="org", max_typos=2, score=0.9)
    assert rule(a, b) == Evidence("similar_name", 0.8,
                                  "'John Smith' and 'Jxhn Smiht': one name with 2 differences, "
                                  "at acme")
    strict = similar_name("full_name", email=None, company="org", max_typos=0)
    assert strict(a, b) is not None
    assert strict(a, b).score == 0.0


# -- same_phone -----------------------------------------------------------------------------------


@needs_phonenumbers
def test_same_phone_matches_one_number() -> None:
    """Two formats of one number score 0.9; extensions tell switchboard lines apart."""
    rule = same_phone()
    evidence = rule(lead("A", phone="+1 (415) 555-0123"), lead("B", phone="+1.415.555.0123"))
    assert evidence == Evidence("same_phone", 0.9, "one number: '+1 (415) 555-0123' and "
                                "'+1.415.555.0123' both normalise to +14155550123")
    other = rule(lead("A", phone="+1 415 555 0100 x12"), lead("B", phone="+1 415 555 0100 x13"))
    assert other is not None
    assert other.score == 0.0
    assert rule(lead("A", phone="(415) 555-0123"), lead("B", phone="+14155550123")) is None


@needs_phonenumbers
def test_same_phone_region_and_integers() -> None:
    """A region reads national numbers; integer attributes are read as digits."""
    rule = same_phone(region="us")
    assert rule.region == "US"
    assert rule.prepare(lead("A", phone=4155550123)) == ("4155550123", "+14155550123")
    assert rule.prepare(lead("A", phone=True)) is None
    evidence = rule(lead("A", phone="(415) 555-0123"), lead("B", phone="+14155550123"))
    assert evidence is not None
    assert evidence.score == 0.9


def test_same_phone_without_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without phonenumbers the phone rule is refused with MissingExtra naming the extra."""
    monkeypatch.setitem(sys.modules, "phonenumbers", None)
    monkeypatch.setattr(_normalise, "_PHONENUMBERS", None)
    with pytest.raises(MissingExtra, match=r"same_phone needs .*pip install 'funnelkit\[dedupe\]'"):
        same_phone()
    with pytest.raises(MissingExtra, match=r"funnelkit\[dedupe\]"):
        default_rules()
    assert same_email()
    assert similar_name()


# -- factories, reprs and values ------------------------------------------------------------------


@needs_phonenumbers
def test_reprs_read_like_the_calls() -> None:
    """A rule's repr is the call that builds it, defaults left out."""
    assert repr(same_email()) == "same_email()"
    assert repr(same_email("mail", plus_tags=["x.com"])) == "same_email('mail', plus_tags=['x.com'])"
    assert repr(similar_name(max_typos=2, email=None)) == "similar_name(email=None, max_typos=2)"
    assert repr(same_phone("tel", region="GB", score=0.5, name="tel")) == (
        "same_phone('tel', region='GB', score=0.5, name='tel')")
    assert repr(default_rules(phone="tel")) == "(same_email(), similar_name(), same_phone('tel'))"


@needs_phonenumbers
def test_rules_are_frozen_values() -> None:
    """Rules are immutable, compare by value and pickle."""
    rule = similar_name()
    with pytest.raises(AttributeError):
        rule.max_typos = 2  # type: ignore[misc]
    assert similar_name() == rule
    assert hash(similar_name()) == hash(rule)
    for value in (same_email(), rule, same_phone()):
        assert pickle.loads(pickle.dumps(value)) == value
    assert isinstance(same_email(), SameEmail)
    assert isinstance(same_phone(), SamePhone)
    assert isinstance(rule, SimilarName)


@pytest.mark.parametrize(("build", "message"), [
    (lambda: same_email(""), "must name a lead attribute"),
    (lambda: same_email(42), "must name a lead attribute"),  # type: ignore[arg-type]
    (lambda: same_email(dots="gmail.com"), "must be a collection of mail domains"),
    (lambda: same_email(plus_tags=["a@b.com"]), "give bare domains"),
    (lambda: same_email(score=0), "never counts"),
    (lambda: same_email(score=1.5), "from 0 to 1"),
    (lambda: same_email(score=True), "from 0 to 1"),
    (lambda: same_email(name=""), "must name a lead attribute"),
    (lambda: similar_name(email=None, company=None), "needs email or company"),
    (lambda: similar_name(max_typos=4), "from 0 .* to 3"),
    (lambda: similar_name(max_typos=1.0), "whole number"),  # type: ignore[arg-type]
    (lambda: similar_name(score=0.1, max_typos=2), "leaves nothing"),
    (lambda: similar_name(free_mail=None), "collection of mail domains"),  # type: ignore[arg-type]
], ids=lambda v: v if isinstance(v, str) else None)
def test_factories_check_their_arguments(build: object, message: str) -> None:
    """A bad option is refused when the rule is built, saying what to give instead."""
    with pytest.raises(InvalidInput, match=message):
        build()  # type: ignore[operator]


@needs_phonenumbers
def test_same_phone_checks_its_arguments() -> None:
    """The phone rule's options are checked too."""
    with pytest.raises(InvalidInput, match="two-letter country code"):
        same_phone(region="USA")
    with pytest.raises(InvalidInput, match="from 0 to 1"):
        same_phone(score=-1)


def test_calling_a_rule_needs_leads() -> None:
    """A rule called directly checks that it was given leads."""
    with pytest.raises(InvalidInput, match="compares two funnelkit.Lead values; b="):
        same_email()(lead("A"), {"email": "a@b.com"})  # type: ignore[arg-type]


# -- typos and name differences, against naive references ----------------------------------------


def naive_osa(a: str, b: str) -> int:
    """Optimal string alignment distance, the textbook table with no cut-off."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def naive_differences(a: tuple[str, ...], b: tuple[str, ...], limit: int) -> int:
    """The documented definition, every pairing tried, every word distance computed in full."""
    def word(x: str, y: str) -> int:
        if x == y:
            return 0
        if len(x) == 1 or len(y) == 1:
            return 1 if x[0] == y[0] else 10**6
        if len(x) <= 2 and len(y) <= 2:
            return 10**6
        return naive_osa(x, y)

    short, long = (a, b) if len(a) <= len(b) else (b, a)
    if not short:
        return limit + 1
    best = min(sum(word(x, y) for x, y in zip(short, paired, strict=True))
               for kept in combinations(long, len(short)) for paired in permutations(kept))
    return min(best + len(long) - len(short), limit + 1)


def test_long_names_pair_in_order_or_sorted() -> None:
    """Names of five words or more are paired word for word, in order or sorted."""
    name = ("maria", "de", "los", "angeles", "garcia")
    assert name_differences(name, ("maria", "de", "los", "angeles", "garcya"), 1) == 1
    assert name_differences(name, tuple(reversed(name)), 1) == 0
    assert name_differences(name, name[:4], 1) == 2  # five words: no word is skipped
    assert name_differences(name[:4], name[:3], 1) == 1  # four: every pairing is tried


short_words = st.text("abcde", max_size=7)


@given(short_words, short_words, st.integers(0, 4))
def test_typos_is_the_osa_distance_up_to_the_limit(a: str, b: str, limit: int) -> None:
    """typos() equals the textbook distance, answered as limit + 1 above the limit."""
    assert typos(a, b, limit) == min(naive_osa(a, b), limit + 1)


word_lists = st.lists(st.text("abjo", min_size=1, max_size=5), min_size=1, max_size=4)


@given(word_lists, word_lists, st.integers(0, 3))
def test_name_differences_match_the_definition(a: list[str], b: list[str], limit: int) -> None:
    """The fast pairing equals trying every pairing, and is symmetric."""
    expected = naive_differences(tuple(a), tuple(b), limit)
    assert name_differences(tuple(a), tuple(b), limit) == expected
    assert name_differences(tuple(b), tuple(a), limit) == expected
