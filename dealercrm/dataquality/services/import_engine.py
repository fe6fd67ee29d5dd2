"""The import engine: a run's rows in batches, each batch and the run's counters in one transaction.

Two processes share the work (both cores): a forked worker reads the file and cleans the rows
(clean_row, then the kind writer's `prepare`: ID encryption, pinyin, VIN decoding), a batch at a
time, while this process matches and writes the previous batch. The worker never touches the
database. Without the 'fork' start method (not Linux) the same steps run in this process.

Each batch's transaction starts by claiming it: UPDATE of the run WHERE processed_rows is where
the batch starts. A killed run therefore loses at most its uncommitted batch, resumes exactly
after the last committed row, and two processes can never write the same batch twice.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
import pickle
import queue
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.bulk import BulkWriter, to_db
from dealercrm.core.tenancy import dealer_scope
from dealercrm.dataquality.models import ImportOutcome, ImportRowIssue, ImportRun, ImportStatus

from .import_files import TableInfo, count_rows, iter_rows
from .import_writers import WRITERS, BatchContext, BatchIds, CleanRow, KindWriter, RowOutcome
from .normalise import clean_row

logger = logging.getLogger(__name__)

BATCH_SIZE = 5000
# Batches cleaned ahead of the writer: enough to keep both processes busy, little memory.
READ_AHEAD = 2
SQLITE_CACHE_KB = 256 * 1024
SQLITE_CHECKPOINT_PAGES = 25_000  # ~100 MB of WAL between checkpoints


class ImportSuperseded(Exception):
    """Another process committed this batch first (a resumed run's twin): stop quietly."""


class ImportStopped(Exception):
    """The file could not be read on (the worker's message says why)."""


@dataclass
class PreparedBatch:
    """One batch as the worker hands it over."""

    start: int  # data rows committed before it (run.processed_rows when it was read)
    read: int  # data rows it holds
    rows: list[CleanRow] = field(default_factory=list)
    # Rows clean_row refused: (row number, cells, [(field name, message)]).
    refused: list[tuple[int, list[str], list[tuple[str, str]]]] = field(default_factory=list)


def crash_point(name: str) -> None:
    """Test instrumentation: SIGKILL this process here when DEALERCRM_CRASH_AT names this point
    (the kill-and-resume test). Unset, it costs one dictionary look-up per batch."""
    if os.environ.get("DEALERCRM_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def table_info(run: ImportRun) -> TableInfo:
    return TableInfo(
        file_format=run.file_format,
        encoding=run.encoding,
        sheet=run.sheet,
        header_row=run.header_row,
        headers=list(run.headers),
    )


def stored_file(run: ImportRun) -> Path:
    return Path(settings.IMPORT_DIR) / run.stored_path


# --- reading and cleaning (the worker's side) ---------------------------------------------------


def prepare_batches(
    *,
    path: Path,
    info: TableInfo,
    kind: str,
    mapping: dict[str, str],
    start: int,
    batch_size: int,
    pack_cells: bool = False,
) -> Iterator[PreparedBatch]:
    """The file's data rows from `start` on, cleaned and prepared, `batch_size` at a time
    (`pack_cells`: each clean row's cells pickled, for the trip to the other process)."""
    pack = functools.partial(pickle.dumps, protocol=pickle.HIGHEST_PROTOCOL) if pack_cells else None
    writer = WRITERS[kind]
    prepare = getattr(writer, "prepare", None)
    columns = [(name, info.headers.index(header)) for name, header in mapping.items() if header]
    batch = PreparedBatch(start=start, read=0)
    for row_number, cells in iter_rows(path, info, start=start):
        width = len(cells)
        values = {name: cells[i] if i < width else "" for name, i in columns}
        clean, errors = clean_row(kind, values)
        extra: dict[str, Any] = {}
        if not errors and prepare is not None:
            try:
                extra = prepare(clean)
            except (ValueError, ValidationError) as exc:
                errors = [("", _message(exc))]
        if errors:
            batch.refused.append((row_number, cells, errors))
        else:
            batch.rows.append(CleanRow(row_number, pack(cells) if pack else cells, clean, extra))
        batch.read += 1
        if batch.read >= batch_size:
            yield batch
            batch = PreparedBatch(start=batch.start + batch.read, read=0)
    if batch.read:
        yield batch


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    return str(exc)


def _worker_main(out: Any, parent_pid: int, kwargs: dict[str, Any]) -> None:
    """The forked worker: put each prepared batch on the queue, then None (or an error text).

    It stops by itself when its parent is gone (killed), instead of waiting on a full queue.
    """

    def put(item: Any) -> None:
        while True:
            try:
                out.put(item, timeout=1)
                return
            except queue.Full:
                if os.getppid() != parent_pid:
                    os._exit(0)

    try:
        for batch in prepare_batches(**kwargs, pack_cells=True):
            put(("batch", batch))
        put(("done", None))
    except Exception as exc:  # noqa: BLE001 — reported to the parent, which fails the run
        put(("failed", _message(exc) or exc.__class__.__name__))


def _batches_in_worker(**kwargs: Any) -> Iterator[PreparedBatch]:
    context = multiprocessing.get_context("fork")
    out = context.Queue(maxsize=READ_AHEAD)
    worker = context.Process(
        target=_worker_main, args=(out, os.getpid(), kwargs), daemon=True, name="import-reader"
    )
    worker.start()
    try:
        while True:
            try:
                tag, item = out.get(timeout=1)
            except queue.Empty:
                if worker.is_alive():
                    continue
                # A worker that has just finished may have left its last items in the pipe.
                try:
                    tag, item = out.get(timeout=5)
                except queue.Empty:
                    logger.error("Import reader exited with code %s", worker.exitcode)
                    raise ImportStopped(
                        _("The process reading the file stopped unexpectedly.")
                    ) from None
            if tag == "batch":
                yield item
            elif tag == "done":
                return
            else:
                raise ImportStopped(item)
    finally:
        if worker.is_alive():
            worker.terminate()
        worker.join(timeout=5)
        out.close()


def use_worker_process() -> bool:
    """Fork a reader when the platform can (Linux) and the setting allows (IMPORT_WORKER)."""
    if not getattr(settings, "IMPORT_WORKER", True):
        return False
    return "fork" in multiprocessing.get_all_start_methods()


# --- writing (this process) ---------------------------------------------------------------------


@dataclass
class BatchResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: int = 0

    def add(self, outcome: str) -> None:
        if outcome == _CREATED:
            self.created += 1
        elif outcome == _UPDATED:
            self.updated += 1
        elif outcome == _UNCHANGED:
            self.unchanged += 1
        else:
            self.errors += 1


# Plain strings: comparing with the enum members costs a class attribute look-up per row.
_CREATED, _UPDATED, _UNCHANGED, _ERROR = (
    str(ImportOutcome.CREATED.value),
    str(ImportOutcome.UPDATED.value),
    str(ImportOutcome.UNCHANGED.value),
    str(ImportOutcome.ERROR.value),
)


def _write_rows(writer: KindWriter, ctx: BatchContext, rows: list[CleanRow]) -> list[RowOutcome]:
    """The writer's outcomes for the rows; when the database refuses the batch, row by row, so
    only the refused rows become ERROR rows (with the database's reason)."""
    if not rows:
        return []
    try:
        with transaction.atomic():
            return writer.write_batch(ctx, rows)
    except (IntegrityError, DataError):
        pass
    outcomes: list[RowOutcome] = []
    for row in rows:
        ctx.seen = {}
        try:
            with transaction.atomic():
                outcomes.extend(writer.write_batch(ctx, [row]))
        except (IntegrityError, DataError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            outcomes.append(
                RowOutcome(
                    row.row_number,
                    ImportOutcome.ERROR,
                    reason=_("The database refused this row: %(reason)s") % {"reason": reason},
                )
            )
    return outcomes


ISSUE_FIELDS = (
    "dealer_id",
    "run_id",
    "row_number",
    "outcome",
    "field",
    "reason",
    "customer_id",
    "vehicle_id",
    "record_id",
    "values",
)


def commit_batch(
    *, run: ImportRun, writer: KindWriter, batch: PreparedBatch, cache: dict[str, Any]
) -> BatchResult:
    """Write one batch, its issue rows and the run's counters in one transaction."""
    now = timezone.now()
    headers = run.headers
    result = BatchResult()
    with transaction.atomic():
        # The claim is the transaction's first statement and a write (SQLite: the write lock;
        # PostgreSQL: the run's row lock), so the batch is ours alone until the commit.
        claimed = ImportRun.objects.filter(
            pk=run.pk, status=ImportStatus.RUNNING, processed_rows=batch.start
        ).update(heartbeat_at=now)
        if not claimed:
            raise ImportSuperseded
        bulk = BulkWriter(now=now)
        ctx = BatchContext(
            dealer_id=run.dealer_id,
            run=run,
            now=now,
            bulk=bulk,
            ids=BatchIds(),
            seen={},
            cache=cache,
            actor_id=run.created_by_id,
        )
        issues: list[tuple] = []
        dealer_id, run_id = run.dealer_id, run.pk
        cells_of: dict[int, list[str]] | None = None
        for outcome in _write_rows(writer, ctx, batch.rows):
            kind, notes = outcome.outcome, outcome.notes
            result.add(kind)
            if kind == _CREATED and not notes:
                continue
            values = "{}"
            if kind == _ERROR or notes:
                if cells_of is None:
                    cells_of = {row.row_number: row.cells for row in batch.rows}
                values = to_db(_cells_by_header(headers, cells_of.get(outcome.row_number, [])))
            # An imported row with notes is kept once per note (each with the link), not also
            # as a plain matched row: the rows page would list it twice.
            entries = notes
            if kind == _ERROR or not notes:
                entries = [(outcome.field, outcome.reason), *notes]
            for field_name, reason in entries:
                issues.append(
                    (
                        dealer_id,
                        run_id,
                        outcome.row_number,
                        kind,
                        field_name,
                        reason,
                        outcome.customer_id,
                        outcome.vehicle_id,
                        outcome.record_id,
                        values,
                    )
                )
        for row_number, cells, errors in batch.refused:
            result.errors += 1
            values = to_db(_cells_by_header(headers, cells))
            for field_name, message in errors:
                issues.append(
                    (
                        dealer_id,
                        run_id,
                        row_number,
                        ImportOutcome.ERROR,
                        field_name,
                        message,
                        None,
                        None,
                        None,
                        values,
                    )
                )
        bulk.write(ImportRowIssue, ISSUE_FIELDS, issues)
        ImportRun.objects.filter(pk=run.pk).update(
            processed_rows=batch.start + batch.read,
            created_count=F("created_count") + result.created,
            updated_count=F("updated_count") + result.updated,
            unchanged_count=F("unchanged_count") + result.unchanged,
            error_count=F("error_count") + result.errors,
            heartbeat_at=now,
        )
    return result


def _cells_by_header(headers: list[str], cells: list[str]) -> dict[str, str]:
    return {header: cells[i] if i < len(cells) else "" for i, header in enumerate(headers)}


def execute(
    run_id: int,
    *,
    progress: Callable[[int, int], None] | None = None,
    batch_size: int = BATCH_SIZE,
    worker: bool | None = None,
) -> ImportRun:
    """Run a QUEUED run (or continue a RUNNING one) to its end; see import_run_execute."""
    with dealer_scope(None):
        run = ImportRun.objects.get(pk=run_id)
    with dealer_scope(run.dealer_id):
        return _execute(
            run, progress, batch_size, use_worker_process() if worker is None else worker
        )


def _execute(
    run: ImportRun,
    progress: Callable[[int, int], None] | None,
    batch_size: int,
    worker: bool,
) -> ImportRun:
    if run.status not in (ImportStatus.QUEUED, ImportStatus.RUNNING):
        return run
    now = timezone.now()
    path = stored_file(run)
    info = table_info(run)
    if run.total_rows is None:
        try:
            run.total_rows = count_rows(path, info)
        except (OSError, ValidationError) as exc:
            return _fail(run, _message(exc) if isinstance(exc, ValidationError) else str(exc))
    claimed = ImportRun.objects.filter(pk=run.pk, status=run.status).update(
        status=ImportStatus.RUNNING,
        started_at=run.started_at or now,
        heartbeat_at=now,
        total_rows=run.total_rows,
        failure="",
    )
    if not claimed:
        run.refresh_from_db()
        return run
    run.refresh_from_db()
    writer = WRITERS[run.kind]
    kwargs = {
        "path": path,
        "info": info,
        "kind": run.kind,
        "mapping": dict(run.mapping),
        "start": run.processed_rows,
        "batch_size": batch_size,
    }
    batches = _batches_in_worker(**kwargs) if worker else prepare_batches(**kwargs)
    cache: dict[str, Any] = {}
    processed = run.processed_rows
    bulk_settings = _sqlite_bulk_settings() if connection.vendor == "sqlite" else nullcontext()
    if progress is not None:
        progress(processed, run.total_rows or 0)
    try:
        with bulk_settings:
            for batch in batches:
                commit_batch(run=run, writer=writer, batch=batch, cache=cache)
                processed = batch.start + batch.read
                crash_point("import_after_batch")
                if progress is not None:
                    progress(processed, max(run.total_rows or 0, processed))
    except ImportSuperseded:
        logger.info("Import run %s: another process took over at row %s", run.pk, processed)
        run.refresh_from_db()
        return run
    except ImportStopped as exc:
        return _fail(run, str(exc))
    except Exception as exc:  # noqa: BLE001 — the run says why it stopped and can resume
        logger.exception("Import run %s failed", run.pk)
        return _fail(run, _("An unexpected error stopped the import: %(error)s") % {"error": exc})
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()
    ImportRun.objects.filter(pk=run.pk, status=ImportStatus.RUNNING).update(
        status=ImportStatus.DONE,
        finished_at=timezone.now(),
        heartbeat_at=timezone.now(),
        # The count is exact now (count_rows may have been an estimate).
        total_rows=processed,
    )
    run.refresh_from_db()
    return run


@contextmanager
def _sqlite_bulk_settings() -> Iterator[None]:
    """A large page cache and rarer checkpoints for the run, the connection's own afterwards.

    The default cache (64 MB here) makes index inserts into a large table disk reads; the default
    checkpoint (every 1,000 pages) copies the WAL back after every batch, since a batch's random
    index inserts dirty far more pages than that (measured: 3,271 → 3,463 rows/s at 100,000).
    """
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        (cache_size,) = cursor.fetchone()
        cursor.execute("PRAGMA wal_autocheckpoint")
        (checkpoint_pages,) = cursor.fetchone()
        cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KB}")
        cursor.execute(f"PRAGMA wal_autocheckpoint = {SQLITE_CHECKPOINT_PAGES}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(cache_size)}")
            cursor.execute(f"PRAGMA wal_autocheckpoint = {int(checkpoint_pages)}")


def _fail(run: ImportRun, reason: str) -> ImportRun:
    ImportRun.objects.filter(pk=run.pk).update(
        status=ImportStatus.FAILED, failure=reason, finished_at=timezone.now()
    )
    run.refresh_from_db()
    return run
