"""Keeping search keys in step with the customers and vehicles they point to."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db import transaction

from dealercrm.customers.models import Customer, CustomerPhone
from dealercrm.vehicles.models import Vehicle

from .keys import customer_keys, vehicle_keys
from .models import SearchKey


@transaction.atomic
def search_keys_refresh(*, dealer_id: int, customer_ids: Iterable[int]) -> int:
    """Rebuild every key of these customers (their own fields, phones and current vehicles).

    Set-based: three reads, one delete, one bulk insert, whatever the number of customers.
    Returns the number of keys written.
    """
    ids = sorted(set(customer_ids))
    if not ids:
        return 0
    customers = Customer.objects.unscoped().filter(
        dealer_id=dealer_id, id__in=ids, is_deleted=False
    )
    phones: dict[int, list[str]] = defaultdict(list)
    for customer_id, number in (
        CustomerPhone.objects.unscoped()
        .filter(dealer_id=dealer_id, customer_id__in=ids)
        .values_list("customer_id", "number")
    ):
        phones[customer_id].append(number)
    rows: list[SearchKey] = []
    for c in customers.values("id", "name", "latin_name", "id_number_hash"):
        for kind, term in customer_keys(
            name=c["name"],
            latin_name=c["latin_name"],
            phones=phones[c["id"]],
            id_number_hash=c["id_number_hash"],
        ):
            rows.append(SearchKey(dealer_id=dealer_id, customer_id=c["id"], kind=kind, term=term))
    for v in (
        Vehicle.objects.unscoped()
        .filter(dealer_id=dealer_id, owner_id__in=ids)
        .values("id", "owner_id", "vin", "plate")
    ):
        for kind, term in vehicle_keys(v["vin"], v["plate"]):
            rows.append(
                SearchKey(
                    dealer_id=dealer_id,
                    customer_id=v["owner_id"],
                    vehicle_id=v["id"],
                    kind=kind,
                    term=term,
                )
            )
    SearchKey.objects.unscoped().filter(dealer_id=dealer_id, customer_id__in=ids).delete()
    SearchKey.objects.unscoped().bulk_create(rows, batch_size=2000)
    return len(rows)
