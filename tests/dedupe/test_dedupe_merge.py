"""Pipeline.merge and Pipeline.unmerge: what moves, what is recorded, what is refused."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs
import pytest

from funnelkit import (
    ConcurrencyError,
    InvalidHook,
    InvalidInput,
    LeadMerged,
    MergeRefused,
    NotFound,
    Pipeline,
    ReasonRequired,
    Source,
    Touchpoint,
    Transition,
    UnmergeConflict,
    Veto,
    templates,
)
from funnelkit.dedupe import MERGE_EVENT, MERGED_STAGE, UNMERGE_EVENT, MergePolicy
from funnelkit.stores import Change, MemoryStore, MergeRecord, SQLiteStore

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from funnelkit.stores import Store

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
FUNNEL = templates.inbound()


def t(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made: Store = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "m.db")
    yield made
    made.close()


@pytest.fixture
def pipeline(store: Store) -> Pipeline:
    return Pipeline(FUNNEL, store=store)


def snapshot(store: Any) -> tuple[Any, ...]:
    return (list(store.leads()), [x for _, x in store.transitions()],
            [x for _, x in store.touchpoint_stream()], store.handoffs(),
            [r.key for r in store.outbox(undelivered_only=False)], store.merges())


def two(pipeline: Pipeline, *, duplicate_to: tuple[str, ...] = ("convert", "qualify"),
        survivor: dict[str, Any] | None = None, duplicate: dict[str, Any] | None = None) -> None:
    """Capture S and D (D moved by *duplicate_to*), with a touchpoint each."""
    pipeline.capture("S", attributes=survivor or {"name": "Jane", "tags": ["a"]}, at=T0)
    pipeline.capture("D", attributes=duplicate or {"name": "J. Doe", "phone": "+14155550123",
                                                   "tags": ["b"]},
                     source=Source.of("webinar"), owner="sdr-1", at=t(1))
    for event in duplicate_to:
        pipeline.fire("D", event, at=t(2))
    pipeline.touch("S", Touchpoint("S", "call", "phone", t(3)))
    pipeline.touch("D", Touchpoint("D", "webinar", "email", t(3)))


# -- what a merge does ---------------------------------------------------------------------------


def test_merge_keeps_the_survivor_and_closes_the_duplicate(pipeline: Pipeline) -> None:
    """Survivor keeps its id and takes the furthest stage by a recorded move; D is closed."""
    two(pipeline)
    d_history = pipeline.history("D")
    record = pipeline.merge("S", "D", actor="ana", reason="one person", at=t(4))
    survivor, duplicate = pipeline.get("S"), pipeline.get("D")
    assert (survivor.id, survivor.stage, survivor.version) == ("S", "mql", 1)
    assert dict(survivor.attributes) == {"name": "Jane", "tags": ["a"], "phone": "+14155550123"}
    assert (survivor.owner, survivor.source) == ("sdr-1", Source.of("webinar"))
    [move] = pipeline.history("S")
    assert (move.event, move.source, move.target, move.actor, move.reason) == (
        MERGE_EVENT, "subscriber", "mql", "ana", "one person")
    assert (duplicate.stage, duplicate.version) == (MERGED_STAGE, 3)
    assert pipeline.history("D")[:2] == d_history  # never rewritten
    assert pipeline.history("D")[2].target == MERGED_STAGE
    assert [tp.lead_id for tp in pipeline.touchpoints("S")] == ["S", "S"]
    assert pipeline.touchpoints("D") == []
    assert (record.survivor_id, record.duplicate_id, record.id) == ("S", "D", "D:3")
    assert record.survivor_after == survivor
    assert record.active
    assert pipeline.store.merges(active_only=True) == [record]  # type: ignore[attr-defined]
    assert pipeline.verify_history().ok


def test_survivor_further_along_keeps_its_stage_and_records_the_merge(
        pipeline: Pipeline) -> None:
    """When the survivor is further along, it stays in its stage; the merge is in its history."""
    pipeline.capture("S", at=T0)
    for event in ("convert", "qualify", "hand_to_sales"):
        pipeline.fire("S", event, at=t(1))
    entered = pipeline.get("S").stage_entered_at
    pipeline.capture("D", at=T0)
    pipeline.merge("S", "D", actor="ana", reason="dup", at=t(2))
    survivor = pipeline.get("S")
    assert (survivor.stage, survivor.version, survivor.stage_entered_at) == ("sql", 4, entered)
    *moves, record = pipeline.history("S")
    assert [x.event for x in moves] == ["convert", "qualify", "hand_to_sales"]
    assert (record.event, record.source, record.target, record.actor, record.reason) == (
        "funnelkit.merge", "sql", "sql", "ana", "dup")
    assert pipeline.verify_history().ok


@pytest.mark.parametrize(("s_events", "d_events", "kept"), [
    ((), ("disqualify",), "subscriber"),                       # open beats lost
    (("nurture",), ("convert",), "lead"),                     # the main path beats nurture
    (("convert", "qualify", "hand_to_sales", "open_opportunity", "win"), ("convert",),
     "customer"),                                             # won beats open
    (("convert",), ("convert",), "lead"),                     # a tie keeps the survivor's
])
def test_the_stage_kept_is_the_furthest(
    pipeline: Pipeline, s_events: tuple[str, ...], d_events: tuple[str, ...], kept: str,
) -> None:
    """Won, then the main path, then other open stages, then lost; the survivor's on a tie."""
    for lead_id, events in (("S", s_events), ("D", d_events)):
        pipeline.capture(lead_id, at=T0)
        for event in events:
            pipeline.fire(lead_id, event, at=t(1), reason="because")
    pipeline.merge("S", "D", actor="ana", reason="dup", at=t(2))
    assert pipeline.get("S").stage == kept


