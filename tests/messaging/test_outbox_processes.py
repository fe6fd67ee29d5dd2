"""Real worker processes on the test database: two dispatchers at once never send twice.

A worker here is a separate Python process (`python -c WORKER_SCRIPT`) running the outbox, so
the claim's locking is tested as it runs in production, not between threads of one process.

How a second process reaches the test database (`WorkerDatabase`):
- PostgreSQL: the test database is a real, named database (test_<name>); the worker gets a
  DATABASE_URL naming it. The test uses `django_db(transaction=True)`, so what it arranges is
  committed and visible to the worker.
- SQLite: pytest-django's test database is in memory, which no other process can open. The test
  copies it into a file with SQLite's online backup API before starting workers (`push`), gives
  the workers that file (DEALERCRM_VAR_DIR points the settings' default database at it), and
  copies the file back into the in-memory database afterwards (`pull`), so the test reads the
  workers' writes with the ORM as usual. No settings change, and the rest of the suite keeps its
  fast in-memory database.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from dealercrm.messaging.models import Message, MessageStatus
from tests.customers.factories import CustomerFactory

# A worker: Django set up with the test settings, then the outbox until nothing is due.
# With a GO file named, it first says it is ready and waits for the file, so several workers
# start claiming at the same moment.
WORKER_SCRIPT = """
import os, sys, time, json
import django
django.setup()
from dealercrm.messaging.outbox import dispatch_due, recover_stuck

ready, go = os.environ.get("WORKER_READY_FILE"), os.environ.get("WORKER_GO_FILE")
if ready:
    open(ready, "w").close()
    while not os.path.exists(go):
        time.sleep(0.01)
recovered = 0
if os.environ.get("WORKER_RECOVER"):
    import datetime
    recovered = recover_stuck(older_than=datetime.timedelta(0))
limit = int(os.environ.get("WORKER_BATCH", "500"))
claimed, batches = 0, 0
while True:
    n = dispatch_due(limit=limit)
    claimed += n
    batches += 1 if n else 0
    if n == 0:
        break
print(json.dumps({"recovered": recovered, "claimed": claimed, "batches": batches}))
"""


class WorkerDatabase:
    """Gives worker processes the test database (see the module docstring)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.vendor = connection.vendor
        self.file = directory / "dealercrm.sqlite3"

    def env(self, **extra: str) -> dict[str, str]:
        inherited = {k: v for k, v in os.environ.items() if k != "DEALERCRM_CRASH_AT"}
        env = {
            **inherited,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DEALERCRM_VAR_DIR": str(self.directory),
            "MESSAGING_FILE_DIR": str(settings.MESSAGING_FILE_DIR),
            "PYTHONPATH": str(settings.BASE_DIR),
            **extra,
        }
        if self.vendor == "postgresql":
            db = connection.settings_dict
            auth = quote(db["USER"] or "")
            if db.get("PASSWORD"):
                auth += ":" + quote(db["PASSWORD"])
            env["DATABASE_URL"] = (
                f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"
            )
        else:
            env.pop("DATABASE_URL", None)
        return env

    def push(self) -> None:
        """Make what the test arranged visible to workers (SQLite: copy memory → file)."""
        if self.vendor != "sqlite":
            return
        connection.ensure_connection()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.file}{suffix}").unlink(missing_ok=True)
        target = sqlite3.connect(self.file)
        try:
            connection.connection.backup(target)
        finally:
            target.close()

    def pull(self) -> None:
        """Bring the workers' writes back to the test's connection (SQLite: file → memory)."""
        if self.vendor != "sqlite":
            return
        source = sqlite3.connect(self.file)
        try:
            source.backup(connection.connection)
        finally:
            source.close()

    def start(self, **env: str) -> subprocess.Popen:
        return subprocess.Popen(  # noqa: S603 — our own interpreter and script
            [sys.executable, "-c", WORKER_SCRIPT],
            cwd=settings.BASE_DIR,
            env=self.env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


def finish(process: subprocess.Popen, timeout: float = 120) -> tuple[int, dict, str]:
    """Wait for a worker; (return code, its JSON report or {}, its stderr)."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"worker {process.pid} did not finish in {timeout}s:\n{err}")
    report = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    return process.returncode, report, err


@pytest.fixture
def worker_db(tmp_path, settings):
    settings.MESSAGING_FILE_DIR = tmp_path / "outbox"
    return WorkerDatabase(tmp_path)


def queue_file_messages(dealer, count: int) -> list[int]:
    """`count` queued SMS to as many customers, inserted in bulk."""
    customers = CustomerFactory.create_batch(20, dealer=dealer)
    rows = [
        Message(
            dealer=dealer,
            customer=customers[i % len(customers)],
            channel="sms",
            to_address=f"+86139{i:08d}",
            body=f"第{i}条",
            source_kind=Message.SourceKind.SYSTEM,
            source_id=f"bulk-{i}",
            idempotency_key=f"system:bulk-{i}:{customers[i % len(customers)].pk}:sms",
        )
        for i in range(count)
    ]
    return [m.pk for m in Message.objects.bulk_create(rows, batch_size=500)]


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_share_the_queue_and_send_nothing_twice(dealer, worker_db, tmp_path):
    # Given 1,500 queued messages and two worker processes taking small batches
    ids = queue_file_messages(dealer, 1500)
    worker_db.push()
    workers = [
        worker_db.start(
            WORKER_BATCH="20",
            WORKER_READY_FILE=str(tmp_path / f"ready-{n}"),
            WORKER_GO_FILE=str(tmp_path / "go"),
        )
        for n in range(2)
    ]

    # When both start claiming at the same moment
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready-{n}").exists() for n in range(2)):
        assert time.monotonic() < deadline, "workers did not start"
        assert all(w.poll() is None for w in workers), [finish(w)[2] for w in workers]
        time.sleep(0.02)
    (tmp_path / "go").touch()
    results = [finish(w) for w in workers]
    worker_db.pull()

    # Then both worked (the queue was shared) …
    for code, report, err in results:
        assert code == 0, err
        assert report["claimed"] > 0, "one worker took everything: no concurrency was tested"
    assert sum(report["claimed"] for _, report, _ in results) == 1500
    # … every message was written to the provider exactly once, and is sent
    log = (worker_db.directory / "outbox" / "sms.log").read_text().splitlines()
    counts = Counter(json.loads(line)["id"] for line in log)
    assert set(counts) == set(ids)
    assert max(counts.values()) == 1
    statuses = Counter(
        Message.objects.unscoped().filter(pk__in=ids).values_list("status", flat=True)
    )
    assert statuses == {MessageStatus.SENT: 1500}


def test_crash_point_does_nothing_unless_named(monkeypatch):
    # Given the crash point's variable unset, or naming another point,
    # when the code passes the point, then the process lives on (this test finishes).
    from dealercrm.messaging.outbox import crash_point

    monkeypatch.delenv("DEALERCRM_CRASH_AT", raising=False)
    crash_point("after_provider_send")
    monkeypatch.setenv("DEALERCRM_CRASH_AT", "somewhere_else")
    crash_point("after_provider_send")
