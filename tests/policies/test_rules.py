"""The rule language: parsing, refusals with positions, evaluation, limits, fuzzing."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from _policy_support import AT, context, lead, trees
from hypothesis import given
from hypothesis import strategies as st

from funnelkit import Decision, InvalidPolicy, RuleSyntaxError, Source, Touchpoint
from funnelkit._policy.rules import (
    Node,
    parse,
    unparse,
)
from funnelkit.policies import FUNCTIONS, LIMITS, rule
from funnelkit.scoring import EngagementRule, FitRule, LedgerEntry, Score, ScoringModel

# -- parsing and refusing ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "column", "fragment"),
    [
        ("budget.__class__", 7, "attribute access"),
        ("x.y", 2, "attribute access"),
        ("__import__('os')", 1, "double underscores"),
        ("a__b > 1", 1, "double underscores"),
        ("lambda: 1", 1, "lambdas are not allowed"),
        ("[x for x in y]", 4, "comprehensions"),
        ("eval('1')", 1, "unknown function 'eval'"),
        ("open('f')", 1, "unknown function 'open'"),
        ("budget > 1 if x else 2", 12, "conditional"),
        ("import os", 1, "'import' is not allowed"),
        ("x is None", 3, "'is' is not allowed"),
        ("budget = 5", 8, "'=' assigns"),
        ("budget > 100_000_000_000_000_000", 10, "too large"),
        ("budget > 2 ** 100", 12, "exponent 100 is too large"),
        ("budget > 1e400", 10, "too large"),
        ("role == 'cto", 9, "unterminated string"),
        ("role == 'a\\q'", 11, "unknown escape"),
        ("budget >", 9, "ends too early"),
        ("budget > 1)", 11, "unexpected ')'"),
        ("(budget > 1", 12, "expected ')'"),
        ("budget ! 1", 8, "unexpected character '!'"),
        ("budget > 1; x", 11, "unexpected character ';'"),
        ("", 1, "empty"),
        ("   ", 1, "empty"),
        ("has(budget)", 1, "has(): takes one attribute name in quotes"),
        ("days_since()", 1, "days_since(): takes exactly one argument"),
        ("count(kind='a', foo=1)", 1, "count(): takes at most one name"),
        ("x[0] > 1", 2, "indexing"),
        ("f'{x}' == 1", 2, "unexpected"),
        ("budget > 1_", 10, "malformed number"),
        ("2abc > 1", 2, "after the number"),
    ],
)
def test_refused_rules_name_the_column(text: str, column: int, fragment: str) -> None:
    """Each refused construct raises RuleSyntaxError at the right 1-based column, saying what."""
    with pytest.raises(RuleSyntaxError) as info:
        rule(text)
    assert info.value.offset == column, str(info.value)
    assert fragment in info.value.msg
    assert isinstance(info.value, InvalidPolicy | SyntaxError)


def test_error_text_points_at_the_problem() -> None:
    """str() of the error shows the rule with a caret under the column."""
    with pytest.raises(RuleSyntaxError) as info:
        rule("budget > 1 and x.y")
    lines = str(info.value).splitlines()
    assert lines[0].endswith("(column 17)")
    assert lines[2].index("^") - 2 == 16


def test_limits_on_length_and_depth() -> None:
    """Rules longer than max_length or nested deeper than max_depth are refused; at the limit they parse."""
    depth = LIMITS["max_depth"]
    rule("(" * (depth - 1) + "a > 1" + ")" * (depth - 1))
    with pytest.raises(RuleSyntaxError, match="nests deeper"):
        rule("(" * (depth + 1) + "a > 1" + ")" * (depth + 1))
    with pytest.raises(RuleSyntaxError, match="nests deeper"):
        rule("not " * (depth + 1) + "a")
    with pytest.raises(RuleSyntaxError, match="nests deeper"):
        rule("-" * (depth + 1) + "a > 1")
    long_rule = " or ".join(["a > 1"] * (LIMITS["max_length"] // 9 + 1))
    with pytest.raises(RuleSyntaxError, match="characters long") as info:
        rule(long_rule)
    assert info.value.offset == LIMITS["max_length"] + 1


def test_limits_on_literals() -> None:
    """Strings, tuples and numbers beyond the documented sizes are refused."""
    with pytest.raises(RuleSyntaxError, match="string literal"):
        rule("x == '" + "a" * (LIMITS["max_string"] + 1) + "'")
    items = ", ".join(["1"] * (LIMITS["max_items"] + 1))
    with pytest.raises(RuleSyntaxError, match="items"):
        rule(f"x in ({items})")
    rule(f"x <= {LIMITS['max_number']}")


def test_non_string_rule_is_refused() -> None:
    """A rule that is not a string raises RuleSyntaxError, not a crash."""
    with pytest.raises(RuleSyntaxError, match="must be a string"):
        rule(42)  # type: ignore[arg-type]


def test_rule_module_never_evaluates_code() -> None:
    """The rule language's source calls no eval, exec or compile (the proof is in the text)."""
    package = Path(__file__).resolve().parents[2] / "src" / "funnelkit" / "_policy"
    modules = sorted(package.glob("*.py"))
    assert {m.name for m in modules} >= {"rules.py", "policies.py", "scoring.py", "loader.py"}
    for module in modules:
        source = module.read_text()
        assert not re.search(r"(?<![\w.])(eval|exec|compile)\(", source), module.name


