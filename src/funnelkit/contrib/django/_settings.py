"""``FUNNELKIT`` settings and ``get_pipeline()``: one pipeline per process, built from settings.

Outside a project (a script, this example), configure Django first; a project's ``settings.py``
and ``manage.py`` do it for you:

>>> import django
>>> from django.conf import settings
>>> if not settings.configured:
...     settings.configure(
...         DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
...         INSTALLED_APPS=["funnelkit.contrib.django"], USE_TZ=True,
...         FUNNELKIT={"FUNNEL": "funnelkit.templates.inbound"})
...     django.setup()
>>> from django.core.management import call_command
>>> call_command("migrate", "funnelkit", verbosity=0)
"""

from __future__ import annotations

import importlib
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django import conf
from django.core.signals import setting_changed
from django.db import DEFAULT_DB_ALIAS

from funnelkit._core.errors import InvalidInput
from funnelkit._core.limits import _short
from funnelkit._definition.funnel import Funnel
from funnelkit.contrib.django import signals
from funnelkit.contrib.django._store import DjangoStore

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from funnelkit._core.handoff import Handoff
    from funnelkit._core.lead import Lead, Transition
    from funnelkit.pipeline import Pipeline

__all__ = ["connect", "get_pipeline", "settings_funnel"]

SETTING = "FUNNELKIT"
_KEYS = ("FUNNEL", "POLICIES", "HOOKS", "DATABASE", "SIGNALS", "OUTBOX")
_lock = threading.Lock()
_pipeline: Pipeline | None = None


def _config() -> dict[str, Any]:
    # Read through the module: a LazySettings global would be set up by any tool that inspects
    # this module's names (doctest does), configured project or not.
    config = getattr(conf.settings, SETTING, None)
    if config is None:
        raise InvalidInput(
            f"settings.{SETTING} is not set; add FUNNELKIT = {{'FUNNEL': BASE_DIR / "
            f"'funnel.toml'}} (a .toml or .json file, or the dotted path of a Funnel) to your "
            f"settings")
    if not isinstance(config, dict):
        raise InvalidInput(f"settings.{SETTING}={_short(config)} must be a dict")
    unknown = sorted(set(config) - set(_KEYS))
    if unknown:
        raise InvalidInput(f"settings.{SETTING} has unknown keys {unknown}; it takes "
                           f"{', '.join(_KEYS)}")
    return config


def _import(path: str, what: str) -> Any:
    """The object at a dotted path, ``package.module.name`` or ``package.module:name``."""
    module_name, sep, attribute = path.partition(":") if ":" in path else path.rpartition(".")
    if not sep or not module_name or not attribute:
        raise InvalidInput(f"settings.{SETTING}[{what!r}]={path!r} must be a dotted path such as "
                           f"'myapp.sales.funnel'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise InvalidInput(f"settings.{SETTING}[{what!r}]={path!r}: cannot import "
                           f"{module_name!r} ({e})") from e
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise InvalidInput(f"settings.{SETTING}[{what!r}]={path!r}: module {module_name!r} has "
                           f"no {attribute!r}") from None


def settings_funnel() -> Funnel:
    """The funnel ``settings.FUNNELKIT["FUNNEL"]`` names.

    ``FUNNEL`` is a ``.toml`` or ``.json`` file (a path, relative to the working directory, so
    prefer ``BASE_DIR / "funnel.toml"``), a dotted path to a :class:`~funnelkit.Funnel` or to a
    function returning one (``"funnelkit.templates.inbound"``), or a ``Funnel``.
    ``POLICIES``, the dotted path of a mapping of names to policies, completes a file's
    ``policy = "name"`` references.

    >>> from django.conf import settings
    >>> from django.test import override_settings
    >>> with override_settings(FUNNELKIT={"FUNNEL": "funnelkit.templates.inbound"}):
    ...     settings_funnel().name
    'inbound'
    """
    config = _config()
    given = config.get("FUNNEL")
    policies: Mapping[str, Any] | None = None
    if config.get("POLICIES") is not None:
        policies = config["POLICIES"]
        if isinstance(policies, str):
            policies = _import(policies, "POLICIES")
    if isinstance(given, Funnel):
        return given
    if isinstance(given, os.PathLike) or (
            isinstance(given, str) and given.endswith((".toml", ".json"))):
        path = Path(given)
        if not path.is_file():
            raise InvalidInput(f"settings.{SETTING}['FUNNEL']={str(given)!r} is not a file "
                               f"(from the working directory {Path.cwd()}); give an absolute path "
                               f"such as BASE_DIR / 'funnel.toml'")
        return Funnel.from_file(path, policies=policies)
    if isinstance(given, str):
        found = _import(given, "FUNNEL")
        if callable(found) and not isinstance(found, Funnel):
            found = found()
        if isinstance(found, Funnel):
            return found
        raise InvalidInput(f"settings.{SETTING}['FUNNEL']={given!r} is {_short(found)}, not a "
                           f"funnelkit.Funnel (or a function returning one)")
    raise InvalidInput(
        f"settings.{SETTING}['FUNNEL']={_short(given)} must be a .toml or .json file, the dotted "
        f"path of a Funnel, or a Funnel")


