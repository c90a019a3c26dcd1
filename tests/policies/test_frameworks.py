"""Qualification frameworks: BANT, CHAMP, ANUM, MEDDIC, MEDDPICC, GPCTBA/C&I and custom checklists."""

from __future__ import annotations

from typing import Any

import pytest
from _policy_support import context, lead
from hypothesis import given
from hypothesis import strategies as st

from funnelkit import InvalidPolicy
from funnelkit.policies import (
    FRAMEWORKS,
    anum,
    bant,
    champ,
    checklist,
    from_name,
    gpctba,
    judge,
    meddic,
    meddpicc,
)

FACTORIES = {"bant": bant, "champ": champ, "anum": anum, "meddic": meddic, "meddpicc": meddpicc,
             "gpctba": gpctba}

# The criteria each framework must check, in order (the docs' tables show the same).
EXPECTED = {
    "bant": ["budget", "authority", "need", "timeline"],
    "champ": ["challenges", "authority", "money", "prioritization"],
    "anum": ["authority", "need", "urgency", "money"],
    "meddic": ["metrics", "economic_buyer", "decision_criteria", "decision_process", "identify_pain",
               "champion"],
    "meddpicc": ["metrics", "economic_buyer", "decision_criteria", "decision_process", "paper_process",
                 "identify_pain", "champion", "competition"],
    "gpctba": ["goals", "plans", "challenges", "timeline", "budget", "authority",
               "negative_consequences", "positive_implications"],
}


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_framework_checks_its_criteria_in_order(name: str) -> None:
    """Each framework judges exactly its published criteria, in order, and allows when all are met."""
    policy = FACTORIES[name]()
    assert [c for c, _ in policy.criteria] == EXPECTED[name] == list(FRAMEWORKS[name].criteria)
    decision = policy(lead(dict.fromkeys(EXPECTED[name], "yes")), context())
    assert decision.allowed
    assert [v.name for v in decision.criteria] == EXPECTED[name]
    assert decision.policy == f"{name}@1"
    assert decision.score == 1.0


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_missing_attributes_are_unknown_never_a_crash(name: str) -> None:
    """With no attributes every criterion is unknown, each reason naming its attribute."""
    decision = FACTORIES[name]()(lead({}), context())
    assert not decision.allowed
    assert {v.status for v in decision.criteria} == {"unknown"}
    for criterion in EXPECTED[name]:
        assert any(f"attribute {criterion!r} is missing" in r for r in decision.reasons)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_attribute_names_are_configurable(name: str) -> None:
    """Every criterion can read an attribute of another name."""
    renamed = {c: f"crm_{c}" for c in EXPECTED[name]}
    policy = FACTORIES[name](**renamed)
    assert policy(lead({f"crm_{c}": True for c in EXPECTED[name]}), context()).allowed
    assert from_name(name, **renamed) == policy
    assert policy.to_data() == {"use": name, "params": renamed}


def test_pass_rules_k_of_n_and_required() -> None:
    """min_met needs k criteria met; required names must be met; partial counts as not met."""
    attrs = {"budget": 20_000, "authority": "vp sales", "need": "partial", "timeline": None}
    assert not bant()(lead(attrs), context()).allowed
    assert bant(min_met=2)(lead(attrs), context()).allowed
    assert not bant(min_met=3)(lead(attrs), context()).allowed
    assert bant(required=["budget", "authority"])(lead(attrs), context()).allowed
    refused = bant(min_met=2, required=["need"])(lead(attrs), context())
    assert not refused.allowed
    assert "required criteria not met: need" in refused.reasons
    assert refused.score == pytest.approx((2 + 0.5) / 4)


