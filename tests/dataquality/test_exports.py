"""Exports of customers and duplicate pairs: masked by role, scoped to what the user may see,
safe from formula injection, streamed with progress, audit-logged, cleaned up after a week."""

from __future__ import annotations

import csv
import datetime
import io
import os
from pathlib import Path

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from python_calamine import CalamineWorkbook

from dealercrm.core.models import AuditEvent
from dealercrm.core.permissions import Role
from dealercrm.core.scoping import scope_for_user
from dealercrm.core.tenancy import dealer_scope
from dealercrm.dataquality.models import DuplicateCandidate, ExportJob, ExportStatus
from dealercrm.dataquality.services import exports as services
from dealercrm.dataquality.services.exports import (
    customer_export_rows,
    export_path,
    export_run,
    export_start,
    exports_purge,
    filters_from_query,
)
from tests.customers.factories import (
    CustomerFactory,
    CustomerPhoneFactory,
    CustomerTagFactory,
    valid_id_number,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

ID_NUMBER = valid_id_number(7)


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path):
    settings.EXPORT_DIR = tmp_path / "exports"
    return settings.EXPORT_DIR


@pytest.fixture
def care(make_user):
    return make_user(Role.CARE_SPECIALIST, language="en")


@pytest.fixture
def boss(make_user):
    return make_user(Role.DEALER_MANAGER, language="en")


@pytest.fixture
def oem(make_user):
    return make_user(Role.OEM_ANALYST, language="en")


@pytest.fixture
def zhang(dealer):
    customer = CustomerFactory(
        dealer=dealer,
        name="张伟",
        id_number=ID_NUMBER,
        email="zhang@example.cn",
        wechat_id="zw_88",
        province="上海市",
        city="上海市",
        district="浦东新区",
        street="世纪大道100号",
        lifecycle_stage="owner",
    )
    CustomerPhoneFactory(customer=customer, number="+8613812341234")
    CustomerTagFactory(customer=customer, tag__name="VIP")
    return customer


def run(user, *, kind="customers", file_format="csv", filters=None, capture=None) -> ExportJob:
    """Start an export and let its job run when the transaction commits, as in production."""
    with capture(execute=True):
        job = export_start(actor=user, kind=kind, file_format=file_format, filters=filters or {})
    job.refresh_from_db()
    return job


@pytest.fixture
def export(django_capture_on_commit_callbacks):
    def _export(user, **kwargs) -> ExportJob:
        return run(user, capture=django_capture_on_commit_callbacks, **kwargs)

    return _export


def read(job: ExportJob) -> list[list]:
    path = export_path(job)
    assert path is not None, job.failure
    if job.file_format == "csv":
        text = path.read_bytes().decode("utf-8-sig")
        return list(csv.reader(io.StringIO(text)))
    workbook = CalamineWorkbook.from_path(str(path))
    return workbook.get_sheet_by_index(0).to_python()


def column(rows: list[list], title: str) -> list:
    index = rows[0].index(title)
    return [row[index] for row in rows[1:]]


# --- formula injection --------------------------------------------------------------------------


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_a_name_that_is_a_formula_is_exported_as_text(dealer, care, export, file_format):
    # Given customers whose names and street would run as formulas in a spreadsheet …
    CustomerFactory(dealer=dealer, name='=HYPERLINK("http://evil.example","点我")')
    CustomerFactory(dealer=dealer, name="@SUM(A1)", street="-1+2")
    CustomerFactory(dealer=dealer, name="+cmd|' /C calc'!A0")
    # … when exported …
    job = export(care, file_format=file_format)
    rows = read(job)
    # … then each starts with a quote, and the file holds no formula.
    names = column(rows, "Name")
    assert sorted(names) == sorted(
        ['\'=HYPERLINK("http://evil.example","点我")', "'@SUM(A1)", "'+cmd|' /C calc'!A0"]
    )
    assert "'-1+2" in column(rows, "Street address")
    if file_format == "xlsx":
        workbook = CalamineWorkbook.from_path(str(export_path(job)))
        sheet = workbook.get_sheet_by_index(0)
        assert all(not str(cell).startswith("=") for row in sheet.to_python() for cell in row)


def test_csv_starts_with_a_byte_order_mark_so_excel_reads_chinese(dealer, care, zhang, export):
    job = export(care, file_format="csv")
    data = export_path(job).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert "张伟" in data.decode("utf-8-sig")
    assert job.filename.endswith(".csv") and job.filename.startswith("customers-")


def test_xlsx_keeps_numbers_and_dates_typed(dealer, care, zhang, export):
    rows = read(export(care, file_format="xlsx"))
    assert column(rows, "Customer no.") == [zhang.pk]
    created = column(rows, "Created at")[0]
    assert isinstance(created, datetime.datetime)
    assert created.date() == timezone.localtime(zhang.created_at).date()


# --- masking by role, and the audit log ---------------------------------------------------------


