"""Exports of customers and lists to XLSX and CSV, as background jobs with progress.

Each kind of export is registered once (`register_export_kind`): its columns, a function that
streams its rows from the database for a user and filters, and one that counts them for the
progress bar. `export_start` checks the request and queues the job; `export_run` (the job) writes
the file in the scope of the user who asked, so an export never holds more than the user could
see on screen, and a consultant exports only their own customers.

Personal data: phones and ID numbers are masked unless the user may see them in full
(Perm.VIEW_FULL_CONTACT; OEM roles never). An unmasked export is the same as unmasking every row
in it, so every export is audit-logged, saying whether it was unmasked and how many rows it held.
Every text cell goes through `neutral_cell`, so a name like "=HYPERLINK(…)" stays text.
"""

from __future__ import annotations

import csv
import datetime
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import xlsxwriter
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import OuterRef, Q, Subquery
from django.http import QueryDict
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dealercrm.core.audit import audit_record
from dealercrm.core.models import AuditEvent, User
from dealercrm.core.permissions import Perm
from dealercrm.core.scoping import scope_for_user
from dealercrm.core.spreadsheets import CSV_CONTENT_TYPE, XLSX_CONTENT_TYPE, neutral_cell
from dealercrm.core.tenancy import dealer_scope
from dealercrm.customers.contact_masking import mask_phone
from dealercrm.customers.id_numbers import decrypt_id_number
from dealercrm.customers.models import CustomerPhone, LifecycleStage, SourceChannel
from dealercrm.customers.selectors import CustomerFilters, customer_list_queryset

from ..models import DuplicateCandidate, DuplicateStatus, ExportFormat, ExportJob, ExportKind
from ..models import ExportStatus as Status

logger = logging.getLogger(__name__)

# Rows read per query: big enough that a million rows take 500 round trips, small enough that
# a chunk (with its phones and tags) stays a few megabytes.
CHUNK_SIZE = 2_000
# The progress (done_rows) is written every this many rows: one small UPDATE per chunk.
PROGRESS_EVERY = 2_000
# Files are deleted this many days after the export finished (exports_purge, daily).
KEEP_DAYS = 7
# A job still queued or running after this long was lost with its worker.
STALE_AFTER = datetime.timedelta(hours=6)

CONTENT_TYPES = {ExportFormat.XLSX: XLSX_CONTENT_TYPE, ExportFormat.CSV: CSV_CONTENT_TYPE}

RowsFunction = Callable[[User, dict], Iterable[Sequence[Any]]]
CountFunction = Callable[[User, dict], int]
FiltersCleaner = Callable[[dict], dict]


@dataclass(frozen=True)
class ExportKindSpec:
    """What one kind of export writes, and who may ask for it."""

    kind: str
    # Column titles (lazy translations, or a function returning them), in the row's order.
    columns: Sequence[Any] | Callable[[], Sequence[Any]]
    rows: RowsFunction
    count: CountFunction | None = None
    clean_filters: FiltersCleaner | None = None
    permission: str = Perm.EXPORT_CUSTOMERS

    def titles(self) -> list[str]:
        columns = self.columns() if callable(self.columns) else self.columns
        return [str(title) for title in columns]


_KINDS: dict[str, ExportKindSpec] = {}


def register_export_kind(
    kind: str,
    *,
    columns: Sequence[Any] | Callable[[], Sequence[Any]],
    rows: RowsFunction,
    count: CountFunction | None = None,
    clean_filters: FiltersCleaner | None = None,
    permission: str = Perm.EXPORT_CUSTOMERS,
) -> ExportKindSpec:
    """Make `kind` exportable. `rows(user, filters)` yields row tuples streamed from the database
    (`.iterator(chunk_size=…)`, never a list of everything), already scoped to what `user` may
    see and masked unless `contact_masked(user)` is False; `count(user, filters)` gives the total
    for the progress bar; `clean_filters(filters)` returns them checked, or raises
    ValidationError naming the filter. Registering a kind again replaces it."""
    if kind not in ExportKind.values:
        raise ValueError(f"Unknown export kind {kind!r}: add it to ExportKind first.")
    spec = ExportKindSpec(
        kind=kind,
        columns=columns,
        rows=rows,
        count=count,
        clean_filters=clean_filters,
        permission=permission,
    )
    _KINDS[kind] = spec
    return spec


