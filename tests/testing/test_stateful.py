"""FunnelStateMachine: drives a real pipeline at random and catches broken invariants."""

from __future__ import annotations

import itertools

import attrs
import pytest
from hypothesis import HealthCheck, Phase, find, seed, settings
from hypothesis.stateful import invariant

from funnelkit import Decision, FunnelError, InvalidInput, Veto, templates
from funnelkit.policies import score_at_least
from funnelkit.scoring import EngagementRule, ScoringModel
from funnelkit.stores import MemoryStore, SQLiteStore
from funnelkit.testing import FunnelAssertionError, FunnelStateMachine
from funnelkit.testing import strategies as fst

QUICK = settings(max_examples=12, stateful_step_count=25, deadline=None, database=None,
                 suppress_health_check=list(HealthCheck))
# Failing runs skip shrinking: these tests check that a failure is found and how it reads.
FAILING = settings(QUICK, max_examples=100, report_multiple_bugs=False, phases=[Phase.generate])


def run(machine, config=QUICK):
    """Run a machine class as a test with the given settings."""
    config(machine).TestCase().runTest()


@pytest.mark.parametrize("template", [templates.inbound, templates.demand_waterfall,
                                      templates.predictable_revenue, templates.temperature],
                         ids=lambda t: t.__name__)
def test_templates_keep_every_invariant(template):
    """The ready templates on a MemoryStore pass every invariant."""
    class Machine(FunnelStateMachine):
        funnel = template()

    run(Machine)


@pytest.mark.parametrize("wanted", [
    lambda f: len(f.teams) == 3 and any(m.backward for m in f.moves),
    lambda f: len(f.stages) >= 7 and any(m.requires_reason for m in f.moves),
    lambda f: any(m.sla for m in f.moves) and sum(s.outcome == "lost" for s in f.stages) >= 1,
], ids=["three-teams-backward", "long-with-reasons", "sla-and-lost"])
def test_generated_funnels_keep_every_invariant(wanted):
    """Funnels drawn by funnels() pass too: the machine works on any valid funnel."""
    drawn = find(fst.funnels(max_stages=9), wanted, settings=settings(database=None, phases=[Phase.generate]))

    class Machine(FunnelStateMachine):
        funnel = drawn

    run(Machine)


def test_scoring_policy_and_auto_moves():
    """A scored, auto-firing qualify move (touches can move leads by themselves) keeps the invariants."""
    qualified = []

    class Machine(FunnelStateMachine):
        funnel = templates.inbound(policies={"qualify": score_at_least(20)})
        scoring = ScoringModel(engagement=[EngagementRule(10, kind="webinar"),
                                           EngagementRule(25, kind="demo_request")])
        touch_kinds = ("demo_request", "webinar")

        @invariant()
        def note_qualified_leads(self):
            qualified.extend(t for lead in self.lead_ids for t in self.pipeline.history(lead)
                             if t.event == "qualify")

    # A fixed seed: whether random journeys reach qualify at all depends on the examples drawn.
    run(seed(3)(Machine), settings(QUICK, max_examples=60))
    assert qualified, "no lead was ever qualified"
    assert all(t.decision.allowed and t.decision.score >= 20 for t in qualified)


class LosesTransitions(MemoryStore):
    """A broken store: it forgets every lead's second move when asked for the history."""

    def history(self, lead_id):
        return [t for t in super().history(lead_id) if t.version != 2]


class HidesHandoffs(MemoryStore):
    """A broken store: listing handoffs finds none."""

    def handoffs(self, **filters):
        return []


class NeverDelivers(MemoryStore):
    """A broken store: it drops every outbox row it is given, so after-hooks never run.

    (Overriding ``commit`` also keeps the pipeline from the inherited ``commit_claimed``, whose
    rows the committing pipeline would deliver from memory.)
    """

    def commit(self, change):
        super().commit(attrs.evolve(change, outbox=()))

    def claim_outbox(self, **arguments):
        return []


