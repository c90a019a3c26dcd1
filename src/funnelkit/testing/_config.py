"""Run-wide settings of the testing kit: the seed of the pytest run going on, if any."""

from __future__ import annotations

import sys

__all__ = ["get_seed"]


def get_seed() -> int | None:
    """The seed of the pytest run in this process (``--funnelkit-seed``), or None outside one.

    The pytest plugin keeps it; reading it through ``sys.modules`` means neither module imports
    the other: loading the plugin imports nothing of the testing kit.

    >>> isinstance(get_seed(), int | None)
    True
    """
    plugin = sys.modules.get("funnelkit._pytest_plugin")
    if plugin is None:
        return None
    seed: int | None = plugin.current_seed()
    return seed
