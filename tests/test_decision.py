"""What a policy returns and is given: Verdict, Decision, Context and the Policy protocol."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from funnelkit import Context, Decision, InvalidInput, Policy, Touchpoint, Verdict, templates

AT = datetime(2026, 3, 2, 9, tzinfo=UTC)


def test_verdict_checks_name_and_status() -> None:
    """A verdict needs a name and one of the four statuses."""
    assert Verdict("budget", "met", 25_000).evidence == 25_000
    with pytest.raises(InvalidInput, match="met, partial, unknown, failed"):
        Verdict("budget", "ok")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="name="):
        Verdict("", "met")


def test_decision_allow_deny_and_fields() -> None:
    """allow() and deny() build decisions; the constructor checks every field."""
    d = Decision.deny("no budget", criteria=[Verdict("budget", "failed")], score=3, policy="p")
    assert (d.allowed, d.reasons, d.score, d.policy) == (False, ("no budget",), 3.0, "p")
    assert d.criteria == (Verdict("budget", "failed"),)
    assert Decision.allow().allowed is True
    for kwargs, match in (
        ({"criteria": ["x"]}, "must be Verdicts"),
        ({"reasons": [1]}, "must be strings"),
        ({"score": float("nan")}, "finite number"),
        ({"score": True}, "finite number"),
        ({"policy": 1}, "policy=1"),
    ):
        with pytest.raises(InvalidInput, match=match):
            Decision(True, **kwargs)  # noqa: FBT003
    with pytest.raises(InvalidInput, match="True or False"):
        Decision(1)  # type: ignore[arg-type]


def test_decision_value_semantics() -> None:
    """Decisions are equal by fields, hash alike, pickle, and cannot be changed."""
    a = Decision.deny("x", policy="p")
    assert a == Decision.deny("x", policy="p")
    assert hash(a) == hash(Decision.deny("x", policy="p"))
    assert a != Decision.allow(policy="p")
    assert pickle.loads(pickle.dumps(a)) == a
    with pytest.raises(AttributeError):
        a.allowed = True


def test_context_fields_read_only_data_and_pickle() -> None:
    """Context checks `at`, freezes its data and pickles back to an equal context."""
    tp = Touchpoint("L1", "webinar", "email", AT)
    ctx = Context(AT, touchpoints=[tp], data={"region": "emea"}, funnel=templates.temperature())
    assert ctx.touchpoints == (tp,)
    assert ctx.data["region"] == "emea"
    with pytest.raises(TypeError):
        ctx.data["region"] = "apac"  # type: ignore[index]
    again = pickle.loads(pickle.dumps(ctx))
    assert again == ctx
    assert again.data == {"region": "emea"}
    assert hash(again) == hash(ctx)
    assert Context(AT).data == {}
    assert Context(AT).funnel is None
    with pytest.raises(InvalidInput, match="naive"):
        Context(datetime(2026, 3, 2))  # noqa: DTZ001
    with pytest.raises(InvalidInput, match="mapping"):
        Context(AT, data=[1])  # type: ignore[arg-type]


class _NoOffset(tzinfo):
    """A tzinfo that knows no offset: datetimes carrying it are naive all the same."""

    def utcoffset(self, dt: datetime | None) -> None:
        return None


class _Moment(datetime):
    """A datetime subclass (not the exact type the quick check accepts)."""


def test_context_at_checks_every_kind_of_time() -> None:
    """A fixed-offset timezone passes the quick check; other tzinfos, subclasses, naive values,
    tzinfos without an offset and empty or wrong data go through the full checks."""
    aware = [AT, AT.astimezone(timezone(timedelta(hours=-5))),
             AT.astimezone(ZoneInfo("Europe/Paris")), _Moment(2026, 3, 2, tzinfo=UTC)]
    for at in aware:
        assert Context(at, touchpoints=(), score=None).at is at
    for naive in (datetime(2026, 3, 2), datetime(2026, 3, 2, tzinfo=_NoOffset()),  # noqa: DTZ001
                  _Moment(2026, 3, 2)):  # noqa: DTZ001
        with pytest.raises(InvalidInput, match="naive"):
            Context(naive)
    with pytest.raises(InvalidInput, match="not a datetime"):
        Context("2026-03-02")  # type: ignore[arg-type]
    assert Context(AT, data={}).data == {}
    with pytest.raises(InvalidInput, match="mapping"):
        Context(AT, data=0)  # type: ignore[arg-type]


def test_a_plain_function_is_a_policy() -> None:
    """Any callable (lead, context) -> Decision satisfies the Policy protocol."""

    def always(lead: Any, context: Context) -> Decision:
        return Decision.allow(policy="always")

    policy: Policy = always
    funnel = templates.temperature(policies={"warm_up": policy})
    lead = funnel.new_lead("L1", at=AT)
    assert funnel.fire(lead, "warm_up", at=AT).transition.decision == Decision.allow(
        policy="always"
    )
