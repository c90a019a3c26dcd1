"""A Django project for the integration's tests, configured once per run, on first use.

``default`` is a SQLite file; ``postgres`` (when ``FUNNELKIT_TEST_POSTGRES_URL`` is set) is the
PostgreSQL server of ``tests/_servers.py`` with a schema of its own for this run, dropped at the
end.  Without Django the tests skip, saying what to install; an unreachable PostgreSQL skips its
tests, or fails them with ``FUNNELKIT_REQUIRE_SERVERS=1``, as the store tests do.

Settings are configured in a fixture, not at import, so that collecting the suite configures
nothing (pytest-django, when installed, stays inert for the rest of the suite).  When something
configured Django earlier in the process (a docs example), its settings are used when they have
what these tests need, and the tests skip, saying why, when they do not.
"""

import pytest

pytest.importorskip(
    "django", reason="Django is not installed: pip install 'funnelkit[django]' (or '.[test]') "
    "to run the Django integration's tests")

from _django_project import (  # noqa: E402 - after the skip above
    _threads_close_their_connections,
    django_project,
    postgres_alias,
)

__all__ = ["_threads_close_their_connections", "django_project", "postgres_alias"]
