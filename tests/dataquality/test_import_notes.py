"""Nothing is lost silently: a car model the catalogue does not know (or that could be several of
its models) imports the car without a model and keeps a note on the row, with its cells, in the
run's rows and its report; the counts still add up to the rows read. The catalogue match forgives
a model year written as DMS exports do ("2024款"), and never guesses between two models."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from dealercrm.core.permissions import Role
from dealercrm.core.tenancy import dealer_scope
from dealercrm.dataquality.models import ImportOutcome, ImportRowIssue
from dealercrm.dataquality.services.import_runs import import_error_report
from dealercrm.vehicles.models import Vehicle
from tests.dataquality.test_import_engine import assert_accounted, csv_bytes, run_file
from tests.vehicles.factories import CarModelFactory, make_vin

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

HEADERS = ["姓名", "手机", "车架号", "车型"]
KNOWN = "极光S7 DM-i 插混旗舰版"
UNKNOWN = "汉 EVX"


@pytest.fixture
def import_dir(tmp_path, settings):
    settings.IMPORT_DIR = tmp_path / "imports"
    return settings.IMPORT_DIR


@pytest.fixture
def s7_2024(db):
    CarModelFactory(make="极光", series="极光S7", name="DM-i 插混旗舰版", model_year=2023)
    return CarModelFactory(make="极光", series="极光S7", name="DM-i 插混旗舰版", model_year=2024)


def rows_with_models(*models: str) -> list[list[str]]:
    return [[f"客户{n}", f"1380013{n:04d}", make_vin(n), model] for n, model in enumerate(models)]


def model_of(dealer, n: int) -> int | None:
    with dealer_scope(dealer.pk):
        return Vehicle.objects.get(vin=make_vin(n)).car_model_id


def notes_of(dealer, run) -> list[ImportRowIssue]:
    with dealer_scope(dealer.pk):
        return list(
            ImportRowIssue.objects.filter(run=run).exclude(reason="").order_by("row_number")
        )


def test_an_unknown_model_imports_the_car_without_it_and_keeps_a_note_with_the_cells(
    dealer, import_dir, s7_2024
):
    rows = rows_with_models(KNOWN, UNKNOWN, "")

    run = run_file(dealer, csv_bytes(rows, headers=HEADERS))

    assert_accounted(run, 3)
    assert (run.created_count, run.updated_count, run.unchanged_count, run.error_count) == (
        3, 0, 0, 0
    )  # fmt: skip
    assert model_of(dealer, 0) == s7_2024.pk  # the latest model year of the model
    assert model_of(dealer, 1) is None
    [note] = notes_of(dealer, run)
    assert (note.row_number, note.outcome, note.field) == (3, ImportOutcome.CREATED, "car_model")
    assert note.reason == (
        "“汉 EVX” is not in the model catalogue: the car was imported without a model."
    )
    assert note.values == dict(zip(HEADERS, rows[1], strict=True))
    with dealer_scope(dealer.pk):
        car = Vehicle.objects.get(vin=make_vin(1))
    assert (note.customer_id, note.vehicle_id) == (car.owner_id, car.pk)


def test_the_same_file_again_keeps_the_note_once_per_row_as_unchanged(dealer, import_dir):
    data = csv_bytes(rows_with_models(UNKNOWN, UNKNOWN), headers=HEADERS)
    run_file(dealer, data)

    again = run_file(dealer, data)

    assert_accounted(again, 2)
    assert again.unchanged_count == 2
    with dealer_scope(dealer.pk):
        issues = list(ImportRowIssue.objects.filter(run=again).order_by("row_number"))
    # One issue row per row: the note carries the link, no second plain "unchanged" row.
    assert [(i.row_number, i.outcome, i.field) for i in issues] == [
        (2, ImportOutcome.UNCHANGED, "car_model"),
        (3, ImportOutcome.UNCHANGED, "car_model"),
    ]
    assert all(i.customer_id and i.vehicle_id for i in issues)


def test_a_car_that_has_its_model_gets_no_note_for_a_text_it_does_not_take(
    dealer, import_dir, s7_2024
):
    run_file(dealer, csv_bytes(rows_with_models(KNOWN), headers=HEADERS))

    again = run_file(dealer, csv_bytes(rows_with_models(UNKNOWN), headers=HEADERS))

    assert again.unchanged_count == 1  # the model is filled only when empty, as before
    assert notes_of(dealer, again) == []


@pytest.mark.parametrize(
    "text",
    [
        "极光S7 DM-i 插混旗舰版 2024款",
        "2024款 极光S7 DM-i 插混旗舰版",
        "24款极光S7 DM-i插混旗舰版",
        "极光S7 DM-i 插混旗舰版 2024年",
        "ＤＭ－ｉ 插混旗舰版 2024款",
    ],
)
def test_a_model_year_written_as_dms_exports_do_still_finds_the_model(
    dealer, import_dir, s7_2024, text
):
    run = run_file(dealer, csv_bytes(rows_with_models(text), headers=HEADERS))

    assert run.created_count == 1
    assert model_of(dealer, 0) == s7_2024.pk
    assert notes_of(dealer, run) == []


def test_a_model_year_the_catalogue_lacks_is_not_taken_for_another(dealer, import_dir, s7_2024):
    run = run_file(dealer, csv_bytes(rows_with_models("极光S7 DM-i 插混旗舰版 2021款"), HEADERS))

    assert model_of(dealer, 0) is None
    [note] = notes_of(dealer, run)
    assert "is not in the model catalogue" in note.reason


def test_a_text_two_models_answer_to_matches_neither(dealer, import_dir):
    CarModelFactory(make="极光", series="极光X5", name="插混版")
    x7 = CarModelFactory(make="极光", series="极光X7", name="插混版")

    run = run_file(dealer, csv_bytes(rows_with_models("插混版", "极光X7 插混版"), HEADERS))

    assert run.created_count == 2
    assert model_of(dealer, 0) is None
    assert model_of(dealer, 1) == x7.pk  # with its series it is one model
    [note] = notes_of(dealer, run)
    assert note.row_number == 2
    assert "“插混版” could be several models of the catalogue" in note.reason


def test_a_row_in_error_has_no_note_and_the_counts_add_up(dealer, import_dir):
    rows = [*rows_with_models(UNKNOWN), ["王五", "12345", make_vin(9), UNKNOWN]]

    run = run_file(dealer, csv_bytes(rows, headers=HEADERS))

    assert_accounted(run, 2)
    assert (run.created_count, run.error_count) == (1, 1)
    with dealer_scope(dealer.pk):
        outcomes = list(ImportRowIssue.objects.filter(run=run).values_list("row_number", "outcome"))
    assert sorted(outcomes) == [(2, ImportOutcome.CREATED), (3, ImportOutcome.ERROR)]


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_the_report_lists_the_notes_with_their_outcome_after_the_errors_of_earlier_rows(
    dealer, import_dir, file_format
):
    rows = [["王五", "12345", make_vin(9), ""], *rows_with_models(UNKNOWN)]
    run = run_file(dealer, csv_bytes(rows, headers=HEADERS))

    with dealer_scope(dealer.pk):
        _name, _type, content = import_error_report(run=run, file_format=file_format)
        data = b"".join(content)
    if file_format == "csv":
        lines = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    else:
        from python_calamine import CalamineWorkbook

        sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0)
        lines = [
            [str(int(c)) if isinstance(c, float) else str(c) for c in line]
            for line in sheet.to_python()
        ]

    assert lines[0] == ["Row", "Outcome", "Field", "Reason", *HEADERS]
    assert [line[:3] for line in lines[1:]] == [
        ["2", "Not imported", "Phone"],
        ["3", "Created", "Model"],
    ]
    assert "without a model" in lines[2][3]
    assert lines[2][4:] == rows[1]


def test_a_note_cannot_run_as_a_formula_in_the_report(dealer, import_dir):
    rows = rows_with_models("=HYPERLINK(1)")
    run = run_file(dealer, csv_bytes(rows, headers=HEADERS))

    with dealer_scope(dealer.pk):
        _name, _type, content = import_error_report(run=run, file_format="csv")
        text = b"".join(content).decode("utf-8-sig")

    [_heading, line] = list(csv.reader(io.StringIO(text)))
    assert line[7] == "'=HYPERLINK(1)"  # the cell as read, neutralised


# --- the pages ----------------------------------------------------------------------------------


@pytest.fixture
def signed_in(client_for, make_user, import_dir):
    return client_for(make_user(Role.DEALER_MANAGER, language="en"))


def test_the_run_page_says_how_many_rows_have_notes_and_links_them(
    signed_in, dealer, django_assert_max_num_queries
):
    run = run_file(dealer, csv_bytes(rows_with_models(UNKNOWN, UNKNOWN, ""), headers=HEADERS))

    with django_assert_max_num_queries(8):
        page = signed_in.get(reverse("dataquality:import_detail", args=[run.pk]))

    body = page.content.decode()
    assert 'data-notes="2"' in body
    assert "2 rows imported with notes" in body
    rows_url = reverse("dataquality:import_rows", args=[run.pk])
    assert f'href="{rows_url}?notes=1"' in body
    assert "Report of the notes (CSV)" in body  # no errors: the report is of the notes


def test_a_run_without_notes_says_nothing_about_them(signed_in, dealer):
    run = run_file(dealer, csv_bytes(rows_with_models(""), headers=HEADERS))

    body = signed_in.get(reverse("dataquality:import_detail", args=[run.pk])).content.decode()

    assert "data-notes=" not in body and "data-notes-rows" not in body


def test_the_rows_page_filters_the_notes(signed_in, dealer):
    data = csv_bytes(rows_with_models(UNKNOWN, ""), headers=HEADERS)
    run_file(dealer, data)
    again = run_file(dealer, data)  # row 2 unchanged with its note, row 3 unchanged

    notes = signed_in.get(reverse("dataquality:import_rows", args=[again.pk]), {"notes": "1"})
    everything = signed_in.get(reverse("dataquality:import_rows", args=[again.pk]))

    body = notes.content.decode()
    assert body.count("data-issue-row=") == 1
    assert 'data-issue-row="2"' in body and "data-note" in body
    assert "汉 EVX" in body  # the reason, and the cells as read
    assert everything.content.decode().count("data-issue-row=") == 2
