"""Reading uploaded tables: format and encoding detection, the header under a title, row numbers
as a spreadsheet shows them, resuming, exact counts, and a clear message for every bad file."""

from __future__ import annotations

import csv
import inspect
from pathlib import Path

import pytest
import xlsxwriter
from django.utils import translation

from dealercrm.dataquality.services.import_fields import guess_mapping
from dealercrm.dataquality.services.import_files import (
    FileProblem,
    TableInfo,
    count_rows,
    inspect_table,
    iter_rows,
)
from dealercrm.dataquality.services.normalise import clean_row
from tests.dataquality import messy_files
from tests.dataquality.messy_files import HEADERS, MessyFile


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def _messy(tmp_path: Path, variant: str) -> MessyFile:
    if variant == "xlsx":
        return messy_files.write_customers_xlsx(tmp_path / "客户.xlsx")
    return messy_files.write_customers_csv(tmp_path / "客户.csv", encoding=variant)


VARIANTS = ["gb18030", "utf-8-sig", "utf-8", "xlsx"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_messy_file_is_read_with_its_header_under_the_title(tmp_path, variant):
    messy = _messy(tmp_path, variant)
    info = inspect_table(messy.path, filename=messy.path.name)
    assert info.file_format == ("xlsx" if variant == "xlsx" else "csv")
    assert info.encoding == ("" if variant == "xlsx" else variant)
    assert info.sheet == ("客户" if variant == "xlsx" else "")
    assert info.header_row == messy.header_row == 2
    assert info.headers == HEADERS
    assert len(info.sample) == 10
    assert info.sample[0][:2] == ["张三", "13800138000"]
    assert guess_mapping("customers", info.headers) == messy.mapping


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_row_ends_clean_or_with_its_errors_in_exact_counts(tmp_path, variant):
    messy = _messy(tmp_path, variant)
    info = inspect_table(messy.path)
    column = {header: i for i, header in enumerate(info.headers)}
    clean_rows, errors, numbers = 0, [], []
    for number, cells in iter_rows(messy.path, info):
        numbers.append(number)
        _clean, row_errors = clean_row(
            "customers", {field: cells[column[h]] for field, h in messy.mapping.items()}
        )
        errors.extend((number, field) for field, _message in row_errors)
        clean_rows += not row_errors
    assert len(numbers) == messy.data_rows == 17
    # An XLSX is counted from its recorded size, the blank row inside the table included.
    counted = 17 + len(messy.blank_rows) if variant == "xlsx" else 17
    assert count_rows(messy.path, info) == counted
    assert clean_rows == messy.valid_rows == 8
    assert errors == messy.errors
    assert len({number for number, _field in errors}) == messy.error_count == 9
    # Row numbers are the spreadsheet's: data from row 4, the blank row 12 skipped.
    assert numbers == [n for n in range(4, 22) if n not in messy.blank_rows]
    assert messy.blank_rows == [12]


def test_the_messy_repair_orders_file_has_exactly_its_documented_outcomes(tmp_path):
    messy = messy_files.write_repair_orders_csv(tmp_path / "工单.csv")
    info = inspect_table(messy.path)
    assert info.encoding == "utf-8-sig"
    assert guess_mapping("repair_orders", info.headers) == messy.mapping
    column = {header: i for i, header in enumerate(info.headers)}
    clean_rows, errors = 0, []
    for number, cells in iter_rows(messy.path, info):
        _clean, row_errors = clean_row(
            "repair_orders", {field: cells[column[h]] for field, h in messy.mapping.items()}
        )
        errors.extend((number, field) for field, _message in row_errors)
        clean_rows += not row_errors
    assert count_rows(messy.path, info) == messy.data_rows == 10
    assert clean_rows == messy.valid_rows == 5
    assert errors == messy.errors
    assert messy.error_count == 5 and len(messy.errors) == 7


def test_xlsx_cells_become_the_text_the_spreadsheet_shows(tmp_path):
    messy = messy_files.write_customers_xlsx(tmp_path / "客户.xlsx")
    info = inspect_table(messy.path)
    rows = dict(iter_rows(messy.path, info))
    assert rows[4][1] == "13800138000"  # a number cell, not 13800138000.0
    assert rows[4][4] == "1980-01-02"  # a date cell
    assert rows[6][4] == "29221"  # an Excel serial kept as a plain number
    assert rows[5][1] == "１３９１２３４５６７８"  # text as typed; cleaning comes later


def test_xlsx_values_of_every_type(tmp_path):
    import datetime

    path = tmp_path / "types.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Sheet1")
    stamp = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    sheet.write_row(0, 0, ["名称", "数值", "备注"])
    sheet.write_row(1, 0, ["甲", 1.5, True])
    sheet.write(2, 0, "乙")
    sheet.write_datetime(2, 1, datetime.datetime(2024, 3, 5, 9, 30), stamp)
    sheet.write(2, 2, 12345678901234)
    workbook.close()
    info = inspect_table(path)
    assert list(iter_rows(path, info)) == [
        (2, ["甲", "1.5", "TRUE"]),
        (3, ["乙", "2024-03-05 09:30:00", "12345678901234"]),
    ]


