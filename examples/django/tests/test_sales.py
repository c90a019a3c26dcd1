"""The example's sales process: the form, the host's transaction, the handoff to sales."""

import pytest
from crm.models import Company, SalesNote

from funnelkit import PolicyRefused, ReasonRequired
from funnelkit.testing import assert_handoff, assert_journey

FORM = {"slug": "acme", "name": "Acme", "employees": 120, "email": "ops@acme.example"}


def test_the_form_captures_and_qualifies_a_big_company(client, pipeline):
    """A company of 120 becomes a marketing-qualified lead, mirrored on its own row."""
    response = client.post("/", FORM)
    assert response.status_code == 302
    assert Company.objects.get(slug="acme").stage == "mql"
    assert_journey(pipeline.history("acme"), ["lead", "mql"])
    assert pipeline.history("acme")[0].actor == "web form"


def test_a_small_company_stays_a_lead(client, pipeline):
    """The qualification rule (employees >= 50) refuses a company of 12."""
    client.post("/", {**FORM, "employees": 12})
    assert Company.objects.get(slug="acme").stage == "lead"
    assert pipeline.get("acme").stage == "lead"
    assert pipeline.history("acme") == []


def test_an_invalid_form_writes_nothing(client, pipeline):
    """A form error stores neither the company nor a lead."""
    response = client.post("/", {**FORM, "email": "not an email"})
    assert response.status_code == 400
    assert not Company.objects.exists()
    assert list(pipeline.store.leads()) == []


def test_the_company_and_its_lead_roll_back_together(client, pipeline, monkeypatch):
    """A failure after the lead was captured undoes the company row and the lead."""

    def broken(*args, **kwargs):
        raise RuntimeError("the qualification service is down")

    monkeypatch.setattr(pipeline, "fire", broken)
    with pytest.raises(RuntimeError):
        client.post("/", FORM)
    assert not Company.objects.exists()
    assert list(pipeline.store.leads()) == []


def test_sales_hears_of_a_handoff_once_it_has_committed(
    client, pipeline, django_capture_on_commit_callbacks
):
    """The handoff's after-hook (a SalesNote) runs after the view's transaction commits.

    pytest-django runs each test in a transaction that never commits, so the delivery Django
    would run on commit is captured here and run by hand.
    """
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.post("/", FORM)
        assert client.post("/companies/acme/hand_to_sales/").status_code == 302
        assert not SalesNote.objects.exists()  # committed? not yet: nothing delivered
    assert callbacks  # the delivery waits for the commit
    for callback in callbacks:
        callback()
    (note,) = SalesNote.objects.all()
    assert note.text == "Acme (120 people) is yours until Mon 13:00"
    assert_handoff(pipeline.handoffs(status="pending"), lead_id="acme", to_team="sales",
                   due_within="4 business hours", calendar=pipeline.calendar)


@pytest.mark.django_db(transaction=True)
def test_a_real_commit_delivers_the_handoff(client, pipeline):
    """With real commits (transaction=True), the note exists as soon as the request returns."""
    client.post("/", FORM)
    client.post("/companies/acme/hand_to_sales/")
    assert SalesNote.objects.get().company.slug == "acme"
    assert pipeline.store.outbox() == []  # delivered and acknowledged


def test_a_refused_move_is_a_409_and_changes_nothing(client, pipeline):
    """Losing a deal needs a reason: without one the view answers 409 and nothing moves."""
    client.post("/", FORM)
    client.post("/companies/acme/hand_to_sales/")
    response = client.post("/companies/acme/lose/")
    assert response.status_code == 409
    assert "reason" in response.content.decode()
    assert Company.objects.get(slug="acme").stage == "sql"
    client.post("/companies/acme/lose/", {"reason": "went with a competitor"})
    assert Company.objects.get(slug="acme").stage == "lost"
    assert pipeline.history("acme")[-1].reason == "went with a competitor"


# -- the sales process alone, on funnelkit's memory store and frozen clock ----------------------


def test_the_process_on_the_memory_store(sales, funnelkit_clock):
    """The funnel itself: the rule, the SLA in business hours, a reason to lose."""
    sales.capture("small", attributes={"employees": 12})
    with pytest.raises(PolicyRefused):
        sales.fire("small", "qualify")
    sales.capture("big", attributes={"employees": 300})
    sales.fire("big", "qualify")
    funnelkit_clock.advance(hours=1)
    sales.fire("big", "hand_to_sales")
    assert_handoff(sales.handoffs(status="pending"), lead_id="big", from_team="marketing",
                   to_team="sales", due_within="4 business hours", calendar=sales.calendar)
    with pytest.raises(ReasonRequired):
        sales.fire("big", "lose")
    assert_journey(sales.history("big"), ["lead", "mql", "sql"])