def export_kind(kind: str) -> ExportKindSpec | None:
    return _KINDS.get(kind)


def exportable_kinds(user: User) -> list[tuple[str, str]]:
    """(kind, label) of every registered kind the user may export."""
    return [
        (value, str(label))
        for value, label in ExportKind.choices
        if value in _KINDS and user.has_perm(_KINDS[value].permission)
    ]


def contact_masked(user: User) -> bool:
    """Whether phones and ID numbers are masked in this user's exports."""
    return not user.has_perm(Perm.VIEW_FULL_CONTACT)


def filters_from_query(query: str) -> dict[str, str]:
    """The filters of a list page's query string ("stage=owner&tag=VIP&page=3"): one value per
    name, empty values and the page number left out."""
    params = QueryDict(query or "")
    return {
        name: value for name in params if name != "page" and (value := params.get(name, "").strip())
    }


def phone_display(e164: str, *, masked: bool) -> str:
    """A phone as an export shows it: masked, or in full (national form for China)."""
    if masked:
        return mask_phone(e164)
    return e164[3:] if e164.startswith("+86") else e164


# --- starting and running ------------------------------------------------------------------------


def export_start(
    *, actor: User, kind: str, filters: dict | None = None, file_format: str
) -> ExportJob:
    """Check the request and queue the export (the job starts when this transaction commits).

    Raises ValidationError keyed "kind", "file_format" or "filters" with what is wrong, and
    PermissionDenied when the user may not export this kind."""
    errors: dict[str, list[str]] = {}
    spec = _KINDS.get(kind or "")
    if spec is None:
        choices = ", ".join(label for _value, label in exportable_kinds(actor))
        errors["kind"] = [
            _("Choose what to export: %(choices)s.") % {"choices": choices}
            if choices
            else _("There is nothing you may export.")
        ]
    if file_format not in ExportFormat.values:
        errors["file_format"] = [_("Choose XLSX or CSV.")]
    if filters is not None and not isinstance(filters, dict):
        errors["filters"] = [_("Filters must be pairs of a name and a value.")]
    if errors:
        raise ValidationError(errors)
    assert spec is not None
    if not actor.has_perm(spec.permission):
        raise PermissionDenied(_("You may not export this."))
    cleaned = spec.clean_filters(dict(filters or {})) if spec.clean_filters else {}
    with transaction.atomic():
        job = ExportJob.objects.create(
            created_by=actor,
            dealer_id=actor.dealer_id,
            kind=kind,
            file_format=file_format,
            filters=cleaned,
            masked=contact_masked(actor),
        )
        transaction.on_commit(lambda: _queue(job.pk))
    return job


def _queue(job_id: int) -> None:
    from ..export_jobs import export_run_job

    export_run_job(job_id)


def export_path(job: ExportJob) -> Path | None:
    """The file of a finished export, or None when there is none (any more)."""
    if job.status != Status.DONE or not job.stored_path:
        return None
    root = Path(settings.EXPORT_DIR).resolve()
    path = (root / job.stored_path).resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path


