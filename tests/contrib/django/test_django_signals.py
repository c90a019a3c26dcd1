"""The Django signals mirror the after-hooks one to one, under the same names."""

from __future__ import annotations

import pytest

from funnelkit import hooks
from funnelkit.contrib.django import signals
from funnelkit.contrib.django._settings import SignalHooks

GOING = "is deprecated and will be removed in the next release"
RENAMED = sorted(hooks.RENAMED_HOOKS.items())


def test_there_is_one_signal_per_after_hook_sent_by_the_hook_of_its_name() -> None:
    """signals.__all__ are the after-hooks merges aside; SignalHooks implements each by name."""
    assert set(signals.__all__) <= set(hooks.AFTER_HOOKS)
    assert all(name.startswith("after_") for name in signals.__all__)
    for name in signals.__all__:
        assert callable(getattr(SignalHooks, name))
    assert not any(name.startswith("on_") for name in dir(SignalHooks))


@pytest.mark.parametrize(("old", "new"), RENAMED, ids=[old for old, _ in RENAMED])
def test_old_signal_names_are_the_same_signals_with_a_warning(old: str, new: str) -> None:
    """signals.on_x is signals.after_x (receivers connected either way get the same sends)."""
    with pytest.warns(DeprecationWarning, match=rf"signals\.{old} {GOING}; use .*signals\.{new}$"):
        assert getattr(signals, old) is getattr(signals, new)
    with pytest.raises(AttributeError, match="no attribute 'on_nothing'"):
        signals.on_nothing  # noqa: B018 - the lookup is the test
