"""Fixtures of the example's tests: pytest-django's database and funnelkit's frozen clock.

``funnelkit_clock`` and ``funnelkit_pipeline`` come from funnelkit's pytest plugin (installed
with funnelkit); ``client``, ``db`` and ``django_capture_on_commit_callbacks`` from pytest-django.
"""

from pathlib import Path

import pytest

from funnelkit import Funnel
from funnelkit.contrib.django import get_pipeline

FUNNEL = Path(__file__).resolve().parents[1] / "funnel.toml"


@pytest.fixture
def pipeline(db, funnelkit_clock, monkeypatch):
    """The project's pipeline (DjangoStore on the test database) on funnelkit's frozen clock."""
    pipeline = get_pipeline()
    monkeypatch.setattr(pipeline, "clock", funnelkit_clock)
    funnelkit_clock.calendar = pipeline.calendar  # business hours count on the clock too
    return pipeline


@pytest.fixture
def sales(funnelkit_pipeline):
    """The same funnel on funnelkit's memory store: the sales process alone, no database."""
    return funnelkit_pipeline(Funnel.from_file(FUNNEL))
