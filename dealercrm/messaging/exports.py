"""Direct mail: the address list of queued mail-channel messages, as XLSX or CSV.

The outbox never dispatches the mail channel — a letter is printed and posted by people — so the
export is what sends them: the rows exported are marked "sent" in the same transaction, set-based,
and the export is written to the audit log, because it is personal data leaving the system (PIPL).
Rows are locked while they are read (PostgreSQL; SQLite's IMMEDIATE transactions let one writer
in at a time), so two people exporting at once never post the same letter twice.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import islice

import xlsxwriter
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.audit import audit_record
from dealercrm.core.models import AuditEvent, User
from dealercrm.core.spreadsheets import csv_bytes_bom, neutral_row

from .models import Channel, Message, MessageQuerySet, MessageStatus, ProviderKind

FORMATS = ("xlsx", "csv")
CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
# Ids per UPDATE: well under every engine's limit of bound parameters.
UPDATE_BATCH = 5_000


@dataclass(frozen=True)
class MailExport:
    """The exported file, ready to be answered as a download."""

    filename: str
    content_type: str
    content: bytes
    count: int


def mail_queue(
    *, dealer_id: int, campaign_id: int | None = None, without_campaign: bool = False
) -> MessageQuerySet:
    """Queued outbound direct-mail messages of one dealer (of one campaign, or of none)."""
    qs = Message.objects.filter(
        dealer_id=dealer_id,
        channel=Channel.MAIL,
        direction=Message.Direction.OUTBOUND,
        status=MessageStatus.QUEUED,
    )
    if without_campaign:
        qs = qs.filter(campaign__isnull=True)
    elif campaign_id is not None:
        qs = qs.filter(campaign_id=campaign_id)
    return qs


def _headers() -> list[str]:
    return [_("Recipient"), _("Address"), _("Postcode"), _("Text"), _("Campaign"), _("Message no.")]


def _rows(raw: Iterable[tuple]) -> list[list[str]]:
    rows = []
    for _pk, name, address, params, body, campaign in raw:
        postcode = str((params or {}).get("postcode") or "") if isinstance(params, dict) else ""
        rows.append([name or "", address or "", postcode, body or "", campaign or "", str(_pk)])
    return rows


def _as_csv(headers: Sequence[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows(neutral_row(row) for row in rows)
    return csv_bytes_bom(out.getvalue())


def _as_xlsx(headers: Sequence[str], rows: list[list[str]]) -> bytes:
    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = workbook.add_worksheet(_("Direct mail"))
    bold = workbook.add_format({"bold": True})
    wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
    for col, title in enumerate(headers):
        sheet.write_string(0, col, title, bold)
    for r, row in enumerate(rows, start=1):
        for col, cell in enumerate(row):
            # write_string, never write: a text starting with "=" stays text, not a formula.
            sheet.write_string(r, col, cell, wrap if col in (1, 3) else None)
    sheet.set_column(0, 0, 14)
    sheet.set_column(1, 1, 40)
    sheet.set_column(2, 2, 10)
    sheet.set_column(3, 3, 60)
    sheet.set_column(4, 4, 20)
    sheet.set_column(5, 5, 12)
    sheet.freeze_panes(1, 0)
    workbook.close()
    return out.getvalue()


def _batches(ids: list[int], size: int) -> Iterable[list[int]]:
    it = iter(ids)
    while chunk := list(islice(it, size)):
        yield chunk


def mail_list_export(
    *,
    actor: User,
    dealer_id: int,
    fmt: str = "xlsx",
    campaign_id: int | None = None,
    without_campaign: bool = False,
    request: HttpRequest | None = None,
) -> MailExport:
    """Export the dealer's queued direct mail (all, one campaign's, or that of no campaign) and
    mark what was exported as sent. Raises ValidationError (field "format") for an unknown
    format. Audited as an export when anything was exported."""
    if fmt not in FORMATS:
        raise ValidationError({"format": _("Choose XLSX or CSV.")})
    now = timezone.now()
    with transaction.atomic():
        qs = mail_queue(
            dealer_id=dealer_id, campaign_id=campaign_id, without_campaign=without_campaign
        ).order_by("campaign_id", "id")
        if connection.features.has_select_for_update_of:
            qs = qs.select_for_update(of=("self",))
        raw = list(
            qs.values_list("pk", "customer__name", "to_address", "params", "body", "campaign__name")
        )
        ids = [row[0] for row in raw]
        for chunk in _batches(ids, UPDATE_BATCH):
            Message.objects.filter(dealer_id=dealer_id, pk__in=chunk).update(
                status=MessageStatus.SENT,
                status_reason=_("exported to the direct mail list"),
                sent_at=now,
                status_changed_at=now,
                provider=ProviderKind.MAIL_EXPORT,
            )
        if ids:
            audit_record(
                actor=actor,
                action=AuditEvent.Action.EXPORT,
                target_type="messaging.message",
                target_repr=_("Direct mail list: %(count)d addresses") % {"count": len(ids)},
                dealer_id=dealer_id,
                changes={
                    "count": len(ids),
                    "format": fmt,
                    "campaign_id": campaign_id,
                    "without_campaign": without_campaign,
                    "first_id": ids[0],
                    "last_id": ids[-1],
                },
                request=request,
            )
    headers = _headers()
    rows = _rows(raw)
    content = _as_xlsx(headers, rows) if fmt == "xlsx" else _as_csv(headers, rows)
    stamp = timezone.localtime(now).strftime("%Y%m%d-%H%M")
    return MailExport(
        filename=f"direct-mail-{stamp}.{fmt}",
        content_type=CONTENT_TYPES[fmt],
        content=content,
        count=len(ids),
    )
