"""OEM dispatch: creating, importing and releasing dispatched leads."""

from __future__ import annotations

import datetime
import io
import zoneinfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from dealercrm.core.permissions import Role
from dealercrm.core.tenancy import dealer_scope
from dealercrm.sales.models import Lead, LeadChannel, OemDispatch, SalesPolicy
from dealercrm.sales.services.dispatch import (
    dispatch_create,
    dispatch_import,
    dispatch_release,
    dispatch_release_due,
    preferred_clock,
)
from dealercrm.worklist.models import Notice, Task
from tests.customers.factories import CustomerFactory, CustomerPhoneFactory
from tests.vehicles.factories import CarModelFactory

pytestmark = pytest.mark.django_db

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
# Monday 2026-11-16, 10:00 in Shanghai.
NOW = datetime.datetime(2026, 11, 16, 10, 0, tzinfo=SHANGHAI)
TODAY = NOW.date()


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def oem_admin(make_user):
    return make_user(Role.OEM_ADMIN)


def _create(actor, dealer, **kw):
    values = {
        "actor": actor,
        "dealer_id": dealer.pk,
        "prospect_name": "王小明",
        "phone": "13812345678",
        "test_drive_date": TODAY + datetime.timedelta(days=10),
    }
    values.update(kw)
    return dispatch_create(**values)


def test_create_holds_the_lead_until_the_dealers_release_days_before_the_date(
    oem_admin, dealer, consultant
):
    SalesPolicy.objects.create(dealer=dealer, dispatch_release_days=2)

    dispatch = _create(oem_admin, dealer, phone="138 1234 5678")

    assert dispatch.phone == "+8613812345678"
    assert dispatch.release_on == TODAY + datetime.timedelta(days=8)
    assert dispatch.released_at is None
    assert not Lead.objects.filter(dealer=dealer).exists()


def test_create_for_a_test_drive_within_the_release_days_releases_at_once(
    oem_admin, dealer, consultant
):
    dispatch = _create(oem_admin, dealer, test_drive_date=TODAY + datetime.timedelta(days=1))

    dispatch.refresh_from_db()
    assert dispatch.release_on == TODAY
    assert dispatch.released_at is not None
    assert dispatch.lead.channel == LeadChannel.OEM_DISPATCH


@pytest.mark.parametrize(
    ("field", "kw"),
    [
        ("test_drive_date", {"test_drive_date": TODAY - datetime.timedelta(days=1)}),
        ("phone", {"phone": "12345"}),
        ("phone", {"phone": "021-62345678"}),
        ("prospect_name", {"prospect_name": "  "}),
        ("pickup_address", {"pickup_requested": True, "pickup_address": ""}),
    ],
)
def test_create_refuses_bad_input_keyed_by_field_and_saves_nothing(oem_admin, dealer, field, kw):
    with pytest.raises(ValidationError) as caught:
        _create(oem_admin, dealer, **kw)

    assert field in caught.value.message_dict
    assert not OemDispatch.objects.exists()


def test_create_refuses_a_dealer_of_another_brand(oem_admin, dealer):
    from tests.core.factories import BrandFactory, DealerFactory

    foreign = DealerFactory(brand=BrandFactory(code="other"))

    with pytest.raises(ValidationError) as caught:
        _create(oem_admin, foreign)

    assert "dealer_id" in caught.value.message_dict


def test_create_refuses_an_oem_reference_already_dispatched_to_the_dealer(oem_admin, dealer):
    _create(oem_admin, dealer, external_ref="OEM-1")

    with pytest.raises(ValidationError) as caught:
        _create(oem_admin, dealer, external_ref="OEM-1", phone="13912345678")

    assert "external_ref" in caught.value.message_dict
    assert OemDispatch.objects.count() == 1


