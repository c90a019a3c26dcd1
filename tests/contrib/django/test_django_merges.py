"""DjangoStore and merges: migration 0002 (schema version 4), and merging through get_pipeline."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from _django_project import empty
from django.core.management import call_command
from django.db import connections

from funnelkit import StorageError, templates
from funnelkit.contrib.django import DjangoStore
from funnelkit.dedupe import MERGED_STAGE
from funnelkit.pipeline import Pipeline

if TYPE_CHECKING:
    from collections.abc import Iterator

AT = datetime(2026, 3, 2, 9, tzinfo=UTC)


@pytest.fixture
def sqlite(django_project: None) -> Iterator[str]:
    empty("default")
    yield "default"
    call_command("migrate", "funnelkit", verbosity=0, database="default")
    empty("default")


def test_migration_0002_adds_the_merges_table_and_version_4(sqlite: str) -> None:
    """Back to 0001 the store says which migrate to run; forward again, merging works."""
    call_command("migrate", "funnelkit", "0001", verbosity=0, database=sqlite)
    with connections[sqlite].cursor() as cursor:
        tables = set(connections[sqlite].introspection.table_names(cursor))
    assert "funnelkit_merges" not in tables
    with pytest.raises(StorageError, match="version 3, older than the 4 .* migrate funnelkit"):
        DjangoStore(sqlite)
    call_command("migrate", "funnelkit", verbosity=0, database=sqlite)
    store = DjangoStore(sqlite)
    assert store.schema_version == 4
    pipeline = Pipeline(templates.inbound(), store=store)
    pipeline.capture("S", at=AT)
    pipeline.capture("D", at=AT)
    pipeline.fire("D", "convert", at=AT)
    record = pipeline.merge("S", "D", actor="ana", reason="dup", at=AT)
    assert store.merges() == [record]
    assert store.load("D").stage == MERGED_STAGE
    from funnelkit.contrib.django import models  # noqa: PLC0415 - the app registry is ready

    row = models.Merge.objects.using(sqlite).get()  # type: ignore[attr-defined]
    assert (row.merge_id, row.survivor_id, row.duplicate_id, row.unmerged_at) == (
        "D:2", "S", "D", None)
    assert str(row) == "D -> S"
    pipeline.unmerge("D", actor="ana", reason="two people", at=AT)
    assert str(models.Merge.objects.using(sqlite).get()) == "D -> S (undone)"  # type: ignore[attr-defined]
    assert pipeline.verify_history().ok


def test_admin_lists_merges_read_only(sqlite: str) -> None:
    """Staff see the merges in the admin; nobody adds or changes one there."""
    from django.contrib.auth.models import User  # noqa: PLC0415 - needs Django set up
    from django.test import Client  # noqa: PLC0415

    pipeline = Pipeline(templates.inbound(), store=DjangoStore(sqlite))
    pipeline.capture("S", at=AT)
    pipeline.capture("D", at=AT)
    pipeline.merge("S", "D", actor="ana", reason="dup", at=AT)
    User.objects.filter(username="admin").delete()
    client = Client()
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "x"))
    page = client.get("/admin/funnelkit/merge/")
    assert page.status_code == 200
    assert "D:1" in page.content.decode()
    assert client.get("/admin/funnelkit/merge/add/").status_code == 403
