"""The example's CRM app."""

from django.apps import AppConfig


class CrmConfig(AppConfig):
    """Companies and sales notes."""

    name = "crm"
