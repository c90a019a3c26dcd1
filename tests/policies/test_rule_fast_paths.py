"""The rule compiler's specialised shapes and the rule policy's prebuilt parts give the very
values and decisions the general interpreter gives."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from _policy_support import AT, context, lead, trees
from hypothesis import given
from hypothesis import strategies as st

from funnelkit import Touchpoint
from funnelkit._policy.policies import _criteria
from funnelkit._policy.rules import (
    _OPERATORS,
    EVAL_ERRORS,
    BoolOp,
    Call,
    Compare,
    Const,
    Name,
    NameTable,
    Node,
    Not,
    Seq,
    _age_threshold,
    compile_expr,
    literal_test,
    parse,
    unparse,
)
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


# -- specialised shapes against the general interpreter ------------------------------------------
#
# The compiler gives ``name <op> literal``, ``name in (literals)`` and ``days_since(name) <op>
# number`` closures of their own.  These properties prove they compute what the general closures
# compute (``compile_expr(..., specialise=False)``), on generated rules over names that may be
# missing, unknown, built in, or hold values the rule cannot use.

NAMES_USED = ["n", "n", "m", "m", "stage", "last_touch", "score", "owner"]
OPS = ["==", "!=", "<", "<=", ">", ">="]
literals = st.one_of(
    st.integers(-3, 3), st.sampled_from([0.5, -0.0, 2.5, 1e15, 10**15, True, False]),
    st.sampled_from(["a", "b", "", "lead", "2026-03-01"]),
)
values = st.one_of(
    st.none(), st.booleans(), st.integers(-4, 4), st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.5, -0.0, 2.5, 1e15]),
    st.sampled_from(["a", "b", "", "lead", "2026-02-28", "2026-02-28T09:00:00+00:00", "soon"]),
    st.text(max_size=2), st.lists(st.integers(0, 3), max_size=2), st.tuples(st.integers(0, 3)),
    # whole and half days before AT, where days_since(n) <op> number is decided on the boundary
    st.integers(-80, 200).map(lambda halves: AT - timedelta(hours=12 * halves)),
    st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)),
    st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 1, 1)),  # naive
    st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 1, 1)), st.just(Decimal("1.5")),
)
MISSING = object()
attributes = st.fixed_dictionaries(
    {key: st.one_of(st.just(MISSING), values) for key in ("n", "m", "stage", "last_touch")}
).map(lambda drawn: {k: v for k, v in drawn.items() if v is not MISSING})
touchpoints = st.lists(st.builds(
    Touchpoint, st.just("L1"), st.just("call"), st.just("phone"),
    st.integers(-4, 90 * 2).map(lambda halves: AT - timedelta(hours=12 * halves)),
), max_size=2)
scores = st.one_of(st.none(), st.integers(-5, 5))


def _names() -> st.SearchStrategy[Name]:
    return st.builds(Name, st.sampled_from(NAMES_USED))


def _compares() -> st.SearchStrategy[Node]:
    return st.builds(lambda n, op, c: Compare(n, ((op, Const(c)),)), _names(), st.sampled_from(OPS),
                     literals)


def _memberships() -> st.SearchStrategy[Node]:
    return st.builds(
        lambda n, op, kind, items: Compare(n, ((op, Seq(kind, tuple(map(Const, items)))),)),
        _names(), st.sampled_from(["in", "not in"]), st.sampled_from(["tuple", "list"]),
        st.lists(literals, max_size=3))


ages = st.one_of(st.integers(-40, 100), st.floats(-40, 100), st.sampled_from([0.5, 1e-9, 1e15]),
                 st.sampled_from([True, "3"]))


def _recencies() -> st.SearchStrategy[Node]:
    return st.builds(lambda n, op, c: Compare(Call("days_since", (n,)), ((op, Const(c)),)),
                     _names(), st.sampled_from(OPS), ages)


special_shapes = st.one_of(_compares(), _memberships(), _recencies())
#: Rules made of the special shapes, alone and under and / or / not, and beside any other tree.
shaped_rules = st.recursive(
    st.one_of(special_shapes, special_shapes, trees(1)),
    lambda sub: st.one_of(st.builds(Not, sub), st.builds(
        BoolOp, st.sampled_from(["and", "or"]), st.lists(sub, min_size=2, max_size=3).map(tuple))),
    max_leaves=6,
)


def outcome(compiled: Any, env: list[Any], ctx: Any) -> tuple[Any, ...]:
    """What evaluating gives, comparable: its type and value (NaN equal to NaN), or the error."""
    try:
        value = compiled(env, ctx)
    except EVAL_ERRORS as exc:
        return ("error", type(exc), str(exc))
    return ("value", type(value), repr(value))


def same_outcome(tree: Node, attrs: dict[str, Any], ctx: Any, score: Any = None) -> None:
    """Assert that *tree* compiled with and without specialised shapes evaluates alike."""
    the_lead = lead(attrs, owner="ae-1")
    fast_table, general_table = NameTable(), NameTable()
    fast = compile_expr(tree, fast_table)
    general = compile_expr(tree, general_table, specialise=False)
    env_fast = fast_table.freeze()(the_lead.attributes, the_lead, ctx, score)
    env_general = general_table.freeze()(the_lead.attributes, the_lead, ctx, score)
    assert outcome(fast, env_fast, ctx) == outcome(general, env_general, ctx), unparse(tree)


@given(st.sampled_from(OPS), literals, values)
def test_name_op_literal_on_any_value(op: str, literal: Any, value: Any) -> None:
    """``name <op> literal``: the same value or error as the general closures, for any value."""
    for attrs in ({"n": value}, {}):
        same_outcome(Compare(Name("n"), ((op, Const(literal)),)), attrs, None)


@given(st.sampled_from(["in", "not in"]), st.sampled_from(["tuple", "list"]),
       st.lists(literals, max_size=4), values)
def test_name_in_literals_on_any_value(op: str, kind: str, items: list[Any], value: Any) -> None:
    """``name in (literals)``, ``not in [...]``: the same as the general closures, unhashable
    values (compared one by one) included."""
    for attrs in ({"n": value}, {}):
        same_outcome(Compare(Name("n"), ((op, Seq(kind, tuple(map(Const, items)))),)), attrs, None)


@given(st.sampled_from(OPS), ages, values, st.booleans())
def test_days_since_op_number_on_any_value(op: str, age: Any, value: Any, with_context: bool) -> None:
    """``days_since(name) <op> number``: one timedelta comparison or the day arithmetic, the same
    as the general closures for times on the day boundaries, dates, ISO text, naive times..."""
    tree = Compare(Call("days_since", (Name("n"),)), ((op, Const(age)),))
    # Also the times whose age is the number of days, a microsecond either side of it, and the
    # same time naive, as a date and as ISO text.
    boundary: list[Any] = [AT - timedelta(days=age, microseconds=nudge) for nudge in (-1, 0, 1)
                           if type(age) in (int, float) and abs(age) < 10**5]
    boundary += [form for t in boundary[1:2]
                 for form in (t.replace(tzinfo=None), t.date(), t.isoformat(), str(t.date()))]
    for attrs in ({"n": value}, {}, *({"n": t} for t in boundary)):
        same_outcome(tree, attrs, context() if with_context else None)


@given(shaped_rules, attributes, touchpoints, scores)
def test_specialised_closures_compute_what_the_general_ones_do(
    tree: Node, attrs: dict[str, Any], tps: list[Touchpoint], score: Any
) -> None:
    """For generated rules and values (missing, None, built-in names, NaN, huge numbers, text,
    unhashables, naive datetimes...), each compiled closure gives the same value, or raises the
    same error with the same message, as the general closures; with and without a context."""
    for ctx in (context(tps, score=score), None):
        same_outcome(tree, attrs, ctx, score)


@given(st.lists(shaped_rules, min_size=1, max_size=4), attributes, touchpoints, scores)
def test_rules_decide_like_the_general_interpreter(
    clauses: list[Node], attrs: dict[str, Any], tps: list[Touchpoint], score: Any
) -> None:
    """A rule() policy decides exactly as the same rule compiled without specialised shapes:
    verdicts, evidence and reasons (errors and remembered "not met" reasons included)."""
    text = unparse(BoolOp("and", tuple(clauses))) if len(clauses) > 1 else unparse(clauses[0])
    fast = rule(text)
    general = rule(text)
    object.__setattr__(general, "_compiled", _criteria(text, specialise=False))
    for _ in range(2):  # the second time reads remembered reasons
        a = fast(lead(attrs), context(tps, score=score))
        b = general(lead(attrs), context(tps, score=score))
        assert a == b
        assert a.reasons == b.reasons
        assert [v.evidence for v in a.criteria] == [v.evidence for v in b.criteria]


def test_literal_tests_are_the_shapes_tables_take() -> None:
    """literal_test recognises one name compared with literals, and nothing else."""
    assert literal_test(parse("n >= 10")) == ("n", ">=", 10)
    assert literal_test(parse("n not in ['a', 1]")) == ("n", "not in", ("a", 1))
    for text in ("10 <= n", "n in 'abc'", "n == m", "1 < n < 5", "n in ('a', m)", "-n > 1",
                 "days_since(n) < 3"):
        assert literal_test(parse(text)) is None, text


def test_clause_errors_and_unhashables() -> None:
    """Comparing a string with a number is unknown with the error; an unhashable value is
    compared one by one with the members, as the general closure does."""
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
