"""Escalation: an SLA breach reassigns and notifies, level by level, then expires; all audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from _pipeline_support import Clock, sales_funnel
from hypothesis import given, settings
from hypothesis import strategies as st

from funnelkit import Escalation, InvalidEscalation, InvalidInput, routing, templates
from funnelkit._pipeline.hooks import decode
from funnelkit.pipeline import Pipeline
from funnelkit.stores import MemoryStore, SQLiteStore, Store

MONDAY = datetime(2026, 3, 9, 9, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


class Pager:
    def __init__(self) -> None:
        self.pages: list[tuple[str, int, str, str | None]] = []

    def after_sla_breach(self, handoff: Any, level: int) -> None:
        self.pages.append((handoff.id, level, handoff.status, handoff.assignee))


def _escalating(store: Store | None = None, **escalation: Any) -> Pipeline:
    options = {"router": routing.round_robin(["mgr-maria"]), "sla": "2 business hours", **escalation}
    return Pipeline(templates.inbound(), store=store or MemoryStore(),
                    router=routing.round_robin(["sdr-ann", "sdr-bob"]),
                    escalations={"hand_to_sales": Escalation(**options)})


def _handed(pipeline: Pipeline, lead_id: str = "E1") -> str:
    pipeline.capture(lead_id, at=MONDAY)
    for event in ("convert", "qualify", "hand_to_sales"):
        pipeline.fire(lead_id, event, at=MONDAY)
    return f"{lead_id}:3"  # due Monday 13:00 (4 business hours)


# -- the value ---------------------------------------------------------------------------------


def test_escalation_defaults_and_repr() -> None:
    """Notify, the move's own SLA, two levels; a readable repr; a business SLA parsed."""
    plain = Escalation()
    assert (plain.router, plain.notify, plain.sla, plain.max_level) == (None, True, None, 2)
    assert str(Escalation(sla=timedelta(hours=1)).sla) == "3600 seconds"
    assert repr(Escalation(max_level=1)) == (
        "Escalation(router=None, notify=True, sla=None, max_level=1)")


@pytest.mark.parametrize("fields", [
    {"router": "maria"}, {"notify": 1}, {"notify": None}, {"sla": "soon"}, {"sla": timedelta(0)},
    {"sla": 5}, {"max_level": 0}, {"max_level": 101}, {"max_level": True}, {"max_level": 1.5},
    {"notify": False},
], ids=repr)
def test_escalation_checks_its_fields(fields: dict[str, Any]) -> None:
    """Each bad field is an InvalidEscalation, which is also an InvalidInput (ValueError, TypeError)."""
    with pytest.raises(InvalidEscalation) as caught:
        Escalation(**fields)
    assert isinstance(caught.value, InvalidInput)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, TypeError)


def test_escalation_is_keyword_only() -> None:
    """Every field is optional, so every field is keyword-only."""
    with pytest.raises(TypeError):
        Escalation(routing.round_robin(["maria"]))  # type: ignore[misc]


# -- the pipeline's configuration --------------------------------------------------------------


@pytest.mark.parametrize(("escalations", "says"), [
    ({"convert": Escalation()}, "opens no handoff (it stays in team 'marketing')"),
    ({"disqualify": Escalation()}, "goes to a lost stage"),
    ({"hand_to_sale": Escalation()}, "did you mean 'hand_to_sales'?"),
    ({("mqll", "hand_to_sales"): Escalation()}, "has no stage 'mqll'; did you mean 'mql'?"),
    ({("lead", "hand_to_sales"): Escalation()}, "has no move 'hand_to_sales' from 'lead'"),
    ({"hand_to_sales": "maria"}, "not a funnelkit.Escalation"),
    ({3: Escalation()}, "a key is an event name or a (stage, event) pair"),
    (["hand_to_sales"], "must map an event"),
], ids=lambda v: repr(v)[:40])
def test_pipeline_refuses_escalations_that_cannot_apply(escalations: Any, says: str) -> None:
    """A move that opens no handoff, an unknown event or stage, a wrong value: refused when built."""
    with pytest.raises(InvalidEscalation, match=None) as caught:
        Pipeline(templates.inbound(), store=MemoryStore(), escalations=escalations)
    assert says in str(caught.value)


def test_a_move_without_an_sla_is_refused_and_every_problem_listed() -> None:
    """No SLA, no breach: refused; all problems of the mapping in one error."""
    funnel = sales_funnel()  # hand_to_sales has an SLA; "nurture" into marketing from sql has none
    no_sla = (funnel.to_dict())
    for move in no_sla["moves"]:
        if move["event"] == "hand_to_closer":
            move.pop("sla", None)
    from funnelkit import Funnel  # noqa: PLC0415 - only this test builds one from data

    bare = Funnel.from_dict(no_sla)
    with pytest.raises(InvalidEscalation) as caught:
        Pipeline(bare, store=MemoryStore(),
                 escalations={"hand_to_closer": Escalation(), "qualify": Escalation()})
    text = str(caught.value)
    assert "has no sla, so its handoff is never due" in text
    assert "'qualify' from 'lead' to 'mql' opens no handoff" in text


