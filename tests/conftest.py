"""Shared test configuration: Hypothesis profiles and the location of the Olist data set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# "ci" is what .ci/run uses: more examples, no deadline (the machines are shared and noisy).
settings.register_profile(
    "ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=60, deadline=None)
settings.register_profile("quick", max_examples=15, deadline=None)
settings.load_profile(os.environ.get("FUNNELKIT_HYPOTHESIS_PROFILE", "dev"))

OLIST = Path(os.environ.get("FUNNELKIT_OLIST_DIR", Path(__file__).resolve().parents[2] / "shared" / "data" / "olist"))


@pytest.fixture(scope="session")
def olist_dir() -> Path:
    """The Olist data set folder; skips the test when it is absent."""
    if not (OLIST / "olist_marketing_qualified_leads_dataset.csv").is_file():
        pytest.skip(f"the Olist data set is not at {OLIST}; set FUNNELKIT_OLIST_DIR to run this test")
    return OLIST
