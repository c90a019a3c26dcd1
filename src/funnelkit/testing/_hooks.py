"""``HookRecorder`` and ``capture_hooks``: every hook call, with its arguments, for assertions."""

from __future__ import annotations

import inspect
import threading
from contextlib import contextmanager
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import attrs

from funnelkit._core.errors import InvalidInput
from funnelkit._core.limits import _short
from funnelkit._pipeline.hooks import SPECS, current_name
from funnelkit.testing._errors import FunnelAssertionError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping

__all__ = ["HookCall", "HookRecorder", "capture_hooks"]


def _frozen(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


@attrs.frozen
class HookCall:
    """One hook call: the hook's name and the keyword arguments it was given.

    ``call["lead"]`` reads an argument; ``call.arguments`` is the whole (read-only) mapping.

    >>> call = HookCall("after_sla_breach", {"handoff": "H1", "key": "k1"})
    >>> call.name, call["handoff"]
    ('after_sla_breach', 'H1')
    """

    name: str
    arguments: Mapping[str, Any] = attrs.field(converter=_frozen, eq=False)

    def __getitem__(self, argument: str) -> Any:
        """The argument called *argument*."""
        return self.arguments[argument]

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.arguments.items())
        return f"HookCall({self.name!r}, {args})"


def _recording(recorder: HookRecorder, name: str) -> Callable[..., None]:
    spec = SPECS[name]

    def record(**arguments: Any) -> None:
        recorder._record(name, arguments)

    # Take every argument the spec passes, by keyword, so the registry accepts and fills them all.
    record.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
        inspect.Parameter(arg, inspect.Parameter.KEYWORD_ONLY) for arg in spec.argnames
    ])
    record.__name__ = name
    record.__doc__ = f"Record a call of {name!r}."
    return record


def _hook_names(value: Iterable[str] | None) -> tuple[str, ...]:
    given: Iterable[object] = () if value is None else value
    chosen = tuple(SPECS) if value is None else tuple(
        current_name(h) if isinstance(h, str) else h for h in given)
    unknown = [h for h in chosen if h not in SPECS]
    if unknown:
        raise InvalidInput(
            f"hooks={list(chosen)!r}: no hook {unknown[0]!r}; hooks are {', '.join(SPECS)}"
        )
    return tuple(h for h in chosen if isinstance(h, str))


# Not slotted: the recording methods are set on each instance, one per hook recorded.
@attrs.define(slots=False, eq=False, repr=False)
class HookRecorder:
    """A hook implementation that records every call of every hook, in order.

    Register it on a pipeline (``pipeline.register(recorder)``) or let :func:`capture_hooks` do
    it.  It implements every hook spec (or those named in *hooks*), taking all of its
    arguments, and never vetoes.  Thread safe.  ``calls`` is the list of :class:`HookCall`;
    :meth:`named` filters by hook name; :meth:`assert_called` checks a count.

    >>> recorder = HookRecorder()
    >>> recorder.after_sla_breach(handoff="H1", key="k1")
    >>> recorder.calls
    [HookCall('after_sla_breach', handoff='H1', key='k1')]
    >>> recorder.assert_called("after_sla_breach", times=1)[0]["handoff"]
    'H1'
    """

    hooks: tuple[str, ...] = attrs.field(default=None, kw_only=True, converter=_hook_names)
    calls: list[HookCall] = attrs.field(init=False, factory=list)
    _lock: threading.Lock = attrs.field(init=False, factory=threading.Lock)

    def __attrs_post_init__(self) -> None:
        for name in self.hooks:
            setattr(self, name, _recording(self, name))

    def _record(self, name: str, arguments: Mapping[str, Any]) -> None:
        with self._lock:
            self.calls.append(HookCall(name, arguments))

    def named(self, name: str) -> list[HookCall]:
        """The calls of the hook *name*, in order (an old hook name warns and reads the new)."""
        if isinstance(name, str):
            name = current_name(name)
        if name not in SPECS:
            raise InvalidInput(f"no hook {name!r}; hooks are {', '.join(SPECS)}")
        with self._lock:
            return [c for c in self.calls if c.name == name]

    @property
    def names(self) -> list[str]:
        """The names of the hooks called, in order (one entry per call)."""
        with self._lock:
            return [c.name for c in self.calls]

    def assert_called(self, name: str, *, times: int | None = None) -> list[HookCall]:
        """Fail unless hook *name* was called (exactly *times* times if given); return the calls."""
        calls = self.named(name)
        if (times is None and not calls) or (times is not None and len(calls) != times):
            wanted = "at least once" if times is None else (
                f"{times} time{'s' if times != 1 else ''}"
            )
            seen = ", ".join(self.names) or "no hook at all"
            raise FunnelAssertionError(
                f"expected {name!r} to be called {wanted}, it was called {len(calls)} "
                f"time{'s' if len(calls) != 1 else ''}; calls in order: {seen}"
            )
        return calls

    def clear(self) -> None:
        """Forget the calls recorded so far."""
        with self._lock:
            self.calls.clear()

    def __repr__(self) -> str:
        return f"<HookRecorder with {len(self.calls)} call(s)>"


@contextmanager
def capture_hooks(pipeline: Any, *, deliver: bool = True) -> Iterator[HookRecorder]:
    """Record every hook call *pipeline* makes inside the ``with`` block.

    Registers a :class:`HookRecorder` on the pipeline and yields it; on leaving the block,
    after-hooks still waiting in the outbox are delivered first (``deliver=False`` leaves them
    there), then the recorder is unregistered.

    >>> from funnelkit import templates
    >>> from funnelkit.pipeline import Pipeline
    >>> from funnelkit.stores import MemoryStore
    >>> from funnelkit.testing import FrozenClock
    >>> pipeline = Pipeline(templates.inbound(), store=MemoryStore(), clock=FrozenClock())
    >>> with capture_hooks(pipeline) as hooks:
    ...     _ = pipeline.capture("L1")
    ...     _ = pipeline.fire("L1", "convert")
    >>> [call["transition"].event for call in hooks.named("after_transition")]
    ['convert']
    """
    from funnelkit._pipeline.pipeline import Pipeline  # noqa: PLC0415 - the pipeline loads lazily

    if not isinstance(pipeline, Pipeline):
        raise InvalidInput(f"capture_hooks takes a funnelkit.pipeline.Pipeline, got "
                           f"{_short(pipeline)}")
    recorder = HookRecorder()
    pipeline.register(recorder)
    try:
        yield recorder
    finally:
        try:
            if deliver:
                pipeline.deliver_pending()
        finally:
            pipeline.unregister(recorder)
