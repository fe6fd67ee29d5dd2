"""The import pages: upload (bad files refused on the form, nothing kept), the column mapping with
its preview, a mapping missing a required column, the whole run to its result and error report,
the rows matched to existing records, resume, and another dealer's run answering 404."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
import xlsxwriter
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from dealercrm.core.models import AuditEvent
from dealercrm.core.permissions import Role
from dealercrm.customers.models import Customer
from dealercrm.dataquality.models import (
    ImportKind,
    ImportOutcome,
    ImportRowIssue,
    ImportRun,
    ImportStatus,
)
from dealercrm.vehicles.models import Vehicle
from dealercrm.vehicles.validators import with_check_digit

pytestmark = pytest.mark.django_db

LIST = reverse("dataquality:import_list")


def vin(n: int) -> str:
    return with_check_digit(f"LSVAU2180N{n:07d}")


# A DMS export as a dealer would download it: a title line and a blank line above the headers.
# The phone column's header ("号码") is one the guess does not know, so it is mapped by hand.
GOOD_ROWS = [
    ("张伟", "13800138001", vin(1), "2024-03-05"),
    ("李娜", "138 0013 8002", vin(2), "2024/3/5"),
    ("刘洋", "13800138003", vin(3), "20240305"),
]
BAD_ROWS = [
    ("王芳", "12345", vin(4), "2024-03-05"),  # not a phone number
    ("赵敏", "13800138005", vin(5), "2024-02-30"),  # no such date
]
HEADERS = ["姓名", "号码", "车架号", "购车日期"]


def customer_csv(rows=None, *, headers=HEADERS, title: bool = True) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    if title:
        writer.writerow(["2024年客户导出", "", "", ""])
        writer.writerow([])
    writer.writerow(headers)
    for row in GOOD_ROWS + BAD_ROWS if rows is None else rows:
        writer.writerow(row)
    return out.getvalue().encode("utf-8")


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


def full_mapping(run: ImportRun) -> dict[str, str]:
    """The form's fields for the mapping the guess made, plus the phone column by hand."""
    data = {f"col_{field}": header for field, header in run.mapping.items()}
    data["col_phone"] = "号码"
    return data


@pytest.fixture
def import_dir(settings, tmp_path):
    settings.IMPORT_DIR = tmp_path / "imports"
    return settings.IMPORT_DIR


@pytest.fixture
def manager_en(make_user):
    return make_user(Role.DEALER_MANAGER, language="en")


@pytest.fixture
def signed_in(client_for, manager_en, import_dir):
    return client_for(manager_en)


def stored_files(import_dir) -> list:
    return [p for p in import_dir.rglob("*") if p.is_file()] if import_dir.exists() else []


