"""Sharp edges: free policy data only through context={...}, and touch(id, kind, channel)."""

from __future__ import annotations

import keyword
from datetime import timedelta
from typing import Any

import pytest
from _pipeline_support import FRIDAY_2PM, Clock, PointsScorer, sales_funnel, score_at_least
from hypothesis import given
from hypothesis import strategies as st

from funnelkit import Context, Decision, InvalidInput, Lead, PolicyRefused, Touchpoint
from funnelkit.pipeline import Pipeline
from funnelkit.stores import MemoryStore


def _snapshot(store: MemoryStore) -> tuple[Any, ...]:
    return (list(store.leads()), list(store.transitions()), list(store.touchpoint_stream()),
            store.handoffs(), store.outbox(undelivered_only=False))


class Seen:
    """A policy that records the Context.data it is given and allows the move."""

    def __init__(self) -> None:
        self.data: list[dict[str, Any]] = []

    def __call__(self, lead: Lead, context: Context) -> Decision:
        self.data.append(dict(context.data))
        return Decision.allow(policy="seen")


def _guarded(policy: Any = None) -> Pipeline:
    pipeline = Pipeline(sales_funnel(qualify=policy or Seen()), store=MemoryStore(),
                        clock=Clock())
    pipeline.capture("L1")
    return pipeline


# -- misspelt keywords ---------------------------------------------------------------------------

CALLS = {
    "fire": lambda p, **kw: p.fire("L1", "qualify", **kw),
    "evaluate": lambda p, **kw: p.evaluate("L1", **kw),
    "touch": lambda p, **kw: p.touch("L1", "call", "phone", **kw),
    "capture": lambda p, **kw: p.capture("L2", **kw),
}


@pytest.mark.parametrize("method", sorted(CALLS))
def test_a_misspelt_keyword_is_an_invalid_input_naming_the_valid_ones(method: str) -> None:
    """when=at is refused (InvalidInput, also a TypeError) with a hint, and nothing is written."""
    pipeline = _guarded()
    before = _snapshot(pipeline.store)
    with pytest.raises(InvalidInput, match=rf"Pipeline\.{method}\(\) got unexpected keyword "
                                           r"argument 'when'; it takes .*\bat\b") as info:
        CALLS[method](pipeline, when=FRIDAY_2PM)
    assert isinstance(info.value, TypeError)
    assert _snapshot(pipeline.store) == before
    with pytest.raises(TypeError, match=r"'atr' \(did you mean 'at'\?\), 'actr'"):
        CALLS[method](pipeline, atr=FRIDAY_2PM, actr="x")
    assert _snapshot(pipeline.store) == before


def test_the_hint_about_context_is_given_where_context_is_taken() -> None:
    """fire, evaluate and touch point to context={...}; capture, which takes none, does not."""
    pipeline = _guarded()
    for method in ("fire", "evaluate", "touch"):
        with pytest.raises(InvalidInput, match=r"goes in context=\{\.\.\.\}"):
            CALLS[method](pipeline, approved=True)
    with pytest.raises(InvalidInput) as info:
        CALLS["capture"](pipeline, approved=True)
    assert "context" not in str(info.value)


def test_fire_many_refuses_a_misspelt_keyword_of_its_own() -> None:
    """fire_many(items, error="collect") is an InvalidInput suggesting errors=."""
    pipeline = _guarded()
    before = _snapshot(pipeline.store)
    with pytest.raises(InvalidInput, match=r"Pipeline\.fire_many\(\) got unexpected keyword "
                                           r"argument 'error' \(did you mean 'errors'\?\); "
                                           r"it takes items, errors$"):
        pipeline.fire_many([("L1", "qualify")], error="collect")
    assert _snapshot(pipeline.store) == before


def test_fire_many_items_take_fires_keys_only() -> None:
    """A mapping item with a key fire does not take is refused before anything is written."""
    seen = Seen()
    pipeline = _guarded(seen)
    before = _snapshot(pipeline.store)
    bad = [{"id": "L1", "event": "qualify", "context": {"a": 1}},
           {"id": "L1", "event": "hand_to_sales", "when": FRIDAY_2PM}]
    with pytest.raises(InvalidInput, match=r"fire_many item 1: .*'when'.*context=") as info:
        pipeline.fire_many(bad)
    assert isinstance(info.value, TypeError)
    with pytest.raises(InvalidInput, match=r"item 0: .*unexpected keyword argument 1\b"):
        pipeline.fire_many([{"id": "L1", "event": "qualify", 1: 2}])
    with pytest.raises(InvalidInput, match="item 0: context=5 must be a mapping"):
        pipeline.fire_many([{"id": "L1", "event": "qualify", "context": 5}])
    assert _snapshot(pipeline.store) == before
    assert seen.data == []
    outcomes = pipeline.fire_many([{"id": "L1", "event": "qualify", "context": {"a": 1}}])
    assert outcomes[0].lead.stage == "mql"  # type: ignore[union-attr]
    assert seen.data == [{"a": 1}]


