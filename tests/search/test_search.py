"""Searching: every query kind on this engine, ranking, and only what the user may see."""

from __future__ import annotations

import pytest

from dealercrm.core.permissions import Role
from dealercrm.core.scoping import scope_for_user
from dealercrm.core.tenancy import dealer_scope
from dealercrm.search.selectors import search_customers
from tests.core.factories import BrandFactory, DealerFactory
from tests.search.factories import searchable_customer, vin_with_check_digit

pytestmark = pytest.mark.django_db

VIN = vin_with_check_digit("LSVAB2BX0P1234567")


def search_as(user, query, **kwargs):
    with dealer_scope(scope_for_user(user)):
        return search_customers(user, query, **kwargs)


def names(hits):
    return [h.name for h in hits]


@pytest.fixture
def zhang(dealer):
    return searchable_customer(
        dealer,
        "张三",
        latin_name="Peter Zhang",
        phones=["+8613812341234"],
        vehicles=[(VIN, "沪A12345")],
    )


@pytest.mark.parametrize(
    "query",
    [
        "张三",  # name
        "张",  # name prefix
        "三",  # part of the name
        "zhangsan",  # pinyin
        "zhangs",  # pinyin prefix
        "zs",  # initials
        "peterz",  # Latin name prefix
        "13812341234",  # whole phone
        "+86 138 1234 1234",  # whole phone, as typed
        "1234",  # phone tail (尾号)
        "341234",  # six digits: phone tail
        "沪A12345",  # whole plate
        "沪A1",  # plate prefix
        "A123",  # part of a plate
        "2345",  # digits of a plate
        VIN,  # VIN
        VIN[:10],  # start of a VIN
        VIN[-6:],  # last six of the VIN
    ],
)
def test_each_query_kind_finds_the_customer(zhang, manager, query):
    # given a customer with a phone and a car, when the manager searches, then they are found
    hits = search_as(manager, query)
    assert zhang.pk in [h.customer_id for h in hits]


def test_a_company_is_found_by_any_part_of_its_name(dealer, manager):
    company = searchable_customer(dealer, "上海宏泰物流有限公司", kind="company")
    for query in ("宏泰", "物流", "上海宏泰", "有限公司", "shanghai"):
        assert [h.customer_id for h in search_as(manager, query)] == [company.pk], query


def test_a_polyphonic_surname_is_found_by_its_surname_reading(dealer, manager):
    zeng = searchable_customer(dealer, "曾国藩")
    assert [h.customer_id for h in search_as(manager, "zengguofan")] == [zeng.pk]
    assert [h.customer_id for h in search_as(manager, "zgf")] == [zeng.pk]


def test_exact_matches_rank_before_prefixes_and_prefixes_before_substrings(dealer, manager):
    searchable_customer(dealer, "李张三")  # substring
    searchable_customer(dealer, "张三丰")  # prefix
    searchable_customer(dealer, "张三")  # exact
    assert names(search_as(manager, "张三")) == ["张三", "张三丰", "李张三"]


def test_a_customer_matched_several_ways_appears_once(dealer, manager):
    searchable_customer(dealer, "王五", phones=["+8613900001234", "+8613700001234"])
    hits = search_as(manager, "1234")
    assert names(hits) == ["王五"]


def test_results_show_masked_phone_matching_plate_and_stage(zhang, manager):
    (hit,) = search_as(manager, "A123")
    assert hit.masked_phone == "138****1234"
    assert hit.matched_label == "沪A12345"
    assert hit.lifecycle_stage == "prospect"
    assert hit.dealer_name == ""  # dealer users do not need their own dealer's name


def test_the_limit_is_respected(dealer, manager):
    for i in range(14):
        searchable_customer(dealer, f"赵{i}")
    assert len(search_as(manager, "赵")) == 10
    assert len(search_as(manager, "赵", limit=50)) == 14


def test_another_dealers_customer_never_appears(dealer, other_dealer, make_user):
    searchable_customer(other_dealer, "张三", phones=["+8613812341234"])
    mine = searchable_customer(dealer, "张三", phones=["+8613912341234"])
    manager = make_user(Role.DEALER_MANAGER)
    for query in ("张三", "zs", "1234"):
        assert [h.customer_id for h in search_as(manager, query)] == [mine.pk]


def test_a_consultant_finds_only_their_own_customers(dealer, consultant):
    own = searchable_customer(dealer, "张三", assigned_consultant=consultant)
    searchable_customer(dealer, "张三丰")  # the colleague's customer
    assert [h.customer_id for h in search_as(consultant, "张三")] == [own.pk]


