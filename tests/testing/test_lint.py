"""assert_funnel_ok / lint_funnel: the static validation plus the deeper checks."""

from __future__ import annotations

import json

import pytest
from hypothesis import given

from funnelkit import Decision, Funnel, FunnelError, InvalidInput, Move, Stage, templates
from funnelkit.testing import FunnelAssertionError, LintProblem, assert_funnel_ok, lint_funnel
from funnelkit.testing import strategies as fst


def _always(lead, context):
    return Decision.allow(policy="always")


@pytest.mark.parametrize("template", [templates.inbound, templates.demand_waterfall,
                                      templates.predictable_revenue, templates.temperature],
                         ids=lambda t: t.__name__)
def test_templates_pass(template):
    """The ready templates have no lint problem."""
    assert lint_funnel(template()) == ()
    assert_funnel_ok(template())


@given(fst.funnels(max_stages=10))
def test_generated_funnels_pass(funnel):
    """Every funnel funnels() draws passes every check."""
    assert_funnel_ok(funnel)


def _loop_funnel() -> Funnel:
    return (Funnel.builder("loop").stage("a", "marketing").stage("b", "marketing")
            .stage("c", "marketing").stage("won", "sales", outcome="won")
            .move("win", "a", "won").move("go", "a", "b").move("on", "b", "c")
            .move("back", "c", "b", backward=True).build())


def test_open_loop_with_no_way_to_an_outcome_fails():
    """Stages whose leads can never reach won or lost are reported, one problem each."""
    problems = lint_funnel(_loop_funnel())
    assert [(p.check, p.path) for p in problems] == [("terminates", "stages[1]"), ("terminates", "stages[2]")]
    with pytest.raises(FunnelAssertionError, match="2 problems") as info:
        assert_funnel_ok(_loop_funnel())
    assert isinstance(info.value, AssertionError)
    assert isinstance(info.value, FunnelError)


def test_a_funnel_without_any_outcome_fails():
    """A funnel with no won or lost stage cannot end a journey."""
    funnel = Funnel("round", initial="a", stages=[Stage("a", "m"), Stage("b", "m")],
                    moves=[Move("go", "a", "b"), Move("back", "b", "a", backward=True)])
    assert [p.check for p in lint_funnel(funnel)] == ["terminates"]
    assert "no stage is won or lost" in str(lint_funnel(funnel)[0])


def test_auto_move_behind_an_unguarded_auto_move_is_shadowed():
    """A second auto move from a stage never fires when an earlier one has no policy."""
    funnel = (Funnel.builder("auto").stage("a", "marketing").stage("b", "marketing")
              .stage("won", "sales", outcome="won")
              .move("first", "a", "b", auto=True).move("second", "a", "won", auto=True, policy=_always)
              .move("win", "b", "won").build())
    problems = lint_funnel(funnel)
    assert [(p.check, p.path) for p in problems] == [("shadowed", "moves[1]")]
    assert "'second'" in problems[0].message
    assert "'first'" in problems[0].message


def test_auto_move_that_needs_a_reason_is_shadowed():
    """The pipeline never fires an auto move that needs a reason: lint says so."""
    funnel = (Funnel.builder("auto").stage("a", "marketing").stage("won", "sales", outcome="won")
              .move("win", "a", "won", auto=True, requires_reason=True).build())
    problems = lint_funnel(funnel)
    assert [(p.check, p.path) for p in problems] == [("shadowed", "moves[0]")]
    assert "needs a reason" in problems[0].message


def test_guarded_auto_moves_do_not_shadow_each_other():
    """Auto moves that each have a policy are fine: the first whose policy passes fires."""
    funnel = (Funnel.builder("auto").stage("a", "marketing").stage("b", "marketing")
              .stage("won", "sales", outcome="won")
              .move("first", "a", "b", auto=True, policy=_always).move("second", "a", "won", auto=True)
              .move("win", "b", "won").build())
    assert lint_funnel(funnel) == ()


def test_stall_event_that_does_not_leave_the_stage_is_reported():
    """A stall_event must be a move out of its stage, or sweep can never move the lead."""
    data = {"name": "stall", "initial": "a",
            "stages": [{"name": "a", "team": "marketing", "stall_after": "3 days", "stall_event": "win"},
                       {"name": "b", "team": "marketing", "stall_after": "3 days", "stall_event": "drop"},
                       {"name": "won", "team": "sales", "outcome": "won"},
                       {"name": "lost", "team": "sales", "outcome": "lost"}],
            "moves": [{"event": "go", "source": "a", "target": "b"},
                            {"event": "win", "source": "b", "target": "won"},
                            {"event": "drop", "source": "b", "target": "lost"}]}
    problems = lint_funnel(data)
    assert [(p.check, p.path) for p in problems] == [("definition", "stages[0].stall_event")]


def test_definitions_that_do_not_build_list_their_problems(tmp_path):
    """A broken data form or file gives the definition problems, as lint problems."""
    data = {"name": "broken", "initial": "a",
            "stages": [{"name": "a", "team": "m"}, {"name": "won", "team": "s", "outcome": "won"}],
            "moves": [{"event": "win", "source": "a", "target": "wn"}]}
    problems = lint_funnel(data)
    assert problems
    assert {p.check for p in problems} == {"definition", "reachable"}  # 'won' is cut off
    assert any(p.path == "moves[0].target" for p in problems)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(FunnelAssertionError, match=r"funnel '.*broken.json' has \d+ problem"):
        assert_funnel_ok(path)
    with pytest.raises(FunnelAssertionError, match="funnel 'broken'"):
        assert_funnel_ok(data)


def test_good_data_form_and_file_pass(tmp_path):
    """A valid definition given as data or as a TOML/JSON file passes."""
    data = templates.inbound().to_dict()
    assert_funnel_ok(data)
    path = tmp_path / "inbound.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert_funnel_ok(path)
    assert_funnel_ok(str(path))


def test_skip_leaves_checks_out_and_rejects_unknown_names():
    """skip= removes named checks; an unknown check name is bad input."""
    assert lint_funnel(_loop_funnel(), skip=["terminates"]) == ()
    with pytest.raises(InvalidInput, match="unknown check"):
        lint_funnel(_loop_funnel(), skip=["terminate"])


def test_not_a_funnel_is_bad_input():
    """Something that is not a funnel, data or a path is refused with a clear message."""
    with pytest.raises(InvalidInput, match="not a funnel"):
        assert_funnel_ok(42)


def test_problem_text_names_check_and_path():
    """A problem reads as [check] path: message."""
    assert str(LintProblem("reachable", "stages[1]", "x")) == "[reachable] stages[1]: x"
    assert str(LintProblem("terminates", "", "x")) == "[terminates] x"


def test_an_unreachable_stage_is_reported_under_reachable() -> None:
    """A stage no move leads to is a `reachable` problem, and skip=('reachable',) leaves it out."""
    data = {
        "name": "islands", "initial": "lead",
        "stages": [{"name": "lead", "team": "marketing"},
                   {"name": "won", "team": "sales", "outcome": "won"},
                   {"name": "island", "team": "sales", "outcome": "lost"}],
        "moves": [{"event": "win", "source": "lead", "target": "won"}],
    }
    problems = lint_funnel(data)
    assert [(p.check, p.path) for p in problems] == [("reachable", "stages[2]")]
    assert "unreachable" in problems[0].message
    assert lint_funnel(data, skip=("reachable",)) == ()