def test_release_creates_lead_notices_and_the_three_tasks(oem_admin, dealer, consultant, manager):
    model = CarModelFactory(brand=dealer.brand)
    dispatch = _create(
        oem_admin,
        dealer,
        car_model_id=model.pk,
        preferred_time="14:30",
        pickup_requested=True,
        pickup_address="浦东新区张江路100号",
        test_drive_date=TODAY + datetime.timedelta(days=5),
    )

    lead = dispatch_release(dispatch_id=dispatch.pk)

    dispatch.refresh_from_db()
    assert dispatch.lead == lead and dispatch.released_at is not None
    assert lead.channel == LeadChannel.OEM_DISPATCH
    assert lead.consultant == consultant
    assert lead.car_model == model
    tasks = {
        t.source_id.split(":")[1]: t for t in Task.objects.filter(source_kind="sales.dispatch")
    }
    assert set(tasks) == {"contact", "remind", "drive"}
    assert all(t.assignee_id == consultant.pk for t in tasks.values())
    assert all(t.source_id.startswith(f"{dispatch.pk}:") for t in tasks.values())
    assert tasks["contact"].kind == "call" and tasks["contact"].due_at == NOW
    drive_day = TODAY + datetime.timedelta(days=5)
    assert tasks["remind"].kind == "call"
    assert tasks["remind"].due_at == datetime.datetime.combine(
        drive_day - datetime.timedelta(days=1), datetime.time(9, 0), tzinfo=SHANGHAI
    )
    assert tasks["drive"].kind == "test_drive"
    assert tasks["drive"].due_at == datetime.datetime.combine(
        drive_day, datetime.time(14, 30), tzinfo=SHANGHAI
    )
    assert "浦东新区张江路100号" in tasks["drive"].body
    recipients = set(
        Notice.objects.filter(source_kind="sales.dispatch").values_list("recipient_id", flat=True)
    )
    assert recipients == {consultant.pk, manager.pk}


def test_release_run_twice_creates_nothing_twice(oem_admin, dealer, consultant, manager):
    dispatch = _create(oem_admin, dealer)

    first = dispatch_release(dispatch_id=dispatch.pk)
    second = dispatch_release(dispatch_id=dispatch.pk)

    assert first == second
    assert Lead.objects.count() == 1
    assert Task.objects.count() == 3
    assert Notice.objects.filter(source_kind="sales.dispatch").count() == 2


def test_release_attaches_the_lead_to_the_dealers_customer_with_that_phone(
    oem_admin, dealer, consultant
):
    customer = CustomerFactory(dealer=dealer, name="王小明")
    CustomerPhoneFactory(customer=customer, number="+8613812345678")
    dispatch = _create(oem_admin, dealer)

    lead = dispatch_release(dispatch_id=dispatch.pk)

    assert lead.customer == customer
    assert customer.__class__.objects.filter(dealer=dealer).count() == 1


def test_release_without_pickup_says_so_in_the_test_drive_task(oem_admin, dealer, consultant):
    dispatch = _create(oem_admin, dealer)

    with translation.override("en"):
        dispatch_release(dispatch_id=dispatch.pk)

    drive = Task.objects.get(source_id=f"{dispatch.pk}:drive")
    assert "No pick-up wanted" in drive.body
    # Opening time when no time was asked for.
    assert drive.due_at.astimezone(SHANGHAI).time() == datetime.time(9, 0)


def test_release_due_releases_only_dispatches_whose_day_has_come(oem_admin, dealer, consultant):
    soon = _create(oem_admin, dealer, test_drive_date=TODAY + datetime.timedelta(days=4))
    later = _create(
        oem_admin, dealer, test_drive_date=TODAY + datetime.timedelta(days=20), phone="13912345678"
    )

    with dealer_scope(None):
        assert dispatch_release_due(today=TODAY) == 0
        assert dispatch_release_due(today=TODAY + datetime.timedelta(days=1)) == 1
        assert dispatch_release_due(today=TODAY + datetime.timedelta(days=1)) == 0

    soon.refresh_from_db()
    later.refresh_from_db()
    assert soon.released_at is not None
    assert later.released_at is None


def test_release_with_nobody_on_duty_leaves_the_tasks_for_the_managers(oem_admin, dealer, manager):
    dispatch = _create(oem_admin, dealer)

    lead = dispatch_release(dispatch_id=dispatch.pk)

    assert lead.consultant is None
    assert set(Task.objects.values_list("assignee_id", flat=True)) == {None}
    assert Notice.objects.filter(recipient=manager, source_kind="sales.dispatch").exists()