def export_run(*, job_id: int) -> ExportJob:
    """The job: write the file in the asking user's scope, with progress; then DONE (audited),
    or FAILED with the reason. Only a queued export is run, so running it twice does nothing."""
    claimed = ExportJob.objects.filter(pk=job_id, status=Status.QUEUED).update(
        status=Status.RUNNING, done_rows=0, failure=""
    )
    job = ExportJob.objects.select_related("created_by").get(pk=job_id)
    if not claimed:
        return job
    user = job.created_by
    root = Path(settings.EXPORT_DIR)
    stamp = timezone.localtime(job.created_at).strftime("%Y%m%d-%H%M")
    relative = f"{user.pk}/{job.pk}-{job.kind}-{stamp}.{job.file_format}"
    target = root / relative
    partial = target.with_name(target.name + ".part")
    try:
        with dealer_scope(scope_for_user(user)), translation.override(user.language or None):
            spec = _KINDS.get(job.kind)
            if spec is None:
                raise ValueError(_("This kind of export is no longer offered."))
            if not user.has_perm(spec.permission):
                raise PermissionDenied(_("You may no longer export this."))
            # The rule is applied when the rows are read; record what it was then.
            job.masked = contact_masked(user)
            job.total_rows = spec.count(user, job.filters) if spec.count else None
            ExportJob.objects.filter(pk=job.pk).update(masked=job.masked, total_rows=job.total_rows)
            target.parent.mkdir(parents=True, exist_ok=True)
            writer = _write_xlsx if job.file_format == ExportFormat.XLSX else _write_csv
            rows = writer(
                partial,
                title=str(ExportKind(job.kind).label),
                headers=spec.titles(),
                rows=spec.rows(user, job.filters),
                progress=lambda done: _progress(job.pk, done),
            )
            os.replace(partial, target)
            job.filename = f"{job.kind}-{stamp}.{job.file_format}"
            with transaction.atomic():
                ExportJob.objects.filter(pk=job.pk).update(
                    status=Status.DONE,
                    done_rows=rows,
                    total_rows=rows,
                    stored_path=relative,
                    filename=job.filename,
                    finished_at=timezone.now(),
                )
                _audit(job, rows=rows)
    except Exception as exc:  # the job must end FAILED with the reason, whatever went wrong
        logger.exception("Export %s failed", job_id)
        partial.unlink(missing_ok=True)
        target.unlink(missing_ok=True)
        reason = str(exc) or exc.__class__.__name__
        ExportJob.objects.filter(pk=job_id).update(
            status=Status.FAILED, failure=reason[:2000], finished_at=timezone.now()
        )
    job.refresh_from_db()
    return job


def _progress(job_id: int, done: int) -> None:
    ExportJob.objects.filter(pk=job_id).update(done_rows=done)


def _audit(job: ExportJob, *, rows: int) -> None:
    kind_label = str(ExportKind(job.kind).label)
    if job.masked:
        text = _("Export of %(kind)s: %(rows)d rows, personal data masked")
    else:
        text = _("Export of %(kind)s: %(rows)d rows with full phones and ID numbers")
    audit_record(
        actor=job.created_by,
        action=AuditEvent.Action.EXPORT,
        target=job,
        target_repr=text % {"kind": kind_label, "rows": rows},
        dealer_id=job.dealer_id,
        changes={
            "kind": job.kind,
            "format": job.file_format,
            "filters": job.filters,
            "rows": rows,
            # An unmasked export shows every row's full contact: an unmasking of each of them.
            "unmasked": not job.masked,
            "unmasked_rows": 0 if job.masked else rows,
        },
    )


# --- writing the files --------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A cell value both writers take: local naive datetimes, text through neutral_cell."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.replace(tzinfo=None, microsecond=0)
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, int | float | datetime.date):
        return value
    return neutral_cell(str(value))