def test_the_host_can_choose_the_stage(pipeline: Pipeline) -> None:
    """stage= overrides the furthest stage; a move there is still recorded with the reason."""
    two(pipeline)
    pipeline.merge("S", "D", actor="ana", reason="dup", at=t(4), stage="lead")
    assert pipeline.get("S").stage == "lead"
    assert pipeline.history("S")[-1].target == "lead"
    assert pipeline.verify_history().ok


def test_merge_policies(pipeline: Pipeline) -> None:
    """A MergePolicy picks per field: duplicate, newest, or a host function."""
    two(pipeline)
    policy = MergePolicy("newest", fields={"tags": lambda s, d: sorted({*s, *d})})
    pipeline.merge("S", "D", actor="ana", reason="dup", at=t(4), merge_policy=policy)
    # D was captured later: its name is the newest; the tags are the union.
    assert dict(pipeline.get("S").attributes) == {
        "name": "J. Doe", "tags": ["a", "b"], "phone": "+14155550123"}


def test_merge_policy_is_checked_and_a_failing_function_stops_the_merge(
    pipeline: Pipeline,
) -> None:
    """Bad policies are InvalidInput; a function that raises is MergeRefused, nothing written."""
    for bad in ({"default": "oldest"}, {"fields": {"x": "best"}}, {"fields": ["x"]},
                {"fields": {1: "survivor"}}):
        with pytest.raises(InvalidInput):
            MergePolicy(**bad)
    two(pipeline)
    before = snapshot(pipeline.store)

    def boom(_: object, __: object) -> object:
        raise RuntimeError("no")

    with pytest.raises(MergeRefused, match="'name' raised") as caught:
        pipeline.merge("S", "D", actor="ana", reason="dup",
                       merge_policy=MergePolicy(fields={"name": boom}))
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert snapshot(pipeline.store) == before


