"""Realistic duplicates in the demo network, for the duplicate review queue to find.

A few percent of each chunk's persons are turned, in place, into a record of someone else of
the chunk (so the demo still has exactly the customers asked for, each with its own history):

- a SECOND RECORD at the same dealer (the service desk typed the customer in again): the other
  record's name as written, with a homophone (王小明 / 王晓明), another character or swapped
  order, its birthday (sometimes left out) and mostly its address, and its phone; or, instead of the
  phone, its e-mail or WeChat id. (Not its ID number: a dealer holds one living record per
  ID number.)
- a HOUSEHOLD member: the spouse at the same address, with a family phone both records carry.
- the same owner at ANOTHER DEALER of the brand (buying at one, servicing at another): the same
  name, birthday and phone, often the ID number. (Not the car: the demo keeps every VIN unique
  across the network.)

Runs right after the customers, before every generator that reads their names, genders or
phones (texts greet the record by the name it now has; the search keys find it by that name).
Its finishing step runs the duplicate scan of every dealer and of the brand across its dealers.
"""

from __future__ import annotations

import random

from dealercrm.customers.models import CustomerPhone
from dealercrm.demo import reference as ref

from .base import Chunk, ChunkGenerator, CustomerFacts, DemoContext, Rows, int_draw
from .customers import CUSTOMER_FIELDS, PHONE_FIELDS

SAME_DEALER_SHARE = 0.03
HOUSEHOLD_SHARE = 0.015
OTHER_DEALER_SHARE = 0.01

# Characters of names often typed for one another (same sound, or alike).
HOMOPHONES = {
    "小": "晓", "晓": "小", "明": "铭", "铭": "明", "伟": "玮", "玮": "伟", "华": "桦",
    "丽": "莉", "莉": "丽", "军": "君", "静": "婧", "芳": "方", "娜": "纳", "杰": "洁",
    "红": "宏", "平": "萍", "萍": "平", "霞": "侠", "刚": "钢", "勇": "永", "燕": "艳",
    "艳": "燕", "斌": "彬", "磊": "蕾", "敏": "民", "辉": "晖", "鹏": "朋", "涛": "韬",
    "超": "潮", "亮": "量", "琳": "林", "玲": "岭", "雪": "学", "建": "健", "国": "帼",
}  # fmt: skip

_COL = {name: i for i, name in enumerate(CUSTOMER_FIELDS)}
_ID_FIELDS = ("id_number_encrypted", "id_number_hash", "id_number_masked")
_PERSON_FIELDS = (
    "gender", "birthday", "lunar_birthday_month", "lunar_birthday_day", "lunar_birthday_leap",
    "latin_name",
)  # fmt: skip
_ADDRESS = ("province", "city", "district", "street")


def _name_variant(name: str, rng: random.Random, names: list[tuple[str, bool]]) -> str:
    """The name as someone else typed it: mostly right, else a homophone, a slip or swapped."""
    roll = rng.random()
    if roll < 0.45 or len(name) < 2:
        return name
    if roll < 0.75:
        for i in range(len(name) - 1, 0, -1):
            if name[i] in HOMOPHONES:
                return name[:i] + HOMOPHONES[name[i]] + name[i + 1 :]
        return name
    if roll < 0.92:
        other = names[int(rng.random() * len(names))][0]
        return name[:-1] + other[-1]  # the last character mistyped
    return name[1:] + name[0]  # given name first (三张 for 张三)


def _replace(row: tuple, changes: dict[str, object]) -> tuple:
    values = list(row)
    for name, value in changes.items():
        values[_COL[name]] = value
    return tuple(values)


def _taken(source: tuple, names: tuple[str, ...]) -> dict[str, object]:
    return {name: source[_COL[name]] for name in names}


def _match_facts(facts: CustomerFacts, row: tuple) -> None:
    """The facts the later generators read, as the record now is: their texts greet it by
    this name and gender, and the search keys index this name."""
    facts.name = str(row[_COL["name"]])
    facts.latin_name = str(row[_COL["latin_name"]] or "")
    facts.gender = str(row[_COL["gender"]])
    facts.id_number_hash = str(row[_COL["id_number_hash"]] or "")


