"""A host-written policy (the one in docs/policies.md) works everywhere a built-in one does."""

from __future__ import annotations

import pytest
from _policy_support import AT, context, lead

from funnelkit import Context, Decision, Funnel, Lead, PolicyRefused, Verdict
from funnelkit.policies import all_of, k_of_n, not_

TARGET_ACCOUNTS = {"acme.example", "globex.example"}


def target_account(lead: Lead, context: Context) -> Decision:
    """Allow leads whose email domain is on the target account list."""
    email = lead.attributes.get("email")
    if email is None:
        return Decision(False, criteria=[Verdict("target account", "unknown", None)],
                        reasons=["target account: no email yet"], policy="target_account@1")
    domain = email.rpartition("@")[2].lower()
    if domain in TARGET_ACCOUNTS:
        return Decision.allow(criteria=[Verdict("target account", "met", domain)], policy="target_account@1")
    return Decision.deny(f"target account: {domain} is not on the list",
                         criteria=[Verdict("target account", "failed", domain)], policy="target_account@1")


def test_custom_policy_decides_and_explains() -> None:
    """The documented custom policy allows listed domains and explains unknown and failed leads."""
    assert target_account(lead({"email": "cto@ACME.example"}), context()).allowed
    assert target_account(lead({}), context()).reasons == ("target account: no email yet",)
    assert target_account(lead({"email": "a@b.example"}), context()).criteria[0].status == "failed"


def test_custom_policy_combines_with_built_ins() -> None:
    """A plain function mixes with rule strings in combinators, merging its verdicts."""
    policy = all_of(target_account, "employees >= 50")
    d = policy(lead({"email": "x@globex.example", "employees": 10}), context())
    assert not d.allowed
    assert [v.status for v in d.criteria] == ["met", "failed"]
    assert d.policy == "all_of(target_account, rule)"
    assert not_(target_account)(lead({"email": "x@b.example"}), context()).allowed
    assert k_of_n(1, target_account, "employees >= 50")(lead({"employees": 60}), context()).allowed


def test_custom_policy_guards_a_move() -> None:
    """Funnel.fire runs the custom policy and raises PolicyRefused with its reasons."""
    funnel = (Funnel.builder("abm").stage("lead", "marketing").stage("mql", "marketing")
              .stage("won", "sales", outcome="won")
              .move("qualify", "lead", "mql", policy=target_account).move("win", "mql", "won").build())
    ok = funnel.fire(funnel.new_lead("L1", at=AT, attributes={"email": "a@acme.example"}), "qualify", at=AT)
    assert ok.transition.decision.policy == "target_account@1"
    with pytest.raises(PolicyRefused) as info:
        funnel.fire(funnel.new_lead("L2", at=AT), "qualify", at=AT)
    assert info.value.reasons == ("target account: no email yet",)
    assert funnel.to_dict()["moves"][0]["policy"] == {"repr": repr(target_account)}
