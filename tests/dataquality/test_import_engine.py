"""The import engine (issue 7, points 1–2): every row ends created, merged, unchanged or in the
error report; the same file twice creates nothing new; one bad row never stops the file; the
database work per batch is a constant number of queries; a run writes only to its dealer."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from dealercrm.core.tenancy import dealer_scope
from dealercrm.customers.id_numbers import hash_id_number
from dealercrm.customers.models import Customer, CustomerPhone, Gender, SourceChannel
from dealercrm.dataquality.models import (
    ImportMapping,
    ImportOutcome,
    ImportRowIssue,
    ImportRun,
    ImportStatus,
)
from dealercrm.dataquality.services import import_engine
from dealercrm.dataquality.services.import_runs import (
    import_error_report,
    import_run_create,
    import_run_map,
    import_run_start,
)
from dealercrm.search.models import KeyKind, SearchKey
from dealercrm.vehicles.models import MileageReading, Vehicle, VehicleOwnership
from tests.customers.factories import CustomerFactory, CustomerPhoneFactory, valid_id_number
from tests.dataquality import messy_files
from tests.vehicles.factories import VehicleFactory, make_plate, make_vin

HEADERS = [
    "姓名",
    "手机",
    "身份证号",
    "性别",
    "省份",
    "城市",
    "车架号",
    "车牌号",
    "购车日期",
    "里程",
]


def csv_bytes(rows: list[list[str]], headers: list[str] = HEADERS) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def id_of(n: int) -> str:
    return valid_id_number(n % 1000, birth=f"19{70 + n // 1000:02d}0307")


def good_rows(count: int, *, start: int = 0) -> list[list[str]]:
    """`count` distinct valid customers, each with a car."""
    return [
        [
            f"客户{n}",
            f"1380013{n:04d}",
            id_of(n),
            "男",
            "广东",
            "深圳",
            make_vin(n),
            make_plate("沪A", n),
            "2023/5/1",
            "12,345",
        ]
        for n in range(start, start + count)
    ]


@pytest.fixture
def import_dir(tmp_path, settings):
    settings.IMPORT_DIR = tmp_path / "imports"
    return settings.IMPORT_DIR


def run_file(
    dealer,
    data: bytes,
    *,
    actor=None,
    kind: str = "customers",
    batch_size: int | None = None,
    filename: str = "customers.csv",
    worker: bool = False,
) -> ImportRun:
    """Upload, map (the guess), start without the queue, execute in this process."""
    with dealer_scope(dealer.pk):
        run = import_run_create(
            actor=actor, dealer_id=dealer.pk, kind=kind, file=io.BytesIO(data), filename=filename
        )
        run = import_run_map(actor=actor, run=run, mapping=run.mapping)
        run = import_run_start(actor=actor, run=run, enqueue=False)
    return import_engine.execute(
        run.pk, batch_size=batch_size or import_engine.BATCH_SIZE, worker=worker
    )


@pytest.fixture
def messy_catalogue(db):
    """The messy file's car models in the catalogue: its valid rows import without notes."""
    messy_files.add_models_to_catalogue()


def assert_accounted(run: ImportRun, rows: int) -> None:
    assert run.status == ImportStatus.DONE, run.failure
    assert run.processed_rows == rows
    assert run.created_count + run.updated_count + run.unchanged_count + run.error_count == rows


def table_counts(dealer) -> dict[str, int]:
    with dealer_scope(dealer.pk):
        return {
            "customers": Customer.objects.count(),
            "phones": CustomerPhone.objects.count(),
            "vehicles": Vehicle.objects.count(),
            "ownerships": VehicleOwnership.objects.count(),
            "keys": SearchKey.objects.count(),
            "readings": MileageReading.objects.count(),
        }


