"""Hooks: specs declared once, implementations checked at registration, called by keyword."""

from __future__ import annotations

import inspect
import json
import types
from datetime import datetime
from typing import Any

import pytest
from _pipeline_support import FRIDAY_2PM, Clock

from funnelkit import InvalidHook, Lead, Transition, Veto, hooks, templates
from funnelkit._pipeline.hooks import SPECS, decode, encode
from funnelkit.pipeline import Pipeline
from funnelkit.stores import MemoryStore


def _pipeline() -> Pipeline:
    return Pipeline(templates.inbound(), store=MemoryStore(), clock=Clock())


def test_every_spec_is_a_documented_keyword_only_function() -> None:
    """Each hook spec is public in funnelkit.hooks, has a docstring and keyword-only arguments."""
    assert set(SPECS) == set(hooks.BEFORE_HOOKS) | set(hooks.AFTER_HOOKS)
    for name in SPECS:
        spec = getattr(hooks, name)
        assert (spec.__doc__ or "").strip()
        assert all(p.kind is p.KEYWORD_ONLY for p in inspect.signature(spec).parameters.values())


def test_unknown_hook_name_is_refused_with_a_suggestion() -> None:
    """A method named like a hook that matches no spec raises InvalidHook naming the closest one."""

    class Typo:
        def after_transtion(self, lead: Lead) -> None: ...

    with pytest.raises(InvalidHook, match="did you mean 'after_transition'"):
        _pipeline().register(Typo())


def test_unknown_argument_is_refused() -> None:
    """An implementation taking an argument its spec does not pass is refused at registration."""

    class Wrong:
        def after_handoff(self, handoff: Any, team: str) -> None: ...

    with pytest.raises(InvalidHook, match="no argument 'team'"):
        _pipeline().register(Wrong())


@pytest.mark.parametrize("signature", ["*args", "**kwargs", "lead, /"])
def test_varargs_and_positional_only_are_refused(signature: str) -> None:
    """Hooks are called with keywords only: *args, **kwargs and positional-only are refused."""
    namespace: dict[str, Any] = {}
    exec(f"def after_transition({signature}): pass", namespace)
    plugin = type("P", (), {})()
    plugin.after_transition = namespace["after_transition"]
    with pytest.raises(InvalidHook, match="keyword arguments only"):
        _pipeline().register(plugin)


def test_objects_with_no_hooks_classes_and_doubles_are_refused() -> None:
    """Registering nothing, a class instead of an instance, or the same object twice is refused."""
    pipeline = _pipeline()

    class Empty:
        def helper(self) -> None: ...

    class Fine:
        def after_transition(self) -> None: ...

    with pytest.raises(InvalidHook, match="implements no hook"):
        pipeline.register(Empty())
    with pytest.raises(InvalidHook, match="not"):
        pipeline.register(Fine)
    fine = Fine()
    pipeline.register(fine)
    with pytest.raises(InvalidHook, match="registered already"):
        pipeline.register(fine)


def test_a_refused_plugin_registers_nothing() -> None:
    """When one hook of an object is wrong, none of its hooks is registered."""
    pipeline = _pipeline()

    class Half:
        def __init__(self) -> None:
            self.seen: list[str] = []

        def after_transition(self, transition: Transition) -> None:
            self.seen.append(transition.event)

        def after_stalled(self, lead: Lead, weather: str) -> None: ...

    half = Half()
    with pytest.raises(InvalidHook):
        pipeline.register(half)
    pipeline.capture("L1")
    pipeline.fire("L1", "convert")
    assert half.seen == []
    assert pipeline.store.outbox(undelivered_only=False) == []


def test_implementations_take_any_subset_of_arguments_by_keyword() -> None:
    """An implementation gets exactly the spec arguments it names, including the row's key."""
    pipeline = _pipeline()
    seen: list[Any] = []

    class Subset:
        def after_transition(self, key: str, transition: Transition) -> None:
            seen.append((key, transition.event))

    pipeline.register(Subset())
    pipeline.capture("L1")
    pipeline.fire("L1", "convert")
    assert seen == [("after_transition:L1:1", "convert")]


