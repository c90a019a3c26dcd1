"""The scenario DSL: journeys written as steps, checked as they run, with readable failures."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta

import pytest

from funnelkit import Decision, FunnelError, InvalidInput, Source, templates
from funnelkit.pipeline import BusinessCalendar, Pipeline
from funnelkit.stores import MemoryStore
from funnelkit.testing import FrozenClock, InvalidStep, Scenario, ScenarioFailed, scenario


def _budget(lead, context):
    if lead.attributes.get("budget", 0) >= 10_000:
        return Decision.allow(policy="budget")
    return Decision.deny("budget under 10,000", policy="budget")


def make(funnel=None, **options):
    """A pipeline on a fresh store and frozen clock."""
    return Pipeline(funnel or templates.inbound(), store=MemoryStore(), clock=FrozenClock(), **options)


def test_the_issue_example_runs():
    """capture, touch, time, expect_stage, expect_handoff with a due time, accept: as in the issue."""
    pipeline = make(templates.inbound(policies={"qualify": _budget}))
    s = (scenario(pipeline)
         .capture("L1", source="webinar", attributes={"budget": 50_000})
         .touch("webinar").fire("convert")
         .after(days=2).touch("demo_request")
         .expect_stage("mql")
         .fire("hand_to_sales")
         .expect_handoff(to_team="sales", due_within="4 business hours")
         .accept(by="sdr-1")
         .expect_handoff(status="accepted", to_team="sales")
         .expect_owner("sdr-1")
         .fire("open_opportunity")
         .expect_stage("opportunity")
         .expect_journey(["subscriber", "lead", "mql", "sql", "opportunity"])
         .expect_journey(["lead", "opportunity"], exact=False)
         .expect_version(5))  # four moves and the acceptance's audit record
    assert isinstance(s, Scenario)
    assert s.lead.stage == "opportunity"
    assert [t.event for t in s.history] == ["convert", "qualify", "hand_to_sales", "funnelkit.accept",
                                            "open_opportunity"]
    assert s.history[1].actor == "funnelkit.auto"
    assert s.steps[0] == ".capture('L1', source='webinar', attributes={'budget': 50000})"
    assert len(s.steps) == 16


def test_failed_expectation_names_step_expected_actual_and_history():
    """A wrong stage fails with the step number and text, both stages, the steps and the history."""
    s = scenario(make()).capture("L1").fire("convert").after(hours=1).fire("qualify")
    with pytest.raises(ScenarioFailed) as info:
        s.expect_stage("sql")
    err = info.value
    assert isinstance(err, AssertionError)
    assert isinstance(err, FunnelError)
    assert (err.step, err.step_text, err.expected, err.actual) == (
        5, ".expect_stage('sql')", "stage 'sql'", "stage 'mql'")
    assert [t.event for t in err.history] == ["convert", "qualify"]
    text = str(err)
    assert text.splitlines()[0] == "scenario step 5, .expect_stage('sql'), failed for lead 'L1':"
    assert "  4. .fire('qualify')" in text
    assert "v2  2026-03-02 10:00 UTC  qualify: lead -> mql" in text
    assert pickle.loads(pickle.dumps(err)).step == 5


def test_a_refused_move_fails_the_step_with_the_policy_reason():
    """A policy refusal in .fire() is a failed step saying what the policy said."""
    s = scenario(make(templates.inbound(policies={"qualify": _budget}))).capture("L1").fire("convert")
    with pytest.raises(ScenarioFailed, match="budget under 10,000") as info:
        s.fire("qualify")
    assert info.value.actual.startswith("PolicyRefused:")
    assert info.value.__cause__ is not None


def test_a_move_not_allowed_from_the_stage_fails_the_step():
    """An event the stage does not allow fails with the valid events listed."""
    s = scenario(make()).capture("L1")
    with pytest.raises(ScenarioFailed, match="events valid from 'subscriber': convert, nurture, disqualify"):
        s.fire("win")


def test_expect_refused_checks_the_policy_and_its_reason():
    """expect_refused passes on a refusal (and its reason) and fails when the move is allowed."""
    pipeline = make(templates.inbound(policies={"qualify": _budget}))
    s = scenario(pipeline).capture("L1", attributes={"budget": 10}).fire("convert")
    s.expect_refused("qualify", because="budget under").expect_stage("lead")
    with pytest.raises(ScenarioFailed, match="a refusal because of 'authority'"):
        s.expect_refused("qualify", because="authority")
    rich = scenario(pipeline).capture("L2", attributes={"budget": 20_000}).fire("convert")
    with pytest.raises(ScenarioFailed, match="it was allowed: the lead moved from 'lead' to 'mql'"):
        rich.expect_refused("qualify")
    with pytest.raises(ScenarioFailed, match="TransitionNotAllowed"):
        rich.expect_refused("win")


@pytest.mark.parametrize(("step", "message"), [
    (lambda s: s.fire("qualfy"), r"step 2, \.fire\('qualfy'\): funnel 'inbound' has no event 'qualfy'; did you mean 'qualify'"),
    (lambda s: s.expect_stage("mqll"), r"step 2, \.expect_stage\('mqll'\): funnel 'inbound' has no stage 'mqll'; did you mean 'mql'"),
    (lambda s: s.expect_journey(["subscriber", "leed"]), r"no stage 'leed'"),
    (lambda s: s.expect_refused("qualfy"), r"no event 'qualfy'"),
    (lambda s: s.expect_handoff(to_team="sale"), r"no team 'sale' \(to_team\); did you mean 'sales'"),
    (lambda s: s.expect_handoff(due_within="four hours"), r"due_within='four hours' is not a duration"),
    (lambda s: s.reject(by="ae-1", reason="x", recycle_to="nurtur"), r"no stage \(recycle_to\) 'nurtur'"),
    (lambda s: s.at(datetime(2026, 1, 1, tzinfo=UTC)), r"step 2, \.at\(.*\): the clock cannot go back"),
    (lambda s: s.after(hours=-2), r"step 2, \.after\(hours=-2\): advance\(hours=-2\) would move the clock backwards"),
    (lambda s: s.use("L9"), r"there is no lead 'L9' to use"),
], ids=["event", "stage", "journey-stage", "refused-event", "team", "duration", "recycle-to",
        "clock-back", "negative-after", "unknown-lead"])
def test_bad_steps_raise_at_the_call_naming_the_step(step, message):
    """Unknown events, stages and teams, and a clock moved backwards, raise InvalidStep at the call."""
    s = scenario(make()).capture("L1")
    with pytest.raises(InvalidStep, match=message) as info:
        step(s)
    assert isinstance(info.value, InvalidInput)
    assert info.value.step == 2
    assert len(s.steps) == 1, "a bad step is not recorded as run"


def test_steps_that_need_a_lead_say_so():
    """A step before any capture raises InvalidStep pointing at capture()."""
    with pytest.raises(InvalidStep, match=r"step 1, \.fire\('convert'\): no lead yet; capture one first"):
        scenario(make()).fire("convert")


def test_time_steps_need_a_frozen_clock():
    """after() on a pipeline with the system clock explains how to fix it."""
    pipeline = Pipeline(templates.inbound(), store=MemoryStore())
    with pytest.raises(InvalidStep, match="not a funnelkit.testing.FrozenClock"):
        scenario(pipeline).after(hours=1)


def test_business_time_uses_the_pipeline_calendar():
    """after(business_hours=) counts working hours on the pipeline's calendar."""
    clock = FrozenClock(datetime(2026, 3, 6, 15, tzinfo=UTC))  # a Friday
    pipeline = Pipeline(templates.inbound(), store=MemoryStore(), clock=clock,
                        calendar=BusinessCalendar(holidays=["2026-03-09"]))
    scenario(pipeline).after(business_hours=4)
    assert clock.now() == datetime(2026, 3, 10, 11, tzinfo=UTC)


