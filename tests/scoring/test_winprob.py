"""WinProbability: naive Bayes over per-value frequencies, smoothing, clamping, explanations."""

from __future__ import annotations

import csv
import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from funnelkit import InvalidPolicy, Lead, Source
from funnelkit.scoring import WinProbability

if TYPE_CHECKING:
    from pathlib import Path

HISTORY = [
    ({"source": "referral", "size": "mid"}, "won"),
    ({"source": "referral", "size": "small"}, "won"),
    ({"source": "referral", "size": "mid"}, "lost"),
    ({"source": "paid_search", "size": "small"}, "lost"),
    ({"source": "paid_search", "size": "mid"}, "lost"),
    ({"source": "paid_search", "size": "small"}, True),
    ({"source": "outbound"}, False),
]


def test_frequencies_and_base_rate() -> None:
    """The model counts won/lost per value and knows the base rate."""
    model = WinProbability.fit(HISTORY)
    assert (model.won, model.lost) == (3, 4)
    assert model.base_rate == pytest.approx(3 / 7)
    assert model.counts["source"]["referral"] == (2, 1)
    assert model.fields == ("size", "source")


def test_naive_bayes_by_hand() -> None:
    """The probability equals the smoothed naive Bayes formula computed by hand."""
    model = WinProbability.fit(HISTORY, fields=["source"], smoothing=1.0)
    k = 3 + 1  # three seen sources plus one for unseen values
    p_won = (2 + 1) / (3 + k)
    p_lost = (1 + 1) / (4 + k)
    odds = (3 / 4) * p_won / p_lost
    assert model.predict({"source": "referral"}) == pytest.approx(odds / (1 + odds))


def test_explain_says_what_pushed_up_or_down() -> None:
    """explain() lists each known field's pull, strongest first, with direction and counts."""
    model = WinProbability.fit(HISTORY)
    factors = model.explain({"source": "referral", "size": "mid", "other": 1})
    assert [f.field for f in factors] == ["source", "size"] or [f.field for f in factors] == ["size", "source"]
    referral = next(f for f in factors if f.field == "source")
    assert referral.direction == "up"
    assert (referral.won, referral.lost) == (2, 1)
    assert next(f for f in model.explain({"source": "paid_search"})).direction == "down"
    assert abs(factors[0].weight) >= abs(factors[-1].weight)


def test_leads_and_unseen_values() -> None:
    """Leads are read through their attributes and source channel; unseen values lean on smoothing."""
    model = WinProbability.fit(HISTORY)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    lead = Lead("L1", "lead", created_at=at, source=Source("referral", "seed"))
    assert model(lead) == model.predict({"source": "referral"})
    assert model.predict({}) == pytest.approx(3 / 7)
    assert 0.01 <= model.predict({"source": "brand_new"}) <= 0.99


@given(st.lists(st.tuples(st.dictionaries(st.sampled_from("abc"), st.sampled_from([1, 2, "x", None])),
                          st.booleans()), min_size=2, max_size=30),
       st.dictionaries(st.sampled_from("abcd"), st.sampled_from([1, 2, "x", "y", None, [1]])))
def test_probability_is_clamped_away_from_0_and_1(history: list[Any], item: dict[str, Any]) -> None:
    """Whatever the history and lead, the probability stays within the bounds (default 0.01-0.99)."""
    if all(won for _, won in history) or not any(won for _, won in history):
        with pytest.raises(InvalidPolicy, match="at least one of each"):
            WinProbability.fit(history)
        return
    model = WinProbability.fit(history, bounds=(0.05, 0.95))
    p = model.predict(item)
    assert 0.05 <= p <= 0.95
    assert math.isfinite(p)


def test_many_fields_do_not_underflow() -> None:
    """Hundreds of strongly winning fields give the upper bound, not NaN (log-space arithmetic)."""
    won = {f"f{i}": "yes" for i in range(400)}
    history = [(won, True)] * 5 + [({f"f{i}": "no" for i in range(400)}, False)] * 5
    model = WinProbability.fit(history)
    assert model.predict(won) == 0.99
    assert model.predict({f"f{i}": "no" for i in range(400)}) == 0.01


def test_bins_cut_numbers_into_categories() -> None:
    """bins= turns numeric values into ranges before counting."""
    history = [({"budget": 500}, False), ({"budget": 20_000}, True), ({"budget": 50_000}, True)]
    model = WinProbability.fit(history, bins={"budget": [1000, 10_000]})
    assert set(model.counts["budget"]) == {"<1000", ">=10000"}
    assert model.predict({"budget": 15_000}) > model.predict({"budget": 10})


@pytest.mark.parametrize(
    ("kwargs", "history", "fragment"),
    [
        ({"smoothing": 0}, HISTORY, "smoothing"),
        ({"smoothing": float("nan")}, HISTORY, "smoothing"),
        ({"bounds": (0, 1)}, HISTORY, "bounds"),
        ({"bounds": (0.9, 0.1)}, HISTORY, "bounds"),
        ({"bins": {"x": [3, 1]}}, HISTORY, "ascending"),
        ({"fields": [""]}, HISTORY, "attribute names"),
        ({}, [({"a": 1}, "maybe")], "outcome"),
        ({}, [({"a": 1},)], "pair"),
        ({}, [(42, True)], "not a Lead"),
    ],
)
def test_bad_input_is_refused(kwargs: dict[str, Any], history: Any, fragment: str) -> None:
    """Bad smoothing, bounds, bins, outcomes or history items raise InvalidPolicy."""
    with pytest.raises(InvalidPolicy, match=fragment):
        WinProbability.fit(history, **kwargs)


@pytest.mark.olist
def test_olist_win_probability(olist_dir: Path) -> None:
    """On the real Olist MQLs, origin-based win probabilities stay bounded and explain themselves."""
    with (olist_dir / "olist_closed_deals_dataset.csv").open(encoding="utf-8") as f:
        won = {row["mql_id"] for row in csv.DictReader(f)}
    with (olist_dir / "olist_marketing_qualified_leads_dataset.csv").open(encoding="utf-8") as f:
        history = [({"origin": row["origin"] or None}, row["mql_id"] in won) for row in csv.DictReader(f)]
    model = WinProbability.fit(history)
    assert (model.won, model.won + model.lost) == (842, 8000)
    by_origin = {o: model.predict({"origin": o}) for o in model.counts["origin"]}
    assert all(0.01 <= p <= 0.99 for p in by_origin.values())
    best = max(by_origin, key=by_origin.__getitem__)
    assert model.explain({"origin": best})[0].direction == "up"
