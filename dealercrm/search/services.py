"""Keeping search keys in step with the customers and vehicles they point to.

Keys are derived data (rebuilt from the customer's fields at any time), so writing them is not
audited; the change to the customer that caused it is. Every function here is set-based: a few
reads, one delete and one bulk insert per batch, however many customers are involved.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction

from dealercrm.core.models import Dealer
from dealercrm.core.tenancy import get_current_scope
from dealercrm.customers.models import Customer, CustomerPhone
from dealercrm.vehicles.models import Vehicle

from .keys import KeyRow, customer_key_rows, vehicle_key_rows
from .models import SearchKey

_COLUMNS = ("dealer_id", "customer_id", "vehicle_id", "kind", "term")
REBUILD_BATCH = 5000


def search_keys_bulk_insert(*, rows: Iterable[KeyRow], batch_size: int = 10000) -> int:
    """Insert key rows given as plain tuples (dealer_id, customer_id, vehicle_id, kind, term).

    The fast path for the demo generator, imports and rebuilds: COPY on PostgreSQL, one
    prepared INSERT run by executemany elsewhere; no model instance per row. The caller deletes
    the keys being replaced. Returns the number of rows written.
    """
    table = connection.ops.quote_name(SearchKey._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in _COLUMNS)
    written = 0
    # Each batch is gathered before it is written, so `rows` may itself read the database
    # (a COPY in progress admits no other statement on the connection).
    with transaction.atomic(), connection.cursor() as cursor:
        for batch in _batches(rows, batch_size):
            if connection.vendor == "postgresql":
                raw = cursor.cursor  # the psycopg cursor under Django's wrapper
                with raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in batch:
                        copy.write_row(row)
            else:
                cursor.executemany(
                    f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s)", batch
                )
            written += len(batch)
    return written


def _batches(rows: Iterable[KeyRow], size: int) -> Iterator[list[KeyRow]]:
    batch: list[KeyRow] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _rows(model):  # noqa: ANN001, ANN202
    """The model's rows this code may touch: the active scope's, or all when no scope or a
    network scope is active (jobs, commands, the demo generator)."""
    scope = get_current_scope()
    if scope is None or scope.is_network:
        return model.objects.unscoped()
    return model.objects.all()


def _check_dealer(dealer_id: int) -> None:
    scope = get_current_scope()
    if scope is not None and not scope.allows(dealer_id):
        raise PermissionDenied("This dealer is outside the current scope.")


def _key_rows_for(dealer_id: int, customer_ids: list[int]) -> list[KeyRow]:
    """Every key row of these live customers of one dealer: three reads."""
    rows: list[KeyRow] = []
    customers = list(
        _rows(Customer)
        .filter(dealer_id=dealer_id, id__in=customer_ids, is_deleted=False)
        .values_list("id", "name", "latin_name", "id_number_hash")
    )
    if not customers:
        return rows
    live_ids = [c[0] for c in customers]
    phones: dict[int, list[str]] = defaultdict(list)
    for customer_id, number in (
        _rows(CustomerPhone)
        .filter(dealer_id=dealer_id, customer_id__in=live_ids)
        .order_by("customer_id", "-is_primary", "id")
        .values_list("customer_id", "number")
    ):
        phones[customer_id].append(number)
    for customer_id, name, latin_name, id_hash in customers:
        rows.extend(
            customer_key_rows(
                dealer_id,
                customer_id,
                name=name,
                latin_name=latin_name,
                phones=phones[customer_id],
                id_number_hash=id_hash,
            )
        )
    for vehicle_id, owner_id, vin, plate in (
        _rows(Vehicle)
        .filter(dealer_id=dealer_id, owner_id__in=live_ids)
        .values_list("id", "owner_id", "vin", "plate")
    ):
        rows.extend(vehicle_key_rows(dealer_id, owner_id, vehicle_id, vin=vin, plate=plate))
    return rows


@transaction.atomic
def search_keys_refresh(*, dealer_id: int, customer_ids: Iterable[int]) -> int:
    """Rebuild every key of these customers (their own fields, phones and current vehicles).

    Call it after a customer, their phones or their vehicles change, and after a customer is
    deleted (a deleted customer keeps no keys). Set-based: three reads, one delete, one bulk
    insert, whatever the number of customers. Returns the number of keys written.
    """
    _check_dealer(dealer_id)
    ids = sorted(set(customer_ids))
    if not ids:
        return 0
    rows = _key_rows_for(dealer_id, ids)
    _rows(SearchKey).filter(dealer_id=dealer_id, customer_id__in=ids).delete()
    return search_keys_bulk_insert(rows=rows)


@transaction.atomic
def search_keys_refresh_vehicles(*, dealer_id: int, vehicle_ids: Iterable[int]) -> int:
    """Rebuild the keys of these vehicles' current owners and of whoever held them before.

    For a changed VIN or plate and for a change of owner: the old owner loses the car's keys,
    the new owner gains them.
    """
    _check_dealer(dealer_id)
    ids = sorted(set(vehicle_ids))
    if not ids:
        return 0
    owners = set(
        _rows(Vehicle)
        .filter(dealer_id=dealer_id, id__in=ids, owner_id__isnull=False)
        .values_list("owner_id", flat=True)
    )
    owners |= set(
        _rows(SearchKey)
        .filter(dealer_id=dealer_id, vehicle_id__in=ids)
        .values_list("customer_id", flat=True)
    )
    # Keys of a vehicle that now has no owner go too.
    _rows(SearchKey).filter(dealer_id=dealer_id, vehicle_id__in=ids).delete()
    return search_keys_refresh(dealer_id=dealer_id, customer_ids=owners)


def search_keys_rebuild_all(
    *, dealer_id: int | None = None, batch_size: int = REBUILD_BATCH
) -> int:
    """Rebuild the keys of every customer of one dealer, or of every dealer.

    For after a bulk load or import, or after the key rules change. One transaction per
    dealer; customers are read in id order in batches, so memory stays flat at any size.
    Returns the number of keys written.
    """
    if dealer_id is not None:
        dealer_ids = [dealer_id]
    else:
        dealer_ids = list(Dealer.objects.order_by("id").values_list("id", flat=True))
    written = 0
    for did in dealer_ids:
        _check_dealer(did)
        with transaction.atomic():
            _rows(SearchKey).filter(dealer_id=did).delete()
            written += search_keys_bulk_insert(rows=_dealer_rows(did, batch_size))
    return written


def _dealer_rows(dealer_id: int, batch_size: int) -> Iterator[KeyRow]:
    last_id = 0
    while True:
        ids = list(
            _rows(Customer)
            .filter(dealer_id=dealer_id, id__gt=last_id)
            .order_by("id")
            .values_list("id", flat=True)[:batch_size]
        )
        if not ids:
            return
        last_id = ids[-1]
        yield from _key_rows_for(dealer_id, ids)
