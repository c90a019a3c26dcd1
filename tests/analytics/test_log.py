"""FunnelLog: checked input, censoring rules and each analysis worked by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from funnelkit import Funnel, Handoff, InvalidInput, Lead, Pipeline, Source, Transition, templates
from funnelkit.analytics import FunnelLog, _log, main_path
from funnelkit.stores import MemoryStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def small_funnel() -> Funnel:
    return (Funnel.builder("small")
            .stage("new", "marketing").stage("mql", "marketing").stage("sql", "sales")
            .stage("won", "sales", outcome="won").stage("nurture", "marketing")
            .stage("lost", "sales", outcome="lost")
            .move("qualify", "new", "mql").move("hand", "mql", "sql", sla="2 days")
            .move("win", "sql", "won").move("nurture", ["new", "mql", "sql"], "nurture")
            .move("recycle", "nurture", "new", backward=True, requires_reason=False)
            .move("lose", ["new", "mql", "sql", "nurture"], "lost")
            .initial("new").build())


def walk(funnel: Funnel, lead_id: str, steps: list[tuple[str, float]], *,
         start: datetime = T0, source: Source | None = None, owner: str | None = None,
         attributes: dict[str, object] | None = None) -> tuple[Lead, list[Transition]]:
    """A lead created at *start* and moved by (event, days after start) pairs."""
    lead = funnel.new_lead(lead_id, at=start, source=source, owner=owner, attributes=attributes)
    moves = []
    for event, days in steps:
        outcome = funnel.fire(lead, event, at=start + timedelta(days=days), reason="r")
        lead = outcome.lead
        moves.append(outcome.transition)
    return lead, moves


def build(funnel: Funnel, journeys: list[tuple[Lead, list[Transition]]], as_of: datetime,
          **kw: object) -> FunnelLog:
    leads = [lead for lead, _ in journeys]
    moves = [t for _, ts in journeys for t in ts]
    return FunnelLog(funnel, leads=leads, transitions=moves, as_of=as_of, **kw)  # type: ignore[arg-type]


@pytest.fixture
def log() -> FunnelLog:
    f = small_funnel()
    return build(f, [
        walk(f, "A", [("qualify", 1), ("hand", 2), ("win", 5)], source=Source.of("referral")),
        walk(f, "B", [("qualify", 1), ("hand", 3)], source=Source.of("referral"), owner="bo"),
        walk(f, "C", [("qualify", 2), ("lose", 4)], source=Source.of("paid_search")),
        walk(f, "D", [("lose", 1)]),
        walk(f, "E", [], start=T0 + 8 * DAY, source=Source.of("paid_search")),
    ], T0 + 10 * DAY)


# -- conversion ------------------------------------------------------------------------------


def test_main_path_stops_at_the_first_won_stage() -> None:
    """The main path is the open stages defined before the first won stage, then that stage."""
    assert main_path(small_funnel()) == ("new", "mql", "sql", "won")
    assert main_path(templates.inbound())[-1] == "customer"


def test_conversion_counts_open_leads_as_censored(log: FunnelLog) -> None:
    """A lead still open is 'open' at its furthest step, never 'dropped'."""
    rows = log.conversion().steps
    assert [(r.step, r.entered, r.converted, r.open, r.dropped) for r in rows] == [
        ("new", 5, 3, 1, 1),      # E is open, D was lost from new
        ("mql", 3, 2, 0, 1),      # C lost from mql
        ("sql", 2, 1, 1, 0),      # B still in sql
        ("won", 1, None, None, None),
    ]
    assert rows[0].rate_closed == 3 / 4
    assert rows[1].rate_from_first == 3 / 5
    assert rows[1].rate_from_previous == 3 / 5
    assert rows[2].rate_closed == 1.0
    assert rows[2].rate_from_first == 2 / 5
    assert rows[0].rate_from_previous is None
    assert rows[3].rate_closed is None


def test_groups_add_up_to_the_steps_and_rank_by_entries(log: FunnelLog) -> None:
    """Top groups keep their rows, the rest is 'other', and everything adds up."""
    result = log.conversion(by="channel", top=1)
    assert list(result.groups) == ["paid_search", "other"]  # 2 vs 2: ties break by name, None last
    for i, row in enumerate(result.steps):
        assert row.entered == sum(rows[i].entered for rows in result.groups.values())
    by_kind = log.conversion(by="kind")
    assert set(by_kind.groups) == {"seed", "net", None}
    assert by_kind.groups[None][0].entered == 1  # D has no source: its own group, not 'unknown'


def test_group_named_like_the_rest_needs_another_name() -> None:
    """A real group called 'other' and a rest group would collide: say so."""
    f = small_funnel()
    log = build(f, [walk(f, f"L{i}", [], source=Source.of(c)) for i, c in
                    enumerate(["other", "a", "b"])], T0 + DAY)
    with pytest.raises(InvalidInput, match="other="):
        log.conversion(by="channel", top=1)
    assert "rest" in log.conversion(by="channel", top=1, other="rest").groups


def test_by_a_function_of_the_lead(log: FunnelLog) -> None:
    """A breakdown function gets each lead; it must return a string or None."""
    result = log.conversion(by=lambda lead: lead.id.lower())
    assert result.groups["a"][-1].entered == 1
    with pytest.raises(InvalidInput, match="must return a string"):
        log.conversion(by=lambda lead: 1)  # type: ignore[arg-type,return-value]


def test_ordered_mode_needs_the_steps_in_order_within_the_window() -> None:
    """mode='ordered' counts a step only after the previous one, within the window."""
    f = small_funnel()
    log = build(f, [
        walk(f, "fast", [("qualify", 1), ("hand", 2)]),
        walk(f, "slow", [("qualify", 1), ("hand", 40)]),
        walk(f, "loop", [("nurture", 1), ("recycle", 2), ("qualify", 3)]),
    ], T0 + 50 * DAY)
    reached = log.conversion().steps
    assert [r.entered for r in reached] == [3, 3, 2, 0]
    ordered = log.conversion(mode="ordered", window="30 days").steps
    assert [r.entered for r in ordered] == [3, 3, 1, 0]
    # 'slow' reached sql too late and 'loop' never did; both windows are over: dropped.
    assert (ordered[1].dropped, ordered[1].open) == (2, 0)


def test_ordered_window_still_running_is_open() -> None:
    """A lead whose window has not ended at as_of is open, even where it has not moved yet."""
    f = small_funnel()
    log = build(f, [walk(f, "A", [("qualify", 1)])], T0 + 5 * DAY)
    row = log.conversion(mode="ordered", window="30 days").steps[1]
    assert (row.open, row.dropped) == (1, 0)
    late = build(f, [walk(f, "A", [("qualify", 1)])], T0 + 40 * DAY)
    assert late.conversion(mode="ordered", window="30 days").steps[1].dropped == 1
    # Without a window, ordered counts like reached for a straight journey.
    assert late.conversion(mode="ordered").steps[1].open == 1


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"steps": ["new", "nope"]}, "not a stage"),
    ({"steps": "new"}, "list of stage names"),
    ({"steps": []}, "names no stage"),
    ({"steps": ["new", "new"]}, "twice"),
    ({"mode": "sideways"}, "mode="),
    ({"window": "3 days"}, "applies to mode='ordered'"),
    ({"mode": "ordered", "window": "3 business days"}, "business time"),
    ({"mode": "ordered", "window": "soon"}, "not a duration"),
    ({"by": "colour"}, "not a breakdown"),
    ({"top": 0}, "top="),
    ({"top": True}, "top="),
    ({"other": 3}, "other="),
])
def test_conversion_refuses_bad_arguments(log: FunnelLog, kwargs: dict[str, object],
                                          match: str) -> None:
    """Each bad argument is an InvalidInput that says what to pass."""
    with pytest.raises(InvalidInput, match=match):
        log.conversion(**kwargs)  # type: ignore[arg-type]


# -- time in stage, outcomes -------------------------------------------------------------------


def test_time_in_stage_censors_running_stays(log: FunnelLog) -> None:
    """Stays still running at as_of are censored, not short; closed stages have no entry."""
    stays = log.time_in_stage()
    assert set(stays) == {"new", "mql", "sql", "nurture"}
    new = stays["new"]
    # new: A, B 1 day; C 2 days; D 1 day (lost); E running 2 days (censored).
    assert (new.n, new.n_censored) == (5, 1)
    assert new.median == DAY
    sql = log.time_in_stage("sql")
    # A 3 days (ended); B entered at day 3, running 7 days at as_of.
    assert [(r[0], r[2], r[3]) for r in sql.table] == [(3 * DAY, 1, 0), (7 * DAY, 0, 1)]
    assert sql.median == 3 * DAY  # S(3 days) = 1 - 1/2: half the stays ended by then
    assert sql.percentile(0.9) is None  # 90% is never reached: B is still running
    with pytest.raises(InvalidInput, match="closed"):
        log.time_in_stage("won")
    with pytest.raises(InvalidInput, match="did you mean 'sql'"):
        log.time_in_stage("sqll")


def test_self_loops_do_not_end_a_stay() -> None:
    """A move that stays in its stage (a self-loop) is not an exit."""
    f = (Funnel.builder("loop").stage("a", "m").stage("won", "m", outcome="won")
         .move("ping", "a", "a").move("win", "a", "won").initial("a").build())
    log = build(f, [walk(f, "L", [("ping", 1), ("win", 3)])], T0 + 4 * DAY)
    assert log.time_in_stage("a").median == 3 * DAY


def test_time_to_outcome_competing(log: FunnelLog) -> None:
    """Won and lost compete; open leads are censored at as_of."""
    r = log.time_to_outcome()
    assert (r.n, r.won, r.lost, r.censored) == (5, 1, 2, 2)
    assert r.median_time_to_win == 5 * DAY
    # Times: D lost 1d, C lost 4d, A won 5d; E censored at 2d, B censored at 10d.
    # S drops at 1d (5 at risk): 4/5; E censored at 2d; 4d: 3 at risk -> lost += 4/5 * 1/3.
    assert r.lost_by(10 * DAY) == pytest.approx(1 / 5 + 4 / 5 / 3)
    assert r.won_by(10 * DAY) == pytest.approx(4 / 5 * 2 / 3 * 1 / 2)
    assert r.won_by(4 * DAY) == 0.0


# -- cohorts, handoffs, velocity ---------------------------------------------------------------


def test_cohorts_leave_unfinished_horizons_empty() -> None:
    """A horizon not yet elapsed for every lead of a cohort is None, never a low number."""
    f = small_funnel()
    log = build(f, [
        walk(f, "A", [("qualify", 1), ("hand", 2), ("win", 5)], start=T0),
        walk(f, "B", [], start=T0 + 10 * DAY),
        walk(f, "C", [("qualify", 1), ("hand", 2), ("win", 3)], start=T0 + 35 * DAY),
    ], T0 + 50 * DAY)
    result = log.cohorts(horizons=("7 days", "30 days"))
    assert [(r.period.month, r.leads, r.won) for r in result.rows] == [
        (1, 2, (0.5, 0.5)), (2, 1, (1.0, None))]
    assert json.loads(json.dumps(result.to_dict()))["rows"][1]["won"] == [1.0, None]
    with pytest.raises(InvalidInput, match="period="):
        log.cohorts(period="fortnight")
    with pytest.raises(InvalidInput, match="horizons="):
        log.cohorts(horizons="30 days")


def test_cohort_periods_follow_the_as_of_timezone() -> None:
    """Months start at midnight where as_of is: a lead at 01:00 UTC on Feb 1 is January's in Sao Paulo."""
    f = small_funnel()
    sp = timezone(timedelta(hours=-3))
    lead = walk(f, "A", [], start=datetime(2026, 2, 1, 1, tzinfo=UTC))
    assert build(f, [lead], datetime(2026, 3, 1, tzinfo=sp)).cohorts().rows[0].period == \
        datetime(2026, 1, 1, tzinfo=sp)


