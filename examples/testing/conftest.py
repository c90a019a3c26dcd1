"""Fixtures of Acme's test suite, built on the funnelkit plugin's fixtures.

The plugin is loaded by itself (``pytest11`` entry point) once funnelkit is installed, so
``funnelkit_pipeline``, ``funnelkit_clock`` and ``funnelkit_store`` are simply there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from acme_sales import SalesInbox, acme_funnel

if TYPE_CHECKING:
    from funnelkit.pipeline import Pipeline


@pytest.fixture
def inbox() -> SalesInbox:
    """The sales inbox hook, fresh per test."""
    return SalesInbox()


@pytest.fixture
def pipeline(funnelkit_pipeline, inbox) -> Pipeline:
    """Acme's funnel on the plugin's memory store and frozen clock, with the inbox registered."""
    pipeline = funnelkit_pipeline(acme_funnel())
    pipeline.register(inbox)
    return pipeline