def test_a_hidden_first_sheet_is_passed_over(tmp_path):
    path = tmp_path / "hidden.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    hidden = workbook.add_worksheet("说明")
    hidden.write_row(0, 0, ["说明", "不要导入"])
    hidden.write_row(1, 0, ["x", "y"])
    hidden.hide()
    data = workbook.add_worksheet("客户")
    data.activate()
    data.write_row(0, 0, ["姓名", "手机"])
    data.write_row(1, 0, ["张三", "13812345678"])
    workbook.close()
    info = inspect_table(path)
    assert info.sheet == "客户"
    assert list(iter_rows(path, info)) == [(2, ["张三", "13812345678"])]


@pytest.mark.parametrize("variant", ["gb18030", "xlsx"])
def test_resuming_skips_exactly_the_rows_already_processed(tmp_path, variant):
    messy = _messy(tmp_path, variant)
    info = inspect_table(messy.path)
    everything = list(iter_rows(messy.path, info))
    assert list(iter_rows(messy.path, info, start=8)) == everything[8:]
    assert list(iter_rows(messy.path, info, start=17)) == []


def test_iter_rows_works_from_the_stored_run_fields_alone(tmp_path):
    """A resumed run rebuilds TableInfo from ImportRun's columns (no sample)."""
    messy = messy_files.write_customers_csv(tmp_path / "c.csv")
    info = inspect_table(messy.path)
    rebuilt = TableInfo(
        file_format=info.file_format,
        encoding=info.encoding,
        sheet=info.sheet,
        header_row=info.header_row,
        headers=info.headers,
    )
    assert list(iter_rows(messy.path, rebuilt)) == list(iter_rows(messy.path, info))


def test_rows_stream_rather_than_load(tmp_path):
    messy = messy_files.write_large_customers_csv(tmp_path / "big.csv", 3000)
    info = inspect_table(messy.path)
    rows = iter_rows(messy.path, info)
    assert inspect.isgenerator(rows)
    assert next(rows)[0] == 2
    assert count_rows(messy.path, info) == 3000
    assert sum(1 for _ in rows) == 2999


def test_a_gbk_file_that_starts_in_plain_ascii_is_still_gbk(tmp_path):
    path = tmp_path / "late.csv"
    lines = ["name,phone"] + [f"customer{n},138{n:08d}" for n in range(8000)] + ["张三,13812345678"]
    path.write_bytes("\r\n".join(lines).encode("gbk"))
    info = inspect_table(path)
    assert info.encoding == "gb18030"
    assert list(iter_rows(path, info))[-1] == (8002, ["张三", "13812345678"])


def test_utf16_tab_separated_as_excel_saves_unicode_text(tmp_path):
    path = tmp_path / "unicode.txt"
    path.write_text("姓名\t手机\r\n张三\t13812345678\r\n", encoding="utf-16")
    info = inspect_table(path)
    assert info.encoding == "utf-16"
    assert info.headers == ["姓名", "手机"]
    assert list(iter_rows(path, info)) == [(2, ["张三", "13812345678"])]
    assert count_rows(path, info) == 1


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_other_delimiters_are_detected(tmp_path, delimiter):
    path = tmp_path / "d.csv"
    path.write_text(
        delimiter.join(["姓名", "手机", "城市"])
        + "\n"
        + delimiter.join(["张三", "1381", "深圳,南山"]),
        encoding="utf-8",
    )
    info = inspect_table(path)
    assert info.headers == ["姓名", "手机", "城市"]
    assert list(iter_rows(path, info)) == [(2, ["张三", "1381", "深圳,南山"])]


def test_a_quoted_line_break_is_one_row_and_counts_stay_exact(tmp_path):
    path = tmp_path / "q.csv"
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["姓名", "地址"])
        writer.writerow(["张三", "第一行\n第二行"])
        writer.writerow(["", ""])
        writer.writerow(["李四", "南山区"])
    info = inspect_table(path)
    assert list(iter_rows(path, info)) == [(2, ["张三", "第一行\n第二行"]), (4, ["李四", "南山区"])]
    assert count_rows(path, info) == 2


def test_nul_characters_are_dropped_from_cells(tmp_path):
    path = tmp_path / "nul.csv"
    path.write_bytes(("姓名,手机\n" + "张三,1\n" * 20000).encode() + b"a\x00b,2\n")
    info = inspect_table(path)
    assert list(iter_rows(path, info, start=20000)) == [(20002, ["ab", "2"])]