def test_an_escalation_sla_must_fit_the_calendar() -> None:
    """A business SLA too long for the pipeline's calendar is refused when the pipeline is built."""
    from funnelkit.pipeline import BusinessCalendar  # noqa: PLC0415

    tiny = BusinessCalendar(timezone="UTC", working_hours=(9, 10), working_days=[0])
    with pytest.raises(InvalidEscalation, match="sla"):
        Pipeline(templates.inbound(), store=MemoryStore(), calendar=tiny,
                 escalations={"hand_to_sales": Escalation(sla="600 business hours")})


def test_a_stage_event_key_wins_over_the_event() -> None:
    """(stage, event) names one move and overrides the event's escalation for it."""
    one, other = Escalation(max_level=1), Escalation(max_level=3)
    pipeline = Pipeline(templates.inbound(), store=MemoryStore(),
                        escalations={"hand_to_sales": one, ("mql", "hand_to_sales"): other})
    assert pipeline.escalations == {("mql", "hand_to_sales"): other}


# -- escalating --------------------------------------------------------------------------------


def test_breaches_escalate_level_by_level_then_expire() -> None:
    """Level 1, level 2 (reassigned, due again, notified), then the third breach expires it."""
    pipeline = _escalating()
    pager = pipeline.register(Pager())
    hid = _handed(pipeline)
    assert pipeline.handoff(hid).assignee == "sdr-ann"

    first = pipeline.sweep(at(9, 13, 30))
    (raised,) = first.escalated
    assert first.expired == ()
    assert (raised.status, raised.assignee, raised.due_at) == ("pending", "mgr-maria", at(9, 15, 30))
    assert pipeline.get("E1").owner == "mgr-maria"
    assert pipeline.sweep(at(9, 13, 30)).escalated == ()  # idempotent at the same time
    assert pipeline.sweep(at(9, 15, 0)).escalated == ()   # not due again yet

    (second,) = pipeline.sweep(at(9, 16)).escalated
    assert second.due_at == at(10, 10)  # 1 business hour on Monday, 1 on Tuesday
    (expired,) = pipeline.sweep(at(10, 10, 30)).expired
    assert (expired.id, expired.status) == (hid, "expired")
    assert pipeline.sweep(at(11, 10)).expired == ()

    assert pager.pages == [(hid, 1, "pending", "mgr-maria"), (hid, 2, "pending", "mgr-maria"),
                           (hid, 2, "expired", "mgr-maria")]
    records = pipeline.history("E1")[3:]
    assert [(t.event, t.actor, t.at) for t in records] == [
        ("funnelkit.escalate", "funnelkit.sweep", at(9, 13, 30)),
        ("funnelkit.escalate", "funnelkit.sweep", at(9, 16)),
        ("funnelkit.expire", "funnelkit.sweep", at(10, 10, 30)),
    ]
    assert records[0].reason == (
        "SLA breach of handoff 'E1:3': due 2026-03-09T13:00:00+00:00, still pending; escalated to "
        "level 1 of 2, assignee 'sdr-ann' -> 'mgr-maria', due 2026-03-09T15:30:00+00:00")
    assert records[2].reason is not None
    assert records[2].reason.endswith("; expired at escalation level 2 of 2")
    assert pipeline.verify_history().ok


def test_the_move_sla_is_used_again_without_one_of_its_own() -> None:
    """sla=None: due again after the move's own SLA (4 business hours), from the sweep's time."""
    pipeline = _escalating(sla=None)
    _handed(pipeline)
    (raised,) = pipeline.sweep(at(9, 13, 30)).escalated
    assert raised.due_at == at(10, 9, 30)  # 3.5 hours on Monday, half an hour on Tuesday


def test_notify_false_reassigns_quietly_but_the_expiry_still_notifies() -> None:
    """Without notify, escalations call no hook; the final expiry calls after_sla_breach as always."""
    pipeline = _escalating(notify=False, max_level=1)
    pager = pipeline.register(Pager())
    hid = _handed(pipeline)
    assert len(pipeline.sweep(at(9, 13, 30)).escalated) == 1
    assert pager.pages == []
    assert len(pipeline.sweep(at(9, 16)).expired) == 1
    assert pager.pages == [(hid, 1, "expired", "mgr-maria")]