def _write_csv(
    path: Path,
    *,
    title: str,
    headers: list[str],
    rows: Iterable[Sequence[Any]],
    progress: Callable[[int], None],
) -> int:
    count = 0
    # utf-8-sig writes the byte-order mark, so Excel opens the file as UTF-8 (Chinese readable).
    with open(path, "w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([neutral_cell(h) for h in headers])
        for row in rows:
            cells = []
            for value in row:
                value = _plain(value)
                if isinstance(value, datetime.datetime):
                    value = value.strftime("%Y-%m-%d %H:%M:%S")
                elif isinstance(value, datetime.date):
                    value = value.isoformat()
                cells.append(value)
            writer.writerow(cells)
            count += 1
            if count % PROGRESS_EVERY == 0:
                progress(count)
    return count


def _write_xlsx(
    path: Path,
    *,
    title: str,
    headers: list[str],
    rows: Iterable[Sequence[Any]],
    progress: Callable[[int], None],
) -> int:
    # constant_memory: each row is flushed to disk as written, so a million rows need no more
    # memory than one (rows must then be written in order, which a stream is).
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    try:
        # Sheet names: at most 31 characters, none of []:*?/\ .
        sheet = workbook.add_worksheet(
            "".join(c for c in title if c not in "[]:*?/\\")[:31] or "export"
        )
        bold = workbook.add_format({"bold": True})
        stamp = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})
        day = workbook.add_format({"num_format": "yyyy-mm-dd"})
        for col, header in enumerate(headers):
            sheet.write_string(0, col, str(neutral_cell(header)), bold)
        sheet.freeze_panes(1, 0)
        count = 0
        for r, row in enumerate(rows, start=1):
            for col, value in enumerate(row):
                value = _plain(value)
                if isinstance(value, datetime.datetime):
                    sheet.write_datetime(r, col, value, stamp)
                elif isinstance(value, datetime.date):
                    sheet.write_datetime(r, col, value, day)
                elif isinstance(value, int | float):
                    sheet.write_number(r, col, value)
                elif value:
                    # write_string, never write(): text is never read as a formula.
                    sheet.write_string(r, col, value)
            count = r
            if count % PROGRESS_EVERY == 0:
                progress(count)
    finally:
        workbook.close()
    return count


# --- customers -----------------------------------------------------------------------------------

_CUSTOMER_FILTERS = ("stage", "consultant", "tag", "source")


def _customer_columns() -> list[Any]:
    return [
        _("Customer no."),
        _("Name"),
        _("Kind"),
        _("Gender"),
        _("Phones"),
        _("ID number"),
        _("E-mail"),
        _("WeChat ID"),
        _("Province"),
        _("City"),
        _("District"),
        _("Street address"),
        _("Lifecycle stage"),
        _("Source"),
        _("Consultant"),
        _("Tags"),
        _("Created at"),
        _("Dealer"),
    ]


def clean_customer_filters(filters: dict) -> dict:
    """The customer list's filters (stage, consultant, tag, source), checked: an unknown name or
    value is refused with a message naming it, so an export never silently holds more rows than
    the list it came from."""
    problems: list[str] = []
    cleaned: dict[str, Any] = {}
    for name, raw in filters.items():
        value = str(raw).strip() if raw is not None else ""
        if name == "page" or not value:
            continue
        if name == "stage":
            if value not in LifecycleStage.values:
                problems.append(_("Unknown lifecycle stage “%(value)s”.") % {"value": value})
                continue
        elif name == "source":
            if value not in SourceChannel.values:
                problems.append(_("Unknown source “%(value)s”.") % {"value": value})
                continue
        elif name == "consultant":
            if not value.isdigit() or int(value) < 1:
                problems.append(
                    _("Consultant must be a staff number, not “%(value)s”.") % {"value": value}
                )
                continue
            cleaned[name] = int(value)
            continue
        elif name == "tag":
            if len(value) > 40:
                problems.append(_("A tag has at most 40 characters."))
                continue
        else:
            problems.append(_("Unknown filter “%(name)s” for a customer export.") % {"name": name})
            continue
        cleaned[name] = value
    if problems:
        raise ValidationError({"filters": problems})
    return cleaned


def _customer_queryset(user: User, filters: dict):  # noqa: ANN202
    params = {name: str(value) for name, value in filters.items() if name in _CUSTOMER_FILTERS}
    # The list page's own selector: the same visibility (a consultant's own customers only)
    # and the same filters as the page the export was started from.
    return customer_list_queryset(user, CustomerFilters.from_params(params)).select_related(
        "dealer"
    )


def customer_export_count(user: User, filters: dict) -> int:
    return _customer_queryset(user, filters).order_by().count()