def test_handoffs_report_by_team() -> None:
    """Outcomes, SLA compliance, speed to lead and rejection reasons, per receiving team."""
    f = small_funnel()
    a, _ = walk(f, "A", [], source=Source.of("referral"))
    b, _ = walk(f, "B", [], source=Source.of("social"))
    c, _ = walk(f, "C", [], source=Source.of("social"))
    def h(hid: str, lead: str, created: float, **kw: object) -> Handoff:
        return Handoff(hid, lead, "marketing", "sales", created_at=T0 + created * DAY,
                       event="hand", version=1, due_at=T0 + (created + 2) * DAY, **kw)  # type: ignore[arg-type]
    handoffs = [
        h("h1", "A", 1, status="accepted", resolved_at=T0 + 2 * DAY, resolved_by="x"),
        h("h2", "B", 1, status="rejected", resolved_at=T0 + 4 * DAY, resolved_by="x",
          reason="no budget"),
        h("h3", "C", 8, status="pending"),
        h("h4", "C", 1, status="expired", resolved_at=T0 + 3 * DAY),
    ]
    log = FunnelLog(f, leads=[a, b, c], transitions=[], handoffs=handoffs, as_of=T0 + 9 * DAY)
    sales = log.handoffs_report().teams["sales"]
    assert (sales.handed, sales.accepted, sales.rejected, sales.expired, sales.pending) == \
        (4, 1, 1, 1, 1)
    assert sales.acceptance_rate == 1 / 3
    assert (sales.sla_met, sales.sla_breached, sales.sla_open) == (1, 2, 1)
    assert sales.sla_compliance == 1 / 3
    assert sales.rejection_reasons == {"social": {"no budget": 1}}
    # First handoffs: A accepted after 1 day; B censored at 3 days; C's first (h4) censored at 2.
    assert sales.speed_to_lead.n == 3
    assert sales.speed_to_lead.n_censored == 2
    assert sales.speed_median is None
    assert log.handoffs_report(by=None).by is None