def test_a_router_with_nobody_keeps_the_assignee() -> None:
    """A router answering None (everyone full) leaves the handoff and the lead with their owner."""
    pipeline = _escalating(router=routing.least_loaded({"mgr-maria": 1}))
    _handed(pipeline, "E1")
    _handed(pipeline, "E2")
    first, second = pipeline.sweep(at(9, 13, 30)).escalated
    assert {first.assignee, second.assignee} == {"mgr-maria", "sdr-bob"}
    kept = first if first.assignee != "mgr-maria" else second
    assert pipeline.get(kept.lead_id).owner == "sdr-bob"
    reason = pipeline.history(kept.lead_id)[-1].reason or ""
    assert "assignee 'sdr-bob' -> 'sdr-bob'" in reason


def test_notify_only_escalation_keeps_the_assignee() -> None:
    """router=None: the breach notifies and sets a new due time; nobody is reassigned."""
    pipeline = _escalating(router=None)
    pager = pipeline.register(Pager())
    hid = _handed(pipeline)
    pipeline.sweep(at(9, 13, 30))
    assert pager.pages == [(hid, 1, "pending", "sdr-ann")]
    assert pipeline.get("E1").owner == "sdr-ann"


def test_the_level_lives_in_the_history_so_another_process_continues_it(tmp_path: Any) -> None:
    """A new pipeline on the same SQLite file reads the level from the audit records."""
    store = SQLiteStore(tmp_path / "esc.db")
    try:
        pipeline = _escalating(store, max_level=1)
        hid = _handed(pipeline)
        assert len(pipeline.sweep(at(9, 13, 30)).escalated) == 1
        other = _escalating(SQLiteStore(tmp_path / "esc.db"), max_level=1)
        pager = other.register(Pager())
        (expired,) = other.sweep(at(9, 16)).expired
        assert expired.id == hid
        assert pager.pages == [(hid, 1, "expired", "mgr-maria")]
        other.store.close()
    finally:
        store.close()


def test_accepting_after_an_escalation_closes_the_handoff_for_good() -> None:
    """The manager accepts: no further breach, the escalations stay in the history."""
    pipeline = _escalating()
    hid = _handed(pipeline)
    pipeline.sweep(at(9, 13, 30))
    pipeline.accept_handoff(hid, by="mgr-maria", at=at(9, 14))
    assert pipeline.sweep(at(12, 9)).escalated == ()
    assert [t.event for t in pipeline.history("E1")][3:] == ["funnelkit.escalate", "funnelkit.accept"]


def test_an_on_sla_breach_row_from_before_levels_decodes_as_level_zero() -> None:
    """Outbox rows written before the level argument existed are plain expiries: level 0."""
    pipeline = _escalating()
    hid = _handed(pipeline)
    handoff = pipeline.handoff(hid)
    from funnelkit._pipeline.hooks import encode  # noqa: PLC0415

    payload = encode("after_sla_breach", {"handoff": handoff, "level": 1})
    assert decode("after_sla_breach", payload)["level"] == 1
    del payload["level"]
    assert decode("after_sla_breach", payload) == {"handoff": handoff, "level": 0}


@settings(max_examples=40, deadline=None)
@given(gaps=st.lists(st.integers(min_value=0, max_value=60 * 30), min_size=1, max_size=8),
       max_level=st.integers(min_value=1, max_value=3))
def test_each_breach_escalates_once_up_to_the_limit(gaps: list[int], max_level: int) -> None:
    """However sweeps are spaced: at most max_level escalations, expired only after them, each
    sweep doing at most one step and a repeat at the same time nothing."""
    pipeline = _escalating(max_level=max_level, sla="1 hours")
    hid = _handed(pipeline)
    now = at(9, 12)
    for gap in gaps:
        now += timedelta(minutes=gap)
        report = pipeline.sweep(now)
        assert len(report.escalated) + len(report.expired) <= 1
        again = pipeline.sweep(now)
        assert (again.escalated, again.expired) == ((), ())
        events = [t.event for t in pipeline.history("E1")]
        level = events.count("funnelkit.escalate")
        assert level <= max_level
        status = pipeline.handoff(hid).status
        assert status == "pending" or (status == "expired" and level == max_level)
        assert events.count("funnelkit.expire") == (status == "expired")
        assert pipeline.get("E1").version == len(events)
    assert pipeline.verify_history().ok


def test_clock_driven_sweeps_escalate_too() -> None:
    """sweep() without a time reads the pipeline's clock."""
    clock = Clock(MONDAY)
    pipeline = Pipeline(templates.inbound(), store=MemoryStore(), clock=clock,
                        escalations={"hand_to_sales": Escalation()})
    pipeline.capture("E1")
    for event in ("convert", "qualify", "hand_to_sales"):
        pipeline.fire("E1", event)
    clock.advance(hours=5)
    assert len(pipeline.sweep().escalated) == 1
