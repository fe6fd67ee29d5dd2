"""Builders of deliberately messy import files, with exactly known contents.

The main builder writes one customer-and-vehicle table (`CUSTOMER_ROWS`) as a DMS would export
it: a title line (a merged cell in XLSX), a blank line, then the header, so the header is line 3
(`header_row` 2) and the first data row is row 4. In it:

- 6 valid customers (rows 4–9): full-width digits, stray spaces, +86 / 0086 / spaced phones, a
  landline, an ID number ending in a lower-case x, every date format (2021/3/5, 2022年1月1日,
  20220101, an Excel serial, an ISO date), "12,345 km" mileage, province and city short names,
  one customer with an ID number and no phone, one with no vehicle;
- 2 duplicate rows (rows 10–11): row 10 is an exact copy of row 4; row 11 is row 5's customer
  (same phone, same VIN) with an e-mail address row 5 did not have;
- 1 fully blank line (row 12): not a data row, never counted;
- 9 rows in error (rows 13–21), each naming its fields: phone, ID number (check digit), VIN
  (check digit), plate, birthday (2023-02-30), e-mail, empty name, neither phone nor ID number,
  and one row with three errors at once (phone, e-mail, purchase date).

So: 17 data rows = 8 clean (6 distinct customers, 5 vehicles) + 9 in error; 11 errors in all
(`MessyFile.errors` lists each as (row number, field name)). `count_rows` gives 17.
Every builder returns a `MessyFile` describing exactly what it wrote. `write_repair_orders_csv`
does the same for repair orders of the customer file's cars (its docstring has the counts).
"""

from __future__ import annotations

import csv
import datetime
from dataclasses import dataclass, field
from pathlib import Path

import xlsxwriter

from dealercrm.customers.validators import id_number_check_character
from dealercrm.vehicles.validators import with_check_digit

TITLE = "2024年客户导出"
HEADERS = [
    "客户姓名", "手机号码", "身份证号", "性别", "出生日期", "邮箱", "省份", "城市",
    "详细地址", "车架号", "车牌号", "车型", "购车日期", "行驶里程",
]  # fmt: skip
# The mapping guess_mapping makes of HEADERS.
MAPPING = {
    "name": "客户姓名",
    "phone": "手机号码",
    "id_number": "身份证号",
    "gender": "性别",
    "birthday": "出生日期",
    "email": "邮箱",
    "province": "省份",
    "city": "城市",
    "street": "详细地址",
    "vin": "车架号",
    "plate": "车牌号",
    "car_model": "车型",
    "purchase_date": "购车日期",
    "mileage": "行驶里程",
}


def valid_id_number(body17: str) -> str:
    return body17 + id_number_check_character(body17)


def valid_vin(serial: int) -> str:
    return with_check_digit(f"LA9AB1C20N{serial:07d}")


ID_ZHANG = valid_id_number("31011519800102123")  # ...1233
ID_WANG = "11010519750305003x"  # check character X, written in lower case
ID_ZHAO = valid_id_number("44030519901212002")
VIN_1, VIN_2, VIN_3, VIN_5, VIN_6 = (valid_vin(n) for n in (1, 2, 3, 5, 6))
VIN_BAD_CHECK = VIN_1[:8] + ("0" if VIN_1[8] != "0" else "1") + VIN_1[9:]
ID_BAD_CHECK = ID_ZHANG[:17] + ("0" if ID_ZHANG[17] != "0" else "1")

FIRST_DATA_ROW = 4  # title, blank line, header above it

# The car models the valid rows name, as (make, series, name): "极光 S7" is series + name.
CATALOGUE = [("极光", "极光", "S7"), ("极光", "极光", "E5")]


def add_models_to_catalogue() -> None:
    """Put the file's car models in the catalogue, so its valid rows import without notes."""
    from tests.vehicles.factories import CarModelFactory

    for make, series, name in CATALOGUE:
        CarModelFactory(make=make, series=series, name=name)


