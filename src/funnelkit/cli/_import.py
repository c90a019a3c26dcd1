"""``funnelkit import``: an event log in CSV into a store, every refused row reported.

Each row says that a lead entered a stage (or took an event) at a time; the lead's first row
creates it, with the row's channel and owner.  Rows are read whole, grouped by lead and taken in
time order (rows of one lead at the same time keep their order in the file), and each one is
made by the funnel's own move, :meth:`Funnel.fire <funnelkit.Funnel.fire>`: a row the funnel
refuses (an unknown stage or event, no move from where the lead is, a time that cannot be read,
a move that needs a reason the row does not give) is reported with its line number and the
reason, and the lead's later rows go on from where it is.  A row naming the stage the lead is in
already changes nothing and is counted.  Leads already in the store go on from their stored
state, and their rows dated up to their last stored change count as imported already, so running
an import again, or on a file that grew, adds only what is new.

Leads are written a batch at a time, each batch in one transaction (``commit_many`` when the
store has it).  Handoffs are not made: an event log does not say when a team answered.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from funnelkit._core.errors import FunnelError, NotFound
from funnelkit._core.lead import Source
from funnelkit.cli._common import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    load_funnel,
    open_store,
    parse_timezone,
)

if TYPE_CHECKING:
    import argparse

    from funnelkit._core.lead import Lead, Transition
    from funnelkit._definition.funnel import Funnel
    from funnelkit.cli._console import Console
    from funnelkit.stores import Change, Store

__all__ = ["FIELDS", "ImportResult", "import_csv", "import_rows"]

#: The fields a row may have and their default column names.
FIELDS = {"lead": "lead_id", "stage": "stage", "event": "event", "time": "time",
          "channel": "channel", "owner": "owner", "reason": "reason"}
_BATCH = 2000


@attrs.frozen
class ImportResult:
    """What an import did: counts, and every refused row as (line, lead id, why)."""

    rows: int
    leads_created: int
    leads_updated: int
    moves: int
    unchanged: int
    refused: tuple[tuple[int, str, str], ...]


def _columns(header: list[str], given: list[str], path: str) -> dict[str, int]:
    """Field -> column index, from the defaults and ``--column FIELD=NAME``."""
    names = dict(FIELDS)
    explicit: set[str] = set()
    for item in given:
        field, sep, name = item.partition("=")
        field = field.strip()
        if not sep or field not in FIELDS or not name.strip():
            raise CommandError(f"--column {item!r} must be FIELD=NAME with FIELD one of "
                               f"{', '.join(FIELDS)}", code=EXIT_USAGE)
        names[field] = name.strip()
        explicit.add(field)
    index = {name: i for i, name in enumerate(header)}
    found = {field: index[name] for field, name in names.items() if name in index}
    listed = ", ".join(header[:12]) + (", ..." if len(header) > 12 else "")
    missing = [f for f in ("lead", "time") if f not in found]
    missing += [f for f in explicit if f not in found and f not in missing]
    if missing:
        field = missing[0]
        raise CommandError(
            f"{path} has no column {names[field]!r} for the {field} (its columns: {listed}); "
            f"name it with --column {field}=COLUMN", code=EXIT_USAGE)
    if "stage" not in found and "event" not in found:
        raise CommandError(
            f"{path} has neither a {names['stage']!r} nor an {names['event']!r} column (its "
            f"columns: {listed}); name one with --column stage=COLUMN or --column event=COLUMN",
            code=EXIT_USAGE)
    return found


class _Importer:
    """Turns each lead's rows into one :class:`~funnelkit.stores.Change`."""

    def __init__(self, funnel: Funnel, store: Store | None, tz: tzinfo) -> None:
        self.funnel = funnel
        self.store = store
        self.tz = tz
        self.refused: list[tuple[int, str, str]] = []
        self.created = self.updated = self.moves = self.unchanged = 0
        self._times: dict[str, datetime] = {}
        self._stages = {s.name for s in funnel.stages}
        self._events = set(funnel.events)
        # (stage, target) -> the event of the first move between them, in definition order
        self._to: dict[tuple[str, str], str] = {}
        for stage in funnel.stages:
            for move in funnel.moves_from(stage.name):
                self._to.setdefault((stage.name, move.target), move.event)

    def time(self, text: str) -> datetime | str:
        """The row's time, or why it cannot be read."""
        found = self._times.get(text)
        if found is not None:
            return found
        try:
            value = datetime.fromisoformat(text.strip())
        except ValueError:
            return (f"time {text!r} is not ISO 8601; write it like 2026-03-01 09:30:00 or "
                    f"2026-03-01T09:30:00+01:00")
        if value.tzinfo is None:
            value = value.replace(tzinfo=self.tz)
        if len(self._times) < 100_000:
            self._times[text] = value
        return value

    def _unknown_stage(self, name: str) -> str:
        """Why *name* is refused, with the funnel's suggestion of a close stage name."""
        try:
            self.funnel.stage(name)
        except NotFound as exc:
            return str(exc)
        return f"unknown stage {name!r}"

    def lead(self, lead_id: str, rows: list[tuple[int, datetime, str, str, str, str, str]],
             loaded: Lead | None) -> Change | None:
        """The change that writes *rows* of one lead (sorted by time), or None if none applies."""
        from funnelkit.stores import Change  # noqa: PLC0415

        funnel, refuse = self.funnel, self.refused.append
        lead = loaded
        moves: list[Transition] = []
        for line, at, stage, event, channel, owner, reason in rows:
            if loaded is not None and at <= loaded.updated_at:
                self.unchanged += 1  # imported already: running an import twice changes nothing
                continue
            if stage and stage not in self._stages:
                refuse((line, lead_id, self._unknown_stage(stage)))
                continue
            if event and event not in self._events:
                refuse((line, lead_id, f"funnel {funnel.name!r} has no event {event!r}"))
                continue
            try:
                if lead is None:  # the lead's first row creates it, if the row can be made
                    current = funnel.new_lead(lead_id, at=at,
                                              source=Source.of(channel) if channel else None,
                                              owner=owner or None)
                    if stage == current.stage and not event:
                        lead = current
                        continue
                elif owner and owner != lead.owner:
                    current = lead.evolve(owner=owner, at=max(at, lead.updated_at))
                else:
                    current = lead
                found = ""
                if not event:
                    if stage == current.stage:
                        self.unchanged += 1
                        lead = current
                        continue
                    found = self._to.get((current.stage, stage), "")
                    if not found:
                        targets = sorted({m.target for m in funnel.moves_from(current.stage)})
                        why = (f"no move from {current.stage!r} to {stage!r} in funnel "
                               f"{funnel.name!r} (from {current.stage!r} a lead can go to "
                               f"{', '.join(targets) or 'nowhere'})")
                        refuse((line, lead_id, why))
                        continue
                move = event or found
                outcome = funnel.fire(current, move, at=at, reason=reason or None)
            except FunnelError as exc:
                refuse((line, lead_id, str(exc).splitlines()[0]))
                continue
            if stage and outcome.lead.stage != stage:
                why = (f"event {move!r} moves the lead from {current.stage!r} to "
                       f"{outcome.lead.stage!r}, not to {stage!r}")
                refuse((line, lead_id, why))
                continue
            lead = outcome.lead
            moves.append(outcome.transition)
        if lead is None:
            return None
        self.moves += len(moves)
        if loaded is None:
            self.created += 1
            return Change(lead, None, moves)
        if lead == loaded:
            return None
        self.updated += 1
        return Change(lead, loaded.version, moves, expected_owner=loaded.owner)


