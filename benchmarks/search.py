"""Search at scale: median and p95 per query kind, through the endpoint and the router alone.

Run on demand, never in the test suite. Use a database of its own:

    # SQLite
    DEALERCRM_VAR_DIR=/tmp/bench-sqlite uv run python benchmarks/search.py load --customers 1000000
    DEALERCRM_VAR_DIR=/tmp/bench-sqlite uv run python benchmarks/search.py run
    # PostgreSQL
    createdb -h 127.0.0.1 -U postgres bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench uv run python benchmarks/search.py load
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench uv run python benchmarks/search.py run

`load --use-demo` runs `dealercrm demo --customers N --seed S` instead of the loader below, which
is a small bulk loader of its own (12 dealers, Chinese names with common surnames, companies,
one or two phones, about 0.8 vehicles a customer with valid VINs and the dealer's plates), and
builds the search keys with `search_keys_bulk_insert`. `run` prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.core.management.color import no_style  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402

from benchmarks.prewarm import prewarm as prewarm_tables  # noqa: E402
from dealercrm.core.models import Brand, Dealer, Region, User  # noqa: E402
from dealercrm.core.permissions import Role  # noqa: E402
from dealercrm.core.scoping import scope_for_user  # noqa: E402
from dealercrm.core.tenancy import DealerScope, dealer_scope  # noqa: E402
from dealercrm.customers.models import Customer, CustomerKind, CustomerPhone  # noqa: E402
from dealercrm.search.keys import (  # noqa: E402
    customer_key_rows,
    pinyin_of,
    vehicle_key_rows,
)
from dealercrm.search.models import SearchKey  # noqa: E402
from dealercrm.search.selectors import SUGGEST_LIMIT, search_customers  # noqa: E402
from dealercrm.search.services import search_keys_bulk_insert  # noqa: E402
from dealercrm.vehicles.models import Vehicle  # noqa: E402
from dealercrm.vehicles.validators import with_check_digit  # noqa: E402

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕"
    "丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严"
    "覃武戴莫孔向汤单解仇翟查"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国志红玲峰林辉鹏飞宇浩然梓涵子轩欣怡一诺佳琪雨泽俊博文思远晨阳"
COMPANY_WORDS = "华信达通宏泰恒盛鑫源兴隆安康瑞祥天成金辉远大中联创新利丰海德嘉禾"
COMPANY_KINDS = ("贸易", "物流", "科技", "建设", "实业", "餐饮", "医药", "电子", "汽车服务", "投资")
DEALERS = (
    ("沪A", "上海市", "上海浦东极光4S店"),
    ("沪B", "上海市", "上海闵行极光4S店"),
    ("京A", "北京市", "北京朝阳极光4S店"),
    ("京B", "北京市", "北京海淀极光4S店"),
    ("粤A", "广东省", "广州天河极光4S店"),
    ("粤B", "广东省", "深圳南山极光4S店"),
    ("苏A", "江苏省", "南京江宁极光4S店"),
    ("苏E", "江苏省", "苏州园区极光4S店"),
    ("浙A", "浙江省", "杭州西湖极光4S店"),
    ("川A", "四川省", "成都武侯极光4S店"),
    ("鄂A", "湖北省", "武汉汉阳极光4S店"),
    ("鲁B", "山东省", "青岛市南极光4S店"),
)
MOBILE_PREFIXES = (
    "130",
    "131",
    "132",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "158",
    "159",
    "176",
    "177",
    "180",
    "181",
    "186",
    "187",
    "188",
    "189",
    "199",
)
VIN_WMIS = ("LSV", "LFV", "LBV", "LGB", "LVS", "LHG")
VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
PLATE_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
BATCH = 5000


# ---------------------------------------------------------------------------------------- load


def make_org() -> tuple[Brand, list[Dealer]]:
    brand, _ = Brand.objects.get_or_create(code="aurora", defaults={"name": "极光汽车"})
    regions = [
        Region.objects.get_or_create(brand=brand, code=code, defaults={"name": name})[0]
        for code, name in (("east", "华东"), ("north", "华北"), ("south", "华南"))
    ]
    dealers = []
    for i, (prefix, province, name) in enumerate(DEALERS):
        dealer, _ = Dealer.objects.get_or_create(
            code=f"B{i:03d}",
            defaults={
                "brand": brand,
                "region": regions[i % 3],
                "name": name,
                "province": province,
                "city": name[:2],
                "plate_prefix": prefix,
            },
        )
        dealers.append(dealer)
        User.objects.get_or_create(
            username=f"bench-manager-{i}",
            defaults={"role": Role.DEALER_MANAGER, "dealer": dealer, "brand": brand},
        )
    User.objects.get_or_create(
        username="bench-oem", defaults={"role": Role.OEM_ANALYST, "brand": brand}
    )
    return brand, dealers


def make_users_for_existing_dealers() -> None:
    """The benchmark's users on a database the demo generator (or benchmarks/demo_generation.py)
    filled: one manager per existing dealer and an OEM analyst of the brand."""
    dealers = list(Dealer.objects.order_by("id"))
    for i, dealer in enumerate(dealers):
        User.objects.get_or_create(
            username=f"bench-manager-{i}",
            defaults={"role": Role.DEALER_MANAGER, "dealer": dealer, "brand": dealer.brand},
        )
    User.objects.get_or_create(
        username="bench-oem", defaults={"role": Role.OEM_ANALYST, "brand": dealers[0].brand}
    )


def person_name(rng: random.Random) -> str:
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2, 2))))
    return rng.choice(SURNAMES) + given


def company_name(rng: random.Random, city: str) -> str:
    word = "".join(rng.sample(COMPANY_WORDS, 2))
    return f"{city}{word}{rng.choice(COMPANY_KINDS)}有限公司"


def load(customers: int, seed: int) -> None:
    call_command("migrate", verbosity=0)
    rng = random.Random(seed)
    with dealer_scope(DealerScope.everything()):
        _, dealers = make_org()
        lookup = SearchKey._meta.indexes[0]
        with connection.schema_editor() as editor:  # an index built once after is much faster
            editor.remove_index(SearchKey, lookup)
        used_phones: set[str] = set()
        writers = {
            "customer": FastInsert(Customer, ("dealer_id", "kind", "name")),
            "phone": FastInsert(
                CustomerPhone, ("dealer_id", "customer_id", "number", "is_primary")
            ),
            "vehicle": FastInsert(Vehicle, ("dealer_id", "owner_id", "vin", "plate")),
        }
        started = time.perf_counter()
        done = 0
        while done < customers:
            n = min(BATCH, customers - done)
            with transaction.atomic():
                load_batch(rng, dealers, n, used_phones, writers)
            done += n
            rate = done / (time.perf_counter() - started)
            print(f"\r{done:>9,} customers, {rate:,.0f}/s", end="", flush=True)
        print()
        t = time.perf_counter()
        with connection.schema_editor() as editor:
            editor.add_index(SearchKey, lookup)
        print(f"search index built in {time.perf_counter() - t:.1f}s")
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(
                no_style(), [Customer, CustomerPhone, Vehicle]
            ):
                cursor.execute(sql)
            cursor.execute("ANALYZE")
        print(f"loaded in {time.perf_counter() - started:.0f}s")


class FastInsert:
    """Rows as tuples of some fields; every other column gets its default, prepared once.

    The benchmark's own loader: bulk_create costs more Python per row than the database takes
    to store it. Ids are given here (one loader at a time writes the database).
    """

    def __init__(self, model, fields: tuple[str, ...]) -> None:  # noqa: ANN001
        self.model = model
        concrete = [f for f in model._meta.concrete_fields if not f.primary_key]
        given = set(fields)
        self.others = [f for f in concrete if f.attname not in given]
        self.extra = tuple(f.get_db_prep_save(f.get_default(), connection) for f in self.others)
        qn = connection.ops.quote_name
        columns = ["id", *fields, *(f.column for f in self.others)]
        self.sql = (
            f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(c) for c in columns)}) "
            f"VALUES ({', '.join(['%s'] * len(columns))})"
        )
        self.copy_sql = (
            f"COPY {qn(model._meta.db_table)} ({', '.join(qn(c) for c in columns)}) FROM STDIN"
        )
        self.next_id = (
            model.objects.unscoped().order_by("-id").values_list("id", flat=True).first() or 0
        ) + 1

    def insert(self, rows: list[tuple]) -> list[int]:
        ids = list(range(self.next_id, self.next_id + len(rows)))
        self.next_id += len(rows)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(self.copy_sql) as copy:
                    for i, r in zip(ids, rows, strict=False):
                        copy.write_row((i, *r, *self.extra))
            else:
                cursor.executemany(
                    self.sql, [(i, *r, *self.extra) for i, r in zip(ids, rows, strict=False)]
                )
        return ids


def load_batch(
    rng: random.Random,
    dealers: list[Dealer],
    n: int,
    used: set[str],
    writers: dict[str, FastInsert],
) -> None:
    people = []
    for _ in range(n):
        dealer = rng.choice(dealers)
        if rng.random() < 0.06:
            people.append((dealer, CustomerKind.COMPANY.value, company_name(rng, dealer.city)))
        else:
            people.append((dealer, CustomerKind.PERSON.value, person_name(rng)))
    ids = writers["customer"].insert([(d.pk, kind, name) for d, kind, name in people])
    phones, vehicles, keys = [], [], []
    for cid, (dealer, _kind, name) in zip(ids, people, strict=False):
        numbers = []
        for _ in range(1 if rng.random() < 0.8 else 2):
            while True:
                number = "+86" + rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
                if number not in used:
                    used.add(number)
                    break
            numbers.append(number)
            phones.append((dealer.pk, cid, number, len(numbers) == 1))
        keys.extend(customer_key_rows(dealer.pk, cid, name=name, phones=numbers))
        if rng.random() < 0.8:
            vin = with_check_digit(
                rng.choice(VIN_WMIS)
                + "".join(rng.choice(VIN_CHARS) for _ in range(8))
                + f"{rng.randrange(10**6):06d}"
            )
            plate = dealer.plate_prefix + "".join(rng.choice(PLATE_CHARS) for _ in range(5))
            vehicles.append((dealer.pk, cid, vin, plate))
    writers["phone"].insert(phones)
    vehicle_ids = writers["vehicle"].insert(vehicles)
    for vid, (did, cid, vin, plate) in zip(vehicle_ids, vehicles, strict=False):
        keys.extend(vehicle_key_rows(did, cid, vid, vin=vin, plate=plate))
    search_keys_bulk_insert(rows=keys)


def load_with_demo(customers: int, seed: int) -> None:
    call_command("migrate", verbosity=0)
    call_command("demo", customers=customers, seed=seed)
    with dealer_scope(DealerScope.everything()):
        make_org()


# ----------------------------------------------------------------------------------------- run


def sample_queries(seed: int, per_kind: int) -> dict[str, list[str]]:
    """Queries of each kind, taken from random customers of the database."""
    rng = random.Random(seed)
    with dealer_scope(DealerScope.everything()):
        max_id = Customer.objects.unscoped().order_by("-id").values_list("id", flat=True)[0]
        people, companies, phones, plates, vins = [], [], [], [], []
        while len(people) < per_kind or len(companies) < per_kind or len(plates) < per_kind:
            ids = [rng.randrange(1, max_id + 1) for _ in range(200)]
            for c in Customer.objects.unscoped().filter(id__in=ids).values("id", "name", "kind"):
                (companies if c["kind"] == CustomerKind.COMPANY else people).append(c["name"])
            for number in (
                CustomerPhone.objects.unscoped()
                .filter(customer_id__in=ids)
                .values_list("number", flat=True)
            ):
                phones.append(number[3:])
            for vin, plate in (
                Vehicle.objects.unscoped().filter(owner_id__in=ids).values_list("vin", "plate")
            ):
                vins.append(vin)
                plates.append(plate)
    people, companies = people[:per_kind], companies[:per_kind]
    phones, plates, vins = phones[:per_kind], plates[:per_kind], vins[:per_kind]

    def middle(text: str, length: int) -> str:
        start = rng.randrange(0, max(len(text) - length, 0) + 1)
        return text[start : start + length]

    return {
        "name (Chinese, full)": people,
        "pinyin (full)": [pinyin_of(p)[0] for p in people],
        "initials": [pinyin_of(p)[1] for p in people],
        "phone (full)": phones,
        "phone tail 4": [p[-4:] for p in phones],
        "plate part (3–4)": [middle(p[1:], rng.choice((3, 4))) for p in plates],
        "VIN tail 6": [v[-6:] for v in vins],
        "company substring (2–4)": [middle(c[2:-4], rng.choice((2, 3, 4))) for c in companies],
    }


def percentiles(samples_ms: list[float]) -> tuple[float, float]:
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered), p95


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def naive_like(kind: str, q: str, dealer_ids: list[int] | None) -> None:
    """What search would cost without keys: LIKE '%q%' scans, limit 10."""

    def scoped(qs):  # noqa: ANN001, ANN202
        return qs if dealer_ids is None else qs.filter(dealer_id__in=dealer_ids)

    with dealer_scope(DealerScope.everything()):
        if kind.startswith(("phone",)):
            list(
                scoped(CustomerPhone.objects.unscoped())
                .filter(number__contains=q)
                .values_list("customer_id", flat=True)[:SUGGEST_LIMIT]
            )
        elif kind.startswith(("plate", "VIN")):
            field = "plate__contains" if kind.startswith("plate") else "vin__contains"
            list(
                scoped(Vehicle.objects.unscoped())
                .filter(**{field: q})
                .values_list("owner_id", flat=True)[:SUGGEST_LIMIT]
            )
        else:  # pinyin and initials have no column to scan: the name stands in for them
            list(
                scoped(Customer.objects.unscoped())
                .filter(name__contains=q)
                .values_list("id", flat=True)[:SUGGEST_LIMIT]
            )


def prewarm() -> None:
    """The tables and indexes a search touches (benchmarks/prewarm.py)."""
    prewarm_tables([SearchKey, Customer, CustomerPhone, Vehicle, Dealer])


def run(seed: int, per_kind: int, repeat: int, naive_repeat: int, warm: bool = True) -> None:
    queries = sample_queries(seed, per_kind)
    if warm:
        prewarm()
    oem = User.objects.get(username="bench-oem")
    managers = {u.dealer_id: u for u in User.objects.filter(username__startswith="bench-manager-")}
    manager = next(iter(managers.values()))
    # The manager's own customers: sample from their dealer so a hit is expected.
    vendor = connection.vendor
    with dealer_scope(DealerScope.everything()):
        total = Customer.objects.unscoped().count()
    print(f"\n### {vendor}, {total:,} customers, load average {os.getloadavg()}")
    rows = []
    for label, user in (("dealer manager", manager), ("OEM analyst", oem)):
        client = Client()
        client.force_login(user)
        scope = scope_for_user(user)
        for kind, qs in queries.items():
            endpoint, server, router_only = [], [], []
            for q in qs:
                for _ in range(repeat):
                    endpoint.extend(timed(lambda q=q: server.append(_get(client, q)), 1))  # noqa: B023
                with dealer_scope(scope):
                    router_only.extend(
                        timed(lambda q=q: search_customers(user, q, limit=SUGGEST_LIMIT), repeat)  # noqa: B023
                    )
            naive = []
            dealer_ids = None if user.is_network_user else [user.dealer_id]
            for q in qs[: max(1, per_kind // 4)]:
                naive.extend(timed(lambda q=q: naive_like(kind, q, dealer_ids), naive_repeat))  # noqa: B023
            e_med, e_p95 = percentiles(endpoint)
            s_med, s_p95 = percentiles(server)
            r_med, r_p95 = percentiles(router_only)
            n_med, n_p95 = percentiles(naive) if naive else (float("nan"), float("nan"))
            rows.append((label, kind, s_med, s_p95, e_med, e_p95, r_med, r_p95, n_med, n_p95))
            print(
                f"{label:15} {kind:26} server {s_med:6.2f}/{s_p95:6.2f} ms  "
                f"endpoint {e_med:6.2f}/{e_p95:6.2f} ms  "
                f"router {r_med:6.2f}/{r_p95:6.2f} ms  LIKE {n_med:8.1f}/{n_p95:8.1f} ms",
                flush=True,
            )
    print()
    print(
        "| user | query kind | server median | server p95 | endpoint median | endpoint p95 "
        "| router median | router p95 | LIKE scan median | LIKE scan p95 |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, kind, *figures in rows:
        print(f"| {label} | {kind} | " + " | ".join(f"{f:.2f}" for f in figures) + " |")


def _get(client: Client, q: str) -> float:
    """One request; the server's own time in ms, from its Server-Timing header."""
    response = client.get("/api/search/", {"q": q, "limit": SUGGEST_LIMIT})
    assert response.status_code == 200, response.status_code
    return float(response["Server-Timing"].split("dur=")[1])