def test_preferred_clock_reads_the_usual_ways_of_writing_a_time():
    assert preferred_clock("10:30") == datetime.time(10, 30)
    assert preferred_clock("下午3点") == datetime.time(15, 0)
    assert preferred_clock("14点半") == datetime.time(14, 0)
    assert preferred_clock("上午") is None


# --- import -----------------------------------------------------------------------------------


CSV_ZH = (
    "姓名,手机,经销商代码,试驾日期,车型,上门接送,接送地址,厂家编号\n"
    "张三,13800000001,{code},2026-11-30,,否,,R-1\n"
    "李四,13800000002,{code},2026/12/01,,是,浦东大道1号,R-2\n"
    "王五,12345,{code},2026-12-01,,,,R-3\n"
    "赵六,13800000004,NOPE,2026-12-01,,,,R-4\n"
    "钱七,13800000005,{code},2026-11-01,,,,R-5\n"
    "孙八,13800000006,{code},2026-12-02,,,,R-1\n"
    "\n"
)


def test_import_csv_accounts_for_every_row(oem_admin, dealer, consultant):
    content = CSV_ZH.format(code=dealer.code).encode()

    result = dispatch_import(actor=oem_admin, file=io.BytesIO(content), filename="list.csv")

    assert result.rows == 6
    assert result.created_count == 2
    assert [s.row for s in result.skipped] == [7]
    by_row = {e.row: e.field for e in result.errors}
    assert by_row == {4: "phone", 5: "dealer_code", 6: "test_drive_date"}
    assert result.created_count + result.skipped_count + result.error_rows == result.rows
    li = OemDispatch.objects.get(external_ref="R-2")
    assert li.pickup_requested and li.pickup_address == "浦东大道1号"
    assert li.test_drive_date == datetime.date(2026, 12, 1)


def test_import_again_skips_every_row_already_imported(oem_admin, dealer, consultant):
    content = CSV_ZH.format(code=dealer.code).encode()
    dispatch_import(actor=oem_admin, file=io.BytesIO(content), filename="list.csv")

    again = dispatch_import(actor=oem_admin, file=io.BytesIO(content), filename="list.csv")

    assert again.created_count == 0
    assert again.skipped_count == 3
    assert OemDispatch.objects.count() == 2


def test_import_xlsx_with_english_headers(oem_admin, dealer, consultant, tmp_path):
    import xlsxwriter

    model = CarModelFactory(brand=dealer.brand, series="星辰", name="2.0T 豪华版")
    path = tmp_path / "list.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["Name", "Mobile", "Dealer code", "Test-drive date", "Model", "Ref"])
    sheet.write_row(
        1, 0, ["Li Lei", 13800000011, dealer.code, "2026-11-28", "星辰 2.0T 豪华版", "X1"]
    )
    sheet.write(2, 0, "Han Meimei")
    sheet.write_number(2, 1, 13800000012)
    sheet.write(2, 2, dealer.code)
    sheet.write_datetime(
        2, 3, datetime.datetime(2026, 11, 29), book.add_format({"num_format": "yyyy-mm-dd"})
    )
    sheet.write(2, 4, "不存在的车")
    sheet.write(2, 5, "X2")
    book.close()

    with path.open("rb") as handle:
        result = dispatch_import(actor=oem_admin, file=handle, filename="list.xlsx")

    assert result.created_count == 1
    assert result.created[0].car_model_id == model.pk
    assert result.created[0].phone == "+8613800000011"
    assert [(e.row, e.field) for e in result.errors] == [(3, "model")]


def test_import_without_the_required_columns_is_refused(oem_admin, dealer):
    with pytest.raises(ValidationError) as caught:
        dispatch_import(
            actor=oem_admin,
            file=io.BytesIO("姓名,手机\n张三,13800000001\n".encode()),
            filename="a.csv",
        )

    assert "file" in caught.value.message_dict


def test_import_of_a_row_due_today_releases_it(oem_admin, dealer, consultant):
    rows = [
        {
            "prospect_name": "张三",
            "phone": "13800000001",
            "dealer_code": dealer.code,
            "test_drive_date": (TODAY + datetime.timedelta(days=2)).isoformat(),
        }
    ]

    result = dispatch_import(actor=oem_admin, rows=rows)

    assert result.created_count == 1
    assert OemDispatch.objects.get().released_at == timezone.now()