def test_pending_handoffs_move_closed_ones_stay(pipeline: Pipeline) -> None:
    """The duplicate's pending handoffs move to the survivor; accepted ones stay its own."""
    two(pipeline, duplicate_to=("convert", "qualify", "hand_to_sales"))
    pipeline.capture("X", at=T0)
    for event in ("convert", "qualify", "hand_to_sales"):
        pipeline.fire("X", event, at=t(1))
    pipeline.accept_handoff("X:3", by="ae-1", at=t(2))
    pipeline.merge("S", "X", actor="ana", reason="dup", at=t(4))
    assert pipeline.handoff("X:3").lead_id == "X"  # closed: stays
    pipeline.merge("S", "D", actor="ana", reason="dup", at=t(5))
    moved = pipeline.handoff("D:3")
    assert (moved.lead_id, moved.status) == ("S", "pending")
    assert pipeline.store.merges()[-1].handoffs == ("D:3",)  # type: ignore[attr-defined]
    accepted = pipeline.accept_handoff("D:3", by="ae-2", at=t(6))  # acts on the survivor
    assert (accepted.status, pipeline.get("S").owner) == ("accepted", "ae-2")


# -- refusals ------------------------------------------------------------------------------------


def test_bad_merges_are_refused_and_write_nothing(pipeline: Pipeline) -> None:
    """Itself, unknown ids, bad arguments: typed errors, each also its builtin; nothing written."""
    two(pipeline)
    before = snapshot(pipeline.store)
    cases: list[tuple[type[Exception], dict[str, Any]]] = [
        (MergeRefused, {"survivor_id": "S", "duplicate_id": "S"}),
        (NotFound, {"duplicate_id": "nobody"}),
        (NotFound, {"survivor_id": "nobody"}),
        (InvalidInput, {"survivor_id": 7}),
        (InvalidInput, {"actor": ""}),
        (ReasonRequired, {"reason": "  "}),
        (InvalidInput, {"at": datetime(2026, 3, 9)}),  # noqa: DTZ001 - naive, the point
        (InvalidInput, {"at": t(1.5)}),  # before the leads' last change
        (InvalidInput, {"stage": "sqll"}),
        (InvalidInput, {"merge_policy": "survivor"}),
    ]
    for error, changes in cases:
        arguments = {"survivor_id": "S", "duplicate_id": "D", "actor": "ana",
                     "reason": "dup", **changes}
        with pytest.raises(error):
            pipeline.merge(**arguments)
        assert snapshot(pipeline.store) == before
    assert issubclass(MergeRefused, ValueError)
    assert issubclass(LeadMerged, ValueError)
    assert issubclass(UnmergeConflict, MergeRefused)
    with pytest.raises(MergeRefused, match="with itself"):
        pipeline.merge("S", "S", actor="ana", reason="dup")


def test_a_lead_of_another_funnel_is_refused(pipeline: Pipeline, store: Store) -> None:
    """A store shared by two funnels: a lead in a stage this funnel lacks is another's."""
    other = Pipeline(templates.temperature(), store=store)
    other.capture("T1", at=T0)
    pipeline.capture("S", at=T0)
    before = snapshot(store)
    with pytest.raises(MergeRefused, match="another funnel"):
        pipeline.merge("S", "T1", actor="ana", reason="dup")
    with pytest.raises(MergeRefused, match="another funnel"):
        pipeline.merge("T1", "S", actor="ana", reason="dup")
    assert snapshot(store) == before


def test_a_merged_lead_is_refused_naming_its_survivor(pipeline: Pipeline) -> None:
    """Firing, assigning, touching or merging a merged lead: LeadMerged naming the survivor."""
    two(pipeline)
    pipeline.capture("O", at=T0)
    pipeline.merge("S", "D", actor="ana", reason="dup", at=t(4))
    before = snapshot(pipeline.store)
    calls = [
        lambda: pipeline.fire("D", "hand_to_sales"),
        lambda: pipeline.fire_many([("D", "hand_to_sales")]),
        lambda: pipeline.assign("D", "ae-1"),
        lambda: pipeline.touch("D", Touchpoint("D", "call", "phone", t(5))),
        lambda: pipeline.merge("S", "D", actor="ana", reason="again"),
        lambda: pipeline.merge("O", "D", actor="ana", reason="again"),
        lambda: pipeline.merge("D", "O", actor="ana", reason="into a merged lead"),
    ]
    for call in calls:
        with pytest.raises(LeadMerged, match="merged into 'S'") as caught:
            call()
        assert (caught.value.lead_id, caught.value.survivor_id) == ("D", "S")
    assert snapshot(pipeline.store) == before
    copy = pickle.loads(pickle.dumps(caught.value))  # noqa: S301 - our own error
    assert (copy.lead_id, copy.survivor_id, str(copy)) == ("D", "S", str(caught.value))