def test_modules_and_unregister() -> None:
    """A module with hook functions registers; unregister stops its calls."""
    module = types.ModuleType("host_hooks")
    calls: list[str] = []
    module.after_transition = lambda transition: calls.append(transition.event)  # type: ignore[attr-defined]
    pipeline = _pipeline()
    pipeline.register(module)
    pipeline.capture("L1")
    pipeline.fire("L1", "convert")
    pipeline.unregister(module)
    pipeline.fire("L1", "nurture")
    assert calls == ["convert"]
    with pytest.raises(InvalidHook, match="not registered"):
        pipeline.unregister(module)


def test_before_transition_gets_the_lead_before_the_move() -> None:
    """before_transition sees the current lead and the transition about to be written."""
    pipeline = _pipeline()
    seen: list[tuple[str, str]] = []

    class Watch:
        def before_transition(self, lead: Lead, transition: Transition) -> None:
            seen.append((lead.stage, transition.target))

    pipeline.register(Watch())
    pipeline.capture("L1")
    pipeline.fire("L1", "convert")
    assert seen == [("subscriber", "lead")]


def test_crashing_before_hook_is_a_veto_and_writes_nothing() -> None:
    """A before-hook that raises anything stops the move with Veto (the cause chained)."""
    pipeline = _pipeline()

    class Broken:
        def before_transition(self, lead: Lead) -> None:
            raise ZeroDivisionError("oops")

    pipeline.register(Broken())
    pipeline.capture("L1")
    with pytest.raises(Veto, match="ZeroDivisionError") as info:
        pipeline.fire("L1", "convert")
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    assert pipeline.get("L1").version == 0
    assert pipeline.history("L1") == []


def test_payloads_round_trip_through_json_types() -> None:
    """Every after-hook payload is JSON-able and decodes to equal funnelkit values."""
    funnel = templates.inbound()
    lead = funnel.new_lead("L1", at=FRIDAY_2PM, attributes={"when": FRIDAY_2PM})
    outcome = funnel.fire(lead, "convert", at=FRIDAY_2PM)
    payload = encode("after_transition", {"lead": outcome.lead, "transition": outcome.transition})
    again = decode("after_transition", json.loads(json.dumps(payload)))
    assert again == {"lead": outcome.lead, "transition": outcome.transition}
    stalled = encode("after_stalled", {"lead": lead, "stage": "lead", "since": FRIDAY_2PM})
    assert decode("after_stalled", json.loads(json.dumps(stalled)))["since"] == FRIDAY_2PM
    assert isinstance(decode("after_stalled", stalled)["since"], datetime)


def test_outbox_rows_named_up_front_are_written_without_hooks_and_delivered_elsewhere() -> None:
    """outbox=[...] makes a hook-less process write rows a second process with the hooks delivers."""
    from datetime import UTC, datetime  # noqa: PLC0415

    from funnelkit import Pipeline, templates  # noqa: PLC0415
    from funnelkit.stores import MemoryStore  # noqa: PLC0415

    at = datetime(2026, 3, 6, 16, tzinfo=UTC)
    shared = MemoryStore()
    web = Pipeline(templates.inbound(), store=shared, outbox=["after_transition", "after_handoff"])
    web.capture("W1", at=at)
    for event in ("convert", "qualify", "hand_to_sales"):
        web.fire("W1", event, at=at)
    rows = shared.outbox()
    assert sorted(r.hook for r in rows) == ["after_handoff"] + ["after_transition"] * 3
    assert all(r.attempts == 0 for r in rows)  # nobody here tried to deliver them

    seen: list[str] = []

    class Runner:
        def after_transition(self, transition):
            seen.append(transition.event)

        def after_handoff(self, handoff):
            seen.append(f"handoff to {handoff.to_team}")

    runner = Pipeline(templates.inbound(), store=shared)
    runner.register(Runner())
    assert runner.deliver_pending(now=at).delivered == 4
    assert seen == ["convert", "qualify", "handoff to sales", "hand_to_sales"]  # commit order
    assert shared.outbox() == []


