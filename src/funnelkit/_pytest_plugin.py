"""funnelkit's pytest plugin: fixtures for testing a sales process, and ``--funnelkit-seed``.

Registered through the ``pytest11`` entry point, so installing funnelkit makes it available in
every test run.  Loading it adds nothing to what ``import funnelkit`` loads but pytest: the
testing kit and Hypothesis are imported inside the fixtures that need them, and the kit reads the
run's seed from here (:func:`current_seed`) rather than this module importing the kit.

Fixtures (all prefixed ``funnelkit_``):

``funnelkit_clock``
    a fresh :class:`funnelkit.testing.FrozenClock` at Monday 2 March 2026, 09:00 UTC;
``funnelkit_store``
    a fresh :class:`funnelkit.stores.MemoryStore`, closed after the test;
``funnelkit_pipeline``
    a factory: ``funnelkit_pipeline(funnel, **options)`` builds a
    :class:`funnelkit.pipeline.Pipeline` on ``funnelkit_store`` and ``funnelkit_clock`` (options
    such as ``router=`` or ``calendar=`` go to the pipeline; ``store=`` or ``clock=`` replace the
    fixtures'); the clock then counts business hours on the pipeline's calendar;
``funnelkit_seed``
    the run's seed (an ``int``).

Every run has a seed: it seeds every :class:`funnelkit.testing.FunnelStateMachine` subclass
defined during collection and is the value of the ``funnelkit_seed`` fixture.  Without the option
a seed is drawn per run; pass ``--funnelkit-seed=N`` to run a failing stateful test again the same
way.  The seed is shown after the tests (``funnelkit: --funnelkit-seed=N``) when the run used a
funnelkit fixture or defined a state machine, or was given the option; projects that use none of
these see nothing from the plugin.  Plain ``@given`` tests, the strategies of
:mod:`funnelkit.testing.strategies` included, do not read this seed: Hypothesis's own
``--hypothesis-seed`` repeats them.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from funnelkit._definition.funnel import Funnel
    from funnelkit.stores import MemoryStore
    from funnelkit.testing import FrozenClock

__all__ = [
    "current_seed",
    "funnelkit_clock",
    "funnelkit_pipeline",
    "funnelkit_seed",
    "funnelkit_store",
    "pytest_addoption",
    "pytest_configure",
    "pytest_terminal_summary",
    "pytest_unconfigure",
]

SEED_OPTION = "--funnelkit-seed"
_SEED_KEY = pytest.StashKey[int]()
_USED_KEY = pytest.StashKey[bool]()
# One entry per pytest run in this process (pytester nests runs): the last is the current one.
_RUNS: list[pytest.Config] = []


def _seed(value: str) -> int:
    try:
        seed = int(value, 0)
    except ValueError:
        msg = f"{SEED_OPTION}={value!r} is not an integer; give a number such as {SEED_OPTION}=1234"
        raise pytest.UsageError(msg) from None
    if seed < 0:
        msg = f"{SEED_OPTION}={value!r} must be >= 0"
        raise pytest.UsageError(msg)
    return seed


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--funnelkit-seed``."""
    group = parser.getgroup("funnelkit", "funnelkit (sales process testing)")
    group.addoption(
        SEED_OPTION,
        action="store",
        type=_seed,
        default=None,
        metavar="N",
        help="seed FunnelStateMachine tests and the funnelkit_seed fixture (default: a seed drawn "
             "per run and shown at the end of runs that use it)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Choose the run's seed (the testing kit reads it through :func:`current_seed`)."""
    seed = config.getoption(SEED_OPTION.lstrip("-").replace("-", "_"), default=None)
    chosen = seed if seed is not None else random.SystemRandom().randrange(2**32)
    config.stash[_SEED_KEY] = chosen
    config.stash[_USED_KEY] = seed is not None
    _RUNS.append(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Drop the run, so the run that started this one (``pytester``) is the current one again."""
    if _RUNS and _RUNS[-1] is config:
        _RUNS.pop()


def _use(config: pytest.Config) -> int:
    """The run's seed, noting that the run used funnelkit's testing kit so the seed is shown."""
    config.stash[_USED_KEY] = True
    return config.stash[_SEED_KEY]


def current_seed() -> int | None:
    """The seed of the pytest run going on in this process, or None outside one.

    Asking for it (a :class:`funnelkit.testing.FunnelStateMachine` subclass does) makes the run
    show the seed at its end.
    """
    return _use(_RUNS[-1]) if _RUNS else None


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """Show the seed, so the run can be repeated, when the run used it or it was given."""
    if config.stash.get(_USED_KEY, False):
        terminalreporter.write_line(f"funnelkit: {SEED_OPTION}={config.stash[_SEED_KEY]}")


@pytest.fixture
def funnelkit_seed(request: pytest.FixtureRequest) -> int:
    """The run's seed: ``--funnelkit-seed`` or the one drawn for this run."""
    return _use(request.config)


@pytest.fixture
def funnelkit_clock(request: pytest.FixtureRequest) -> FrozenClock:
    """A fresh frozen clock at Monday 2 March 2026, 09:00 UTC."""
    from funnelkit.testing import FrozenClock  # noqa: PLC0415 - nothing heavy at load

    _use(request.config)
    return FrozenClock()


@pytest.fixture
def funnelkit_store(request: pytest.FixtureRequest) -> Iterator[MemoryStore]:
    """A fresh in-memory store, closed after the test."""
    from funnelkit.stores import MemoryStore  # noqa: PLC0415 - nothing heavy at load

    _use(request.config)
    store = MemoryStore()
    yield store
    store.close()


@pytest.fixture
def funnelkit_pipeline(
    funnelkit_store: MemoryStore, funnelkit_clock: FrozenClock
) -> Callable[..., Any]:
    """A factory building a pipeline for a funnel on ``funnelkit_store`` and ``funnelkit_clock``."""

    def make(funnel: Funnel, **options: Any) -> Any:
        from funnelkit.pipeline import Pipeline  # noqa: PLC0415 - nothing heavy at load
        from funnelkit.testing import FrozenClock  # noqa: PLC0415 - same reason

        options.setdefault("store", funnelkit_store)
        options.setdefault("clock", funnelkit_clock)
        pipeline = Pipeline(funnel, **options)
        clock = options["clock"]
        if isinstance(clock, FrozenClock) and clock.calendar is None:
            clock.calendar = pipeline.calendar  # business hours on the clock = the pipeline's
        return pipeline

    return make
