"""Ready funnels: each validates and walks a lead from its first stage to a won stage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

import funnelkit
from funnelkit import Context, Decision, Funnel, InvalidInput, Lead, PolicyRefused, templates

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
    """Unknown event names (with a did-you-mean) and non-callables raise InvalidInput."""
    with pytest.raises(InvalidInput, match="did you mean 'qualify'"):
        templates.inbound(policies={"qualfy": lambda lead, ctx: Decision.allow()})
    with pytest.raises(InvalidInput, match="is not callable"):
        templates.inbound(policies={"qualify": 3})  # type: ignore[dict-item]
    with pytest.raises(InvalidInput, match="must be a mapping"):
        templates.inbound(policies=[("qualify", 1)])  # type: ignore[arg-type]


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
