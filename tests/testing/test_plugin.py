"""The pytest plugin: loaded through pytest11, light at load, fixtures and --funnelkit-seed."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import pytest

pytest_plugins = ["pytester"]


def test_loading_the_plugin_imports_nothing_heavy():
    """Loading the plugin adds only itself and pytest to what `import funnelkit` loads: no Hypothesis."""
    code = (
        "import sys, funnelkit\n"
        "before = set(sys.modules)\n"
        "import funnelkit._pytest_plugin\n"
        "added = set(sys.modules) - before\n"
        "print(sorted(m for m in added if m.startswith('funnelkit')))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'hypothesis'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["['funnelkit._pytest_plugin']", "[]"]


def test_importing_funnelkit_and_its_testing_kit_does_not_import_hypothesis():
    """`import funnelkit` and `import funnelkit.testing` leave Hypothesis and pytest unloaded."""
    code = ("import sys, funnelkit, funnelkit.testing\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'hypothesis', 'pytest', '_pytest'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_registered_through_the_pytest11_entry_point():
    """The installed distribution declares the plugin, so pytest loads it by itself."""
    assert any(ep.value == "funnelkit._pytest_plugin" for ep in entry_points(group="pytest11"))


def test_option_is_listed_in_help(pytester: pytest.Pytester):
    """--funnelkit-seed appears in pytest --help, in a funnelkit group."""
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*funnelkit*", "*--funnelkit-seed=N*"])


def test_the_seed_is_shown_and_the_fixture_returns_it(pytester: pytest.Pytester):
    """--funnelkit-seed fixes the seed; the run repeats it and funnelkit_seed returns it."""
    pytester.makepyfile("""
        def test_seed(funnelkit_seed):
            assert funnelkit_seed == 1234
    """)
    result = pytester.runpytest("--funnelkit-seed=1234")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["funnelkit: --funnelkit-seed=1234"])


def test_without_the_option_a_seed_is_drawn_and_shown(pytester: pytest.Pytester):
    """A run without the option still has a seed, shown so it can be repeated."""
    pytester.makepyfile("""
        def test_seed(funnelkit_seed):
            assert isinstance(funnelkit_seed, int) and funnelkit_seed >= 0
    """)
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.re_match_lines([r"funnelkit: --funnelkit-seed=\d+"])


def test_a_run_that_uses_nothing_of_funnelkit_shows_no_seed(pytester: pytest.Pytester):
    """Projects that never use the kit see no funnelkit line, in the header or anywhere else."""
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*--funnelkit-seed*")


def test_the_seed_is_shown_once_a_fixture_is_used(pytester: pytest.Pytester):
    """Any funnelkit fixture makes the run show its seed, once, after the tests."""
    pytester.makepyfile("""
        def test_plain(): pass
        def test_clock(funnelkit_clock): pass
        def test_store(funnelkit_store): pass
    """)
    result = pytester.runpytest()
    result.assert_outcomes(passed=3)
    shown = [i for i, line in enumerate(result.outlines) if "--funnelkit-seed=" in line]
    assert len(shown) == 1
    assert result.outlines[shown[0]].startswith("funnelkit: --funnelkit-seed=")
    progress = next(i for i, line in enumerate(result.outlines) if line.endswith("[100%]"))
    assert shown[0] > progress


def test_the_seed_is_shown_when_a_state_machine_reads_it(pytester: pytest.Pytester):
    """A FunnelStateMachine subclass is seeded from the run, so the run shows the seed."""
    pytester.makepyfile("""
        from funnelkit import templates
        from funnelkit.testing import FunnelStateMachine

        class Machine(FunnelStateMachine):
            funnel = templates.inbound()

        def test_seeded():
            assert isinstance(Machine._hypothesis_internal_use_seed, int)
    """)
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.re_match_lines([r"funnelkit: --funnelkit-seed=\d+"])


def test_the_seed_is_shown_when_given(pytester: pytest.Pytester):
    """A run given --funnelkit-seed repeats it even when nothing used it."""
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest("--funnelkit-seed=42")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["funnelkit: --funnelkit-seed=42"])


@pytest.mark.parametrize("value", ["abc", "-3"])
def test_bad_seed_is_a_usage_error(pytester: pytest.Pytester, value: str):
    """A seed that is not a non-negative integer stops the run with a clear message."""
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest(f"--funnelkit-seed={value}")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*--funnelkit-seed*"])


def test_clock_and_store_fixtures(pytester: pytest.Pytester):
    """funnelkit_clock is a fresh FrozenClock; funnelkit_store a fresh MemoryStore, closed after."""
    pytester.makepyfile("""
        from datetime import datetime, timezone
        import pytest
        from funnelkit import StorageError
        from funnelkit.stores import MemoryStore
        from funnelkit.testing import FrozenClock

        STORES = []

        def test_clock(funnelkit_clock):
            assert isinstance(funnelkit_clock, FrozenClock)
            assert funnelkit_clock.now() == datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
            funnelkit_clock.advance(days=1)

        def test_clock_is_fresh(funnelkit_clock):
            assert funnelkit_clock.now() == datetime(2026, 3, 2, 9, tzinfo=timezone.utc)

        def test_store(funnelkit_store):
            assert isinstance(funnelkit_store, MemoryStore)
            assert list(funnelkit_store.leads()) == []
            STORES.append(funnelkit_store)

        def test_store_was_closed():
            with pytest.raises(StorageError):
                list(STORES[0].leads())
    """)
    result = pytester.runpytest()
    result.assert_outcomes(passed=4)


def test_state_machines_get_the_run_seed(pytester: pytest.Pytester):
    """FunnelStateMachine subclasses defined in a run are seeded with --funnelkit-seed."""
    pytester.makepyfile("""
        from funnelkit import templates
        from funnelkit.testing import FunnelStateMachine

        class Machine(FunnelStateMachine):
            funnel = templates.inbound()

        def test_seeded():
            assert Machine._hypothesis_internal_use_seed == 99
    """)
    result = pytester.runpytest("--funnelkit-seed=99")
    result.assert_outcomes(passed=1)


def test_pipeline_factory_fixture(pytester: pytest.Pytester):
    """funnelkit_pipeline builds pipelines on the store and clock fixtures, options passed on."""
    pytester.makepyfile("""
        from funnelkit import templates
        from funnelkit.pipeline import BusinessCalendar, Pipeline
        from funnelkit.stores import MemoryStore
        from funnelkit.testing import scenario

        def test_factory(funnelkit_pipeline, funnelkit_store, funnelkit_clock):
            pipeline = funnelkit_pipeline(templates.inbound())
            assert isinstance(pipeline, Pipeline)
            assert pipeline.store is funnelkit_store and pipeline.clock is funnelkit_clock
            scenario(pipeline).capture("L1").after(hours=2).fire("convert").expect_stage("lead")
            assert funnelkit_store.load("L1").updated_at == funnelkit_clock.now()

        def test_options(funnelkit_pipeline, funnelkit_clock):
            calendar = BusinessCalendar(timezone="Europe/Berlin")
            other = MemoryStore()
            pipeline = funnelkit_pipeline(templates.temperature(), calendar=calendar, store=other)
            assert pipeline.calendar is calendar and pipeline.store is other
            assert funnelkit_clock.calendar is calendar
    """)
    result = pytester.runpytest()
    result.assert_outcomes(passed=2)


def test_fixtures_do_not_load_hypothesis(pytester: pytest.Pytester):
    """Using the fixtures in a run does not import Hypothesis's engine through funnelkit."""
    pytester.makepyfile("""
        import sys

        def test_light(funnelkit_pipeline):
            from funnelkit import templates
            funnelkit_pipeline(templates.inbound())
            assert "funnelkit.testing._stateful" not in sys.modules
            assert "funnelkit.testing.strategies" not in sys.modules
    """)
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)
