"""The ``funnelkit`` command: its parser, its help, and how errors become exit codes."""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from typing import TYPE_CHECKING

from funnelkit.cli._common import EXIT_FINDINGS, EXIT_USAGE, CommandError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from funnelkit.cli._console import Console

__all__ = ["build_parser", "main"]

_EPILOG = """\
exit codes:
  0  done, nothing to report
  1  the command found problems (an invalid definition, refused rows) or could not finish
     (a store that does not open, an output that cannot be written)
  2  usage: a wrong argument, or a file it names that does not exist or cannot be read

examples:
  funnelkit demo
  funnelkit validate funnel.toml
  funnelkit simulate inbound --leads 5000 --seed 1 --db funnel.db
  funnelkit report --db funnel.db --funnel inbound -o report.html

Add --debug before the command to see a traceback when something fails.
"""

_COMMANDS: dict[str, tuple[str, tuple[str, ...]]] = {
    # name: (one-line help, example command lines)
    "validate": (
        "check funnel definitions (TOML / JSON) and list every problem with its path",
        ("funnelkit validate funnel.toml",
         "funnelkit validate funnels/*.toml --format json"),
    ),
    "diagram": (
        "draw a funnel as Mermaid, Graphviz DOT or SVG",
        ("funnelkit diagram funnel.toml",
         "funnelkit diagram inbound --format dot -o inbound.dot",
         "funnelkit diagram funnel.toml --format svg -o funnel.svg   # needs Graphviz's dot"),
    ),
    "simulate": (
        "walk synthetic leads through a funnel and write them to a store",
        ("funnelkit simulate inbound --leads 2000 --seed 7 --db sim.db",
         "funnelkit simulate funnel.toml --db sim.db --stay mql=2d --weight mql.hand_to_sales=5"),
    ),
    "import": (
        "import an event log (CSV) into a store",
        ("funnelkit import events.csv --funnel funnel.toml --db funnel.db",
         "funnelkit import crm.csv --funnel inbound --db funnel.db --column lead=contact_id \\",
         "    --column time=changed_at --timezone Europe/Paris"),
    ),
    "report": (
        "write the HTML funnel report of a store",
        ("funnelkit report --db funnel.db --funnel funnel.toml -o report.html",
         "funnelkit report --url postgresql+psycopg://app@db/crm --funnel inbound \\",
         "    -o report.html --as-of 2026-03-01"),
    ),
    "demo": (
        "walk synthetic leads through the inbound funnel on SQLite and print what happened",
        ("funnelkit demo", "funnelkit demo --leads 500 --seed 3 --db demo.db"),
    ),
}


def _version() -> str:
    import funnelkit  # noqa: PLC0415

    return funnelkit.__version__


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors in the house's one-line form (exit code 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise CommandError(f"{self.prog}: {message} (see `{self.prog} --help`)", code=EXIT_USAGE)


def _sub(sub: argparse._SubParsersAction[_Parser], name: str) -> _Parser:
    summary, examples = _COMMANDS[name]
    epilog = ("examples:\n" + textwrap.indent("\n".join(examples), "  ") + "\n\n"
              + _EPILOG.split("examples:", 1)[0].rstrip())
    return sub.add_parser(name, help=summary, description=summary[0].upper() + summary[1:] + ".",
                          epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)


def _text_or_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="text tables (default) or JSON on stdout")