# -- round trip -------------------------------------------------------------------------------

@given(trees())
def test_unparse_then_parse_gives_the_same_tree(tree: Node) -> None:
    """parse(unparse(tree)) == tree for any tree: the canonical text round-trips."""
    assert parse(unparse(tree)) == tree


@given(trees())
def test_compiled_trees_only_ever_decide(tree: Node) -> None:
    """Any well-formed rule, run on any lead, returns a Decision (unknowns, never crashes)."""
    policy = rule(unparse(tree))
    attrs = {"budget": 5000, "role": "cto", "employees": [1, 2], "x": None}
    assert type(policy(lead(attrs), context())) is Decision


RULEISH = st.lists(
    st.sampled_from(list("abxyz_0123456789 .,()[]'\"+-*/%<>=!:;{}\\#@~^|&\n")
                    + [" and ", " or ", "not ", " in ", "__", "lambda", "count(", "has(", "**",
                       "days_since(", "budget", "1e", "True"]),
    max_size=30,
).map("".join)


@given(st.one_of(st.text(max_size=60), RULEISH))
def test_fuzz_only_decisions_or_syntax_errors(text: str) -> None:
    """Random text gives a RuleSyntaxError at build time or a policy that only returns Decisions."""
    try:
        policy = rule(text)
    except RuleSyntaxError as exc:
        offset = exc.offset
    else:
        offset = None
    if offset is not None:
        assert 1 <= offset <= max(len(text), LIMITS["max_length"]) + 1
        return
    touch = Touchpoint("L1", "webinar", "email", AT - timedelta(days=3))
    for attrs in ({}, {"budget": 10, "a": "x", "b": [1], "x": 0, "y": None, "z": 2.5}):
        assert type(policy(lead(attrs), context([touch]))) is Decision


# -- evaluation --------------------------------------------------------------------------------


def decide(text: str, attributes: dict[str, object] | None = None, **kwargs: object) -> Decision:
    """Run rule(text) on a lead with *attributes*."""
    touchpoints = kwargs.pop("touchpoints", ())
    score = kwargs.pop("score", None)
    return rule(text)(lead(attributes, **kwargs), context(touchpoints, score=score))  # type: ignore[arg-type]


def test_the_issue_example() -> None:
    """The example rule from the issue allows a recent CTO with budget and explains each clause."""
    text = "budget >= 10000 and role in ('cto', 'ceo') and days_since(last_touch) < 30"
    touch = Touchpoint("L1", "demo_request", "web", AT - timedelta(days=5))
    ok = decide(text, {"budget": 25_000, "role": "cto"}, touchpoints=[touch])
    assert ok.allowed
    assert [v.status for v in ok.criteria] == ["met", "met", "met"]
    assert ok.criteria[0].evidence == {"budget": 25_000}
    no = decide(text, {"budget": 25_000, "role": "intern"}, touchpoints=[touch])
    assert not no.allowed
    assert no.reasons == ("role in ('cto', 'ceo'): not met (role='intern')",)


