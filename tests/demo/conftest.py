"""The demo network a test module reads: generated once for the module, inside a transaction
rolled back at the module's end (generating takes seconds; the tests only read)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from django.db import transaction

from dealercrm.core.tenancy import DealerScope, dealer_scope
from dealercrm.demo.runner import delete_demo, run_demo


def demo_fixture(*, customers: int, seed: int, today: dt.date):  # noqa: ANN201 — a fixture
    """The module's `demo` fixture: `demo = demo_fixture(customers=…, seed=…, today=…)`."""

    @pytest.fixture(scope="module")
    def demo(django_db_setup, django_db_blocker) -> Iterator[None]:  # noqa: ANN001
        with django_db_blocker.unblock():
            atomic = transaction.atomic()
            atomic.__enter__()
            try:
                with dealer_scope(DealerScope.everything()):
                    delete_demo()
                    run_demo(customers=customers, seed=seed, today=today, parallel=False)
                yield
            finally:
                transaction.set_rollback(True)
                atomic.__exit__(None, None, None)

    return demo


@pytest.fixture
def db_demo(demo, db) -> Iterator[None]:  # noqa: ANN001 — the module's demo, every dealer in scope
    with dealer_scope(DealerScope.everything()):
        yield