@pytest.mark.django_db
def test_a_clean_file_creates_customers_cars_phones_and_search_keys(dealer, import_dir):
    run = run_file(dealer, csv_bytes(good_rows(3)))

    assert_accounted(run, 3)
    assert run.created_count == 3
    with dealer_scope(dealer.pk):
        customer = Customer.objects.get(name="客户1")
        assert customer.gender == Gender.MALE
        assert customer.province == "广东省"
        assert customer.city == "深圳市"
        assert customer.source_channel == SourceChannel.IMPORT
        assert customer.id_number_hash == hash_id_number(id_of(1))
        assert customer.id_number_masked.endswith(id_of(1)[-4:])
        assert customer.birthday.isoformat() == "1970-03-07"  # read from the ID number
        assert list(customer.phones.values_list("number", "is_primary")) == [
            ("+8613800130001", True)
        ]
        vehicle = Vehicle.objects.get(owner=customer)
        assert vehicle.vin == make_vin(1)
        assert vehicle.current_mileage_km == 12345
        assert vehicle.purchase_date.isoformat() == "2023-05-01"
        assert VehicleOwnership.objects.get(vehicle=vehicle).customer_id == customer.pk
        assert MileageReading.objects.get(vehicle=vehicle).km == 12345
        kinds = set(SearchKey.objects.filter(customer=customer).values_list("kind", flat=True))
    assert {KeyKind.NAME, KeyKind.PINYIN, KeyKind.PHONE, KeyKind.ID_HASH, KeyKind.VIN} <= kinds
    assert {KeyKind.PLATE} <= kinds


@pytest.mark.django_db
def test_importing_the_same_file_again_creates_nothing_new(dealer, import_dir):
    data = csv_bytes(good_rows(40))
    first = run_file(dealer, data, batch_size=16)
    before = table_counts(dealer)

    again = run_file(dealer, data, batch_size=16)

    assert first.created_count == 40
    assert_accounted(again, 40)
    assert again.created_count == 0
    assert again.unchanged_count == 40
    assert table_counts(dealer) == before
    with dealer_scope(dealer.pk):
        linked = ImportRowIssue.objects.filter(run=again, outcome=ImportOutcome.UNCHANGED)
        assert linked.count() == 40
        assert set(linked.values_list("customer_id", flat=True)) == set(
            Customer.objects.values_list("id", flat=True)
        )
        assert not linked.filter(vehicle_id__isnull=True).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("writer", ["csv-gb18030", "csv-utf-8-sig", "xlsx"])
def test_the_messy_file_imports_with_exact_counts(
    dealer, import_dir, tmp_path, writer, messy_catalogue
):
    if writer == "xlsx":
        messy = messy_files.write_customers_xlsx(tmp_path / "messy.xlsx")
    else:
        messy = messy_files.write_customers_csv(
            tmp_path / "messy.csv", encoding=writer.removeprefix("csv-")
        )

    run = run_file(dealer, messy.path.read_bytes(), filename=messy.path.name)

    assert run.mapping == messy.mapping
    assert_accounted(run, messy.data_rows)  # 17: the blank line is not a row
    assert run.total_rows == messy.data_rows
    assert run.created_count == messy.distinct_customers  # 6
    assert run.updated_count == 1  # row 11 brings row 5's customer an e-mail address
    assert run.unchanged_count == 1  # row 10 repeats row 4
    assert run.error_count == messy.error_count  # 9
    with dealer_scope(dealer.pk):
        assert Customer.objects.count() == messy.distinct_customers
        assert Vehicle.objects.count() == messy.vehicles
        errors = ImportRowIssue.objects.filter(run=run, outcome=ImportOutcome.ERROR)
        assert sorted(errors.values_list("row_number", "field")) == sorted(messy.errors)
        assert all(errors.values_list("reason", flat=True))
        row_13 = errors.get(row_number=13)
        assert row_13.values["客户姓名"] == "周八"
        matched = dict(
            ImportRowIssue.objects.filter(run=run)
            .exclude(outcome=ImportOutcome.ERROR)
            .values_list("row_number", "outcome")
        )
        assert matched == {10: ImportOutcome.UNCHANGED, 11: ImportOutcome.UPDATED}
        zhang = Customer.objects.get(name="张三")
        assert ImportRowIssue.objects.get(run=run, row_number=10).customer_id == zhang.pk
        li = Customer.objects.get(name="李四")
        assert li.email == "lisi@example.com"  # filled by row 11
        assert li.phones.get().number == "+8613912345678"  # full-width digits, one phone
        chen = Customer.objects.get(name="陈 七")  # stray spaces trimmed and collapsed
        assert chen.phones.get().label == "home"  # a landline
        assert Customer.objects.get(name="Li Na").province == "内蒙古自治区"