def customer_export_rows(user: User, filters: dict) -> Iterator[tuple]:
    masked = contact_masked(user)
    customers = _customer_queryset(user, filters).order_by("id").iterator(chunk_size=CHUNK_SIZE)
    for customer in customers:
        phones = "; ".join(
            phone_display(phone.number, masked=masked) for phone in customer.phones.all()
        )
        if masked or not customer.id_number_encrypted:
            id_number = customer.id_number_masked
        else:
            id_number = decrypt_id_number(customer.id_number_encrypted)
        yield (
            customer.pk,
            customer.name,
            customer.get_kind_display(),
            customer.get_gender_display(),
            phones,
            id_number,
            customer.email,
            customer.wechat_id,
            customer.province,
            customer.city,
            customer.district,
            customer.street,
            customer.get_lifecycle_stage_display(),
            customer.get_source_channel_display(),
            str(customer.assigned_consultant) if customer.assigned_consultant else "",
            ", ".join(tag.name for tag in customer.tags.all()),
            customer.created_at,
            customer.dealer.name,
        )


register_export_kind(
    ExportKind.CUSTOMERS,
    columns=_customer_columns,
    rows=customer_export_rows,
    count=customer_export_count,
    clean_filters=clean_customer_filters,
)


# --- possible duplicates --------------------------------------------------------------------------

_MATCH_LABELS = {
    "phone": gettext_lazy("phone"),
    "id_number": gettext_lazy("ID number"),
    "vin": gettext_lazy("VIN"),
    "plate": gettext_lazy("plate"),
    "email": gettext_lazy("e-mail"),
    "wechat": gettext_lazy("WeChat ID"),
    "unionid": gettext_lazy("WeChat ID"),
}


def _duplicate_columns() -> list[Any]:
    return [
        _("Dealer"),
        _("Customer no. A"),
        _("Customer A"),
        _("Phone A"),
        _("Customer no. B"),
        _("Customer B"),
        _("Phone B"),
        _("Dealer of B"),
        _("Confidence (%)"),
        _("What matched"),
        _("Found at"),
    ]


def what_matched(reasons: dict) -> str:
    """The reasons of a candidate pair in words: "same phone, VIN; name 93%; same birthday"."""
    if not isinstance(reasons, dict):
        return ""
    parts = []
    blocks = [str(_MATCH_LABELS.get(b, b)) for b in reasons.get("blocks") or []]
    if blocks:
        parts.append(_("same %(fields)s") % {"fields": ", ".join(dict.fromkeys(blocks))})
    for key, label in (("name", _("name")), ("address", _("address"))):
        score = reasons.get(key)
        if isinstance(score, int | float) and not isinstance(score, bool) and score > 0:
            parts.append(f"{label} {round(score * 100)}%")
    if reasons.get("birthday") is True:
        parts.append(_("same birthday"))
    if reasons.get("household") is True:
        parts.append(_("same household"))
    return "; ".join(parts)


def _duplicate_queryset(user: User, filters: dict):  # noqa: ANN202
    qs = DuplicateCandidate.objects.filter(
        status=DuplicateStatus.OPEN,
        customer_a__is_deleted=False,
        customer_b__is_deleted=False,
    )
    if not user.has_perm(Perm.VIEW_NETWORK):
        # Pairs across dealers are the OEM's to review: a dealer never sees the other's customer.
        qs = qs.filter(cross_dealer=False)
    if not user.has_perm(Perm.VIEW_ALL_DEALER_CUSTOMERS):
        qs = qs.filter(
            Q(customer_a__assigned_consultant_id=user.pk)
            & Q(customer_b__assigned_consultant_id=user.pk)
        )
    return qs


def _primary_phone(dealer_field: str, customer_field: str) -> Subquery:
    return Subquery(
        CustomerPhone.objects.filter(
            dealer_id=OuterRef(dealer_field), customer_id=OuterRef(customer_field)
        )
        .order_by("-is_primary", "id")
        .values("number")[:1]
    )


