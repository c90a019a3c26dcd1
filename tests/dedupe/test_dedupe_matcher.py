"""The Matcher: candidates worked by hand, stores, host rules, explain, and every input it refuses."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from _dedupe_support import lead

from funnelkit import InvalidInput, Lead, MissingExtra, Pipeline, templates
from funnelkit.dedupe import (
    Candidate,
    CandidateIterator,
    Evidence,
    Matcher,
    _normalise,
    combine,
    default_rules,
    same_email,
    same_phone,
    similar_name,
)
from funnelkit.stores import MemoryStore

# Every test here uses the default rules or the phone rule.
pytest.importorskip("phonenumbers", reason="needs phonenumbers: pip install 'funnelkit[dedupe]'")

PEOPLE = [
    lead("L1", name="Jane Doe", email="Jane.Doe@gmail.com", phone="+1 415 555 0123"),
    lead("L2", name="jane doe", email="janedoe+webinar@gmail.com"),
    lead("L3", name="Jane Do", email="jdoe@acme.com", phone="+1 (415) 555-0123"),
    lead("L4", name="Jane Doe", company="ACME Inc."),
    lead("L5", name="John Roe", email="jroe@acme.com"),
    lead("L6", name="Jane Doe", email="jane@globex.io"),
    lead("L7"),
]


def pairs(found: Any) -> dict[tuple[str, str], float]:
    return {(c.a, c.b): c.score for c in found}


def test_default_candidates_worked_by_hand() -> None:
    """One person written four ways is found pair by pair; the others are left alone."""
    assert pairs(Matcher().candidates(PEOPLE)) == {
        ("L1", "L2"): 1.0,    # one Gmail mailbox
        ("L1", "L3"): 0.9,    # one phone number
        ("L3", "L4"): 0.9,    # Jane Do / Jane Doe at acme (one typo)
    }


def test_evidence_combines_rules() -> None:
    """A pair found by two rules lists both, and scores 1 - (1 - s1)(1 - s2)."""
    a = lead("A", name="Jane Doe", email="jane@acme.com", phone="+14155550123")
    b = lead("B", name="Jane Do", company="Acme", phone="+1 415 555 0123")
    [candidate] = Matcher().candidates([a, b])
    assert [e.rule for e in candidate.evidence] == ["similar_name", "same_phone"]
    assert candidate.score == combine([0.9, 0.9]) == 0.99


def test_threshold_filters_pairs() -> None:
    """Pairs below the threshold are compared but not candidates."""
    found = Matcher(threshold=0.95).candidates(PEOPLE)
    assert pairs(found) == {("L1", "L2"): 1.0}
    assert found.compared == 3  # L1-L2 (email), L1-L3 (phone), L3-L4 (acme, "ja" and "do")


def test_candidates_from_a_store() -> None:
    """A store's leads are read through its leads() stream."""
    pipeline = Pipeline(templates.inbound(), store=MemoryStore())
    for person in PEOPLE:
        pipeline.capture(person.id, attributes=person.attributes)
    assert pairs(Matcher().candidates(pipeline.store)) == pairs(Matcher().candidates(PEOPLE))


def test_candidate_iterator_counts() -> None:
    """The iterator counts leads, blocks and compared pairs, and iterates once."""
    found = Matcher([same_email()]).candidates(PEOPLE)
    assert isinstance(found, CandidateIterator)
    assert (found.leads, found.blocks, found.largest_block, found.compared) == (7, 1, 2, 0)
    assert iter(found) is found
    assert [(c.a, c.b) for c in found] == [("L1", "L2")]
    assert found.compared == 1
    assert list(found) == []
    assert repr(found) == "<CandidateIterator leads=7 blocks=1 largest_block=2 compared=1>"


def test_no_leads_and_no_shared_keys() -> None:
    """No leads, one lead or leads sharing nothing compare nothing."""
    assert list(Matcher().candidates([])) == []
    assert list(Matcher().candidates([PEOPLE[0]])) == []
    found = Matcher().candidates(iter([PEOPLE[0], PEOPLE[5]]))
    assert list(found) == []
    assert found.compared == 0
    assert found.blocks == 0


