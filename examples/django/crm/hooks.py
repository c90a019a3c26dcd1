"""funnelkit hooks of the example, named in ``settings.FUNNELKIT["HOOKS"]``."""

from crm.models import Company, SalesNote


class SalesInbox:
    """Tells sales about every handoff it receives, once the move has committed."""

    def after_handoff(self, *, handoff, lead, key):
        company = Company.objects.get(slug=lead.id)
        SalesNote.objects.get_or_create(key=key, defaults={
            "company": company,
            "text": f"{company.name} ({company.employees} people) is yours until {handoff.due_at:%a %H:%M}",
        })
