"""The same import through django-import-export, side by side with the import engine.

    uv run python benchmarks/import_django_import_export.py --rows 100000 --db sqlite
    uv run python benchmarks/import_django_import_export.py --rows 100000 --db postgresql --bulk

The 100,000-row file of benchmarks/import_files.py, imported as a typical user of
django-import-export would write it: a ModelResource for Customer mapping the Chinese headers,
the phone validated with the foundation's `normalise_phone` (an invalid one is the row's
error), the customer found by that phone (so a repeated customer is updated, not duplicated),
and the phone kept as a related CustomerPhone after the customer is saved. It does less than the
engine: no vehicle, no ID number (encryption, hash), no search keys, no error report. `--bulk`
uses the library's documented bulk mode (`use_bulk = True`, `batch_size`): the customers are
bulk-created per batch and the resource adds the batch's phones right after (bulk mode calls
`after_save_instance` before the rows exist, so the phones go in an overridden `bulk_create`).

Fresh database with the demo organisation, as benchmarks/import_customers.py. Prints one JSON
line with rows/s, the library's totals, the tables' counts, and the ratio to the engine's rows/s
on the same file and database when benchmarks/import_customers.py has been run with the same
--rows and --db (it leaves its report in /tmp).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import import_files  # noqa: E402

GENDERS = {"男": "male", "女": "female"}


def customer_resource(dealer_id: int, *, bulk: bool):  # noqa: ANN201 — built after setup()
    from django.core.exceptions import ValidationError
    from import_export import fields, resources

    from dealercrm.customers.models import Customer, CustomerPhone
    from dealercrm.customers.validators import normalise_phone

    class CustomerResource(resources.ModelResource):
        name = fields.Field(attribute="name", column_name="客户姓名")
        gender = fields.Field(attribute="gender", column_name="性别")
        province = fields.Field(attribute="province", column_name="省份")
        city = fields.Field(attribute="city", column_name="城市")
        district = fields.Field(attribute="district", column_name="区县")
        street = fields.Field(attribute="street", column_name="详细地址")
        email = fields.Field(attribute="email", column_name="电子邮箱")

        class Meta:
            model = Customer
            fields = ("name", "gender", "province", "city", "district", "street", "email")
            import_id_fields = ("name",)  # unused: get_instance finds the customer by phone
            skip_unchanged = True
            use_bulk = bulk
            batch_size = 1000

        def before_import_row(self, row, **kwargs):  # noqa: ANN001, ANN201
            try:
                row["手机号码"] = normalise_phone(row["手机号码"])
            except ValidationError as exc:
                raise ValueError(f"手机号码: {'; '.join(exc.messages)}") from exc
            row["性别"] = GENDERS.get(row["性别"], "")

        def get_instance(self, instance_loader, row):  # noqa: ANN001, ANN201
            return Customer.objects.filter(
                dealer_id=dealer_id, phones__number=row["手机号码"], is_deleted=False
            ).first()

        def init_instance(self, row=None):  # noqa: ANN001, ANN201
            return Customer(dealer_id=dealer_id)

        def before_save_instance(self, instance, row, **kwargs):  # noqa: ANN001, ANN201
            instance._import_phone = row["手机号码"]

        def after_save_instance(self, instance, row, **kwargs):  # noqa: ANN001, ANN201
            if bulk or instance.pk is None:
                return
            CustomerPhone.objects.get_or_create(
                dealer_id=dealer_id,
                customer=instance,
                number=instance._import_phone,
                defaults={"is_primary": True},
            )

        def bulk_create(
            self, using_transactions, dry_run, raise_errors, batch_size=None, result=None
        ):  # noqa: ANN001, ANN201, E501
            batch = list(self.create_instances)
            super().bulk_create(using_transactions, dry_run, raise_errors, batch_size, result)
            CustomerPhone.objects.bulk_create(
                [
                    CustomerPhone(
                        dealer_id=dealer_id,
                        customer_id=instance.pk,
                        number=instance._import_phone,
                        is_primary=True,
                    )
                    for instance in batch
                    if instance.pk is not None
                ]
            )

    return CustomerResource()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--bulk", action="store_true", help="use_bulk = True")
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        help="import only the file's first LIMIT rows (per-row saves: rows/s hardly depends on it)",
    )
    args = parser.parse_args()

    path, facts = import_files.bench_file(args.rows, seed=args.seed)
    dealer_id = import_files.fresh_database(args.db)
    import tablib

    from dealercrm.core.tenancy import DealerScope, dealer_scope
    from dealercrm.customers.models import Customer, CustomerPhone

    started = time.perf_counter()
    with dealer_scope(dealer_id):
        dataset = tablib.Dataset().load(path.read_text(encoding="utf-8-sig"), format="csv")
        if args.limit is not None:
            del dataset[args.limit :]
        loaded = time.perf_counter()
        resource = customer_resource(dealer_id, bulk=args.bulk)
        # Without transactions each good row is kept, as the engine keeps them: with them, one
        # bad row rolls the whole file back.
        result = resource.import_data(
            dataset, dry_run=False, raise_errors=False, use_transactions=False
        )
    finished = time.perf_counter()
    with dealer_scope(DealerScope.everything()):
        tables = {
            "customers": Customer.objects.count(),
            "phones": CustomerPhone.objects.count(),
        }
    seconds = finished - started
    imported = len(dataset)
    rows_per_second = imported / seconds
    ours_path = Path(f"/tmp/bench_import_result_{args.rows}_{args.db}.json")  # noqa: S108
    ours = json.loads(ours_path.read_text()) if ours_path.exists() else None
    print(
        json.dumps(
            {
                "benchmark": "import_django_import_export",
                "command": " ".join(["uv run python", *sys.argv]),
                "db": args.db,
                "use_bulk": args.bulk,
                "rows": imported,
                "file": str(path),
                "file_rows": args.rows,
                "seconds": round(seconds, 1),
                "load_seconds": round(loaded - started, 1),
                "rows_per_second": round(rows_per_second),
                "totals": dict(result.totals),
                "rows_in_error": len(result.row_errors()) + len(result.invalid_rows),
                "file_invalid_rows": facts.invalid_rows,
                "tables": tables,
                "engine_rows_per_second": ours["rows_per_second"] if ours else None,
                "engine_report_date": ours["date"] if ours else None,
                "engine_to_import_export_ratio": round(ours["rows_per_second"] / rows_per_second, 1)
                if ours
                else None,
                "machine": import_files.machine(),
                "date": dt.datetime.now().isoformat(timespec="seconds"),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