def explain(seed: int) -> None:
    """Print the plan of one branch per probe of each query kind (PostgreSQL: EXPLAIN ANALYZE)."""
    from dealercrm.search.selectors import _branch_template, route_query

    queries = sample_queries(seed, 3)
    with dealer_scope(DealerScope.everything()):
        dealer_id = Dealer.objects.order_by("id").values_list("id", flat=True)[0]
        for kind, qs in queries.items():
            for probe in route_query(qs[0]).probes:
                sql, slots = _branch_template(
                    "default", exact_only=probe.exact_only, consultant=False, limit=15
                )
                values = {
                    "dealer_id": dealer_id,
                    "kind": int(probe.kind),
                    "lo": probe.term,
                    "hi": probe.upper,
                    "consultant_id": None,
                }
                params = [values[n] if n else c for n, c in slots]
                prefix = (
                    "EXPLAIN (ANALYZE, BUFFERS) "
                    if connection.vendor == "postgresql"
                    else "EXPLAIN QUERY PLAN "
                )
                with connection.cursor() as cursor:
                    cursor.execute(prefix + sql, params)
                    plan = "\n".join(" ".join(str(c) for c in row) for row in cursor.fetchall())
                print(f"--- {kind} {qs[0]!r} → kind {probe.kind}\n{plan}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_load = sub.add_parser("load")
    p_load.add_argument("--customers", type=int, default=1_000_000)
    p_load.add_argument("--seed", type=int, default=1)
    p_load.add_argument("--use-demo", action="store_true")
    sub.add_parser("users", help="only add the benchmark's users to a loaded demo database")
    p_run = sub.add_parser("run")
    p_run.add_argument("--seed", type=int, default=7)
    p_run.add_argument("--per-kind", type=int, default=40)
    p_run.add_argument("--repeat", type=int, default=5)
    p_run.add_argument("--naive-repeat", type=int, default=1)
    p_run.add_argument(
        "--cold", action="store_true", help="PostgreSQL: skip reading the tables into memory first"
    )
    p_explain = sub.add_parser("explain")
    p_explain.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(f"database: {connection.vendor} {settings.DATABASES['default']['NAME']}")
    if args.command == "load":
        (load_with_demo if args.use_demo else load)(args.customers, args.seed)
    elif args.command == "users":
        with dealer_scope(DealerScope.everything()):
            make_users_for_existing_dealers()
    elif args.command == "run":
        run(args.seed, args.per_kind, args.repeat, args.naive_repeat, warm=not args.cold)
    else:
        explain(args.seed)


if __name__ == "__main__":
    main()