@pytest.mark.django_db
def test_the_messy_file_again_creates_nothing_and_updates_nothing(
    dealer, import_dir, tmp_path, messy_catalogue
):
    messy = messy_files.write_customers_csv(tmp_path / "messy.csv")
    run_file(dealer, messy.path.read_bytes())
    before = table_counts(dealer)

    again = run_file(dealer, messy.path.read_bytes())

    assert_accounted(again, messy.data_rows)
    assert again.created_count == 0
    assert again.updated_count == 0
    assert again.unchanged_count == messy.valid_rows  # 8
    assert again.error_count == messy.error_count
    assert table_counts(dealer) == before


@pytest.mark.django_db
def test_matching_existing_customers_fills_empty_fields_and_adds_cars(dealer, import_dir):
    with dealer_scope(dealer.pk):
        # By ID number (whatever the phone), by phone and name, and a name that differs.
        by_id = CustomerFactory(dealer=dealer, name="客户0", id_number=id_of(0), email="")
        by_phone = CustomerFactory(dealer=dealer, name="客户1", province="", gender="unknown")
        CustomerPhoneFactory(customer=by_phone, number="+8613800130001")
        family = CustomerFactory(dealer=dealer, name="家人")
        CustomerPhoneFactory(customer=family, number="+8613800130002")
    rows = good_rows(3)
    rows[0][1] = "13999999999"  # another phone: added to the customer found by ID number

    run = run_file(dealer, csv_bytes(rows))

    assert_accounted(run, 3)
    assert (run.created_count, run.updated_count, run.unchanged_count) == (1, 2, 0)
    with dealer_scope(dealer.pk):
        by_id.refresh_from_db()
        assert set(by_id.phones.values_list("number", flat=True)) == {"+8613999999999"}
        assert Vehicle.objects.get(owner=by_id).vin == make_vin(0)
        by_phone.refresh_from_db()
        assert by_phone.province == "广东省"  # was empty
        assert by_phone.gender == Gender.MALE  # was unknown
        assert by_phone.id_number_hash == hash_id_number(id_of(1))  # was empty
        assert by_phone.version == 2
        # The family member sharing the phone is not 客户2: a new customer has it too.
        new = Customer.objects.get(name="客户2")
        assert new.phones.get().number == "+8613800130002"
        assert family.phones.count() == 1
        # Search finds the changed customers by what the file added.
        assert SearchKey.objects.filter(
            customer=by_id, kind=KeyKind.PHONE, term="13999999999"
        ).exists()
        assert SearchKey.objects.filter(customer=by_phone, kind=KeyKind.VIN).exists()


@pytest.mark.django_db
def test_a_vin_of_another_customers_car_is_an_error_row(dealer, import_dir):
    with dealer_scope(dealer.pk):
        VehicleFactory(dealer=dealer, vin=make_vin(1))
    run = run_file(dealer, csv_bytes(good_rows(3)))

    assert_accounted(run, 3)
    assert (run.created_count, run.error_count) == (2, 1)
    with dealer_scope(dealer.pk):
        issue = ImportRowIssue.objects.get(run=run, outcome=ImportOutcome.ERROR)
        assert (issue.row_number, issue.field) == (3, "vin")
        assert not Customer.objects.filter(name="客户1").exists()


@pytest.mark.django_db
def test_a_bulk_insert_the_database_refuses_falls_back_to_row_by_row(
    dealer, import_dir, monkeypatch, english
):
    """The bulk path's own error (here the unique VIN of a car the look-up missed) reaches the
    engine as Django's IntegrityError, so only the colliding row is an error."""
    from dealercrm.dataquality.services import import_writers

    with dealer_scope(dealer.pk):
        Vehicle.objects.create(dealer=dealer, vin=make_vin(2))
    writer = import_writers.WRITERS["customers"]
    real_look_up = writer._look_up

    def look_up_missing_cars(ctx, rows):
        found = real_look_up(ctx, rows)
        found["vehicles"] = {}
        return found

    monkeypatch.setattr(writer, "_look_up", look_up_missing_cars)
    run = run_file(dealer, csv_bytes(good_rows(4)))

    assert run.status == ImportStatus.DONE
    assert_accounted(run, 4)
    assert (run.created_count, run.error_count) == (3, 1)
    with dealer_scope(dealer.pk):
        issue = ImportRowIssue.objects.get(run=run, outcome=ImportOutcome.ERROR)
        assert issue.row_number == 4
        assert issue.reason.startswith("The database refused this row: ")
        assert not Customer.objects.filter(name="客户2").exists()