def test_velocity_by_hand() -> None:
    """Lead velocity per month and sales velocity from its parts."""
    f = small_funnel()
    log = build(f, [
        walk(f, "A", [("qualify", 1), ("hand", 2), ("win", 6)], attributes={"amount": 100}),
        walk(f, "B", [("qualify", 1), ("hand", 2), ("lose", 3)]),
        walk(f, "C", [("qualify", 33), ("hand", 34)], attributes={"amount": "big"}),
        walk(f, "D", [("qualify", 40), ("hand", 41), ("win", 44)], start=T0,
             attributes={"amount": 300}),
    ], T0 + 70 * DAY)
    v = log.velocity(qualified="mql", value="amount")
    assert [(p.period.month, p.qualified, p.growth, p.complete) for p in v.lead_velocity] == [
        (1, 2, None, True), (2, 2, 0.0, True), (3, 0, None, False)]
    assert v.open_opportunities == 1
    assert v.win_rate == 2 / 3
    assert v.average_value == 200.0
    assert v.cycle_length == 25 * DAY
    assert v.sales_velocity == pytest.approx(1 * 2 / 3 * 200 / 25)
    with pytest.raises(InvalidInput, match="not a number"):
        log.velocity(value=lambda lead: "big")
    assert log.velocity().average_value is None


