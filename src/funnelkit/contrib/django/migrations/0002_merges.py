"""Schema version 4: the ``funnelkit_merges`` table (one row per merge of two leads).

Made by ``makemigrations`` (Django 5.2), then edited: the schema row moved to version 4.
"""

# RUF012: the operations are written as makemigrations writes them.
# ruff: noqa: RUF012

from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

import funnelkit.contrib.django._fields

SCHEMA_VERSION = 4  # funnelkit.stores._schema.SCHEMA_VERSION when this migration was written


def stamp(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Move the tables' schema row to version 4."""
    schema = apps.get_model("funnelkit", "SchemaVersion")
    schema.objects.using(schema_editor.connection.alias).filter(name="funnelkit").update(
        version=SCHEMA_VERSION
    )


def unstamp(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Back to version 3 (the merges table is dropped by the reverse of CreateModel)."""
    schema = apps.get_model("funnelkit", "SchemaVersion")
    schema.objects.using(schema_editor.connection.alias).filter(name="funnelkit").update(
        version=SCHEMA_VERSION - 1
    )


class Migration(migrations.Migration):
    """The merges table, its indexes, and the schema row at version 4."""

    dependencies = [("funnelkit", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="Merge",
            fields=[
                ("position", models.BigAutoField(primary_key=True, serialize=False)),
                (
                    "merge_id",
                    funnelkit.contrib.django._fields.NameField(db_column="id", max_length=255),
                ),
                ("survivor_id", funnelkit.contrib.django._fields.NameField(max_length=255)),
                ("duplicate_id", funnelkit.contrib.django._fields.NameField(max_length=255)),
                ("at", models.CharField(max_length=40)),
                ("at_us", models.BigIntegerField()),
                ("actor", funnelkit.contrib.django._fields.NameField(max_length=255)),
                ("reason", models.TextField()),
                ("survivor_version", models.IntegerField()),
                ("duplicate_version", models.IntegerField()),
                ("data", models.TextField()),
                ("unmerged_at", models.CharField(max_length=40, null=True)),
                ("unmerged_us", models.BigIntegerField(null=True)),
                (
                    "unmerged_by",
                    funnelkit.contrib.django._fields.NameField(max_length=255, null=True),
                ),
                ("unmerge_reason", models.TextField(null=True)),
            ],
            options={
                "db_table": "funnelkit_merges",
                "ordering": ("position",),
                "indexes": [
                    models.Index(
                        fields=["duplicate_id", "unmerged_us"], name="funnelkit_merges_duplicate"
                    ),
                    models.Index(
                        fields=["survivor_id", "unmerged_us"], name="funnelkit_merges_survivor"
                    ),
                ],
                "constraints": [
                    models.UniqueConstraint(fields=("merge_id",), name="funnelkit_merges_id")
                ],
            },
        ),
        migrations.RunPython(stamp, unstamp),
    ]