def test_a_chain_of_merges_names_every_survivor(pipeline: Pipeline) -> None:
    """A merged into B merged into C: the error names B and says C is where to go."""
    for lead_id in "ABC":
        pipeline.capture(lead_id, at=T0)
    pipeline.merge("B", "A", actor="ana", reason="dup", at=t(1))
    pipeline.merge("C", "B", actor="ana", reason="dup", at=t(2))
    with pytest.raises(LeadMerged, match="merged into 'B' \\(itself merged into 'C'\\)"):
        pipeline.fire("A", "convert")
    with pytest.raises(UnmergeConflict, match="unmerge 'B' first"):
        pipeline.unmerge("A", actor="ana", reason="oops")
    pipeline.unmerge("B", actor="ana", reason="oops", at=t(3))
    pipeline.unmerge("A", actor="ana", reason="oops", at=t(4))
    assert {lead.id: lead.stage for lead in pipeline.store.leads()} == dict.fromkeys(
        "ABC", "subscriber")
    assert pipeline.verify_history().ok


def test_a_store_without_merges_is_refused(tmp_path: Path) -> None:
    """A store lacking the optional commit_merge: MergeRefused saying so, nothing written."""

    class Plain(MemoryStore):
        commit_merge = None

    pipeline = Pipeline(FUNNEL, store=Plain())
    pipeline.capture("S", at=T0)
    pipeline.capture("D", at=T0)
    with pytest.raises(MergeRefused, match="no commit_merge"):
        pipeline.merge("S", "D", actor="ana", reason="dup")
    with pytest.raises(MergeRefused, match="no commit_merge"):
        pipeline.unmerge("D", actor="ana", reason="dup")


# -- concurrency ---------------------------------------------------------------------------------


class MoveMeanwhile:
    """A before_merge hook that moves (or reassigns) a lead through another pipeline."""

    def __init__(self, other: Pipeline, lead_id: str, *, assign: bool = False) -> None:
        self.other, self.lead_id, self.assign = other, lead_id, assign

    def before_merge(self) -> None:
        if self.assign:
            self.other.assign(self.lead_id, "someone-else")
        else:
            self.other.fire(self.lead_id, "nurture")


@pytest.mark.parametrize("assign", [False, True], ids=["moved", "reassigned"])
@pytest.mark.parametrize("lead_id", ["S", "D"])
def test_a_concurrent_change_of_either_lead_writes_nothing(
    pipeline: Pipeline, store: Store, lead_id: str, assign: bool,  # noqa: FBT001
) -> None:
    """Both leads are version- and owner-guarded: a change after the load is ConcurrencyError."""
    two(pipeline)
    other = Pipeline(FUNNEL, store=store if isinstance(store, MemoryStore)
                     else SQLiteStore(store.path))  # type: ignore[attr-defined]
    pipeline.register(MoveMeanwhile(other, lead_id, assign=assign))
    with pytest.raises(ConcurrencyError, match=f"'{lead_id}'"):
        pipeline.merge("S", "D", actor="ana", reason="dup")
    assert store.merges() == []  # type: ignore[attr-defined]
    assert pipeline.get("D").stage != MERGED_STAGE
    assert [tp.lead_id for tp in pipeline.touchpoints("D")] == ["D"]
    assert not any(x.event == MERGE_EVENT for _, x in store.transitions())


# -- hooks ---------------------------------------------------------------------------------------


