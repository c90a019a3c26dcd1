"""``python -m funnelkit`` and the ``funnelkit`` command."""

from __future__ import annotations

import sys

from funnelkit._cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
