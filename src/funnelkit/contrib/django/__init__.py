"""funnelkit in a Django project: the app, ``DjangoStore``, settings and signals.

Install the extra (``pip install 'funnelkit[django]'``), add the app and migrate::

    INSTALLED_APPS = [..., "funnelkit.contrib.django"]
    FUNNELKIT = {"FUNNEL": BASE_DIR / "funnel.toml", "HOOKS": ["sales.hooks.Notify"]}

    python manage.py migrate funnelkit

then ``get_pipeline()`` anywhere in the project.  :class:`DjangoStore` keeps leads in the
project's database through Django's own connection, so a change made inside
``transaction.atomic()`` commits or rolls back with the host's rows.  Importing this package
imports Django; ``import funnelkit`` never does.
"""

from __future__ import annotations

from funnelkit._core.errors import MissingExtra

try:
    import django  # noqa: F401 - the extra's check
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise MissingExtra(
        "funnelkit.contrib.django needs Django: install the extra with "
        "pip install 'funnelkit[django]'"
    ) from e

from funnelkit.contrib.django._settings import get_pipeline, settings_funnel
from funnelkit.contrib.django._store import DjangoStore

__all__ = ["DjangoStore", "get_pipeline", "settings_funnel"]