@given(name=st.from_regex(r"[a-z_][a-z0-9_]{0,20}", fullmatch=True).filter(
    lambda n: n not in {"self", "id", "event", "actor", "reason", "at", "context"}
    and not keyword.iskeyword(n)))
def test_no_keyword_beyond_fires_own_ever_reaches_a_policy(name: str) -> None:
    """For any name but fire's own, fire(**{name: v}) is refused and the policy never runs."""
    seen = Seen()
    pipeline = _guarded(seen)
    before = _snapshot(pipeline.store)
    with pytest.raises(InvalidInput, match=f"argument {name!r}"):
        pipeline.fire("L1", "qualify", **{name: 1})
    assert seen.data == []
    assert _snapshot(pipeline.store) == before


# -- context={...} --------------------------------------------------------------------------------

def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)


JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                       _containers, max_leaves=10)


@given(data=st.dictionaries(st.text(max_size=8), JSONISH, max_size=4))
def test_context_reaches_the_policy_unchanged(data: dict[str, Any]) -> None:
    """fire(context=data) gives the guarding policy Context.data equal to data."""
    seen = Seen()
    pipeline = _guarded(seen)
    pipeline.fire("L1", "qualify", context=data)
    assert seen.data == [data]


def test_context_reaches_auto_moves_of_touch_and_evaluate_and_batches() -> None:
    """touch, evaluate and fire_many pass context to the policies they run."""
    def region(lead: Lead, context: Context) -> Decision:
        if context.data.get("region") == "emea":
            return Decision.allow(policy="region")
        return Decision.deny("not emea", policy="region")

    pipeline = Pipeline(sales_funnel(qualify=region), store=MemoryStore(), clock=Clock())
    for lead_id in ("T", "E", "B"):
        pipeline.capture(lead_id)
    assert pipeline.touch("T", "call", "phone") == ()
    (moved,) = pipeline.touch("T", "call", "phone", context={"region": "emea"})
    assert moved.lead.stage == "mql"
    assert pipeline.evaluate("E", context={"region": "apac"}) == ()
    assert [o.lead.stage for o in pipeline.evaluate("E", context={"region": "emea"})] == ["mql"]
    (refused,) = pipeline.fire_many([{"id": "B", "event": "qualify"}], errors="collect")
    assert isinstance(refused, PolicyRefused)
    (outcome,) = pipeline.fire_many([{"id": "B", "event": "qualify",
                                      "context": {"region": "emea"}}])
    assert outcome.lead.stage == "mql"  # type: ignore[union-attr]


class _CountingStore(MemoryStore):
    """A real MemoryStore that counts its loads."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []

    def load(self, id: str) -> Lead:  # noqa: A002
        self.loads.append(id)
        return super().load(id)


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


BAD_CONTEXTS = [
    (5, "context=5 must be a mapping"),
    ("region=emea", "must be a mapping"),
    ([("region", "emea")], "must be a mapping"),
    (Context(FRIDAY_2PM), "the pipeline builds the Context itself"),
    ({1: "a"}, "named by strings, not 1"),
    (_nested(40), "nests more than 32 levels"),
]


@pytest.mark.parametrize(("context", "match"), BAD_CONTEXTS,
                         ids=["int", "str", "pairs", "Context", "int-key", "deep"])
@pytest.mark.parametrize("method", ["fire", "evaluate", "touch"])
def test_a_bad_context_is_refused_before_any_work(method: str, context: Any, match: str) -> None:
    """context must be a mapping with str keys, nested within the limits; nothing is written."""
    seen = Seen()
    store = _CountingStore()
    pipeline = Pipeline(sales_funnel(qualify=seen), store=store, clock=Clock())
    pipeline.capture("L1")
    before = _snapshot(store)
    with pytest.raises(InvalidInput, match=match):
        CALLS[method](pipeline, context=context)
    assert store.loads == []  # refused before the lead was even loaded
    assert seen.data == []
    assert _snapshot(pipeline.store) == before


def test_an_empty_context_is_no_data() -> None:
    """context={} and context=None both give the policy empty data."""
    seen = Seen()
    pipeline = _guarded(seen)
    pipeline.fire("L1", "qualify", context={})
    pipeline.fire("L1", "nurture")
    pipeline.fire("L1", "recycle", reason="back", context=None)
    assert seen.data == [{}]


# -- touch(id, kind, channel) ---------------------------------------------------------------------


def test_touch_builds_the_touchpoint_at_the_clocks_time() -> None:
    """touch(id, kind, channel, points=, data=) records a Touchpoint at the clock's time."""
    clock = Clock()
    pipeline = Pipeline(sales_funnel(qualify=score_at_least(50)), store=MemoryStore(), clock=clock,
                        scoring=PointsScorer())
    pipeline.capture("L1")
    clock.advance(minutes=5)
    assert pipeline.touch("L1", "webinar", "email", points=30, data={"title": "Q3"}) == ()
    later = clock.advance(minutes=5)
    (moved,) = pipeline.touch("L1", "demo_request", "web", points=25)
    assert moved.transition.at == later
    first, second = pipeline.touchpoints("L1")
    assert first == Touchpoint("L1", "webinar", "email", FRIDAY_2PM + timedelta(minutes=5),
                               points=30, data={"title": "Q3"})
    assert (second.kind, second.channel, second.at, second.points) == (
        "demo_request", "web", later, 25)


