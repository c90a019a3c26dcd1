"""The errors the testing kit raises: failed checks are both ``FunnelError`` and ``AssertionError``.

A failed expectation is an ``AssertionError`` so every test runner reports it as a test failure
(not an error), and a :class:`funnelkit.FunnelError` so host code that catches funnelkit's root
error sees it too.  A step that is wrong in itself (an unknown event or stage, a clock moved
backwards) is bad input, :class:`InvalidStep`, raised at the call that wrote it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from funnelkit._core.errors import FunnelError, InvalidInput
from funnelkit._core.public import public_home

if TYPE_CHECKING:
    from collections.abc import Sequence

    from funnelkit._core.lead import Transition

__all__ = ["FunnelAssertionError", "InvalidStep", "ScenarioFailed"]


class FunnelAssertionError(FunnelError, AssertionError):
    """A check from :mod:`funnelkit.testing` failed: the funnel did not do what the test expected.

    It is an ``AssertionError``, so pytest, unittest and friends report a failed test.

    >>> from funnelkit.testing import assert_journey
    >>> try:
    ...     assert_journey([], ["lead"])
    ... except FunnelAssertionError as e:
    ...     print(str(e).splitlines()[0])
    journey mismatch: expected ['lead'], got no journey (the history is empty)
    """


class ScenarioFailed(FunnelAssertionError):  # noqa: N818 - named for what happened, as the issue asks
    """A scenario step did not see what it expected.

    ``step`` is the step's number (1-based), ``step_text`` how it was written, ``expected`` and
    ``actual`` describe the mismatch, ``history`` holds the lead's transitions so far.  The message
    repeats all of them, with the steps that ran before.

    >>> err = ScenarioFailed(step=2, step_text=".expect_stage('mql')", lead_id="L1",
    ...                      expected="stage 'mql'", actual="stage 'lead'")
    >>> print(str(err).splitlines()[0])
    scenario step 2, .expect_stage('mql'), failed for lead 'L1':
    """

    def __init__(
        self,
        *,
        step: int,
        step_text: str,
        expected: str,
        actual: str,
        lead_id: str | None = None,
        steps: Sequence[str] = (),
        history: Sequence[Transition] = (),
        note: str = "",
    ) -> None:
        from funnelkit.testing._format import format_history  # noqa: PLC0415 - avoids a cycle

        self.step = step
        self.step_text = step_text
        self.expected = expected
        self.actual = actual
        self.lead_id = lead_id
        self.steps = tuple(steps)
        self.history = tuple(history)
        who = f" for lead {lead_id!r}" if lead_id is not None else ""
        lines = [
            f"scenario step {step}, {step_text}, failed{who}:",
            f"  expected: {expected}",
            f"  actual:   {actual}",
        ]
        if note:
            lines.append(f"  {note}")
        if self.steps:
            lines.append("steps so far:")
            lines += [f"  {i}. {text}" for i, text in enumerate(self.steps, start=1)]
        if lead_id is not None:
            lines.append(format_history(self.history, lead_id=lead_id))
        super().__init__("\n".join(lines))

    def __reduce__(self) -> Any:
        return (_rebuild_failed, (self.__dict__.copy(), str(self)))


def _rebuild_failed(state: dict[str, Any], message: str) -> ScenarioFailed:
    err = ScenarioFailed.__new__(ScenarioFailed)
    err.__dict__.update(state)
    err.args = (message,)
    return err


class InvalidStep(InvalidInput):
    """A scenario step is wrong in itself; raised at the call that wrote it, naming the step.

    An event or stage the funnel does not know, a clock moved backwards, a step that needs a lead
    before any was captured: all raise this (a :class:`funnelkit.InvalidInput`).

    >>> err = InvalidStep("funnel 'inbound' has no event 'qualfy'", step=3,
    ...                   step_text=".fire('qualfy')")
    >>> print(err)
    scenario step 3, .fire('qualfy'): funnel 'inbound' has no event 'qualfy'
    """

    def __init__(self, message: str, *, step: int, step_text: str) -> None:
        self.step = step
        self.step_text = step_text
        super().__init__(f"scenario step {step}, {step_text}: {message}")

    def __reduce__(self) -> Any:
        return (_rebuild_step, (str(self), self.step, self.step_text))


def _rebuild_step(message: str, step: int, step_text: str) -> InvalidStep:
    err = InvalidStep.__new__(InvalidStep)
    err.args = (message,)
    err.step = step
    err.step_text = step_text
    return err


# Tracebacks, reprs and pickles name the public home, funnelkit.testing.
public_home("funnelkit.testing", FunnelAssertionError, InvalidStep, ScenarioFailed)
