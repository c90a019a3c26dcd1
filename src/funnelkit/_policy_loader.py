"""Turns a policy's data form (a rule string or ``{"use": name, "params": {...}}``) into a policy.

``Funnel.from_dict`` calls :func:`policy_from_data` lazily, so the definition layer does not import
the policy library until a funnel actually names a policy in data form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from funnelkit._errors import InvalidPolicy, RuleSyntaxError
from funnelkit._limits import MAX_POLICY_DATA_DEPTH, MAX_POLICY_DEPTH, _short, nests_deeper

if TYPE_CHECKING:
    from funnelkit._decision import Policy

__all__ = ["check_depth", "policy_from_data"]


def policy_from_data(spec: str | Mapping[str, Any], *, path: str) -> Policy:
    """Build the policy *spec* describes; raise :class:`InvalidPolicy` naming *path* if it cannot.

    A string is a rule (:func:`funnelkit.policies.rule`); a mapping is ``{"use": name}`` with an
    optional ``"params"`` mapping, passed to :func:`funnelkit.policies.load`.  Parameters named
    ``policies`` / ``policy`` of the combinators may hold data forms themselves.

    >>> policy_from_data({"use": "bant", "params": {"min_met": 3}}, path="transitions[0].policy")
    bant(min_met=3)
    >>> try:
    ...     policy_from_data("budget >>", path="transitions[1].policy")
    ... except RuleSyntaxError as e:
    ...     print(e.msg, "| column", e.offset)
    transitions[1].policy: unexpected '>'; expected a value, a name or '(' | column 9
    """
    from funnelkit import _policies  # noqa: PLC0415 - the policy library loads lazily

    if isinstance(spec, str):
        try:
            return _policies.rule(spec)
        except RuleSyntaxError as exc:
            raise _at(path, exc) from None
    if not isinstance(spec, Mapping):
        raise InvalidPolicy(f"{path}: {_short(spec)} is not a policy; write a rule string or "
                            f"{{'use': name, 'params': {{...}}}}")
    check_depth(spec, path)
    extra = sorted(str(k) for k in spec if k not in {"use", "params"})
    if extra:
        raise InvalidPolicy(f"{path}: unknown key(s) {', '.join(extra)}; a policy table has "
                            f"'use' and optional 'params'")
    name = spec.get("use")
    if not isinstance(name, str) or not name:
        raise InvalidPolicy(f"{path}.use: {_short(name)} must name a policy; available: "
                            f"{', '.join(_policies.available())}")
    params = spec.get("params", {})
    if not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params):
        raise InvalidPolicy(f"{path}.params: {_short(params)} must be a table of parameter names "
                            f"to values")
    params = dict(params)
    if "policies" in params and isinstance(params["policies"], list | tuple):
        params["policies"] = [
            _nested(p, f"{path}.params.policies[{i}]") for i, p in enumerate(params["policies"])
        ]
    if "policy" in params:
        params["policy"] = _nested(params["policy"], f"{path}.params.policy")
    try:
        return _policies.load(name, **params)
    except RuleSyntaxError as exc:
        raise _at(path, exc) from None
    except InvalidPolicy as exc:
        raise InvalidPolicy(f"{path}: {exc}") from None


def check_depth(spec: object, path: str) -> None:
    """Refuse policy data nested deeper than any policy can be (or holding itself).

    Iterative: such data would exhaust the stack of any recursive walk (a copy, a comparison).
    """
    if nests_deeper(spec, MAX_POLICY_DATA_DEPTH):
        raise InvalidPolicy(f"{path}: the policy data nests deeper than {MAX_POLICY_DEPTH} "
                            f"policies (or holds itself); combine fewer policies inside each other")


def _at(path: str, exc: RuleSyntaxError) -> RuleSyntaxError:
    return RuleSyntaxError(f"{path}: {exc.msg}", text=str(exc.text), offset=exc.offset or 1)


def _nested(value: Any, path: str) -> Any:
    if isinstance(value, str | Mapping):
        return policy_from_data(value, path=path)
    return value