def test_each_pair_is_compared_once() -> None:
    """Leads sharing keys of several rules are compared once, with every rule they share."""
    a = lead("A", name="Ann Lee", email="ann@acme.com", phone="+14155550123")
    b = lead("B", name="Ann Lee", email="Ann@acme.com", phone="+1 415 555 0123")
    found = Matcher().candidates([b, a])
    [candidate] = found
    assert found.compared == 1
    assert (candidate.a, candidate.b) == ("A", "B")
    assert [e.rule for e in candidate.evidence] == ["same_email", "similar_name", "same_phone"]


# -- explain --------------------------------------------------------------------------------------


def test_explain_lists_every_rule() -> None:
    """explain gives one piece of evidence per rule, in rule order, each saying why."""
    pair = Matcher().explain(PEOPLE[3], PEOPLE[2])
    assert (pair.a, pair.b, pair.score) == ("L3", "L4", 0.9)
    assert [(e.rule, e.score) for e in pair.evidence] == [
        ("same_email", 0.0), ("similar_name", 0.9), ("same_phone", 0.0)]
    assert pair.evidence[0].detail == "nothing to compare: lead 'L4' gives this rule nothing to read"
    assert pair.evidence[2].detail == (
        "nothing to compare: lead 'L4' gives this rule nothing to read")
    nobody = Matcher().explain(PEOPLE[6], PEOPLE[5])
    assert nobody.evidence[0].detail == (
        "nothing to compare: lead 'L7' gives this rule nothing to read")
    both = Matcher([same_phone()]).explain(PEOPLE[4], PEOPLE[6])
    assert both.evidence[0].detail == (
        "nothing to compare: leads 'L5' and 'L7' give this rule nothing to read")


def test_explain_is_symmetric_and_agrees_with_candidates() -> None:
    """explain(a, b) == explain(b, a), and its score is the candidate's."""
    matcher = Matcher()
    for candidate in matcher.candidates(PEOPLE):
        by_id = {p.id: p for p in PEOPLE}
        a, b = by_id[candidate.a], by_id[candidate.b]
        assert matcher.explain(a, b) == matcher.explain(b, a)
        explained = matcher.explain(b, a)
        assert explained.score == candidate.score
        assert [e for e in explained.evidence if e.score > 0] == list(candidate.evidence)


class _Broken:
    """A host rule that scores pairs sharing none of its keys: it breaks the blocking promise."""

    name = "broken"

    def prepare(self, lead: Lead) -> str | None:
        value = lead.attributes.get("email")
        return value if isinstance(value, str) else None

    def keys(self, prepared: str) -> list[str]:
        return [prepared]

    def compare(self, a: str, b: str) -> Evidence:
        return Evidence(self.name, 0.5, f"{a} ~ {b}")


def test_evidence_outside_the_keys_is_not_counted() -> None:
    """explain shows, and does not count, evidence the blocking could never have found."""
    matcher = Matcher([_Broken()])
    pair = matcher.explain(PEOPLE[0], PEOPLE[4])
    assert pair.score == 0.0
    assert pair.evidence[0].detail.endswith(
        "(not counted: the leads share none of this rule's blocking keys, so candidates() never "
        "compares them)")
    assert list(matcher.candidates(PEOPLE)) == []


# -- host rules -----------------------------------------------------------------------------------


class SameCrmId:
    """The smallest host rule: one key, one score."""

    name = "same_crm_id"

    def prepare(self, lead: Lead) -> str | None:
        value = lead.attributes.get("crm_id")
        return value if isinstance(value, str) else None

    def keys(self, prepared: str) -> tuple[str]:
        return (prepared,)

    def compare(self, a: str, b: str) -> Evidence | None:
        return Evidence(self.name, 0.99, f"one CRM id: {a}") if a == b else None


