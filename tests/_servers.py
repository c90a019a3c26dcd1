"""Real database servers for the tests: URLs from the environment, one schema per run.

The fixtures here are imported by the ``conftest.py`` of each test folder that needs a server
(``tests/stores``, ``tests/boundary``).

``FUNNELKIT_TEST_POSTGRES_URL`` (for example ``postgresql+psycopg://postgres@127.0.0.1:5432/test``)
and ``FUNNELKIT_TEST_MARIADB_URL`` (for example ``mariadb+pymysql://root@127.0.0.1:3306/test``) name
the servers.  When one is unset or unreachable its tests skip, saying how to run them; with
``FUNNELKIT_REQUIRE_SERVERS=1`` (as ``.ci/run`` sets) they fail instead.  Each run works in its own
PostgreSQL schema / MariaDB database, dropped at the end, so runs never see each other's rows.
"""

from __future__ import annotations

import itertools
import os
import secrets
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

SERVERS = {
    "postgres": ("FUNNELKIT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
    "mariadb": ("FUNNELKIT_TEST_MARIADB_URL", "mariadb+pymysql://root@127.0.0.1:3306/test"),
}
_prefixes = itertools.count(1)


def _unavailable(kind: str, why: str) -> None:
    env, example = SERVERS[kind]
    message = (f"{kind} store tests did not run: {why}. To run them, start the server and set "
               f"{env}={example}")
    if os.environ.get("FUNNELKIT_REQUIRE_SERVERS") == "1":
        pytest.fail(f"FUNNELKIT_REQUIRE_SERVERS=1 but {message}", pytrace=False)
    pytest.skip(message)


def _engine(kind: str) -> Any:
    env, _ = SERVERS[kind]
    url = os.environ.get(env)
    if not url:
        _unavailable(kind, f"{env} is not set")
    sa = pytest.importorskip("sqlalchemy")
    engine = sa.create_engine(url, pool_size=12, max_overflow=8)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as e:
        engine.dispose()
        _unavailable(kind, f"cannot connect to {url} ({type(e).__name__}: {e})")
    return engine


class Server:
    """A database server with a private schema (PostgreSQL) or database (MariaDB) for this run."""

    def __init__(self, kind: str, engine: Any, url: str, schema: str | None) -> None:
        self.kind = kind
        self.engine = engine
        self.url = url  # points at the private database where there is one
        self.schema = schema

    def prefix(self) -> str:
        """A table prefix no other test of this run uses."""
        return f"t{next(_prefixes)}_"


@pytest.fixture(scope="session")
def postgres() -> Iterator[Server]:
    """PostgreSQL, with a schema of its own for this run (dropped afterwards)."""
    engine = _engine("postgres")
    schema = f"fk_test_{secrets.token_hex(4)}"
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield Server("postgres", engine, engine.url.render_as_string(hide_password=False), schema)
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        engine.dispose()


@pytest.fixture(scope="session")
def mariadb() -> Iterator[Server]:
    """MariaDB, with a database of its own for this run (dropped afterwards)."""
    engine = _engine("mariadb")
    database = f"fk_test_{secrets.token_hex(4)}"
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {database} CHARACTER SET utf8mb4")
    sa = pytest.importorskip("sqlalchemy")
    url = engine.url.set(database=database)
    private = sa.create_engine(url, pool_size=12, max_overflow=8)
    try:
        yield Server("mariadb", private, url.render_as_string(hide_password=False), None)
    finally:
        private.dispose()
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP DATABASE {database}")
        engine.dispose()


@pytest.fixture(params=["postgres", "mariadb"])
def server(request: pytest.FixtureRequest) -> Server:
    """Each real server in turn."""
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]
