"""What every command shares: its errors, and reading funnels, times and stores from arguments."""

from __future__ import annotations

import os
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from funnelkit import templates
from funnelkit._core.errors import FunnelError, InvalidFunnel, InvalidInput

if TYPE_CHECKING:
    from funnelkit._definition.funnel import Funnel
    from funnelkit.stores import Store

__all__ = [
    "EXIT_FINDINGS",
    "EXIT_OK",
    "EXIT_USAGE",
    "CommandError",
    "load_funnel",
    "open_store",
    "parse_time",
    "parse_timezone",
    "writable",
]

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2

TEMPLATES = {
    "inbound": templates.inbound,
    "demand_waterfall": templates.demand_waterfall,
    "predictable_revenue": templates.predictable_revenue,
    "temperature": templates.temperature,
}


class CommandError(Exception):
    """A command cannot go on: one line saying what and what to do, and the exit code.

    ``code`` is 2 for a usage error (an argument, or a file it names, is wrong) and 1 when the
    command ran into a problem with the data or the environment.
    """

    def __init__(self, message: str, *, code: int = EXIT_FINDINGS) -> None:
        super().__init__(message)
        self.code = code


def load_funnel(spec: str) -> Funnel:
    """The funnel in the ``.toml`` / ``.json`` file *spec*, or the template of that name.

    >>> load_funnel("inbound").name
    'inbound'
    >>> load_funnel("nope.toml")
    Traceback (most recent call last):
    ...
    funnelkit.cli._common.CommandError: nope.toml: no such file; give a funnel definition ...
    """
    from funnelkit._definition.funnel import Funnel  # noqa: PLC0415 - the definition layer, loaded on use

    path = Path(spec)
    if not path.exists() and spec in TEMPLATES:
        return TEMPLATES[spec]()
    if not path.exists():
        raise CommandError(
            f"{spec}: no such file; give a funnel definition (.toml or .json) or a template "
            f"name ({', '.join(TEMPLATES)})", code=EXIT_USAGE)
    if path.is_dir():
        raise CommandError(f"{spec} is a folder; give a funnel definition file (.toml or .json)",
                           code=EXIT_USAGE)
    try:
        return Funnel.from_file(path)
    except InvalidFunnel as exc:
        count = len(exc.problems)
        where, what = exc.problems[0] if exc.problems else ("", "invalid")
        first = f"{where}: {what}" if where else what
        more = f" and {count - 1} more" if count > 1 else ""
        raise CommandError(
            f"{spec} is not a valid funnel definition ({first}{more}); run "
            f"`funnelkit validate {spec}` to see every problem") from None
    except InvalidInput as exc:
        raise CommandError(str(exc), code=EXIT_USAGE) from None


def parse_timezone(name: str) -> tzinfo:
    """A time zone by IANA name (``Europe/Paris``) or ``UTC``.

    >>> parse_timezone("UTC")
    datetime.timezone.utc
    """
    if name.upper() in ("UTC", "Z"):
        return UTC
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # noqa: PLC0415

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CommandError(
            f"--timezone {name!r} is not a time zone name; use an IANA name such as "
            f"Europe/Paris or America/Sao_Paulo, or UTC", code=EXIT_USAGE) from None


def parse_time(text: str, *, name: str, tz: tzinfo = UTC) -> datetime:
    """An ISO 8601 time; one without an offset is read in *tz*; a date alone is its midnight.

    >>> parse_time("2026-03-01", name="--as-of").isoformat()
    '2026-03-01T00:00:00+00:00'
    >>> parse_time("2026-03-01T09:30:00+01:00", name="--as-of").isoformat()
    '2026-03-01T09:30:00+01:00'
    """
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CommandError(
            f"{name} {text!r} is not an ISO 8601 time; write it like 2026-03-01 or "
            f"2026-03-01T09:30:00+01:00", code=EXIT_USAGE) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)


def writable(path: str, *, what: str) -> Path:
    """*path* as a file the command may write: its folder exists and it is not a folder."""
    target = Path(path)
    if target.is_dir():
        raise CommandError(f"{what} {path} is a folder; give a file name", code=EXIT_USAGE)
    folder = target.parent if str(target.parent) else Path()
    if not folder.is_dir():
        raise CommandError(f"{what} {path}: the folder {folder} does not exist; create it first",
                           code=EXIT_USAGE)
    if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise CommandError(f"{what} {path} cannot be written (permission denied); choose "
                           f"another path", code=EXIT_FINDINGS)
    return target


def _hide_password(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url  # noqa: PLC0415 - the sqlalchemy extra

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - any unparsable URL is shown without its credentials
        return url.rsplit("@", 1)[-1]


def open_store(*, db: str | None, url: str | None, create: bool) -> Store:
    """The store named by ``--db PATH`` (a SQLite file) or ``--url URL`` (SQLAlchemy).

    With *create* false the store must exist already: a report never makes an empty one.
    """
    if (db is None) == (url is None):
        raise CommandError("give either --db PATH (a SQLite file) or --url URL (a database "
                           "URL such as postgresql+psycopg://user@host/db)", code=EXIT_USAGE)
    if db is not None:
        from funnelkit.stores import SQLiteStore  # noqa: PLC0415

        path = Path(db)
        if not create and not path.exists():
            raise CommandError(f"--db {db}: no such file; give the SQLite file a funnelkit "
                               f"store writes (see `funnelkit import` and `funnelkit simulate`)",
                               code=EXIT_USAGE)
        if create and path.exists() and path.is_dir():
            raise CommandError(f"--db {db} is a folder; give a SQLite file", code=EXIT_USAGE)
        try:
            return SQLiteStore(path)
        except FunnelError as exc:
            raise CommandError(f"--db {db}: {str(exc).splitlines()[0]}") from None
    assert url is not None
    try:
        from funnelkit.stores import SQLAlchemyStore  # noqa: PLC0415 - the sqlalchemy extra

        return SQLAlchemyStore(url, create=create)
    except ImportError as exc:
        raise CommandError(f"--url needs SQLAlchemy and the database's driver ({exc}); "
                           f"pip install 'funnelkit[sqlalchemy]' and the driver") from None
    except Exception as exc:  # noqa: BLE001 - driver and URL errors are reported, not raised
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CommandError(f"cannot open the store at {_hide_password(url)} ({first}); check "
                           f"the URL and that the database server is running") from None
