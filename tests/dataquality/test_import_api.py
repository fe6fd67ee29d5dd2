"""The imports API: upload (422 on `file` for a bad one, nothing kept), the guessed mapping and
first rows, the mapping (422 naming a missing field), start, counts, the error report, resume,
and 404 for another dealer's run."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from dealercrm.core.permissions import Role
from dealercrm.customers.models import Customer
from dealercrm.dataquality.models import ImportKind, ImportRun, ImportStatus
from tests.dataquality.test_import_pages import (
    BAD_FILES,
    BAD_ROWS,
    GOOD_ROWS,
    HEADERS,
    customer_csv,
    stored_files,
)

pytestmark = pytest.mark.django_db

API = "/api/dataquality/imports"


@pytest.fixture
def import_dir(settings, tmp_path):
    settings.IMPORT_DIR = tmp_path / "imports"
    return settings.IMPORT_DIR


@pytest.fixture
def api(client_for, make_user, import_dir):
    return client_for(make_user(Role.DEALER_MANAGER, language="en"))


def post_file(client, name: str, content: bytes, kind: str = ImportKind.CUSTOMERS):
    return client.post(API, {"kind": kind, "file": SimpleUploadedFile(name, content)})


def post_json(client, url: str, data: dict):
    return client.post(url, data, content_type="application/json")


def test_upload_answers_the_run_with_headers_guessed_mapping_and_first_rows(api):
    response = post_file(api, "客户.csv", customer_csv())

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "uploaded"
    assert body["headers"] == HEADERS
    assert body["mapping"]["name"] == "姓名" and "phone" not in body["mapping"]
    assert [row["row"] for row in body["sample"]] == [4, 5, 6, 7, 8]
    assert body["sample"][0]["cells"][0] == "张伟"
    assert {"name": "name", "label": "Name", "required": True} in body["fields"]
    assert body["rows_read"] == 0


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_file_answers_422_on_file_and_nothing_is_kept(api, import_dir, case):
    name, content = BAD_FILES[case]

    response = post_file(api, name, content)

    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["file"]
    assert ImportRun.objects.count() == 0
    assert stored_files(import_dir) == []


def test_a_file_above_the_limit_answers_422(api, settings, import_dir):
    settings.IMPORT_MAX_UPLOAD_MB = 0.0001  # about 100 bytes

    response = post_file(api, "big.csv", customer_csv())

    assert response.status_code == 422
    assert "file" in response.json()["errors"]
    assert ImportRun.objects.count() == 0
    assert stored_files(import_dir) == []


def test_an_unknown_kind_answers_422_on_kind(api):
    response = post_file(api, "a.csv", customer_csv(), kind="cars")

    assert response.status_code == 422
    assert "kind" in response.json()["errors"]
    assert ImportRun.objects.count() == 0


def test_a_mapping_missing_a_required_field_answers_422_naming_it(api):
    run_id = post_file(api, "a.csv", customer_csv()).json()["id"]

    response = post_json(api, f"{API}/{run_id}/mapping", {"mapping": {"vin": "车架号"}})

    assert response.status_code == 422
    message = " ".join(response.json()["errors"]["mapping"])
    assert "Name" in message
    assert ImportRun.objects.get().status == ImportStatus.UPLOADED
    assert Customer.objects.count() == 0


def test_mapping_with_start_imports_and_the_counts_add_up(
    api, dealer, django_capture_on_commit_callbacks
):
    body = post_file(api, "a.csv", customer_csv()).json()
    mapping = {**body["mapping"], "phone": "号码"}

    with django_capture_on_commit_callbacks(execute=True):
        started = post_json(api, f"{API}/{body['id']}/mapping", {"mapping": mapping, "start": True})

    assert started.status_code == 200, started.content
    run = api.get(f"{API}/{body['id']}").json()
    assert run["status"] == "done"
    assert run["created_count"] == len(GOOD_ROWS) and run["error_count"] == len(BAD_ROWS)
    assert run["rows_read"] == len(GOOD_ROWS) + len(BAD_ROWS)
    assert run["rows_read"] == sum(
        run[k] for k in ("created_count", "updated_count", "unchanged_count", "error_count")
    )
    assert run["sample"] == []
    assert Customer.objects.filter(dealer=dealer).count() == len(GOOD_ROWS)
    # The error report: a header line, then one line per bad row.
    report = api.get(f"{API}/{body['id']}/errors", {"format": "csv"})
    assert report.status_code == 200
    lines = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode("utf-8-sig"))))
    assert len(lines) == 1 + len(BAD_ROWS)
    # The list has the run; a finished run cannot be resumed.
    listed = api.get(API).json()
    assert listed["count"] == 1 and listed["items"][0]["id"] == body["id"]
    assert post_json(api, f"{API}/{body['id']}/resume", {}).status_code == 422


def test_mapping_without_start_keeps_the_run_at_its_mapping_step(api):
    body = post_file(api, "a.csv", customer_csv()).json()

    response = post_json(
        api,
        f"{API}/{body['id']}/mapping",
        {"mapping": {**body["mapping"], "phone": "号码"}, "save_as": "DMS"},
    )

    assert response.status_code == 200
    assert response.json()["status"] == "uploaded"
    assert response.json()["mapping"]["phone"] == "号码"


def test_an_unknown_report_format_answers_422(api, dealer):
    run = ImportRun.objects.create(
        dealer=dealer, kind=ImportKind.CUSTOMERS, filename="a.csv", stored_path="a.csv"
    )

    assert api.get(f"{API}/{run.pk}/errors", {"format": "pdf"}).status_code == 422


def test_another_dealers_run_answers_404(api, other_dealer):
    theirs = ImportRun.objects.create(
        dealer=other_dealer, kind=ImportKind.CUSTOMERS, filename="t.csv", stored_path="t.csv"
    )

    assert api.get(f"{API}/{theirs.pk}").status_code == 404
    assert api.get(f"{API}/{theirs.pk}/errors").status_code == 404
    assert post_json(api, f"{API}/{theirs.pk}/resume", {}).status_code == 404
    assert (
        post_json(api, f"{API}/{theirs.pk}/mapping", {"mapping": {"name": "姓名"}}).status_code
        == 404
    )


def test_oem_roles_may_not_import(client_for, oem_analyst):
    assert client_for(oem_analyst).get(API).status_code == 403


def test_the_sample_masks_contacts_for_a_role_that_may_not_see_them(
    client_for, make_user, import_dir
):
    client = client_for(make_user(Role.DEALER_ADMIN, language="en"))
    body = post_file(
        client,
        "a.csv",
        customer_csv(headers=["姓名", "手机", "车架号", "购车日期"], title=False),
    ).json()

    assert body["mapping"]["phone"] == "手机"
    assert body["sample"][0]["cells"][:2] == ["张伟", "138****8001"]


def test_a_user_without_a_dealer_is_refused_and_nothing_is_kept(client_for, make_user, import_dir):
    client = client_for(make_user(Role.SYSTEM_ADMIN, language="en"))

    response = post_file(client, "a.csv", customer_csv())

    assert response.status_code == 422
    assert "file" in response.json()["errors"]
    assert ImportRun.objects.count() == 0
    assert stored_files(import_dir) == []
