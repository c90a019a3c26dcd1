"""Analytics follow merges: a merged person counts once, on every engine; an undone merge leaves no trace."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import _data
import pytest
from test_engines import assert_same

from funnelkit.analytics import FunnelLog
from funnelkit.stores import MemoryStore, SQLiteStore

if TYPE_CHECKING:
    from pathlib import Path

SqlLog = pytest.importorskip("funnelkit.analytics.sql").SqlLog

MERGE_AT = _data.AS_OF


def _merge_pairs(pipeline: Any, pairs: int) -> list[tuple[str, str]]:
    """Merge *pairs* (survivor, duplicate) pairs of the filled history; returns them."""
    ids = sorted(lead.id for lead in pipeline.store.leads())
    done = []
    for k in range(pairs):
        survivor, duplicate = ids[4 * k], ids[4 * k + 1]
        pipeline.merge(survivor, duplicate, actor="ana", reason="same person", at=MERGE_AT)
        done.append((survivor, duplicate))
    return done


def test_a_merged_lead_counts_once_through_its_survivor() -> None:
    """The duplicate leaves the counts; its touchpoints are credited through the survivor."""
    pipeline = _data.fill(MemoryStore(), leads=120, seed=11)
    before = FunnelLog.from_store(pipeline.funnel, pipeline.store, as_of=_data.AS_OF)
    pairs = _merge_pairs(pipeline, 10)
    after = FunnelLog.from_store(pipeline.funnel, pipeline.store, as_of=_data.AS_OF)
    assert after.merged == {d for _, d in pairs}
    assert len(after.leads) == len(before.leads) - 10
    assert after.conversion().steps[0].entered == before.conversion().steps[0].entered - 10
    # Nothing is lost from the touchpoints: the duplicate's moved to its survivor.
    assert len(after.touchpoints) == len(before.touchpoints)
    survivors = {s for s, _ in pairs}
    moved = [tp for tp in after.touchpoints if tp.lead_id in survivors]
    assert len(moved) == sum(
        1 for tp in before.touchpoints if tp.lead_id in survivors | after.merged)


def test_an_undone_merge_of_a_lead_behind_its_survivor_leaves_the_figures_as_they_were() -> None:
    """Merge then unmerge, the survivor further along: every figure equals the untouched log."""
    pipeline = _data.fill(MemoryStore(), leads=60, seed=2)
    funnel = pipeline.funnel
    order = {name: i for i, name in enumerate(s.name for s in funnel.stages)}
    leads = sorted(pipeline.store.leads(), key=lambda lead: lead.id)
    first = next(lead for lead in leads if lead.stage == funnel.initial)
    survivor = next(lead for lead in leads if lead.stage == "customer")
    assert order[survivor.stage] > order[first.stage]
    before = FunnelLog.from_store(funnel, pipeline.store, as_of=_data.AS_OF)
    pipeline.merge(survivor.id, first.id, actor="ana", reason="same person", at=MERGE_AT)
    pipeline.unmerge(first.id, actor="ana", reason="not the same", at=_data.AS_OF)
    after = FunnelLog.from_store(funnel, pipeline.store, as_of=_data.AS_OF)
    assert after.merged == frozenset()
    assert_same(before, after)


def test_sql_engine_follows_merges_like_memory(tmp_path: Path) -> None:
    """A SQLite store with active and undone merges: SqlLog equals FunnelLog, exactly."""
    store = SQLiteStore(tmp_path / "merges.db")
    try:
        pipeline = _data.fill(store, leads=120, seed=4)
        pairs = _merge_pairs(pipeline, 8)
        for _, duplicate in pairs[:3]:
            pipeline.unmerge(duplicate, actor="ana", reason="not the same", at=_data.AS_OF)
        memory = FunnelLog.from_store(pipeline.funnel, store, as_of=_data.AS_OF)
        assert len(memory.merged) == 5
        with SqlLog.from_store(pipeline.funnel, store, as_of=_data.AS_OF) as sql:
            assert_same(memory, sql)
    finally:
        store.close()


def test_statistics_counted_once_answer_every_later_call_as_a_fresh_log_would() -> None:
    """A log keeps what it counted; each later call, whatever its arguments, equals a new log's."""
    pipeline = _data.fill(MemoryStore(), leads=80, seed=9)

    def fresh() -> FunnelLog:
        return FunnelLog.from_store(pipeline.funnel, pipeline.store, as_of=_data.AS_OF)

    shared = fresh()
    calls = [
        lambda log: log.attribution("linear").to_dict(),
        lambda log: log.attribution("linear", lookback="7 days").to_dict(),
        lambda log: log.attribution("first", conversion="sql").to_dict(),
        lambda log: log.attribution("linear", conversion="sql", lookback="7 days").to_dict(),
        lambda log: {k: v.to_dict() for k, v in log.time_in_stage().items()},
        lambda log: log.time_in_stage("lead").to_dict(),
    ]
    for call in calls + calls:
        assert call(shared) == call(fresh())
