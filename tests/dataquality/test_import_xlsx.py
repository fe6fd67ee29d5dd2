"""XLSX uploads read once: the header under a title line, and count_rows from the sheet's
recorded size (its <dimension>) instead of a second parse of every cell."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
import xlsxwriter

from dealercrm.core.tenancy import dealer_scope
from dealercrm.dataquality.models import ImportStatus
from dealercrm.dataquality.services import import_engine
from dealercrm.dataquality.services.import_files import count_rows, inspect_table, iter_rows
from dealercrm.dataquality.services.import_runs import (
    import_run_create,
    import_run_map,
    import_run_start,
)

HEADERS = ["客户姓名", "手机号码", "车架号"]


def _write(path: Path, rows: list[list[object]], *, sheet: str = "客户", hidden_first=False):
    """A title line, a blank line, the header, then `rows` ([] is a blank row)."""
    workbook = xlsxwriter.Workbook(str(path))
    if hidden_first:
        workbook.add_worksheet("说明").hide()
    worksheet = workbook.add_worksheet(sheet)
    if hidden_first:
        worksheet.activate()
    worksheet.write_row(0, 0, ["客户导出 2026-11-23"])
    worksheet.write_row(2, 0, HEADERS)
    for offset, cells in enumerate(rows, start=3):
        worksheet.write_row(offset, 0, cells)
    workbook.close()
    return path


def _customers(count: int) -> list[list[object]]:
    return [[f"客户{n}", 13800000000 + n, f"LVVDB11B{n:09d}"] for n in range(count)]


def _rewrite_sheet(path: Path, change) -> None:
    """Rewrite the first worksheet's XML with `change(xml) -> xml`, as other writers save it."""
    with zipfile.ZipFile(path) as archive:
        parts = {info.filename: archive.read(info) for info in archive.infolist()}
    parts["xl/worksheets/sheet1.xml"] = change(parts["xl/worksheets/sheet1.xml"])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)


def test_an_xlsx_with_a_title_line_above_the_header_is_read_with_exact_counts(tmp_path):
    path = _write(tmp_path / "客户.xlsx", _customers(25))

    info = inspect_table(path, filename=path.name)
    rows = list(iter_rows(path, info))

    assert (info.file_format, info.sheet, info.header_row) == ("xlsx", "客户", 2)
    assert info.headers == HEADERS
    assert info.sample[0] == ["客户0", "13800000000", "LVVDB11B000000000"]
    assert [number for number, _cells in rows] == list(range(4, 29))  # row 4 is the first
    assert count_rows(path, info) == len(rows) == 25


def test_count_rows_reads_the_recorded_size_not_the_cells(tmp_path, monkeypatch):
    path = _write(tmp_path / "客户.xlsx", _customers(40))
    info = inspect_table(path)

    def no_parsing(*args, **kwargs):
        raise AssertionError("count_rows parsed the cells")

    monkeypatch.setattr("dealercrm.dataquality.services.import_files.iter_rows", no_parsing)
    assert count_rows(path, info) == 40


@pytest.mark.django_db
def test_blank_rows_inside_the_table_make_the_count_an_estimate_the_run_corrects(
    tmp_path, dealer, import_dir
):
    # Given rows 5 and 7 blank among 6 data rows, when counted, then the blank rows are in the
    # estimate (8); the run imports the 6 rows and ends with total_rows = the rows processed.
    rows = _customers(6)
    path = _write(tmp_path / "客户.xlsx", [rows[0], [], rows[1], [], *rows[2:]])
    info = inspect_table(path)
    assert sum(1 for _ in iter_rows(path, info)) == 6
    assert count_rows(path, info) == 8

    with dealer_scope(dealer.pk):
        run = import_run_create(
            actor=None,
            dealer_id=dealer.pk,
            kind="customers",
            file=io.BytesIO(path.read_bytes()),
            filename=path.name,
        )
        run = import_run_map(actor=None, run=run, mapping=run.mapping)
        run = import_run_start(actor=None, run=run, enqueue=False)
        assert run.total_rows in (None, 8)
    run = import_engine.execute(run.pk, batch_size=import_engine.BATCH_SIZE, worker=False)

    assert run.status == ImportStatus.DONE, run.failure
    assert run.processed_rows == run.total_rows == 6


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda xml: re.sub(rb"<dimension [^>]*/>", b"", xml), id="no dimension"),
        pytest.param(
            lambda xml: re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1"/>', xml),
            id="dimension A1",
        ),
    ],
)
def test_a_sheet_without_a_usable_dimension_is_counted_row_by_row(tmp_path, change):
    path = _write(tmp_path / "客户.xlsx", [*_customers(3), [], *_customers(2)])
    _rewrite_sheet(path, change)
    info = inspect_table(path)

    assert count_rows(path, info) == 5  # exact: the blank row is not counted


def test_the_dimension_of_the_sheet_read_is_used_not_the_first_sheets(tmp_path):
    # Given a hidden first sheet (a note) and the data on a sheet whose name needs escaping.
    path = _write(tmp_path / "客户.xlsx", _customers(12), sheet="客户 & 车辆", hidden_first=True)
    info = inspect_table(path)

    assert info.sheet == "客户 & 车辆"
    assert count_rows(path, info) == 12


@pytest.fixture
def import_dir(tmp_path, settings):
    settings.IMPORT_DIR = tmp_path / "imports"
    return settings.IMPORT_DIR