def make_run(client, content: bytes | None = None) -> ImportRun:
    response = client.post(
        LIST,
        {"kind": ImportKind.CUSTOMERS, "file": upload("客户导出.csv", content or customer_csv())},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return ImportRun.objects.get()


# --- upload ------------------------------------------------------------------------------------


def test_the_list_shows_the_dealers_runs_and_the_upload_form(
    signed_in, dealer, other_dealer, django_assert_max_num_queries
):
    mine = ImportRun.objects.create(
        dealer=dealer,
        kind=ImportKind.CUSTOMERS,
        filename="mine.csv",
        stored_path="x",
        status="done",
    )
    ImportRun.objects.create(
        dealer=other_dealer, kind=ImportKind.CUSTOMERS, filename="theirs.csv", stored_path="y"
    )

    with django_assert_max_num_queries(8):
        response = signed_in.get(LIST)

    body = response.content.decode()
    assert response.status_code == 200
    assert f'data-run="{mine.pk}"' in body and "mine.csv" in body
    assert "theirs.csv" not in body
    assert 'enctype="multipart/form-data"' in body


def test_uploading_a_csv_opens_its_mapping_step_with_the_guessed_columns_and_a_preview(
    signed_in, import_dir
):
    run = make_run(signed_in)

    assert run.status == ImportStatus.UPLOADED
    assert run.headers == HEADERS and run.header_row == 2
    assert run.mapping["name"] == "姓名" and run.mapping["vin"] == "车架号"
    assert "phone" not in run.mapping  # "号码" is not a header the guess knows
    assert len(stored_files(import_dir)) == 1
    page = signed_in.get(reverse("dataquality:import_detail", args=[run.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert '<option value="姓名" selected>' in body  # the name's select, pre-filled
    # The preview: the first rows as they will be read, dates normalised.
    assert 'data-row="4"' in body and "张伟" in body
    assert "2024-03-05" in body and "20240305" in body


def test_the_preview_follows_the_selects_and_shows_why_a_cell_would_be_refused(signed_in):
    run = make_run(signed_in)

    response = signed_in.get(
        reverse("dataquality:import_detail", args=[run.pk]),
        {**full_mapping(run)},
        headers={"HX-Request": "true", "HX-Target": "import-preview"},
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="import-preview"' in body and "<html" not in body
    assert 'data-column="phone"' in body
    assert "+8613800138002" in body  # "138 0013 8002" as it will be stored
    assert body.count("data-cell-error") == 2  # the bad phone and the impossible date


def test_the_preview_masks_contacts_for_a_role_that_may_not_see_them(
    client_for, make_user, import_dir
):
    admin = make_user(Role.DEALER_ADMIN, language="en")  # may import, may not read contacts
    client = client_for(admin)
    run = make_run(client)

    response = client.get(
        reverse("dataquality:import_detail", args=[run.pk]),
        full_mapping(run),
        headers={"HX-Request": "true", "HX-Target": "import-preview"},
    )

    body = response.content.decode()
    assert "138****8001" in body
    assert "13800138001" not in body


BAD_FILES = {
    "not a spreadsheet": ("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))),
    "empty": ("empty.csv", b""),
    "header only": ("header.csv", "姓名,手机,车架号\n".encode()),
    "old excel": ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_file_is_refused_on_the_file_field_and_nothing_is_kept(
    signed_in, import_dir, dealer, case
):
    name, content = BAD_FILES[case]
    customers = Customer.objects.count()

    response = signed_in.post(LIST, {"kind": ImportKind.CUSTOMERS, "file": upload(name, content)})

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["file"], errors
    assert 'class="invalid-feedback d-block"' in response.content.decode()
    assert ImportRun.objects.count() == 0
    assert Customer.objects.count() == customers
    assert stored_files(import_dir) == []


def test_a_file_above_the_upload_limit_is_refused_pointing_to_the_command_line(
    signed_in, import_dir, settings
):
    settings.IMPORT_MAX_UPLOAD_MB = 0.001  # about 1 KB
    content = customer_csv([(f"客户{i}", f"138{i:08d}", vin(i), "2024-03-05") for i in range(60)])
    assert len(content) > 1100

    response = signed_in.post(
        LIST, {"kind": ImportKind.CUSTOMERS, "file": upload("big.csv", content)}
    )

    assert response.status_code == 200
    message = " ".join(response.context["form"].errors["file"])
    assert "dealercrm import" in message
    assert ImportRun.objects.count() == 0
    assert stored_files(import_dir) == []


def test_an_empty_post_answers_the_form_with_its_errors(signed_in):
    response = signed_in.post(LIST, {})

    assert response.status_code == 200
    assert "Choose a CSV or XLSX file to upload." in response.content.decode()
    assert ImportRun.objects.count() == 0


def test_a_user_without_a_dealer_is_pointed_to_the_command_line(client_for, make_user, import_dir):
    client = client_for(make_user(Role.SYSTEM_ADMIN, language="en"))

    response = client.post(
        LIST, {"kind": ImportKind.CUSTOMERS, "file": upload("a.csv", customer_csv())}
    )

    assert response.status_code == 200
    assert "--dealer" in " ".join(response.context["form"].non_field_errors())
    assert ImportRun.objects.count() == 0


def test_oem_roles_may_not_import(client_for, oem_analyst):
    assert client_for(oem_analyst).get(LIST).status_code == 403


# --- mapping and the run ----------------------------------------------------------------------


def test_a_mapping_missing_a_required_column_is_refused_naming_it_and_nothing_is_written(
    signed_in,
):
    run = make_run(signed_in)
    data = full_mapping(run)
    data["col_name"] = ""
    customers = Customer.objects.count()

    response = signed_in.post(reverse("dataquality:import_map", args=[run.pk]), data)

    body = response.content.decode()
    assert response.status_code == 200
    assert "Name" in " ".join(response.context["form"].non_field_errors())
    assert 'name="col_name" class="form-select is-invalid"' in body
    run.refresh_from_db()
    assert run.status == ImportStatus.UPLOADED
    assert Customer.objects.count() == customers
    assert not ImportRowIssue.objects.exists()


def test_mapping_and_starting_runs_the_import_to_its_result(
    signed_in, dealer, django_capture_on_commit_callbacks
):
    run = make_run(signed_in)

    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post(
            reverse("dataquality:import_map", args=[run.pk]),
            {**full_mapping(run), "save_as": "DMS 客户导出"},
        )

    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == ImportStatus.DONE
    assert run.mapping["phone"] == "号码"
    assert (run.created_count, run.updated_count, run.unchanged_count, run.error_count) == (
        3,
        0,
        0,
        2,
    )
    assert run.accounted_rows == len(GOOD_ROWS) + len(BAD_ROWS)
    assert Customer.objects.filter(dealer=dealer).count() == 3
    assert Vehicle.objects.filter(dealer=dealer).count() == 3
    # The page shows the result: every count, adding up to the rows read.
    body = signed_in.get(response["Location"]).content.decode()
    assert 'data-count="created">3<' in body and 'data-count="error">2<' in body
    assert 'data-count="rows">5<' in body
    assert 'data-error-report="csv"' in body and 'data-error-report="xlsx"' in body
    # The mapping is saved for the source: the next file of it maps itself.
    second = make_run_again(signed_in)
    assert second.source == "DMS 客户导出" and second.mapping["phone"] == "号码"


def make_run_again(client) -> ImportRun:
    response = client.post(
        LIST, {"kind": ImportKind.CUSTOMERS, "file": upload("客户导出2.csv", customer_csv())}
    )
    assert response.status_code == 302
    return ImportRun.objects.order_by("-id").first()


def _run_to_the_end(client, django_capture_on_commit_callbacks) -> ImportRun:
    run = make_run_again(client)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("dataquality:import_map", args=[run.pk]), full_mapping(run))
    run.refresh_from_db()
    return run


def test_the_error_report_gives_row_field_and_reason_and_is_audit_logged(
    signed_in, manager_en, django_capture_on_commit_callbacks
):
    run = _run_to_the_end(signed_in, django_capture_on_commit_callbacks)

    response = signed_in.get(reverse("dataquality:import_errors", args=[run.pk]), {"format": "csv"})

    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    rows = {line[0]: line for line in lines[1:]}
    assert set(rows) == {"7", "8"}  # the spreadsheet's row numbers of the two bad rows
    assert "12345" in rows["7"] and "2024-02-30" in rows["8"]
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORT)
    assert event.actor == manager_en and event.target_id == str(run.pk)
    xlsx = signed_in.get(reverse("dataquality:import_errors", args=[run.pk]), {"format": "xlsx"})
    assert b"".join(xlsx.streaming_content)[:2] == b"PK"


def test_importing_the_same_file_again_creates_nothing_and_links_the_matched_records(
    signed_in, dealer, django_capture_on_commit_callbacks
):
    _run_to_the_end(signed_in, django_capture_on_commit_callbacks)
    customers = Customer.objects.count()

    again = _run_to_the_end(signed_in, django_capture_on_commit_callbacks)

    assert again.created_count == 0
    assert again.updated_count + again.unchanged_count == len(GOOD_ROWS)
    assert again.error_count == len(BAD_ROWS)
    assert Customer.objects.count() == customers
    response = signed_in.get(
        reverse("dataquality:import_rows", args=[again.pk]), {"outcome": ImportOutcome.UNCHANGED}
    )
    body = response.content.decode()
    zhang = Customer.objects.get(name="张伟")
    assert reverse("customers:detail", args=[zhang.pk]) in body
    errors = signed_in.get(
        reverse("dataquality:import_rows", args=[again.pk]), {"outcome": ImportOutcome.ERROR}
    ).content.decode()
    assert errors.count("data-issue-row=") == 2


def test_the_progress_partial_polls_while_the_run_works_and_then_shows_the_result(
    signed_in, dealer
):
    run = ImportRun.objects.create(
        dealer=dealer,
        kind=ImportKind.CUSTOMERS,
        filename="a.csv",
        stored_path="a.csv",
        status=ImportStatus.RUNNING,
        total_rows=200,
        processed_rows=50,
    )
    url = reverse("dataquality:import_progress", args=[run.pk])

    working = signed_in.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 1s"' in working and "25%" in working

    ImportRun.objects.filter(pk=run.pk).update(
        status=ImportStatus.DONE, processed_rows=200, created_count=190, error_count=10
    )
    done = signed_in.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in done
    assert 'data-count="rows">200<' in done


def test_a_finished_run_cannot_be_resumed(signed_in, dealer):
    run = ImportRun.objects.create(
        dealer=dealer, kind=ImportKind.CUSTOMERS, filename="a.csv", stored_path="a.csv",
        status=ImportStatus.DONE,
    )  # fmt: skip

    response = signed_in.post(reverse("dataquality:import_resume", args=[run.pk]))

    assert response.status_code == 400
    assert "This import is finished" in response.content.decode()
    assert "data-result" in response.content.decode()
    run.refresh_from_db()
    assert run.status == ImportStatus.DONE


@pytest.mark.parametrize(
    "name,method",
    [
        ("import_detail", "get"),
        ("import_map", "post"),
        ("import_progress", "get"),
        ("import_resume", "post"),
        ("import_errors", "get"),
        ("import_rows", "get"),
    ],
)
def test_another_dealers_run_answers_404(signed_in, other_dealer, name, method):
    theirs = ImportRun.objects.create(
        dealer=other_dealer, kind=ImportKind.CUSTOMERS, filename="t.csv", stored_path="t.csv"
    )

    response = getattr(signed_in, method)(reverse(f"dataquality:{name}", args=[theirs.pk]))

    assert response.status_code == 404


def test_a_killed_run_offers_resume_which_finishes_it_without_duplicates(
    signed_in, dealer, django_capture_on_commit_callbacks
):
    # Given a run started (its job not run yet) and then left RUNNING by a killed worker
    run = make_run(signed_in)
    signed_in.post(reverse("dataquality:import_map", args=[run.pk]), full_mapping(run))
    stale = timezone.now() - datetime.timedelta(minutes=10)
    ImportRun.objects.filter(pk=run.pk).update(
        status=ImportStatus.RUNNING, started_at=stale, heartbeat_at=stale
    )

    # When its page is polled, it offers to resume …
    progress = signed_in.get(reverse("dataquality:import_progress", args=[run.pk])).content
    assert b"data-stale" in progress and b"data-resume" in progress

    # … and resuming runs it to the end
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post(reverse("dataquality:import_resume", args=[run.pk]))

    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == ImportStatus.DONE
    assert run.accounted_rows == len(GOOD_ROWS) + len(BAD_ROWS)
    assert Customer.objects.filter(dealer=dealer).count() == len(GOOD_ROWS)


def test_an_xlsx_file_goes_through_the_same_steps(
    signed_in, dealer, django_capture_on_commit_callbacks
):
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet("客户")
    sheet.write_row(0, 0, ["客户姓名", "手机号码", "车架号"])
    sheet.write_row(1, 0, ["周杰", 13800138011, vin(11)])  # the phone as a number, as Excel has it
    sheet.write_row(2, 0, ["吴磊", "13800138012", vin(12)])
    book.close()
    response = signed_in.post(
        LIST, {"kind": ImportKind.CUSTOMERS, "file": upload("客户.xlsx", out.getvalue())}
    )
    run = ImportRun.objects.get()
    assert response.status_code == 302 and run.file_format == "xlsx"
    assert run.mapping == {"name": "客户姓名", "phone": "手机号码", "vin": "车架号"}

    with django_capture_on_commit_callbacks(execute=True):
        signed_in.post(
            reverse("dataquality:import_map", args=[run.pk]),
            {f"col_{k}": v for k, v in run.mapping.items()},
        )

    run.refresh_from_db()
    assert (run.status, run.created_count, run.error_count) == (ImportStatus.DONE, 2, 0)
    assert Customer.objects.filter(dealer=dealer, name="周杰").exists()


def test_the_rows_page_keeps_its_query_count_whatever_the_rows(
    signed_in, dealer, django_assert_max_num_queries
):
    run = ImportRun.objects.create(
        dealer=dealer, kind=ImportKind.CUSTOMERS, filename="a.csv", stored_path="a.csv",
        status=ImportStatus.DONE, mapping={"phone": "手机"},
    )  # fmt: skip
    ImportRowIssue.objects.bulk_create(
        ImportRowIssue(
            dealer=dealer,
            run=run,
            row_number=n,
            outcome=ImportOutcome.ERROR if n % 2 else ImportOutcome.UNCHANGED,
            field="phone" if n % 2 else "",
            reason="不是有效的手机号" if n % 2 else "",
            customer_id=None if n % 2 else n,
            values={"手机": f"1380013{n:04d}"},
        )
        for n in range(2, 42)
    )

    with django_assert_max_num_queries(8):
        response = signed_in.get(reverse("dataquality:import_rows", args=[run.pk]))

    assert response.content.decode().count("data-issue-row=") == 40
    with django_assert_max_num_queries(8):
        errors = signed_in.get(
            reverse("dataquality:import_rows", args=[run.pk]), {"outcome": "error"}
        )
    assert errors.content.decode().count("data-issue-row=") == 20


def test_the_mapping_page_and_the_result_page_take_few_queries(
    signed_in, dealer, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    run = make_run(signed_in)
    with django_assert_max_num_queries(8):
        assert signed_in.get(reverse("dataquality:import_detail", args=[run.pk])).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        signed_in.post(reverse("dataquality:import_map", args=[run.pk]), full_mapping(run))
    with django_assert_max_num_queries(8):
        assert signed_in.get(reverse("dataquality:import_detail", args=[run.pk])).status_code == 200