def test_handoff_expectations_report_every_handoff_that_did_not_match():
    """expect_handoff lists the lead's handoffs and why each did not match."""
    s = (scenario(make()).capture("L1").fire("convert").fire("qualify").fire("hand_to_sales"))
    s.expect_handoff(to_team="sales", from_team="marketing", due_within="4 business hours")
    with pytest.raises(ScenarioFailed) as info:
        s.expect_handoff(to_team="sales", due_within="2 business hours")
    text = str(info.value)
    assert "expected: a handoff with to_team='sales', status='pending', due_within='2 business hours'" in text
    assert "1 handoff, none matching:" in text
    assert "later than 2 business hours after its creation" in text
    with pytest.raises(ScenarioFailed, match="no handoff at all for this lead"):
        scenario(s.pipeline).capture("L2").expect_handoff()


def test_reject_sends_the_lead_back_with_the_reason():
    """reject() closes the handoff and recycles the lead; accept then has nothing pending."""
    s = (scenario(make()).capture("L1").fire("convert").fire("qualify").fire("hand_to_sales")
         .reject(by="ae-1", reason="no budget")
         .expect_stage("nurture")
         .expect_handoff(status="rejected", reason="no budget")
         .expect_no_handoff())
    assert s.history[-1].reason == "no budget"
    with pytest.raises(ScenarioFailed, match="expected: a pending handoff for the lead"):
        s.accept(by="sdr-1")