class _Counting:
    """The lines of a text file, counting the characters read (the progress of a CSV reader)."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.chars = 0

    def __iter__(self) -> _Counting:
        return self

    def __next__(self) -> str:
        line: str = next(self.handle)
        self.chars += len(line)
        return line


def _read(path: Path, delimiter: str, given: list[str]) -> tuple[dict[str, int], Any]:
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise CommandError(f"{path}: cannot read it ({exc.strerror})", code=EXIT_USAGE) from None
    counting = _Counting(handle)
    reader = csv.reader(counting, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        handle.close()
        raise CommandError(f"{path} is empty; it needs a header row naming its columns",
                           code=EXIT_USAGE) from None
    except (csv.Error, UnicodeDecodeError) as exc:
        handle.close()
        raise CommandError(f"{path} is not a UTF-8 CSV file ({exc})", code=EXIT_USAGE) from None
    try:
        columns = _columns([h.strip() for h in header], given, str(path))
    except CommandError:
        handle.close()
        raise
    return columns, (handle, reader, counting)


def import_rows(funnel: Funnel, path: Path, store: Store | None, *, columns: list[str],
                tz: tzinfo, delimiter: str = ",", console: Console | None = None,
                ) -> ImportResult:
    """Import the CSV at *path* into *store* (None: check only); see the module docstring."""
    found, (handle, reader, counting) = _read(path, delimiter, columns)
    importer = _Importer(funnel, store, tz)
    empty = ("",) * 7
    get = [found.get(f) for f in ("lead", "stage", "event", "channel", "owner", "reason")]
    time_at = found["time"]
    width = max(i for i in found.values()) + 1
    by_lead: dict[str, list[tuple[int, datetime, str, str, str, str, str]]] = {}
    rows = 0
    size = path.stat().st_size
    read = importer.refused.append
    progress_cm = console.progress("import: reading rows", size) if console else None
    progress = progress_cm.__enter__() if progress_cm else None
    try:
        with handle:
            try:
                for raw in reader:
                    rows += 1
                    line = reader.line_num
                    if progress is not None and rows % 2000 == 0:
                        progress.advance(counting.chars - progress.done)
                    row = raw
                    if len(row) < width:
                        if not any(row):
                            rows -= 1  # a blank line is not a row
                            continue
                        row = [*row, *empty[: width - len(row)]]
                    lead_id, stage, event, channel, owner, reason = (
                        "" if i is None else row[i].strip() for i in get)
                    if not lead_id:
                        read((line, "", "no lead id"))
                        continue
                    at = importer.time(row[time_at])
                    if isinstance(at, str):
                        read((line, lead_id, at))
                        continue
                    if not stage and not event:
                        read((line, lead_id, "neither a stage nor an event"))
                        continue
                    by_lead.setdefault(lead_id, []).append(
                        (line, at, stage, event, channel, owner, reason))
            except (csv.Error, UnicodeDecodeError) as exc:
                raise CommandError(f"{path}, line {reader.line_num}: not readable as CSV "
                                   f"({exc})", code=EXIT_USAGE) from None
    finally:
        if progress_cm is not None:
            progress_cm.__exit__(None, None, None)
    existing = store is not None and next(iter(store.leads()), None) is not None
    changes: list[Change] = []
    progress_cm = console.progress("import: writing leads", len(by_lead)) if console else None
    progress = progress_cm.__enter__() if progress_cm else None
    try:
        for lead_id, lead_rows in by_lead.items():
            lead_rows.sort(key=_when)
            loaded = None
            if existing and store is not None:
                try:
                    loaded = store.load(lead_id)
                except NotFound:
                    loaded = None
            change = importer.lead(lead_id, lead_rows, loaded)
            if change is not None:
                changes.append(change)
            if len(changes) >= _BATCH:
                _write(store, changes)
                if progress is not None:
                    progress.advance(len(changes))
                changes = []
        _write(store, changes)
    finally:
        if progress_cm is not None:
            progress_cm.__exit__(None, None, None)
    refused = tuple(sorted(importer.refused))
    return ImportResult(rows, importer.created, importer.updated, importer.moves,
                        importer.unchanged, refused)


def _when(row: tuple[int, datetime, str, str, str, str, str]) -> tuple[datetime, int]:
    return row[1], row[0]


def _write(store: Store | None, changes: list[Change]) -> None:
    if store is None or not changes:
        return
    commit_many = getattr(store, "commit_many", None)
    if commit_many is not None:
        commit_many(changes)
    else:
        for change in changes:
            store.commit(change)


def import_csv(args: argparse.Namespace, console: Console) -> int:
    """Import the CSV; exit 1 when a row was refused."""
    funnel = load_funnel(args.funnel)
    tz = parse_timezone(args.timezone)
    if len(args.delimiter) != 1:
        raise CommandError(f"--delimiter {args.delimiter!r} must be one character",
                           code=EXIT_USAGE)
    path = Path(args.csv)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "no such file"
        raise CommandError(f"{args.csv}: {what}; give the CSV event log to import",
                           code=EXIT_USAGE)
    _read(path, args.delimiter, args.column)[1][0].close()  # check the header before opening
    store = None if args.dry_run else open_store(db=args.db, url=args.url, create=True)
    try:
        result = import_rows(funnel, path, store, columns=args.column, tz=tz,
                             delimiter=args.delimiter, console=console)
    except FunnelError as exc:
        raise CommandError(f"writing to the store failed, the current batch was not written: "
                           f"{str(exc).splitlines()[0]}") from None
    finally:
        if store is not None:
            store.close()
    if args.format == "json":
        console.write(json.dumps({
            **{k: v for k, v in attrs.asdict(result).items() if k != "refused"},
            "dry_run": args.dry_run,
            "refused": [{"line": line, "lead": lead, "reason": why}
                        for line, lead, why in result.refused],
        }, indent=2))
    else:
        verb = "checked (dry run, nothing written)" if args.dry_run else "imported"
        console.write(
            f"{verb} {result.rows:,} rows of {path.name}: {result.leads_created:,} leads created, "
            f"{result.leads_updated:,} updated, {result.moves:,} moves, {result.unchanged:,} "
            f"rows already in the store, {len(result.refused):,} refused")
        for line, lead, why in result.refused:
            who = f"lead {lead!r}: " if lead else ""
            console.write(f"{path.name}:{line}: {who}{why}")
    if result.refused:
        return EXIT_FINDINGS
    return EXIT_OK
