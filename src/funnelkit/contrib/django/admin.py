"""The admin: leads, their history, touchpoints and handoffs; pending handoffs; outbox; merges.

Everything is read-only: leads change through the pipeline (``get_pipeline()``), which keeps the
version guard, the history and the outbox; a row edited here would bypass all three.  Staff
with the ``view`` permission of these models see them.
"""

# ARG002: the admin's methods keep the signatures Django calls them with.
# ruff: noqa: ARG002

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.contrib import admin

from funnelkit.contrib.django import models

if TYPE_CHECKING:
    from django.http import HttpRequest


class _ReadOnly:
    """Admin options that show rows and never add, change or delete them."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Nobody adds rows here: capture leads through the pipeline."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Nobody changes rows here: move leads through the pipeline."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Nobody deletes rows here: the history is an audit log."""
        return False


def _register() -> None:
    """Register the model admins (the models exist once Django's app registry is ready)."""
    m: Any = models

    class TransitionInline(_ReadOnly, admin.TabularInline):  # type: ignore[type-arg]
        model = m.Transition
        fields = ("version", "event", "source", "target", "at", "actor", "reason")
        readonly_fields = fields
        ordering = ("version",)
        extra = 0
        verbose_name_plural = "history"

    class HandoffInline(_ReadOnly, admin.TabularInline):  # type: ignore[type-arg]
        model = m.Handoff
        fields = ("id", "from_team", "to_team", "status", "assignee", "due_at", "resolved_by",
                  "reason")
        readonly_fields = fields
        extra = 0

    class TouchpointInline(_ReadOnly, admin.TabularInline):  # type: ignore[type-arg]
        model = m.Touchpoint
        fields = ("at", "kind", "channel", "points", "data")
        readonly_fields = fields
        extra = 0

    class PendingFilter(admin.SimpleListFilter):
        title = "pending handoff"
        parameter_name = "pending_handoff"

        def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
            return [("yes", "yes"), ("no", "no")]

        def queryset(self, request: HttpRequest, queryset: Any) -> Any:
            if self.value() == "yes":
                return queryset.filter(handoffs__status="pending").distinct()
            if self.value() == "no":
                return queryset.exclude(handoffs__status="pending")
            return queryset

    @admin.register(m.Lead)
    class LeadAdmin(_ReadOnly, admin.ModelAdmin):  # type: ignore[type-arg]
        list_display = ("id", "stage", "owner", "version", "source_channel", "updated_at")
        list_filter = ("stage", "owner", PendingFilter)
        search_fields = ("id", "owner")
        inlines = (TransitionInline, HandoffInline, TouchpointInline)

    @admin.register(m.Handoff)
    class HandoffAdmin(_ReadOnly, admin.ModelAdmin):  # type: ignore[type-arg]
        list_display = ("id", "lead", "from_team", "to_team", "status", "assignee", "due_at")
        list_filter = ("status", "to_team", "assignee")
        search_fields = ("id", "lead__id")

    @admin.register(m.Transition)
    class TransitionAdmin(_ReadOnly, admin.ModelAdmin):  # type: ignore[type-arg]
        list_display = ("lead", "version", "event", "source", "target", "at", "actor")
        list_filter = ("event", "target")
        search_fields = ("lead__id",)

    @admin.register(m.OutboxMessage)
    class OutboxAdmin(_ReadOnly, admin.ModelAdmin):  # type: ignore[type-arg]
        list_display = ("id", "msg_key", "hook", "attempts", "delivered_us", "last_error")
        list_filter = ("hook",)

    @admin.register(m.Merge)
    class MergeAdmin(_ReadOnly, admin.ModelAdmin):  # type: ignore[type-arg]
        list_display = ("merge_id", "duplicate_id", "survivor_id", "at", "actor", "unmerged_at")
        search_fields = ("duplicate_id", "survivor_id")


# Outside a Django project (a tool importing every module) there is nothing to register.
if hasattr(models, "Lead") and apps.is_installed("django.contrib.admin"):
    _register()
