"""Acme's sales process under random journeys: strategies and a state machine."""

from __future__ import annotations

from acme_sales import SalesInbox, acme_funnel
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant

from funnelkit import PolicyRefused
from funnelkit.testing import FunnelStateMachine
from funnelkit.testing import strategies as fst

FUNNEL = acme_funnel()


@settings(max_examples=50, deadline=None)
@given(fst.leads(funnel=FUNNEL), fst.event_sequences(FUNNEL, max_size=12))
def test_no_journey_skips_the_policy(lead, steps):
    """Whatever the order of moves, nobody reaches mql without passing enterprise_ready."""
    for event, reason in steps:
        try:
            outcome = FUNNEL.fire(lead, event, at=lead.updated_at, reason=reason)
        except PolicyRefused:
            break
        if outcome.transition.target == "mql":
            assert outcome.transition.decision.allowed
        lead = outcome.lead


@settings(max_examples=25, stateful_step_count=30, deadline=None)
class AcmeMachine(FunnelStateMachine):
    """Random captures, touches, moves, handoffs and sweeps on Acme's funnel."""

    funnel = FUNNEL
    hooks = (SalesInbox,)
    attributes = st.fixed_dictionaries({
        "employees": st.integers(min_value=1, max_value=5000),
        "budget": st.integers(min_value=0, max_value=100_000),
    })

    @invariant()
    def only_enterprise_leads_reach_sales(self):
        """Acme's own rule, checked after every step."""
        for lead_id in self.lead_ids:
            lead = self.pipeline.get(lead_id)
            if lead.stage in {"mql", "sal", "opportunity", "customer"}:
                assert lead.attributes["employees"] >= 200, lead


TestAcmeMachine = AcmeMachine.TestCase
