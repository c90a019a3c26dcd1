"""The rule policy's prebuilt verdicts and remembered reasons give the same decisions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from _policy_support import AT, context, lead
from hypothesis import given
from hypothesis import strategies as st

from funnelkit import Touchpoint
from funnelkit._rules import _OPERATORS, _age_threshold
from funnelkit.policies import rule


def test_remembered_reasons_keep_each_value_as_written() -> None:
    """Reasons are remembered by value, yet True, 1 and 1.0 (equal values) keep their own repr."""
    policy = rule("level >= 5")
    for value in (1, True, 1.0, 1, True, "x", "x"):
        decision = policy(lead({"level": value}), context())
        if value == "x":
            assert decision.criteria[0].status == "unknown"
            continue
        assert decision.reasons == (f"level >= 5: not met (level={value!r})",)
        assert decision.criteria[0].evidence == {"level": value}
        assert type(decision.criteria[0].evidence["level"]) is type(value)


def test_prebuilt_unknown_and_fresh_evidence() -> None:
    """A missing name gives the prebuilt unknown verdict; evidence dicts are never shared."""
    policy = rule("budget >= 10000 and role in ('cto', 'ceo')")
    first = policy(lead({"role": "cto", "budget": 20000}), context())
    second = policy(lead({"role": "cto", "budget": 20000}), context())
    assert first == second
    assert first.criteria[0].evidence is not second.criteria[0].evidence
    missing = policy(lead({"role": "cto"}), context())
    assert missing.reasons == ("budget >= 10000: unknown, attribute 'budget' is missing",)
    assert missing.criteria[0].evidence is None


def test_last_and_first_touch_leave_out_later_touchpoints() -> None:
    """A touchpoint after the context's time counts for neither last_touch nor first_touch."""
    later = Touchpoint("L1", "call", "phone", AT + timedelta(days=2))
    earlier = Touchpoint("L1", "call", "phone", AT - timedelta(days=3))
    policy = rule("days_since(last_touch) == 3 and days_since(first_touch) == 3")
    assert policy(lead({}), context([later, earlier])).allowed
    only_later = policy(lead({}), context([later]))
    assert [v.status for v in only_later.criteria] == ["unknown", "unknown"]


# -- clauses evaluated in line, without their closure ---------------------------------------------

inline_clauses = st.sampled_from([
    "n >= 10", "n > 2.5", "n < 'm'", "n <= 0", "n == 'x'", "n != 3", "n == true",
    "n in ('a', 'b', 3)", "n in (1, 2.5)", "n in ('x',)",
])
seen_values = st.one_of(
    st.none(), st.booleans(), st.integers(-20, 20), st.floats(allow_nan=True),
    st.sampled_from(["a", "b", "m", "x", "z", ""]), st.text(max_size=2),
    st.lists(st.integers(0, 3), max_size=2),  # unhashable: ``in`` compares one by one
    st.tuples(st.integers(0, 3)),
)


def closures_only(text: str) -> Any:
    """The same rule with every clause run through its compiled closure (the general path)."""
    policy = rule(text)
    object.__setattr__(policy, "_plan", policy._build_plan(inline=False))
    return policy


@given(st.lists(inline_clauses, min_size=1, max_size=3, unique=True), seen_values,
       st.booleans())
def test_inline_clauses_decide_like_their_closures(
    clauses: list[str], value: Any, other_present: bool
) -> None:
    """``name <op> literal`` and ``name in (...)`` clauses, evaluated in line, give the very
    decision (verdicts, evidence, reasons, errors included) that their closures give."""
    # Beside them, a one-name clause of another shape and a two-name one (always closures).
    text = " and ".join([*clauses, "(has('m') or m > 1)", "(m > 1 or k < 2)"])
    attributes = {"n": value, **({"m": 5} if other_present else {})}
    inline, general = rule(text), closures_only(text)
    kinds = [c[0] for c in inline._plan[2]]
    assert kinds[:-2] != [c[0] for c in general._plan[2]][:-2]
    assert kinds[-2:] == [c[0] for c in general._plan[2]][-2:]
    for _ in range(2):  # the second time reads remembered reasons
        fast = inline(lead(attributes), context())
        slow = general(lead(attributes), context())
        assert fast == slow
        assert fast.reasons == slow.reasons
        assert [v.evidence for v in fast.criteria] == [v.evidence for v in slow.criteria]


def test_inline_clause_errors_and_unhashables() -> None:
    """Comparing a string with a number is unknown with the error; an unhashable value is
    compared one by one with the members, as the closure does."""
    decision = rule("n >= 10 and role in (1, 'cto')")(lead({"n": "x", "role": [1]}), context())
    assert decision.reasons[0].startswith("n >= 10: cannot be evaluated: '>=' not supported")
    assert [v.status for v in decision.criteria] == ["unknown", "failed"]
    listed = rule("role in (1, 'cto')")(lead({"role": [1]}), context())
    assert listed.reasons == ("role in (1, 'cto'): not met (role=[1])",)


# -- days_since(name) <op> number as one timedelta comparison -----------------------------------

@given(st.sampled_from(["<", "<=", ">", ">="]),
       st.one_of(st.integers(-(10**6), 10**6), st.floats(-1e6, 1e6), st.sampled_from([0, 30, 0.5, 1e-9, -0.0])),
       st.integers(-(10**17), 10**17), st.integers(-3, 3))
def test_age_threshold_agrees_with_the_day_arithmetic(
    op: str, const: float, micros: int, nudge: int
) -> None:
    """For every age, comparing it with the threshold answers like comparing its days with the
    constant: near the threshold (to the microsecond) and anywhere else."""
    threshold = _age_threshold(op, const)
    assert threshold is not None
    below = op in {"<", "<="}
    compare = _OPERATORS[op]
    for age in (timedelta(microseconds=micros), threshold + timedelta(microseconds=nudge)):
        expected = compare(age.total_seconds() / 86400.0, const)
        assert (age < threshold if below else age >= threshold) == expected, age


def test_age_threshold_leaves_other_cases_to_the_arithmetic() -> None:
    """``==``, ``!=``, non-numbers and constants no age can reach keep the float arithmetic."""
    assert _age_threshold("==", 3) is None
    assert _age_threshold("!=", 3) is None
    assert _age_threshold("<", True) is None
    assert _age_threshold("<", "3") is None
    assert _age_threshold("<", 1e300) is None
    assert _age_threshold(">", -1e300) is None
    recent = Touchpoint("L1", "call", "phone", AT - timedelta(days=2))
    for text, allowed in [("days_since(last_touch) < 1e15", True),
                          ("days_since(last_touch) == 2", True),
                          ("days_since(last_touch) <= 2", True),
                          ("days_since(last_touch) > 2", False),
                          ("days_since(when) < 3", True)]:
        decision = rule(text)(lead({"when": "2026-03-01"}), context([recent]))
        assert decision.allowed is allowed, text