@pytest.mark.parametrize(("store", "message"), [
    (LosesTransitions, "versions must be contiguous"),
    (HidesHandoffs, "there is no handoff"),
    (NeverDelivers, "was called 0 times"),
], ids=["lost-transitions", "dropped-handoffs", "dropped-outbox"])
def test_a_broken_store_is_caught(store, message):
    """A store that loses data breaks an invariant, reported with the journal of steps."""
    class Machine(FunnelStateMachine):
        funnel = templates.temperature()  # two moves to the first handoff
        store_factory = store

    with pytest.raises(FunnelAssertionError, match=message) as info:
        run(Machine, FAILING)
    assert "steps so far:" in str(info.value)
    assert isinstance(info.value, FunnelError)


class NoCustomersOnFriday:
    """A host hook that vetoes some moves."""

    def before_transition(self, lead, transition):
        if transition.target == "customer":
            raise Veto("finance must approve new customers")


class FlakyAudit:
    """A host after-hook that fails the first time it sees each move (delivery is retried)."""

    def __init__(self):
        self.seen = set()

    def after_transition(self, transition, key):
        if key not in self.seen:
            self.seen.add(key)
            raise RuntimeError("audit log unavailable")


def test_host_hooks_vetoes_and_retries_keep_the_invariants():
    """Vetoes leave leads where they were; retried deliveries may call hooks again."""
    class Machine(FunnelStateMachine):
        funnel = templates.inbound()
        hooks = (NoCustomersOnFriday, FlakyAudit)

        @invariant()
        def nobody_became_a_customer(self):
            assert not any(self.pipeline.get(i).stage == "customer" for i in self.lead_ids)

    run(Machine, settings(QUICK, max_examples=25))


def _never(lead, context):
    return Decision.deny("sales is full", policy="never")


def test_policies_attribute_guards_moves():
    """policies= attaches a policy by event name: here no lead ever reaches sales."""
    class Machine(FunnelStateMachine):
        funnel = templates.inbound()
        policies = {"hand_to_sales": _never}

        @invariant()
        def sales_never_gets_a_lead(self):
            assert not self.pipeline.handoffs()

    run(Machine)


def test_policies_naming_an_unknown_event_are_refused():
    """A policy for an event the funnel lacks is bad input, naming the event."""
    class Machine(FunnelStateMachine):
        funnel = templates.inbound()
        policies = {"qualfy": _never}

    with pytest.raises(InvalidInput, match="'qualfy'"):
        Machine()


def test_host_invariants_are_checked():
    """A host's own @invariant runs after every step and its failure is reported."""
    class Machine(FunnelStateMachine):
        funnel = templates.inbound()

        @invariant()
        def at_most_one_lead(self):
            assert len(self.lead_ids) <= 1, "too many leads"

    with pytest.raises(AssertionError, match="too many leads"):
        run(Machine, FAILING)


def test_a_machine_without_a_funnel_says_what_to_set():
    """Forgetting the funnel attribute gives a clear error."""
    class Machine(FunnelStateMachine):
        pass

    with pytest.raises(InvalidInput, match="set the class attribute funnel"):
        Machine()


def test_the_funnel_with_policies_is_built_once_per_class():
    """Policies are attached once per class, not once per example."""
    class Machine(FunnelStateMachine):
        funnel = templates.inbound()
        policies = {"hand_to_sales": _never}

    assert Machine().model_funnel is Machine().model_funnel


def test_store_factory_runs_the_machine_on_sqlite(tmp_path):
    """store_factory gives every example a fresh store of the host's choice: here SQLite files."""
    numbers = itertools.count()

    class Machine(FunnelStateMachine):
        funnel = templates.inbound()
        store_factory = staticmethod(lambda: SQLiteStore(tmp_path / f"example-{next(numbers)}.db"))

    run(Machine, settings(QUICK, max_examples=8))
    assert next(numbers) >= 8
