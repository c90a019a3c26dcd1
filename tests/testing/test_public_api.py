"""funnelkit.testing's public surface: sorted, documented, light to import, errors in the family."""

from __future__ import annotations

import pytest

import funnelkit.testing
from funnelkit import FunnelError, InvalidInput
from funnelkit.pipeline import Clock
from funnelkit.testing import FrozenClock, FunnelAssertionError, InvalidStep, ScenarioFailed
from funnelkit.testing import strategies as fst


def test_all_is_sorted_and_every_name_is_documented():
    """__all__ is sorted and every public name (lazy ones included) has a docstring."""
    names = funnelkit.testing.__all__
    assert list(names) == sorted(names)
    missing = [n for n in names if not (getattr(funnelkit.testing, n).__doc__ or "").strip()]
    assert not missing


def test_strategies_are_documented():
    """Every public strategy has a docstring with an example."""
    for name in fst.__all__:
        assert ">>>" in (getattr(fst, name).__doc__ or ""), name


def test_lazy_names_load_on_first_use_and_unknown_names_fail():
    """FunnelStateMachine and StoreContract load on access; dir() lists them; typos fail."""
    assert "FunnelStateMachine" in dir(funnelkit.testing)
    assert funnelkit.testing.FunnelStateMachine.__name__ == "FunnelStateMachine"
    assert funnelkit.testing.StoreContract.__name__ == "StoreContract"
    with pytest.raises(AttributeError, match="no attribute 'FunnelStateMachin'"):
        _ = funnelkit.testing.FunnelStateMachin


def test_errors_belong_to_both_families():
    """Failed checks are AssertionErrors and FunnelErrors; bad steps and arguments are bad input."""
    assert issubclass(FunnelAssertionError, AssertionError)
    assert issubclass(FunnelAssertionError, FunnelError)
    assert issubclass(ScenarioFailed, FunnelAssertionError)
    assert issubclass(InvalidStep, InvalidInput)
    assert issubclass(fst.InvalidArgument, FunnelError)
    assert issubclass(fst.InvalidArgument, TypeError)


def test_frozen_clock_is_a_pipeline_clock():
    """FrozenClock satisfies the pipeline's Clock protocol."""
    assert isinstance(FrozenClock(), Clock)