def test_a_manager_exports_full_phones_and_id_numbers_and_the_audit_says_so(
    dealer, boss, zhang, export
):
    # Given a manager, who may see full contacts, when they export customers …
    job = export(boss, file_format="xlsx", filters={"stage": "owner"})
    rows = read(job)
    # … then phones (national form) and ID numbers are in full …
    assert not job.masked
    assert column(rows, "Phones") == ["13812341234"]
    assert column(rows, "ID number") == [ID_NUMBER]
    assert column(rows, "Tags") == ["VIP"]
    assert column(rows, "Lifecycle stage") == ["Owner"]
    # … and one audit event records the export as an unmasking of every row.
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORT)
    assert event.actor == boss
    assert event.dealer_id == dealer.pk
    assert event.target_type == "dataquality.exportjob"
    assert event.target_id == str(job.pk)
    assert event.changes == {
        "kind": "customers",
        "format": "xlsx",
        "filters": {"stage": "owner"},
        "rows": 1,
        "unmasked": True,
        "unmasked_rows": 1,
    }
    assert "full phones and ID numbers" in event.target_repr


def test_an_oem_analyst_exports_the_brands_customers_masked(
    dealer, other_dealer, oem, zhang, export
):
    # Given customers at two dealers of the brand, when the OEM analyst exports …
    CustomerFactory(dealer=other_dealer, name="李娜")
    job = export(oem)
    rows = read(job)
    # … then both dealers' customers are there, with phones and ID numbers masked.
    assert job.masked
    assert sorted(column(rows, "Name")) == ["张伟", "李娜"]
    assert "138****1234" in column(rows, "Phones")
    assert zhang.id_number_masked in column(rows, "ID number")
    assert ID_NUMBER not in column(rows, "ID number")
    assert job.dealer_id is None
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORT)
    assert event.changes["unmasked"] is False
    assert event.changes["unmasked_rows"] == 0


def test_another_dealers_customers_never_appear(dealer, other_dealer, boss, zhang, export):
    CustomerFactory(dealer=other_dealer, name="别家客户")
    rows = read(export(boss))
    assert column(rows, "Name") == ["张伟"]
    assert column(rows, "Dealer") == [dealer.name]


def test_a_consultant_exports_only_their_own_customers(dealer, consultant):
    # Given one customer assigned to the consultant and one to nobody …
    CustomerFactory(dealer=dealer, name="我的客户", assigned_consultant=consultant)
    CustomerFactory(dealer=dealer, name="别人的客户")
    # … when the export's rows are read in the consultant's scope …
    with dealer_scope(scope_for_user(consultant)):
        rows = list(customer_export_rows(consultant, {}))
    # … then only their own is there (and their phones would be in full: they may see them).
    assert [row[1] for row in rows] == ["我的客户"]


def test_a_role_without_the_export_permission_cannot_start_one(consultant):
    with pytest.raises(PermissionDenied):
        export_start(actor=consultant, kind="customers", file_format="csv", filters={})
    assert not ExportJob.objects.exists()


def test_the_list_filters_narrow_the_export(dealer, care, zhang, export):
    CustomerFactory(dealer=dealer, name="潜客", lifecycle_stage="prospect")
    filters = filters_from_query("stage=owner&tag=VIP&page=3&source=")
    assert filters == {"stage": "owner", "tag": "VIP"}
    job = export(care, filters=filters)
    assert column(read(job), "Name") == ["张伟"]
    assert job.filters == {"stage": "owner", "tag": "VIP"}


# --- bad requests get messages naming the problem ------------------------------------------------


def test_bad_kind_format_and_filters_are_refused_with_messages(care, english):
    with pytest.raises(ValidationError) as error:
        export_start(actor=care, kind="everything", file_format="pdf", filters={})
    assert set(error.value.message_dict) == {"kind", "file_format"}
    assert "Choose XLSX or CSV." in error.value.message_dict["file_format"]
    assert "Customers" in error.value.message_dict["kind"][0]
    with pytest.raises(ValidationError) as error:
        export_start(
            actor=care,
            kind="customers",
            file_format="csv",
            filters={"stage": "dreaming", "consultant": "abc", "colour": "red"},
        )
    messages = error.value.message_dict["filters"]
    assert "Unknown lifecycle stage “dreaming”." in messages
    assert "Consultant must be a staff number, not “abc”." in messages
    assert "Unknown filter “colour” for a customer export." in messages
    assert not ExportJob.objects.exists()


# --- streaming and progress -----------------------------------------------------------------------


def _customers(dealer, count: int, start: int) -> None:
    for n in range(start, start + count):
        customer = CustomerFactory(dealer=dealer, name=f"客户{n}", id_number=valid_id_number(n))
        CustomerPhoneFactory(customer=customer)
        CustomerTagFactory(customer=customer)


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_the_number_of_queries_does_not_grow_with_the_rows(
    dealer, boss, export, django_assert_max_num_queries, file_format
):
    # Given 3 customers, then 15: the export reads them in chunks (rows, phones, tags), so the
    # same few queries serve both.
    _customers(dealer, 3, 0)
    with django_assert_max_num_queries(16):
        small = export(boss, file_format=file_format)
    _customers(dealer, 12, 100)
    with django_assert_max_num_queries(16):
        large = export(boss, file_format=file_format)
    assert (small.done_rows, large.done_rows) == (3, 15)
    assert len(read(large)) == 16


