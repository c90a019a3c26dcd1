"""Every error derives from FunnelError and the builtin it resembles, reads well and pickles."""

from __future__ import annotations

import pickle
import traceback

import pytest

import funnelkit
import funnelkit.testing
from funnelkit import (
    Decision,
    FunnelError,
    InvalidFunnel,
    PolicyRefused,
    RuleSyntaxError,
    TransitionNotAllowed,
    UnknownEvent,
)
from funnelkit.testing import strategies

BUILTINS: dict[str, type[BaseException] | tuple[type[BaseException], ...]] = {
    "InvalidFunnel": ValueError,
    "InvalidInput": (ValueError, TypeError),
    "UnknownEvent": LookupError,
    "TransitionNotAllowed": ValueError,
    "PolicyRefused": ValueError,
    "PolicyFailed": RuntimeError,
    "ReasonRequired": ValueError,
    "InvalidPolicy": (ValueError, TypeError),
    "RuleSyntaxError": SyntaxError,
    "NotFound": LookupError,
    "AlreadyExists": ValueError,
    "StorageError": RuntimeError,
    "ConcurrencyError": RuntimeError,
    "HostTransactionError": RuntimeError,
    "Veto": RuntimeError,
    "HandoffClosed": ValueError,
    "InvalidHook": TypeError,
    "MissingExtra": ImportError,
    "MergeRefused": ValueError,
    "UnmergeConflict": ValueError,
    "LeadMerged": ValueError,
    "InvalidEscalation": (ValueError, TypeError),
}


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_each_error_has_the_root_and_its_builtin(name: str) -> None:
    """Each public error subclasses FunnelError and the builtin it resembles."""
    cls = getattr(funnelkit, name)
    assert issubclass(cls, FunnelError)
    expected = BUILTINS[name]
    builtins = expected if isinstance(expected, tuple) else (expected,)
    for builtin in builtins:
        assert issubclass(cls, builtin)


def test_every_public_error_is_listed() -> None:
    """No public error escapes this file's checks."""
    public = {n for n in funnelkit.__all__ if isinstance(getattr(funnelkit, n), type)
              and issubclass(getattr(funnelkit, n), BaseException)}
    assert public - {"FunnelError"} <= set(BUILTINS)


def test_invalid_funnel_lists_problems_with_paths() -> None:
    """InvalidFunnel's message names the funnel, counts and lists each problem with its path."""
    err = InvalidFunnel([("initial", "missing"), ("", "general")], name="f")
    assert str(err) == (
        "funnel 'f' has 2 problems; fix each and build again:\n  initial: missing\n  general"
    )
    assert str(InvalidFunnel([("a", "b")])).startswith("funnel definition has 1 problem;")


def test_event_errors_read_plainly() -> None:
    """LookupError-based errors print their message, not a quoted key."""
    err = UnknownEvent("no such event", event="x", stage="a", valid_events=["go"])
    assert str(err) == "no such event"
    assert err.valid_events == ("go",)


def _public_errors() -> list[tuple[str, type[BaseException]]]:
    """Every error in the __all__ of funnelkit, funnelkit.testing and its strategies, with the module."""
    return [
        (module.__name__, value)
        for module in (funnelkit, funnelkit.testing, strategies)
        for value in (getattr(module, n) for n in module.__all__)
        if isinstance(value, type) and issubclass(value, BaseException)
    ]


@pytest.mark.parametrize(("home", "cls"), _public_errors(), ids=lambda v: getattr(v, "__name__", v))
def test_errors_name_their_public_home(home: str, cls: type[BaseException]) -> None:
    """Each public error names the module it is imported from, and pickles by that name."""
    assert cls.__module__ == home
    assert pickle.loads(pickle.dumps(cls)) is cls


def test_tracebacks_show_the_public_name() -> None:
    """A traceback reads funnelkit.InvalidInput, not funnelkit._core.errors.InvalidInput."""
    line = traceback.format_exception_only(funnelkit.InvalidInput("bad at"))[-1]
    assert line == "funnelkit.InvalidInput: bad at\n"


@pytest.mark.parametrize(
    "err",
    [
        InvalidFunnel([("stages", "a funnel needs at least one stage")], name="f"),
        UnknownEvent("m", event="x", stage="a", valid_events=["go"]),
        TransitionNotAllowed("m", event="x", stage="a", valid_events=()),
        PolicyRefused("m", decision=Decision.deny("why", policy="p"), event="e", stage="s"),
        RuleSyntaxError("bad", text="a >", offset=3),
        funnelkit.PolicyFailed("policy raised", policy="p", event="e", lead_id="L1"),
        funnelkit.ReasonRequired("say why"),
        funnelkit.NotFound("no lead 'L1'"),
        funnelkit.Veto("no"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_errors_pickle(err: FunnelError) -> None:
    """Errors survive pickling with their message and fields (workers report them back)."""
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is type(err)
    assert str(again) == str(err)
    assert vars(again) == vars(err)


def test_policy_refused_carries_the_decision() -> None:
    """PolicyRefused keeps the decision and repeats its reasons."""
    d = Decision.deny("no budget", "no authority", policy="bant")
    err = PolicyRefused("refused", decision=d, event="qualify", stage="lead")
    assert err.decision is d
    assert err.reasons == ("no budget", "no authority")


def test_rule_syntax_error_points_at_the_column() -> None:
    """RuleSyntaxError shows the rule and a caret under the column."""
    assert str(RuleSyntaxError("oops", text="a >", offset=3)) == "oops (column 3)\n  a >\n    ^"


def test_not_found_without_message() -> None:
    """NotFound without arguments still says something."""
    assert str(funnelkit.NotFound()) == "not found"
    assert funnelkit.Veto().reason == ""