def test_expect_no_handoff_fails_when_one_is_pending():
    """expect_no_handoff names the pending handoff it found."""
    s = scenario(make()).capture("L1").fire("convert").fire("qualify").fire("hand_to_sales")
    with pytest.raises(ScenarioFailed, match=r"L1:3: marketing -> sales, pending"):
        s.expect_no_handoff()
    s.expect_no_handoff(status="accepted")


def test_sweep_expires_overdue_handoffs():
    """after() past the SLA then sweep() expires the handoff."""
    (scenario(make()).capture("L1").fire("convert").fire("qualify").fire("hand_to_sales")
     .after(business_hours=5).sweep()
     .expect_handoff(status="expired"))


def test_several_leads_and_use():
    """capture() switches to the new lead; use() switches back."""
    s = scenario(make()).capture("L1").capture("L2").fire("convert").use("L1").expect_stage("subscriber")
    assert s.lead_id == "L1"
    s.use("L2").expect_stage("lead")


def test_capture_twice_fails_with_the_store_error():
    """Capturing a known id again is a failed step saying it exists."""
    with pytest.raises(ScenarioFailed, match="AlreadyExists"):
        scenario(make()).capture("L1").capture("L1")


def test_fire_context_reaches_the_policy():
    """fire(context=...) reaches the guarding policy as Context.data."""
    def region(lead, context):
        ok = context.data.get("region") == "emea"
        return Decision.allow(policy="region") if ok else Decision.deny("not emea", policy="region")

    s = scenario(make(templates.inbound(policies={"qualify": region}))).capture("L1").fire("convert")
    s.fire("qualify", context={"region": "emea"}).expect_stage("mql")


def test_touch_defaults_the_channel_to_the_source_and_records_points():
    """touch() records a touchpoint now, on the lead's source channel unless given."""
    s = scenario(make()).capture("L1", source=Source.of("referral")).after(hours=1)
    s.touch("call", points=5).touch("webinar", channel="email", data={"title": "Q1"})
    first, second = s.pipeline.touchpoints("L1")
    assert (first.channel, first.points, first.at) == ("referral", 5, datetime(2026, 3, 2, 10, tzinfo=UTC))
    assert (second.channel, dict(second.data)) == ("email", {"title": "Q1"})
    with pytest.raises(InvalidStep, match="Touchpoint kind"):
        s.touch("")


def test_custom_expectation_and_assign():
    """expect(check, description) runs a host check; assign() sets the owner."""
    s = scenario(make()).capture("L1", attributes={"budget": 5}).assign("sdr-2").expect_owner("sdr-2")
    s.expect(lambda lead: lead.attributes["budget"] == 5, "budget is 5")
    with pytest.raises(ScenarioFailed, match="expected: budget is 6"):
        s.expect(lambda lead: lead.attributes["budget"] == 6, "budget is 6")


def test_scenario_needs_a_pipeline():
    """Something without funnel and fire is refused at once."""
    with pytest.raises(InvalidInput, match="takes a funnelkit.pipeline.Pipeline"):
        scenario(object())


def test_repr_and_lead_before_capture():
    """The repr counts steps; reading the lead before any capture says what to do."""
    s = scenario(make())
    assert repr(s) == "<Scenario on lead None, 0 step(s)>"
    assert s.history == []
    with pytest.raises(InvalidInput, match="no lead yet"):
        _ = s.lead


def test_journey_mismatch_in_a_scenario():
    """expect_journey shows the journey expected and the one seen."""
    s = scenario(make()).capture("L1").fire("convert")
    with pytest.raises(ScenarioFailed, match=r"actual:   journey \['subscriber', 'lead'\]"):
        s.expect_journey(["subscriber", "mql"])


def test_time_moves_with_the_clock():
    """Moves happen at the clock's time as the scenario moves it."""
    s = scenario(make()).capture("L1").after(days=1, hours=2).fire("convert")
    assert s.history[0].at == datetime(2026, 3, 2, 9, tzinfo=UTC) + timedelta(days=1, hours=2)
