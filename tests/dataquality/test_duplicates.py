"""Finding duplicate customers: each blocking key, the name scoring, households, shared numbers,
cross-dealer pairs, decisions that stick, the auto-merge threshold and the scan's query count."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealercrm.core.models import AuditEvent
from dealercrm.core.permissions import Role
from dealercrm.dataquality.models import DedupSettings, DuplicateCandidate, DuplicateStatus
from dealercrm.dataquality.services.duplicates import (
    MAX_BLOCK,
    dedup_settings_save,
    duplicate_decide,
    duplicates_scan,
    name_similarity,
)
from tests.customers.factories import CustomerFactory, CustomerPhoneFactory, valid_id_number
from tests.vehicles.factories import VehicleFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def _pair(a, b) -> DuplicateCandidate | None:
    low, high = sorted([a.pk, b.pk])
    return DuplicateCandidate.objects.filter(customer_a_id=low, customer_b_id=high).first()


def _twins(dealer, *, name_a="张伟", name_b="张伟", **fields):
    return (
        CustomerFactory(dealer=dealer, name=name_a, **fields),
        CustomerFactory(dealer=dealer, name=name_b, **fields),
    )


# --- each blocking key ------------------------------------------------------------------------


def test_same_phone_and_name_is_an_open_pair_with_the_phone_as_reason(dealer):
    a, b = _twins(dealer)
    CustomerPhoneFactory(customer=a, number="+8613912345678")
    CustomerPhoneFactory(customer=b, number="+8613912345678")

    report = duplicates_scan(dealer_id=dealer.pk)

    pair = _pair(a, b)
    assert pair.status == DuplicateStatus.OPEN
    assert pair.customer_a_id == min(a.pk, b.pk)
    assert pair.dealer_id == pair.other_dealer_id == dealer.pk
    assert not pair.cross_dealer
    assert pair.reasons["blocks"] == ["phone"]
    assert pair.reasons["name"] == 1.0
    assert pair.score >= 0.8
    assert report.created == 1 and report.pairs == 1


def test_same_id_number_across_dealers_is_found_by_the_brand_scan(brand, dealer, other_dealer):
    number = valid_id_number(7)
    a = CustomerFactory(dealer=dealer, name="李娜", id_number=number)
    b = CustomerFactory(dealer=other_dealer, name="李娜", id_number=number)

    duplicates_scan(brand_id=brand.pk)

    pair = _pair(a, b)
    assert pair.reasons["blocks"] == ["id_number"]
    assert pair.cross_dealer
    assert pair.score >= 0.9


@pytest.mark.parametrize(
    ("fields_a", "fields_b", "kind"),
    [
        ({"email": "Wei.Zhang@Example.com"}, {"email": "wei.zhang@example.com"}, "email"),
        ({"wechat_id": "wxid_zhangwei88"}, {"wechat_id": "wxid_zhangwei88"}, "wechat"),
    ],
)
def test_email_ignoring_case_and_wechat_id_are_keys(dealer, fields_a, fields_b, kind):
    a = CustomerFactory(dealer=dealer, name="张伟", **fields_a)
    b = CustomerFactory(dealer=dealer, name="张伟", **fields_b)

    duplicates_scan(dealer_id=dealer.pk)

    assert _pair(a, b).reasons["blocks"] == [kind]


def test_same_car_at_two_dealers_pairs_its_owners_by_vin_and_plate(brand, dealer, other_dealer):
    car = VehicleFactory(dealer=dealer, owner=CustomerFactory(dealer=dealer, name="王芳"))
    VehicleFactory(
        dealer=other_dealer,
        vin=car.vin,
        plate=car.plate,
        owner=CustomerFactory(dealer=other_dealer, name="王芳"),
    )

    duplicates_scan(brand_id=brand.pk)

    pair = DuplicateCandidate.objects.get()
    assert pair.reasons["blocks"] == ["vin", "plate"]
    assert pair.status == DuplicateStatus.OPEN


def test_customers_sharing_nothing_are_not_compared(dealer):
    _twins(dealer)  # same name, but no shared key

    assert duplicates_scan(dealer_id=dealer.pk).pairs == 0
    assert not DuplicateCandidate.objects.exists()


def test_deleted_customers_are_skipped(dealer):
    a, b = _twins(dealer)
    b.is_deleted = True
    b.save()
    CustomerPhoneFactory(customer=a, number="+8613912345678")
    CustomerPhoneFactory(customer=b, number="+8613912345678")

    assert duplicates_scan(dealer_id=dealer.pk).pairs == 0


# --- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("王小明", "王晓明"),  # a homophone typo
        ("张三", "三张"),  # swapped order
        ("张三", "San Zhang"),  # Latin spelling, given name first
        ("张三", "Zhang San"),
        ("欧阳娜娜", "欧阳纳纳"),
    ],
)
def test_name_similarity_sees_typos_order_and_pinyin(a, b):
    assert name_similarity(a, b) >= 0.9


def test_name_similarity_of_different_people_is_low():
    assert name_similarity("张伟", "李秀英") < 0.5
    assert name_similarity("张伟", "张秀英") < 0.8


def test_a_one_character_typo_with_the_same_phone_is_a_likely_pair(dealer):
    a, b = _twins(dealer, name_a="刘德华", name_b="刘德桦")
    CustomerPhoneFactory(customer=a, number="+8613900001111")
    CustomerPhoneFactory(customer=b, number="+8613900001111")

    duplicates_scan(dealer_id=dealer.pk)

    pair = _pair(a, b)
    assert pair.status == DuplicateStatus.OPEN
    assert pair.reasons["name"] >= 0.9
    assert pair.score >= 0.75


def test_the_latin_name_is_compared_too(dealer):
    a = CustomerFactory(dealer=dealer, name="张三")
    b = CustomerFactory(dealer=dealer, name="Zhang S.", latin_name="San Zhang")
    CustomerPhoneFactory(customer=a, number="+8613900001112")
    CustomerPhoneFactory(customer=b, number="+8613900001112")

    duplicates_scan(dealer_id=dealer.pk)

    assert _pair(a, b).reasons["name"] >= 0.9


def test_different_birthdays_lower_the_score(dealer):
    same = _twins(dealer, birthday=dt.date(1985, 4, 1))
    a = CustomerFactory(dealer=dealer, name="张伟", birthday=dt.date(1985, 4, 1))
    b = CustomerFactory(dealer=dealer, name="张伟", birthday=dt.date(1962, 9, 9))
    for i, (x, y) in enumerate([same, (a, b)]):
        CustomerPhoneFactory(customer=x, number=f"+861390000200{i}")
        CustomerPhoneFactory(customer=y, number=f"+861390000200{i}")

    duplicates_scan(dealer_id=dealer.pk)

    assert _pair(*same).reasons["birthday"] is True
    assert _pair(a, b).reasons["birthday"] is False
    assert _pair(a, b).score < _pair(*same).score


# --- households and shared numbers ------------------------------------------------------------


def test_same_address_and_home_phone_with_different_names_is_a_household(dealer):
    address = {
        "province": "上海市",
        "city": "上海市",
        "district": "浦东新区",
        "street": "世纪大道100弄5号",
    }
    husband = CustomerFactory(dealer=dealer, name="陈建国", **address)
    wife = CustomerFactory(dealer=dealer, name="林美玲", **address)
    CustomerPhoneFactory(customer=husband, number="+862150001234", label="home")
    CustomerPhoneFactory(customer=wife, number="+862150001234", label="home")

    report = duplicates_scan(dealer_id=dealer.pk)

    pair = _pair(husband, wife)
    assert pair.status == DuplicateStatus.HOUSEHOLD
    assert pair.reasons["household"] is True
    assert pair.reasons["address"] >= 0.8
    assert report.households == 1


def test_a_shared_number_is_skipped_and_counted(dealer):
    fleet = [CustomerFactory(dealer=dealer, name="张伟") for _ in range(MAX_BLOCK + 1)]
    for customer in fleet:
        CustomerPhoneFactory(customer=customer, number="+8613800000000")
    a, b = _twins(dealer, name_a="赵敏", name_b="赵敏")
    CustomerPhoneFactory(customer=a, number="+8613900003333")
    CustomerPhoneFactory(customer=b, number="+8613900003333")

    report = duplicates_scan(dealer_id=dealer.pk)

    assert report.shared_keys_skipped == 1
    assert list(DuplicateCandidate.objects.values_list("customer_a_id", "customer_b_id")) == [
        (min(a.pk, b.pk), max(a.pk, b.pk))
    ]


# --- across dealers ---------------------------------------------------------------------------


def test_the_dealer_scan_never_pairs_another_dealers_customers(brand, dealer, other_dealer):
    a = CustomerFactory(dealer=dealer, name="张伟")
    b = CustomerFactory(dealer=other_dealer, name="张伟")
    CustomerPhoneFactory(customer=a, number="+8613900004444")
    CustomerPhoneFactory(customer=b, number="+8613900004444")

    duplicates_scan(dealer_id=dealer.pk)
    assert not DuplicateCandidate.objects.exists()

    duplicates_scan(brand_id=brand.pk)
    pair = DuplicateCandidate.objects.get()
    assert pair.cross_dealer
    assert {pair.dealer_id, pair.other_dealer_id} == {dealer.pk, other_dealer.pk}
    assert pair.dealer_id == (dealer.pk if a.pk < b.pk else other_dealer.pk)


def test_the_brand_scan_leaves_pairs_within_one_dealer_to_the_dealer(brand, dealer):
    a, b = _twins(dealer)
    CustomerPhoneFactory(customer=a, number="+8613900005555")
    CustomerPhoneFactory(customer=b, number="+8613900005555")

    assert duplicates_scan(brand_id=brand.pk).pairs == 0


def test_only_network_roles_decide_cross_dealer_pairs(brand, dealer, other_dealer, make_user):
    a = CustomerFactory(dealer=dealer, name="张伟")
    b = CustomerFactory(dealer=other_dealer, name="张伟")
    CustomerPhoneFactory(customer=a, number="+8613900006666")
    CustomerPhoneFactory(customer=b, number="+8613900006666")
    duplicates_scan(brand_id=brand.pk)
    pair = DuplicateCandidate.objects.get()

    with pytest.raises(PermissionDenied):
        duplicate_decide(
            actor=make_user(Role.DEALER_MANAGER), candidate=pair, status=DuplicateStatus.LINKED
        )
    duplicate_decide(
        actor=make_user(Role.OEM_ANALYST), candidate=pair, status=DuplicateStatus.LINKED
    )
    pair.refresh_from_db()
    assert pair.status == DuplicateStatus.LINKED
    assert pair.decided_at is not None


# --- decisions, re-scans --------------------------------------------------------------------


def test_a_decided_pair_is_not_reopened_and_an_open_one_is_rescored(dealer, manager):
    a, b = _twins(dealer)
    c, d = _twins(dealer, name_a="周杰", name_b="周杰")
    for i, (x, y) in enumerate([(a, b), (c, d)]):
        CustomerPhoneFactory(customer=x, number=f"+861390000700{i}")
        CustomerPhoneFactory(customer=y, number=f"+861390000700{i}")
    duplicates_scan(dealer_id=dealer.pk)
    duplicate_decide(actor=manager, candidate=_pair(a, b), status=DuplicateStatus.NOT_DUPLICATE)
    open_pair = _pair(c, d)
    score_before = open_pair.score
    d.birthday = dt.date(1990, 1, 1)
    d.save()
    c.birthday = dt.date(1990, 1, 1)
    c.save()

    report = duplicates_scan(dealer_id=dealer.pk)

    assert _pair(a, b).status == DuplicateStatus.NOT_DUPLICATE
    assert report.kept_decided == 1 and report.updated == 1 and report.created == 0
    assert _pair(c, d).score > score_before
    assert DuplicateCandidate.objects.count() == 2
    assert AuditEvent.objects.filter(action="duplicate_decide").count() == 1


def test_a_pair_that_no_longer_shares_a_key_leaves_the_queue(dealer):
    a, b = _twins(dealer)
    CustomerPhoneFactory(customer=a, number="+8613900008888")
    phone = CustomerPhoneFactory(customer=b, number="+8613900008888")
    duplicates_scan(dealer_id=dealer.pk)
    phone.number = "+8613900009999"
    phone.save()

    report = duplicates_scan(dealer_id=dealer.pk)

    assert report.removed == 1
    assert not DuplicateCandidate.objects.exists()


def test_a_scan_after_an_import_writes_only_pairs_touching_the_imported(dealer):
    a, b = _twins(dealer)
    c, d = _twins(dealer, name_a="周杰", name_b="周杰")
    for i, (x, y) in enumerate([(a, b), (c, d)]):
        CustomerPhoneFactory(customer=x, number=f"+861390001000{i}")
        CustomerPhoneFactory(customer=y, number=f"+861390001000{i}")

    duplicates_scan(dealer_id=dealer.pk, customer_ids=[d.pk])

    assert _pair(c, d) is not None
    assert _pair(a, b) is None


def test_decisions_refuse_linking_within_a_dealer_and_unknown_statuses(dealer, manager):
    a, b = _twins(dealer)
    CustomerPhoneFactory(customer=a, number="+8613900001234")
    CustomerPhoneFactory(customer=b, number="+8613900001234")
    duplicates_scan(dealer_id=dealer.pk)
    pair = _pair(a, b)

    with pytest.raises(ValidationError) as linked:
        duplicate_decide(actor=manager, candidate=pair, status=DuplicateStatus.LINKED)
    with pytest.raises(ValidationError):
        duplicate_decide(actor=manager, candidate=pair, status="banana")

    assert "status" in linked.value.message_dict
    pair.refresh_from_db()
    assert pair.status == DuplicateStatus.OPEN


# --- the policy and auto-merge ---------------------------------------------------------------


@pytest.mark.parametrize("value", [0.2, 1.5])
def test_the_threshold_must_be_between_half_and_one(dealer, manager, value):
    with pytest.raises(ValidationError) as error:
        dedup_settings_save(actor=manager, dealer_id=dealer.pk, auto_merge_above=value)
    assert "auto_merge_above" in error.value.message_dict


def test_saving_the_threshold_is_audit_logged(dealer, manager):
    dedup_settings_save(actor=manager, dealer_id=dealer.pk, auto_merge_above=0.9)
    dedup_settings_save(actor=manager, dealer_id=dealer.pk, auto_merge_above=None)

    assert DedupSettings.objects.get(dealer=dealer).auto_merge_above is None
    event = AuditEvent.objects.filter(action="dedup_settings").order_by("-id").first()
    assert event.changes == {"auto_merge_above": [0.9, None]}


def _merge_ready() -> bool:
    from dealercrm.dataquality.services import merges

    try:
        merges.merge_plan(survivor=None, merged=None)  # type: ignore[arg-type]
    except NotImplementedError:
        return False
    except Exception:  # noqa: BLE001 - implemented: it fails on the None arguments
        return True
    return True


def test_auto_merge_only_above_the_dealers_threshold(dealer, manager):
    if not _merge_ready():
        pytest.skip("customer_merge (helper merge) is not implemented yet")
    sure = _twins(dealer, birthday=dt.date(1980, 2, 2))  # same name, phone and birthday
    unsure = _twins(dealer, name_a="刘德华", name_b="刘德桦")
    for i, (x, y) in enumerate([sure, unsure]):
        CustomerPhoneFactory(customer=x, number=f"+861390001100{i}")
        CustomerPhoneFactory(customer=y, number=f"+861390001100{i}")
    duplicates_scan(dealer_id=dealer.pk)
    threshold = (_pair(*sure).score + _pair(*unsure).score) / 2
    dedup_settings_save(actor=manager, dealer_id=dealer.pk, auto_merge_above=max(threshold, 0.5))

    report = duplicates_scan(dealer_id=dealer.pk)

    assert report.auto_merged == 1
    assert _pair(*sure).status == DuplicateStatus.MERGED
    assert _pair(*unsure).status == DuplicateStatus.OPEN


def test_no_threshold_no_auto_merge(dealer):
    a, b = _twins(dealer, birthday=dt.date(1980, 2, 2))
    CustomerPhoneFactory(customer=a, number="+8613900012000")
    CustomerPhoneFactory(customer=b, number="+8613900012000")

    report = duplicates_scan(dealer_id=dealer.pk)

    assert report.auto_merged == 0
    assert _pair(a, b).status == DuplicateStatus.OPEN


# --- set-based ------------------------------------------------------------------------------


def _scan_queries(dealer, pairs: int) -> int:
    for i in range(pairs):
        a, b = _twins(dealer, name_a=f"客户甲{i}", name_b=f"客户甲{i}")
        CustomerPhoneFactory(customer=a, number=f"+86137{dealer.pk:02d}{i:06d}")
        CustomerPhoneFactory(customer=b, number=f"+86137{dealer.pk:02d}{i:06d}")
        b.email = a.email = f"c{i}@example.com"
        a.save()
        b.save()
    with CaptureQueriesContext(connection) as queries:
        report = duplicates_scan(dealer_id=dealer.pk)
    assert report.created == pairs
    return len(queries)


def test_the_scans_query_count_does_not_grow_with_the_pairs(dealer, other_dealer):
    assert _scan_queries(dealer, 2) == _scan_queries(other_dealer, 12)


# --- the command ------------------------------------------------------------------------------


def test_the_command_scans_the_dealers_and_the_brand(brand, dealer, other_dealer):
    from io import StringIO

    from django.core.management import call_command

    a, b = _twins(dealer)
    c = CustomerFactory(dealer=other_dealer, name="张伟")
    for customer in (a, b, c):
        CustomerPhoneFactory(customer=customer, number="+8613900013000")
    out = StringIO()

    call_command("dataquality", "duplicates", "--brand", brand.code, stdout=out)

    assert DuplicateCandidate.objects.filter(cross_dealer=False).count() == 1
    assert DuplicateCandidate.objects.filter(cross_dealer=True).count() == 2
    assert "3 likely duplicate pairs (3 new" in out.getvalue()


def test_the_command_names_an_unknown_dealer(dealer):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="NOPE"):
        call_command("dataquality", "duplicates", "--dealer", "NOPE")


def test_the_settings_pages_example_holds_at_0_9():
    """The policy page says: at 0.9 a pair with the same name and phone is merged only when the
    birthday and the address agree too."""
    from dealercrm.dataquality.services.duplicates import _Person, score_pair

    def person(pk, **fields):
        base = {"name": "张伟", "latin_name": "", "province": "上海市", "city": "上海市"}
        base.update({"district": "", "street": "", "birthday": ""}, **fields)
        return _Person(id=pk, dealer_id=1, **base)

    home = {"district": "浦东新区", "street": "世纪大道100号"}
    everything, _ = score_pair(
        person(1, birthday="1980-01-01", **home),
        person(2, birthday="1980-01-01", **home),
        ["phone"],
    )
    no_address, _ = score_pair(
        person(1, birthday="1980-01-01"), person(2, birthday="1980-01-01"), ["phone"]
    )
    no_birthday, _ = score_pair(person(1, **home), person(2, **home), ["phone"])

    assert everything > 0.9 > max(no_address, no_birthday)
