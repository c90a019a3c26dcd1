"""The Django integration beyond the contract: the host's transaction, settings, signals, admin."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fk_django_hooks
import pytest
from _django_project import empty
from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, connections, transaction
from django.test import Client, override_settings

from funnelkit import ConcurrencyError, FunnelError, InvalidInput, StorageError, templates
from funnelkit.contrib.django import DjangoStore, get_pipeline, settings_funnel, signals
from funnelkit.pipeline import Pipeline
from funnelkit.stores import Change, SQLAlchemyStore
from funnelkit.testing import FrozenClock

if TYPE_CHECKING:
    from collections.abc import Iterator

AT = datetime(2026, 3, 2, 9, tzinfo=UTC)


@pytest.fixture
def sqlite(django_project: None) -> Iterator[str]:
    empty("default")
    yield "default"
    empty("default")


@pytest.fixture
def postgres(postgres_alias: str) -> Iterator[str]:
    """The PostgreSQL alias with a host table of its own, ``companies``."""
    empty(postgres_alias)
    with connections[postgres_alias].cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS companies (name TEXT PRIMARY KEY)")
        cursor.execute("DELETE FROM companies")
    yield postgres_alias
    empty(postgres_alias)


def _companies(alias: str) -> list[str]:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT name FROM companies ORDER BY name")
        return [name for (name,) in cursor.fetchall()]


def _pipeline(alias: str) -> Pipeline:
    return Pipeline(templates.inbound(), store=DjangoStore(alias), clock=FrozenClock(AT))


# -- the alias and the tables ------------------------------------------------------------------


def test_a_bad_alias_is_a_typed_error_saying_what_to_do(sqlite: str) -> None:
    """An alias missing from settings.DATABASES raises InvalidInput naming the known ones."""
    with pytest.raises(InvalidInput, match=r"'replica' is not a database alias .*'default'"):
        DjangoStore("replica")
    with pytest.raises(InvalidInput, match="must be a database alias"):
        DjangoStore(None)  # type: ignore[arg-type]
    assert issubclass(InvalidInput, FunnelError)


def test_missing_tables_say_which_migrate_to_run(sqlite: str) -> None:
    """A database without funnelkit's schema row is refused with the migrate command to run."""
    with transaction.atomic(using=sqlite):
        with connections[sqlite].cursor() as cursor:
            cursor.execute("ALTER TABLE funnelkit_schema RENAME TO funnelkit_schema_gone")
        with pytest.raises(StorageError, match="migrate funnelkit --database default"):
            DjangoStore(sqlite)
        transaction.set_rollback(True, using=sqlite)
    assert DjangoStore(sqlite).schema_version == 4


def test_sqlalchemy_store_opens_the_tables_django_made(sqlite: str) -> None:
    """Same layout as the SQL stores: SQLAlchemyStore(create=False) reads what DjangoStore wrote."""
    _pipeline(sqlite).capture("L1", attributes={"employees": 300})
    other = SQLAlchemyStore(f"sqlite:///{settings.DATABASES[sqlite]['NAME']}", create=False)
    try:
        assert other.load("L1") == DjangoStore(sqlite).load("L1")
    finally:
        other.close()


def test_migrations_match_the_models(django_project: None) -> None:
    """The shipped migrations describe the models exactly (makemigrations finds nothing)."""
    call_command("makemigrations", "funnelkit", "--check", "--dry-run", verbosity=0)


# -- the host's transaction (PostgreSQL) -------------------------------------------------------


@pytest.mark.postgres
def test_host_rows_and_the_lead_roll_back_together(postgres: str) -> None:
    """An exception in the host's atomic block undoes its own insert and the lead's capture."""
    pipeline = _pipeline(postgres)
    with pytest.raises(RuntimeError), transaction.atomic(using=postgres):  # noqa: PT012
        with connections[postgres].cursor() as cursor:
            cursor.execute("INSERT INTO companies (name) VALUES ('Acme')")
        pipeline.capture("acme")
        pipeline.fire("acme", "convert")
        raise RuntimeError("the host fails after both writes")
    assert _companies(postgres) == []
    assert list(pipeline.store.leads()) == []
    assert pipeline.store.outbox(undelivered_only=False) == []