def test_min_budget_fails_small_budgets() -> None:
    """With min_budget, a numeric budget (or money) under it fails with a reason saying so."""
    d = bant(min_budget=10_000)(lead({"budget": 5000, "authority": 1, "need": 1, "timeline": 1}), context())
    assert [v.status for v in d.criteria] == ["failed", "met", "met", "met"]
    assert d.reasons[0] == "budget: under the minimum budget 10000 (budget=5000)"
    assert champ(min_budget=10)(lead({"money": 20, "challenges": 1, "authority": 1,
                                      "prioritization": 1}), context()).allowed


@pytest.mark.parametrize(
    ("value", "status"),
    [(True, "met"), (False, "failed"), (None, "unknown"), ("", "unknown"), ("  ", "unknown"),
     (0, "failed"), (-5, "failed"), (3, "met"), (float("nan"), "unknown"), ("Yes", "met"),
     ("confirmed", "met"), ("in progress", "partial"), ("partly", "partial"), ("No", "failed"),
     ("none", "failed"), ("TBD", "unknown"), ("?", "unknown"), ("Jane Doe, CFO", "met"),
     ([], "failed"), (["cfo"], "met")],
)
def test_judge_reads_values(value: Any, status: str) -> None:
    """Booleans, numbers, yes/partial/no words and free text map to the documented statuses."""
    assert judge(value) == status


class _Weird:
    def __bool__(self) -> bool:
        raise RuntimeError("no truth here")


def test_judge_survives_hostile_values() -> None:
    """A host value whose truth test raises is unknown, not a crash."""
    assert judge(_Weird()) == "unknown"


@given(st.dictionaries(st.sampled_from(EXPECTED["meddpicc"]),
                       st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5),
                                 st.lists(st.integers(), max_size=2))))
def test_any_attribute_values_give_a_decision(attrs: dict[str, Any]) -> None:
    """Whatever the attribute values, a framework returns one verdict per criterion and a reason per miss."""
    d = meddpicc(min_met=5)(lead(attrs), context())
    assert len(d.criteria) == 8
    misses = [v for v in d.criteria if v.status != "met"]
    assert len([r for r in d.reasons if ":" in r and not r[0].isdigit()]) >= len(misses)
    assert d.allowed == (sum(v.status == "met" for v in d.criteria) >= 5)


@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        (lambda: bant(min_met=0), "min_met"),
        (lambda: bant(min_met=5), "min_met"),
        (lambda: bant(min_met=2.5), "min_met"),
        (lambda: bant(required=["money"]), "not a criterion"),
        (lambda: bant(required="budget"), "list of criterion names"),
        (lambda: bant(budget=""), "budget"),
        (lambda: bant(budget=3), "budget"),
        (lambda: bant(min_budget=float("nan")), "min_budget"),
        (lambda: gpctba(min_budget=-1), "min_budget"),
        (lambda: checklist("", ["a"]), "name"),
        (lambda: checklist("x", []), "at least one"),
        (lambda: checklist("x", "abc"), "criteria"),
        (lambda: checklist("x", ["a", "a"]), "repeat"),
        (lambda: checklist("x", ["a"], version=0), "version"),
    ],
)
def test_bad_parameters_are_refused_when_built(build: Any, fragment: str) -> None:
    """Wrong types and impossible pass rules raise InvalidPolicy when the policy is built."""
    with pytest.raises(InvalidPolicy, match=fragment):
        build()


def test_reprs_read_like_the_call() -> None:
    """Framework policies show the factory call that built them."""
    assert repr(bant()) == "bant()"
    assert repr(meddic(champion="coach", min_met=5)) == "meddic(champion='coach', min_met=5)"
    assert repr(checklist("icp", {"size": "employees"})) == "checklist('icp', {'size': 'employees'})"


def test_custom_checklist_round_trips_through_load() -> None:
    """checklist() policies write a data form that from_name() rebuilds equal."""
    policy = checklist("icp", {"size": "employees", "region": "country"}, required=["region"])
    data = policy.to_data()
    assert data["use"] == "checklist"
    assert from_name(data["use"], **data["params"]) == policy
    assert policy(lead({"country": "de"}), context()).allowed
