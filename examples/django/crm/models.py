"""The host's own data: companies, and the notes sales leaves when a lead reaches it."""

from django.db import models


class Company(models.Model):
    """A company that asked to be contacted; its funnelkit lead id is its slug."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    employees = models.PositiveIntegerField()
    email = models.EmailField()
    stage = models.CharField(max_length=40, default="lead")  # mirrors the lead, same transaction

    def __str__(self) -> str:
        return self.name


class SalesNote(models.Model):
    """Written by an after-hook once a handoff to sales has committed (idempotent on ``key``)."""

    key = models.CharField(max_length=255, unique=True)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, to_field="slug",
                                db_column="company_slug")
    text = models.TextField()

    def __str__(self) -> str:
        return self.text
