"""The export pages and API: start an export from the customer list with its filters, watch it,
download it; only the owner ever sees or downloads an export."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dealercrm.core.permissions import Role
from dealercrm.dataquality.models import ExportJob, ExportStatus
from tests.customers.factories import CustomerFactory, CustomerPhoneFactory

pytestmark = pytest.mark.django_db

API = "/api/dataquality/exports"


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path):
    settings.EXPORT_DIR = tmp_path / "exports"


@pytest.fixture
def care(make_user):
    return make_user(Role.CARE_SPECIALIST, language="en")


@pytest.fixture
def colleague(make_user):
    return make_user(Role.DEALER_MANAGER, language="en")


@pytest.fixture
def customers(dealer):
    owner = CustomerFactory(dealer=dealer, name="张伟", lifecycle_stage="owner")
    CustomerPhoneFactory(customer=owner, number="+8613812341234")
    CustomerFactory(dealer=dealer, name="潜客", lifecycle_stage="prospect")
    return owner


def _start(client, capture, **data):
    with capture(execute=True):
        return client.post(reverse("dataquality:export_create"), data)


def test_the_customer_list_offers_an_export_with_its_current_filters(client_for, care, customers):
    response = client_for(care).get(reverse("customers:list"), {"stage": "owner", "page": "1"})
    html = response.content.decode()
    assert reverse("dataquality:export_create") in html
    assert 'name="filters" value="stage=owner"' in html
    assert 'value="xlsx"' in html and 'value="csv"' in html


def test_the_customer_list_offers_no_export_without_the_permission(client_for, consultant):
    response = client_for(consultant).get(reverse("customers:list"))
    assert reverse("dataquality:export_create") not in response.content.decode()


def test_starting_from_the_list_exports_what_the_list_showed(
    client_for, care, customers, django_capture_on_commit_callbacks
):
    client = client_for(care)
    # Given the list filtered to owners, when XLSX is pressed …
    response = _start(
        client,
        django_capture_on_commit_callbacks,
        kind="customers",
        file_format="xlsx",
        filters="stage=owner",
    )
    job = ExportJob.objects.get(created_by=care)
    # … then the user lands on the export, which has run with the list's filter …
    assert response.status_code == 302
    assert response["Location"] == reverse("dataquality:export_detail", args=[job.pk])
    assert job.filters == {"stage": "owner"}
    assert job.status == ExportStatus.DONE and job.done_rows == 1
    # … and its page offers the download.
    page = client.get(response["Location"]).content.decode()
    assert reverse("dataquality:export_download", args=[job.pk]) in page
    assert "1 row exported." in page


def test_an_empty_or_bad_post_gets_messages_not_an_error(
    client_for, care, django_capture_on_commit_callbacks
):
    client = client_for(care)
    response = _start(client, django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert "Choose XLSX or CSV." in response.content.decode()
    response = _start(
        client,
        django_capture_on_commit_callbacks,
        kind="customers",
        file_format="csv",
        filters="stage=dreaming",
    )
    assert response.status_code == 400
    assert "Unknown lifecycle stage “dreaming”." in response.content.decode()
    assert not ExportJob.objects.exists()


def test_download_answers_the_file_to_its_owner_and_404_to_anyone_else(
    client_for, care, colleague, customers, django_capture_on_commit_callbacks
):
    _start(
        client_for(care),
        django_capture_on_commit_callbacks,
        kind="customers",
        file_format="csv",
    )
    job = ExportJob.objects.get(created_by=care)
    url = reverse("dataquality:export_download", args=[job.pk])
    response = client_for(care).get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="{job.filename}"' in response["Content-Disposition"]
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf") and "张伟".encode() in body
    # A colleague of the same dealer, who may export too, gets 404 for someone else's export.
    assert client_for(colleague).get(url).status_code == 404
    assert (
        client_for(colleague).get(reverse("dataquality:export_detail", args=[job.pk])).status_code
        == 404
    )


def test_the_list_shows_only_my_exports_and_polls_while_one_runs(client_for, care, colleague):
    mine = ExportJob.objects.create(
        created_by=care,
        kind="customers",
        file_format="csv",
        status=ExportStatus.RUNNING,
        total_rows=10,
        done_rows=4,
    )
    theirs = ExportJob.objects.create(created_by=colleague, kind="customers", file_format="csv")
    html = client_for(care).get(reverse("dataquality:export_list")).content.decode()
    assert f'data-export="{mine.pk}"' in html
    assert f'data-export="{theirs.pk}"' not in html
    assert 'hx-trigger="every 2s"' in html
    assert "4 of 10 rows" in html
    assert 'style="width: 40%"' in html


def test_the_progress_part_stops_polling_when_done(client_for, care):
    job = ExportJob.objects.create(
        created_by=care,
        kind="customers",
        file_format="csv",
        status=ExportStatus.FAILED,
        failure="disk full",
    )
    url = reverse("dataquality:export_detail", args=[job.pk])
    part = client_for(care).get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'id="export-progress"' in part and "every 2s" not in part
    assert "disk full" in part
    assert "<html" not in part


def test_download_of_an_unfinished_export_shows_its_progress(client_for, care):
    job = ExportJob.objects.create(created_by=care, kind="customers", file_format="csv")
    response = client_for(care).get(reverse("dataquality:export_download", args=[job.pk]))
    assert response.status_code == 200
    assert "Waiting to start" in response.content.decode()


# --- the API ---------------------------------------------------------------------------------------


def test_api_starts_lists_and_downloads_an_export(
    client_for, care, colleague, customers, django_capture_on_commit_callbacks
):
    client = client_for(care)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            API,
            {"kind": "customers", "file_format": "csv", "filters": {"stage": "owner"}},
            content_type="application/json",
        )
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["status"] in ("queued", "done")
    job_url = f"{API}/{created['id']}"
    detail = client.get(job_url).json()
    assert detail["status"] == "done" and detail["done_rows"] == 1 and detail["masked"] is False
    assert detail["download_url"] == f"{job_url}/download"
    assert [row["id"] for row in client.get(API).json()] == [created["id"]]
    download = client.get(detail["download_url"])
    assert download.status_code == 200
    assert "张伟".encode() in b"".join(download.streaming_content)
    # Someone else's export does not exist for a colleague.
    other = client_for(colleague)
    assert other.get(job_url).status_code == 404
    assert other.get(f"{job_url}/download").status_code == 404
    assert other.get(API).json() == []


def test_api_refuses_bad_input_with_the_field_named(client_for, care):
    response = client_for(care).post(
        API,
        {"kind": "customers", "file_format": "pdf", "filters": {"colour": "red"}},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert "file_format" in response.json()["errors"]


def test_api_download_of_an_unfinished_export_answers_409(client_for, care):
    job = ExportJob.objects.create(created_by=care, kind="customers", file_format="csv")
    response = client_for(care).get(f"{API}/{job.pk}/download")
    assert response.status_code == 409
    assert response.json() == {"detail": "The export is not ready yet.", "status": "queued"}