@pytest.mark.django_db
def test_a_row_the_database_refuses_is_an_error_and_the_rest_imports(
    dealer, import_dir, monkeypatch, english
):
    """One bad row never aborts the file: when the batch's insert fails on a constraint, the
    batch is written row by row and only the refused row becomes an error."""
    from dealercrm.dataquality.services import import_writers

    writer = import_writers.WRITERS["customers"]
    real_write = writer.write_batch

    def write_then_collide(ctx, rows):
        outcomes = real_write(ctx, rows)
        # A user saved a car with row 3's VIN meanwhile, under another id: the insert of the
        # same VIN (the batch's own) collides with it on the unique (dealer, vin) constraint.
        if any(r.row_number == 3 for r in rows):
            Vehicle.objects.create(dealer_id=ctx.dealer_id, vin=make_vin(1))
        return outcomes

    monkeypatch.setattr(writer, "write_batch", write_then_collide)
    run = run_file(dealer, csv_bytes(good_rows(4)))

    assert_accounted(run, 4)
    assert (run.created_count, run.error_count) == (3, 1)
    with dealer_scope(dealer.pk):
        issue = ImportRowIssue.objects.get(run=run, outcome=ImportOutcome.ERROR)
        assert issue.row_number == 3
        assert issue.reason.startswith("The database refused this row: ")
        assert Customer.objects.count() == 3
        assert issue.values["姓名"] == "客户1"


# The run's own statements: read it, claim it, re-read it, finish, re-read; on SQLite six more
# for the page cache and checkpoint settings (read two, set two, restore two).
FIXED_QUERIES = 11
# Per batch: claim, 3 look-ups (ID hash, phone, VIN), 2 id reservations, the counters, and the
# savepoints around the batch. The inserts are one executemany / COPY per table, which Django
# does not log; they are one statement per table by construction (BulkWriter.write).
QUERIES_PER_BATCH = 11


@pytest.mark.django_db
@pytest.mark.parametrize(("batch_size", "batches"), [(5, 8), (20, 2)])
def test_the_queries_per_batch_do_not_grow_with_the_batch(
    dealer, import_dir, django_assert_max_num_queries, batch_size, batches
):
    data = csv_bytes(good_rows(40))
    with dealer_scope(dealer.pk):
        run = import_run_create(
            actor=None,
            dealer_id=dealer.pk,
            kind="customers",
            file=io.BytesIO(data),
            filename="c.csv",
        )
        run = import_run_map(actor=None, run=run, mapping=run.mapping)
        import_run_start(actor=None, run=run, enqueue=False)

    with django_assert_max_num_queries(FIXED_QUERIES + batches * QUERIES_PER_BATCH):
        run = import_engine.execute(run.pk, batch_size=batch_size, worker=False)

    assert_accounted(run, 40)
    assert run.created_count == 40


@pytest.mark.django_db
def test_a_run_writes_only_to_its_own_dealer(dealer, other_dealer, import_dir):
    # The other dealer has the same customer (phone, ID number) and the same car.
    with dealer_scope(other_dealer.pk):
        theirs = CustomerFactory(dealer=other_dealer, name="客户0", id_number=id_of(0))
        CustomerPhoneFactory(customer=theirs, number="+8613800130000")
        VehicleFactory(dealer=other_dealer, vin=make_vin(0), owner=theirs)
    before = table_counts(other_dealer)

    run = run_file(dealer, csv_bytes(good_rows(2)))

    assert run.created_count == 2  # not matched to the other dealer's records
    assert table_counts(other_dealer) == before
    with dealer_scope(dealer.pk):
        assert Customer.objects.count() == 2
        assert set(ImportRowIssue.objects.values_list("dealer_id", flat=True)) <= {dealer.pk}
    with dealer_scope(other_dealer.pk):
        assert not ImportRun.objects.exists()


@pytest.mark.django_db
def test_importing_into_another_dealer_is_refused(dealer, other_dealer, import_dir):
    with dealer_scope(dealer.pk), pytest.raises(PermissionDenied):
        import_run_create(
            actor=None,
            dealer_id=other_dealer.pk,
            kind="customers",
            file=io.BytesIO(csv_bytes(good_rows(1))),
            filename="c.csv",
        )


