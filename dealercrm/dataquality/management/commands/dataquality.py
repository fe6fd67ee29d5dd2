"""`dealercrm dataquality <subcommand>`: data-quality maintenance from the command line.

- `duplicates [--dealer CODE] [--brand CODE]`: scan for likely duplicate customers, within each
  dealer (default: every dealer) and, with --brand, across the brand's dealers too.
- `audit [--brand CODE] [--period YYYY-MM] [--months N]`: the data-quality audit of every dealer
  of the brand (default: every brand) for the month (default: this one) and the N-1 before it.

Each subcommand has an `_add_<name>` method that declares its arguments and a `_handle_<name>`
method that runs it; `add_arguments` lists them. Add a subcommand by adding both and one line in
SUBCOMMANDS.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)


class Command(BaseCommand):
    help = gettext_lazy("Data quality: duplicate scans and other maintenance commands.")

    # (subcommand, help); each has _add_<name> and _handle_<name> below ("-" becomes "_").
    SUBCOMMANDS = [
        ("duplicates", gettext_lazy("Scan for likely duplicate customers.")),
        ("audit", gettext_lazy("Run the data-quality audit of every dealer of a brand.")),
        # Other subcommands go here.
    ]

    def create_parser(self, prog_name, subcommand, **kwargs):  # noqa: ANN001, ANN201
        # argparse formats plain strings only: translate the lazy description now.
        self.help = str(self.help)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):  # noqa: ANN001
        groups = parser.add_subparsers(dest="subcommand", required=True)
        for name, help_text in self.SUBCOMMANDS:
            sub = groups.add_parser(name, help=str(help_text))
            getattr(self, f"_add_{name.replace('-', '_')}")(sub)

    def handle(self, *args, **options):  # noqa: ANN002, ANN003
        getattr(self, f"_handle_{options['subcommand'].replace('-', '_')}")(options)

    def _console(self) -> Console:
        return Console(file=self.stdout._out, highlight=False)

    # --- duplicates ------------------------------------------------------------------------

    def _add_duplicates(self, parser) -> None:  # noqa: ANN001
        parser.add_argument(
            "--dealer",
            action="append",
            default=None,
            help=str(gettext_lazy("A dealer code (repeat for several; default: every dealer).")),
        )
        parser.add_argument(
            "--brand",
            default=None,
            help=str(
                gettext_lazy(
                    "A brand code: also scan across the brand's dealers (the OEM's review queue)."
                )
            ),
        )

    def _handle_duplicates(self, options: dict) -> None:
        from dealercrm.core.models import Brand, Dealer
        from dealercrm.core.tenancy import dealer_scope
        from dealercrm.dataquality.services.duplicates import duplicates_scan

        with dealer_scope(None):
            brand = None
            if options["brand"]:
                brand = Brand.objects.filter(code=options["brand"]).first()
                if brand is None:
                    raise CommandError(
                        _("No brand with the code %(code)s.") % {"code": options["brand"]}
                    )
            dealers = Dealer.objects.order_by("code")
            if options["dealer"]:
                found = dict(
                    Dealer.objects.filter(code__in=options["dealer"]).values_list("code", "id")
                )
                unknown = sorted(set(options["dealer"]) - set(found))
                if unknown:
                    raise CommandError(
                        _("No dealer with the code %(codes)s.") % {"codes": ", ".join(unknown)}
                    )
                dealers = dealers.filter(code__in=options["dealer"])
            elif brand is not None:
                dealers = dealers.filter(brand=brand)
            dealer_rows = list(dealers.values_list("id", "code"))

        console = self._console()
        started = time.perf_counter()
        totals = {"pairs": 0, "new": 0, "merged": 0, "shared": 0}
        with Progress(
            TextColumn("{task.description:<20}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=options["verbosity"] == 0,
        ) as progress:
            scans: list[tuple[str, dict]] = [(code, {"dealer_id": pk}) for pk, code in dealer_rows]
            if brand is not None:
                label = _("%(brand)s (across dealers)") % {"brand": brand.code}
                scans.append((label, {"brand_id": brand.pk}))
            for label, kwargs in scans:
                task = progress.add_task(label, total=None)

                def report(done: int, total: int, task: int = task) -> None:
                    progress.update(task, completed=done, total=total)

                result = duplicates_scan(progress=report, **kwargs)
                totals["pairs"] += result.pairs
                totals["new"] += result.created
                totals["merged"] += result.auto_merged
                totals["shared"] += result.shared_keys_skipped
        if options["verbosity"] > 0:
            console.print(
                _(
                    "%(pairs)d likely duplicate pairs (%(new)d new, %(merged)d merged "
                    "automatically); %(shared)d shared numbers skipped; %(seconds).1f s."
                )
                % {**totals, "seconds": time.perf_counter() - started}
            )

    # --- audit -----------------------------------------------------------------------------

    def _add_audit(self, parser) -> None:  # noqa: ANN001
        parser.add_argument(
            "--brand", default=None, help=str(gettext_lazy("A brand code (default: every brand)."))
        )
        parser.add_argument(
            "--period",
            default=None,
            help=str(gettext_lazy("The month, YYYY-MM (default: this one).")),
        )
        parser.add_argument(
            "--months",
            type=int,
            default=1,
            help=str(gettext_lazy("How many months, ending with --period (default 1).")),
        )

    def _handle_audit(self, options: dict) -> None:
        from django.utils import timezone

        from dealercrm.core.models import Brand
        from dealercrm.core.tenancy import dealer_scope
        from dealercrm.dataquality.selectors.audit import parse_period
        from dealercrm.dataquality.services.audit import (
            audit_run_months,
            month_start,
            previous_months,
        )

        period, error = parse_period(options["period"])
        if error:
            raise CommandError(error)
        if not 1 <= options["months"] <= 120:
            raise CommandError(_("--months is between 1 and 120."))
        months = previous_months(period or month_start(timezone.localdate()), options["months"])
        with dealer_scope(None):
            brands = Brand.objects.order_by("code")
            if options["brand"]:
                brands = brands.filter(code=options["brand"])
                if not brands.exists():
                    raise CommandError(
                        _("No brand with the code %(code)s.") % {"code": options["brand"]}
                    )
            brand_rows = list(brands.values_list("id", "code"))
            console = self._console()
            started = time.perf_counter()
            scored = 0
            with Progress(
                TextColumn("{task.description:<20}"),
                BarColumn(),
                MofNCompleteColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                console=console,
                disable=options["verbosity"] == 0,
            ) as progress:
                for brand_id, code in brand_rows:
                    # One step per table: each pass counts every month.
                    task = progress.add_task(code, total=4)

                    def report(done: int, total: int, table: str, task: int = task) -> None:
                        progress.update(task, completed=done, total=total)

                    scored += len(
                        audit_run_months(brand_id=brand_id, periods=months, progress=report)
                    )
        if options["verbosity"] > 0:
            console.print(
                _("%(scores)d dealer scores over %(months)d months; %(seconds).1f s.")
                % {
                    "scores": scored,
                    "months": len(months),
                    "seconds": time.perf_counter() - started,
                }
            )
