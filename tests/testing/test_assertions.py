"""assert_journey, assert_handoff, capture_hooks and HookRecorder: usable from any framework."""

from __future__ import annotations

import unittest
from datetime import UTC, datetime, timedelta

import pytest

from funnelkit import FunnelError, InvalidHook, InvalidInput, Transition, templates
from funnelkit.handoff import Handoff
from funnelkit.pipeline import BusinessCalendar, Pipeline
from funnelkit.stores import MemoryStore
from funnelkit.testing import (
    FrozenClock,
    FunnelAssertionError,
    HookCall,
    HookRecorder,
    assert_handoff,
    assert_journey,
    capture_hooks,
)

AT = datetime(2026, 3, 2, 9, tzinfo=UTC)


def _history(*moves):
    return [Transition("L1", event, source, target, AT + timedelta(hours=i), version=i + 1)
            for i, (event, source, target) in enumerate(moves)]


HISTORY = _history(("convert", "subscriber", "lead"), ("qualify", "lead", "mql"),
                   ("nurture", "mql", "nurture"), ("recycle", "nurture", "lead"))


def test_exact_journey_passes_and_returns_it():
    """The journey is the first source then every target; an exact match returns it."""
    assert assert_journey(HISTORY, ["subscriber", "lead", "mql", "nurture", "lead"]) == [
        "subscriber", "lead", "mql", "nurture", "lead"]


@pytest.mark.parametrize(("stages", "detail"), [
    (["subscriber", "lead", "sql"], "first difference at position 2: expected 'sql', got 'mql'"),
    (["subscriber", "lead"], "the journey is longer than expected"),
    (["subscriber", "lead", "mql", "nurture", "lead", "mql"], "the journey is shorter than expected"),
])
def test_exact_journey_mismatch_says_where(stages, detail):
    """A mismatch names the first difference, or which journey is longer, and shows the history."""
    with pytest.raises(FunnelAssertionError) as info:
        assert_journey(HISTORY, stages)
    assert detail in str(info.value)
    assert "v4  2026-03-02 12:00 UTC  recycle: nurture -> lead" in str(info.value)


def test_partial_journey_allows_stages_in_between():
    """exact=False checks the stages appear in order, others allowed between."""
    assert_journey(HISTORY, ["subscriber", "mql", "lead"], exact=False)
    with pytest.raises(FunnelAssertionError, match="in this order"):
        assert_journey(HISTORY, ["mql", "subscriber"], exact=False)


def test_events_are_checked_too():
    """events= compares the events of the moves, in order."""
    assert_journey(HISTORY[:2], ["subscriber", "lead", "mql"], events=["convert", "qualify"])
    with pytest.raises(FunnelAssertionError, match="event mismatch"):
        assert_journey(HISTORY[:2], ["subscriber", "lead", "mql"], events=["qualify", "convert"])


def test_empty_history_and_bad_arguments():
    """No history is a mismatch; non-transitions and a bare string are bad input."""
    assert_journey([], [])
    with pytest.raises(FunnelAssertionError, match="the history is empty"):
        assert_journey([], ["subscriber"])
    with pytest.raises(InvalidInput, match="takes the lead's transitions"):
        assert_journey(["lead"], ["lead"])
    with pytest.raises(InvalidInput, match="list of stage names"):
        assert_journey(HISTORY, "subscriber")


def test_journey_assertion_works_in_unittest():
    """The failure is an AssertionError, so unittest reports a failure, not an error."""
    class Case(unittest.TestCase):
        def test_it(self):
            assert_journey(HISTORY, ["lead"])

    result = unittest.TestResult()
    Case("test_it").run(result)
    assert len(result.failures) == 1
    assert not result.errors


def _handoff(**changes):
    values = {"created_at": AT, "event": "hand_to_sales", "version": 3,
              "due_at": AT + timedelta(hours=4)}
    values.update(changes)
    return Handoff("L1:3", "L1", "marketing", "sales", **values)


def test_handoff_matching_every_criterion_is_returned():
    """assert_handoff returns the latest handoff matching every criterion given."""
    older = _handoff()
    newer = Handoff("L1:7", "L1", "marketing", "sales", created_at=AT + timedelta(days=2),
                    event="hand_to_sales", version=7, assignee="sdr-1")
    assert assert_handoff([older, newer], to_team="sales") is newer
    assert assert_handoff([older, newer], lead_id="L1", from_team="marketing", status="pending",
                          event="hand_to_sales", due_within="4 business hours") is older
    assert assert_handoff(newer, assignee="sdr-1") is newer


def test_handoff_mismatch_lists_each_handoff_and_why():
    """Nothing matching raises, listing every handoff and each criterion it failed."""
    with pytest.raises(FunnelAssertionError) as info:
        assert_handoff([_handoff(), _handoff(due_at=None)], to_team="success",
                       due_within=timedelta(hours=2))
    text = str(info.value)
    assert text.startswith("no handoff matches to_team='success', due_within='2:00:00' (2 handoffs checked):")
    assert "to_team is 'sales', not 'success'" in text
    assert "later than 2:00:00 after its creation (2026-03-02 11:00 UTC)" in text
    assert "it has no due time (its move has no sla)" in text
    assert isinstance(info.value, FunnelError)


