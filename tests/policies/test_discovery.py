"""Discovery: policies.from_name, third-party entry points, and policies in Funnel data."""

from __future__ import annotations

import sys
import textwrap
from typing import TYPE_CHECKING, Any

import pytest
from _policy_support import AT, context, lead

from funnelkit import Funnel, InvalidFunnel, InvalidPolicy, PolicyRefused, RuleSyntaxError
from funnelkit._policy.policies import policy_from_data
from funnelkit.policies import ENTRY_POINT_GROUP, available, bant, from_name, rule

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def test_builtins_are_available() -> None:
    """available() lists every built-in policy name."""
    names = available()
    for name in ("bant", "champ", "anum", "meddic", "meddpicc", "gpctba", "rule", "score_at_least",
                 "fit_engagement_grid", "all_of", "any_of", "not", "k_of_n", "checklist"):
        assert name in names
    assert list(names) == sorted(names)


def test_not_has_one_data_name() -> None:
    """The combinator's data name is 'not' (not_ is only its Python spelling); the old name
    'not_' still loads, for one release, with a DeprecationWarning naming the new one."""
    assert "not" in available()
    assert "not_" not in available()
    assert from_name("not", policy="a > 1").to_data() == {"use": "not", "params": {"policy": "a > 1"}}
    with pytest.warns(DeprecationWarning, match="'not_' is deprecated .*; use 'not'"):
        old = from_name("not_", policy="a > 1")
    assert old == from_name("not", policy="a > 1")
    with pytest.warns(DeprecationWarning, match="'not_' is deprecated"):
        from_data = policy_from_data({"use": "not_", "params": {"policy": "a > 1"}}, path="p")
    assert from_data == old


def test_from_name_builds_built_ins() -> None:
    """from_name(name, **params) builds the same policy as calling the factory."""
    assert from_name("bant", min_met=3) == bant(min_met=3)
    assert from_name("rule", text="a > 1") == rule("a > 1")
    assert from_name("all_of", policies=["a > 1", {"use": "bant"}]).to_data() == {
        "use": "all_of", "params": {"policies": ["a > 1", {"use": "bant", "params": {}}]}}


def test_unknown_name_lists_what_is_available() -> None:
    """An unknown policy name raises InvalidPolicy listing the available names and the group."""
    with pytest.raises(InvalidPolicy) as info:
        from_name("bnat")
    assert "no policy called 'bnat'" in str(info.value)
    assert "bant" in str(info.value)
    assert ENTRY_POINT_GROUP in str(info.value)


def test_wrong_parameters_list_the_accepted_ones() -> None:
    """Parameters a factory does not take raise InvalidPolicy naming the ones it does."""
    with pytest.raises(InvalidPolicy, match="its parameters are budget, authority"):
        from_name("bant", budgets="x")
    with pytest.raises(InvalidPolicy, match="min_met"):
        from_name("bant", min_met="three")
    with pytest.raises(InvalidPolicy, match="must be a string"):
        from_name(3)  # type: ignore[arg-type]