def test_touch_with_at_keeps_that_time() -> None:
    """at= is the touch's own time (earlier than the lead's last change is allowed, as before)."""
    clock = Clock()
    pipeline = Pipeline(sales_funnel(), store=MemoryStore(), clock=clock)
    pipeline.capture("L1")
    clock.advance(hours=2)
    pipeline.fire("L1", "qualify")
    earlier = FRIDAY_2PM + timedelta(hours=1)
    pipeline.touch("L1", "call", "phone", at=earlier)
    assert pipeline.touchpoints("L1")[0].at == earlier


def test_touch_reads_the_clock_after_the_load() -> None:
    """A clock behind the lead's last change (another machine's) takes the lead's time."""
    clock = Clock()
    pipeline = Pipeline(sales_funnel(), store=MemoryStore(), clock=clock)
    pipeline.capture("L1")
    ahead = FRIDAY_2PM + timedelta(hours=3)
    pipeline.fire("L1", "qualify", at=ahead)
    pipeline.touch("L1", "call", "phone")
    assert pipeline.touchpoints("L1")[0].at == ahead


def test_touch_still_takes_a_ready_touchpoint() -> None:
    """touch(id, touchpoint) records it as it is; mixing it with kind's arguments is refused."""
    pipeline = Pipeline(sales_funnel(), store=MemoryStore(), clock=Clock())
    pipeline.capture("L1")
    touch = Touchpoint("L1", "meeting", "field", FRIDAY_2PM - timedelta(days=1), points=5)
    assert pipeline.touch("L1", touch) == ()
    assert pipeline.touchpoints("L1") == [touch]
    before = _snapshot(pipeline.store)
    for extra in ({"at": FRIDAY_2PM}, {"points": 1}, {"data": {"a": 1}}):
        with pytest.raises(InvalidInput, match="keeps the touchpoint's own"):
            pipeline.touch("L1", touch, **extra)
    with pytest.raises(InvalidInput, match="keeps the touchpoint's own channel"):
        pipeline.touch("L1", touch, "email")  # type: ignore[call-overload]
    assert _snapshot(pipeline.store) == before


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (("call",), {}, "needs the channel"),
        ((5, "phone"), {}, "kind=5 must be what happened"),
        (("", "phone"), {}, "Touchpoint kind=''"),
        (("call", ""), {}, "Touchpoint channel=''"),
        (("call", "x" * 201), {}, "Touchpoint channel="),
        (("call", "phone"), {"points": float("nan")}, "points=nan"),
        (("call", "phone"), {"data": {1: 2}}, "named by strings"),
        (("call", "phone"), {"at": "now"}, "at="),
        (("call", "phone"), {"at": FRIDAY_2PM.replace(tzinfo=None)}, "naive"),
    ],
    ids=["no-channel", "kind-int", "kind-empty", "channel-empty", "channel-long", "points-nan",
         "data-keys", "at-str", "at-naive"],
)
def test_touch_refuses_bad_arguments_before_any_work(
    args: tuple[Any, ...], kwargs: dict[str, Any], match: str,
) -> None:
    """Every argument of touch is checked before the lead is loaded; nothing is written."""
    pipeline = Pipeline(sales_funnel(), store=MemoryStore(), clock=Clock())
    pipeline.capture("L1")
    before = _snapshot(pipeline.store)
    with pytest.raises(InvalidInput, match=match):
        pipeline.touch("L1", *args, **kwargs)
    assert _snapshot(pipeline.store) == before


class _MovedOnce(MemoryStore):
    """A real MemoryStore in which a rival moves the lead, an hour later, before our first commit."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock
        self.raced = False

    def commit(self, change: Any) -> None:
        if not self.raced and change.touchpoints:
            self.raced = True
            self.clock.advance(hours=1)
            Pipeline(sales_funnel(), store=self, clock=self.clock).fire("L1", "qualify")
        super().commit(change)


def test_touch_retries_at_the_clocks_new_time() -> None:
    """A conflict makes touch load the lead again and read the clock again."""
    clock = Clock()
    pipeline = Pipeline(sales_funnel(), store=_MovedOnce(clock), clock=clock)
    pipeline.capture("L1")
    pipeline.touch("L1", "call", "phone")
    (touch,) = pipeline.touchpoints("L1")
    assert touch.at == FRIDAY_2PM + timedelta(hours=1)
    assert pipeline.get("L1").stage == "mql"