@pytest.mark.postgres
def test_host_rows_and_the_lead_commit_together(postgres: str) -> None:
    """Both writes are invisible to another connection until the host's block commits."""
    pipeline = _pipeline(postgres)
    with transaction.atomic(using=postgres):
        with connections[postgres].cursor() as cursor:
            cursor.execute("INSERT INTO companies (name) VALUES ('Acme')")
        pipeline.capture("acme")
        pipeline.fire("acme", "convert")
        assert _other_connection_sees(postgres) == (0, 0)
    assert _other_connection_sees(postgres) == (1, 1)
    assert pipeline.get("acme").stage == "lead"


def _other_connection_sees(alias: str) -> tuple[int, int]:
    """(companies, leads) as a second connection (another thread) sees them."""
    seen: list[tuple[int, int]] = []

    def look() -> None:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT count(*) FROM companies")
            (companies,) = cursor.fetchone()
            cursor.execute("SELECT count(*) FROM funnelkit_leads")
            (leads,) = cursor.fetchone()
        seen.append((companies, leads))

    thread = threading.Thread(target=look)
    thread.start()
    thread.join()
    return seen[0]


@pytest.mark.postgres
def test_a_conflict_inside_the_host_block_leaves_it_usable(postgres: str) -> None:
    """A stale commit raises ConcurrencyError; only its savepoint rolls back, the host goes on."""
    store = DjangoStore(postgres)
    pipeline = _pipeline(postgres)
    pipeline.capture("acme")
    stale = store.load("acme")
    pipeline.fire("acme", "convert")
    with transaction.atomic(using=postgres):
        with connections[postgres].cursor() as cursor:
            cursor.execute("INSERT INTO companies (name) VALUES ('Acme')")
        moved = templates.inbound().fire(stale, "convert", at=AT + timedelta(minutes=1))
        with pytest.raises(ConcurrencyError, match="load it again and retry"):
            store.commit(Change(moved.lead, 0, [moved.transition]))
        pipeline.fire("acme", "nurture")  # the host goes on in the same block
    assert _companies(postgres) == ["Acme"]
    assert [t.event for t in store.history("acme")] == ["convert", "nurture"]


@pytest.mark.postgres
def test_a_failed_host_block_is_refused_with_what_to_do(postgres: str) -> None:
    """After a database error the host caught inside its block, a write says to leave the block."""
    pipeline = _pipeline(postgres)
    with transaction.atomic(using=postgres):
        try:
            with connections[postgres].cursor() as cursor:
                cursor.execute("SELECT * FROM no_such_table")
        except DatabaseError:
            pass
        with pytest.raises(StorageError, match="leave the atomic block"):
            pipeline.capture("acme")
    assert list(pipeline.store.leads()) == []


@pytest.mark.postgres
def test_after_hooks_run_once_the_host_has_committed(postgres: str) -> None:
    """Signals (after-hooks) wait for the host's commit, and never run for a rolled-back block."""
    received: list[tuple[str, bool]] = []

    def receiver(sender: Any, *, lead: Any, transition: Any, key: str, **_: Any) -> None:
        received.append((transition.event, connections[postgres].in_atomic_block))

    signals.after_transition.connect(receiver)
    try:
        with override_settings(FUNNELKIT={"FUNNEL": "funnelkit.templates.inbound",
                                          "DATABASE": postgres}):
            pipeline = get_pipeline()
            pipeline.capture("acme")
            with pytest.raises(RuntimeError), transaction.atomic(using=postgres):  # noqa: PT012
                pipeline.fire("acme", "convert")
                raise RuntimeError
            assert received == []
            assert pipeline.store.outbox(undelivered_only=False) == []
            with transaction.atomic(using=postgres):
                pipeline.fire("acme", "convert")
                assert pipeline.deliver_pending().delivered == 0  # not before the commit
                assert received == []
            assert received == [("convert", False)]
            assert pipeline.store.outbox() == []  # acknowledged
    finally:
        signals.after_transition.disconnect(receiver)


