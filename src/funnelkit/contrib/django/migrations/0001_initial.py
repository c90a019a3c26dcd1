"""funnelkit's tables at schema version 3 (the SQL stores' layout), stamped in ``funnelkit_schema``.

Made by ``makemigrations`` (Django 5.2), then edited: ``lead_id`` moved to the second column as
in the SQL stores' tables, and the schema row added.
"""

# RUF012: the operations are written as makemigrations writes them.
# ruff: noqa: RUF012


import django.db.models.deletion
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

import funnelkit.contrib.django._fields

SCHEMA_VERSION = 3  # funnelkit.stores._schema.SCHEMA_VERSION when this migration was written


def stamp(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Mark the tables as funnelkit's, at the schema version they have."""
    schema = apps.get_model("funnelkit", "SchemaVersion")
    schema.objects.using(schema_editor.connection.alias).create(
        name="funnelkit", version=SCHEMA_VERSION
    )


class Migration(migrations.Migration):
    """The tables, their indexes and the schema row."""

    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="SchemaVersion",
            fields=[
                (
                    "name",
                    funnelkit.contrib.django._fields.NameField(
                        max_length=255, primary_key=True, serialize=False
                    ),
                ),
                ("version", models.IntegerField()),
            ],
            options={
                "verbose_name": "schema version",
                "db_table": "funnelkit_schema",
            },
        ),
        migrations.CreateModel(
            name="Lead",
            fields=[
                (
                    "id",
                    funnelkit.contrib.django._fields.NameField(
                        max_length=255, primary_key=True, serialize=False
                    ),
                ),
                ("stage", funnelkit.contrib.django._fields.NameField(max_length=255)),
                ("version", models.IntegerField()),
                ("attributes", models.TextField()),
                (
                    "source_channel",
                    funnelkit.contrib.django._fields.NameField(max_length=255, null=True),
                ),
                (
                    "source_kind",
                    funnelkit.contrib.django._fields.NameField(max_length=255, null=True),
                ),
                ("owner", funnelkit.contrib.django._fields.NameField(max_length=255, null=True)),
                ("created_at", models.CharField(max_length=40)),
                ("stage_entered_at", models.CharField(max_length=40)),
                ("updated_at", models.CharField(max_length=40)),
                ("created_us", models.BigIntegerField(null=True)),
            ],
            options={
                "db_table": "funnelkit_leads",
                "ordering": ("id",),
                "indexes": [models.Index(fields=["stage", "id"], name="funnelkit_leads_stage")],
            },
        ),
        migrations.CreateModel(
            name="OutboxMessage",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("msg_key", funnelkit.contrib.django._fields.NameField(max_length=255)),
                ("hook", funnelkit.contrib.django._fields.NameField(max_length=255)),
                ("payload", models.TextField()),
                ("created_at", models.CharField(max_length=40)),
                ("attempts", models.IntegerField()),
                ("next_attempt_us", models.BigIntegerField()),
                (
                    "claimed_by",
                    funnelkit.contrib.django._fields.NameField(max_length=255, null=True),
                ),
                ("claimed_until_us", models.BigIntegerField(null=True)),
                ("delivered_us", models.BigIntegerField(null=True)),
                ("last_error", models.TextField(null=True)),
            ],
            options={
                "db_table": "funnelkit_outbox",
                "ordering": ("id",),
                "indexes": [
                    models.Index(
                        fields=["delivered_us", "next_attempt_us"], name="funnelkit_outbox_due"
                    )
                ],
                "constraints": [
                    models.UniqueConstraint(fields=("msg_key",), name="funnelkit_outbox_key")
                ],
            },
        ),
        migrations.CreateModel(
            name="Handoff",
            fields=[
                (
                    "id",
                    funnelkit.contrib.django._fields.NameField(
                        max_length=255, primary_key=True, serialize=False
                    ),
                ),
                (
                    "lead",
                    models.ForeignKey(
                        db_column="lead_id",
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="handoffs",
                        to="funnelkit.lead",
                    ),
                ),
                ("from_team", funnelkit.contrib.django._fields.NameField(max_length=255)),
                ("to_team", funnelkit.contrib.django._fields.NameField(max_length=255)),
                ("created_at", models.CharField(max_length=40)),
                ("event", funnelkit.contrib.django._fields.NameField(max_length=255)),
                ("version", models.IntegerField()),
                ("assignee", funnelkit.contrib.django._fields.NameField(max_length=255, null=True)),
                ("due_at", models.CharField(max_length=40, null=True)),
                ("due_us", models.BigIntegerField(null=True)),
                ("status", funnelkit.contrib.django._fields.NameField(max_length=255)),
                ("resolved_at", models.CharField(max_length=40, null=True)),
                (
                    "resolved_by",
                    funnelkit.contrib.django._fields.NameField(max_length=255, null=True),
                ),
                ("reason", models.TextField(null=True)),
                ("created_us", models.BigIntegerField(null=True)),
                ("resolved_us", models.BigIntegerField(null=True)),
            ],
            options={
                "db_table": "funnelkit_handoffs",
                "ordering": ("due_us", "id"),
                "indexes": [
                    models.Index(
                        fields=["status", "to_team", "due_us"],
                        name="funnelkit_handoffs_status_team",
                    ),
                    models.Index(
                        fields=["assignee", "status", "due_us"], name="funnelkit_handoffs_assignee"
                    ),
                    models.Index(fields=["lead"], name="funnelkit_handoffs_lead"),
                    models.Index(fields=["due_us"], name="funnelkit_handoffs_due"),
                ],
            },
        ),
        migrations.CreateModel(
            name="Touchpoint",
            fields=[
                ("position", models.BigAutoField(primary_key=True, serialize=False)),
                (
                    "lead",
                    models.ForeignKey(
                        db_column="lead_id",
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="touchpoints",
                        to="funnelkit.lead",
                    ),
                ),
                ("kind", funnelkit.contrib.django._fields.NameField(max_length=255)),
                ("channel", funnelkit.contrib.django._fields.NameField(max_length=255)),
                ("at", models.CharField(max_length=40)),
                ("at_us", models.BigIntegerField()),
                ("points", models.FloatField(null=True)),
                ("data", models.TextField()),
            ],
            options={
                "db_table": "funnelkit_touchpoints",
                "ordering": ("position",),
                "indexes": [
                    models.Index(fields=["lead", "at_us"], name="funnelkit_touchpoints_lead"),
                    models.Index(fields=["at_us"], name="funnelkit_touchpoints_at"),
                ],
            },
        ),
        migrations.CreateModel(
            name="Transition",
            fields=[
                ("position", models.BigAutoField(primary_key=True, serialize=False)),
                (
                    "lead",
                    models.ForeignKey(
                        db_column="lead_id",
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="transitions",
                        to="funnelkit.lead",
                    ),
                ),
                ("version", models.IntegerField()),
                ("event", funnelkit.contrib.django._fields.NameField(max_length=255)),
                ("source", funnelkit.contrib.django._fields.NameField(max_length=255)),
                ("target", funnelkit.contrib.django._fields.NameField(max_length=255)),
                ("at", models.CharField(max_length=40)),
                ("at_us", models.BigIntegerField()),
                ("actor", funnelkit.contrib.django._fields.NameField(max_length=255, null=True)),
                ("reason", models.TextField(null=True)),
                ("decision", models.TextField(null=True)),
            ],
            options={
                "db_table": "funnelkit_transitions",
                "ordering": ("position",),
                "indexes": [models.Index(fields=["at_us"], name="funnelkit_transitions_at")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("lead", "version"), name="funnelkit_transitions_lead_version"
                    )
                ],
            },
        ),
        migrations.RunPython(stamp, migrations.RunPython.noop),
    ]
