"""Outbox worker throughput to the file provider with several worker processes (goal: 2,000
messages a second with 2 workers).

    uv run python benchmarks/messaging_worker.py --messages 100000 --workers 2 --engine sqlite
    uv run python benchmarks/messaging_worker.py --messages 100000 --workers 2 --engine postgresql

Builds a fresh database (SQLite in a temporary directory; PostgreSQL in "bench_messaging_worker",
dropped and created again, server from --pg-url) with one dealer, 5,000 customers with SMS
consent, and N queued marketing SMS among them, inserted in bulk (a campaign already queued:
the figure is about sending, not queueing; benchmarks/messaging_campaign.py times queueing).

Then starts --workers processes, each running `dispatch_due` until nothing is due — the loop
the outbox job runs — with the settings' batch size. Every worker sets itself up (Django, the
database connection) first and waits at a start line, so the time measured is from the start
signal to the last worker's exit: claiming (with the consent re-check), the file provider's
writes, the status writes. Afterwards it checks that every message is "sent" and was written
to the log exactly once, and prints one JSON line for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CUSTOMERS = 5_000


def worker(ready: str, go: str) -> None:
    """One worker process: set up, say ready, wait for the start, dispatch until empty."""
    import django

    django.setup()
    from django.db import connection

    from dealercrm.messaging.outbox import dispatch_due

    connection.ensure_connection()
    Path(ready).touch()
    while not os.path.exists(go):
        time.sleep(0.005)
    started = time.perf_counter()
    claimed = batches = 0
    while True:
        n = dispatch_due()
        if not n:
            break
        claimed += n
        batches += 1
    print(json.dumps({"claimed": claimed, "batches": batches,
                      "seconds": round(time.perf_counter() - started, 2)}))  # fmt: skip


def queue_messages(count: int) -> int:
    """One dealer, CUSTOMERS customers with SMS consent, `count` queued marketing SMS."""
    from django.db import connection, transaction
    from django.utils import timezone

    from dealercrm.core.models import Brand, Dealer, Region
    from dealercrm.core.tenancy import dealer_scope
    from dealercrm.customers.models import Consent, Customer
    from dealercrm.messaging.models import Message, MessagingPolicy, Purpose

    brand = Brand.objects.create(code="bench", name="极光汽车")
    region = Region.objects.create(brand=brand, code="east", name="华东")
    dealer = Dealer.objects.create(
        brand=brand, region=region, code="BENCH", name="上海浦东极光4S店", province="上海市",
        city="上海市",
    )  # fmt: skip
    now = timezone.now()
    with dealer_scope(dealer.pk), transaction.atomic():
        MessagingPolicy.objects.create(dealer=dealer, sms_signature="极光浦东")
        customers = Customer.objects.bulk_create(
            [Customer(dealer=dealer, name=f"客户{n}") for n in range(CUSTOMERS)], batch_size=2000
        )
        Consent.objects.bulk_create(
            [
                Consent(dealer=dealer, customer=c, channel="sms", granted=True, source="bench")
                for c in customers
            ],
            batch_size=2000,
        )
        body = "【极光浦东】王先生，春季保养八折，详询021-68881234。 回T退订"
        rows = []
        for n in range(count):
            customer = customers[n % CUSTOMERS]
            rows.append(
                Message(
                    dealer=dealer,
                    customer=customer,
                    channel="sms",
                    purpose=Purpose.CAMPAIGN,
                    is_marketing=True,
                    to_address=f"+86138{customer.pk:08d}",
                    body=body,
                    segments=1,
                    source_kind=Message.SourceKind.CAMPAIGN,
                    source_id=f"bench-{n}",
                    idempotency_key=f"campaign:bench-{n}:{customer.pk}:sms",
                    not_before=now,
                    created_at=now,
                    status_changed_at=now,
                )
            )
            if len(rows) == 5000:
                Message.objects.bulk_create(rows)
                rows = []
        Message.objects.bulk_create(rows)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return dealer.pk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--batch", type=int, help="MESSAGING_BATCH_SIZE (default: the setting)")
    parser.add_argument(
        "--pg-url", default="postgres://postgres@127.0.0.1:5432/bench_messaging_worker"
    )
    args = parser.parse_args()

    from benchmarks.demo_generation import fresh_postgresql, machine

    tmp = tempfile.TemporaryDirectory(prefix="bench_worker_")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    os.environ["DEALERCRM_VAR_DIR"] = tmp.name
    os.environ["MESSAGING_FILE_DIR"] = str(Path(tmp.name) / "outbox")
    os.environ.pop("DEALERCRM_CRASH_AT", None)
    if args.batch:
        os.environ["MESSAGING_BATCH_SIZE"] = str(args.batch)
    if args.engine == "sqlite":
        os.environ.pop("DATABASE_URL", None)
    else:
        fresh_postgresql(args.pg_url)
        os.environ["DATABASE_URL"] = args.pg_url

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from dealercrm.core.tenancy import dealer_scope
    from dealercrm.messaging.models import Message

    call_command("migrate", verbosity=0, skip_checks=True)
    started = time.perf_counter()
    dealer_id = queue_messages(args.messages)
    setup_seconds = time.perf_counter() - started
    connection.close()  # the workers work alone

    go = Path(tmp.name) / "go"
    readies = [Path(tmp.name) / f"ready-{n}" for n in range(args.workers)]
    processes = [
        subprocess.Popen(  # noqa: S603 — our own interpreter and script
            [sys.executable, __file__, "worker", str(ready), str(go)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for ready in readies
    ]
    while not all(r.exists() for r in readies):
        if any(p.poll() is not None for p in processes):
            sys.exit("a worker died while starting")
        time.sleep(0.01)
    load_before = os.getloadavg()
    started = time.perf_counter()
    go.touch()
    reports = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in processes]
    wall = time.perf_counter() - started
    if any(p.returncode for p in processes):
        sys.exit("a worker failed")

    with dealer_scope(dealer_id):
        statuses = dict(
            Counter(Message.objects.filter(dealer_id=dealer_id).values_list("status", flat=True))
        )
    log = Path(os.environ["MESSAGING_FILE_DIR"]) / "sms.log"
    with log.open("rb") as lines:
        written = Counter(json.loads(line)["id"] for line in lines)
    print(
        json.dumps(
            {
                "benchmark": "messaging_worker",
                "engine": args.engine,
                "database": connection.vendor,
                "messages": args.messages,
                "workers": args.workers,
                "batch_size": settings.MESSAGING_BATCH_SIZE,
                "seconds": round(wall, 2),
                "messages_per_second": round(args.messages / wall),
                "per_worker": reports,
                "statuses": statuses,
                "log_lines": sum(written.values()),
                "written_twice": sum(1 for n in written.values() if n > 1),
                "setup_seconds": round(setup_seconds, 1),
                "load_average_before": [round(x, 2) for x in load_before],
                "load_average_after": [round(x, 2) for x in os.getloadavg()],
                "machine": machine(),
                "date": dt.datetime.now().isoformat(timespec="seconds"),
            },
            ensure_ascii=False,
        )
    )
    tmp.cleanup()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "worker":
        worker(sys.argv[2], sys.argv[3])
    else:
        main()
