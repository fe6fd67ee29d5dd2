"""Search keys of the chunk's customers and their cars, built with dealercrm.search.keys — the
same functions the services use — so a demo customer is found exactly as a typed-in one."""

from __future__ import annotations

import random

from dealercrm.demo.generators.base import Chunk, ChunkGenerator, DemoContext, Rows
from dealercrm.search.keys import customer_keys, phone_keys, vehicle_keys
from dealercrm.search.models import KeyKind, SearchKey

FIELDS = ("id", "dealer_id", "customer_id", "vehicle_id", "kind", "term")


def generate_search_keys(ctx: DemoContext, chunk: Chunk, rng: random.Random) -> list[Rows]:
    # Names repeat (a few hundred surnames and given names): their keys are computed once.
    name_cache: dict[tuple[str, str], list[tuple[int, str]]] = ctx.state.setdefault(
        "search_name_keys", {}
    )
    rows: list[tuple] = []
    next_id = ctx.ids.start(SearchKey)
    id_hash_kind = int(KeyKind.ID_HASH)
    for customer in chunk.customers:
        dealer_id = customer.dealer.id
        cid = customer.id
        key = (customer.name, customer.latin_name)
        name_keys = name_cache.get(key)
        if name_keys is None:
            name_keys = name_cache[key] = [
                (int(kind), term)
                for kind, term in customer_keys(name=customer.name, latin_name=customer.latin_name)
            ]
        for kind, term in name_keys:
            rows.append((next_id, dealer_id, cid, None, kind, term))
            next_id += 1
        for number in customer.phones:
            for kind, term in phone_keys(number):
                rows.append((next_id, dealer_id, cid, None, int(kind), term))
                next_id += 1
        if customer.id_number_hash:
            rows.append((next_id, dealer_id, cid, None, id_hash_kind, customer.id_number_hash))
            next_id += 1
    for vehicle in chunk.vehicles:
        for kind, term in vehicle_keys(vehicle.vin, vehicle.plate):
            rows.append((next_id, vehicle.dealer_id, vehicle.owner_id, vehicle.id, int(kind), term))
            next_id += 1
    ctx.ids.finish(SearchKey, next_id)
    return [Rows(SearchKey, FIELDS, rows)]


SEARCH_KEYS = ChunkGenerator("search_keys", "search", generate_search_keys, (SearchKey,))