def test_host_rules_compose_with_shipped_ones() -> None:
    """A host rule's evidence combines with the shipped rules' and explain reports None as 0."""
    leads = [lead("A", crm_id="C1", email="a@acme.com"), lead("B", crm_id="C1"),
             lead("C", crm_id="C2", email="A@acme.com")]
    matcher = Matcher([SameCrmId(), same_email()])
    assert pairs(matcher.candidates(leads)) == {("A", "B"): 0.99, ("A", "C"): 1.0}
    pair = matcher.explain(leads[1], leads[2])
    assert pair.evidence[0] == Evidence("same_crm_id", 0.0, "no match")


class _Answers(SameCrmId):
    def __init__(self, answer: object, keys: object = ("k",)) -> None:
        self.answer, self._keys = answer, keys

    def keys(self, prepared: str) -> Any:
        return self._keys

    def compare(self, a: str, b: str) -> Any:
        return self.answer


@pytest.mark.parametrize(("rule", "message"), [
    (_Answers(0.5), r"compare returned 0.5; return Evidence\('same_crm_id', score, detail\)"),
    (_Answers(Evidence("other", 0.5, "x")), "compare returned Evidence.*'other'"),
    (_Answers(None, keys=[["unhashable"]]), "keys must be an iterable of hashable values"),
    (_Answers(None, keys=42), "keys must be an iterable of hashable values"),
])
def test_a_host_rule_answering_wrongly_is_named(rule: object, message: str) -> None:
    """A host rule giving wrong keys or evidence is refused with its name and what to return."""
    leads = [lead("A", crm_id="C1"), lead("B", crm_id="C1")]
    with pytest.raises(InvalidInput, match=message):
        list(Matcher([rule]).candidates(leads))  # type: ignore[list-item]
    with pytest.raises(InvalidInput, match=message):
        Matcher([rule]).explain(*leads)  # type: ignore[list-item]


# -- checked input --------------------------------------------------------------------------------


class _NoCompare:
    name = "half"

    def prepare(self, lead: Lead) -> None:
        return None

    def keys(self, prepared: object) -> tuple[()]:
        return ()


@pytest.mark.parametrize(("rules", "message"), [
    ([], "nothing to match on"),
    ("same_email", "must be a list of rules"),
    (same_email(), "must be a list of rules"),
    ({"email": same_email()}, "must be a list of rules"),
    (42, "must be a list of rules"),
    ([same_email(), same_email()], "both named 'same_email'"),
    ([object()], r"rules\[0\]=.* has no name"),
    ([_NoCompare()], r"rule 'half' \(rules\[0\]\) has no compare method"),
], ids=["empty", "str", "one-rule", "mapping", "int", "duplicate-name", "no-name", "no-compare"])
def test_matcher_checks_its_rules(rules: object, message: str) -> None:
    """Bad rules are refused when the matcher is built, saying what a rule needs."""
    with pytest.raises(InvalidInput, match=message):
        Matcher(rules)  # type: ignore[arg-type]


@pytest.mark.parametrize("threshold", [0, -0.1, 1.01, float("nan"), "0.8", True, None])
def test_matcher_checks_its_threshold(threshold: object) -> None:
    """The threshold is a number above 0, at most 1."""
    with pytest.raises(InvalidInput, match="threshold"):
        Matcher(threshold=threshold)  # type: ignore[arg-type]


@pytest.mark.parametrize(("leads", "message"), [
    (PEOPLE[0], "got one lead, 'L1': put it in a list"),
    ("L1", "not str 'L1'"),
    ({"L1": PEOPLE[0]}, "pass the mapping's values()"),
    (42, r"store \(with leads\(\)\) or an iterable of leads; got 42"),
    ([PEOPLE[0], {"id": "L2"}], "takes funnelkit.Lead values; item 1 is"),
    ([PEOPLE[0], PEOPLE[1], PEOPLE[0]], r"lead 'L1' is given twice \(items 0 and 2\)"),
], ids=["one-lead", "str", "mapping", "int", "not-a-lead", "twice"])
def test_candidates_checks_its_leads(leads: object, message: str) -> None:
    """Bad leads are refused when candidates is called, before anything is compared."""
    with pytest.raises(InvalidInput, match=message):
        Matcher().candidates(leads)  # type: ignore[arg-type]


