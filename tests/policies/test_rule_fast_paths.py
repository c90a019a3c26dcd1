"""The rule policy's prebuilt verdicts and remembered reasons give the same decisions."""

from __future__ import annotations

from datetime import timedelta

from _policy_support import AT, context, lead

from funnelkit import Touchpoint
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
