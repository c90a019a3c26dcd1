"""funnelkit's tables as Django models: for the admin, reports and migrations, not for writes.

The layout is the SQL stores' (schema version 4, see ``funnelkit.stores._schema``): times as ISO
8601 text with their offset plus integer microseconds since the epoch in the ``*_us`` columns,
free-form data as JSON text, ids and names compared byte for byte (:class:`NameField`).
:class:`~funnelkit.contrib.django.DjangoStore` writes these rows with the version guard; write
through the pipeline, never through these models (the admin shows them read-only).  Query them
freely: ``Lead.objects.filter(stage="sql").count()``.

The classes are defined once Django's app registry is ready (as it is whenever Django loads the
app); a tool that imports this module outside a Django project gets an empty module.
"""

# DJ001: NULL text means "absent" in the SQL stores' shared layout (an owner, a reason), which
# these models describe; Django's "empty string instead of NULL" would be another layout.
# D105, D106: `Meta` and `__str__` are Django's conventions, documented by Django.
# ruff: noqa: DJ001, D105, D106

from __future__ import annotations

from django.apps import apps
from django.db import models

from funnelkit.contrib.django._fields import NameField

_READY = apps.apps_ready

if _READY:

    class SchemaVersion(models.Model):
        """The ``funnelkit_schema`` row that marks the tables as funnelkit's, with their version."""

        name: NameField = NameField(primary_key=True)
        version: models.IntegerField[int, int] = models.IntegerField()

        class Meta:
            app_label = "funnelkit"
            db_table = "funnelkit_schema"
            verbose_name = "schema version"

        def __str__(self) -> str:
            return f"{self.name} {self.version}"

    class Lead(models.Model):
        """A lead as stored: its stage, version (moves made), owner, source and attributes."""

        id: NameField = NameField(primary_key=True)
        stage: NameField = NameField()
        version: models.IntegerField[int, int] = models.IntegerField()
        attributes: models.TextField[str, str] = models.TextField()
        source_channel: NameField = NameField(null=True)
        source_kind: NameField = NameField(null=True)
        owner: NameField = NameField(null=True)
        created_at: models.CharField[str, str] = models.CharField(max_length=40)
        stage_entered_at: models.CharField[str, str] = models.CharField(max_length=40)
        updated_at: models.CharField[str, str] = models.CharField(max_length=40)
        created_us: models.BigIntegerField[int | None, int | None] = models.BigIntegerField(
            null=True
        )

        class Meta:
            app_label = "funnelkit"
            db_table = "funnelkit_leads"
            indexes = (models.Index(fields=["stage", "id"], name="funnelkit_leads_stage"),)
            ordering = ("id",)

        def __str__(self) -> str:
            return f"{self.id} ({self.stage})"

    class Transition(models.Model):
        """One move of a lead (its history), with actor, reason and the policy's decision."""

        position: models.BigAutoField[int, int] = models.BigAutoField(primary_key=True)
        lead: models.ForeignKey[Lead, Lead] = models.ForeignKey(
            Lead,
            on_delete=models.DO_NOTHING,
            db_column="lead_id",
            db_constraint=False,
            db_index=False,
            related_name="transitions",
        )
        lead_id: str
        version: models.IntegerField[int, int] = models.IntegerField()
        event: NameField = NameField()
        source: NameField = NameField()
        target: NameField = NameField()
        at: models.CharField[str, str] = models.CharField(max_length=40)
        at_us: models.BigIntegerField[int, int] = models.BigIntegerField()
        actor: NameField = NameField(null=True)
        reason: models.TextField[str | None, str | None] = models.TextField(null=True)
        decision: models.TextField[str | None, str | None] = models.TextField(null=True)

        class Meta:
            app_label = "funnelkit"
            db_table = "funnelkit_transitions"
            constraints = (
                models.UniqueConstraint(
                    fields=["lead", "version"], name="funnelkit_transitions_lead_version"
                ),
            )
            indexes = (models.Index(fields=["at_us"], name="funnelkit_transitions_at"),)
            ordering = ("position",)

        def __str__(self) -> str:
            return f"{self.lead_id} v{self.version}: {self.event} {self.source} -> {self.target}"

    class Touchpoint(models.Model):
        """One engagement of a lead (a form fill, an email open, a call)."""

        position: models.BigAutoField[int, int] = models.BigAutoField(primary_key=True)
        lead: models.ForeignKey[Lead, Lead] = models.ForeignKey(
            Lead,
            on_delete=models.DO_NOTHING,
            db_column="lead_id",
            db_constraint=False,
            db_index=False,
            related_name="touchpoints",
        )
        lead_id: str
        kind: NameField = NameField()
        channel: NameField = NameField()
        at: models.CharField[str, str] = models.CharField(max_length=40)
        at_us: models.BigIntegerField[int, int] = models.BigIntegerField()
        points: models.FloatField[float | None, float | None] = models.FloatField(null=True)
        data: models.TextField[str, str] = models.TextField()

        class Meta:
            app_label = "funnelkit"
            db_table = "funnelkit_touchpoints"
            indexes = (
                models.Index(fields=["lead", "at_us"], name="funnelkit_touchpoints_lead"),
                models.Index(fields=["at_us"], name="funnelkit_touchpoints_at"),
            )
            ordering = ("position",)

        def __str__(self) -> str:
            return f"{self.lead_id}: {self.kind} ({self.channel})"

    class Handoff(models.Model):
        """A lead passed between teams, with its SLA due time and status (pending until closed)."""

        id: NameField = NameField(primary_key=True)
        lead: models.ForeignKey[Lead, Lead] = models.ForeignKey(
            Lead,
            on_delete=models.DO_NOTHING,
            db_column="lead_id",
            db_constraint=False,
            db_index=False,
            related_name="handoffs",
        )
        lead_id: str
        from_team: NameField = NameField()
        to_team: NameField = NameField()
        created_at: models.CharField[str, str] = models.CharField(max_length=40)
        event: NameField = NameField()
        version: models.IntegerField[int, int] = models.IntegerField()
        assignee: NameField = NameField(null=True)
        due_at: models.CharField[str | None, str | None] = models.CharField(
            max_length=40, null=True
        )
        due_us: models.BigIntegerField[int | None, int | None] = models.BigIntegerField(null=True)
        status: NameField = NameField()
        resolved_at: models.CharField[str | None, str | None] = models.CharField(
            max_length=40, null=True
        )
        resolved_by: NameField = NameField(null=True)
        reason: models.TextField[str | None, str | None] = models.TextField(null=True)
        created_us: models.BigIntegerField[int | None, int | None] = models.BigIntegerField(
            null=True
        )
        resolved_us: models.BigIntegerField[int | None, int | None] = models.BigIntegerField(
            null=True
        )

        class Meta:
            app_label = "funnelkit"
            db_table = "funnelkit_handoffs"
            indexes = (
                models.Index(
                    fields=["status", "to_team", "due_us"], name="funnelkit_handoffs_status_team"
                ),
                models.Index(
                    fields=["assignee", "status", "due_us"], name="funnelkit_handoffs_assignee"
                ),
                models.Index(fields=["lead"], name="funnelkit_handoffs_lead"),
                models.Index(fields=["due_us"], name="funnelkit_handoffs_due"),
            )
            ordering = ("due_us", "id")

        def __str__(self) -> str:
            return f"{self.id}: {self.from_team} -> {self.to_team} ({self.status})"

    class OutboxMessage(models.Model):
        """An after-hook call waiting for delivery (or delivered, with ``delivered_us`` set)."""

        id: models.BigAutoField[int, int] = models.BigAutoField(primary_key=True)
        msg_key: NameField = NameField()
        hook: NameField = NameField()
        payload: models.TextField[str, str] = models.TextField()
        created_at: models.CharField[str, str] = models.CharField(max_length=40)
        attempts: models.IntegerField[int, int] = models.IntegerField()
        next_attempt_us: models.BigIntegerField[int, int] = models.BigIntegerField()
        claimed_by: NameField = NameField(null=True)
        claimed_until_us: models.BigIntegerField[int | None, int | None] = models.BigIntegerField(
            null=True
        )
        delivered_us: models.BigIntegerField[int | None, int | None] = models.BigIntegerField(
            null=True
        )
        last_error: models.TextField[str | None, str | None] = models.TextField(null=True)

        class Meta:
            app_label = "funnelkit"
            db_table = "funnelkit_outbox"
            constraints = (
                models.UniqueConstraint(fields=["msg_key"], name="funnelkit_outbox_key"),
            )
            indexes = (
                models.Index(
                    fields=["delivered_us", "next_attempt_us"], name="funnelkit_outbox_due"
                ),
            )
            ordering = ("id",)

        def __str__(self) -> str:
            return f"{self.msg_key} ({self.hook})"

    class Merge(models.Model):
        """One merge of a duplicate lead into a survivor; undone when ``unmerged_at`` is set.

        A row with ``unmerged_at`` NULL is an active merge: the duplicate (stage
        ``funnelkit.merged``) points at the survivor.  ``data`` is the JSON of the leads as
        loaded and merged and of what the merge moved (see ``funnelkit.stores.MergeRecord``).
        """

        position: models.BigAutoField[int, int] = models.BigAutoField(primary_key=True)
        # Django keeps the field name "id" for primary keys: the column is "id", as in every store.
        merge_id: NameField = NameField(db_column="id")
        survivor_id: NameField = NameField()
        duplicate_id: NameField = NameField()
        at: models.CharField[str, str] = models.CharField(max_length=40)
        at_us: models.BigIntegerField[int, int] = models.BigIntegerField()
        actor: NameField = NameField()
        reason: models.TextField[str, str] = models.TextField()
        survivor_version: models.IntegerField[int, int] = models.IntegerField()
        duplicate_version: models.IntegerField[int, int] = models.IntegerField()
        data: models.TextField[str, str] = models.TextField()
        unmerged_at: models.CharField[str | None, str | None] = models.CharField(
            max_length=40, null=True
        )
        unmerged_us: models.BigIntegerField[int | None, int | None] = models.BigIntegerField(
            null=True
        )
        unmerged_by: NameField = NameField(null=True)
        unmerge_reason: models.TextField[str | None, str | None] = models.TextField(null=True)

        class Meta:
            app_label = "funnelkit"
            db_table = "funnelkit_merges"
            constraints = (
                models.UniqueConstraint(fields=["merge_id"], name="funnelkit_merges_id"),
            )
            indexes = (
                models.Index(
                    fields=["duplicate_id", "unmerged_us"], name="funnelkit_merges_duplicate"
                ),
                models.Index(
                    fields=["survivor_id", "unmerged_us"], name="funnelkit_merges_survivor"
                ),
            )
            ordering = ("position",)

        def __str__(self) -> str:
            state = "" if self.unmerged_at is None else " (undone)"
            return f"{self.duplicate_id} -> {self.survivor_id}{state}"
