"""Ready funnels: each validates and walks a lead from its first stage to a won stage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import funnelkit
from funnelkit import (
    Context,
    Decision,
    Funnel,
    InvalidFunnel,
    InvalidInput,
    Lead,
    PolicyRefused,
    templates,
)
from funnelkit.pipeline import Pipeline
from funnelkit.stores import MemoryStore

if TYPE_CHECKING:
    from collections.abc import Callable

AT = datetime(2026, 3, 2, 9, tzinfo=UTC)

TEMPLATES: dict[str, Callable[..., Funnel]] = {
    "inbound": templates.inbound,
    "demand_waterfall": templates.demand_waterfall,
    "predictable_revenue": templates.predictable_revenue,
    "temperature": templates.temperature,
}

STAGES = {
    "inbound": ["subscriber", "lead", "mql", "sql", "opportunity", "customer", "evangelist",
                "nurture", "disqualified"],
    "demand_waterfall": ["inquiry", "mql", "sal", "sql", "sqo", "won", "lost"],
    "predictable_revenue": ["prospect", "contacted", "qualified", "handed_off", "won", "nurture",
                            "lost"],
    "temperature": ["cold", "warm", "hot", "customer", "lost"],
}

HAPPY_PATHS = {
    "inbound": ["convert", "qualify", "hand_to_sales", "open_opportunity", "win"],
    "demand_waterfall": ["qualify", "accept", "qualify", "open_opportunity", "win"],
    "predictable_revenue": ["contact", "qualify", "hand_off", "win"],
    "temperature": ["warm_up", "heat", "buy"],
}


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_template_validates_with_the_documented_stages(name: str) -> None:
    """The template builds (so passes validation), lists its stages in order and a docstring."""
    funnel = TEMPLATES[name]()
    assert funnel.name == name
    assert [s.name for s in funnel.stages] == STAGES[name]
    assert funnel.initial == STAGES[name][0]
    assert Funnel.from_dict(funnel.to_dict()) == funnel
    assert "sla" in funnel.to_json()
    assert TEMPLATES[name].__doc__


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_template_walks_a_lead_from_first_stage_to_won(name: str) -> None:
    """A lead walks the main path from the first stage to a won stage, one version per move."""
    funnel = TEMPLATES[name]()
    lead = funnel.new_lead("L1", at=AT)
    teams = [funnel.stage(lead.stage).team]
    for step, event in enumerate(HAPPY_PATHS[name], start=1):
        out = funnel.fire(lead, event, at=AT + timedelta(hours=step), actor="test")
        lead = out.lead
        if out.team_change:
            assert out.team_change == (teams[-1], funnel.stage(lead.stage).team)
            teams.append(out.team_change[1])
    assert funnel.stage(lead.stage).outcome == "won"
    assert lead.version == len(HAPPY_PATHS[name])


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_open_stage_can_reach_won_or_lost(name: str) -> None:
    """From every open stage some sequence of events ends in a won or lost stage."""
    funnel = TEMPLATES[name]()
    for stage in funnel.stages:
        seen, todo = {stage.name}, [stage.name]
        while todo:
            here = todo.pop()
            for event in funnel.events_from(here):
                there = funnel.target(here, event)
                if there not in seen:
                    seen.add(there)
                    todo.append(there)
        assert any(funnel.stage(s).outcome != "open" for s in seen), stage.name


def test_templates_have_no_guards_until_policies_are_attached() -> None:
    """No template guards a move by default; policies={event: policy} guards and marks auto."""
    for make in TEMPLATES.values():
        assert all(m.policy is None for m in make().moves)

    def engaged(lead: Lead, context: Context) -> Decision:
        if lead.attributes.get("score", 0) >= 60:
            return Decision.allow(policy="engaged")
        return Decision.deny("score under 60", policy="engaged")

    funnel = templates.inbound(policies={"qualify": engaged})
    assert funnel.move("lead", "qualify").auto is True
    assert funnel.move("lead", "qualify").policy is engaged
    lead = funnel.fire(funnel.new_lead("L1", at=AT), "convert", at=AT).lead
    with pytest.raises(PolicyRefused, match="score under 60"):
        funnel.fire(lead, "qualify", at=AT)
    hot = lead.evolve(attributes={"score": 75})
    assert funnel.fire(hot, "qualify", at=AT).lead.stage == "mql"
    other = templates.temperature(policies={"buy": engaged})
    assert other.move("hot", "buy").auto is False


def test_templates_refuse_bad_policies() -> None:
    """Bad policies are reported as Funnel.from_dict reports them: every one, with its path."""
    with pytest.raises(InvalidFunnel, match=r"policies\['qualfy'\].*did you mean 'qualify'"):
        templates.inbound(policies={"qualfy": lambda lead, ctx: Decision.allow()})
    with pytest.raises(InvalidFunnel, match="is not callable"):
        templates.inbound(policies={"qualify": 3})  # type: ignore[dict-item]
    with pytest.raises(InvalidInput, match="must be a mapping"):
        templates.inbound(policies=[("qualify", 1)])  # type: ignore[arg-type]
    with pytest.raises(InvalidFunnel) as info:
        templates.inbound(policies={"qualify": "employees >=", "win": {"use": "nope"},
                                    "convret": "x > 1"})
    problems = dict(info.value.problems)
    assert set(problems) == {"moves[1].policy", "moves[4].policy",
                             "policies['convret']"}
    assert "column" in problems["moves[1].policy"]
    assert "'nope'" in problems["moves[4].policy"]


POLICY_FORMS: list[tuple[str, Any]] = [
    ("rule", "employees >= 200"),
    ("use", {"use": "rule", "params": {"text": "employees >= 200"}}),
    ("callable", lambda lead, ctx: (Decision.allow(policy="big") if
                                    lead.attributes.get("employees", 0) >= 200
                                    else Decision.deny("under 200 employees", policy="big"))),
]


@pytest.mark.parametrize(("form", "policy"), POLICY_FORMS, ids=[f for f, _ in POLICY_FORMS])
@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_templates_take_policies_in_every_form_from_dict_takes(
    name: str, form: str, policy: Any,
) -> None:
    """A rule string, {"use": ...} or a callable guards the move, as Funnel.from_dict does it."""
    event = HAPPY_PATHS[name][0 if name != "inbound" else 1]
    funnel = TEMPLATES[name](policies={event: policy})
    data = TEMPLATES[name]().to_dict()
    for move in data["moves"]:
        if move["event"] == event and event in ("qualify", "heat"):
            move["auto"] = True
    assert funnel == Funnel.from_dict(data, policies={event: policy})
    lead = funnel.new_lead("L1", at=AT)
    steps = HAPPY_PATHS[name][: HAPPY_PATHS[name].index(event)]
    for step in steps:
        lead = funnel.fire(lead, step, at=AT).lead
    with pytest.raises(PolicyRefused):
        funnel.fire(lead, event, at=AT)
    big = lead.evolve(attributes={"employees": 450})
    assert funnel.fire(big, event, at=AT).lead.version == len(steps) + 1


def test_a_rule_string_qualifies_automatically_through_a_pipeline() -> None:
    """templates.inbound(policies={"qualify": rule}) makes qualify an auto move that evaluate fires."""
    funnel = templates.inbound(policies={"qualify": "employees >= 200"})
    pipeline = Pipeline(funnel, store=MemoryStore())
    for lead_id, employees in (("small", 12), ("big", 450)):
        pipeline.capture(lead_id, attributes={"employees": employees}, at=AT)
        pipeline.fire(lead_id, "convert", at=AT)
        pipeline.evaluate(lead_id, at=AT)
    assert pipeline.get("small").stage == "lead"
    assert pipeline.get("big").stage == "mql"
    assert pipeline.history("big")[-1].actor == "funnelkit.auto"


@given(threshold=st.integers(-10**6, 10**6), employees=st.integers(-10**6, 10**6))
def test_rule_string_and_callable_templates_decide_alike(threshold: int, employees: int) -> None:
    """For any threshold, the template built from a rule string decides as a hand-written policy."""
    def by_hand(lead: Lead, context: Context) -> Decision:
        if lead.attributes["employees"] >= threshold:
            return Decision.allow()
        return Decision.deny("too small")

    from_rule = templates.temperature(policies={"heat": f"employees >= {threshold}"})
    from_code = templates.temperature(policies={"heat": by_hand})
    lead = from_rule.fire(from_rule.new_lead("L1", at=AT, attributes={"employees": employees}),
                          "warm_up", at=AT).lead
    expected = employees >= threshold
    assert from_rule.check(lead, "heat", at=AT).allowed is expected
    assert from_code.check(lead, "heat", at=AT).allowed is expected


def test_backward_and_lost_moves_need_reasons() -> None:
    """Each template's way back and way out ask for a reason."""
    inbound = templates.inbound()
    assert inbound.requires_reason("nurture", "recycle")
    assert inbound.requires_reason("lead", "disqualify")
    assert templates.demand_waterfall().requires_reason("sqo", "recycle")
    assert templates.predictable_revenue().requires_reason("contacted", "lose")
    assert templates.temperature().requires_reason("hot", "cool")


def test_templates_are_reachable_after_import_funnelkit() -> None:
    """`import funnelkit` is enough to reach funnelkit.templates."""
    assert funnelkit.templates.inbound().teams == ("marketing", "sales", "success")
