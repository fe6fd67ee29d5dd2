"""The Redis cache backend keeps one client per connection pool (dealercrm.core.redis_cache),
against a real Redis on 127.0.0.1 (skipped, saying so, when none answers)."""

from __future__ import annotations

import os
import socket
import uuid

import pytest

from dealercrm.core.redis_cache import RedisCache

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not _redis_answers(), reason="no Redis on 127.0.0.1:6379")


@pytest.fixture
def cache():
    backend = RedisCache(REDIS_URL, {"KEY_PREFIX": f"test-{uuid.uuid4().hex}"})
    yield backend
    backend.delete_many(["user", "a", "b", "k"])  # not clear(): that empties the whole db


def test_it_stores_reads_and_forgets_like_djangos(cache):
    cache.set("user", {"id": 7, "name": "张三"}, 30)
    cache.set_many({"a": 1, "b": [2, 3]}, 30)
    assert cache.get("user") == {"id": 7, "name": "张三"}
    assert cache.get_many(["a", "b", "missing"]) == {"a": 1, "b": [2, 3]}
    assert cache.incr("a") == 2
    assert cache.add("a", 99) is False
    cache.delete("user")
    assert cache.get("user", "gone") == "gone"


def test_one_client_serves_every_read_and_write(cache):
    client = cache._cache.get_client("k")
    for _ in range(3):
        cache.set("k", 1, 30)
        cache.get("k")
    assert cache._cache.get_client("k") is client
    assert cache._cache.get_client("k", write=True) is client  # one server: one pool
    assert len(cache._cache._clients) == 1
