"""Import runs: upload → map → start → execute (batches, resumable) → error report.

The engine is in import_engine.py, each kind's writes in import_writers.py (WRITERS, the
KindWriter protocol), the error report in import_reports.py. Views, the API and the CLI call
the functions here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.models import User
from dealercrm.core.tenancy import require_scope
from dealercrm.dataquality.models import ImportKind, ImportMapping, ImportRun, ImportStatus

from . import import_engine
from .import_fields import FIELDS, guess_mapping, missing_required
from .import_files import FileProblem, inspect_table
from .import_reports import error_report

# A RUNNING run whose last batch is older than this was killed: it may be resumed.
STALE_AFTER = dt.timedelta(minutes=2)
_CHUNK = 1024 * 1024


def _actor_id(actor: User | None) -> int | None:
    return actor.pk if actor is not None and actor.is_authenticated else None


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}"


def _store(file: IO[bytes] | Path, target: Path, max_bytes: int | None) -> tuple[str, int]:
    """Copy the upload to `target` in chunks: (sha256 hex, size). Too large: FileProblem."""
    digest = hashlib.sha256()
    size = 0
    source = file.open("rb") if isinstance(file, Path) else file
    try:
        with target.open("wb") as out:
            while chunk := source.read(_CHUNK):
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise FileProblem({"file": [_too_large(file, size, max_bytes)]})
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    finally:
        if isinstance(file, Path):
            source.close()
    return digest.hexdigest(), size


def _too_large(file: IO[bytes] | Path, read: int, max_bytes: int) -> str:
    size = getattr(file, "size", None) or read
    return _(
        "The file is %(size)s MB or more; uploads here take at most %(limit)s MB. Import larger "
        "files with the command line: dealercrm import FILE --kind … --dealer …"
    ) % {"size": _megabytes(size), "limit": _megabytes(max_bytes)}


def _check_kind(kind: str) -> None:
    if kind not in ImportKind.values or kind not in FIELDS:
        raise ValidationError({"kind": [_("Choose what the file holds.")]})


def _check_dealer(dealer_id: int) -> None:
    if not require_scope().allows(dealer_id):
        raise PermissionDenied(_("You may not import into this dealer."))


def import_run_create(
    *,
    actor: User | None,
    dealer_id: int,
    kind: str,
    file: IO[bytes] | Path,
    filename: str,
    max_bytes: int | None = None,
) -> ImportRun:
    """Store the upload under IMPORT_DIR/<dealer_id>/<uuid>.<ext>, inspect it, guess the mapping.

    `max_bytes`: web uploads pass settings.IMPORT_MAX_UPLOAD_MB * 1024 * 1024; the CLI passes
    None. A too-large or unreadable file raises ValidationError({"file": [...]}) and nothing is
    kept (neither the copy nor a run). The run is UPLOADED with its format, encoding, header line
    and headers, and `mapping` set to a saved ImportMapping of the dealer whose columns all
    appear in the headers (its name goes to run.source), else to the guess from the headers.
    """
    _check_dealer(dealer_id)
    _check_kind(kind)
    if file is None:
        raise ValidationError({"file": [_("Choose a file to import.")]})
    suffix = Path(filename).suffix.lower()
    suffix = suffix if suffix in (".csv", ".xlsx", ".txt", ".xls") else ".bin"
    relative = Path(str(dealer_id)) / f"{uuid.uuid4().hex}{suffix}"
    target = Path(settings.IMPORT_DIR) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    sha256, size = _store(file, target, max_bytes)
    try:
        info = inspect_table(target, filename=filename)
    except ValidationError:
        target.unlink(missing_ok=True)
        raise
    mapping, source = _initial_mapping(dealer_id, kind, info.headers)
    return ImportRun.objects.create(
        dealer_id=dealer_id,
        kind=kind,
        status=ImportStatus.UPLOADED,
        source=source,
        filename=Path(filename).name[:255],
        stored_path=str(relative),
        file_sha256=sha256,
        file_size=size,
        file_format=info.file_format,
        encoding=info.encoding,
        sheet=info.sheet[:100],
        header_row=info.header_row,
        headers=info.headers,
        mapping=mapping,
        created_by_id=_actor_id(actor),
    )


def _initial_mapping(dealer_id: int, kind: str, headers: list[str]) -> tuple[dict[str, str], str]:
    present = set(headers)
    saved = ImportMapping.objects.filter(dealer_id=dealer_id, kind=kind).order_by("-updated_at")
    for mapping in saved:
        columns = {k: v for k, v in mapping.columns.items() if v}
        if columns and set(columns.values()) <= present:
            return columns, mapping.source
    return guess_mapping(kind, headers), ""


@transaction.atomic
def import_run_map(
    *, actor: User | None, run: ImportRun, mapping: dict[str, str], save_as: str = ""
) -> ImportRun:
    """Set the run's mapping {field name: header} ("" or a missing key: not imported).

    ValidationError on "mapping" naming every unknown field or header and every required field
    left unmapped. `save_as` also saves the mapping as the dealer's ImportMapping of that name
    (replacing one of the same name), so the next file of that source maps itself.
    """
    _check_dealer(run.dealer_id)
    if run.status != ImportStatus.UPLOADED:
        raise ValidationError({"mapping": [_("This import has started; its columns are set.")]})
    known = {f.name: f for f in FIELDS[run.kind]}
    headers = set(run.headers)
    cleaned = {name: header for name, header in mapping.items() if header}
    errors: list[str] = []
    for name, header in cleaned.items():
        if name not in known:
            errors.append(_("“%(field)s” is not a field of this import.") % {"field": name})
        elif header not in headers:
            errors.append(
                _("The file has no column “%(header)s” (chosen for %(field)s).")
                % {"header": header, "field": known[name].label}
            )
    used: dict[str, str] = {}
    for name, header in cleaned.items():
        if header in used and name in known and used[header] in known:
            errors.append(
                _("The column “%(header)s” is chosen for both %(first)s and %(second)s.")
                % {
                    "header": header,
                    "first": known[used[header]].label,
                    "second": known[name].label,
                }
            )
        used.setdefault(header, name)
    for label in missing_required(run.kind, cleaned):
        errors.append(
            _("%(field)s is required: choose the column that holds it.") % {"field": label}
        )
    if errors:
        raise ValidationError({"mapping": errors})
    save_as = save_as.strip()[:100]
    run.mapping = cleaned
    if save_as:
        run.source = save_as
        ImportMapping.objects.update_or_create(
            dealer_id=run.dealer_id,
            kind=run.kind,
            source=save_as,
            defaults={
                "columns": cleaned,
                "updated_at": timezone.now(),
                "updated_by_id": _actor_id(actor),
            },
        )
    run.save(update_fields=["mapping", "source"])
    return run


def _enqueue(run_id: int) -> None:
    from dealercrm.dataquality.import_jobs import import_run_job

    import_run_job(run_id)


@transaction.atomic
def import_run_start(*, actor: User | None, run: ImportRun, enqueue: bool = True) -> ImportRun:
    """UPLOADED (mapped) → QUEUED; the background job is enqueued when the transaction commits
    (`enqueue=False`: the caller runs import_run_execute itself, as the CLI does)."""
    _check_dealer(run.dealer_id)
    if run.status != ImportStatus.UPLOADED:
        raise ValidationError({"status": [_("This import has started already.")]})
    missing = missing_required(run.kind, run.mapping)
    if missing:
        raise ValidationError(
            {
                "mapping": [
                    _("%(field)s is required: choose the column that holds it.") % {"field": m}
                    for m in missing
                ]
            }
        )
    updated = ImportRun.objects.filter(pk=run.pk, status=ImportStatus.UPLOADED).update(
        status=ImportStatus.QUEUED
    )
    if not updated:
        raise ValidationError({"status": [_("This import has started already.")]})
    run.status = ImportStatus.QUEUED
    run_id = run.pk
    if enqueue:
        transaction.on_commit(lambda: _enqueue(run_id))
    return run


def import_run_execute(
    *,
    run_id: int,
    progress: Callable[[int, int], None] | None = None,
    batch_size: int | None = None,
) -> ImportRun:
    """Run (or continue) the import in this process; `progress(processed rows, total rows)`.

    Streams the file from `processed_rows` in batches of import_engine.BATCH_SIZE; each batch,
    its ImportRowIssue rows and the run's counters commit together, so a kill loses at most the
    batch in flight. Every data row ends in exactly one counter (created + updated + unchanged
    + errors == rows read). A QUEUED or RUNNING run is taken; any other is returned as it is.
    A file that cannot be read on, or an unexpected error, makes the run FAILED with the reason
    (resumable with import_run_resume).
    """
    return import_engine.execute(
        run_id, progress=progress, batch_size=batch_size or import_engine.BATCH_SIZE
    )


def import_run_can_resume(run: ImportRun, *, now: dt.datetime | None = None) -> bool:
    """FAILED, or RUNNING without a batch committed for STALE_AFTER (its process was killed)."""
    if run.status == ImportStatus.FAILED:
        return True
    if run.status == ImportStatus.RUNNING:
        beat = run.heartbeat_at or run.started_at
        return beat is None or beat < (now or timezone.now()) - STALE_AFTER
    return False


@transaction.atomic
def import_run_resume(*, actor: User | None, run: ImportRun, enqueue: bool = True) -> ImportRun:
    """A FAILED run, or a RUNNING one whose heartbeat is older than 2 minutes (killed): back to
    QUEUED and enqueued again; it continues after its last committed row (processed_rows).
    ValidationError for a run that is done, waiting, or still running."""
    _check_dealer(run.dealer_id)
    current = ImportRun.objects.select_for_update().get(pk=run.pk)
    if not import_run_can_resume(current):
        if current.status == ImportStatus.DONE:
            message = _("This import is finished; import the file again to re-run it.")
        elif current.status == ImportStatus.RUNNING:
            message = _("This import is still running.")
        else:
            message = _("This import has not stopped, so there is nothing to resume.")
        raise ValidationError({"status": [message]})
    ImportRun.objects.filter(pk=run.pk).update(
        status=ImportStatus.QUEUED, failure="", finished_at=None
    )
    run.refresh_from_db()
    run_id = run.pk
    if enqueue:
        transaction.on_commit(lambda: _enqueue(run_id))
    return run


def import_error_report(*, run: ImportRun, file_format: str) -> tuple[str, str, Iterator[bytes]]:
    """(filename, content type, streamed bytes) of the run's error rows, "csv" or "xlsx": the
    row number, the field, the reason, then the row's cells as read (neutralised against
    formula injection), so the file can be fixed and imported again."""
    _check_dealer(run.dealer_id)
    return error_report(run=run, file_format=file_format)
