"""Importing a DMS export in a real browser: a dealer manager uploads a CSV with a few bad rows,
maps the column the guess did not know, starts the import, watches the progress bar until the
job worker has run and the result replaces it, and downloads the error report."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from dealercrm.core.permissions import Role
from dealercrm.customers.models import Customer
from dealercrm.dataquality.models import ImportRun, ImportStatus
from tests.dataquality.test_import_pages import BAD_ROWS, GOOD_ROWS, customer_csv
from tests.e2e.test_customer_flow import log_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def held_jobs():
    """Jobs wait in the queue, as they do for `make demo`'s worker, instead of running inline
    inside the request (the test settings' immediate mode): the test is the worker, so the page
    can be seen waiting before the import runs."""
    from huey.contrib.djhuey import HUEY
    from huey.storage import MemoryStorage

    saved = HUEY.storage, HUEY._immediate
    HUEY.storage = MemoryStorage(HUEY.name)
    HUEY._immediate = False  # the attribute, not the setter: keep the memory storage
    try:
        yield HUEY
    finally:
        HUEY.storage, HUEY._immediate = saved


def run_worker(huey) -> int:
    """What the consumer does: take each queued job and run it. Returns how many ran."""
    ran = 0
    while (task := huey.dequeue()) is not None:
        huey.execute(task)
        ran += 1
    return ran


def test_upload_map_watch_progress_and_download_the_error_report(
    page: Page, make_user, dealer, settings, tmp_path, held_jobs
):
    # Given a dealer manager and a DMS export with a title line, 3 good rows and 2 bad ones
    settings.IMPORT_DIR = tmp_path / "imports"
    manager = make_user(Role.DEALER_MANAGER, username="li.manager", language="en")
    export = tmp_path / "客户导出.csv"
    export.write_bytes(customer_csv())

    # When they upload it …
    log_in(page, manager.username)
    page.goto("/data/imports/")
    page.get_by_label("What the file holds").select_option("customers")
    page.get_by_label("File", exact=True).set_input_files(str(export))
    page.locator("[data-upload]").click()

    # … the mapping step shows the guessed columns and a preview of the first rows
    expect(page.locator("[data-mapping-form]")).to_be_visible()
    expect(page.locator("select[name='col_name']")).to_have_value("姓名")
    expect(page.locator("select[name='col_phone']")).to_have_value("")
    expect(page.locator("#import-preview [data-row='4']")).to_contain_text("张伟")

    # … they map the phone column by hand, and the preview follows (the bad phone shows red)
    page.locator("select[name='col_phone']").select_option("号码")
    phone_column = page.locator("#import-preview th[data-column='phone']")
    expect(phone_column).to_be_visible()
    expect(page.locator("#import-preview [data-row='7'] [data-cell-error]").first).to_be_visible()

    # … and start: the progress bar waits for the worker
    page.locator("[data-start-import]").click()
    expect(page.locator("[data-progress]")).to_be_visible()
    run = ImportRun.objects.get()
    assert run.status == ImportStatus.QUEUED

    # Then, once the worker has run, the bar gives way to the result, without a reload
    assert run_worker(held_jobs) == 1
    result = page.locator("[data-result]")
    expect(result).to_be_visible()
    expect(page.locator("[data-count='created']")).to_have_text(str(len(GOOD_ROWS)))
    expect(page.locator("[data-count='error']")).to_have_text(str(len(BAD_ROWS)))
    expect(page.locator("[data-count='rows']")).to_have_text(str(len(GOOD_ROWS) + len(BAD_ROWS)))
    assert Customer.objects.filter(dealer=dealer).count() == len(GOOD_ROWS)

    # And the error report downloads with the two bad rows, their row numbers and reasons
    with page.expect_download() as info:
        page.locator("[data-error-report='csv']").click()
    download = info.value
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    assert [line[0] for line in lines[1:]] == ["7", "8"]
    assert all(line[2] for line in lines[1:])  # a reason on each
    assert "12345" in lines[1] and "2024-02-30" in lines[2]