# -- checked input -----------------------------------------------------------------------------


def test_empty_log_gives_empty_results() -> None:
    """No leads at all is a valid log: zero counts, no estimates, no error."""
    log = FunnelLog(small_funnel(), leads=[], transitions=[], as_of=T0)
    assert [r.entered for r in log.conversion().steps] == [0, 0, 0, 0]
    assert log.conversion().steps[1].rate_from_first is None
    assert log.time_in_stage("new").median is None
    assert log.time_to_outcome().n == 0
    assert log.cohorts().rows == ()
    assert log.handoffs_report().teams == {}
    assert log.velocity().lead_velocity == ()


def _moves() -> tuple[Funnel, Lead, list[Transition]]:
    f = small_funnel()
    lead, moves = walk(f, "A", [("qualify", 1), ("hand", 2)])
    return f, lead, moves


def test_refuses_a_move_of_an_unknown_lead() -> None:
    f, lead, moves = _moves()
    with pytest.raises(InvalidInput, match=r"transitions row 1 \('A' v1\): lead 'A' is not in leads"):
        FunnelLog(f, leads=[], transitions=moves, as_of=T0 + 9 * DAY)


def test_refuses_moves_out_of_version_order() -> None:
    f, lead, moves = _moves()
    with pytest.raises(InvalidInput, match="version order"):
        FunnelLog(f, leads=[lead], transitions=[*moves, moves[0]], as_of=T0 + 9 * DAY)