@pytest.mark.postgres
@pytest.mark.slow
def test_a_crash_before_the_host_commits_leaves_neither(postgres: str) -> None:
    """kill -9 between the host's insert plus the capture and its commit: nothing is stored."""
    database = settings.DATABASES[postgres]
    script = textwrap.dedent(f"""
        import sys, time, django
        from django.conf import settings
        settings.configure(DATABASES={{"default": {database!r}}},
                           INSTALLED_APPS=["funnelkit.contrib.django"], USE_TZ=True)
        django.setup()
        from django.db import connection, transaction
        from funnelkit import templates
        from funnelkit.contrib.django import DjangoStore
        from funnelkit.pipeline import Pipeline
        pipeline = Pipeline(templates.inbound(), store=DjangoStore())
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("INSERT INTO companies (name) VALUES ('Acme')")
            pipeline.capture("acme")
            print("written", flush=True)
            time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[3] / "src")})
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "written"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
        if child.stdout is not None:
            child.stdout.close()
    assert _companies(postgres) == []
    assert list(DjangoStore(postgres).leads()) == []


# -- settings ----------------------------------------------------------------------------------


def test_funnel_from_a_file_and_hooks_from_dotted_paths(sqlite: str, tmp_path: Path) -> None:
    """FUNNEL takes a file path; HOOKS dotted paths are registered and called after commits."""
    path = tmp_path / "funnel.json"
    path.write_text(templates.inbound().to_json(), encoding="utf-8")
    hooks = "fk_django_hooks.Audit"
    with override_settings(FUNNELKIT={"FUNNEL": path, "HOOKS": [hooks], "SIGNALS": False}):
        pipeline = get_pipeline()
        assert pipeline is get_pipeline()  # built once
        assert pipeline.funnel.name == settings_funnel().name
        pipeline.capture("L1")
        pipeline.fire("L1", "convert")
        assert fk_django_hooks.SEEN == [("L1", "convert")]
    assert get_pipeline() is not pipeline  # rebuilt from the test settings


@pytest.mark.parametrize(("config", "match"), [
    ({}, "FUNNELKIT\\['FUNNEL'\\]=None must be"),
    ({"FUNNEL": "nowhere/funnel.toml"}, "is not a file"),
    ({"FUNNEL": "funnelkit.templates.nothing"}, "has no 'nothing'"),
    ({"FUNNEL": "funnelkit.templates"}, "cannot import|not a funnelkit.Funnel"),
    ({"FUNNEL": "funnelkit.templates.inbound", "HOOK": []}, "unknown keys \\['HOOK'\\]"),
    ({"FUNNEL": "funnelkit.templates.inbound", "HOOKS": "a.b"}, "must be a list"),
    ({"FUNNEL": "funnelkit.templates.inbound", "DATABASE": "replica"}, "'replica' is not a"),
])
def test_bad_settings_are_typed_errors(sqlite: str, config: dict[str, Any], match: str) -> None:
    """Each mistake in settings.FUNNELKIT is an InvalidInput naming the key and what to do."""
    with override_settings(FUNNELKIT=config), pytest.raises(InvalidInput, match=match):
        get_pipeline()


# -- the admin ---------------------------------------------------------------------------------


def test_admin_shows_leads_history_and_pending_handoffs(sqlite: str) -> None:
    """Staff see a lead with its history and its pending handoff; nothing can be edited there."""
    from django.contrib.auth.models import User  # noqa: PLC0415 - needs Django set up

    pipeline = _pipeline(sqlite)
    pipeline.capture("acme")
    for event in ("convert", "qualify", "hand_to_sales"):
        pipeline.fire("acme", event)
    User.objects.filter(username="admin").delete()
    user = User.objects.create_superuser("admin", "admin@example.com", "x")
    client = Client()
    client.force_login(user)
    page = client.get("/admin/funnelkit/lead/?pending_handoff=yes")
    assert page.status_code == 200
    assert "acme" in page.content.decode()
    detail = client.get("/admin/funnelkit/lead/acme/change/").content.decode()
    for text in ("hand_to_sales", "qualify", "pending", "marketing", "sales"):
        assert text in detail
    assert client.get("/admin/funnelkit/handoff/?status__exact=pending").status_code == 200
    assert client.get("/admin/funnelkit/lead/add/").status_code == 403
    assert client.post("/admin/funnelkit/lead/acme/delete/").status_code == 403
    user.delete()
