"""Properties of merges and unmerges: any sequence of them, with moves in between, keeps the store
readable and every lead equal to the replay of its history."""

from __future__ import annotations

import contextlib
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from funnelkit import FunnelError, Pipeline, Touchpoint, templates
from funnelkit.dedupe import MERGED_STAGE, MergePolicy
from funnelkit.stores import MemoryStore, SQLiteStore

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
FUNNEL = templates.inbound()
IDS = ("A", "B", "C", "D")
EVENTS = sorted(FUNNEL.events)

lead_ids = st.sampled_from(IDS)
steps = st.lists(st.one_of(
    st.tuples(st.just("fire"), lead_ids, st.sampled_from(EVENTS)),
    st.tuples(st.just("merge"), lead_ids, lead_ids, st.sampled_from([None, "lead", "sql"])),
    st.tuples(st.just("unmerge"), lead_ids, st.integers(0, 3)),
    st.tuples(st.just("touch"), lead_ids),
    st.tuples(st.just("assign"), lead_ids, st.sampled_from(["ae-1", "ae-2"])),
), max_size=25)


def _open(kind: str) -> Any:
    if kind == "memory":
        return MemoryStore()
    return SQLiteStore(Path(tempfile.mkdtemp()) / "p.db")


def _run(pipeline: Pipeline, step: tuple[Any, ...], at: datetime) -> None:
    kind, lead_id, *rest = step
    if kind == "fire":
        pipeline.fire(lead_id, rest[0], at=at, reason="because")
    elif kind == "merge":
        pipeline.merge(lead_id, rest[0], actor="prop", reason="one person", at=at,
                       stage=rest[1], merge_policy=MergePolicy("newest"))
    elif kind == "unmerge":
        # Mostly a lead that is merged (the index picks one), else the one drawn.
        merged = sorted(m.duplicate_id for m in pipeline.store.merges(  # type: ignore[attr-defined]
            active_only=True))
        if merged and rest[0] > 0:
            lead_id = merged[rest[0] % len(merged)]
        pipeline.unmerge(lead_id, actor="prop", reason="two people", at=at)
    elif kind == "touch":
        pipeline.touch(lead_id, Touchpoint(lead_id, "call", "phone", at))
    else:
        pipeline.assign(lead_id, rest[0], at=at)


def _check(pipeline: Pipeline, touches: int) -> None:
    store: Any = pipeline.store
    report = pipeline.verify_history()
    assert report.ok, report.mismatches
    stream = [t for _, t in store.transitions()]  # every transition readable
    assert report.transitions == len(stream)
    leads = {lead.id: lead for lead in store.leads()}
    for lead_id, lead in leads.items():
        history = store.history(lead_id)
        assert history == [t for t in stream if t.lead_id == lead_id]
        replayed = FUNNEL.replay(history).get(lead_id)
        assert (lead.stage, lead.version) == ((FUNNEL.initial, 0) if replayed is None
                                              else (replayed.stage, replayed.version))
    merged = {lead_id for lead_id, lead in leads.items() if lead.stage == MERGED_STAGE}
    active = store.merges(active_only=True)
    assert {m.duplicate_id for m in active} == merged  # one pointer per merged lead
    assert all(m.survivor_id in leads for m in active)
    touchpoints = [tp for _, tp in store.touchpoint_stream()]
    assert len(touchpoints) == touches  # none lost, none copied
    assert not any(tp.lead_id in merged for tp in touchpoints)  # the survivors hold them
    assert not any(h.lead_id in merged for h in store.handoffs(status="pending"))


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@given(steps=steps)
def test_any_sequence_of_merges_keeps_every_lead_equal_to_its_replay(
    kind: str, steps: list[tuple[Any, ...]],
) -> None:
    """Merges, unmerges, moves, touches and assignments in any order; refusals write nothing."""
    store = _open(kind)
    pipeline = Pipeline(FUNNEL, store=store)
    try:
        for lead_id in IDS:
            pipeline.capture(lead_id, at=T0)
        touches = 0
        for number, step in enumerate(steps, 1):
            try:
                _run(pipeline, step, T0 + timedelta(minutes=number))
            except FunnelError:
                pass  # refused (merged, not allowed, a guess): nothing may have been written
            else:
                touches += step[0] == "touch"
            _check(pipeline, touches)
    finally:
        store.close()


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@given(steps=steps, pair=st.permutations(IDS).map(lambda ids: ids[:2]))
def test_unmerge_right_after_a_merge_gives_everything_back(
    kind: str, steps: list[tuple[Any, ...]], pair: tuple[str, str],
) -> None:
    """Merge then unmerge at once: each lead's stage, attributes, owner, touchpoints and pending
    handoffs are as before (only the two recorded moves each were added)."""
    store = _open(kind)
    pipeline = Pipeline(FUNNEL, store=store)
    try:
        for lead_id in IDS:
            pipeline.capture(lead_id, attributes={"name": lead_id, lead_id: 1}, at=T0)
        for number, step in enumerate(steps, 1):
            with contextlib.suppress(FunnelError):  # refusals write nothing
                _run(pipeline, step, T0 + timedelta(minutes=number))
        survivor, duplicate = pair
        at = T0 + timedelta(days=1)

        def state() -> dict[str, Any]:
            return {lead_id: (lead.stage, dict(lead.attributes), lead.owner, lead.source,
                              sorted(tp.at for tp in store.touchpoints(lead_id)),
                              sorted(h.id for h in store.handoffs(lead_id=lead_id,
                                                                  status="pending")))
                    for lead_id, lead in ((i, pipeline.get(i)) for i in IDS)}

        before = state()
        try:
            pipeline.merge(survivor, duplicate, actor="prop", reason="one", at=at)
        except FunnelError:
            return  # one of them is merged already: nothing to check
        pipeline.unmerge(duplicate, actor="prop", reason="two", at=at)
        assert state() == before
        assert pipeline.verify_history().ok
    finally:
        store.close()