def test_missing_attribute_is_unknown_with_its_name() -> None:
    """A missing (or None) attribute makes the clause unknown, naming the attribute, never a crash."""
    d = decide("budget >= 10000 and role == 'cto'", {"role": "cto"})
    assert not d.allowed
    assert [v.status for v in d.criteria] == ["unknown", "met"]
    assert d.reasons == ("budget >= 10000: unknown, attribute 'budget' is missing",)
    assert decide("budget > 0", {"budget": None}).criteria[0].status == "unknown"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("missing > 1 or budget > 0", True),
        ("missing > 1 and budget < 0", False),
        ("not missing", None),
        ("missing > 1 or budget < 0", None),
        ("missing + 1 > 0", None),
        ("1 < budget < 100", True),
        ("1 < budget < 5", False),
        ("budget in [5, 10] and 'c' in role", True),
        ("role not in ('ceo',)", True),
        ("tags in ('a',)", None),
        ("lower(role) == 'ceo'", False),
        ("len(role) == 3", True),
        ("abs(-budget) == 10", True),
        ("min(budget, 3) == 3 and max(budget, 3) == 10", True),
        ("max(list_attr) == 3", True),
        ("budget * 2 - 1 == 19 and budget / 4 == 2.5 and budget // 4 == 2 and budget % 4 == 2", True),
        ("2 ** 3 == 8 and -2 ** 2 == -4 and (-2) ** 2 == 4", True),
        ("has('budget') and not has('missing') and not has('nothing')", True),
        ("true and not false and True", True),
        ("stage == 'lead' and source == 'referral' and owner == 'ae-1'", True),
        ("score >= 10 and fit_score == 8 and engagement_score == 4", True),
        ("budget", True),
        ("'abc'", True),
        ("0", False),
    ],
)
def test_three_valued_evaluation(text: str, expected: bool | None) -> None:
    """Kleene logic over unknowns, Python semantics over values, built-in names and functions."""
    score = Score(8.0, 4.0, 12.0, (LedgerEntry("f", "fit", 8, 8), LedgerEntry("e", "engagement", 4, 4)))
    d = decide(
        text, {"budget": 10, "role": "cto", "list_attr": [1, 3], "nothing": None},
        source=Source("referral", "seed"), owner="ae-1", score=score,
    )
    status = {True: "met", False: "failed", None: "unknown"}[expected]
    assert d.allowed is (expected is True)
    assert {v.status for v in d.criteria} == {status} or expected is False


@pytest.mark.parametrize(
    "text",
    ["budget > 'x'", "role * 2 == 'ctocto'", "role % 2 == 0", "budget in 5", "lower(budget) == 'x'",
     "len(budget) > 0", "budget / 0 > 1", "budget ** 100 > 1" if False else "budget ** huge > 1",
     "days_since(role) > 1", "max(empty) > 1", "-role == 1", "days_since(naive) > 1"],
)
def test_values_a_rule_cannot_use_are_unknown(text: str) -> None:
    """Type errors, division by zero and too-large powers give an unknown verdict with the cause."""
    d = decide(text, {"budget": 10, "role": "cto", "huge": 1000, "empty": [],
                      "naive": datetime(2026, 1, 1)})  # noqa: DTZ001 - the naive value is the point
    assert not d.allowed
    assert d.criteria[0].status == "unknown"
    assert "cannot be evaluated" in d.reasons[0]


def test_days_since_reads_datetimes_dates_and_iso_strings() -> None:
    """days_since() takes aware datetimes, dates and ISO strings, measured from the context's at."""
    attrs = {"t": AT - timedelta(days=2), "d": date(2026, 2, 28), "s": "2026-02-28", "st": "2026-02-28T09:00:00+00:00"}
    d = decide("days_since(t) == 2 and days_since(s) > 1 and days_since(d) > 1 and days_since(st) == 2", attrs)
    assert d.allowed, d.reasons
    assert decide("days_since(s) > 1", {"s": "last week"}).criteria[0].status == "unknown"