def test_progress_is_recorded_while_the_rows_are_written(dealer, care, export, monkeypatch):
    # Given an export whose progress is written every 2 rows …
    _customers(dealer, 5, 0)
    monkeypatch.setattr(services, "PROGRESS_EVERY", 2)
    seen = []
    write_progress = services._progress

    def watch(job_id: int, done: int) -> None:
        write_progress(job_id, done)
        job = ExportJob.objects.get(pk=job_id)
        seen.append((job.status, job.done_rows, job.total_rows))

    monkeypatch.setattr(services, "_progress", watch)
    # … when it runs, then others see it running with the rows done so far out of the total …
    job = export(care)
    assert seen == [("running", 2, 5), ("running", 4, 5)]
    # … and at the end it is done, with every row.
    assert (job.status, job.done_rows, job.total_rows) == ("done", 5, 5)
    assert job.finished_at is not None
    assert services.export_percent(job) == 100


def test_running_a_finished_export_again_changes_nothing(dealer, care, zhang, export):
    job = export(care)
    again = export_run(job_id=job.pk)
    assert again.status == ExportStatus.DONE
    assert AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).count() == 1


def test_an_export_that_cannot_run_fails_with_the_reason(consultant, english):
    # Given an export of a user who (no longer) holds the permission, when the job runs (in the
    # user's language) …
    consultant.language = "en"
    consultant.save(update_fields=["language"])
    job = ExportJob.objects.create(created_by=consultant, kind="customers", file_format="csv")
    job = export_run(job_id=job.pk)
    # … then it failed, saying why, with no file and no audit event.
    assert job.status == ExportStatus.FAILED
    assert job.failure == "You may no longer export this."
    assert export_path(job) is None
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).exists()


# --- duplicates ----------------------------------------------------------------------------------


def test_duplicate_pairs_export_masked_with_score_and_reasons(dealer, other_dealer, boss, export):
    a = CustomerFactory(dealer=dealer, name="王芳")
    b = CustomerFactory(dealer=dealer, name="王方")
    CustomerPhoneFactory(customer=a, number="+8613900001111")
    CustomerPhoneFactory(customer=b, number="+8613900001111")
    DuplicateCandidate.objects.create(
        dealer=dealer,
        customer_a=a,
        customer_b=b,
        other_dealer=dealer,
        score=0.93,
        reasons={"blocks": ["phone"], "name": 0.9, "birthday": True},
    )
    # A pair across dealers is the OEM's to review; a decided pair is not in the queue.
    elsewhere = CustomerFactory(dealer=other_dealer, name="王芳")
    DuplicateCandidate.objects.create(
        dealer=dealer,
        customer_a=a,
        customer_b=elsewhere,
        other_dealer=other_dealer,
        cross_dealer=True,
        score=0.99,
        reasons={"blocks": ["phone"]},
    )
    c = CustomerFactory(dealer=dealer, name="赵六")
    DuplicateCandidate.objects.create(
        dealer=dealer,
        customer_a=a,
        customer_b=c,
        other_dealer=dealer,
        score=0.8,
        status="not_duplicate",
    )
    job = export(boss, kind="duplicates", file_format="xlsx")
    rows = read(job)
    assert job.done_rows == 1
    header, row = rows
    record = dict(zip(header, row, strict=True))
    assert record["Customer A"] == "王芳" and record["Customer B"] == "王方"
    assert record["Phone A"] == record["Phone B"] == "139****1111"
    assert record["Confidence (%)"] == 93.0
    assert record["What matched"] == "same phone; name 90%; same birthday"


# --- the daily clean-up --------------------------------------------------------------------------


def test_files_older_than_seven_days_are_deleted(dealer, care, zhang, export):
    with time_machine.travel(timezone.now() - datetime.timedelta(days=8)):
        old = export(care)
    new = export(care)
    old_path = export_path(old)
    # The file's own time says how old it is, too (strays are found by it).
    eight_days_ago = (timezone.now() - datetime.timedelta(days=8)).timestamp()
    os.utime(old_path, (eight_days_ago, eight_days_ago))
    stray = Path(old_path.parent / "99-customers-x.csv.part")
    stray.write_text("half")
    os.utime(stray, (eight_days_ago, eight_days_ago))
    stuck = ExportJob.objects.create(
        created_by=care,
        kind="customers",
        file_format="csv",
        status=ExportStatus.RUNNING,
        created_at=timezone.now() - datetime.timedelta(days=1),
    )
    result = exports_purge()
    assert result == {"deleted": 1, "cleared": 1, "strays": 1, "failed": 1}
    old.refresh_from_db()
    assert not old_path.exists() and not stray.exists()
    assert old.status == ExportStatus.DONE and export_path(old) is None
    assert export_path(new) is not None
    stuck.refresh_from_db()
    assert stuck.status == ExportStatus.FAILED
