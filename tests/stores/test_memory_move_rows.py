"""MemoryStore's fast write of a hooked move (one move and its outbox row) is the general write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import patch

from hypothesis import given
from hypothesis import strategies as st

from funnelkit import AlreadyExists, ConcurrencyError, Lead, templates
from funnelkit._core.codec import LazyPayload
from funnelkit.stores import Change, MemoryStore, OutboxMessage

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
FUNNEL = templates.inbound()
CYCLE = ("convert", "qualify", "nurture", "recycle")
KINDS = (("lead", "lead"), ("transition", "transition"))


def _move(lead: Lead, step: int, row: str, key: str) -> Change:
    """*lead* moved on by one event, with no row, a plain-data row or a lazy (pipeline) row."""
    event = "convert" if lead.version == 0 else CYCLE[1 + (lead.version - 1) % 3]
    at = T0 + timedelta(minutes=step)
    fired = FUNNEL.fire(lead, event, at=at, reason="warm again" if event == "recycle" else None)
    payload: Any = ({"step": step} if row == "plain" else
                    LazyPayload({"lead": fired.lead, "transition": fired.transition}, KINDS))
    outbox = [] if row == "none" else [OutboxMessage(key, "after_transition", payload, at)]
    return Change(fired.lead, lead.version, [fired.transition], expected_owner=lead.owner,
                  outbox=outbox)


def _contents(store: MemoryStore) -> tuple[Any, ...]:
    ids = [lead.id for lead in store.leads()]
    rows = [(r.id, r.key, r.hook, dict(r.payload), r.created_at, r.attempts, r.next_attempt_at,
             r.claimed_by, r.claimed_until) for r in store.outbox(undelivered_only=False)]
    return (list(store.leads()), [store.history(i) for i in ids], list(store.transitions()),
            rows)


@given(
    steps=st.lists(
        st.tuples(st.integers(0, 2), st.sampled_from(["none", "plain", "lazy"]), st.booleans(),
                  st.booleans(), st.booleans()),
        min_size=1, max_size=15),
)
def test_the_fast_write_of_a_move_and_its_row_is_the_general_write(
    steps: list[tuple[int, str, bool, bool, bool]],
) -> None:
    """A move with its outbox row, written claimed (commit_claimed) or not (commit), leaves
    what the general path leaves, refusals included: some changes are stale (a version
    conflict) and some reuse the previous row's key (AlreadyExists)."""

    def run() -> tuple[Any, ...]:
        store = MemoryStore()
        store.commit_many([Change(FUNNEL.new_lead(f"L{i}", at=T0), None) for i in range(3)])
        last: dict[str, Lead] = {}
        answers: list[Any] = []
        key = "k0"
        for number, (lead, row, claimed, stale, reuse) in enumerate(steps):
            lead_id = f"L{lead}"
            loaded = last[lead_id] if stale and lead_id in last else store.load(lead_id)
            last[lead_id] = store.load(lead_id)
            key = key if reuse else f"k{number + 1}"
            change = _move(loaded, number, row, key)
            try:
                if claimed:
                    answers.append(store.commit_claimed(change, worker="w",
                                                        until=T0 + timedelta(days=1)))
                else:
                    answers.append(store.commit(change))
            except (ConcurrencyError, AlreadyExists) as exc:
                answers.append((type(exc).__name__, str(exc)))
        return (*_contents(store), answers)

    fast = run()
    with patch.object(MemoryStore, "_write_move", lambda *_: None):
        general = run()
    assert fast == general
