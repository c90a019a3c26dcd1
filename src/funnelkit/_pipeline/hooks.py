"""Hook specs, declared once, and the registry that checks and calls their implementations.

As in pluggy, each spec is a documented no-op function whose keyword arguments are exactly what
implementations receive.  An implementation is a method (or module function) of the same name on
an object the host registers; it may take any subset of the spec's arguments, by keyword.  Names
that look like hooks but match no spec, and signatures that cannot be called that way, are refused
at registration with :class:`~funnelkit.InvalidHook`, so mistakes show up at start-up and the call
path never inspects anything.  So is a generator function (calling it runs none of its body)
and an ``async def`` before-hook; an ``async def`` after-hook is marked, for the pipeline to
await it (``Pipeline.adeliver_pending``) and never to acknowledge it unrun.
"""

from __future__ import annotations

import difflib
import inspect
import threading
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import attrs

from funnelkit._core import codec as _codec
from funnelkit._core.deprecation import warn_renamed
from funnelkit._core.errors import InvalidHook, Veto

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from funnelkit._core.handoff import Handoff
    from funnelkit._core.lead import Lead, Transition

__all__ = [
    "AFTER_HOOKS",
    "BEFORE_HOOKS",
    "RENAMED_HOOKS",
    "SPECS",
    "HookRegistry",
    "after_handoff",
    "after_handoff_accepted",
    "after_handoff_rejected",
    "after_merge",
    "after_sla_breach",
    "after_stalled",
    "after_transition",
    "after_unmerge",
    "before_merge",
    "before_transition",
    "before_unmerge",
]

Kind = Literal["lead", "transition", "handoff", "str", "datetime", "int"]


@attrs.frozen
class HookSpec:
    """A hook's declaration: its name, its arguments and how each travels through the outbox."""

    name: str
    arguments: tuple[tuple[str, Kind], ...]
    after: bool
    function: Callable[..., None]

    @property
    def argnames(self) -> tuple[str, ...]:
        """The keyword arguments implementations may take."""
        return tuple(name for name, _ in self.arguments)


SPECS: dict[str, HookSpec] = {}


