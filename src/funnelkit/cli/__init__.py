"""The ``funnelkit`` command line and the HTML funnel report (the top layer: nothing imports it).

Commands (``funnelkit COMMAND --help`` shows each one's options and examples):

- ``validate FILE...``: every problem of each TOML / JSON definition, with its path and hint;
- ``diagram FILE --format mermaid|dot|svg [-o OUT]``;
- ``simulate FILE --leads N --seed S [--db PATH]``: synthetic leads written to a store;
- ``import CSV --funnel FILE --db PATH``: an event log into a store, every refused row reported;
- ``report --db PATH|--url URL --funnel FILE -o report.html [--as-of T]``: the HTML report;
- ``demo``: a few thousand synthetic leads through the inbound funnel, printed.

Exit codes: 0 done, 1 problems found (or the command could not finish), 2 usage.  Tables and
progress bars use ``rich`` when the ``funnelkit[cli]`` extra is installed; without it every
command works with plain output.  :func:`render_report` builds the report's HTML from Python.

>>> from funnelkit.cli import main
>>> main(["validate", "no-such-funnel.toml"])
no-such-funnel.toml: no such file; give a .toml or .json funnel definition
2
"""

from __future__ import annotations

from funnelkit.cli._app import main
from funnelkit.cli._report import render_report

__all__ = ["main", "render_report"]