def test_refuses_moves_back_in_time() -> None:
    f, lead, moves = _moves()
    late = Transition("A", "qualify", "new", "mql", T0 + 5 * DAY, version=1)
    early = Transition("A", "hand", "mql", "sql", T0 + 3 * DAY, version=2)
    with pytest.raises(InvalidInput, match="back in time"):
        FunnelLog(f, leads=[lead], transitions=[late, early], as_of=T0 + 9 * DAY)


def test_refuses_a_gap_in_a_journey() -> None:
    f, lead, moves = _moves()
    with pytest.raises(InvalidInput, match="a move is missing"):
        FunnelLog(f, leads=[lead], transitions=[moves[1]], as_of=T0 + 9 * DAY)


def test_refuses_unknown_stages() -> None:
    f, lead, _ = _moves()
    bad = Transition("A", "warp", "new", "orbit", T0 + DAY, version=1)
    with pytest.raises(InvalidInput, match="stage 'orbit' is not in funnel 'small'"):
        FunnelLog(f, leads=[lead], transitions=[bad], as_of=T0 + 9 * DAY)
    stray = Lead("Z", "orbit", created_at=T0)
    with pytest.raises(InvalidInput, match="leads row 1: lead 'Z' is in stage 'orbit'"):
        FunnelLog(f, leads=[stray], transitions=[], as_of=T0 + 9 * DAY)


def test_refuses_as_of_before_the_last_event_or_naive() -> None:
    f, lead, moves = _moves()
    with pytest.raises(InvalidInput, match="after as_of"):
        FunnelLog(f, leads=[lead], transitions=moves, as_of=T0 + DAY)
    with pytest.raises(InvalidInput, match="naive"):
        FunnelLog(f, leads=[lead], transitions=moves, as_of=datetime(2026, 3, 1))  # noqa: DTZ001
    h = Handoff("h", "A", "m", "s", created_at=T0 + 20 * DAY, event="hand", version=2)
    with pytest.raises(InvalidInput, match="handoffs row 1"):
        FunnelLog(f, leads=[lead], transitions=moves, handoffs=[h], as_of=T0 + 9 * DAY)


@pytest.mark.parametrize("bad", [
    {"funnel": "small"}, {"leads": "abc"}, {"leads": [1]}, {"transitions": [("A", 1)]},
    {"touchpoints": [None]}, {"handoffs": 5}, {"leads": [1, 1]},
])
def test_refuses_wrong_types(bad: dict[str, object]) -> None:
    f, lead, moves = _moves()
    args: dict[str, object] = {"funnel": f, "leads": [lead], "transitions": moves,
                               "as_of": T0 + 9 * DAY}
    args.update(bad)
    with pytest.raises(InvalidInput):
        FunnelLog(args.pop("funnel"), **args)  # type: ignore[arg-type]