def build_parser() -> argparse.ArgumentParser:
    """The parser of the whole command line."""
    parser = _Parser(
        prog="funnelkit",
        description="funnelkit: model, simulate, import and report on sales and marketing "
                    "funnels.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"funnelkit {_version()}")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback when a command fails")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bars or notes on stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = _sub(sub, "validate")
    p.add_argument("files", nargs="+", metavar="FILE", help="funnel definitions (.toml, .json)")
    _text_or_json(p)

    p = _sub(sub, "diagram")
    p.add_argument("file", metavar="FILE", help="a funnel definition or a template name")
    p.add_argument("--format", choices=("mermaid", "dot", "svg"), default="mermaid",
                   help="mermaid (default), dot (needs the graphviz package: "
                        "funnelkit[diagrams]) or svg (also needs Graphviz's dot program)")
    p.add_argument("-o", "--output", metavar="OUT", help="write here instead of stdout")

    p = _sub(sub, "simulate")
    p.add_argument("file", metavar="FILE", help="a funnel definition or a template name")
    p.add_argument("--leads", type=int, default=1000, help="how many leads (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--db", metavar="PATH",
                   help="a new SQLite file to write (default: simulate.db, refused if it exists)")
    p.add_argument("--start", metavar="TIME", default="2026-01-05",
                   help="first capture time, ISO 8601 (default 2026-01-05)")
    p.add_argument("--days", type=float, default=90,
                   help="leads arrive over this many days (default 90)")
    p.add_argument("--config", metavar="TOML",
                   help="move weights, stays, channels and answers to handoffs (see the "
                        "cookbook); the options below override it")
    p.add_argument("--weight", action="append", default=[], metavar="STAGE.EVENT=W",
                   help="relative weight of a move (0 never; 'STAGE.stay=W' to stay open)")
    p.add_argument("--stay", action="append", default=[], metavar="STAGE=DURATION",
                   help="mean time in a stage before its next move, e.g. mql=2d or "
                        "'sql=36 hours' (default 3 days)")
    _text_or_json(p)

    p = _sub(sub, "import")
    p.add_argument("csv", metavar="CSV", help="the event log: one row per lead and stage or event")
    p.add_argument("--funnel", required=True, metavar="FILE",
                   help="the funnel definition (or template name) the rows follow")
    p.add_argument("--db", metavar="PATH", help="the SQLite store to write (created if needed)")
    p.add_argument("--url", metavar="URL", help="or a database URL (SQLAlchemy)")
    p.add_argument("--column", action="append", default=[], metavar="FIELD=NAME",
                   help="the CSV column of a field (lead, stage, event, time, channel, owner); "
                        "defaults: lead=lead_id, stage=stage, event=event, time=time, "
                        "channel=channel, owner=owner")
    p.add_argument("--timezone", default="UTC",
                   help="zone of times written without an offset (default UTC)")
    p.add_argument("--delimiter", default=",", help="the CSV delimiter (default ,)")
    p.add_argument("--dry-run", action="store_true",
                   help="check every row and report, but write nothing")
    _text_or_json(p)

    p = _sub(sub, "report")
    p.add_argument("--db", metavar="PATH", help="the SQLite store to read")
    p.add_argument("--url", metavar="URL", help="or a database URL (SQLAlchemy)")
    p.add_argument("--funnel", required=True, metavar="FILE",
                   help="the funnel definition (or template name) of the store")
    p.add_argument("-o", "--output", default="report.html", metavar="OUT",
                   help="the HTML file to write (default report.html)")
    p.add_argument("--as-of", metavar="TIME",
                   help="observation time, ISO 8601 (default: the last event in the store)")
    p.add_argument("--title", help="the report's title (default: the funnel's name)")
    p.add_argument("--attribution", default="linear,markov", metavar="MODEL,MODEL",
                   help="the two attribution models side by side (default linear,markov)")
    p.add_argument("--runs", type=int, default=2000,
                   help="Monte Carlo runs of the forecast (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the forecast (default 0)")
    p.add_argument("--value", metavar="ATTRIBUTE",
                   help="a numeric lead attribute: attribution credits it and the forecast sums "
                        "it (default: count conversions and wins)")

    p = _sub(sub, "demo")
    p.add_argument("--leads", type=int, default=3000, help="how many leads (default 3000)")
    p.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    p.add_argument("--db", default=None,
                   help="keep the store in this new SQLite file (default: a temporary one)")
    return parser


def _command(name: str) -> Callable[[argparse.Namespace, Console], int]:
    """The function running command *name* (each module loads only when its command runs)."""
    # PLC0415 below: a command's module, and what it needs, loads only when that command runs.
    if name == "validate":
        from funnelkit.cli._validate import validate  # noqa: PLC0415

        return validate
    if name == "diagram":
        from funnelkit.cli._validate import diagram  # noqa: PLC0415

        return diagram
    if name == "simulate":
        from funnelkit.cli._simulate import simulate  # noqa: PLC0415

        return simulate
    if name == "import":
        from funnelkit.cli._import import import_csv  # noqa: PLC0415

        return import_csv
    if name == "report":
        from funnelkit.cli._report_command import report  # noqa: PLC0415

        return report
    from funnelkit.cli._demo import demo  # noqa: PLC0415

    return demo


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``funnelkit`` command line with *argv* (default ``sys.argv[1:]``).

    Returns the exit code: 0 done, 1 problems found or the command could not finish, 2 usage.
    Errors are one line on stderr; ``--debug`` shows the traceback instead.

    >>> main(["validate", "no-such-file.toml"])
    no-such-file.toml: no such file; give a .toml or .json funnel definition
    2
    """
    from funnelkit.cli._console import Console  # noqa: PLC0415

    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    console = Console()
    try:
        args = build_parser().parse_args(args_list)
        console = Console(quiet=args.quiet)
        return int(_command(args.command)(args, console))
    except CommandError as exc:
        if debug:
            raise
        console.err.write(f"funnelkit: {exc}\n")
        return exc.code
    except KeyboardInterrupt:
        if debug:
            raise
        console.err.write("funnelkit: interrupted\n")
        return 130
    except BrokenPipeError:
        # The reader went away (`funnelkit demo | head`): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception as exc:
        if debug:
            raise
        from funnelkit._core.errors import FunnelError  # noqa: PLC0415

        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if isinstance(exc, FunnelError):
            console.err.write(f"funnelkit: {first}\n")
            return EXIT_FINDINGS
        console.err.write(f"funnelkit: unexpected {type(exc).__name__}: {first}; run again "
                          f"with --debug for the traceback and report it as a bug\n")
        return EXIT_FINDINGS
