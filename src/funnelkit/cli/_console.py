"""What the commands print: data on stdout, progress and notes on stderr.

Tables and progress bars come from ``rich`` (the ``funnelkit[cli]`` extra) when it is installed
and the stream is a terminal; otherwise the same content is written as plain, aligned text, so
output piped to a file or a cron mail stays stable and never wraps at 80 columns.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from typing import TYPE_CHECKING, Any, Self, TextIO

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import TracebackType

__all__ = ["Console", "Progress", "plain_table"]


def _has_rich() -> bool:
    return importlib.util.find_spec("rich") is not None


def plain_table(headers: Sequence[str], rows: Sequence[Sequence[object]],
                *, right: Sequence[bool] | None = None) -> str:
    """Rows as aligned plain text, one line each, columns two spaces apart.

    >>> print(plain_table(["stage", "leads"], [["mql", 12], ["sql", 3]], right=[False, True]))
    stage  leads
    mql       12
    sql        3
    """
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    align = list(right) if right is not None else [False] * len(headers)
    lines = []
    for row in cells:
        parts = [c.rjust(w) if a else c.ljust(w)
                 for c, w, a in zip(row, widths, align, strict=True)]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


class Progress:
    """A progress bar on stderr: rich's on a terminal, a plain one without rich, none otherwise.

    Use it as a context manager and call :meth:`advance`; it is cheap to call per row (the
    display is refreshed at most ten times a second).
    """

    def __init__(self, description: str, total: int | None, *, stream: TextIO,
                 enabled: bool, use_rich: bool) -> None:
        self.description = description
        self.total = total
        self.done = 0
        self._stream = stream
        self._enabled = enabled
        self._use_rich = use_rich and enabled
        self._rich: Any = None
        self._task: Any = None
        self._last = 0.0

    def __enter__(self) -> Self:
        if self._use_rich:
            from rich.console import Console as RichConsole  # noqa: PLC0415 - optional extra
            from rich.progress import (  # noqa: PLC0415
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress  # noqa: PLC0415

            self._rich = RichProgress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), TimeRemainingColumn(),
                console=RichConsole(file=self._stream), transient=True,
            )
            self._rich.start()
            self._task = self._rich.add_task(self.description, total=self.total)
        return self

    def advance(self, n: int = 1) -> None:
        """Count *n* more units of work done."""
        self.done += n
        if not self._enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1:
            return
        self._last = now
        self._show()

    def _show(self) -> None:
        if self._rich is not None:
            self._rich.update(self._task, completed=self.done)
            return
        if self.total:
            share = min(self.done / self.total, 1.0)
            bar = "#" * int(share * 30)
            text = f"{self.description} [{bar:<30}] {self.done:,}/{self.total:,} {share:4.0%}"
        else:
            text = f"{self.description} {self.done:,}"
        self._stream.write(f"\r{text}")
        self._stream.flush()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if not self._enabled:
            return
        if self._rich is not None:
            self._rich.stop()
        else:
            self._stream.write("\r\x1b[K")  # clear the line: the summary follows on stdout
            self._stream.flush()


class Console:
    """Where a command writes: ``out`` for data, ``err`` for progress and notes.

    *quiet* silences progress and notes (data and errors are still written).  *fancy* forces
    rich output on or off; by default it is on when rich is installed and the stream is a
    terminal.
    """

    def __init__(self, *, out: TextIO | None = None, err: TextIO | None = None,
                 quiet: bool = False, fancy: bool | None = None) -> None:
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr
        self.quiet = quiet
        self._fancy = fancy

    def _is_fancy(self, stream: TextIO) -> bool:
        if self._fancy is not None:
            return self._fancy and _has_rich()
        return _has_rich() and _isatty(stream)

    def write(self, text: str = "") -> None:
        """Write *text* and a newline to stdout."""
        self.out.write(text + "\n")

    def note(self, text: str) -> None:
        """Write a line to stderr unless quiet."""
        if not self.quiet:
            self.err.write(text + "\n")
            self.err.flush()

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[object]], *,
              title: str | None = None, right: Sequence[bool] | None = None) -> None:
        """Write a table to stdout (rich on a terminal, plain aligned text otherwise)."""
        if self._is_fancy(self.out):
            from rich.console import Console as RichConsole  # noqa: PLC0415 - optional extra
            from rich.table import Table  # noqa: PLC0415

            table = Table(title=title, title_justify="left")
            align = list(right) if right is not None else [False] * len(headers)
            for header, is_right in zip(headers, align, strict=True):
                table.add_column(header, justify="right" if is_right else "left")
            for row in rows:
                table.add_row(*("" if c is None else str(c) for c in row))
            RichConsole(file=self.out).print(table)
            return
        if title:
            self.write(title)
        self.write(plain_table(headers, rows, right=right))

    def progress(self, description: str, total: int | None) -> Progress:
        """A :class:`Progress` on stderr, shown only on a terminal and when not quiet."""
        enabled = not self.quiet and _isatty(self.err)
        return Progress(description, total, stream=self.err, enabled=enabled,
                        use_rich=self._is_fancy(self.err))


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False