def test_an_oem_user_finds_every_dealer_of_the_brand_with_the_dealer_name(
    dealer, other_dealer, oem_analyst
):
    a = searchable_customer(dealer, "张三")
    b = searchable_customer(other_dealer, "张三")
    foreign_brand = BrandFactory(code="other", name="别的品牌")
    searchable_customer(DealerFactory(brand=foreign_brand), "张三")
    hits = search_as(oem_analyst, "张三")
    assert sorted(h.customer_id for h in hits) == sorted([a.pk, b.pk])
    assert {h.dealer_name for h in hits} == {dealer.name, other_dealer.name}


def test_a_deleted_customer_is_not_found(dealer, manager):
    gone = searchable_customer(dealer, "张三")
    gone.is_deleted = True
    gone.save(update_fields=["is_deleted"])
    assert search_as(manager, "张三") == []


def test_a_role_without_customer_access_finds_nothing(dealer, make_user):
    searchable_customer(dealer, "张三")
    assert search_as(make_user(Role.DEALER_ADMIN), "张三") == []


def test_an_id_number_finds_its_customer_by_the_keyed_hash(dealer, manager):
    from dealercrm.customers.id_numbers import lookup_hash

    id_number = "11010519491231002X"
    customer = searchable_customer(dealer, "王五", id_number_hash=lookup_hash(id_number))
    assert [h.customer_id for h in search_as(manager, id_number.lower())] == [customer.pk]


@pytest.mark.parametrize("role", [Role.DEALER_MANAGER, Role.SALES_CONSULTANT, Role.OEM_ANALYST])
def test_the_number_of_queries_of_a_search_does_not_grow_with_the_matches(
    dealer, other_dealer, make_user, django_assert_num_queries, role
):
    user = make_user(role)
    for i in range(3):
        searchable_customer(
            dealer, f"张{i}", phones=[f"+861380000{i:04d}"], assigned_consultant=user
        )
    with dealer_scope(scope_for_user(user)), django_assert_num_queries(2):
        few = search_customers(user, "张")
    for i in range(3, 25):
        searchable_customer(
            other_dealer if i % 2 else dealer,
            f"张{i}",
            phones=[f"+861380000{i:04d}"],
            vehicles=[(vin_with_check_digit(f"LSVAB2BX0P{i:07d}"), f"沪A{i:05d}")],
            assigned_consultant=user if i % 2 == 0 else None,
        )
    with dealer_scope(scope_for_user(user)), django_assert_num_queries(2):
        many = search_customers(user, "张", limit=50)
    assert len(many) > len(few)


def _best_ranks(user, query: str) -> dict[int, tuple]:
    """The oracle: every key in the user's dealers read from the table and ranked in Python,
    each customer at its best key."""
    from dealercrm.search.models import SearchKey
    from dealercrm.search.selectors import _match_class, route_query

    scope = scope_for_user(user)
    best: dict[int, tuple] = {}
    with dealer_scope(scope):
        keys = list(SearchKey.objects.values_list("customer_id", "kind", "term"))
    for order, probe in enumerate(route_query(query).probes):
        for customer_id, kind, term in keys:
            in_range = term == probe.term if probe.exact_only else term.startswith(probe.term)
            if kind != probe.kind or not in_range:
                continue
            rank = (_match_class(kind, term, probe), order, term)
            if customer_id not in best or rank < best[customer_id]:
                best[customer_id] = rank
    return best


@pytest.mark.parametrize("role", [Role.DEALER_MANAGER, Role.OEM_ANALYST])
def test_the_best_matches_are_found_when_every_dealer_has_more_than_the_limit(
    dealer, other_dealer, brand, make_user, role
):
    """More matching keys than the limit in every dealer and probe, several keys of one customer
    in one probe (names like 张伟伟), and equal terms: the hits are the best-ranked customers of
    all, each at their best key, as the oracle that reads every key finds them."""
    import itertools

    third = DealerFactory(brand=brand, name="广州天河极光4S店")
    user = make_user(role)
    letters = "张王伟三"
    names_ = ["".join(t) for n in (1, 2, 3) for t in itertools.product(letters, repeat=n)]
    for i, name in enumerate(names_):
        searchable_customer(
            (dealer, other_dealer, third)[i % 3],
            name,
            phones=[f"+86138{i % 7:04d}{i:04d}", f"+86139{i % 5:04d}{i:04d}"],
        )
    for query in ("张", "伟", "王伟", "伟伟", "zw", "w", "wang", "0001", "1234"):
        for limit in (10, 30):
            hits = search_as(user, query, limit=limit)
            best = _best_ranks(user, query)
            expected = sorted(best.values())[:limit]
            assert [h.rank for h in hits] == expected, (query, limit)
            assert all(best[h.customer_id] == h.rank for h in hits), (query, limit)