def _spec(
    *arguments: tuple[str, Kind], after: bool = True
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    def declare(function: Callable[..., None]) -> Callable[..., None]:
        names = tuple(inspect.signature(function).parameters)
        declared = tuple(name for name, _ in arguments) + (("key",) if after else ())
        assert names == declared, (function.__name__, names, declared)
        args = (*arguments, ("key", "str")) if after else arguments
        SPECS[function.__name__] = HookSpec(function.__name__, args, after, function)
        return function

    return declare


# -- the specs ----------------------------------------------------------------------------------
# Each is a no-op: the body is documentation.  ``key`` is the outbox row's idempotency key.


@_spec(("lead", "lead"), ("transition", "transition"), after=False)
def before_transition(*, lead: Lead, transition: Transition) -> None:
    """Called before a move is committed; raise :class:`~funnelkit.Veto` to stop it.

    *lead* is the lead as it is now (before the move) and *transition* the move about to be
    written.  Called synchronously, inside the pipeline call, before anything is written; a veto
    (or any exception, reported as a veto) leaves the store and the lead unchanged.

    >>> class CreditCheck:
    ...     def before_transition(self, lead, transition):
    ...         if transition.target == "customer" and lead.attributes.get("credit") == "bad":
    ...             raise Veto("credit check failed")
    """


@_spec(("lead", "lead"), ("transition", "transition"))
def after_transition(*, lead: Lead, transition: Transition, key: str) -> None:
    """Called after a move was committed, with the lead as it is after the move.

    Delivered from the outbox at least once; dedupe on *key* if doing it twice would hurt.

    >>> class Audit:
    ...     def after_transition(self, transition):
    ...         print(transition.event)
    """


@_spec(("handoff", "handoff"), ("lead", "lead"))
def after_handoff(*, handoff: Handoff, lead: Lead, key: str) -> None:
    """Called after a move that crosses teams created *handoff* (pending), with the moved lead.

    >>> class Notify:
    ...     def after_handoff(self, handoff):
    ...         print(f"{handoff.to_team}: new lead {handoff.lead_id}, due {handoff.due_at}")
    """


@_spec(("handoff", "handoff"))
def after_handoff_accepted(*, handoff: Handoff, key: str) -> None:
    """Called after the receiving team accepted *handoff* (explicitly or by moving the lead on).

    >>> class SpeedToLead:
    ...     def after_handoff_accepted(self, handoff):
    ...         print(handoff.resolved_at - handoff.created_at)
    """


@_spec(("handoff", "handoff"), ("reason", "str"))
def after_handoff_rejected(*, handoff: Handoff, reason: str, key: str) -> None:
    """Called after the receiving team rejected *handoff*, saying why in *reason*.

    The feedback loop from sales to marketing starts here.

    >>> class Feedback:
    ...     def after_handoff_rejected(self, handoff, reason):
    ...         print(f"{handoff.lead_id} rejected: {reason}")
    """


@_spec(("handoff", "handoff"), ("level", "int"))
def after_sla_breach(*, handoff: Handoff, level: int, key: str) -> None:
    """Called once per breach ``sweep`` finds: *handoff* was still pending past its due time.

    Without an escalation for its move (``Pipeline(escalations=...)``), the sweep marks it
    expired and *level* is 0.  With one, each breach below the escalation's ``max_level``
    escalates it: *handoff* is still pending, reassigned and due again, and *level* is its new
    escalation level (1 for the first); the breach at ``max_level`` expires it, with *level*
    ``max_level``.  Tell them apart by ``handoff.status`` (``"pending"`` or ``"expired"``).

    >>> class Escalate:
    ...     def after_sla_breach(self, handoff, level):
    ...         print(f"{handoff.id} breached its SLA: level {level}, now {handoff.status}")
    """


@_spec(("lead", "lead"), ("stage", "str"), ("since", "datetime"))
def after_stalled(*, lead: Lead, stage: str, since: datetime, key: str) -> None:
    """Called once when ``sweep`` finds *lead* in *stage* since *since*, past the stage's limit.

    >>> class Stalled:
    ...     def after_stalled(self, lead, stage, since):
    ...         print(f"{lead.id} stuck in {stage} since {since:%Y-%m-%d}")
    """


@_spec(("survivor", "lead"), ("duplicate", "lead"), ("merged", "lead"), ("actor", "str"),
       ("reason", "str"), after=False)
def before_merge(*, survivor: Lead, duplicate: Lead, merged: Lead, actor: str, reason: str) -> None:
    """Called before a merge is committed; raise :class:`~funnelkit.Veto` to stop it.

    *survivor* and *duplicate* are the leads as loaded, *merged* the survivor as the merge will
    leave it (attributes merged, the stage it keeps).  A veto (or any exception, reported as a
    veto) leaves the store unchanged.

    >>> class KeepCustomersApart:
    ...     def before_merge(self, survivor, duplicate):
    ...         if "customer" in (survivor.stage, duplicate.stage):
    ...             raise Veto("customers are merged by the account team")
    """


@_spec(("survivor", "lead"), ("duplicate", "lead"), ("actor", "str"), ("reason", "str"))
def after_merge(*, survivor: Lead, duplicate: Lead, actor: str, reason: str, key: str) -> None:
    """Called after a merge was committed: *survivor* as merged, *duplicate* closed.

    The duplicate is in the stage ``funnelkit.merged``.  Delivered from the outbox at least
    once; dedupe on *key*.

    >>> class SyncCrm:
    ...     def after_merge(self, survivor, duplicate):
    ...         print(f"{duplicate.id} -> {survivor.id}")
    """


@_spec(("survivor", "lead"), ("duplicate", "lead"), ("actor", "str"), ("reason", "str"),
       after=False)
def before_unmerge(*, survivor: Lead, duplicate: Lead, actor: str, reason: str) -> None:
    """Called before an unmerge is committed, with both leads as loaded; may veto.

    >>> class OnlyAdmins:
    ...     def before_unmerge(self, actor):
    ...         if not actor.startswith("admin:"):
    ...             raise Veto("only admins undo merges")
    """


@_spec(("survivor", "lead"), ("duplicate", "lead"), ("actor", "str"), ("reason", "str"))
def after_unmerge(*, survivor: Lead, duplicate: Lead, actor: str, reason: str, key: str) -> None:
    """Called after an unmerge was committed, with both leads as it left them.

    >>> class SyncCrm:
    ...     def after_unmerge(self, duplicate):
    ...         print(f"{duplicate.id} is back in {duplicate.stage}")
    """


BEFORE_HOOKS: tuple[str, ...] = tuple(name for name, spec in SPECS.items() if not spec.after)
AFTER_HOOKS: tuple[str, ...] = tuple(name for name, spec in SPECS.items() if spec.after)
_PREFIXES = ("before_", "after_", "on_")

#: The after-hooks' old names, each with its new one: ``before_*`` hooks run inside the commit
#: and may veto, ``after_*`` hooks are delivered from the outbox after it.  Until the next
#: release a plugin method with an old name is registered under the new hook (with a
#: DeprecationWarning), and outbox rows stored under an old name are delivered to the new hook.
RENAMED_HOOKS: Mapping[str, str] = MappingProxyType({
    "on_handoff": "after_handoff",
    "on_handoff_accepted": "after_handoff_accepted",
    "on_handoff_rejected": "after_handoff_rejected",
    "on_sla_breach": "after_sla_breach",
    "on_stalled": "after_stalled",
})


def current_name(hook: str) -> str:
    """The hook *hook* names now: itself, or, for an old name, its new one (with a warning).

    >>> current_name("after_transition")
    'after_transition'
    """
    new = RENAMED_HOOKS.get(hook)
    if new is None:
        return hook
    warn_renamed(f"the hook name {hook!r}", repr(new))
    return new


# -- payload coding (the outbox holds JSON types only; codec writes each kind of argument) -------

# Each after-hook's arguments but ``key`` (the row's own, not part of its payload), with kinds.
_PAYLOAD_KINDS: dict[str, tuple[tuple[str, Kind], ...]] = {
    name: tuple(a for a in SPECS[name].arguments if a[0] != "key") for name in AFTER_HOOKS}
_DECODE: dict[str, Callable[[Any], Any]] = {
    "lead": _codec.lead_from_data,
    "transition": _codec.transition_from_data,
    "handoff": _codec.handoff_from_data,
    "str": str,
    "datetime": datetime.fromisoformat,
    "int": int,
}
# Arguments added to a spec after outbox rows may have been written without them: the value an
# older row stands for (an on_sla_breach row from before escalations was a plain expiry).
_ADDED: dict[tuple[str, str], Any] = {("after_sla_breach", "level"): 0}


def payload(hook: str, arguments: Mapping[str, Any]) -> _codec.LazyPayload:
    """The outbox payload of an after-hook call: *arguments* kept, encoded when read.

    Reads as :func:`encode` gives it; a delivery in this process calls the hooks with
    ``payload.arguments`` itself.  *arguments* must not change afterwards (the pipeline's are
    built for the one message).
    """
    return _codec.LazyPayload(arguments, _PAYLOAD_KINDS[hook])


def encode(hook: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON-able payload of an after-hook call (``key`` is not part of it)."""
    return _codec.encode_arguments(arguments, _PAYLOAD_KINDS[hook])


def decode(hook: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments :func:`encode` wrote, as funnelkit values again.

    A row stored under a hook's old name (``on_handoff``) decodes as its new one.
    """
    hook = RENAMED_HOOKS.get(hook, hook)
    return {name: _DECODE[kind](payload[name]) if name in payload else _ADDED[hook, name]
            for name, kind in SPECS[hook].arguments if name != "key"}


# -- the registry --------------------------------------------------------------------------------


@attrs.frozen
class HookImpl:
    """One registered implementation: the callable and the spec arguments it takes.

    ``is_async`` marks an ``async def`` implementation (an after-hook only): :meth:`call` then
    returns a coroutine, which only ``Pipeline.adeliver_pending`` awaits.
    """

    plugin: object
    name: str
    function: Callable[..., Any]
    argnames: tuple[str, ...]
    is_async: bool = False

    def call(self, arguments: Mapping[str, Any]) -> Any:
        """Call the implementation with the keyword arguments it takes."""
        return self.function(**{name: arguments[name] for name in self.argnames})

    @property
    def where(self) -> str:
        """The implementation's name for messages: ``Class.hook`` (or ``module.hook``)."""
        return _where(self.plugin, self.name)


def _where(plugin: object, name: str) -> str:
    owner = plugin.__name__ if inspect.ismodule(plugin) else type(plugin).__name__
    return f"{owner}.{name}"


def _kind_of_call(plugin: object, name: str, function: Callable[..., Any]) -> bool:
    """Whether *function* is ``async def``; refuse what a hook call would never run.

    A generator function's body runs only when the generator is iterated, so calling it as a
    hook does nothing: refused.  An ``async def`` before-hook could not veto (the pipeline
    must know before it commits, inside a synchronous call): refused, naming the way out.  An
    ``async def`` after-hook is accepted; only ``await pipeline.adeliver_pending()`` runs it.
    """
    where = _where(plugin, name)
    call = getattr(function, "__call__", None)  # noqa: B004 - an object's async __call__ counts
    if any(inspect.isgeneratorfunction(f) or inspect.isasyncgenfunction(f)
           for f in (function, call)):
        raise InvalidHook(
            f"{where} is a generator function: calling it runs none of its body, so the hook "
            f"would never do anything; make it a plain function (no yield)"
        )
    is_async = inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(call)
    if is_async and not SPECS[name].after:
        raise InvalidHook(
            f"{where} is async def, but {name} runs inside the pipeline call, before anything "
            f"is committed, and must return before the commit to be able to veto: make it a "
            f"plain def (do asynchronous work in an after-hook, which "
            f"await pipeline.adeliver_pending() delivers)"
        )
    return is_async


_NOT_BY_KEYWORD = (
    inspect.Parameter.VAR_POSITIONAL,
    inspect.Parameter.VAR_KEYWORD,
    inspect.Parameter.POSITIONAL_ONLY,
)


def _check_signature(plugin: object, name: str, function: Callable[..., Any]) -> tuple[str, ...]:
    spec = SPECS[name]
    owner = plugin.__name__ if inspect.ismodule(plugin) else type(plugin).__name__
    where = f"{owner}.{name}"
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        raise InvalidHook(
            f"{where}: cannot read its signature; define it as a plain function or method"
        ) from None
    allowed = spec.argnames
    taken: list[str] = []
    for parameter in signature.parameters.values():
        if parameter.kind in _NOT_BY_KEYWORD:
            raise InvalidHook(
                f"{where}{signature}: hooks are called with keyword arguments only; take named "
                f"arguments from ({', '.join(allowed)}) instead of *args, **kwargs or "
                f"positional-only ones"
            )
        if parameter.name not in allowed:
            hint = difflib.get_close_matches(parameter.name, allowed, n=1)
            raise InvalidHook(
                f"{where}{signature}: the hook {name!r} has no argument {parameter.name!r}"
                f"{f'; did you mean {hint[0]!r}?' if hint else ''}; it passes "
                f"({', '.join(allowed)}), take any of them by name"
            )
        taken.append(parameter.name)
    return tuple(taken)


def _with_old_names(
    impls: dict[str, tuple[HookImpl, ...]],
) -> dict[str, tuple[HookImpl, ...]]:
    """*impls* with each old hook name mapped to its new hook's implementations.

    So an outbox row stored under an old name is delivered to the implementations of the new.
    """
    impls.update({old: impls[new] for old, new in RENAMED_HOOKS.items()})
    return impls


class HookRegistry:
    """The implementations registered for each hook, checked at registration, in order."""

    def __init__(self) -> None:
        """An empty registry."""
        self._lock = threading.Lock()
        self._plugins: list[object] = []
        self.impls: dict[str, tuple[HookImpl, ...]] = _with_old_names(dict.fromkeys(SPECS, ()))

    def register(self, plugin: object) -> object:
        """Check every hook *plugin* implements and register them all, or none."""
        if plugin is None or isinstance(plugin, type):
            raise InvalidHook(
                f"register an instance or a module, not {plugin!r}: hook methods are called on "
                f"the object you register"
            )
        found: list[HookImpl] = []
        old_names: list[tuple[str, str]] = []
        for attr in dir(plugin):
            if attr.startswith("_") or not attr.startswith(_PREFIXES):
                continue
            value = getattr(plugin, attr, None)
            if not callable(value):
                continue
            if attr in RENAMED_HOOKS:
                new = RENAMED_HOOKS[attr]
                if callable(getattr(plugin, new, None)):
                    raise InvalidHook(
                        f"{_where(plugin, attr)} and {_where(plugin, new)} are the same hook "
                        f"({attr} is the old name of {new}); keep one, named {new}"
                    )
                old_names.append((attr, new))
                found.append(HookImpl(plugin, new, value, _check_signature(plugin, new, value),
                                      is_async=_kind_of_call(plugin, new, value)))
                continue
            if attr not in SPECS:
                hint = difflib.get_close_matches(attr, SPECS, n=1)
                raise InvalidHook(
                    f"{type(plugin).__name__}.{attr} looks like a hook but there is no hook "
                    f"{attr!r}{f'; did you mean {hint[0]!r}?' if hint else ''}; hooks are "
                    f"{', '.join(SPECS)} (rename helper methods with a leading underscore)"
                )
            found.append(HookImpl(plugin, attr, value, _check_signature(plugin, attr, value),
                                  is_async=_kind_of_call(plugin, attr, value)))
        if not found:
            raise InvalidHook(
                f"{plugin!r} implements no hook; define a method named after one of "
                f"{', '.join(SPECS)}"
            )
        with self._lock:
            if any(p is plugin for p in self._plugins):
                raise InvalidHook(f"{plugin!r} is registered already")
            self._plugins.append(plugin)
            impls = dict(self.impls)
            for impl in found:
                impls[impl.name] = (*impls[impl.name], impl)
            self.impls = _with_old_names(impls)  # whole: never seen half-updated
        for old, new in old_names:
            warn_renamed(f"the hook name {old!r} ({_where(plugin, old)})", repr(new))
        return plugin

    def unregister(self, plugin: object) -> None:
        """Remove every implementation *plugin* registered."""
        with self._lock:
            if not any(p is plugin for p in self._plugins):
                raise InvalidHook(f"{plugin!r} is not registered")
            self._plugins = [p for p in self._plugins if p is not plugin]
            self.impls = _with_old_names({
                name: tuple(i for i in impls if i.plugin is not plugin)
                for name, impls in self.impls.items() if name in SPECS})

    def run_before(self, hook: str, arguments: Mapping[str, Any], doing: str) -> None:
        """Call every implementation of the before-hook *hook*; any failure becomes a veto.

        *doing* says what the hook guards (``"the merge of 'L2' into 'L1'"``), for the message
        of a :class:`~funnelkit.Veto` reporting an exception that is not one.
        """
        for impl in self.impls[hook]:
            try:
                impl.call(arguments)
            except Veto:
                raise
            except Exception as exc:
                raise Veto(
                    f"{hook} hook {type(impl.plugin).__name__}.{impl.name} failed with {exc!r}, "
                    f"so {doing} was not made; fix the hook, or raise funnelkit.Veto to refuse "
                    f"on purpose"
                ) from exc

    @property
    def plugins(self) -> tuple[object, ...]:
        """The registered objects, in registration order."""
        return tuple(self._plugins)