def duplicate_export_count(user: User, filters: dict) -> int:
    return _duplicate_queryset(user, filters).count()


def duplicate_export_rows(user: User, filters: dict) -> Iterator[tuple]:
    rows = (
        _duplicate_queryset(user, filters)
        .annotate(
            phone_a=_primary_phone("dealer_id", "customer_a_id"),
            phone_b=_primary_phone("other_dealer_id", "customer_b_id"),
        )
        .order_by("-score", "id")
        .values_list(
            "dealer__name",
            "customer_a_id",
            "customer_a__name",
            "phone_a",
            "customer_b_id",
            "customer_b__name",
            "phone_b",
            "other_dealer__name",
            "score",
            "reasons",
            "found_at",
        )
        .iterator(chunk_size=CHUNK_SIZE)
    )
    for (
        dealer,
        a_id,
        a_name,
        phone_a,
        b_id,
        b_name,
        phone_b,
        b_dealer,
        score,
        reasons,
        found,
    ) in rows:
        # The queue compares people, it does not call them: phones are always masked here.
        yield (
            dealer,
            a_id,
            a_name,
            mask_phone(phone_a) if phone_a else "",
            b_id,
            b_name,
            mask_phone(phone_b) if phone_b else "",
            b_dealer,
            round(score * 100, 1),
            what_matched(reasons),
            found,
        )


def clean_no_filters(filters: dict) -> dict:
    unknown = [
        name for name, value in filters.items() if name != "page" and value not in ("", None)
    ]
    if unknown:
        raise ValidationError(
            {
                "filters": [
                    _("This export takes no filters; remove “%(names)s”.")
                    % {"names": ", ".join(unknown)}
                ]
            }
        )
    return {}


register_export_kind(
    ExportKind.DUPLICATES,
    columns=_duplicate_columns,
    rows=duplicate_export_rows,
    count=duplicate_export_count,
    clean_filters=clean_no_filters,
    permission=Perm.REVIEW_DUPLICATES,
)


# --- housekeeping ---------------------------------------------------------------------------------


def exports_purge(*, keep_days: int = KEEP_DAYS) -> dict[str, int]:
    """Delete export files older than `keep_days` (the job keeps its row, without a file), files
    in the export folder that no job points to any more, and fail jobs lost with their worker.
    Set-based: one UPDATE per kind of change."""
    now = timezone.now()
    cutoff = now - datetime.timedelta(days=keep_days)
    root = Path(settings.EXPORT_DIR)
    expired = ExportJob.objects.filter(status=Status.DONE, finished_at__lt=cutoff).exclude(
        stored_path=""
    )
    paths = list(expired.values_list("stored_path", flat=True))
    for relative in paths:
        (root / relative).unlink(missing_ok=True)
    cleared = expired.update(stored_path="")
    # Leftovers: partial files of a killed worker, files of deleted jobs.
    strays = 0
    if root.is_dir():
        for path in root.glob("*/*"):
            if path.is_file() and path.stat().st_mtime < cutoff.timestamp():
                path.unlink(missing_ok=True)
                strays += 1
    lost = ExportJob.objects.filter(
        status__in=[Status.QUEUED, Status.RUNNING], created_at__lt=now - STALE_AFTER
    ).update(
        status=Status.FAILED,
        failure=_("The export was interrupted. Start it again."),
        finished_at=now,
    )
    return {"deleted": len(paths), "cleared": cleared, "strays": strays, "failed": lost}


def export_percent(job: ExportJob) -> int:
    """How far the export got, 0–100, for the progress bar."""
    if job.status == Status.DONE:
        return 100
    if not job.total_rows:
        return 0
    return min(100, int(job.done_rows * 100 / job.total_rows))


def export_rows_for(user: User) -> list[ExportJob]:
    """The user's own exports, newest first (another user's are never shown)."""
    return list(ExportJob.objects.filter(created_by=user).order_by("-created_at", "-id")[:100])
