"""What every caller of a policy needs, without the policy library: its data form, and its call.

The definition layer (``Funnel.from_dict``) refuses policy data nested too deep with
:func:`check_depth` before anything is built; turning the data into a policy is the policy
library's job (:func:`funnelkit._policy.policies.policy_from_data`), which ``Funnel.from_dict``
loads lazily, so ``import funnelkit`` does not load the library until a funnel names a policy in
data form.  :func:`run_policy` is the one way a policy is called (``Funnel.fire``, ``Funnel.check``,
the backtest), and :func:`not_a_decision` the one error for a policy that answers something other
than a Decision, raised there and by the combinators alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from funnelkit._core.decision import Decision
from funnelkit._core.errors import FunnelError, InvalidPolicy, PolicyFailed
from funnelkit._core.limits import MAX_POLICY_DATA_DEPTH, MAX_POLICY_DEPTH, nests_deeper

if TYPE_CHECKING:
    from funnelkit._core.decision import Context, Policy
    from funnelkit._core.lead import Lead

__all__ = ["check_depth", "not_a_decision", "run_policy"]


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


def run_policy(policy: Policy, lead: Lead, context: Context, event: str) -> Decision:
    """Call *policy* on *lead* for *event*: the one place a guard runs.

    A host error inside it becomes a :class:`~funnelkit.PolicyFailed` naming the policy, the
    event and the lead, with the error chained; an answer that is not a ``Decision`` an
    :class:`~funnelkit.InvalidPolicy`.
    """
    try:
        decision = policy(lead, context)
    except FunnelError:
        raise
    except Exception as exc:  # a host policy's bug: say which policy, keep the cause
        raise PolicyFailed(
            f"policy {policy!r} raised {exc!r} while judging {event!r} for lead {lead.id!r} in "
            f"{lead.stage!r}; fix the policy (the original error is chained)",
            policy=repr(policy), event=event, lead_id=lead.id,
        ) from exc
    if type(decision) is not Decision:
        raise not_a_decision(policy, decision)
    return decision