def test_before_merge_can_veto(pipeline: Pipeline) -> None:
    """A Veto (or any exception, reported as one) stops the merge; nothing is written."""

    class No:
        def before_merge(self, survivor: Any, merged: Any) -> None:
            assert merged.stage == "mql"
            raise Veto("no merges on Mondays")

    class Broken:
        def before_unmerge(self) -> None:
            raise KeyError("x")

    two(pipeline)
    before = snapshot(pipeline.store)
    no = pipeline.register(No())
    with pytest.raises(Veto, match="Mondays"):
        pipeline.merge("S", "D", actor="ana", reason="dup")
    assert snapshot(pipeline.store) == before
    pipeline.unregister(no)
    pipeline.merge("S", "D", actor="ana", reason="dup", at=t(4))
    pipeline.register(Broken())
    before = snapshot(pipeline.store)
    with pytest.raises(Veto, match="before_unmerge hook Broken.before_unmerge failed") as caught:
        pipeline.unmerge("D", actor="ana", reason="dup")
    assert isinstance(caught.value.__cause__, KeyError)
    assert snapshot(pipeline.store) == before


def test_after_merge_and_unmerge_are_delivered_from_the_outbox(pipeline: Pipeline) -> None:
    """after_merge and after_unmerge rows commit with the change and are delivered with a key."""
    seen: list[tuple[str, str, str, str]] = []

    class Audit:
        def after_merge(self, survivor: Any, duplicate: Any, actor: str, key: str) -> None:
            seen.append((key, survivor.stage, duplicate.stage, actor))

        def after_unmerge(self, survivor: Any, duplicate: Any, reason: str, key: str) -> None:
            seen.append((key, survivor.stage, duplicate.stage, reason))

    two(pipeline)
    pipeline.register(Audit())
    pipeline.merge("S", "D", actor="ana", reason="dup", at=t(4))
    pipeline.unmerge("D", actor="bo", reason="two people", at=t(5))
    assert seen == [("after_merge:D:3", "mql", MERGED_STAGE, "ana"),
                    ("after_unmerge:D:3", "subscriber", "mql", "two people")]
    assert pipeline.store.outbox() == []


def test_outbox_rows_wait_for_a_process_with_the_hook(store: Store) -> None:
    """outbox=["after_merge"] writes the row without a local implementation, in the commit."""
    pipeline = Pipeline(FUNNEL, store=store, outbox=["after_merge"])
    two(pipeline)
    pipeline.merge("S", "D", actor="ana", reason="dup", at=t(4))
    [row] = store.outbox()
    assert (row.key, row.hook, row.payload["actor"]) == ("after_merge:D:3", "after_merge", "ana")


def test_a_bad_merge_hook_is_refused_at_registration(pipeline: Pipeline) -> None:
    """Hook implementations are checked against the new specs like any other."""

    class Wrong:
        def before_merge(self, lead: Any) -> None: ...

    with pytest.raises(InvalidHook, match="no argument 'lead'"):
        pipeline.register(Wrong())


# -- unmerge -------------------------------------------------------------------------------------


def test_unmerge_restores_what_the_merge_changed(pipeline: Pipeline) -> None:
    """The duplicate, its touchpoints and pending handoffs come back; the survivor's stage too."""
    two(pipeline, duplicate_to=("convert", "qualify", "hand_to_sales"))
    s_before, d_before = pipeline.get("S"), pipeline.get("D")
    pipeline.merge("S", "D", actor="ana", reason="dup", at=t(4))
    pipeline.touch("S", Touchpoint("S", "meeting", "phone", t(5)))  # the survivor's own
    record = pipeline.unmerge("D", actor="bo", reason="two people", at=t(6))
    survivor, duplicate = pipeline.get("S"), pipeline.get("D")
    assert (survivor.stage, dict(survivor.attributes)) == (s_before.stage,
                                                           dict(s_before.attributes))
    assert (survivor.owner, survivor.source) == (s_before.owner, s_before.source)
    assert (duplicate.stage, duplicate.attributes, duplicate.owner) == (
        d_before.stage, d_before.attributes, d_before.owner)
    assert [x.event for x in pipeline.history("D")][-2:] == [MERGE_EVENT, UNMERGE_EVENT]
    assert [x.event for x in pipeline.history("S")] == [MERGE_EVENT, UNMERGE_EVENT]
    assert [tp.kind for tp in pipeline.touchpoints("D")] == ["webinar"]
    assert [tp.kind for tp in pipeline.touchpoints("S")] == ["call", "meeting"]
    assert pipeline.handoff("D:3").lead_id == "D"
    assert (record.unmerged_by, record.unmerge_reason, record.active) == ("bo", "two people",
                                                                          False)
    assert pipeline.store.merges() == [record]  # type: ignore[attr-defined]
    assert pipeline.verify_history().ok
    # Merged again later: a new record, the old one kept.
    again = pipeline.merge("S", "D", actor="ana", reason="one person after all", at=t(7))
    assert again.id == "D:6"
    assert [m.active for m in pipeline.store.merges()] == [False, True]  # type: ignore[attr-defined]


