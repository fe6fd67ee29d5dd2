"""`dealercrm import` (issue 7, point 1): a file of any size from the command line, with a
progress bar, the counts at the end and the error report's path; exit status 1 for a file that
is refused."""

from __future__ import annotations

import csv
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from dealercrm.core.tenancy import dealer_scope
from dealercrm.customers.models import Customer
from dealercrm.dataquality.models import ImportMapping, ImportRun, ImportStatus
from tests.core.factories import UserFactory
from tests.dataquality import messy_files
from tests.dataquality.test_import_engine import csv_bytes, good_rows
from tests.messaging.test_outbox_processes import WorkerDatabase
from tests.vehicles.factories import make_vin


@pytest.fixture
def import_dir(tmp_path, settings):
    settings.IMPORT_DIR = tmp_path / "imports"
    return settings.IMPORT_DIR


@pytest.fixture(autouse=True)
def _english():
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.mark.django_db
def test_the_messy_file_imports_and_the_error_report_is_written(
    dealer, import_dir, tmp_path, capsys
):
    messy_files.add_models_to_catalogue()  # its valid rows import without notes
    messy = messy_files.write_customers_csv(tmp_path / "messy.csv")
    user = UserFactory(dealer=dealer, username="importer")

    call_command("import", str(messy.path), "--kind=customers", f"--dealer={dealer.code}",
                 "--user=importer")  # fmt: skip

    out = capsys.readouterr().out
    with dealer_scope(dealer.pk):
        run = ImportRun.objects.get()
    assert run.status == ImportStatus.DONE
    assert run.created_by_id == user.pk
    assert (run.created_count, run.updated_count, run.unchanged_count, run.error_count) == (
        6, 1, 1, 9
    )  # fmt: skip
    assert "17 rows read" in out
    assert "6 created" in out and "9 not imported" in out
    report = out.split("Error report:")[1].split()[0]
    lines = list(csv.reader(open(report, encoding="utf-8-sig")))  # noqa: PTH123, SIM115
    assert len(lines) == 1 + len(messy.errors)
    assert lines[0][:4] == ["Row", "Outcome", "Field", "Reason"]


@pytest.mark.django_db
def test_rows_imported_with_notes_are_counted_and_reported(dealer, import_dir, tmp_path, capsys):
    # Without its models in the catalogue, the messy file's cars import without a model: notes.
    messy = messy_files.write_customers_csv(tmp_path / "messy.csv")

    call_command("import", str(messy.path), "--kind=customers", f"--dealer={dealer.code}")

    out = capsys.readouterr().out
    assert "rows imported with notes" in out or "row imported with notes" in out
    report = out.split("Error report:")[1].split()[0]
    lines = list(csv.reader(open(report, encoding="utf-8-sig")))  # noqa: PTH123, SIM115
    assert any(line[2] == "Model" and "not in the model catalogue" in line[3] for line in lines[1:])


@pytest.mark.django_db
def test_a_refused_file_is_a_command_error_and_nothing_is_kept(dealer, import_dir, tmp_path):
    path = messy_files.write_header_only(tmp_path / "header.csv")
    with pytest.raises(CommandError) as caught:
        call_command("import", str(path), "--kind=customers", f"--dealer={dealer.pk}")
    assert "header" in str(caught.value).lower() or str(caught.value)
    with dealer_scope(dealer.pk):
        assert not ImportRun.objects.exists()


@pytest.mark.django_db
def test_an_unknown_dealer_or_missing_file_is_a_command_error(dealer, import_dir, tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes(csv_bytes(good_rows(1)))
    with pytest.raises(CommandError, match="No dealer"):
        call_command("import", str(path), "--dealer=nope")
    with pytest.raises(CommandError, match="no file"):
        call_command("import", str(tmp_path / "x.csv"), f"--dealer={dealer.code}")


@pytest.mark.django_db
def test_columns_mapped_by_hand_and_saved_then_used_by_name(dealer, import_dir, tmp_path):
    headers = ["客户", "号码X", "车辆码", "备注"]
    path = tmp_path / "odd.csv"
    path.write_bytes(csv_bytes([["客户7", "13800138007", make_vin(7), "x"]], headers=headers))

    call_command(
        "import", str(path), f"--dealer={dealer.code}", "--map=name=客户", "--map=phone=号码X",
        "--map=vin=车辆码", "--save-mapping=老DMS",
    )  # fmt: skip
    with dealer_scope(dealer.pk):
        saved = ImportMapping.objects.get(source="老DMS")
        assert saved.columns == {"name": "客户", "phone": "号码X", "vin": "车辆码"}
        assert Customer.objects.get().name == "客户7"

    call_command("import", str(path), f"--dealer={dealer.code}", "--mapping=老DMS")
    with dealer_scope(dealer.pk):
        second = ImportRun.objects.order_by("-pk").first()
        assert second.source == "老DMS"
        assert second.unchanged_count == 1
        assert Customer.objects.count() == 1


@pytest.mark.django_db
def test_a_mapping_missing_a_required_column_is_a_command_error(dealer, import_dir, tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes(csv_bytes(good_rows(2)))
    with pytest.raises(CommandError, match="Name is required"):
        call_command("import", str(path), f"--dealer={dealer.code}", "--map=name=")


@pytest.mark.django_db(transaction=True)
def test_the_exit_status_is_0_for_an_import_and_1_for_a_refused_file(dealer, import_dir, tmp_path):
    worker_db = WorkerDatabase(tmp_path)
    good = tmp_path / "good.csv"
    good.write_bytes(csv_bytes(good_rows(3) + [["", "1", "", "", "", "", "", "", "", ""]]))
    refused = messy_files.write_png(tmp_path / "image.csv")
    worker_db.push()

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(  # noqa: S603 — our own interpreter and command
            [sys.executable, "-m", "dealercrm", "import", *args, f"--dealer={dealer.code}"],
            cwd=settings.BASE_DIR,
            env=worker_db.env(IMPORT_DIR=str(import_dir), LANGUAGE="en"),
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    imported = run(str(good))
    assert imported.returncode == 0, imported.stderr
    assert "Error report" in imported.stdout or "错误" in imported.stdout
    assert run(str(refused)).returncode == 1
    worker_db.pull()
    with dealer_scope(dealer.pk):
        assert ImportRun.objects.count() == 1
        assert Customer.objects.count() == 3
