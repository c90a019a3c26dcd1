"""The tests' Django project (see conftest.py): configured once per run, on first use."""


from __future__ import annotations

import os
import secrets
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import pytest

from _servers import SERVERS, _unavailable

if TYPE_CHECKING:
    from collections.abc import Iterator

APPS = ["django.contrib.contenttypes", "django.contrib.auth", "django.contrib.sessions",
        "django.contrib.messages", "django.contrib.admin", "funnelkit.contrib.django"]
TABLES = ("funnelkit_outbox", "funnelkit_handoffs", "funnelkit_touchpoints",
          "funnelkit_transitions", "funnelkit_leads", "funnelkit_merges")
_state: dict[str, Any] = {}


def _postgres_database(schema: str) -> dict[str, Any] | None:
    url = os.environ.get(SERVERS["postgres"][0])
    if not url:
        return None
    parts = urlsplit(url)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.path.lstrip("/") or "postgres",
        "USER": unquote(parts.username or ""), "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "", "PORT": str(parts.port or ""),
        "OPTIONS": {"options": f"-c search_path={schema}", "connect_timeout": 5},
        "TEST": {"NAME": None},
    }


def configure(tmp_dir: str) -> None:
    """Configure Django for the tests unless it is configured already."""
    import django  # noqa: PLC0415
    from django.conf import settings  # noqa: PLC0415

    if settings.configured:
        return
    schema = f"fk_django_{secrets.token_hex(4)}"
    databases: dict[str, Any] = {"default": {
        "ENGINE": "django.db.backends.sqlite3", "NAME": str(Path(tmp_dir) / "django.db"),
        # What the integration docs advise for SQLite: writers queue instead of failing.
        "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE",
                    "init_command": "PRAGMA journal_mode=WAL;"},
    }}
    postgres = _postgres_database(schema)
    if postgres is not None:
        databases["postgres"] = postgres
        _state["schema"] = schema
    settings.configure(
        DEBUG=False, SECRET_KEY="funnelkit-tests", USE_TZ=True, DATABASES=databases,
        ALLOWED_HOSTS=["testserver"],
        INSTALLED_APPS=APPS, ROOT_URLCONF="fk_django_urls",
        MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware",
                    "django.contrib.auth.middleware.AuthenticationMiddleware",
                    "django.contrib.messages.middleware.MessageMiddleware"],
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates",
                    "APP_DIRS": True, "OPTIONS": {"context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages"]}}],
        FUNNELKIT={"FUNNEL": "funnelkit.templates.inbound"},
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    )
    django.setup()


@pytest.fixture(scope="session")
def django_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Django configured, the ``default`` SQLite database migrated."""
    configure(str(tmp_path_factory.mktemp("django")))
    from django.conf import settings  # noqa: PLC0415
    from django.core.management import call_command  # noqa: PLC0415

    if "funnelkit.contrib.django" not in settings.INSTALLED_APPS:
        pytest.skip("Django was configured earlier in this process without the funnelkit app")
    call_command("migrate", verbosity=0, database="default")
    yield
    _close_connections()


@pytest.fixture(scope="session")
def postgres_alias(django_project: None) -> Iterator[str]:
    """The ``postgres`` alias, its private schema created and migrated (dropped afterwards)."""
    from django.conf import settings  # noqa: PLC0415
    from django.core.management import call_command  # noqa: PLC0415
    from django.db import connections  # noqa: PLC0415

    if "postgres" not in settings.DATABASES:
        _unavailable("postgres", f"{SERVERS['postgres'][0]} is not set")
    schema = _state.get("schema")
    if schema is None:
        pytest.skip("Django was configured earlier in this process with another 'postgres'")
    try:
        with connections["postgres"].cursor() as cursor:
            cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    except Exception as e:
        _unavailable("postgres", f"cannot connect ({type(e).__name__}: {e})")
    call_command("migrate", verbosity=0, database="postgres")
    yield "postgres"
    connections["postgres"].close()
    import psycopg  # noqa: PLC0415

    database = settings.DATABASES["postgres"]
    with psycopg.connect(host=database["HOST"], port=database["PORT"] or None,
                         user=database["USER"], password=database["PASSWORD"] or None,
                         dbname=database["NAME"], autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _close_connections() -> None:
    from django.db import connections  # noqa: PLC0415

    connections.close_all()


def empty(alias: str) -> None:
    """Delete every row of funnelkit's tables in *alias* (the schema row stays)."""
    from django.db import connections  # noqa: PLC0415

    with connections[alias].cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"DELETE FROM {table}")


@pytest.fixture(autouse=True)
def _threads_close_their_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """Threads started by a test close their Django connections when they end.

    Django opens one connection per thread and leaves closing it to the thread's owner (its
    request handler does so per request); the contract suite's threads are ours to close.
    """
    run = threading.Thread.run

    def run_and_close(self: threading.Thread) -> None:
        try:
            run(self)
        finally:
            if threading.current_thread() is not threading.main_thread():
                _close_connections()

    monkeypatch.setattr(threading.Thread, "run", run_and_close)
