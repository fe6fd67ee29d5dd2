"""Exports of customers and lists: a job per request, run in the background, with progress.

An export belongs to the user who asked for it (only they can see and download it); it records
whether personal data was masked, and every export is audit-logged.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ExportKind(models.TextChoices):
    CUSTOMERS = "customers", _("Customers")
    AUDIT_FAILURES = "audit_failures", _("Records failing a data-quality check")
    DUPLICATES = "duplicates", _("Possible duplicates")


class ExportFormat(models.TextChoices):
    XLSX = "xlsx", _("Excel (XLSX)")
    CSV = "csv", _("CSV")


class ExportStatus(models.TextChoices):
    QUEUED = "queued", _("Waiting to start")
    RUNNING = "running", _("Exporting")
    DONE = "done", _("Ready to download")
    FAILED = "failed", _("Failed")


class ExportJob(models.Model):
    """One export: what (kind and filters), for whom, in which format, and how far it got."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    # The dealer the export was made in (None for an OEM user's export across the brand).
    dealer = models.ForeignKey(
        "core.Dealer", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=ExportKind.choices)
    file_format = models.CharField(_("format"), max_length=8, choices=ExportFormat.choices)
    filters = models.JSONField(default=dict)
    masked = models.BooleanField(_("personal data masked"), default=True)
    status = models.CharField(
        _("status"), max_length=10, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    total_rows = models.PositiveIntegerField(null=True, blank=True)
    done_rows = models.PositiveIntegerField(default=0)
    # Where the file is kept, relative to settings.EXPORT_DIR.
    stored_path = models.CharField(max_length=255, blank=True)
    filename = models.CharField(_("file"), max_length=255, blank=True)
    failure = models.TextField(blank=True)
    created_at = models.DateTimeField(_("requested at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        indexes = [models.Index(fields=["created_by", "-created_at"], name="export_mine")]

    def __str__(self) -> str:
        return self.filename or self.kind
