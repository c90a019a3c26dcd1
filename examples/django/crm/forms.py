"""The lead form."""

from django import forms

from crm.models import Company


class LeadForm(forms.ModelForm):
    """What a visitor fills in to be contacted."""

    class Meta:
        model = Company
        fields = ("slug", "name", "employees", "email")
