"""Checks on policies that need no policy library: their data form, and what they answer.

The definition layer (``Funnel.from_dict``) refuses policy data nested too deep with
:func:`check_depth` before anything is built; turning the data into a policy is the policy
library's job (:func:`funnelkit._policy.policies.policy_from_data`), which ``Funnel.from_dict``
loads lazily, so the definition layer does not import the policy library until a funnel names a
policy in data form.  :func:`not_a_decision` is the one error for a policy that answers something
other than a Decision, raised by ``Funnel.fire`` and by the combinators alike.
"""

from __future__ import annotations

from funnelkit._core.errors import InvalidPolicy
from funnelkit._core.limits import MAX_POLICY_DATA_DEPTH, MAX_POLICY_DEPTH, nests_deeper

__all__ = ["check_depth", "not_a_decision"]


def check_depth(spec: object, path: str) -> None:
    """Refuse policy data nested deeper than any policy can be (or holding itself).

    Iterative: such data would exhaust the stack of any recursive walk (a copy, a comparison).
    """
    if nests_deeper(spec, MAX_POLICY_DATA_DEPTH):
        raise InvalidPolicy(f"{path}: the policy data nests deeper than {MAX_POLICY_DEPTH} "
                            f"policies (or holds itself); combine fewer policies inside each other")


def not_a_decision(policy: object, answer: object) -> InvalidPolicy:
    """The error for a *policy* whose *answer* is not a ``funnelkit.Decision``."""
    return InvalidPolicy(f"policy {policy!r} returned {answer!r}; a policy must return a "
                         "funnelkit.Decision (Decision.allow() or Decision.deny('why'))")
