"""Touchpoints: one interaction, checked, immutable, picklable."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import attrs
import pytest

from funnelkit import InvalidInput, Touchpoint

AT = datetime(2026, 3, 2, 9, tzinfo=UTC)


def test_fields_and_read_only_data() -> None:
    """A touchpoint keeps its fields; its data mapping is read-only."""
    tp = Touchpoint("L1", "demo_request", "web", AT, points=10, data={"page": "/pricing"})
    assert (tp.kind, tp.channel, tp.points, tp.data["page"]) == ("demo_request", "web", 10,
                                                                  "/pricing")
    with pytest.raises(TypeError):
        tp.data["page"] = "/"  # type: ignore[index]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        tp.kind = "call"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (("", "call", "phone", AT), {}, "lead_id=''"),
        (("L1", "call", "phone", datetime(2026, 3, 2)), {}, "naive"),  # noqa: DTZ001
        (("L1", "call", "phone", AT), {"points": float("inf")}, "points=inf"),
        (("L1", "call", "phone", AT), {"points": True}, "points=True"),
        (("L1", "call", "phone", AT), {"data": [1]}, "data="),
    ],
)
def test_bad_fields_are_refused(args: tuple[object, ...], kwargs: dict[str, object],
                                match: str) -> None:
    """Each bad field raises InvalidInput naming it."""
    with pytest.raises(InvalidInput, match=match):
        Touchpoint(*args, **kwargs)  # type: ignore[arg-type]


def test_pickle_and_equality() -> None:
    """Touchpoints pickle to an equal value with read-only data; equal ones hash alike."""
    tp = Touchpoint("L1", "webinar", "email", AT, data={"id": 7})
    again = pickle.loads(pickle.dumps(tp))
    assert again == tp
    assert hash(again) == hash(tp)
    with pytest.raises(TypeError):
        again.data["id"] = 8