def test_refuses_a_lead_given_twice() -> None:
    f, lead, _ = _moves()
    with pytest.raises(InvalidInput, match="given twice"):
        FunnelLog(f, leads=[lead, lead], transitions=[], as_of=T0 + 9 * DAY)


def test_from_store_pages_through_every_move() -> None:
    """from_store reads streams page by page and gives the same log as the values."""
    pipeline = Pipeline(small_funnel(), store=MemoryStore())
    for i in range(30):
        pipeline.capture(f"L{i}", at=T0)
        pipeline.fire(f"L{i}", "qualify", at=T0 + DAY)
    old = _log._PAGE
    _log._PAGE = 7
    try:
        log = FunnelLog.from_store(pipeline.funnel, pipeline.store, as_of=T0 + 2 * DAY)
    finally:
        _log._PAGE = old
    assert log.conversion().steps[1].entered == 30
    assert "leads=30, moves=30" in repr(log)


def test_results_are_plain_json(log: FunnelLog) -> None:
    """Every result's to_dict() survives json.dumps unchanged."""
    for result in (log.conversion(by="channel"), log.time_to_outcome(), log.cohorts(),
                   log.handoffs_report(), log.velocity(), log.time_in_stage("new")):
        data = result.to_dict()
        assert json.loads(json.dumps(data)) == data


# -- properties --------------------------------------------------------------------------------

_EVENTS = st.lists(st.tuples(st.sampled_from(["qualify", "hand", "win", "nurture", "recycle",
                                              "lose"]), st.integers(0, 20)), max_size=8)


@st.composite
def journeys(draw: st.DrawFn) -> tuple[Funnel, list[tuple[Lead, list[Transition]]]]:
    f = small_funnel()
    out = []
    for i in range(draw(st.integers(0, 12))):
        lead = f.new_lead(f"L{i}", at=T0 + draw(st.integers(0, 30)) * DAY,
                          source=Source.of(draw(st.sampled_from(["a", "b", "c"]))))
        moves = []
        for event, gap in draw(_EVENTS):
            if event not in f.events_from(lead.stage):
                continue
            outcome = f.fire(lead, event, at=lead.updated_at + gap * DAY, reason="r")
            lead = outcome.lead
            moves.append(outcome.transition)
        out.append((lead, moves))
    return f, out


@given(journeys(), st.integers(1, 3), st.sampled_from(["reached", "ordered"]))
def test_groups_always_add_up(data: tuple[Funnel, list[tuple[Lead, list[Transition]]]],
                              top: int, mode: str) -> None:
    """Whatever the log, the groups' rows add up to the overall rows, column by column."""
    f, js = data
    log = build(f, js, T0 + 400 * DAY)
    result = log.conversion(by="channel", top=top, mode=mode)  # type: ignore[arg-type]
    assert len(result.groups) <= top + 1
    for i, row in enumerate(result.steps):
        for column in ("entered", "converted", "open", "dropped"):
            values = [getattr(rows[i], column) for rows in result.groups.values()]
            total = getattr(row, column)
            assert total == (sum(values) if total is not None else None) or not values
        if row.converted is not None:
            assert row.entered == row.converted + row.open + row.dropped


@given(journeys())
def test_every_lead_is_counted_once(data: tuple[Funnel, list[tuple[Lead, list[Transition]]]]) -> None:
    """Each lead enters the first step; each stay ends or is censored; outcomes add up."""
    f, js = data
    log = build(f, js, T0 + 400 * DAY)
    assert log.conversion().steps[0].entered == len(js)
    r = log.time_to_outcome()
    assert r.won + r.lost + r.censored == len(js)
    assert r.won == sum(lead.stage == "won" for lead, _ in js)
    stays = log.time_in_stage()
    exits = sum(1 for _, ts in js for t in ts if t.source != t.target
                and f.stage(t.source).is_open)
    running = sum(1 for lead, _ in js if f.stage(lead.stage).is_open)
    assert sum(s.n for s in stays.values()) == exits + running
    assert sum(s.n_censored for s in stays.values()) == running
