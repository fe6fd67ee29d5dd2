"""Imports of DMS exports and spreadsheets: a run per uploaded file, and what became of its rows.

Every data row of a file ends in exactly one of the run's counters (created, updated, unchanged,
error), so the counts add up to the rows read. Rows that matched an existing record (updated or
unchanged) and rows in error are also kept as `ImportRowIssue`s: the link to the record, or the
row number, field and reason of the error report. `processed_rows` is committed in the same
transaction as each batch's writes, so a killed run resumes exactly where it stopped.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealercrm.core.tenancy import DealerOwnedModel


class ImportKind(models.TextChoices):
    CUSTOMERS = "customers", _("Customers and vehicles")
    VEHICLES = "vehicles", _("Vehicles")
    SALES = "sales", _("Vehicle sales")
    REPAIR_ORDERS = "repair_orders", _("Repair orders")


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", _("Uploaded, columns to map")
    QUEUED = "queued", _("Waiting to start")
    RUNNING = "running", _("Importing")
    DONE = "done", _("Done")
    FAILED = "failed", _("Stopped by an error")


class ImportOutcome(models.TextChoices):
    CREATED = "created", _("Created")
    UPDATED = "updated", _("Merged into an existing record")
    UNCHANGED = "unchanged", _("Already there, unchanged")
    ERROR = "error", _("Not imported")


class ImportMapping(DealerOwnedModel):
    """A saved column mapping: which header of a source's files holds which field."""

    kind = models.CharField(_("kind"), max_length=16, choices=ImportKind.choices)
    # The source's name as the user saved it ("DMS 客户导出"), so the next file maps itself.
    source = models.CharField(_("source"), max_length=100)
    # {field name: header text as it appears in the file}
    columns = models.JSONField(_("columns"), default=dict)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )

    class Meta:
        verbose_name = _("column mapping")
        verbose_name_plural = _("column mappings")
        constraints = [
            models.UniqueConstraint(
                fields=["dealer", "kind", "source"], name="importmapping_unique_source"
            )
        ]

    def __str__(self) -> str:
        return self.source


class ImportRun(DealerOwnedModel):
    """One uploaded file being imported: its format, mapping, progress and counts."""

    kind = models.CharField(_("kind"), max_length=16, choices=ImportKind.choices)
    status = models.CharField(
        _("status"), max_length=12, choices=ImportStatus.choices, default=ImportStatus.UPLOADED
    )
    source = models.CharField(_("source"), max_length=100, blank=True)
    filename = models.CharField(_("file"), max_length=255)
    # Where the uploaded file is kept, relative to settings.IMPORT_DIR.
    stored_path = models.CharField(max_length=255)
    file_sha256 = models.CharField(max_length=64)
    file_size = models.BigIntegerField(_("size (bytes)"), default=0)
    file_format = models.CharField(_("format"), max_length=8)  # "csv" or "xlsx"
    encoding = models.CharField(_("encoding"), max_length=16, blank=True)
    sheet = models.CharField(_("sheet"), max_length=100, blank=True)
    # 0-based index of the header line among the file's lines (blank and title lines above it).
    header_row = models.PositiveIntegerField(default=0)
    headers = models.JSONField(default=list)
    mapping = models.JSONField(_("columns"), default=dict)
    total_rows = models.PositiveIntegerField(_("rows"), null=True, blank=True)
    # Data rows committed so far (each batch and this counter in one transaction): resume here.
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(_("created"), default=0)
    updated_count = models.PositiveIntegerField(_("merged into existing"), default=0)
    unchanged_count = models.PositiveIntegerField(_("unchanged"), default=0)
    error_count = models.PositiveIntegerField(_("errors"), default=0)
    failure = models.TextField(_("reason it stopped"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(_("uploaded at"), default=timezone.now)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    # Written with every batch: a RUNNING run whose heartbeat is old was killed and may resume.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        indexes = [models.Index(fields=["dealer", "-created_at"], name="importrun_recent")]

    def __str__(self) -> str:
        return self.filename

    @property
    def accounted_rows(self) -> int:
        return self.created_count + self.updated_count + self.unchanged_count + self.error_count


class ImportRowIssue(DealerOwnedModel):
    """A row that matched an existing record (with the link), or could not be imported (why)."""

    run = models.ForeignKey(
        ImportRun, on_delete=models.CASCADE, related_name="issues", db_index=False
    )
    # The row's number as a spreadsheet program shows it (1-based, header line included).
    row_number = models.PositiveIntegerField(_("row"))
    outcome = models.CharField(_("outcome"), max_length=12, choices=ImportOutcome.choices)
    field = models.CharField(_("field"), max_length=40, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    # Plain ids, not foreign keys: a later merge or deletion must not rewrite the import's record.
    customer_id = models.BigIntegerField(null=True, blank=True)
    vehicle_id = models.BigIntegerField(null=True, blank=True)
    record_id = models.BigIntegerField(null=True, blank=True)  # order / repair order
    # The row's cells as read ({header: text}), so the error report can be fixed and re-imported.
    values = models.JSONField(default=dict)

    class Meta:
        verbose_name = _("import row")
        verbose_name_plural = _("import rows")
        indexes = [
            models.Index(fields=["dealer", "run", "outcome", "row_number"], name="importissue_run")
        ]
