"""Unit-test a sales process the way you test code: clock, scenarios, assertions, properties.

Everything here works without pytest (assertion failures are ``AssertionError`` and
:class:`funnelkit.FunnelError` at once); the pytest plugin, loaded by itself once funnelkit is
installed, adds the fixtures ``funnelkit_clock``, ``funnelkit_store``, ``funnelkit_pipeline`` and
``funnelkit_seed``.  Hypothesis and pytest (the extra ``funnelkit[testing]``) are only imported
by :mod:`funnelkit.testing.strategies`, :class:`FunnelStateMachine` and :class:`StoreContract`,
when first used.

- :class:`FrozenClock`: test time, moved by hand, in calendar or business time;
- :func:`scenario`: a lead's journey written as steps, checked as it runs;
- :func:`assert_journey`, :func:`assert_handoff`, :func:`capture_hooks`: assertions;
- :func:`assert_funnel_ok`: funnel lint for CI;
- :mod:`funnelkit.testing.strategies` and :class:`FunnelStateMachine`: property-based tests;
- :class:`StoreContract`: the store contract suite, for a host's own store backend.

>>> from funnelkit import templates
>>> from funnelkit.pipeline import Pipeline
>>> from funnelkit.stores import MemoryStore
>>> from funnelkit.testing import FrozenClock, assert_journey, scenario
>>> pipeline = Pipeline(templates.inbound(), store=MemoryStore(), clock=FrozenClock())
>>> _ = scenario(pipeline).capture("L1").fire("convert").after(days=3).fire("qualify")
>>> assert_journey(pipeline.history("L1"), ["subscriber", "lead", "mql"])
['subscriber', 'lead', 'mql']
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from funnelkit._core.errors import MissingExtra
from funnelkit.testing._assertions import assert_handoff, assert_journey
from funnelkit.testing._clock import FrozenClock
from funnelkit.testing._errors import FunnelAssertionError, InvalidStep, ScenarioFailed
from funnelkit.testing._hooks import HookCall, HookRecorder, capture_hooks
from funnelkit.testing._lint import LintProblem, assert_funnel_ok, lint_funnel
from funnelkit.testing._scenario import Scenario, scenario

if TYPE_CHECKING:
    from funnelkit.testing._stateful import FunnelStateMachine
    from funnelkit.testing._store_contract import StoreContract

__all__ = [
    "FrozenClock",
    "FunnelAssertionError",
    "FunnelStateMachine",
    "HookCall",
    "HookRecorder",
    "InvalidStep",
    "LintProblem",
    "Scenario",
    "ScenarioFailed",
    "StoreContract",
    "assert_funnel_ok",
    "assert_handoff",
    "assert_journey",
    "capture_hooks",
    "lint_funnel",
    "scenario",
]


# Names whose modules need the extra funnelkit[testing] (Hypothesis, pytest): imported on first
# use, so `import funnelkit.testing` stays light.
_LAZY = {
    "FunnelStateMachine": ("funnelkit.testing._stateful", "Hypothesis"),
    "StoreContract": ("funnelkit.testing._store_contract", "pytest"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'funnelkit.testing' has no attribute {name!r}")
    module_name, needs = _LAZY[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        missing = str(getattr(exc, "name", "") or "")
        if missing.split(".", maxsplit=1)[0] in {"hypothesis", "pytest", "_pytest"}:
            raise MissingExtra(
                f"funnelkit.testing.{name} needs {needs}; install the extra: "
                f"pip install 'funnelkit[testing]'"
            ) from exc
        raise
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
