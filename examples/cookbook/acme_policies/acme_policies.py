"""A funnelkit policy shipped by another package, found by name through its entry point."""

from __future__ import annotations

from typing import TYPE_CHECKING

from funnelkit import Decision

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from funnelkit import Context, Lead


def target_account(*, domains: Iterable[str]) -> Callable[[Lead, Context], Decision]:
    """Allow leads whose e-mail domain is one of *domains*."""
    wanted = frozenset(domains)

    def policy(lead: Lead, context: Context) -> Decision:  # noqa: ARG001 - the policy protocol
        domain = str(lead.attributes.get("email", "")).rpartition("@")[2]
        if domain in wanted:
            return Decision.allow(policy="target_account@1")
        return Decision.deny(f"{domain or 'no e-mail'} is not a target account",
                             policy="target_account@1")

    return policy
