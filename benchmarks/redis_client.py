"""One cache read, through Django's Redis cache and through dealercrm.core.redis_cache.

    REDIS_URL=redis://127.0.0.1:6379/5 uv run python benchmarks/redis_client.py

Django builds a redis-py client for every read; the project's backend keeps one per connection
pool. Prints the median and p95 of a `cache.get` of a cached user-sized value, and of building
a client alone. Run on demand, never in the test suite.
"""

from __future__ import annotations

import os
import statistics
import time

import redis
from django.conf import settings
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache

from dealercrm.core.redis_cache import RedisCache

settings.configure()
URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/5")
ROUNDS = 20_000


def timed(fn) -> tuple[float, float]:  # noqa: ANN001
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1e6)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95)]


def main() -> None:
    value = {"id": 181, "username": "oem-analyst", "dealer_ids": frozenset(range(12))}
    print(f"{ROUNDS:,} rounds each, load average {os.getloadavg()}")
    for label, backend_class in (("django", DjangoRedisCache), ("dealercrm", RedisCache)):
        cache = backend_class(URL, {"KEY_PREFIX": "bench-redis-client"})
        cache.set("user", value, 300)
        cache.get("user")
        median, p95 = timed(lambda cache=cache: cache.get("user"))
        print(f"{label:10} cache.get  median {median:6.1f} µs  p95 {p95:6.1f} µs")
        cache.delete("user")
    pool = redis.ConnectionPool.from_url(URL)
    median, p95 = timed(lambda: redis.Redis(connection_pool=pool))
    print(f"redis.Redis(connection_pool=…) alone  median {median:6.1f} µs  p95 {p95:6.1f} µs")


if __name__ == "__main__":
    main()
