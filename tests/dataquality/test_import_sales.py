"""Importing vehicle sales (issue 7, point 1): each row a delivered sale — the buyer found or
created, the car registered to them, a delivered lead and order — with exact counts, nothing new
on a second import, errors that name the row, the field and the reason, and no dealer's car
matched by another dealer's file."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealercrm.core.permissions import Role
from dealercrm.core.tenancy import dealer_scope
from dealercrm.customers.models import Customer, LifecycleStage
from dealercrm.dataquality.models import ImportOutcome, ImportRowIssue
from dealercrm.dataquality.services import import_engine
from dealercrm.dataquality.services.import_runs import (
    import_run_create,
    import_run_map,
    import_run_start,
)
from dealercrm.sales.models import Lead, LeadChannel, LeadStage, Order, OrderMilestone, OrderStage
from dealercrm.vehicles.models import Vehicle, VehicleOwnership
from tests.customers.factories import CustomerFactory, CustomerPhoneFactory
from tests.vehicles.factories import CarModelFactory, VehicleFactory, make_vin

from .test_import_engine import assert_accounted, csv_bytes

HEADERS = [
    "订单号", "客户姓名", "手机号码", "车架号", "车型", "颜色", "订单日期", "交车日期", "成交价",
    "定金", "销售顾问",
]  # fmt: skip


@pytest.fixture
def import_dir(tmp_path, settings):
    settings.IMPORT_DIR = tmp_path / "imports"
    return settings.IMPORT_DIR


@pytest.fixture
def x5(brand):
    return CarModelFactory(brand=brand, make="极光", series="极光X5", name="1.5T 两驱版")


@pytest.fixture
def seller(make_user):
    return make_user(Role.SALES_CONSULTANT, display_name="王芳", language="en")


def sale(
    n: int,
    *,
    number: str | None = None,
    name: str = "",
    phone: str = "",
    vin: str = "",
    model: str = "极光X5 1.5T 两驱版",
    ordered: str = "2024/3/5",
    delivered: str = "2024年3月20日",
    price: str = "¥149,800.00",
    deposit: str = "5000",
    consultant: str = "王芳",
) -> list[str]:
    return [
        f"SO2024{n:05d}" if number is None else number,
        name or f"买家{n}",
        phone or f"1390013{n:04d}",
        vin or make_vin(50_000 + n),
        model,
        "极地白",
        ordered,
        delivered,
        price,
        deposit,
        consultant,
    ]


def run_sales(dealer, rows: list[list[str]], *, batch_size: int | None = None):
    with dealer_scope(dealer.pk):
        run = import_run_create(
            actor=None,
            dealer_id=dealer.pk,
            kind="sales",
            file=io.BytesIO(csv_bytes(rows, HEADERS)),
            filename="sales.csv",
        )
        run = import_run_map(actor=None, run=run, mapping=run.mapping)
        run = import_run_start(actor=None, run=run, enqueue=False)
    return import_engine.execute(
        run.pk, batch_size=batch_size or import_engine.BATCH_SIZE, worker=False
    )


def errors_of(run) -> list[tuple[int, str, str]]:
    with dealer_scope(run.dealer_id):
        return list(
            ImportRowIssue.objects.filter(run=run, outcome=ImportOutcome.ERROR)
            .order_by("row_number")
            .values_list("row_number", "field", "reason")
        )


def counts(dealer) -> dict[str, int]:
    with dealer_scope(dealer.pk):
        return {
            "customers": Customer.objects.count(),
            "vehicles": Vehicle.objects.count(),
            "ownerships": VehicleOwnership.objects.count(),
            "leads": Lead.objects.count(),
            "orders": Order.objects.count(),
            "milestones": OrderMilestone.objects.count(),
        }


@pytest.mark.django_db
def test_each_row_becomes_a_delivered_order_of_a_buyer_who_owns_the_car(
    dealer, x5, seller, import_dir
):
    known = CustomerFactory(dealer=dealer, name="老客户")
    CustomerPhoneFactory(dealer=dealer, customer=known, number="+8613900139999")

    run = run_sales(
        dealer,
        [sale(1), sale(2, deposit=""), sale(3, name="老客户", phone="139 0013 9999")],
    )

    assert_accounted(run, 3)
    assert run.created_count == 3
    assert counts(dealer) == {
        "customers": 3,  # two new buyers and the known one
        "vehicles": 3,
        "ownerships": 3,
        "leads": 3,
        "orders": 3,
        "milestones": 3 * 7,
    }
    with dealer_scope(dealer.pk):
        order = Order.objects.select_related("lead", "vehicle", "customer").get(
            number="SO202400001"
        )
        assert order.stage == OrderStage.DELIVERED
        assert order.ordered_on == dt.date(2024, 3, 5)
        assert order.delivered_on == dt.date(2024, 3, 20)
        assert order.promised_delivery_on == order.expected_delivery_on == dt.date(2024, 3, 20)
        assert order.price == Decimal("149800.00")
        assert order.deposit == Decimal("5000.00")
        assert order.deposit_paid_on == dt.date(2024, 3, 5)
        assert order.car_model_id == x5.pk
        assert order.colour == "极地白"
        assert order.tracking_token and len(order.tracking_token) >= 43
        assert order.lead.stage == LeadStage.DELIVERED
        assert order.lead.channel == LeadChannel.IMPORT
        assert order.lead.consultant_id == seller.pk
        assert order.lead.customer_id == order.customer_id
        assert order.vehicle.vin == make_vin(50_001)
        assert order.vehicle.owner_id == order.customer_id
        assert order.vehicle.car_model_id == x5.pk
        assert order.vehicle.delivery_date == dt.date(2024, 3, 20)
        assert order.customer.name == "买家1"
        assert order.customer.lifecycle_stage == LifecycleStage.OWNER
        milestones = list(
            order.milestones.order_by("expected_on").values_list("reached_on", flat=True)
        )
        assert milestones[0] == dt.date(2024, 3, 5) and milestones[-1] == dt.date(2024, 3, 20)
        assert None not in milestones
        no_deposit = Order.objects.get(number="SO202400002")
        assert no_deposit.deposit == 0 and no_deposit.deposit_paid_on is None
        # The known customer was found by phone and name, not created again.
        assert Order.objects.get(number="SO202400003").customer_id == known.pk


@pytest.mark.django_db
def test_the_same_file_again_is_unchanged_and_creates_nothing(dealer, x5, seller, import_dir):
    rows = [sale(1), sale(2), sale(3, number="")]  # the last keyed by VIN and order date
    first = run_sales(dealer, rows)
    before = counts(dealer)

    again = run_sales(dealer, rows)

    assert_accounted(first, 3)
    assert first.created_count == 3
    assert_accounted(again, 3)
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 3)
    assert counts(dealer) == before
    with dealer_scope(dealer.pk):
        linked = set(ImportRowIssue.objects.filter(run=again).values_list("record_id", flat=True))
        assert linked == set(Order.objects.values_list("id", flat=True))


@pytest.mark.django_db
def test_a_sale_repeated_in_the_file_is_one_order(dealer, x5, seller, import_dir):
    run = run_sales(dealer, [sale(1), sale(1)])

    assert_accounted(run, 2)
    assert (run.created_count, run.unchanged_count) == (1, 1)
    assert counts(dealer)["orders"] == 1


@pytest.mark.django_db
def test_bad_rows_are_errors_naming_row_field_and_reason_and_write_nothing(
    dealer, x5, seller, import_dir, english
):
    taken = VehicleFactory(dealer=dealer, vin=make_vin(7))
    with dealer_scope(dealer.pk):
        other_sale = run_sales(dealer, [sale(90, vin=make_vin(8))])
    assert other_sale.created_count == 1
    before = counts(dealer)

    run = run_sales(
        dealer,
        [
            sale(1, model="极光Z9 火星版"),  # row 2: not in the catalogue
            sale(2, ordered="2024-03-20", delivered="2024-03-05"),  # row 3
            sale(3, vin="LA9XXXXXXXXXXXXXX"),  # row 4: not a VIN (clean_row)
            sale(4, vin=make_vin(7)),  # row 5: a car of another customer
            sale(5, vin=make_vin(8), ordered="2024-04-01", delivered="2024-04-10"),  # row 6
            sale(6, price="0"),  # row 7
            sale(7, deposit="200000"),  # row 8
            sale(8),  # row 9: fine
        ],
    )

    assert_accounted(run, 8)
    assert (run.created_count, run.error_count) == (1, 7)
    errors = errors_of(run)
    assert [(row, field) for row, field, _reason in errors][:2] == [
        (2, "car_model"),
        (3, "delivery_date"),
    ]
    reasons = {row: (field, reason) for row, field, reason in errors}
    assert "极光Z9 火星版" in reasons[2][1] and "catalogue" in reasons[2][1]
    assert "before the order date" in reasons[3][1]
    assert reasons[4][0] == "vin"
    assert reasons[5] == (
        "vin",
        "This VIN belongs to a car of another customer; change the car's owner on its page.",
    )
    assert reasons[6] == ("vin", "The car with this VIN is on another order (SO202400090).")
    assert reasons[7][0] == "price"
    assert reasons[8][0] == "deposit"
    # Only row 9's buyer, car and sale were written; the rows in error left nothing behind.
    after = counts(dealer)
    assert {k: after[k] - before[k] for k in after} == {
        "customers": 1,
        "vehicles": 1,
        "ownerships": 1,
        "leads": 1,
        "orders": 1,
        "milestones": 7,
    }
    with dealer_scope(dealer.pk):
        taken.refresh_from_db()
        assert not Order.objects.filter(vehicle=taken).exists()


@pytest.mark.django_db
def test_a_row_without_a_name_only_finds_a_known_buyer(dealer, x5, seller, import_dir, english):
    known = CustomerFactory(dealer=dealer, name="老客户")
    CustomerPhoneFactory(dealer=dealer, customer=known, number="+8613900139999")
    nameless = sale(1, phone="13900139999")
    nameless[1] = ""
    stranger = sale(2)
    stranger[1] = ""

    run = run_sales(dealer, [nameless, stranger])

    assert_accounted(run, 2)
    assert (run.created_count, run.error_count) == (1, 1)
    ((row, field, reason),) = errors_of(run)
    assert (row, field) == (3, "phone")
    assert "give the buyer's name" in reason
    with dealer_scope(dealer.pk):
        assert Order.objects.get().customer_id == known.pk


@pytest.mark.django_db
def test_another_dealers_car_and_buyer_are_never_matched(
    dealer, other_dealer, x5, seller, import_dir
):
    theirs = VehicleFactory(dealer=other_dealer, vin=make_vin(50_001))
    their_customer = theirs.owner
    CustomerPhoneFactory(dealer=other_dealer, customer=their_customer, number="+8613900130001")

    run = run_sales(dealer, [sale(1)])  # the same VIN and phone, at our dealer

    assert_accounted(run, 1)
    assert run.created_count == 1
    with dealer_scope(dealer.pk):
        order = Order.objects.select_related("vehicle").get()
        assert order.vehicle_id != theirs.pk
        assert order.vehicle.dealer_id == dealer.pk
        assert order.customer_id != their_customer.pk
    with dealer_scope(other_dealer.pk):
        theirs.refresh_from_db()
        assert theirs.owner_id == their_customer.pk
        assert counts(other_dealer)["orders"] == 0


@pytest.mark.django_db
def test_an_unknown_consultant_is_left_empty_without_an_error(dealer, x5, import_dir):
    run = run_sales(dealer, [sale(1, consultant="不存在")])

    assert_accounted(run, 1)
    assert run.created_count == 1
    with dealer_scope(dealer.pk):
        assert Lead.objects.get().consultant_id is None


@pytest.mark.django_db
def test_the_queries_per_batch_do_not_grow_with_its_rows(dealer, x5, seller, import_dir):
    def queries(rows: int, start: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            run = run_sales(dealer, [sale(n) for n in range(start, start + rows)])
        assert run.created_count == rows
        return len(captured)

    queries(2, 0)  # warm caches (content types, the dealer's settings)
    assert queries(3, 100) == queries(30, 200)
