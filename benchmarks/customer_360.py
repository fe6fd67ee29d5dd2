"""The customer 360 page at scale: median and p95 of GET /customers/<id>/ as a dealer manager.

Run on demand against the database that benchmarks/search.py loaded (same environment
variables), never in the test suite. On PostgreSQL every table the page reads is first read into
shared buffers (benchmarks/prewarm.py), as on a server whose working set is in memory; --cold
skips that, and then the first visit of each sample customer reads from disk:

    DEALERCRM_VAR_DIR=/tmp/bench-sqlite uv run python benchmarks/customer_360.py --requests 200
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench uv run python benchmarks/customer_360.py
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402

from benchmarks.prewarm import prewarm  # noqa: E402
from dealercrm.core.models import User  # noqa: E402
from dealercrm.core.tenancy import DealerScope, dealer_scope  # noqa: E402
from dealercrm.customers.models import Customer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument(
        "--cold",
        action="store_true",
        help="PostgreSQL: do not read the page's tables into shared buffers first",
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)
    manager = User.objects.filter(username__startswith="bench-manager-").order_by("id").first()
    with dealer_scope(DealerScope.everything()):
        total = Customer.objects.unscoped().count()
        ids = list(
            Customer.objects.unscoped()
            .filter(dealer_id=manager.dealer_id)
            .values_list("id", flat=True)[:50_000]
        )
    client = Client()
    client.force_login(manager)
    with CaptureQueriesContext(connection) as first:  # warms up templates and caches too
        client.get(reverse("customers:detail", args=[ids[0]]))
    if not args.cold:  # every table the page reads, as its queries name them
        prewarm(sorted({t for q in first for t in re.findall(r'(?:FROM|JOIN) "(\w+)"', q["sql"])}))
    samples = []
    for _ in range(args.requests):
        url = reverse("customers:detail", args=[rng.choice(ids)])
        t = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, response.status_code
    samples.sort()
    p95 = samples[round(0.95 * (len(samples) - 1))]
    print(
        f"{connection.vendor}, {total:,} customers, {args.requests} requests"
        f"{' (cold)' if args.cold else ''}, load average "
        f"{os.getloadavg()}: median {statistics.median(samples):.1f} ms, p95 {p95:.1f} ms"
    )


if __name__ == "__main__":
    main()
