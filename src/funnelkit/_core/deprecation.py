"""One way to say a public name is going: the warning every deprecated name gives."""

from __future__ import annotations

import os
import sys
import warnings

__all__ = ["warn_renamed"]

# os.path, not pathlib: pathlib would cost `import funnelkit` a few milliseconds.
_PACKAGE = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))  # noqa: PTH120


def _caller_level() -> int:
    """The ``stacklevel`` of the first frame outside funnelkit, seen from ``warn_renamed``."""
    frame = sys._getframe(2)  # the caller of warn_renamed
    level = 2
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
        level += 1
    return level


def warn_renamed(old: str, new: str) -> None:
    """Warn that *old* is deprecated in favour of *new* and goes in the next release.

    The warning points at the first line outside funnelkit (the user's call), however deep in
    the package the old name was met.

    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_renamed("funnelkit.Outcome", "funnelkit.Fired")
    >>> print(caught[0].message)
    funnelkit.Outcome is deprecated and will be removed in the next release; use funnelkit.Fired
    """
    warnings.warn(
        f"{old} is deprecated and will be removed in the next release; use {new}",
        DeprecationWarning,
        stacklevel=_caller_level(),
    )
