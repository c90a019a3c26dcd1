"""``python -m funnelkit`` and the ``funnelkit`` command (see :mod:`funnelkit.cli`)."""

from __future__ import annotations

import sys

from funnelkit.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
