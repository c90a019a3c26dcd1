"""Acme's sales process, journey by journey: scenarios, assertions and the funnel lint."""

from __future__ import annotations

import pytest
from acme_sales import acme_funnel

from funnelkit.testing import (
    ScenarioFailed,
    assert_funnel_ok,
    assert_handoff,
    assert_journey,
    capture_hooks,
    scenario,
)


def test_the_funnel_definition_is_sound():
    """CI fails as soon as someone breaks the funnel definition."""
    assert_funnel_ok(acme_funnel())


def test_an_enterprise_lead_reaches_sales_within_the_sla(pipeline, inbox):
    """A big company that asks for a demo is qualified by itself and handed to sales in 4 business hours."""
    (scenario(pipeline)
        .capture("L1", source="webinar", attributes={"employees": 900, "budget": 60_000})
        .fire("sign_up")
        .touch("webinar")
        .expect_stage("lead")
        .after(days=2).touch("demo_request")
        .expect_stage("mql")
        .fire("send_to_sales")
        .expect_handoff(to_team="sales", due_within="4 business hours")
        .accept(by="sdr-1")
        .expect_owner("sdr-1")
        .fire("open_opportunity")
        .expect_journey(["visitor", "lead", "mql", "sal", "opportunity"]))
    assert inbox.messages == ["sales: L1 is yours, due Wed 13:00"]


def test_a_small_company_is_not_qualified(pipeline):
    """The policy says why it refused: the company is too small."""
    (scenario(pipeline)
        .capture("L2", attributes={"employees": 12, "budget": 60_000})
        .fire("sign_up").touch("demo_request")
        .expect_stage("lead")
        .expect_refused("qualify", because="size not met"))


def test_sales_can_send_a_lead_back(pipeline):
    """A rejected lead goes to nurture with the reason, the feedback marketing learns from."""
    s = (scenario(pipeline)
         .capture("L3", attributes={"employees": 500, "budget": 30_000})
         .fire("sign_up").touch("demo_request").fire("send_to_sales")
         .reject(by="ae-2", reason="no project this year")
         .expect_stage("nurture"))
    assert_handoff(pipeline.handoffs(lead_id="L3"), status="rejected", reason="no project this year")
    assert_journey(s.history, ["visitor", "lead", "mql", "sal", "nurture"])


def test_an_ignored_handoff_expires(pipeline):
    """Nobody accepts within 4 business hours: the sweep marks the handoff expired."""
    (scenario(pipeline)
        .capture("L4", attributes={"employees": 500, "budget": 30_000})
        .fire("sign_up").touch("demo_request").fire("send_to_sales")
        .after(business_hours=5).sweep()
        .expect_handoff(status="expired"))


def test_hooks_see_each_move_once(pipeline):
    """capture_hooks records every hook call with its arguments."""
    with capture_hooks(pipeline) as hooks:
        scenario(pipeline).capture("L5").fire("sign_up").fire("nurture")
    assert [c["transition"].event for c in hooks.named("after_transition")] == ["sign_up", "nurture"]


def test_a_wrong_expectation_reads_well(pipeline):
    """What a failing step looks like (kept as a test so the example stays true)."""
    with pytest.raises(ScenarioFailed) as info:
        scenario(pipeline).capture("L6").fire("sign_up").expect_stage("mql")
    assert str(info.value).splitlines()[:3] == [
        "scenario step 3, .expect_stage('mql'), failed for lead 'L6':",
        "  expected: stage 'mql'",
        "  actual:   stage 'lead'",
    ]
