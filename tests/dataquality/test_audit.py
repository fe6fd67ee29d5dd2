"""The audit's scores, computed by hand on a tiny network: every check fails once (or twice),
the weights are applied, dealers are ranked, and only the period's records count."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealercrm.core.models import AuditEvent
from dealercrm.core.tenancy import DealerScope, dealer_scope
from dealercrm.dataquality.models import AuditPolicy, DealerAuditScore, DuplicateCandidate
from dealercrm.dataquality.selectors.audit import failing_records
from dealercrm.dataquality.services.audit import (
    audit_policy_save,
    audit_run,
    audit_run_months,
    policy_for_brand,
    rebate_bands_save,
    rebate_for,
)
from dealercrm.sales.models import OrderStage
from dealercrm.vehicles.models import VehicleOwnership
from dealercrm.vehicles.validators import parse_plate
from tests.core.factories import BrandFactory, DealerFactory
from tests.customers.factories import CustomerFactory, CustomerPhoneFactory
from tests.sales.factories import LeadFactory, OrderFactory
from tests.vehicles.factories import MileageReadingFactory, VehicleFactory, make_vin

SEPTEMBER = dt.date(2024, 9, 1)
HERE = {"province": "上海市", "city": "上海市"}
pytestmark = pytest.mark.django_db


def _aware(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def _order(dealer, customer, *, ordered_on, delivered_on, created_at):  # noqa: ANN001, ANN202
    lead = LeadFactory(dealer=dealer, customer=customer)
    return OrderFactory(
        lead=lead,
        ordered_on=ordered_on,
        promised_delivery_on=delivered_on,
        delivered_on=delivered_on,
        stage=OrderStage.DELIVERED,
        created_at=created_at,
    )


def _bad_check_digit(vin: str) -> str:
    wrong = "0" if vin[8] != "0" else "1"
    return vin[:8] + wrong + vin[9:]


@pytest.fixture
def network(dealer, other_dealer):  # noqa: ANN201
    """Dealer A: six customers, three vehicles, two orders, each check failing once (the pair
    checks twice). Dealer B: one clean customer, plus records outside September."""
    with time_machine.travel(_aware("2024-09-20 10:00:00"), tick=False):
        c1 = CustomerFactory(**HERE, dealer=dealer, name="张三", gender="male")
        c2 = CustomerFactory(**HERE, dealer=dealer, name="李四", gender="unknown")  # missing gender
        # No phone; an ID number shown masked but never stored for checking.
        c3 = CustomerFactory(
            **HERE,
            dealer=dealer,
            name="王五",
            gender="female",
            id_number_masked="110101********1234",
        )
        c3.id_number_hash = ""
        c3.save(update_fields=["id_number_hash"])
        c4 = CustomerFactory(**HERE, dealer=dealer, name="赵六", gender="male")
        c5 = CustomerFactory(**HERE, dealer=dealer, name="钱七", gender="male")
        c6 = CustomerFactory(**HERE, dealer=dealer, name="极光物流有限公司", kind="company")
        CustomerPhoneFactory(customer=c1, number="+8613912345678")
        CustomerPhoneFactory(customer=c2, number="+8613912345679")
        CustomerPhoneFactory(customer=c4, number="+86139123")  # too short for a mobile
        CustomerPhoneFactory(customer=c5, number="+8613912345678")  # c1's number
        CustomerPhoneFactory(customer=c6, number="+862161234567", label="work")  # a landline
        a, b = sorted([c2.pk, c3.pk])
        DuplicateCandidate.objects.create(
            dealer=dealer, customer_a_id=a, customer_b_id=b, other_dealer=dealer, score=0.9
        )
        v1 = VehicleFactory(dealer=dealer, owner=c1, ownership=False)
        v2 = VehicleFactory(
            dealer=dealer, owner=c2, vin=_bad_check_digit(make_vin(901)), ownership=False
        )
        VehicleFactory(dealer=dealer, owner=c4, plate="沪A1234")  # 6 characters
        MileageReadingFactory(vehicle=v1, km=5000, read_on=dt.date(2024, 8, 1))
        MileageReadingFactory(vehicle=v1, km=4000, read_on=dt.date(2024, 9, 1))  # went down
        MileageReadingFactory(vehicle=v2, km=3000, read_on=dt.date(2024, 9, 1))
        own = VehicleOwnership.objects.create
        own(
            dealer=dealer,
            vehicle=v1,
            customer=c1,
            started_on=dt.date(2024, 1, 1),
            ended_on=dt.date(2024, 7, 1),
        )
        own(dealer=dealer, vehicle=v1, customer=c5, started_on=dt.date(2024, 6, 1))  # overlaps
        own(
            dealer=dealer,
            vehicle=v2,
            customer=c2,
            started_on=dt.date(2024, 1, 1),
            ended_on=dt.date(2024, 5, 1),
        )
        own(dealer=dealer, vehicle=v2, customer=c4, started_on=dt.date(2024, 5, 1))  # handed on
        # Entered two days after delivery: in time. Entered eleven days after: late, and
        # delivered before it was ordered.
        _order(
            dealer,
            c1,
            ordered_on=dt.date(2024, 9, 1),
            delivered_on=dt.date(2024, 9, 8),
            created_at=_aware("2024-09-10 09:00:00"),
        )
        _order(
            dealer,
            c4,
            ordered_on=dt.date(2024, 9, 5),
            delivered_on=dt.date(2024, 9, 1),
            created_at=_aware("2024-09-12 09:00:00"),
        )
        # Outside the period: an August delivery entered late (not September's sale).
        _order(
            dealer,
            c5,
            ordered_on=dt.date(2024, 8, 1),
            delivered_on=dt.date(2024, 8, 2),
            created_at=_aware("2024-09-01 09:00:00"),
        )
        b1 = CustomerFactory(**HERE, dealer=other_dealer, name="孙八", gender="female")
        CustomerPhoneFactory(customer=b1, number="+8613812340000")
        # Deleted, and a customer added in October: neither counts for September.
        CustomerFactory(**HERE, dealer=other_dealer, name="", gender="unknown", is_deleted=True)
    with time_machine.travel(_aware("2024-10-02 10:00:00"), tick=False):
        CustomerFactory(**HERE, dealer=other_dealer, name="", gender="unknown")
    return {"a": dealer, "b": other_dealer}


EXPECTED_FAILURES_A = {
    "missing_phone": 1,
    "missing_gender": 1,
    "invalid_phone": 1,
    "id_number_unverifiable": 1,
    "invalid_vin": 1,
    "invalid_plate": 1,
    "open_duplicate": 2,
    "shared_phone": 2,
    "late_sale": 1,
    "mileage_decreasing": 1,
    "overlapping_owners": 1,
    "delivery_before_order": 1,
}


def test_each_check_counts_its_failures_and_dimensions_are_shares_of_passing_checks(network):
    rows = {r.dealer_id: r for r in audit_run(brand_id=network["a"].brand_id, period=SEPTEMBER)}
    a = rows[network["a"].pk]
    assert a.failures == EXPECTED_FAILURES_A
    assert a.customers == 6
    # The default fields: name, phone, province, city, source channel 6 each, gender 5
    # (persons only); 2 fail.
    assert a.completeness == pytest.approx(round(100 * 33 / 35, 2))
    # phones 5, masked ID numbers 1, VINs 3, plates 3; 4 fail.
    assert a.validity == pytest.approx(round(100 * 8 / 12, 2))
    # open pair 6, shared phone 6; 4 fail.
    assert a.uniqueness == pytest.approx(round(100 * 8 / 12, 2))
    assert a.timeliness == 50.0  # one of September's two deliveries entered late
    # vehicles with readings 2, with owners 2 (the third car's owner is from the factory: 3),
    # September's orders 2.
    assert a.consistency == pytest.approx(round(100 * 4 / 7, 2))
    expected = (
        a.completeness * 30
        + a.validity * 25
        + a.uniqueness * 20
        + a.timeliness * 15
        + a.consistency * 10
    ) / 100
    assert a.score == pytest.approx(round(expected, 2))
    assert a.weights == {
        "completeness": 30.0,
        "validity": 25.0,
        "uniqueness": 20.0,
        "timeliness": 15.0,
        "consistency": 10.0,
    }
    b = rows[network["b"].pk]
    assert (b.completeness, b.validity, b.uniqueness, b.timeliness, b.consistency) == (
        100.0,
        100.0,
        100.0,
        100.0,
        100.0,
    )
    assert b.customers == 1 and b.failures == {}
    assert (b.rank, a.rank, a.ranked_of, b.ranked_of) == (1, 2, 2, 2)


def test_the_brands_weights_and_required_fields_are_applied(network, oem_analyst):
    audit_policy_save(
        actor=oem_analyst,
        brand_id=network["a"].brand_id,
        weights={
            "completeness": 100,
            "validity": 0,
            "uniqueness": 0,
            "timeliness": 0,
            "consistency": 0,
        },
        required_fields=["name", "birthday"],
        timeliness_days=30,
    )
    rows = {r.dealer_id: r for r in audit_run(brand_id=network["a"].brand_id, period=SEPTEMBER)}
    a = rows[network["a"].pk]
    # Nobody has a birthday: 5 persons fail; names 6 pass. Thirty days: no sale is late.
    assert a.failures["missing_birthday"] == 5
    assert "missing_gender" not in a.failures and "late_sale" not in a.failures
    assert a.score == a.completeness == pytest.approx(round(100 * 6 / 11, 2))
    assert a.timeliness == 100.0


def test_a_second_run_updates_the_months_rows_and_other_brands_are_left_alone(network):
    other_brand = BrandFactory(code="nova", name="新星")
    DealerFactory(brand=other_brand)
    audit_run(brand_id=network["a"].brand_id, period=dt.date(2024, 9, 17))
    audit_run(brand_id=network["a"].brand_id, period=SEPTEMBER)
    audit_run(brand_id=network["a"].brand_id, period=dt.date(2024, 8, 1))
    scores = DealerAuditScore.objects.unscoped()
    assert scores.count() == 4
    assert set(scores.values_list("period", flat=True)) == {SEPTEMBER, dt.date(2024, 8, 1)}
    august = scores.get(dealer=network["a"], period=dt.date(2024, 8, 1))
    # In August: the late August sale counts, September's do not.
    assert august.failures.get("late_sale") == 1
    assert "delivery_before_order" not in august.failures


AUGUST, OCTOBER = dt.date(2024, 8, 1), dt.date(2024, 10, 1)


def test_several_months_in_one_pass_count_as_each_month_alone(network):
    brand_id = network["a"].brand_id
    # When August to October are scored in one run
    rows = audit_run_months(brand_id=brand_id, periods=[OCTOBER, AUGUST, SEPTEMBER])
    scores = {(r.dealer_id, r.period): r for r in rows}
    assert len(scores) == len(rows) == 6
    # Then each month's failures are exactly the records the drill-down lists for that month,
    # by that month's own predicates
    checks = policy_for_brand(brand_id).checks()
    with dealer_scope(DealerScope.everything()):
        for (dealer_id, period), row in scores.items():
            listed = {
                check.code: failing_records(check, dealer_id=dealer_id, period=period).count()
                for check in checks
            }
            assert row.failures == {code: n for code, n in listed.items() if n}, (dealer_id, period)
    # and by hand: August has only the late August sale (the rest was entered in September);
    # October keeps September's records, and its vehicles' faults, but none of its sales
    a = network["a"].pk
    assert scores[(a, AUGUST)].failures == {"late_sale": 1}
    assert scores[(a, AUGUST)].customers == 0
    assert scores[(a, SEPTEMBER)].failures == EXPECTED_FAILURES_A
    october = {k: v for k, v in EXPECTED_FAILURES_A.items()}
    del october["late_sale"], october["delivery_before_order"]
    assert scores[(a, OCTOBER)].failures == october
    # and the customer added in October counts from October on
    b = network["b"].pk
    assert scores[(b, OCTOBER)].customers == scores[(b, SEPTEMBER)].customers + 1
    # and a run of one month gives that month's row the same scores
    alone = {r.dealer_id: r for r in audit_run(brand_id=brand_id, period=SEPTEMBER)}
    for dealer_id, row in alone.items():
        together = scores[(dealer_id, SEPTEMBER)]
        assert (row.score, row.rank, row.failures) == (
            together.score,
            together.rank,
            together.failures,
        )


def test_a_reading_lower_than_an_earlier_one_fails_from_its_own_month_on(network):
    # Given a car whose reading went down only in October
    with time_machine.travel(_aware("2024-09-20 10:00:00"), tick=False):
        owner = CustomerFactory(**HERE, dealer=network["a"], name="周九", gender="male")
        car = VehicleFactory(dealer=network["a"], owner=owner, ownership=False)
    MileageReadingFactory(vehicle=car, km=9000, read_on=dt.date(2024, 9, 25))
    MileageReadingFactory(vehicle=car, km=8000, read_on=dt.date(2024, 10, 3))
    rows = audit_run_months(brand_id=network["a"].brand_id, periods=[SEPTEMBER, OCTOBER])
    failures = {r.period: r.failures for r in rows if r.dealer_id == network["a"].pk}
    # Then it fails in October, not in September (where its one reading was fine)
    assert failures[SEPTEMBER]["mileage_decreasing"] == 1
    assert failures[OCTOBER]["mileage_decreasing"] == 2


def test_more_months_take_no_more_queries(network, brand):
    def queries(months: list[dt.date]) -> int:
        with CaptureQueriesContext(connection) as ctx:
            audit_run_months(brand_id=brand.pk, periods=months)
        return len(ctx.captured_queries)

    assert queries([SEPTEMBER]) == queries([dt.date(2024, m, 1) for m in range(1, 13)])


def test_the_command_scores_several_months(network, brand):
    call_command("dataquality", "audit", "--period", "2024-10", "--months", "3", verbosity=0)
    scores = DealerAuditScore.objects.unscoped()
    assert set(scores.values_list("period", flat=True)) == {AUGUST, SEPTEMBER, OCTOBER}
    assert scores.count() == 6  # two dealers, three months


def test_the_run_takes_the_same_queries_whatever_the_dealers_and_customers(network, brand):
    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            audit_run(brand_id=brand.pk, period=SEPTEMBER)
        return len(ctx.captured_queries)

    first = queries()
    for _n in range(3):
        extra = DealerFactory(brand=brand)
        for _m in range(4):
            customer = CustomerFactory(dealer=extra, gender="male")
            CustomerPhoneFactory(customer=customer)
            VehicleFactory(dealer=extra, owner=customer)
    assert queries() == first
    assert first <= 12


def test_sql_plate_and_vin_rules_agree_with_the_validators(dealer):
    from dealercrm.vehicles.models import Vehicle

    plates = [
        "沪A12345",
        "沪AD12345",
        "粤B12345D",
        "京A1234学",
        "沪I12345",
        "沪A1234",
        "A12345",
        "沪AX12345",
        "沪A12345F",
        "沪AO1234",
    ]
    customer = CustomerFactory(dealer=dealer)
    for n, plate in enumerate(plates):
        VehicleFactory(dealer=dealer, owner=customer, plate=plate, vin=make_vin(500 + n))
    VehicleFactory(dealer=dealer, owner=customer, plate="", vin=_bad_check_digit(make_vin(600)))
    VehicleFactory(dealer=dealer, owner=customer, plate="", vin="LSVAB1234")
    rows = audit_run(brand_id=dealer.brand_id, period=dt.date.today())
    failures = next(r for r in rows if r.dealer_id == dealer.pk).failures

    def valid(plate: str) -> bool:
        try:
            parse_plate(plate)
        except ValidationError:
            return False
        return True

    assert failures.get("invalid_plate", 0) == sum(not valid(p) for p in plates)
    assert failures["invalid_vin"] == 2
    assert Vehicle.objects.filter(dealer=dealer).count() == len(plates) + 2


def test_policy_validation_names_the_field(brand, oem_analyst):
    with pytest.raises(ValidationError) as raised:
        audit_policy_save(
            actor=oem_analyst,
            brand_id=brand.pk,
            weights={
                "completeness": 50,
                "validity": -5,
                "uniqueness": "x",
                "timeliness": 10,
                "consistency": "",
            },
            required_fields=["name", "shoe_size"],
            timeliness_days="soon",
        )
    errors = raised.value.message_dict
    assert set(errors) == {
        "weights.validity",
        "weights.uniqueness",
        "weights.consistency",
        "required_fields",
        "timeliness_days",
    }
    with pytest.raises(ValidationError) as raised:
        audit_policy_save(
            actor=oem_analyst,
            brand_id=brand.pk,
            weights={
                "completeness": 50,
                "validity": 20,
                "uniqueness": 20,
                "timeliness": 20,
                "consistency": 0,
            },
            required_fields=["name"],
            timeliness_days=7,
        )
    assert "110" in raised.value.message_dict["weights"][0]
    assert not AuditPolicy.objects.filter(brand=brand).exists()


def test_policy_and_bands_are_saved_and_audit_logged(brand, oem_analyst):
    audit_policy_save(
        actor=oem_analyst,
        brand_id=brand.pk,
        weights={
            "completeness": 40,
            "validity": 20,
            "uniqueness": 20,
            "timeliness": 10,
            "consistency": 10,
        },
        required_fields=["name", "phone"],
        timeliness_days=5,
    )
    bands = rebate_bands_save(
        actor=oem_analyst,
        brand_id=brand.pk,
        bands=[("70", "50", "C"), ("90", "100", "A"), ("80", "80", "B")],
    )
    assert [str(b.min_score) for b in bands] == ["90.00", "80.00", "70.00"]
    assert rebate_for(95, bands).label == "A"
    assert rebate_for(90, bands).label == "A"
    assert rebate_for(89.99, bands).label == "B"
    assert rebate_for(69.5, bands) is None
    events = AuditEvent.objects.filter(actor=oem_analyst, action=AuditEvent.Action.CHANGE)
    assert events.count() == 2
    policy = AuditPolicy.objects.get(brand=brand)
    assert policy.timeliness_days == 5 and policy.updated_by == oem_analyst


@pytest.mark.parametrize(
    ("bands", "field"),
    [
        ([("90", "100", ""), ("90", "50", "")], "bands"),
        ([("120", "100", "")], "bands.1.min_score"),
        ([("90", "101", "")], "bands.1.rebate_percent"),
        ([("90", "abc", "")], "bands.1.rebate_percent"),
        ([], "bands"),
    ],
)
def test_bad_bands_are_refused_with_the_field_named(brand, oem_analyst, bands, field):
    with pytest.raises(ValidationError) as raised:
        rebate_bands_save(actor=oem_analyst, brand_id=brand.pk, bands=bands)
    assert field in raised.value.message_dict