def generate_duplicates(ctx: DemoContext, chunk: Chunk, rng: random.Random) -> list[Rows]:  # noqa: C901, PLR0912, PLR0915
    rows, _consents = chunk.extras.get("customers", ((), ()))
    if not rows or len(ctx.org.dealers) < 2:
        return []
    randrange = int_draw(rng)
    rand = rng.random
    names = ctx.pools.person_names
    phones: list[tuple] = []
    next_phone = ctx.ids.start(CustomerPhone)
    # The persons of the chunk so far, per dealer, left as they were (the "first" records).
    earlier: dict[int, list[int]] = {}
    everyone: list[int] = []

    def add_phone(row: tuple, number: str, label: str) -> None:
        nonlocal next_phone
        phones.append((next_phone, row[1], row[0], number, label, False))
        next_phone += 1

    for i, (row, facts) in enumerate(zip(rows, chunk.customers, strict=True)):
        if facts.kind != "person" or not facts.phones:
            continue
        roll = rand()
        dealer_id = row[1]
        same = earlier.get(dealer_id, [])
        others = [j for j in everyone[-200:] if rows[j][1] != dealer_id]
        if roll < SAME_DEALER_SHARE and same:
            j = same[int(rand() * len(same))]
            first, first_facts = rows[j], chunk.customers[j]
            changes = {f: "" for f in _ID_FIELDS}
            # Mostly the same address; else the one this record had (an old address).
            changes.update(_taken(first, _PERSON_FIELDS + (_ADDRESS if rand() < 0.7 else ())))
            changes["name"] = _name_variant(first_facts.name, rng, names)
            if rand() < 0.3:
                changes.update(birthday=None, lunar_birthday_month=None, lunar_birthday_day=None)
            if (first[_COL["email"]] or first[_COL["wechat_id"]]) and rand() < 0.25:
                changes.update(_taken(first, ("email", "wechat_id")))  # not the phone
            else:
                changes.update(email="", wechat_id="")
                add_phone(row, first_facts.phones[0], "mobile")
                facts.phones.append(first_facts.phones[0])
            rows[i] = _replace(row, changes)
            _match_facts(facts, rows[i])
            continue
        if roll < SAME_DEALER_SHARE + HOUSEHOLD_SHARE and same:
            j = same[int(rand() * len(same))]
            first, first_facts = rows[j], chunk.customers[j]
            if first_facts.name[:1] == facts.name[:1]:
                continue  # spouses keep their own family names: this one would look a typo
            rows[i] = _replace(row, _taken(first, _ADDRESS))
            family = f"+86{ref.MOBILE_PREFIXES[randrange(len(ref.MOBILE_PREFIXES))]}"
            family += f"{randrange(10**8):08d}"
            for record, record_facts in ((rows[i], facts), (first, first_facts)):
                add_phone(record, family, "home")
                record_facts.phones.append(family)
            continue
        if roll < SAME_DEALER_SHARE + HOUSEHOLD_SHARE + OTHER_DEALER_SHARE and others:
            j = others[int(rand() * len(others))]
            first, first_facts = rows[j], chunk.customers[j]
            changes = _taken(first, _PERSON_FIELDS + ("email", "wechat_id"))
            changes["name"] = (
                first_facts.name if rand() < 0.7 else _name_variant(first_facts.name, rng, names)
            )
            # Often the ID number too (the other dealer holds no record with it).
            changes.update(
                _taken(first, _ID_FIELDS) if rand() < 0.5 else {f: "" for f in _ID_FIELDS}
            )
            rows[i] = _replace(row, changes)
            add_phone(row, first_facts.phones[0], "mobile")
            facts.phones.append(first_facts.phones[0])
            _match_facts(facts, rows[i])
            continue
        earlier.setdefault(dealer_id, []).append(i)
        everyone.append(i)

    ctx.ids.finish(CustomerPhone, next_phone)
    return [Rows(CustomerPhone, PHONE_FIELDS, phones)]


def finish_duplicates(ctx: DemoContext) -> None:
    """After the load: scan every dealer, then the brand across its dealers."""
    from django.db import connection

    from dealercrm.dataquality.models import DuplicateCandidate
    from dealercrm.dataquality.services.duplicates import duplicates_scan

    if DuplicateCandidate._meta.db_table not in connection.introspection.table_names():
        return  # the data-quality tables are not migrated yet: the queue waits for a scan
    for dealer in ctx.org.dealers:
        duplicates_scan(dealer_id=dealer.id)
    duplicates_scan(brand_id=ctx.org.brand_id)


DUPLICATES = ChunkGenerator(
    "duplicates",
    "customers",
    generate_duplicates,
    (CustomerPhone,),
    finish=finish_duplicates,
    finish_after=(),
)
