"""Kill-and-resume (issue 7, point 2): a run killed half-way loses at most its uncommitted batch;
resumed, or the file imported again, it ends with every row counted once and nothing twice.

The kill is real: `dealercrm import` runs in its own process (with its forked reader) and dies
by SIGKILL right after its first batch committed (DEALERCRM_CRASH_AT=import_after_batch, see
import_engine.crash_point). The process reaches the test database as the messaging worker tests
explain (tests/messaging/test_outbox_processes.py: PostgreSQL by name, SQLite copied to a file
and back).
"""

from __future__ import annotations

import datetime as dt
import io
import signal
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from dealercrm.core.tenancy import dealer_scope
from dealercrm.customers.models import Customer, CustomerPhone
from dealercrm.dataquality.models import ImportRowIssue, ImportRun, ImportStatus
from dealercrm.dataquality.services import import_engine
from dealercrm.dataquality.services.import_runs import (
    import_run_can_resume,
    import_run_create,
    import_run_map,
    import_run_resume,
    import_run_start,
)
from dealercrm.vehicles.models import Vehicle
from tests.dataquality.test_import_engine import (
    assert_accounted,
    csv_bytes,
    good_rows,
    run_file,
    table_counts,
)
from tests.messaging.test_outbox_processes import WorkerDatabase

ROWS = 50
BATCH = 10


@pytest.fixture
def import_dir(tmp_path, settings):
    settings.IMPORT_DIR = tmp_path / "imports"
    return settings.IMPORT_DIR


@pytest.fixture
def worker_db(tmp_path):
    return WorkerDatabase(tmp_path)


