"""``funnelkit validate`` and ``funnelkit diagram``: definitions checked and drawn."""

from __future__ import annotations

import json
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from funnelkit._core.errors import InvalidFunnel, InvalidInput, MissingExtra
from funnelkit.cli._common import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    load_funnel,
    writable,
)

if TYPE_CHECKING:
    import argparse

    from funnelkit.cli._console import Console

__all__ = ["diagram", "validate"]


def _check(name: str) -> dict[str, Any]:
    """One file's verdict: ``ok``, the funnel's size, or every problem with its path.

    ``deprecated`` lists what the file still writes under an old name (the moves' old key
    ``"transitions"``): read for now, each a ``DeprecationWarning`` the command shows.
    """
    from funnelkit._definition.funnel import Funnel  # noqa: PLC0415

    path = Path(name)
    result: dict[str, Any] = {"file": name, "ok": False, "funnel": None, "problems": [],
                              "deprecated": []}
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "no such file"
        result["error"] = f"{what}; give a .toml or .json funnel definition"
        return result
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DeprecationWarning)
            funnel = Funnel.from_file(path)
    except InvalidFunnel as exc:
        result["funnel"] = exc.name or None
        result["problems"] = [
            {"path": where.removeprefix(f"{path}: "), "message": what}
            for where, what in exc.problems
        ]
        return result
    except InvalidInput as exc:
        result["error"] = str(exc).removeprefix(f"{path}: ")
        return result
    result.update(ok=True, funnel=funnel.name, stages=len(funnel.stages),
                  moves=len(funnel.moves), teams=list(funnel.teams),
                  deprecated=[str(w.message) for w in caught
                              if issubclass(w.category, DeprecationWarning)])
    return result


def validate(args: argparse.Namespace, console: Console) -> int:
    """Check each definition; exit 1 when one has problems, 2 when one cannot be read."""
    results = [_check(name) for name in args.files]
    if args.format == "json":
        console.write(json.dumps(results, indent=2))
    else:
        for r in results:
            if r["ok"]:
                console.write(f"{r['file']}: ok (funnel {r['funnel']!r}: {r['stages']} stages, "
                              f"{r['moves']} moves, teams {', '.join(r['teams'])})")
                for message in r["deprecated"]:
                    console.write(f"  deprecated: {message}")
            elif "error" in r:
                console.write(f"{r['file']}: {r['error']}")
            else:
                count = len(r["problems"])
                console.write(f"{r['file']}: {count} problem{'s' if count != 1 else ''}")
                for p in r["problems"]:
                    console.write(f"  {p['path']}: {p['message']}" if p["path"]
                                  else f"  {p['message']}")
    if any("error" in r for r in results):
        return EXIT_USAGE
    return EXIT_OK if all(r["ok"] for r in results) else EXIT_FINDINGS


def _svg(dot_source: str) -> str:
    dot = shutil.which("dot")
    if dot is None:
        raise CommandError(
            "--format svg needs Graphviz's `dot` program, which is not installed: install the "
            "graphviz package of your system (apt-get install graphviz, brew install graphviz), "
            "or use --format mermaid or --format dot")
    # S603: the program is Graphviz's dot found on PATH, its input our own DOT text, no shell.
    done = subprocess.run([dot, "-Tsvg"], input=dot_source, capture_output=True,  # noqa: S603
                          text=True, check=False, timeout=60)
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["no message"])[0]
        raise CommandError(f"Graphviz's dot failed ({first}); try --format dot and run dot "
                           f"yourself")
    return done.stdout


def diagram(args: argparse.Namespace, console: Console) -> int:
    """Draw the funnel as Mermaid, DOT or SVG, to stdout or ``-o``."""
    funnel = load_funnel(args.file)
    target = writable(args.output, what="-o") if args.output else None
    if args.format == "mermaid":
        text = funnel.to_mermaid()
    else:
        try:
            text = funnel.to_dot()
        except MissingExtra:
            raise CommandError(
                f"--format {args.format} needs the graphviz package: pip install "
                f"'funnelkit[diagrams]' (--format mermaid needs nothing more)") from None
        if args.format == "svg":
            text = _svg(text)
    if target is None:
        console.out.write(text if text.endswith("\n") else text + "\n")
        return EXIT_OK
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot write -o {args.output} ({exc.strerror}); choose another "
                           f"path") from None
    console.note(f"wrote {args.format} of funnel {funnel.name!r} to {target}")
    return EXIT_OK