# One entry per line after the header: (cells, outcome, fields in error).
# Outcomes: "valid", "duplicate", "blank", "error".
CUSTOMER_ROWS: list[tuple[list[str], str, tuple[str, ...]]] = [
    # row 4
    (["张三", "13800138000", ID_ZHANG, "男", "1980-01-02", "zhangsan@example.com", "上海", "上海",
      "浦东新区张杨路1号", VIN_1, "沪A12345", "极光 S7", "2021/3/5", "12,345 km"], "valid", ()),
    # row 5: full-width digits, a new-energy plate with a space, 年月日 date, compact date
    (["李四", "１３９１２３４５６７８", "", "女", "1985年6月7日", "", "广东", "深圳",
      "南山区科技园8号", VIN_2, "粤B D12345", "极光 E5", "20220101", "23456"], "valid", ()),
    # row 6: +86 with spaces, ID ending in x, Excel serial birthday, no vehicle
    (["王五", "+86 137 0000 0001", ID_WANG, "M", "29221", "", "北京", "北京", "朝阳区建国路5号",
      "", "", "", "", ""], "valid", ()),
    # row 7: ID number only, no phone
    (["赵六", "", ID_ZHAO, "female", "", "", "广东省", "广州", "", VIN_3, "粤A88888", "", "2020.12.1",
      ""], "valid", ()),
    # row 8: stray spaces in the name, a landline, 0086 elsewhere
    (["  陈  七 ", "021-58881234", "", "", "", "", "上海市", "上海市", "", VIN_5, "", "", "", ""],
     "valid", ()),
    # row 9: 0086 prefix, upper-case e-mail domain, 内蒙 → 内蒙古自治区, 万 in the mileage
    (["Li Na", "0086 13512345678", "", "女士", "", "LiNa@Example.COM", "内蒙", "呼和浩特", "",
      VIN_6, "蒙A1234F", "", "2023-07-08", "1.2万公里"], "valid", ()),
    # row 10: an exact copy of row 4
    (None, "duplicate", ()),
    # row 11: row 5's customer again, now with an e-mail address
    (["李四", "13912345678", "", "女", "1985-06-07", "lisi@example.com", "广东", "深圳",
      "南山区科技园8号", VIN_2, "粤BD12345", "极光 E5", "2022-01-01", "23456"], "duplicate", ()),
    # row 12: blank
    ([""] * len(HEADERS), "blank", ()),
    # row 13: phone too short
    (["周八", "1234567", "", "男", "", "", "", "", "", "", "", "", "", ""], "error", ("phone",)),
    # row 14: ID number with a wrong check digit
    (["吴九", "13612345678", ID_BAD_CHECK, "", "", "", "", "", "", "", "", "", "", ""], "error",
     ("id_number",)),
    # row 15: VIN with a wrong check digit
    (["郑十", "13712345678", "", "", "", "", "", "", "", VIN_BAD_CHECK, "", "", "", ""], "error",
     ("vin",)),
    # row 16: plate without a province
    (["钱一", "13812345678", "", "", "", "", "", "", "", "", "XX12345", "", "", ""], "error",
     ("plate",)),
    # row 17: impossible birthday
    (["孙二", "13912345670", "", "", "2023-02-30", "", "", "", "", "", "", "", "", ""], "error",
     ("birthday",)),
    # row 18: e-mail without @
    (["冯三", "15012345678", "", "", "", "not-an-email", "", "", "", "", "", "", "", ""], "error",
     ("email",)),
    # row 19: no name
    (["", "15112345678", "", "", "", "", "", "", "", "", "", "", "", ""], "error", ("name",)),
    # row 20: neither phone nor ID number
    (["褚四", "", "", "男", "", "", "", "", "", "", "", "", "", ""], "error", ("phone",)),
    # row 21: three errors at once
    (["卫五", "12345", "", "", "", "bad@", "", "", "", "", "", "", "2024-13-01", ""], "error",
     ("phone", "email", "purchase_date")),
]  # fmt: skip
CUSTOMER_ROWS[6] = (CUSTOMER_ROWS[0][0], "duplicate", ())