@pytest.mark.django_db
def test_the_worker_process_gives_the_same_result(dealer, import_dir):
    data = csv_bytes(good_rows(30))
    with dealer_scope(dealer.pk):
        run = import_run_create(
            actor=None,
            dealer_id=dealer.pk,
            kind="customers",
            file=io.BytesIO(data),
            filename="c.csv",
        )
        run = import_run_map(actor=None, run=run, mapping=run.mapping)
        import_run_start(actor=None, run=run, enqueue=False)
    seen: list[tuple[int, int]] = []

    run = import_engine.execute(
        run.pk, batch_size=7, worker=True, progress=lambda done, total: seen.append((done, total))
    )

    assert_accounted(run, 30)
    assert run.created_count == 30
    assert table_counts(dealer)["vehicles"] == 30
    # Progress after each committed batch, against the rows counted up front.
    assert seen == [(0, 30), (7, 30), (14, 30), (21, 30), (28, 30), (30, 30)]
    assert run.heartbeat_at is not None and run.finished_at is not None


@pytest.mark.django_db
def test_bad_uploads_are_refused_and_nothing_is_kept(dealer, import_dir, tmp_path):
    cases = {
        "empty": messy_files.write_empty(tmp_path / "empty.csv"),
        "header only": messy_files.write_header_only(tmp_path / "header.csv"),
        "not a spreadsheet": messy_files.write_png(tmp_path / "image.csv"),
    }
    for label, path in cases.items():
        with dealer_scope(dealer.pk), pytest.raises(ValidationError) as caught:
            import_run_create(
                actor=None,
                dealer_id=dealer.pk,
                kind="customers",
                file=path,
                filename=path.name,
            )
        assert "file" in caught.value.message_dict, label
    with dealer_scope(dealer.pk):
        assert not ImportRun.objects.exists()
    assert not any(p.is_file() for p in import_dir.rglob("*"))


@pytest.mark.django_db
def test_a_too_large_upload_names_its_size_and_the_limit_and_points_to_the_cli(
    dealer, import_dir, english
):
    data = csv_bytes(good_rows(50))
    with dealer_scope(dealer.pk), pytest.raises(ValidationError) as caught:
        import_run_create(
            actor=None,
            dealer_id=dealer.pk,
            kind="customers",
            file=io.BytesIO(data),
            filename="c.csv",
            max_bytes=1024,
        )
    (message,) = caught.value.message_dict["file"]
    assert "0.0 MB" in message and "dealercrm import" in message
    with dealer_scope(dealer.pk):
        assert not ImportRun.objects.exists()
    assert not any(p.is_file() for p in import_dir.rglob("*"))


@pytest.mark.django_db
def test_a_mapping_missing_a_required_field_is_refused_naming_it(dealer, import_dir, english):
    with dealer_scope(dealer.pk):
        run = import_run_create(
            actor=None,
            dealer_id=dealer.pk,
            kind="customers",
            file=io.BytesIO(csv_bytes(good_rows(1))),
            filename="c.csv",
        )
        with pytest.raises(ValidationError) as caught:
            import_run_map(actor=None, run=run, mapping={"phone": "手机", "vin": "没有这列"})
    messages = " ".join(caught.value.message_dict["mapping"])
    assert "Name is required" in messages
    assert "没有这列" in messages


@pytest.mark.django_db
def test_a_saved_mapping_maps_the_next_file_of_its_source(dealer, import_dir):
    headers = ["客户", "电话号码 (必填)", "VIN码", "备注"]
    data = csv_bytes([["客户9", "13800138009", make_vin(9), "x"]], headers=headers)
    with dealer_scope(dealer.pk):
        run = import_run_create(
            actor=None,
            dealer_id=dealer.pk,
            kind="customers",
            file=io.BytesIO(data),
            filename="a.csv",
        )
        mapping = {"name": "客户", "phone": "电话号码 (必填)", "vin": "VIN码"}
        import_run_map(actor=None, run=run, mapping=mapping, save_as="DMS 客户导出")
        assert ImportMapping.objects.get(source="DMS 客户导出").columns == mapping
        second = import_run_create(
            actor=None,
            dealer_id=dealer.pk,
            kind="customers",
            file=io.BytesIO(data),
            filename="b.csv",
        )
    assert second.mapping == mapping
    assert second.source == "DMS 客户导出"