def test_unmerge_keeps_what_the_survivor_did_since(pipeline: Pipeline) -> None:
    """Moves after a merge that did not move the survivor, and handoffs closed since, stay."""
    pipeline.capture("S", at=T0)
    for event in ("convert", "qualify"):
        pipeline.fire("S", event, at=t(1))
    pipeline.capture("D", at=T0)
    for event in ("convert", "qualify", "hand_to_sales"):
        pipeline.fire("D", event, at=t(1))
    pipeline.merge("S", "D", actor="ana", reason="dup", at=t(2), stage="mql")
    pipeline.accept_handoff("D:3", by="ae-1", at=t(3))  # on the survivor
    pipeline.fire("S", "hand_to_sales", at=t(4))
    pipeline.unmerge("D", actor="ana", reason="oops", at=t(5))
    assert pipeline.get("S").stage == "sql"  # its own move stays
    assert pipeline.handoff("D:3").lead_id == "S"  # accepted on the survivor: stays
    assert pipeline.get("D").stage == "sql"
    assert pipeline.verify_history().ok


def test_unmerge_is_refused_when_it_would_be_a_guess(pipeline: Pipeline) -> None:
    """The survivor moved on from the merged stage, or an attribute the merge set changed."""
    two(pipeline)
    pipeline.merge("S", "D", actor="ana", reason="dup", at=t(4))
    pipeline.fire("S", "hand_to_sales", at=t(5))
    s = pipeline.get("S")
    pipeline.store.commit(Change(s.evolve(attributes={**s.attributes, "phone": "+1999"}, at=t(6)),
                                 s.version, expected_owner=s.owner))
    before = snapshot(pipeline.store)
    with pytest.raises(UnmergeConflict) as caught:
        pipeline.unmerge("D", actor="ana", reason="oops")
    problems = caught.value.problems
    assert len(problems) == 2
    assert "'phone'" in problems[0]
    assert "changed since the merge" in problems[0]
    assert "has moved since (version 1 then, 2 now, in 'sql')" in problems[1]
    assert snapshot(pipeline.store) == before
    copy = pickle.loads(pickle.dumps(caught.value))  # noqa: S301 - our own error
    assert copy.problems == problems


def test_unmerge_refuses_a_lead_that_is_not_merged(pipeline: Pipeline) -> None:
    """Unmerging a lead never merged (or unmerged already): MergeRefused; unknown: NotFound."""
    two(pipeline)
    with pytest.raises(MergeRefused, match="is not merged"):
        pipeline.unmerge("D", actor="ana", reason="x")
    with pytest.raises(NotFound):
        pipeline.unmerge("nobody", actor="ana", reason="x")
    with pytest.raises(ReasonRequired):
        pipeline.unmerge("D", actor="ana", reason="")
    with pytest.raises(InvalidInput):
        pipeline.unmerge("D", actor=None, reason="x")  # type: ignore[arg-type]


