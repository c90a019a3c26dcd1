"""The Django app: ``INSTALLED_APPS = [..., "funnelkit.contrib.django"]`` (label ``funnelkit``)."""

from __future__ import annotations

import importlib

from django.apps import AppConfig

__all__ = ["FunnelkitConfig"]


class FunnelkitConfig(AppConfig):
    """funnelkit's tables as Django models (read-only in the admin) and their migrations.

    The app label is ``funnelkit``: ``python manage.py migrate funnelkit`` creates the tables
    ``funnelkit_leads``, ``funnelkit_transitions``, ``funnelkit_touchpoints``,
    ``funnelkit_handoffs``, ``funnelkit_outbox`` and ``funnelkit_schema``, the layout of the SQL
    stores (:class:`~funnelkit.stores.SQLiteStore`, :class:`~funnelkit.stores.SQLAlchemyStore`).
    """

    name = "funnelkit.contrib.django"
    label = "funnelkit"
    verbose_name = "Funnel"
    default_auto_field = "django.db.models.BigAutoField"

    def import_models(self) -> None:
        """Import ``models``; define its classes again if it was imported before Django was set up.

        ``funnelkit.contrib.django.models`` defines its models only once the app registry is
        ready (so that tools importing every module of funnelkit, such as doctest runners, can
        import it without a Django project); a copy imported earlier is run again here.
        """
        super().import_models()
        module = self.models_module
        if module is not None and not hasattr(module, "Lead"):
            self.models_module = importlib.reload(module)

