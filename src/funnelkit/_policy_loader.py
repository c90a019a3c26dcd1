"""Turns a policy's data form (a rule string or ``{"use": name, "params": {...}}``) into a policy.

``Funnel.from_dict`` calls :func:`policy_from_data` lazily, so the definition layer does not import
the policy library until a funnel actually names a policy in data form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from funnelkit._decision import Policy
from funnelkit._errors import InvalidPolicy

__all__ = ["policy_from_data"]


def policy_from_data(spec: str | Mapping[str, Any], *, path: str) -> Policy:
    """Build the policy *spec* describes; raise :class:`InvalidPolicy` naming *path* if it cannot."""
    raise InvalidPolicy(
        f"{path}: policies in data form ({spec!r}) are not supported yet; attach a callable "
        f"with Funnel.from_dict(..., policies={{event: policy}})"
    )