def test_business_due_time_uses_the_calendar():
    """due_within in business time is counted on the given calendar (weekends skipped)."""
    friday = datetime(2026, 3, 6, 15, tzinfo=UTC)
    h = _handoff(created_at=friday, due_at=datetime(2026, 3, 9, 11, tzinfo=UTC))
    assert_handoff(h, due_within="4 business hours")
    with pytest.raises(FunnelAssertionError, match="later than 4 business hours"):
        assert_handoff(h, due_within="4 business hours",
                       calendar=BusinessCalendar(working_days=(0, 1, 2, 3, 4, 5)))


def test_no_handoffs_and_bad_input():
    """An empty list says there are none; non-handoffs and bad durations are bad input."""
    with pytest.raises(FunnelAssertionError, match="there are none"):
        assert_handoff([], to_team="sales")
    with pytest.raises(InvalidInput, match="takes handoffs"):
        assert_handoff(["L1:3"])
    with pytest.raises(InvalidInput, match="due_within"):
        assert_handoff([_handoff()], due_within="soon")


def _pipeline():
    return Pipeline(templates.inbound(), store=MemoryStore(), clock=FrozenClock())


def test_capture_hooks_records_every_after_hook_with_its_arguments():
    """Every hook call made inside the block is recorded, with its keyword arguments, in order."""
    pipeline = _pipeline()
    with capture_hooks(pipeline) as hooks:
        pipeline.capture("L1")
        for event in ("convert", "qualify", "hand_to_sales"):
            pipeline.fire("L1", event)
        handoff = pipeline.handoffs(status="pending")[0]
        pipeline.accept_handoff(handoff.id, by="sdr-1")
    assert hooks.names == ["before_transition", "after_transition", "before_transition",
                           "after_transition", "before_transition", "after_handoff", "after_transition",
                           "after_handoff_accepted"]
    moves = hooks.assert_called("after_transition", times=3)
    assert [c["transition"].event for c in moves] == ["convert", "qualify", "hand_to_sales"]
    assert moves[0]["lead"].stage == "lead"
    assert moves[0]["key"] == "after_transition:L1:1"
    assert hooks.named("after_handoff")[0]["handoff"].to_team == "sales"


def test_capture_hooks_unregisters_on_exit():
    """After the block the recorder is unregistered: later calls are not recorded."""
    pipeline = _pipeline()
    with capture_hooks(pipeline) as hooks:
        pipeline.capture("L1")
    pipeline.fire("L1", "convert")
    assert hooks.calls == []
    with capture_hooks(pipeline) as again:
        pipeline.fire("L1", "qualify")
    assert again.names == ["before_transition", "after_transition"]


def test_capture_hooks_unregisters_when_the_block_raises():
    """An exception in the block still unregisters the recorder."""
    pipeline = _pipeline()
    with pytest.raises(RuntimeError), capture_hooks(pipeline) as hooks:
        raise RuntimeError("boom")
    pipeline.capture("L1")
    pipeline.fire("L1", "convert")
    assert hooks.calls == []


def test_recorder_counts_and_failures():
    """assert_called fails with the calls made, in order, when the count is wrong."""
    recorder = HookRecorder()
    recorder.after_stalled(lead="L", stage="lead", since=AT, key="k")
    with pytest.raises(FunnelAssertionError, match=r"expected 'after_sla_breach' to be called at least once, "
                                                    r"it was called 0 times; calls in order: after_stalled"):
        recorder.assert_called("after_sla_breach")
    with pytest.raises(FunnelAssertionError, match="to be called 2 times"):
        recorder.assert_called("after_stalled", times=2)
    with pytest.raises(InvalidInput, match="no hook 'on_stall'"):
        recorder.named("on_stall")
    recorder.clear()
    assert recorder.calls == []
    assert repr(recorder) == "<HookRecorder with 0 call(s)>"


def test_recorder_for_some_hooks_only():
    """hooks= limits what is recorded; unknown names are refused."""
    recorder = HookRecorder(hooks=["after_handoff"])
    assert not hasattr(recorder, "after_transition")
    with pytest.raises(InvalidInput, match="no hook 'on_handof'"):
        HookRecorder(hooks=["on_handof"])


def test_recorder_is_accepted_by_the_hook_registry_and_can_veto_nothing():
    """The recorder passes the pipeline's signature checks and records before_transition too."""
    pipeline = _pipeline()
    recorder = pipeline.register(HookRecorder())
    pipeline.capture("L1")
    pipeline.fire("L1", "convert")
    assert recorder.names[0] == "before_transition"
    with pytest.raises(InvalidHook):
        pipeline.register(recorder)


def test_hook_call_reads_like_the_call():
    """HookCall repr shows the hook and its arguments; [] reads one."""
    call = HookCall("after_handoff", {"handoff": "H", "key": "k"})
    assert repr(call) == "HookCall('after_handoff', handoff='H', key='k')"
    assert call["key"] == "k"
    with pytest.raises(TypeError):
        call.arguments["key"] = "x"
