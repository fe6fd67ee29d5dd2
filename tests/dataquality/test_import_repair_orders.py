"""Importing repair orders (issue 7, point 1): each row a repair order of a car the dealer knows
(by VIN, or by plate), with its mileage reading and the car's forecast as the service app keeps
them; exact counts, the same file again unchanged, errors naming row, field and reason, and no
car of another dealer ever matched."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dealercrm.core.bulk import BulkWriter
from dealercrm.core.permissions import Role
from dealercrm.core.tenancy import dealer_scope
from dealercrm.dataquality.models import ImportOutcome, ImportRowIssue
from dealercrm.dataquality.services import import_engine
from dealercrm.dataquality.services.import_runs import (
    import_run_create,
    import_run_map,
    import_run_start,
)
from dealercrm.dataquality.services.import_writers import BatchContext, BatchIds, CleanRow
from dealercrm.dataquality.services.import_writers_sales import RepairOrderWriter
from dealercrm.service.models import (
    Payer,
    RepairKind,
    RepairOrder,
    RepairOrderStatus,
    VehicleServiceState,
)
from dealercrm.service.models.records import RepairOrderSource
from dealercrm.vehicles.models import MileageReading
from tests.service.factories import RepairOrderFactory
from tests.vehicles.factories import MileageReadingFactory, VehicleFactory, make_vin

from .test_import_engine import assert_accounted, csv_bytes

HEADERS = [
    "工单号", "车架号", "车牌号", "进厂日期", "结算日期", "进厂里程", "维修类型", "服务顾问",
    "工时费", "材料费", "合计", "故障描述",
]  # fmt: skip


@pytest.fixture
def import_dir(tmp_path, settings):
    settings.IMPORT_DIR = tmp_path / "imports"
    return settings.IMPORT_DIR


@pytest.fixture
def advisor(make_user):
    return make_user(
        Role.SERVICE_ADVISOR, first_name="强", last_name="李", display_name="", language="en"
    )


@pytest.fixture
def cars(dealer):
    return [
        VehicleFactory(
            dealer=dealer, vin=make_vin(n), plate=f"沪A{n:05d}", delivery_date=dt.date(2023, 1, 5)
        )
        for n in range(1, 4)
    ]


def ro(
    number: str,
    *,
    vin: str = "",
    plate: str = "",
    opened: str = "2024-05-06",
    closed: str = "2024/5/6",
    km: str = "12,000",
    kind: str = "保养",
    advisor: str = "李强",
    labour: str = "300",
    parts: str = "450.5",
    total: str = "",
) -> list[str]:
    return [number, vin, plate, opened, closed, km, kind, advisor, labour, parts, total, "异响"]


def run_ros(dealer, rows: list[list[str]]):
    with dealer_scope(dealer.pk):
        run = import_run_create(
            actor=None,
            dealer_id=dealer.pk,
            kind="repair_orders",
            file=io.BytesIO(csv_bytes(rows, HEADERS)),
            filename="ro.csv",
        )
        run = import_run_map(actor=None, run=run, mapping=run.mapping)
        run = import_run_start(actor=None, run=run, enqueue=False)
    return import_engine.execute(run.pk, worker=False)


def errors_of(run) -> dict[int, tuple[str, str]]:
    with dealer_scope(run.dealer_id):
        return {
            row: (field, reason)
            for row, field, reason in ImportRowIssue.objects.filter(
                run=run, outcome=ImportOutcome.ERROR
            ).values_list("row_number", "field", "reason")
        }


def counts(dealer) -> dict[str, int]:
    with dealer_scope(dealer.pk):
        return {
            "repair_orders": RepairOrder.objects.count(),
            "readings": MileageReading.objects.count(),
        }


@pytest.mark.django_db
def test_rows_become_repair_orders_of_the_cars_with_their_readings(
    dealer, cars, advisor, import_dir
):
    run = run_ros(
        dealer,
        [
            ro("R001", vin=cars[0].vin),
            ro("R002", plate="沪A 00002", closed="", km="", kind="保修", total="88"),
            ro("R003", vin=cars[2].vin, kind="事故", advisor="不认识"),
        ],
    )

    assert_accounted(run, 3)
    assert run.created_count == 3
    assert counts(dealer) == {"repair_orders": 3, "readings": 2}
    with dealer_scope(dealer.pk):
        first = RepairOrder.objects.select_related("mileage_reading").get(number="R001")
        assert first.vehicle_id == cars[0].pk
        assert first.customer_id == cars[0].owner_id
        assert first.vin == cars[0].vin
        assert first.kind == RepairKind.MAINTENANCE
        assert first.payer == Payer.CUSTOMER
        assert first.status == RepairOrderStatus.CLOSED
        assert timezone.localtime(first.opened_at).date() == dt.date(2024, 5, 6)
        assert first.closed_at >= first.opened_at
        assert first.mileage_km == 12000
        assert first.mileage_reading.km == 12000
        assert first.mileage_reading.read_on == dt.date(2024, 5, 6)
        assert first.mileage_reading.source == MileageReading.Source.SERVICE
        assert first.advisor_id == advisor.pk
        assert first.advisor_name == "李强"
        assert (first.labour_amount, first.parts_amount, first.total_amount) == (
            Decimal("300.00"),
            Decimal("450.50"),
            Decimal("750.50"),
        )
        assert first.source == RepairOrderSource.IMPORT
        # Found by its plate; open (no settlement date); the warranty pays a warranty job.
        second = RepairOrder.objects.get(number="R002")
        assert second.vehicle_id == cars[1].pk
        assert second.status == RepairOrderStatus.OPEN and second.closed_at is None
        assert second.mileage_reading_id is None
        assert second.payer == Payer.WARRANTY
        assert second.total_amount == Decimal("88.00")
        # An advisor nobody is called: kept as text, no user, not an error.
        third = RepairOrder.objects.get(number="R003")
        assert third.advisor_id is None and third.advisor_name == "不认识"
        assert third.payer == Payer.INSURER
        # The car's mileage and its service facts follow, as for a repair order entered here.
        cars[0].refresh_from_db()
        assert cars[0].current_mileage_km == 12000
        assert VehicleServiceState.objects.get(vehicle=cars[0]).last_visit_on == dt.date(2024, 5, 6)


@pytest.mark.django_db
def test_the_same_file_again_is_unchanged_and_creates_nothing(dealer, cars, advisor, import_dir):
    rows = [ro("R001", vin=cars[0].vin), ro("R002", plate=cars[1].plate)]
    first = run_ros(dealer, rows)
    before = counts(dealer)

    again = run_ros(dealer, rows)

    assert (first.created_count, first.accounted_rows) == (2, 2)
    assert_accounted(again, 2)
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 2)
    assert counts(dealer) == before
    with dealer_scope(dealer.pk):
        assert set(
            ImportRowIssue.objects.filter(run=again).values_list("record_id", flat=True)
        ) == set(RepairOrder.objects.values_list("id", flat=True))


@pytest.mark.django_db
def test_an_open_repair_order_settled_in_the_file_is_closed(dealer, cars, import_dir):
    open_one = RepairOrderFactory(
        dealer=dealer, vehicle=cars[0], number="R009", status=RepairOrderStatus.OPEN
    )
    closed_one = RepairOrderFactory(
        dealer=dealer, vehicle=cars[1], number="R010", status=RepairOrderStatus.CLOSED
    )

    run = run_ros(
        dealer,
        [
            ro("R009", vin=cars[0].vin, closed="2024-05-08", total="999"),
            ro("R010", vin=cars[1].vin),
        ],
    )

    assert_accounted(run, 2)
    assert (run.updated_count, run.unchanged_count) == (1, 1)
    with dealer_scope(dealer.pk):
        open_one.refresh_from_db()
        assert open_one.status == RepairOrderStatus.CLOSED
        assert timezone.localtime(open_one.closed_at).date() == dt.date(2024, 5, 8)
        assert open_one.total_amount == Decimal("999.00")
        closed_before = closed_one.closed_at
        closed_one.refresh_from_db()
        assert closed_one.closed_at == closed_before
        assert RepairOrder.objects.count() == 2


@pytest.mark.django_db
def test_bad_rows_are_errors_naming_row_field_and_reason(
    dealer, other_dealer, cars, import_dir, english
):
    VehicleFactory(dealer=dealer, vin=make_vin(20), plate="沪B77777")
    VehicleFactory(dealer=dealer, vin=make_vin(21), plate="沪B77777")
    theirs = VehicleFactory(dealer=other_dealer, vin=make_vin(30), plate="京A30303")

    run = run_ros(
        dealer,
        [
            ro("R100", vin=make_vin(999)),  # row 2: unknown VIN
            ro("R101", vin=theirs.vin),  # row 3: another dealer's car
            ro("R102", plate="沪B77777"),  # row 4: two cars with this plate
            ro("R103", plate=theirs.plate),  # row 5: another dealer's plate
            ro("R104", vin=cars[0].vin, opened="2024-05-06", closed="2024-05-01"),  # row 6
            ro("R105", vin=cars[0].vin, km="3000000"),  # row 7
            ro("R106", vin=cars[0].vin, kind="洗车"),  # row 8: clean_row refuses the type
            ro("", vin=cars[0].vin),  # row 9: no number
            ro("R107", vin=cars[1].vin),  # row 10: fine
        ],
    )

    assert_accounted(run, 9)
    assert (run.created_count, run.error_count) == (1, 8)
    errors = errors_of(run)
    assert errors[2] == (
        "vin",
        f"No vehicle with VIN {make_vin(999)} is known at this dealer; import the vehicles first.",
    )
    assert errors[3] == (
        "vin",
        f"No vehicle with VIN {theirs.vin} is known at this dealer; import the vehicles first.",
    )
    assert errors[4] == ("plate", "2 vehicles of the dealer have plate 沪B77777; give the VIN.")
    assert errors[5][0] == "plate" and "京A30303" in errors[5][1]
    assert errors[6] == (
        "closed_date",
        "A repair order cannot be closed before it was opened (2024-05-06).",
    )
    assert errors[7][0] == "mileage"  # (clean_row refuses it already)
    assert errors[8][0] == "repair_kind"
    assert errors[9][0] == "ro_number"
    assert counts(dealer) == {"repair_orders": 1, "readings": 1}
    with dealer_scope(other_dealer.pk):
        assert RepairOrder.objects.count() == 0


@pytest.mark.django_db
def test_a_lower_mileage_is_kept_flagged_as_the_service_app_does(dealer, cars, import_dir):
    MileageReadingFactory(vehicle=cars[0], km=20000, read_on=dt.date(2024, 1, 5))

    run = run_ros(dealer, [ro("R001", vin=cars[0].vin, km="2000")])

    assert run.created_count == 1
    with dealer_scope(dealer.pk):
        reading = RepairOrder.objects.select_related("mileage_reading").get().mileage_reading
        assert reading.km == 2000
        assert reading.flag == MileageReading.Flag.LOWER
        cars[0].refresh_from_db()
        assert cars[0].current_mileage_km == 20000


@pytest.mark.django_db
def test_an_unknown_advisor_is_said_in_the_rows_reason(dealer, cars, english):
    """The writer's outcome carries the note (the engine keeps it with the row)."""
    now = timezone.now()
    ctx = BatchContext(
        dealer_id=dealer.pk,
        run=None,
        now=now,
        bulk=BulkWriter(now=now),
        ids=BatchIds(),
        seen={},
        cache={},
    )
    clean = {
        "ro_number": "R1",
        "vin": cars[0].vin,
        "plate": "",
        "opened_date": dt.date(2024, 5, 6),
        "closed_date": None,
        "mileage": None,
        "advisor_name": "王五",
    }
    with dealer_scope(dealer.pk):
        (outcome,) = RepairOrderWriter().write_batch(ctx, [CleanRow(2, [], clean)])

    assert outcome.outcome == ImportOutcome.CREATED
    assert (
        outcome.reason
        == "Service advisor “王五” is not a member of the dealer's staff; kept as text."
    )


@pytest.mark.django_db
def test_the_queries_per_batch_do_not_grow_with_its_rows(dealer, import_dir):
    cars = [VehicleFactory(dealer=dealer, vin=make_vin(n), plate="") for n in range(100, 140)]

    def queries(numbers: range) -> int:
        rows = [ro(f"R{n}", vin=cars[n % 40].vin) for n in numbers]
        with CaptureQueriesContext(connection) as captured:
            run = run_ros(dealer, rows)
        assert run.created_count == len(rows)
        return len(captured)

    queries(range(0, 2))  # warm caches
    assert queries(range(10, 13)) == queries(range(20, 50))