def test_owner_and_source_changed_since_block_the_unmerge(pipeline: Pipeline) -> None:
    """The merge gave the survivor the duplicate's owner; reassigned since, it is not guessed."""
    two(pipeline)
    pipeline.merge("S", "D", actor="ana", reason="dup", at=t(4))
    pipeline.assign("S", "ae-9", at=t(5))
    with pytest.raises(UnmergeConflict, match="owner is 'ae-9', not the 'sdr-1'"):
        pipeline.unmerge("D", actor="ana", reason="oops")
    pipeline.assign("S", "sdr-1", at=t(6))
    pipeline.unmerge("D", actor="ana", reason="oops", at=t(7))
    assert pipeline.get("S").owner is None


# -- replay and the record -----------------------------------------------------------------------


def test_replay_checks_merge_moves() -> None:
    """Merge moves replay to the merged stage; a malformed one is reported, not accepted."""
    ok = [Transition("D", "convert", "subscriber", "lead", T0, version=1),
          Transition("D", MERGE_EVENT, "lead", MERGED_STAGE, T0, reason="dup", version=2),
          Transition("D", UNMERGE_EVENT, MERGED_STAGE, "lead", T0, reason="x", version=3),
          Transition("D", MERGE_EVENT, "lead", "sql", T0, reason="dup", version=4)]
    assert FUNNEL.replay(ok)["D"].problems == ()
    assert FUNNEL.replay(ok[:2])["D"].stage == MERGED_STAGE
    bad = [Transition("D", MERGE_EVENT, "subscriber", MERGED_STAGE, T0, version=1),
           Transition("D", UNMERGE_EVENT, MERGED_STAGE, "nowhere", T0, reason="x", version=2)]
    problems = FUNNEL.replay(bad)["D"].problems
    assert problems == ("version 1: 'funnelkit.merge' needs a reason and has none",
                        ("version 2: 'funnelkit.unmerge' from 'funnelkit.merged' to 'nowhere' "
                         "is not a move an unmerge makes"))


def test_merge_record_checks_its_fields() -> None:
    """A MergeRecord refuses parts that do not belong together."""
    s = FUNNEL.new_lead("S", at=T0)
    d = FUNNEL.new_lead("D", at=T0)
    good: dict[str, Any] = {"at": T0, "actor": "ana", "reason": "dup", "survivor_before": s,
                            "survivor_after": s, "duplicate_before": d}
    record = MergeRecord("S", "D", **good)
    assert (record.id, record.duplicate_version, record.active) == ("D:1", 1, True)
    for changes in ({"survivor_before": d}, {"actor": ""}, {"reason": None},
                    {"touchpoints": [0]}, {"handoffs": [""]}, {"unmerged_at": T0},
                    {"at": datetime(2026, 3, 2)}):  # noqa: DTZ001 - naive, the point
        with pytest.raises(InvalidInput):
            MergeRecord("S", "D", **{**good, **changes})
    with pytest.raises(InvalidInput, match="with itself"):
        MergeRecord("S", "S", **{**good, "duplicate_before": s})
    undone = attrs.evolve(record, unmerged_at=T0, unmerged_by="bo", unmerge_reason="x")
    assert not undone.active


def test_a_pending_handoff_moved_by_a_merge_closes_with_the_survivor_s_next_move(
        pipeline: Pipeline) -> None:
    """The survivor disqualified: the handoff it took from its duplicate is rejected with it."""
    pipeline.capture("S", at=T0)
    pipeline.fire("S", "convert", at=t(1))
    pipeline.capture("D", at=T0)
    for event in ("convert", "qualify", "hand_to_sales"):
        pipeline.fire("D", event, at=t(1))
    (moved,) = pipeline.handoffs(lead_id="D", status="pending")
    pipeline.merge("S", "D", actor="ana", reason="dup", at=t(2))
    assert pipeline.handoff(moved.id).lead_id == "S"
    pipeline.fire("S", "disqualify", reason="no budget", at=t(3))
    closed = pipeline.handoff(moved.id)
    assert (closed.status, closed.reason) == ("rejected", "no budget")
    assert pipeline.handoffs(lead_id="S", status="pending") == []