@dataclass(frozen=True)
class MessyFile:
    """What a builder wrote: where, and exactly how many rows of each outcome."""

    path: Path
    kind: str
    header_row: int  # 0-based line of the header
    headers: list[str]
    mapping: dict[str, str]
    data_rows: int  # non-blank rows after the header (what count_rows gives)
    valid_rows: int  # clean rows, duplicates included
    distinct_customers: int
    vehicles: int  # distinct VINs among the clean rows
    duplicate_rows: dict[int, int] = field(default_factory=dict)  # row → row it repeats
    error_rows: list[int] = field(default_factory=list)  # row numbers in error
    errors: list[tuple[int, str]] = field(default_factory=list)  # (row number, field)
    blank_rows: list[int] = field(default_factory=list)  # row numbers of blank lines
    # Rows clean_row accepts but the import must refuse: (row number, field), e.g. a VIN the
    # dealer does not know.
    later_errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def error_count(self) -> int:
        return len(self.error_rows)


def _customer_file(path: Path) -> MessyFile:
    errors: list[tuple[int, str]] = []
    error_rows: list[int] = []
    blank_rows: list[int] = []
    for offset, (_cells, outcome, fields) in enumerate(CUSTOMER_ROWS):
        row = FIRST_DATA_ROW + offset
        if outcome == "error":
            error_rows.append(row)
            errors.extend((row, f) for f in fields)
        elif outcome == "blank":
            blank_rows.append(row)
    return MessyFile(
        path=path,
        kind="customers",
        header_row=FIRST_DATA_ROW - 2,
        headers=list(HEADERS),
        mapping=dict(MAPPING),
        data_rows=sum(1 for _c, outcome, _f in CUSTOMER_ROWS if outcome != "blank"),
        valid_rows=sum(1 for _c, outcome, _f in CUSTOMER_ROWS if outcome in ("valid", "duplicate")),
        distinct_customers=sum(1 for _c, outcome, _f in CUSTOMER_ROWS if outcome == "valid"),
        vehicles=5,
        duplicate_rows={FIRST_DATA_ROW + 6: FIRST_DATA_ROW, FIRST_DATA_ROW + 7: FIRST_DATA_ROW + 1},
        error_rows=error_rows,
        errors=errors,
        blank_rows=blank_rows,
    )