class SignalHooks:
    """The after-hooks that send :mod:`funnelkit.contrib.django.signals` (sender: the pipeline)."""

    def __init__(self, pipeline: Pipeline) -> None:
        """Send the signals with *pipeline* as their sender."""
        self.pipeline = pipeline

    def __repr__(self) -> str:
        return "SignalHooks()"

    def after_transition(self, *, lead: Lead, transition: Transition, key: str) -> None:
        """Send ``signals.after_transition``."""
        signals.after_transition.send(self.pipeline, lead=lead, transition=transition, key=key)

    def after_handoff(self, *, handoff: Handoff, lead: Lead, key: str) -> None:
        """Send ``signals.after_handoff``."""
        signals.after_handoff.send(self.pipeline, handoff=handoff, lead=lead, key=key)

    def after_handoff_accepted(self, *, handoff: Handoff, key: str) -> None:
        """Send ``signals.after_handoff_accepted``."""
        signals.after_handoff_accepted.send(self.pipeline, handoff=handoff, key=key)

    def after_handoff_rejected(self, *, handoff: Handoff, reason: str, key: str) -> None:
        """Send ``signals.after_handoff_rejected``."""
        signals.after_handoff_rejected.send(self.pipeline, handoff=handoff, reason=reason, key=key)

    def after_sla_breach(self, *, handoff: Handoff, level: int, key: str) -> None:
        """Send ``signals.after_sla_breach`` (``level``: 0 for an expiry, else the escalation)."""
        signals.after_sla_breach.send(self.pipeline, handoff=handoff, level=level, key=key)

    def after_stalled(self, *, lead: Lead, stage: str, since: datetime, key: str) -> None:
        """Send ``signals.after_stalled``."""
        signals.after_stalled.send(self.pipeline, lead=lead, stage=stage, since=since, key=key)


def _build() -> Pipeline:
    from funnelkit.pipeline import Pipeline  # noqa: PLC0415 - the pipeline layer loads lazily

    config = _config()
    funnel = settings_funnel()
    store = DjangoStore(config.get("DATABASE", DEFAULT_DB_ALIAS))
    pipeline = Pipeline(funnel, store=store, outbox=config.get("OUTBOX", ()))
    hooks = config.get("HOOKS", ())
    if isinstance(hooks, str) or not isinstance(hooks, list | tuple):
        raise InvalidInput(f"settings.{SETTING}['HOOKS']={_short(hooks)} must be a list of "
                           f"dotted paths (or hook objects)")
    for index, hook in enumerate(hooks):
        plugin = _import(hook, f"HOOKS][{index}") if isinstance(hook, str) else hook
        if isinstance(plugin, type):
            plugin = plugin()  # a class of hooks is instantiated without arguments
        pipeline.register(plugin)
    signals_on = config.get("SIGNALS", True)
    if type(signals_on) is not bool:
        raise InvalidInput(f"settings.{SETTING}['SIGNALS']={_short(signals_on)} must be True or "
                           f"False")
    if signals_on:
        pipeline.register(SignalHooks(pipeline))
    store.deliver_on_commit = pipeline.deliver_pending
    return pipeline


def get_pipeline() -> Pipeline:
    """The project's :class:`~funnelkit.pipeline.Pipeline`, built once from ``settings.FUNNELKIT``.

    Its store is a :class:`DjangoStore` on ``FUNNELKIT["DATABASE"]`` (``"default"``); the
    ``HOOKS`` (dotted paths of hook objects, modules or classes, which are instantiated without
    arguments) are registered in order, then, unless ``SIGNALS`` is False, the plugin sending
    :mod:`funnelkit.contrib.django.signals`.  ``OUTBOX`` is the pipeline's ``outbox=``.  After-hooks
    called inside ``transaction.atomic()`` run once it commits.  The pipeline is built again
    when the setting changes (``override_settings`` in tests).

    >>> from django.test import override_settings
    >>> with override_settings(FUNNELKIT={"FUNNEL": "funnelkit.templates.inbound"}):
    ...     pipeline = get_pipeline()
    ...     pipeline.funnel.name, pipeline.store
    ('inbound', DjangoStore(using='default'))
    """
    global _pipeline  # noqa: PLW0603 - one pipeline per process, reset when settings change
    pipeline = _pipeline
    if pipeline is None:
        with _lock:
            pipeline = _pipeline
            if pipeline is None:
                pipeline = _pipeline = _build()
    return pipeline


def _reset(*, setting: str, **_: Any) -> None:
    global _pipeline  # noqa: PLW0603 - see get_pipeline
    if setting in {SETTING, "DATABASES"}:
        with _lock:
            _pipeline = None


def connect() -> None:
    """Rebuild the pipeline when ``settings.FUNNELKIT`` changes (the app's ``ready()``)."""
    setting_changed.connect(_reset, dispatch_uid="funnelkit.contrib.django.reset")


connect()