@pytest.fixture
def third_party(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A real installed distribution on sys.path registering policies under funnelkit.policies."""
    module = f"fk_plugin_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent('''
        from funnelkit import Decision

        def vip(min_spend=1000):
            """A host-style factory returning a plain function (no to_data)."""
            def policy(lead, context):
                spend = lead.attributes.get("spend", 0)
                if spend >= min_spend:
                    return Decision.allow(policy="vip")
                return Decision.deny(f"spend {spend} under {min_spend}", policy="vip")
            return policy

        def not_callable():
            return 42
    '''))
    dist = tmp_path / "fk_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fk-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent(f"""
        [{ENTRY_POINT_GROUP}]
        vip = {module}:vip
        bad_factory = {module}:not_callable
        missing = {module}:nowhere
        bant = {module}:vip
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield module
    sys.modules.pop(module, None)


def test_third_party_policies_are_discovered(third_party: str) -> None:
    """A policy registered by another distribution is listed, loaded and used by name."""
    assert "vip" in available()
    policy = from_name("vip", min_spend=500)
    assert policy(lead({"spend": 600}), context()).allowed
    assert policy(lead({"spend": 100}), context()).reasons == ("spend 100 under 500",)
    assert policy.to_data() == {"use": "vip", "params": {"min_spend": 500}}


def test_built_ins_win_over_third_party_names(third_party: str) -> None:
    """A third-party entry point cannot replace a built-in name."""
    assert from_name("bant") == bant()


def test_broken_third_party_entries_are_reported(third_party: str) -> None:
    """An entry point that fails to import or builds a non-callable raises InvalidPolicy."""
    with pytest.raises(InvalidPolicy, match="cannot be loaded"):
        from_name("missing")
    with pytest.raises(InvalidPolicy, match="not callable"):
        from_name("bad_factory")
    with pytest.raises(InvalidPolicy, match="its parameters are min_spend"):
        from_name("vip", spend=3)


def test_funnel_from_dict_with_policies_in_data(third_party: str) -> None:
    """Funnel.from_dict takes rule strings and {'use': ...} tables, and to_dict round-trips them."""
    data = {
        "name": "guarded",
        "initial": "lead",
        "stages": [{"name": "lead", "team": "marketing"}, {"name": "mql", "team": "marketing"},
                   {"name": "sql", "team": "sales"}, {"name": "won", "team": "sales", "outcome": "won"}],
        "moves": [
            {"event": "qualify", "source": "lead", "target": "mql", "policy": "budget >= 10000"},
            {"event": "accept", "source": "mql", "target": "sql",
             "policy": {"use": "bant", "params": {"min_met": 3}}},
            {"event": "win", "source": "sql", "target": "won", "policy": {"use": "vip"}},
        ],
    }
    funnel = Funnel.from_dict(data)
    assert funnel.to_dict() == data
    assert Funnel.from_dict(funnel.to_dict()) == funnel
    assert funnel.policy("mql", "accept") == bant(min_met=3)
    in_code = Funnel(funnel.name, initial="lead", stages=funnel.stages, moves=[
        m.__class__(m.event, m.source, m.target, policy=funnel.policy(m.source, m.event))
        for m in funnel.moves
    ])
    assert in_code.to_dict()["moves"][1]["policy"] == {"use": "bant", "params": {"min_met": 3}}
    assert in_code.to_dict()["moves"][2]["policy"] == {"use": "vip", "params": {}}
    new = funnel.new_lead("L1", at=AT, attributes={"budget": 500})
    with pytest.raises(PolicyRefused) as info:
        funnel.fire(new, "qualify", at=AT)
    assert info.value.reasons == ("budget >= 10000: not met (budget=500)",)
    rich = funnel.new_lead("L2", at=AT, attributes={"budget": 50_000, "authority": "cfo", "need": "yes"})
    moved = funnel.fire(funnel.fire(rich, "qualify", at=AT).lead, "accept", at=AT)
    assert moved.lead.stage == "sql"
    assert moved.transition.decision.policy == "bant@1"


@pytest.mark.parametrize(
    ("policy", "fragment"),
    [
        ("budget >>", "unexpected '>'"),
        ({"use": "nope"}, "no policy called 'nope'"),
        ({"use": "bant", "params": {"min_met": 9}}, "min_met"),
        ({"use": "bant", "extra": 1}, "unknown key(s) extra"),
        ({"params": {}}, "must name a policy"),
        ({"use": "bant", "params": [1]}, "must be a table"),
        ({"use": "all_of", "params": {"policies": ["a >"]}}, "params.policies[0]"),
        (42, "not callable"),
    ],
)
def test_bad_policies_in_funnel_data_name_the_path(policy: Any, fragment: str) -> None:
    """A bad data-form policy makes InvalidFunnel with the transition's path and what was wrong."""
    data = {
        "name": "f", "initial": "a",
        "stages": [{"name": "a", "team": "t"}, {"name": "b", "team": "t", "outcome": "won"}],
        "moves": [{"event": "go", "source": "a", "target": "b", "policy": policy}],
    }
    with pytest.raises(InvalidFunnel) as info:
        Funnel.from_dict(data)
    assert info.value.problems[0][0] == "moves[0].policy"
    assert fragment in info.value.problems[0][1]


def test_policy_from_data_errors_name_the_path() -> None:
    """policy_from_data raises errors whose message starts with the path."""
    with pytest.raises(RuleSyntaxError) as info:
        policy_from_data("a >", path="moves[2].policy")
    assert info.value.msg.startswith("moves[2].policy: ")
    assert info.value.offset == 4
    with pytest.raises(InvalidPolicy, match=r"^moves\[2\].policy: "):
        policy_from_data(3.5, path="moves[2].policy")  # type: ignore[arg-type]
    with pytest.raises(InvalidPolicy, match=r"^p: .*not a policy"):
        policy_from_data({"use": "not", "params": {"policy": 7}}, path="p")