@pytest.mark.django_db
@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_the_error_report_gives_row_field_reason_and_the_cells(
    dealer, import_dir, tmp_path, english, file_format, messy_catalogue
):
    messy = messy_files.write_customers_csv(tmp_path / "messy.csv")
    rows = messy_files.CUSTOMER_ROWS
    run = run_file(dealer, messy.path.read_bytes())
    with dealer_scope(dealer.pk):
        filename, content_type, content = import_error_report(run=run, file_format=file_format)
        data = b"".join(content)
    assert filename.endswith(f".{file_format}")
    if file_format == "csv":
        assert data.startswith("\ufeff".encode())
        lines = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    else:
        from python_calamine import CalamineWorkbook

        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        lines = [
            [str(int(c)) if isinstance(c, float) else str(c) for c in line]
            for line in book.get_sheet_by_index(0).to_python()
        ]
    assert lines[0][:4] == ["Row", "Outcome", "Field", "Reason"]
    assert lines[0][4:] == messy.headers
    body = lines[1:]
    assert [(int(line[0])) for line in body] == [row for row, _field in sorted(messy.errors)]
    row_13 = next(line for line in body if line[0] == "13")
    assert row_13[1:3] == ["Not imported", "Phone"]
    assert row_13[4:] == rows[13 - messy_files.FIRST_DATA_ROW][0]


@pytest.mark.django_db
def test_error_report_cells_cannot_run_as_formulas(dealer, import_dir):
    rows = [['=HYPERLINK("http://x")', "123", "", "", "", "", "", "", "", ""]]
    run = run_file(dealer, csv_bytes(rows))
    assert run.error_count == 1
    with dealer_scope(dealer.pk):
        _name, _type, content = import_error_report(run=run, file_format="csv")
        text = b"".join(content).decode("utf-8-sig")
    assert "'=HYPERLINK" in text


@pytest.mark.django_db
def test_a_vehicles_file_adds_cars_to_the_customers_it_finds(dealer, import_dir):
    with dealer_scope(dealer.pk):
        owner = CustomerFactory(dealer=dealer, name="车主甲")
        CustomerPhoneFactory(customer=owner, number="+8613700000001")
    headers = ["车架号", "车主手机", "车主姓名", "车牌号", "保险到期"]
    rows = [
        [make_vin(1), "13700000001", "", make_plate("沪A", 1), "2025-06-30"],  # found by phone
        [make_vin(2), "13700000002", "", "", ""],  # nobody has this phone, no name: error
        [make_vin(3), "13700000003", "车主乙", "", ""],  # not found, but named: created
        [make_vin(1), "13700000001", "", "", "2026-06-30"],  # the first car again, later cover
    ]

    run = run_file(dealer, csv_bytes(rows, headers=headers), kind="vehicles")

    assert_accounted(run, 4)
    assert (run.created_count, run.updated_count, run.error_count) == (1, 2, 1)
    with dealer_scope(dealer.pk):
        car = Vehicle.objects.get(vin=make_vin(1))
        assert car.owner_id == owner.pk
        assert car.insurance_expiry.isoformat() == "2026-06-30"  # the later date wins
        assert Vehicle.objects.get(vin=make_vin(3)).owner.name == "车主乙"
        error = ImportRowIssue.objects.get(run=run, outcome=ImportOutcome.ERROR)
        assert (error.row_number, error.field) == (3, "phone")


@pytest.mark.django_db
def test_a_car_whose_owner_was_deleted_goes_to_the_rows_customer(dealer, import_dir):
    with dealer_scope(dealer.pk):
        gone = CustomerFactory(dealer=dealer, name="旧车主", is_deleted=True)
        car = VehicleFactory(dealer=dealer, vin=make_vin(0), owner=gone)  # (and its ownership)

    run = run_file(dealer, csv_bytes(good_rows(1)))

    assert_accounted(run, 1)
    assert run.created_count == 1
    with dealer_scope(dealer.pk):
        car.refresh_from_db()
        assert car.owner.name == "客户0"
        current = VehicleOwnership.objects.get(vehicle=car, ended_on__isnull=True)
        assert current.customer_id == car.owner_id
        assert VehicleOwnership.objects.filter(vehicle=car).count() == 2


@pytest.mark.django_db
def test_a_run_leaves_the_connections_sqlite_settings_as_it_found_them(dealer, import_dir):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's page cache and checkpoint settings")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        (cache_before,) = cursor.fetchone()
        cursor.execute("PRAGMA wal_autocheckpoint = 777")  # not the default: restored as found
    run = run_file(dealer, csv_bytes(good_rows(3)))
    assert run.created_count == 3
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        assert cursor.fetchone()[0] == cache_before
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone()[0] == 777
        cursor.execute("PRAGMA wal_autocheckpoint = 1000")
