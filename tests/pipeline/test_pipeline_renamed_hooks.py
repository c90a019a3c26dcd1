"""The after-hooks once called on_*: the after_* names work, and the old ones still do, for one release.

Rule: ``before_*`` hooks run inside the commit and may veto; ``after_*`` hooks are delivered from
the outbox after it.  A plugin with an old method name is registered under the new hook with a
DeprecationWarning; outbox rows stored under an old name are delivered to the new hook.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from _pipeline_support import FRIDAY_2PM

from funnelkit import InvalidHook, Pipeline, hooks, templates
from funnelkit._pipeline.hooks import SPECS, encode
from funnelkit.stores import Change, MemoryStore, OutboxMessage, SQLiteStore, Store
from funnelkit.testing import HookRecorder

if TYPE_CHECKING:
    from pathlib import Path

AT = FRIDAY_2PM
GOING = "is deprecated and will be removed in the next release"
RENAMED = sorted(hooks.RENAMED_HOOKS.items())


def _hand_to_sales(pipeline: Pipeline, lead_id: str = "L1") -> None:
    pipeline.capture(lead_id, at=AT)
    for event in ("convert", "qualify", "hand_to_sales"):
        pipeline.fire(lead_id, event, at=AT)


def test_every_after_hook_is_named_after_and_every_before_hook_before() -> None:
    """The hook names say when a hook runs: no spec is called on_* any more."""
    assert all(name.startswith("after_") for name in hooks.AFTER_HOOKS)
    assert all(name.startswith("before_") for name in hooks.BEFORE_HOOKS)
    assert set(hooks.RENAMED_HOOKS.values()) <= set(hooks.AFTER_HOOKS)
    assert not set(hooks.RENAMED_HOOKS) & set(SPECS)


@pytest.mark.parametrize(("old", "new"), RENAMED, ids=[old for old, _ in RENAMED])
def test_old_spec_names_are_deprecated_aliases(old: str, new: str) -> None:
    """funnelkit.hooks.on_x is the after_x spec, with a warning naming it."""
    with pytest.warns(DeprecationWarning, match=rf"hooks\.{old} {GOING}; use "
                                                rf"funnelkit\.hooks\.{new}$"):
        assert getattr(hooks, old) is getattr(hooks, new)
    assert old not in hooks.__all__
    assert new in hooks.__all__


def test_a_plugin_with_the_new_name_is_called() -> None:
    """after_handoff is called once a move crosses teams."""
    seen: list[str] = []

    class Notify:
        def after_handoff(self, handoff: Any) -> None:
            seen.append(handoff.to_team)

    pipeline = Pipeline(templates.inbound(), store=MemoryStore())
    pipeline.register(Notify())
    _hand_to_sales(pipeline)
    assert seen == ["sales"]


def test_a_plugin_with_an_old_name_is_still_called_with_a_warning_at_register() -> None:
    """on_handoff is registered under after_handoff, warning at register(), and called as it."""
    seen: list[str] = []

    class Notify:
        def on_handoff(self, handoff: Any) -> None:
            seen.append(handoff.to_team)

    pipeline = Pipeline(templates.inbound(), store=MemoryStore())
    with pytest.warns(DeprecationWarning, match=rf"'on_handoff' \(Notify\.on_handoff\) {GOING}; "
                                                rf"use 'after_handoff'") as got:
        pipeline.register(Notify())
    assert got[0].filename == __file__
    _hand_to_sales(pipeline)
    assert seen == ["sales"]
    assert [r.hook for r in pipeline.store.outbox(undelivered_only=False)
            if r.hook.endswith("handoff")] == ["after_handoff"]


def test_old_and_new_name_on_one_plugin_are_refused() -> None:
    """A plugin implementing on_stalled and after_stalled is refused: it is one hook."""

    class Both:
        def on_stalled(self) -> None: ...
        def after_stalled(self) -> None: ...

    pipeline = Pipeline(templates.inbound(), store=MemoryStore())
    with pytest.raises(InvalidHook, match="are the same hook .*keep one, named after_stalled"):
        pipeline.register(Both())


def test_an_old_name_with_a_wrong_argument_is_refused_under_the_new_hook() -> None:
    """The signature of an old-named method is checked against the new hook's spec."""

    class Wrong:
        def on_handoff_rejected(self, excuse: str) -> None: ...

    pipeline = Pipeline(templates.inbound(), store=MemoryStore())
    with pytest.raises(InvalidHook, match="has no argument 'excuse'"):
        pipeline.register(Wrong())


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_rows_stored_under_an_old_name_are_delivered_to_the_new_hook(
    kind: str, tmp_path: Path,
) -> None:
    """An outbox row written before the rename (hook column 'on_handoff') reaches after_handoff."""
    store: Store = MemoryStore() if kind == "memory" else SQLiteStore(tmp_path / "old-rows.db")
    writer = Pipeline(templates.inbound(), store=MemoryStore(), outbox=["after_handoff"])
    _hand_to_sales(writer)
    (row,) = [r for r in writer.store.outbox() if r.hook == "after_handoff"]
    lead = templates.inbound().new_lead("L9", at=AT)
    store.commit(Change(lead, None, outbox=[OutboxMessage(
        "on_handoff:H-old", "on_handoff", dict(row.payload), AT)]))
    seen: list[tuple[str, str]] = []

    class Notify:
        def after_handoff(self, handoff: Any, key: str) -> None:
            seen.append((handoff.to_team, key))

    reader = Pipeline(templates.inbound(), store=store)
    reader.register(Notify())
    assert reader.deliver_pending(now=AT).delivered == 1
    assert seen == [("sales", "on_handoff:H-old")]


def test_outbox_may_still_name_an_old_hook() -> None:
    """Pipeline(outbox=["on_handoff"]) warns and writes after_handoff rows."""
    with pytest.warns(DeprecationWarning, match=rf"'on_handoff' {GOING}; use 'after_handoff'"):
        pipeline = Pipeline(templates.inbound(), store=MemoryStore(), outbox=["on_handoff"])
    _hand_to_sales(pipeline)
    assert [r.hook for r in pipeline.store.outbox()] == ["after_handoff"]


def test_payloads_of_renamed_hooks_encode_under_the_new_names() -> None:
    """The sla-breach payload's added argument (level) defaults under the new hook's name."""
    from funnelkit._pipeline.hooks import decode  # noqa: PLC0415

    writer = Pipeline(templates.inbound(), store=MemoryStore(), outbox=["after_handoff"])
    _hand_to_sales(writer)
    handoff = writer.store.outbox()[0].payload["handoff"]
    payload = {"handoff": handoff}
    assert decode("after_sla_breach", payload)["level"] == 0
    assert decode("on_sla_breach", payload)["level"] == 0
    assert encode("after_sla_breach", {"handoff": decode("after_sla_breach", payload)["handoff"],
                                       "level": 2})["level"] == 2


def test_the_recorder_takes_old_names_with_a_warning() -> None:
    """HookRecorder(hooks=[old]) records the new hook; named(old) reads it, each with a warning."""
    with pytest.warns(DeprecationWarning, match="'on_sla_breach'"):
        recorder = HookRecorder(hooks=["on_sla_breach"])
    assert recorder.hooks == ("after_sla_breach",)
    recorder.after_sla_breach(handoff="H1", level=0, key="k1")  # type: ignore[attr-defined]
    with pytest.warns(DeprecationWarning, match="'on_sla_breach'"):
        assert [c["handoff"] for c in recorder.named("on_sla_breach")] == ["H1"]