def test_a_file_problem_without_a_file_name_reads_well(tmp_path):
    path = messy_files.write_png(tmp_path / "x.csv")
    with pytest.raises(FileProblem) as caught:
        inspect_table(path)
    assert caught.value.message_dict == {
        "file": ["This file is not a spreadsheet: upload an XLSX file or a CSV file."]
    }


def test_lines_of_only_spaces_are_blank_for_counting_and_reading_alike(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("姓名,手机\n张三,1\n\u3000,  \n;;\n李四,2\n", encoding="utf-8")
    info = inspect_table(path)
    rows = list(iter_rows(path, info))
    assert count_rows(path, info) == len(rows) == 3  # ";;" is a cell, not a blank line
    assert [number for number, _cells in rows] == [2, 4, 5]


def test_empty_and_repeated_headers_get_unique_names(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("姓名,手机,,手机,备注\n张三,1,x,2,\n", encoding="utf-8")
    info = inspect_table(path)
    assert info.headers == ["姓名", "手机", "列3", "手机 (列4)", "备注"]


def test_trailing_empty_header_cells_count_only_when_data_uses_them(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("姓名,手机,,\n张三,1,,\n李四,2,,extra\n", encoding="utf-8")
    info = inspect_table(path)
    assert info.headers == ["姓名", "手机", "列3", "列4"]
    path.write_text("姓名,手机,,\n张三,1,,\n", encoding="utf-8")
    assert inspect_table(path).headers == ["姓名", "手机"]


def test_a_two_cell_title_above_a_wide_header_is_not_the_header(tmp_path):
    path = tmp_path / "title.csv"
    path.write_text(
        "客户导出,上海浦东店\n导出时间:,2024-03-05\n\n姓名,手机,城市,地址\n张三,1,深圳,南山区\n",
        encoding="utf-8",
    )
    info = inspect_table(path)
    assert info.header_row == 3
    assert info.headers == ["姓名", "手机", "城市", "地址"]


def test_a_header_of_known_column_names_wins_over_text_data_above_it(tmp_path):
    path = tmp_path / "k.csv"
    path.write_text("上海浦东店,华东大区,导出人\n\n姓名,手机,城市\n张三,1,深圳\n", encoding="utf-8")
    assert inspect_table(path).header_row == 2
    path.write_text("客户导出,上海店\n姓名,手机,城市\n", encoding="utf-8")
    with pytest.raises(FileProblem) as caught:
        inspect_table(path)
    assert caught.value.message_dict == {"file": ["The file has a header line but no data rows."]}


# --- Files that cannot be imported -------------------------------------------------------------

BAD = [
    (messy_files.write_empty, "empty.csv", "The file is empty."),
    (messy_files.write_blank_lines, "blank.csv", "The file is empty."),
    (messy_files.write_header_only, "header.csv", "The file has a header line but no data rows."),
    (
        lambda p: messy_files.write_header_only(p, xlsx=True),
        "header.xlsx",
        "The file has a header line but no data rows.",
    ),
    (
        messy_files.write_no_header,
        "numbers.csv",
        "No header line was found: one of the first rows should name the columns "
        "(姓名, 手机, 车架号 …).",
    ),
    (
        messy_files.write_old_xls,
        "old.xls",
        "“old.xls” is an old Excel file (.xls): open it in Excel, save it as XLSX or CSV, "
        "and upload that.",
    ),
    (
        messy_files.write_html_xls,
        "dms.xls",
        "“dms.xls” is a web page, not a spreadsheet: open it in Excel, save it as XLSX or CSV, "
        "and upload that.",
    ),
    (
        messy_files.write_png,
        "photo.csv",
        "“photo.csv” is not a spreadsheet: upload an XLSX file or a CSV file.",
    ),
    (
        messy_files.write_zip_not_xlsx,
        "archive.xlsx",
        "“archive.xlsx” is not a spreadsheet: upload an XLSX file or a CSV file.",
    ),
]


@pytest.mark.parametrize(("write", "name", "message"), BAD, ids=[b[1] for b in BAD])
def test_a_file_that_cannot_be_imported_says_why_on_the_file_field(tmp_path, write, name, message):
    path = tmp_path / name
    write(path)
    with pytest.raises(FileProblem) as caught:
        inspect_table(path, filename=name)
    assert caught.value.message_dict == {"file": [message]}


def test_undecodable_bytes_are_not_a_spreadsheet(tmp_path):
    path = tmp_path / "bytes.csv"
    path.write_bytes(b"name,phone\n\xff\xfe\xfd\xfc,1\n" * 3)
    with pytest.raises(FileProblem):
        inspect_table(path, filename="bytes.csv")


def test_a_file_problem_is_a_validation_error_on_file():
    from django.core.exceptions import ValidationError

    problem = FileProblem("x")
    assert isinstance(problem, ValidationError)
    assert problem.message_dict == {"file": ["x"]}
    assert FileProblem({"file": ["y"]}).message_dict == {"file": ["y"]}