def test_outbox_refuses_names_that_are_not_after_hooks() -> None:
    """outbox= names must be after-hook specs; a typo or a before-hook is an InvalidInput."""
    from funnelkit import InvalidInput, Pipeline, templates  # noqa: PLC0415
    from funnelkit.stores import MemoryStore  # noqa: PLC0415

    for bad in (["after_transtion"], ["before_transition"]):
        with pytest.raises(InvalidInput, match="not after-hooks"):
            Pipeline(templates.inbound(), store=MemoryStore(), outbox=bad)


def test_replay_reports_a_lead_whose_stored_stage_differs_from_its_history() -> None:
    """pipeline.verify_history() is clean on a normal store and names a lead whose row was changed behind its back."""
    from datetime import UTC, datetime  # noqa: PLC0415

    from funnelkit import Lead, Pipeline, templates  # noqa: PLC0415
    from funnelkit.stores import Change, MemoryStore  # noqa: PLC0415

    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    store = MemoryStore()
    pipeline = Pipeline(templates.inbound(), store=store)
    for lead_id in ("L1", "L2", "L3"):
        pipeline.capture(lead_id, at=at)
    pipeline.fire("L1", "convert", at=at)
    pipeline.fire("L1", "qualify", at=at)
    assert pipeline.verify_history().ok
    # A host script writes L2 at another stage without a transition.
    lead = store.load("L2")
    tampered = Lead("L2", "mql", version=0, created_at=lead.created_at)
    store.commit(Change(tampered, expected_version=0))
    report = pipeline.verify_history()
    assert (report.leads, report.transitions) == (3, 2)
    assert [m.lead_id for m in report.mismatches] == ["L2"]
    assert report.mismatches[0].stored_stage == "mql"
    assert "no transitions" in report.mismatches[0].problems[0]


def test_a_retry_reads_the_clock_again_when_no_time_was_given() -> None:
    """fire() without at= retries a conflict at the clock's new time, not at a stale one."""
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415

    from funnelkit import Pipeline, templates  # noqa: PLC0415
    from funnelkit.stores import MemoryStore  # noqa: PLC0415
    from funnelkit.testing import FrozenClock  # noqa: PLC0415

    clock = FrozenClock(datetime(2026, 3, 2, 9, tzinfo=UTC))
    store = MemoryStore()
    ours = Pipeline(templates.temperature(), store=store, clock=clock)
    other = Pipeline(templates.temperature(), store=store, clock=clock)
    ours.capture("L1")

    class Interloper:
        done = False

        def before_transition(self, lead, transition):
            if not self.done:  # someone else moves the lead away and back, an hour later
                self.done = True
                clock.advance(hours=1)
                other.fire("L1", "warm_up")
                other.fire("L1", "cool", reason="went quiet")

    ours.register(Interloper())
    outcome = ours.fire("L1", "warm_up")  # conflicts, then retries at the clock's new time
    assert outcome.transition.at == datetime(2026, 3, 2, 10, tzinfo=UTC)
    assert [t.event for t in ours.history("L1")] == ["warm_up", "cool", "warm_up"]
    assert clock.now() - timedelta(hours=1) == datetime(2026, 3, 2, 9, tzinfo=UTC)


def test_fire_many_refuses_what_is_not_a_batch() -> None:
    """fire_many(None) or fire_many('L1') is an InvalidInput naming the argument, not a TypeError."""
    from funnelkit import InvalidInput, Pipeline, templates  # noqa: PLC0415
    from funnelkit.stores import MemoryStore  # noqa: PLC0415

    pipeline = Pipeline(templates.inbound(), store=MemoryStore())
    for bad in (None, "L1", {"id": "L1"}):
        with pytest.raises(InvalidInput, match="must be an iterable"):
            pipeline.fire_many(bad)  # type: ignore[arg-type]


def test_an_unknown_lead_says_what_to_do() -> None:
    """NotFound for a lead id names it and says to check the id or capture the lead."""
    from funnelkit import NotFound, Pipeline, templates  # noqa: PLC0415
    from funnelkit.stores import MemoryStore  # noqa: PLC0415

    pipeline = Pipeline(templates.inbound(), store=MemoryStore())
    with pytest.raises(NotFound, match="no lead 'ghost'.*capture the lead first"):
        pipeline.fire("ghost", "convert")