def test_count_and_touch_names_read_touchpoints() -> None:
    """count() counts touchpoints by kind or channel (and recency); last/first_touch read their times."""
    tps = [
        Touchpoint("L1", "webinar", "email", AT - timedelta(days=40)),
        Touchpoint("L1", "webinar", "social", AT - timedelta(days=3)),
        Touchpoint("L1", "demo_request", "web", AT - timedelta(days=1)),
        Touchpoint("L1", "call", "phone", AT + timedelta(days=1)),  # after `at`: ignored
    ]
    ok = decide(
        "count() == 3 and count('webinar') == 2 and count('email') == 1 and count(kind='webinar', "
        "channel='social') == 1 and count('webinar', days=30) == 1 and days_since(last_touch) == 1 "
        "and days_since(first_touch) == 40 and now > last_touch",
        {}, touchpoints=tps,
    )
    assert ok.allowed, ok.reasons
    none = decide("days_since(last_touch) < 30", {})
    assert none.criteria[0].status == "unknown"
    assert "last_touch" in none.reasons[0]


def test_attributes_shadow_built_in_names() -> None:
    """A lead attribute with a built-in's name wins over the built-in."""
    assert decide("stage == 'custom'", {"stage": "custom"}).allowed


def test_score_names_use_the_model_when_the_context_has_none() -> None:
    """rule(..., model=) scores the lead when the context carries no Score."""
    model = ScoringModel([FitRule("budget > 0", 30)], [EngagementRule(5, kind="webinar")])
    policy = rule("score >= 35", model=model)
    touch = Touchpoint("L1", "webinar", "email", AT)
    assert policy(lead({"budget": 1}), context([touch])).allowed
    assert not policy(lead({"budget": 1}), context()).allowed
    no_model = rule("score >= 35")(lead({"budget": 1}), context())
    assert no_model.criteria[0].status == "unknown"
    assert "no score" in no_model.reasons[0]


def test_a_single_clause_keeps_its_own_text() -> None:
    """A rule that is not an `and` chain is one criterion named by the rule's own text."""
    d = decide("  budget > 1 or role == 'x'  ", {"budget": 5})
    assert [v.name for v in d.criteria] == ["budget > 1 or role == 'x'"]


def test_rule_repr_and_data_form() -> None:
    """rule() reads like its call and writes its string (or a table when named) as data."""
    plain = rule("budget > 0")
    assert repr(plain) == "rule('budget > 0')"
    assert plain.to_data() == "budget > 0"
    named = rule("budget > 0", name="has_budget")
    assert named.to_data() == {"use": "rule", "params": {"text": "budget > 0", "name": "has_budget"}}
    assert named(lead({"budget": 1}), context()).policy == "has_budget"
    with pytest.raises(InvalidPolicy):
        rule("a > 1", name="")


def test_documented_functions_are_the_ones_accepted() -> None:
    """FUNCTIONS lists exactly what rules may call."""
    assert set(FUNCTIONS) == {"days_since", "count", "has", "lower", "len", "abs", "min", "max"}


def test_aware_times_compare_across_zones() -> None:
    """Datetimes from attributes compare with built-in times whatever their zone."""
    local = (AT - timedelta(hours=1)).astimezone(ZoneInfo("America/New_York"))
    assert decide("t < now", {"t": local}).allowed
    assert decide("t < now", {"t": AT.astimezone(UTC) - timedelta(seconds=1)}).allowed


def test_a_bare_number_score_reads_as_score() -> None:
    """A context score that is a plain number is `score`; its fit and engagement parts are unknown."""
    assert decide("score > 10", score=12).allowed
    assert decide("fit_score > 10", score=12).criteria[0].status == "unknown"


@pytest.mark.parametrize("text", ["9 ** 9 ** 9 > 1", "(9 ** 64) ** 64 > 1", "2 ** (3 ** 5) > 1"])
def test_huge_constant_powers_are_refused_when_the_rule_is_built(text: str) -> None:
    """A constant power over the limits is a RuleSyntaxError at build time, not when a lead is judged."""
    from funnelkit import RuleSyntaxError  # noqa: PLC0415

    with pytest.raises(RuleSyntaxError, match="too large"):
        rule(text)


@pytest.mark.parametrize("text", ["2 ** 10 > 1", "budget ** 2 > 4", "2 ** -2 < 1", "(2 ** 3) ** 2 == 64"])
def test_reasonable_powers_still_build(text: str) -> None:
    """Powers within the limits, and powers of attributes, build as before."""
    assert rule(text) is not None