def test_explain_and_blocking_keys_check_their_leads() -> None:
    """explain needs two different leads; blocking_keys one lead."""
    with pytest.raises(InvalidInput, match="got lead 'L1' twice"):
        Matcher().explain(PEOPLE[0], PEOPLE[0])
    with pytest.raises(InvalidInput, match="b=.* is not a funnelkit.Lead"):
        Matcher().explain(PEOPLE[0], "L2")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="lead=None is not a funnelkit.Lead"):
        Matcher().blocking_keys(None)  # type: ignore[arg-type]


def test_blocking_keys_and_repr() -> None:
    """blocking_keys shows each rule's keys; the repr is the call that builds the matcher."""
    matcher = Matcher()
    assert matcher.blocking_keys(PEOPLE[2]) == {
        "same_email": ("jdoe@acme.com",),
        "similar_name": (("acme", "do"), ("acme", "ja")),
        "same_phone": ("+14155550123",),
    }
    assert matcher.blocking_keys(PEOPLE[6]) == {"same_email": (), "similar_name": (),
                                                "same_phone": ()}
    assert repr(matcher) == (
        "Matcher([same_email(), similar_name(), same_phone()], threshold=0.8)")
    assert matcher.rules == default_rules()
    assert matcher.threshold == 0.8


def test_matcher_without_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Matcher() needs the phone rule's extra, and says how to do without it."""
    monkeypatch.setitem(sys.modules, "phonenumbers", None)
    monkeypatch.setattr(_normalise, "_PHONENUMBERS", None)
    with pytest.raises(MissingExtra, match=r"pip install 'funnelkit\[dedupe\]', or give the rules"):
        Matcher()
    assert pairs(Matcher([same_email(), similar_name()]).candidates(PEOPLE)) == {
        ("L1", "L2"): 1.0, ("L3", "L4"): 0.9}


# -- values ---------------------------------------------------------------------------------------


def test_values_check_their_fields() -> None:
    """Evidence and Candidate refuse impossible fields with a message naming the field."""
    with pytest.raises(InvalidInput, match="Evidence score=2"):
        Evidence("r", 2, "x")
    with pytest.raises(InvalidInput, match="Evidence rule=''"):
        Evidence("", 0.5, "x")
    with pytest.raises(InvalidInput, match="Evidence detail=None"):
        Evidence("r", 0.5, None)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="pairs two different leads"):
        Candidate("L1", "L1", 1.0)
    with pytest.raises(InvalidInput, match="takes Evidence values"):
        Candidate("L1", "L2", 1.0, ["x"])  # type: ignore[list-item]
    with pytest.raises(InvalidInput, match="must be a sequence of Evidence"):
        Candidate("L1", "L2", 1.0, Evidence("r", 1, "x"))  # type: ignore[arg-type]
    assert Candidate("L1", "L2", 1).score == 1.0


def test_import_is_standard_library_only() -> None:
    """Importing funnelkit.dedupe loads no third-party package beyond funnelkit's own, and no
    layer above the values and the store protocol."""
    code = (
        "import sys; before = set(sys.modules); import funnelkit; core = set(sys.modules)\n"
        "import funnelkit.dedupe\n"
        "new = sorted(m for m in set(sys.modules) - core if not m.startswith('funnelkit.dedupe'))\n"
        "stdlib = sys.stdlib_module_names\n"
        "print([m for m in new if m.split('.')[0] not in stdlib])\n"
        "print([m for m in sys.modules if m.startswith(('phonenumbers', 'funnelkit.pipeline',"
        " 'funnelkit._pipeline.pipeline', 'funnelkit.analytics', 'funnelkit.cli', 'funnelkit.stores'))])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.splitlines() == ["[]", "[]"]
