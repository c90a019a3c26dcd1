"""Properties of candidates on small random lead sets, against comparing every pair."""

from __future__ import annotations

import pytest
from _dedupe_support import brute_force, lead_sets
from hypothesis import given
from hypothesis import strategies as st

from funnelkit.dedupe import Matcher, same_email, same_phone, similar_name

# Every test here uses the default rules or the phone rule.
pytest.importorskip("phonenumbers", reason="needs phonenumbers: pip install 'funnelkit[dedupe]'")

MATCHERS = {
    "default": Matcher(),
    "high threshold": Matcher(threshold=0.95),
    "standard library": Matcher([same_email(dots=(), plus_tags=()), similar_name(email=None)]),
    "loose names": Matcher([similar_name(max_typos=3, score=0.6), same_phone(region="GB")],
                           threshold=0.5),
}
matchers = st.sampled_from(list(MATCHERS.values()))


@given(matchers, lead_sets())
def test_blocking_finds_what_comparing_every_pair_finds(matcher: Matcher, leads: list) -> None:
    """Candidates are exactly the pairs a brute-force comparison scores at the threshold."""
    found = matcher.candidates(leads)
    candidates = {(c.a, c.b): c.score for c in found}
    assert candidates == brute_force(matcher, leads)
    assert found.compared <= len(leads) * (len(leads) - 1) // 2


@given(matchers, lead_sets())
def test_candidates_are_pairs_of_two_leads_once(matcher: Matcher, leads: list) -> None:
    """Never a lead with itself, a before b, each pair once, only ids given."""
    ids = {lead.id for lead in leads}
    candidates = list(matcher.candidates(leads))
    keys = [(c.a, c.b) for c in candidates]
    assert len(keys) == len(set(keys))
    for c in candidates:
        assert c.a < c.b
        assert {c.a, c.b} <= ids
        assert c.score >= matcher.threshold
        assert c.evidence
        assert all(e.score > 0 for e in c.evidence)


@given(matchers, lead_sets(), st.randoms(use_true_random=False))
def test_candidates_do_not_depend_on_order(matcher: Matcher, leads: list, rng: object) -> None:
    """Shuffling the leads gives the same candidates: matching is symmetric."""
    shuffled = list(leads)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    assert set(matcher.candidates(shuffled)) == set(matcher.candidates(leads))


@given(matchers, lead_sets(min_size=2))
def test_explain_agrees_with_candidates(matcher: Matcher, leads: list) -> None:
    """explain is symmetric and gives each candidate's score and evidence."""
    by_id = {lead.id: lead for lead in leads}
    for c in matcher.candidates(leads):
        explained = matcher.explain(by_id[c.b], by_id[c.a])
        assert explained == matcher.explain(by_id[c.a], by_id[c.b])
        assert explained.score == c.score
        assert tuple(e for e in explained.evidence if e.score > 0) == c.evidence
    a, b = leads[0], leads[1]
    assert matcher.explain(a, b) == matcher.explain(b, a)
