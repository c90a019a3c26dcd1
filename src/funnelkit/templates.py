"""Ready funnels from the literature, each with no guards until you attach policies.

Every template takes ``policies={event: policy}`` to guard moves by event name, and when the
qualifying event gets a policy it is also marked ``auto`` so the pipeline fires it as soon as the
policy passes (for example when a lead's score crosses a threshold).  A policy is given as
:meth:`Funnel.from_dict <funnelkit.Funnel.from_dict>` takes it: a callable
``policy(lead, context) -> Decision``, a rule string (``"employees >= 200"``) or
``{"use": name, "params": {...}}`` naming a ready policy; a template is built through
``from_dict``, so its mistakes are reported the same way, every one in one
:class:`~funnelkit.InvalidFunnel`.

>>> from funnelkit import templates
>>> [s.name for s in templates.temperature().stages]
['cold', 'warm', 'hot', 'customer', 'lost']
>>> funnel = templates.inbound(policies={"qualify": "employees >= 200"})
>>> move = funnel.move("lead", "qualify")
>>> move.policy, move.auto
('employees >= 200', True)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from funnelkit._definition.funnel import Funnel, FunnelBuilder

if TYPE_CHECKING:
    from funnelkit._core.decision import Policy

__all__ = ["demand_waterfall", "inbound", "predictable_revenue", "temperature"]


def _finish(
    builder: FunnelBuilder, policies: Mapping[str, Policy | str | Mapping[str, Any]] | None,
    auto: str,
) -> Funnel:
    """The template's funnel, with *policies* attached by ``Funnel.from_dict``.

    ``from_dict`` owns the one check of the argument and of its event names and the one
    conversion of policy data (rule strings, ``{"use": ...}``); the template only marks its
    qualifying event *auto* when that event gets a policy.
    """
    funnel = builder.build()
    if policies is None:
        return funnel
    data = funnel.to_dict()
    given: object = policies  # from_dict refuses what is not a mapping
    if isinstance(given, Mapping) and auto in given:
        for move in data["moves"]:
            if move["event"] == auto:
                move["auto"] = True
    return Funnel.from_dict(data, policies=policies)


def inbound(
    *, policies: Mapping[str, Policy | str | Mapping[str, Any]] | None = None
) -> Funnel:
    """The inbound marketing lifecycle: subscriber to evangelist, with nurture and disqualified.

    Stages follow HubSpot's lifecycle stages (subscriber, lead, marketing qualified lead, sales
    qualified lead, opportunity, customer, evangelist) as the inbound methodology describes them:
    a lead stays with marketing until it is sales qualified, then sales works it, and success
    keeps the customer.  ``nurture`` (marketing) takes leads that are not ready yet;
    ``disqualified`` (lost) the ones that will never buy.

    ====================  ==========  ===========================================================
    stage                 team        how a lead gets there
    ====================  ==========  ===========================================================
    subscriber            marketing   the initial stage: an e-mail address and no more
    lead                  marketing   ``convert`` (filled a form, downloaded content)
    mql                   marketing   ``qualify`` (auto once a policy is attached and passes)
    sql                   sales       ``hand_to_sales``: the handoff, SLA 4 business hours
    opportunity           sales       ``open_opportunity``
    customer (won)        success     ``win``: handed to customer success, SLA 1 business day
    evangelist (won)      success     ``advocate``
    nurture               marketing   ``nurture`` from any open stage; ``recycle`` back to lead
    disqualified (lost)   sales       ``disqualify`` from any open stage
    ====================  ==========  ===========================================================

    >>> inbound().events_from("mql")
    ('hand_to_sales', 'nurture', 'disqualify')
    """
    builder = (
        FunnelBuilder("inbound")
        .stage("subscriber", "marketing", label="Subscriber")
        .stage("lead", "marketing", label="Lead")
        .stage("mql", "marketing", label="Marketing qualified lead")
        .stage("sql", "sales", label="Sales qualified lead")
        .stage("opportunity", "sales", label="Opportunity")
        .stage("customer", "success", label="Customer", outcome="won")
        .stage("evangelist", "success", label="Evangelist", outcome="won")
        .stage("nurture", "marketing", label="Nurture",
               description="not ready yet; marketing keeps in touch")
        .stage("disqualified", "sales", label="Disqualified", outcome="lost")
        .move("convert", "subscriber", "lead")
        .move("qualify", "lead", "mql")
        .move("hand_to_sales", "mql", "sql", sla="4 business hours")
        .move("open_opportunity", "sql", "opportunity")
        .move("win", "opportunity", "customer", sla="1 business days")
        .move("advocate", "customer", "evangelist")
        .move("nurture", "*", "nurture")
        .move("recycle", "nurture", "lead", backward=True)
        .move("disqualify", "*", "disqualified", requires_reason=True)
    )
    return _finish(builder, policies, auto="qualify")


def demand_waterfall(
    *, policies: Mapping[str, Policy | str | Mapping[str, Any]] | None = None
) -> Funnel:
    """SiriusDecisions' Demand Waterfall: inquiry, MQL, SAL, SQL, SQO, won or lost.

    Marketing turns inquiries into marketing qualified leads; sales accepts them (sales accepted
    lead, the handoff, SLA 1 business day), qualifies them (SQL) and turns them into sales
    qualified opportunities before they are won or lost.  Leads sales sends back go to
    ``inquiry`` with ``recycle`` (a backward move: a reason is required).

    >>> demand_waterfall().stage("sal").label
    'Sales accepted lead'
    """
    builder = (
        FunnelBuilder("demand_waterfall")
        .stage("inquiry", "marketing", label="Inquiry")
        .stage("mql", "marketing", label="Marketing qualified lead")
        .stage("sal", "sales", label="Sales accepted lead")
        .stage("sql", "sales", label="Sales qualified lead")
        .stage("sqo", "sales", label="Sales qualified opportunity")
        .stage("won", "sales", label="Closed won", outcome="won")
        .stage("lost", "sales", label="Closed lost", outcome="lost")
        .move("qualify", "inquiry", "mql")
        .move("accept", "mql", "sal", sla="1 business days")
        .move("qualify", "sal", "sql")
        .move("open_opportunity", "sql", "sqo")
        .move("win", "sqo", "won")
        .move("lose", "*", "lost", requires_reason=True)
        .move("recycle", ["mql", "sal", "sql", "sqo"], "inquiry", backward=True)
    )
    return _finish(builder, policies, auto="qualify")


def predictable_revenue(
    *, policies: Mapping[str, Policy | str | Mapping[str, Any]] | None = None
) -> Funnel:
    """Aaron Ross's Predictable Revenue: the SDR prospects and qualifies, the closer closes.

    Stages follow *Predictable Revenue* (Ross and Tyler, 2011): sales development reps (team
    ``sdr``) work prospects (spears, outbound) and inbound leads (nets) until they are
    ``qualified``, then ``hand_off`` them to an account executive (team ``ae``, the closer; SLA
    1 business day), who wins or loses them.  Leads that are not ready go to marketing's
    ``nurture`` and come back with ``recycle``.

    >>> predictable_revenue().teams
    ('sdr', 'ae', 'marketing')
    """
    builder = (
        FunnelBuilder("predictable_revenue")
        .stage("prospect", "sdr", label="Prospect")
        .stage("contacted", "sdr", label="Contacted")
        .stage("qualified", "sdr", label="Qualified by the SDR")
        .stage("handed_off", "ae", label="Handed to the account executive")
        .stage("won", "ae", label="Closed won", outcome="won")
        .stage("nurture", "marketing", label="Nurture")
        .stage("lost", "ae", label="Closed lost", outcome="lost")
        .move("contact", "prospect", "contacted")
        .move("qualify", "contacted", "qualified")
        .move("hand_off", "qualified", "handed_off", sla="1 business days")
        .move("win", "handed_off", "won")
        .move("lose", "*", "lost", requires_reason=True)
        .move("nurture", "*", "nurture")
        .move("recycle", "nurture", "prospect", backward=True)
    )
    return _finish(builder, policies, auto="qualify")


def temperature(
    *, policies: Mapping[str, Policy | str | Mapping[str, Any]] | None = None
) -> Funnel:
    """Cold, warm and hot leads: how ready a lead is to buy.

    Stages follow the cold / warm / qualified (hot) lead journey as small-business marketing
    writing describes it (for example *So, What's the Difference Between Sales and Marketing?*,
    one of the texts the project's vocabulary comes from): marketing turns cold leads into
    qualified ones, then sales techniques turn them into customers.
    A cold lead does not know the brand, a warm one has heard of it and shows some interest, a
    hot (qualified) one knows what it wants and needs convincing; marketing warms leads up and
    sales takes the hot ones (``heat`` is the handoff, SLA 4 business hours).  Leads that cool
    down go back to ``cold`` (a backward move: a reason is required).

    >>> temperature().events_from("warm")
    ('heat', 'cool', 'lose')
    """
    builder = (
        FunnelBuilder("temperature")
        .stage("cold", "marketing", label="Cold")
        .stage("warm", "marketing", label="Warm")
        .stage("hot", "sales", label="Hot")
        .stage("customer", "sales", label="Customer", outcome="won")
        .stage("lost", "sales", label="Lost", outcome="lost")
        .move("warm_up", "cold", "warm")
        .move("heat", "warm", "hot", sla="4 business hours")
        .move("buy", "hot", "customer")
        .move("cool", ["warm", "hot"], "cold", backward=True)
        .move("lose", "*", "lost", requires_reason=True)
    )
    return _finish(builder, policies, auto="heat")
