"""Acme's sales process, as a host application defines it: a funnel, a policy and a hook.

This file stands for the host's own code; the tests beside it use funnelkit's testing kit (the
pytest plugin's fixtures, scenarios, assertions and a state machine) to unit-test it.
"""

from __future__ import annotations

from funnelkit import Context, Decision, Funnel, Lead, Verdict

#: Enterprise deals start at this many employees.
ENTERPRISE_EMPLOYEES = 200


def enterprise_ready(lead: Lead, context: Context) -> Decision:
    """Acme's own qualification policy: a big enough company with a budget and a demo request."""
    employees = lead.attributes.get("employees", 0)
    budget = lead.attributes.get("budget", 0)
    asked_for_demo = any(tp.kind == "demo_request" for tp in context.touchpoints)
    criteria = (
        Verdict("size", "met" if employees >= ENTERPRISE_EMPLOYEES else "failed", employees),
        Verdict("budget", "met" if budget >= 25_000 else "failed", budget),
        Verdict("demo", "met" if asked_for_demo else "failed", asked_for_demo),
    )
    reasons = [f"{v.name} not met ({v.evidence!r})" for v in criteria if v.status != "met"]
    return Decision(not reasons, criteria=criteria, reasons=reasons, policy="enterprise_ready@1")


def acme_funnel() -> Funnel:
    """Visitor to customer: marketing qualifies, sales accepts within 4 business hours."""
    return (
        Funnel.builder("acme")
        .stage("visitor", "marketing")
        .stage("lead", "marketing")
        .stage("mql", "marketing", label="Marketing qualified lead")
        .stage("sal", "sales", label="Sales accepted lead")
        .stage("opportunity", "sales")
        .stage("customer", "success", outcome="won")
        .stage("nurture", "marketing")
        .stage("lost", "sales", outcome="lost")
        .move("sign_up", "visitor", "lead")
        .move("qualify", "lead", "mql", policy=enterprise_ready, auto=True)
        .move("send_to_sales", "mql", "sal", sla="4 business hours")
        .move("open_opportunity", "sal", "opportunity")
        .move("win", "opportunity", "customer", sla="1 business days")
        .move("nurture", "*", "nurture")
        .move("recycle", "nurture", "lead", backward=True)
        .move("lose", "*", "lost", requires_reason=True)
        .build()
    )


class SalesInbox:
    """A hook: tells the sales team about every lead handed to it (a stand-in for Slack or e-mail)."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def after_handoff(self, handoff, lead) -> None:  # noqa: ANN001 - hook arguments, see funnelkit.hooks
        self.messages.append(f"{handoff.to_team}: {lead.id} is yours, due {handoff.due_at:%a %H:%M}")
