"""Views that write the host's rows and move the lead in one transaction."""

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from crm.forms import LeadForm
from crm.models import Company
from funnelkit import FunnelError, PolicyRefused
from funnelkit.contrib.django import get_pipeline


def capture(request: HttpRequest) -> HttpResponse:
    """The lead form: a Company row and its funnelkit lead, committed together or not at all."""
    form = LeadForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        pipeline = get_pipeline()
        with transaction.atomic():
            company = form.save()
            pipeline.capture(company.slug, attributes={"employees": company.employees})
            try:
                pipeline.fire(company.slug, "qualify", actor="web form")
                company.stage = "mql"
                company.save(update_fields=["stage"])
            except PolicyRefused:
                pass  # too small for marketing's qualification: it stays a lead
        return redirect("company", slug=company.slug)
    return render(request, "crm/capture.html", {"form": form}, status=400 if form.errors else 200)


def company(request: HttpRequest, slug: str) -> HttpResponse:
    """A company with its lead's stage and history."""
    company = get_object_or_404(Company, slug=slug)
    pipeline = get_pipeline()
    return render(request, "crm/company.html", {
        "company": company, "lead": pipeline.get(slug), "history": pipeline.history(slug)})


@require_POST
def move(request: HttpRequest, slug: str, event: str) -> HttpResponse:
    """Fire *event* for the company's lead and mirror its stage, in one transaction."""
    company = get_object_or_404(Company, slug=slug)
    try:
        with transaction.atomic():
            outcome = get_pipeline().fire(slug, event, actor=request.POST.get("actor") or None,
                                          reason=request.POST.get("reason") or None)
            company.stage = outcome.lead.stage
            company.save(update_fields=["stage"])
    except FunnelError as e:
        return HttpResponse(str(e), status=409, content_type="text/plain")
    return redirect("company", slug=slug)
