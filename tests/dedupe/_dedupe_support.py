"""Shared helpers of the dedupe tests: leads from attributes, and small messy lead sets."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import combinations
from typing import Any

import pytest
from hypothesis import strategies as st

from funnelkit import Lead
from funnelkit.dedupe import Matcher, combine

AT = datetime(2026, 3, 2, 9, tzinfo=UTC)

try:
    import phonenumbers  # noqa: F401 - only whether it is installed
except ImportError:
    HAVE_PHONENUMBERS = False
else:
    HAVE_PHONENUMBERS = True
#: Tests of the phone rule, and of the default rules, which include it.
needs_phonenumbers = pytest.mark.skipif(
    not HAVE_PHONENUMBERS, reason="needs phonenumbers: pip install 'funnelkit[dedupe]'")


def lead(lead_id: str, **attributes: Any) -> Lead:
    return Lead(lead_id, "lead", created_at=AT, attributes=attributes)


def brute_force(matcher: Matcher, leads: list[Lead]) -> dict[tuple[str, str], float]:
    """Every pair scoring at least the threshold, found by comparing every pair with every rule.

    The independent reference of the blocking: no keys, no blocks, no CandidateIterator; each
    rule's prepare and compare on both leads (smaller id first), combined in rule order.
    """
    found: dict[tuple[str, str], float] = {}
    for x, y in combinations(leads, 2):
        a, b = (x, y) if x.id < y.id else (y, x)
        scores = []
        for rule in matcher.rules:
            pa, pb = rule.prepare(a), rule.prepare(b)
            if pa is None or pb is None:
                continue
            evidence = rule.compare(pa, pb)
            if evidence is not None:
                scores.append(evidence.score)
        score = combine(scores)
        if score and score >= matcher.threshold:
            found[(a.id, b.id)] = score
    return found


# Small pools, so that random leads collide: the same person written several ways.
FIRST = ["john", "jon", "joan", "ann", "anne", "anna", "li", "lu", "j", "maria", "marie", "bo"]
LAST = ["smith", "smyth", "smiht", "lee", "li", "o'brien", "obrien", "müller", "muller", "x"]
LOCALS = ["jo.doe", "jodoe", "j.o.doe", "jodoe+news", "JoDoe", "ann", "ann+x", "a.nn", "li"]
DOMAINS = ["gmail.com", "GoogleMail.com", "acme.com", "ACME.com", "acme.co.uk", "outlook.com",
           "globex.io", "yahoo.com"]
COMPANIES = ["Acme", "ACME Inc.", "acme.com", "https://www.acme.com/", "Globex GmbH", "Initech",
             "", "  "]
PHONES = ["+1 415 555 0123", "+1 (415) 555-0123", "+14155550123", "+1.415.555.0124",
          "+44 20 7946 0958", "+44 (0)20 7946 0958", "020 7946 0958", "+1 415 555 0123 x12",
          "not a phone", "12"]


@st.composite
def names(draw: st.DrawFn) -> str:
    words = draw(st.lists(st.sampled_from(FIRST + LAST), min_size=1, max_size=3))
    text = " ".join(words)
    return draw(st.sampled_from([text, text.title(), text.upper(), ", ".join(reversed(words))]))


@st.composite
def attribute_sets(draw: st.DrawFn) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    if draw(st.booleans()):
        attributes["name"] = draw(names())
    if draw(st.integers(0, 3)):
        attributes["email"] = f"{draw(st.sampled_from(LOCALS))}@{draw(st.sampled_from(DOMAINS))}"
    if draw(st.booleans()):
        attributes["company"] = draw(st.sampled_from(COMPANIES))
    if draw(st.booleans()):
        attributes["phone"] = draw(st.sampled_from(PHONES))
    if draw(st.integers(0, 9)) == 0:  # messy data: values of the wrong type are ignored
        attributes[draw(st.sampled_from(["name", "email", "company", "phone"]))] = draw(
            st.sampled_from([None, 42, ["x"], 4155550123]))
    return attributes


@st.composite
def lead_sets(draw: st.DrawFn, *, min_size: int = 0, max_size: int = 12) -> list[Lead]:
    """Leads with distinct ids (not in id order) whose attributes often describe one person."""
    attributes = draw(st.lists(attribute_sets(), min_size=min_size, max_size=max_size))
    ids = draw(st.permutations([f"L{i:02d}" for i in range(len(attributes))]))
    return [lead(lead_id, **a) for lead_id, a in zip(ids, attributes, strict=True)]