def dealercrm_import(worker_db: WorkerDatabase, *args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 — our own interpreter and command
        [sys.executable, "-m", "dealercrm", "import", *args],
        cwd=settings.BASE_DIR,
        env=worker_db.env(IMPORT_DIR=str(settings.IMPORT_DIR), **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"dealercrm import did not finish:\n{err}")
    return process.returncode, out, err


def killed_after_first_batch(dealer, worker_db, tmp_path) -> ImportRun:
    """`dealercrm import` of ROWS rows, SIGKILLed right after its first batch committed."""
    path = tmp_path / "customers.csv"
    path.write_bytes(csv_bytes(good_rows(ROWS)))
    worker_db.push()
    process = dealercrm_import(
        worker_db,
        str(path),
        "--kind=customers",
        f"--dealer={dealer.code}",
        f"--batch-size={BATCH}",
        DEALERCRM_CRASH_AT="import_after_batch",
    )
    code, _out, err = finish(process)
    assert code == -signal.SIGKILL, err
    worker_db.pull()
    with dealer_scope(dealer.pk):
        return ImportRun.objects.get()


def assert_no_duplicates(dealer) -> None:
    with dealer_scope(dealer.pk):
        assert Customer.objects.values("id_number_hash").distinct().count() == ROWS
        assert CustomerPhone.objects.values("number").distinct().count() == ROWS
        assert Vehicle.objects.values("vin").distinct().count() == ROWS
    assert table_counts(dealer)["customers"] == ROWS
    assert table_counts(dealer)["vehicles"] == ROWS


@pytest.mark.django_db(transaction=True)
def test_a_killed_run_resumes_after_its_last_committed_batch(
    dealer, import_dir, worker_db, tmp_path
):
    # Given a run killed right after its first batch committed
    run = killed_after_first_batch(dealer, worker_db, tmp_path)
    assert run.status == ImportStatus.RUNNING  # it had no chance to say otherwise
    assert run.processed_rows == BATCH
    assert run.accounted_rows == BATCH
    assert table_counts(dealer)["customers"] == BATCH
    # (a live run is not resumed: only when its heartbeat is older than two minutes)
    assert not import_run_can_resume(run)
    assert import_run_can_resume(run, now=run.heartbeat_at + dt.timedelta(minutes=3))

    # When, its heartbeat two minutes old, it is resumed from the command line
    ImportRun.objects.filter(pk=run.pk).update(
        heartbeat_at=timezone.now() - dt.timedelta(minutes=3)
    )
    worker_db.push()
    code, out, err = finish(dealercrm_import(worker_db, f"--resume={run.pk}"))
    assert code == 0, err
    worker_db.pull()

    # Then every row is counted once and nothing was written twice
    run.refresh_from_db()
    assert_accounted(run, ROWS)
    assert run.created_count == ROWS
    assert_no_duplicates(dealer)
    assert f"Run {run.pk}" in out or str(run.pk) in out


@pytest.mark.django_db(transaction=True)
def test_a_killed_run_then_the_file_again_creates_no_duplicates(
    dealer, import_dir, worker_db, tmp_path
):
    run = killed_after_first_batch(dealer, worker_db, tmp_path)

    again = run_file(dealer, csv_bytes(good_rows(ROWS)), batch_size=BATCH)

    assert_accounted(again, ROWS)
    assert again.created_count == ROWS - run.created_count
    assert again.unchanged_count == run.created_count
    assert_no_duplicates(dealer)


def prepared_run(dealer, rows: int) -> ImportRun:
    with dealer_scope(dealer.pk):
        run = import_run_create(
            actor=None,
            dealer_id=dealer.pk,
            kind="customers",
            file=io.BytesIO(csv_bytes(good_rows(rows))),
            filename="c.csv",
        )
        run = import_run_map(actor=None, run=run, mapping=run.mapping)
        return import_run_start(actor=None, run=run, enqueue=False)


@pytest.mark.django_db
def test_a_failed_run_resumes_from_processed_rows(dealer, import_dir):
    run = prepared_run(dealer, 30)
    # A first process wrote two batches, then the run failed (as a database outage leaves it).
    batches = import_engine.prepare_batches(
        path=import_engine.stored_file(run),
        info=import_engine.table_info(run),
        kind="customers",
        mapping=run.mapping,
        start=0,
        batch_size=10,
    )
    ImportRun.objects.filter(pk=run.pk).update(status=ImportStatus.RUNNING, total_rows=30)
    run.refresh_from_db()
    with dealer_scope(dealer.pk):
        for _ in range(2):
            import_engine.commit_batch(
                run=run, writer=import_engine.WRITERS["customers"], batch=next(batches), cache={}
            )
    ImportRun.objects.filter(pk=run.pk).update(status=ImportStatus.FAILED, failure="outage")
    run.refresh_from_db()
    assert run.processed_rows == 20

    with dealer_scope(dealer.pk):
        run = import_run_resume(actor=None, run=run, enqueue=False)
    assert run.status == ImportStatus.QUEUED
    run = import_engine.execute(run.pk, batch_size=10, worker=False)

    assert_accounted(run, 30)
    assert run.created_count == 30
    assert run.failure == ""
    assert table_counts(dealer)["customers"] == 30


@pytest.mark.django_db
def test_resume_is_refused_for_a_finished_or_live_run(dealer, import_dir, english):
    done = run_file(dealer, csv_bytes(good_rows(3)))
    with dealer_scope(dealer.pk), pytest.raises(ValidationError) as caught:
        import_run_resume(actor=None, run=done)
    assert "finished" in caught.value.message_dict["status"][0]

    live = prepared_run(dealer, 3)
    ImportRun.objects.filter(pk=live.pk).update(
        status=ImportStatus.RUNNING, heartbeat_at=timezone.now() - dt.timedelta(seconds=30)
    )
    live.refresh_from_db()
    with dealer_scope(dealer.pk), pytest.raises(ValidationError) as caught:
        import_run_resume(actor=None, run=live)
    assert "still running" in caught.value.message_dict["status"][0]


@pytest.mark.django_db
def test_a_batch_committed_by_another_process_is_not_written_twice(dealer, import_dir):
    """Two processes on one run (a resumed run whose first process was only slow): the batch
    is claimed by its starting row, so the second writer stops instead of writing it again."""
    run = prepared_run(dealer, 10)
    ImportRun.objects.filter(pk=run.pk).update(status=ImportStatus.RUNNING)
    run.refresh_from_db()
    kwargs = {
        "path": import_engine.stored_file(run),
        "info": import_engine.table_info(run),
        "kind": "customers",
        "mapping": run.mapping,
        "start": 0,
        "batch_size": 10,
    }
    first = next(import_engine.prepare_batches(**kwargs))
    twin = next(import_engine.prepare_batches(**kwargs))
    writer = import_engine.WRITERS["customers"]
    with dealer_scope(dealer.pk):
        import_engine.commit_batch(run=run, writer=writer, batch=first, cache={})
        with pytest.raises(import_engine.ImportSuperseded):
            import_engine.commit_batch(run=run, writer=writer, batch=twin, cache={})
    run.refresh_from_db()
    assert run.accounted_rows == 10
    assert table_counts(dealer)["customers"] == 10


@pytest.mark.django_db
def test_start_enqueues_the_background_job(dealer, import_dir, django_capture_on_commit_callbacks):
    with dealer_scope(dealer.pk):
        run = import_run_create(
            actor=None,
            dealer_id=dealer.pk,
            kind="customers",
            file=io.BytesIO(csv_bytes(good_rows(5))),
            filename="c.csv",
        )
        run = import_run_map(actor=None, run=run, mapping=run.mapping)
        # Huey runs jobs at once in tests, when the transaction commits.
        with django_capture_on_commit_callbacks(execute=True):
            import_run_start(actor=None, run=run)
    run.refresh_from_db()
    assert_accounted(run, 5)
    assert run.created_count == 5
    with dealer_scope(dealer.pk):
        assert not ImportRowIssue.objects.filter(run=run).exists()
