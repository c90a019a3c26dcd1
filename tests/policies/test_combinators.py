"""Combinators: all_of, any_of, not_, k_of_n obey boolean algebra and merge their explanations."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest
from _policy_support import constant, constant_policies, context, lead
from hypothesis import given
from hypothesis import strategies as st

from funnelkit import Decision, InvalidPolicy
from funnelkit.policies import all_of, any_of, bant, k_of_n, not_, rule
from funnelkit.scoring import FitRule, ScoringModel


def allowed(policy: Any) -> bool:
    """Whether *policy* allows the test lead."""
    decision = policy(lead({"budget": 5}), context())
    assert type(decision) is Decision
    return bool(decision.allowed)


@given(constant_policies, constant_policies)
def test_de_morgan(a: Any, b: Any) -> None:
    """not (a and b) == (not a) or (not b), and not (a or b) == (not a) and (not b)."""
    assert allowed(not_(all_of(a, b))) == allowed(any_of(not_(a), not_(b)))
    assert allowed(not_(any_of(a, b))) == allowed(all_of(not_(a), not_(b)))


@given(constant_policies)
def test_idempotence_and_double_negation(a: Any) -> None:
    """a and a == a, a or a == a, not not a == a."""
    assert allowed(all_of(a, a)) == allowed(a) == allowed(any_of(a, a)) == allowed(not_(not_(a)))


@given(st.lists(constant_policies, min_size=1, max_size=5), st.data())
def test_k_of_n_between_any_and_all(policies: list[Any], data: st.DataObject) -> None:
    """k_of_n(1) is any_of, k_of_n(n) is all_of, and any k counts allowing policies."""
    n = len(policies)
    assert allowed(k_of_n(1, *policies)) == allowed(any_of(*policies))
    assert allowed(k_of_n(n, *policies)) == allowed(all_of(*policies))
    k = data.draw(st.integers(1, n))
    assert allowed(k_of_n(k, *policies)) == (sum(allowed(p) for p in policies) >= k)


@given(constant_policies, constant_policies, constant_policies)
def test_associativity_and_commutativity(a: Any, b: Any, c: Any) -> None:
    """Grouping and order do not change all_of or any_of."""
    assert allowed(all_of(a, all_of(b, c))) == allowed(all_of(all_of(a, b), c)) == allowed(all_of(c, b, a))
    assert allowed(any_of(a, any_of(b, c))) == allowed(any_of(any_of(a, b), c)) == allowed(any_of(c, a, b))


def test_criteria_and_reasons_are_merged() -> None:
    """Combinators keep every part's criteria and reasons, in order."""
    policy = all_of("budget > 10", "role == 'cto'", bant())
    d = policy(lead({"budget": 5}), context())
    assert [v.name for v in d.criteria][:2] == ["budget > 10", "role == 'cto'"]
    assert len(d.criteria) == 6
    assert d.reasons[0] == "budget > 10: not met (budget=5)"
    assert any("'role' is missing" in r for r in d.reasons)
    assert d.policy == "all_of(rule, rule, bant@1)"


def test_not_explains_a_refusal() -> None:
    """not_ refuses when its policy allows, saying so, and keeps the inner criteria."""
    d = not_("budget > 1")(lead({"budget": 5}), context())
    assert not d.allowed
    assert d.reasons == ("rule allowed, and not_(rule) needs it to refuse",)
    assert d.criteria[0].status == "met"
    assert not_("budget > 10")(lead({"budget": 5}), context()).allowed


def test_k_of_n_says_how_many() -> None:
    """A k_of_n refusal says how many passed and how many were needed."""
    d = k_of_n(2, constant(True), constant(False), constant(False, "z"))(lead(), context())
    assert not d.allowed
    assert d.reasons[-1] == "1 of 3 policies allowed; 2 needed"


def test_reprs_and_labels() -> None:
    """Combinators have readable reprs and labels built from their parts."""
    assert repr(all_of("a > 1", bant())) == "all_of(rule('a > 1'), bant())"
    assert repr(k_of_n(1, "a > 1")) == "k_of_n(1, rule('a > 1'))"
    assert repr(not_(any_of("a > 1"))) == "not_(any_of(rule('a > 1')))"
    assert k_of_n(1, constant(True, "mine")).label == "k_of_n(1, mine)"


@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        (all_of, "at least 1"),
        (lambda: any_of(42), "not a policy"),
        (lambda: not_(None), "not a policy"),
        (lambda: k_of_n(0, "a > 1"), "from 1 to 1"),
        (lambda: k_of_n(3, "a > 1", "b > 1"), "from 1 to 2"),
        (lambda: k_of_n("2", "a > 1", "b > 1"), "whole number"),
        (lambda: all_of("a >"), "ends too early"),
        (lambda: any_of({"use": "nope"}), "no policy called 'nope'"),
    ],
)
def test_bad_combinations_are_refused_when_built(build: Any, fragment: str) -> None:
    """Empty combinators, non-policies and impossible k raise InvalidPolicy at build time."""
    with pytest.raises(InvalidPolicy, match=fragment):
        build()


def test_a_part_returning_garbage_is_reported() -> None:
    """A part that returns something other than a Decision raises InvalidPolicy naming it."""
    with pytest.raises(InvalidPolicy, match="must return a funnelkit.Decision"):
        all_of(lambda lead, ctx: True)(lead(), context())


def test_data_forms() -> None:
    """Combinators of data-form policies write nested data; others write a repr."""
    policy = k_of_n(1, "a > 1", not_(bant(min_met=2)))
    assert policy.to_data() == {"use": "k_of_n", "params": {"k": 1, "policies": [
        "a > 1", {"use": "not", "params": {"policy": {"use": "bant", "params": {"min_met": 2}}}}]}}
    opaque = all_of(constant(True))
    assert "repr" in opaque.to_data()
    assert "repr" in not_(constant(True)).to_data()
    assert rule("a > 1") == rule("a > 1")


def test_policies_pickle_and_copy() -> None:
    """Policies (compiled rules included) survive pickle and deepcopy, equal to the original."""
    model = ScoringModel([FitRule("a > 1", 2)], half_life="1 month")
    for policy in (rule("a > 1 and b in ('x',)"), bant(min_met=2), all_of("a > 1", not_(bant())),
                   k_of_n(1, "a > 1", rule("score > 1", model=model))):
        for clone in (pickle.loads(pickle.dumps(policy)), copy.deepcopy(policy)):
            assert clone == policy
            assert clone(lead({"a": 2, "b": "x"}), context()).allowed == policy(
                lead({"a": 2, "b": "x"}), context()).allowed