def write_customers_csv(path: Path, *, encoding: str = "gb18030") -> MessyFile:
    """The messy customer table as CSV: "gb18030" (what GBK tools write), "utf-8-sig" (Excel's
    "CSV UTF-8", with a byte-order mark) or "utf-8". The title line is the title then empty
    cells, as Excel writes a merged title cell."""
    path = Path(path)
    with path.open("w", encoding=encoding, newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow([TITLE] + [""] * (len(HEADERS) - 1))
        writer.writerow([])
        writer.writerow(HEADERS)
        for cells, _outcome, _fields in CUSTOMER_ROWS:
            writer.writerow(cells)
    return _customer_file(path)


def write_customers_xlsx(path: Path) -> MessyFile:
    """The messy customer table as XLSX: a merged title cell, a blank row, the header; phones
    that are all digits written as numbers (as Excel stores them), ISO dates written as date
    cells and the Excel-serial birthday as a plain number; the same outcomes as the CSV."""
    path = Path(path)
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("客户")
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    sheet.merge_range(0, 0, 0, len(HEADERS) - 1, TITLE)
    sheet.write_row(FIRST_DATA_ROW - 2, 0, HEADERS)
    for offset, (cells, _outcome, _fields) in enumerate(CUSTOMER_ROWS):
        row = FIRST_DATA_ROW - 1 + offset
        for column, value in enumerate(cells):
            if value == "":
                continue
            header = HEADERS[column]
            if header == "手机号码" and value.isascii() and value.isdigit():
                sheet.write_number(row, column, int(value))
            elif header in ("出生日期", "购车日期") and _is_iso_date(value):
                sheet.write_datetime(
                    row, column, datetime.datetime.fromisoformat(value), date_format
                )
            elif header == "出生日期" and value.isascii() and value.isdigit():
                sheet.write_number(row, column, int(value))
            else:
                sheet.write_string(row, column, value)
    workbook.close()
    return _customer_file(path)


def _is_iso_date(value: str) -> bool:
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return True


# --- Repair orders -----------------------------------------------------------------------------

RO_HEADERS = [
    "工单号", "车架号", "车牌号", "进厂日期", "结算日期", "进厂里程", "维修类型", "付费方",
    "工时费", "材料费", "合计", "服务顾问", "客户描述",
]  # fmt: skip
RO_MAPPING = {
    "ro_number": "工单号",
    "vin": "车架号",
    "plate": "车牌号",
    "opened_date": "进厂日期",
    "closed_date": "结算日期",
    "mileage": "进厂里程",
    "repair_kind": "维修类型",
    "payer": "付费方",
    "labour_amount": "工时费",
    "parts_amount": "材料费",
    "total_amount": "合计",
    "advisor_name": "服务顾问",
    "concern": "客户描述",
}
VIN_UNKNOWN = valid_vin(99)  # well formed, but no customer file has it

# Rows 2–12 (header on line 1). The cars are the customer file's (import it first).
REPAIR_ORDER_ROWS: list[tuple[list[str], str, tuple[str, ...]]] = [
    # row 2
    (["RO-001", VIN_1, "沪A12345", "2024-03-01", "2024-03-01", "15,000", "保养", "客户", "200",
      "350.5", "¥550.50", "王师傅", "常规保养"], "valid", ()),
    # row 3: a lower-case VIN, full-width mileage, km suffix
    (["RO-002", VIN_2.lower(), "", "2024/3/2", "2024/3/3", "２３,９９９ km", "维修", "保修", "0",
      "1200", "1200", "李师傅", "异响"], "valid", ()),
    # row 4: plate only (the customer file's 粤A88888 is VIN_3's)
    (["RO-003", "", "粤A88888", "20240303", "", "", "检测", "", "", "", "", "", ""], "valid", ()),
    # row 5: an exact copy of row 2
    (None, "duplicate", ()),
    # row 6: blank
    ([""] * len(RO_HEADERS), "blank", ()),
    # row 7: VIN with a wrong check digit
    (["RO-004", VIN_BAD_CHECK, "", "2024-03-04", "", "", "", "", "", "", "", "", ""], "error",
     ("vin",)),
    # row 8: impossible date in
    (["RO-005", VIN_1, "", "2024-02-30", "", "", "", "", "", "", "", "", ""], "error",
     ("opened_date",)),
    # row 9: neither VIN nor plate
    (["RO-006", "", "", "2024-03-05", "", "", "", "", "", "", "", "", ""], "error", ("vin",)),
    # row 10: no repair order number
    (["", VIN_1, "", "2024-03-05", "", "", "", "", "", "", "", "", ""], "error", ("ro_number",)),
    # row 11: three errors at once
    (["RO-007", VIN_1, "", "2024-03-05", "", "-5", "洗车", "", "", "", "abc", "", ""], "error",
     ("mileage", "repair_kind", "total_amount")),
    # row 12: clean, but the VIN is unknown to the dealer
    (["RO-008", VIN_UNKNOWN, "", "2024-03-06", "", "", "", "", "", "", "", "", ""], "unknown", ()),
]  # fmt: skip
REPAIR_ORDER_ROWS[3] = (REPAIR_ORDER_ROWS[0][0], "duplicate", ())


def write_repair_orders_csv(path: Path, *, encoding: str = "utf-8-sig") -> MessyFile:
    """Repair orders as a DMS exports them, header on line 1. 10 data rows: 3 valid (rows 2–4),
    1 exact duplicate (row 5 repeats row 2), a blank line (row 6, not counted), 5 rows in error
    at cleaning (rows 7–11: 7 errors, row 11 has three), and row 12, clean but with a VIN no
    vehicle has (`later_errors`). So clean_row passes 5 rows and refuses 5."""
    path = Path(path)
    with path.open("w", encoding=encoding, newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(RO_HEADERS)
        for cells, _outcome, _fields in REPAIR_ORDER_ROWS:
            writer.writerow(cells)
    errors: list[tuple[int, str]] = []
    error_rows: list[int] = []
    for offset, (_cells, outcome, fields) in enumerate(REPAIR_ORDER_ROWS):
        if outcome == "error":
            error_rows.append(2 + offset)
            errors.extend((2 + offset, f) for f in fields)
    return MessyFile(
        path=path,
        kind="repair_orders",
        header_row=0,
        headers=list(RO_HEADERS),
        mapping=dict(RO_MAPPING),
        data_rows=10,
        valid_rows=5,
        distinct_customers=0,
        vehicles=0,
        duplicate_rows={5: 2},
        error_rows=error_rows,
        errors=errors,
        blank_rows=[6],
        later_errors=[(12, "vin")],
    )


# --- Files that cannot be imported -------------------------------------------------------------


def write_empty(path: Path) -> Path:
    Path(path).write_bytes(b"")
    return Path(path)


def write_blank_lines(path: Path) -> Path:
    """Only blank lines and delimiters: as empty as a file with nothing in it."""
    Path(path).write_text("\n,,,\n\n", encoding="utf-8")
    return Path(path)


def write_header_only(path: Path, *, xlsx: bool = False) -> Path:
    path = Path(path)
    if xlsx:
        workbook = xlsxwriter.Workbook(str(path))
        workbook.add_worksheet("客户").write_row(0, 0, HEADERS)
        workbook.close()
    else:
        path.write_text(",".join(HEADERS) + "\r\n\r\n", encoding="utf-8-sig")
    return path


def write_no_header(path: Path) -> Path:
    """Only numbers: no line names the columns."""
    Path(path).write_text("1,2,3\n4,5,6\n7,8,9\n", encoding="utf-8")
    return Path(path)


def write_old_xls(path: Path) -> Path:
    """The first bytes of an Excel 97–2003 file (an OLE compound document)."""
    Path(path).write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)
    return Path(path)


def write_png(path: Path) -> Path:
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    return Path(path)


def write_zip_not_xlsx(path: Path) -> Path:
    """A zip archive (like a .docx) that is not a workbook."""
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    return Path(path)


def write_html_xls(path: Path) -> Path:
    """A web page named .xls, as some DMS "Excel exports" are."""
    Path(path).write_text(
        "<html><body><table><tr><td>姓名</td><td>手机</td></tr></table></body></html>",
        encoding="utf-8",
    )
    return Path(path)


# --- Large, clean files ------------------------------------------------------------------------


def generated_customer_row(n: int) -> list[str]:
    """The n-th row of a large clean customer-and-vehicle file (every row valid and distinct)."""
    # A distinct ID number per row: the birth date advances a day every 1,000 rows.
    birth = datetime.date(1960, 1, 1) + datetime.timedelta(days=n // 1000)
    body = f"310115{birth:%Y%m%d}{n % 1000:03d}"
    return [
        f"客户{n}", f"138{n:08d}", valid_id_number(body) if n % 3 == 0 else "",
        "男" if n % 2 else "女", "", "", "上海", "上海", f"浦东新区{n}号", valid_vin(n + 1000),
        "", "极光 S7", "2022-05-01", str(n % 90000),
    ]  # fmt: skip


def write_large_customers_csv(path: Path, rows: int, *, encoding: str = "utf-8") -> MessyFile:
    """`rows` valid, distinct customers each with a vehicle; header on the first line."""
    path = Path(path)
    with path.open("w", encoding=encoding, newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(HEADERS)
        writer.writerows(generated_customer_row(n) for n in range(rows))
    return MessyFile(
        path=path,
        kind="customers",
        header_row=0,
        headers=list(HEADERS),
        mapping=dict(MAPPING),
        data_rows=rows,
        valid_rows=rows,
        distinct_customers=rows,
        vehicles=rows,
    )
