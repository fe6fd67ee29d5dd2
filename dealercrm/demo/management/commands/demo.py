"""`dealercrm demo --customers N --seed S [--today YYYY-MM-DD] [--if-empty] [--reset]`."""

from __future__ import annotations

import datetime as dt

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
    TimeRemainingColumn,
)

from dealercrm.demo.generators import CHUNK_GENERATORS, FOUNDATION_GENERATORS
from dealercrm.demo.runner import delete_demo, demo_exists, run_demo


class RichProgress:
    """One bar per stage of the runner."""

    def __init__(self, progress: Progress, labels: dict[str, str]) -> None:
        self.progress = progress
        self.labels = labels
        self.tasks: dict[str, int] = {}

    def start(self, stage: str, total: int) -> None:
        self.tasks[stage] = self.progress.add_task(self.labels.get(stage, stage), total=total)

    def advance(self, stage: str, amount: int) -> None:
        self.progress.advance(self.tasks[stage], amount)


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(_("--today takes a date as YYYY-MM-DD.")) from exc


class Command(BaseCommand):
    help = gettext_lazy(
        "Generate a demo dealer network: one brand, 12 dealers, staff, customers and cars."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):  # noqa: ANN001, ANN201
        # argparse formats plain strings only: translate the lazy description now.
        self.help = str(self.help)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):  # noqa: ANN001
        parser.add_argument("--customers", type=int, default=20000, help=_("How many customers."))
        parser.add_argument(
            "--seed", type=int, default=42, help=_("The same seed gives the same data.")
        )
        parser.add_argument(
            "--today",
            type=_date,
            default=None,
            help=_(
                "The day the history ends (default: today). Same seed and day give the same data."
            ),
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help=_("Do nothing when a brand already exists."),
        )
        parser.add_argument("--reset", action="store_true", help=_("Delete the demo data first."))
        parser.add_argument(
            "--foundation-only",
            action="store_true",
            help=_(
                "Only customers, vehicles, mileage, interactions and search keys: no sales, "
                "after-sales, messaging, feedback or data-quality history (much quicker, e.g. "
                "to try search and the customer page with a million customers)."
            ),
        )

    def handle(self, *args, **options):  # noqa: ANN002, ANN003
        if options["customers"] < 0:
            raise CommandError(_("--customers must be 0 or more."))
        console = Console(stderr=False, highlight=False)
        if options["reset"] and delete_demo():
            console.print(_("Deleted the previous demo data."))
        if options["if_empty"] and demo_exists():
            console.print(_("The database already holds a brand: no demo data generated."))
            return
        if demo_exists() and not options["reset"]:
            # The demo brand's codes are unique; a second network would collide with the first.
            from dealercrm.core.models import Brand
            from dealercrm.demo.reference import BRAND_CODE

            if Brand.objects.filter(code=BRAND_CODE).exists():
                raise CommandError(
                    _("The demo brand exists already: use --reset to replace it, or --if-empty.")
                )
        today = options["today"] or dt.date.today()
        labels = {
            "customers": _("Customers"),
            "vehicles": _("Vehicles"),
            "history": _("History"),
            "sales": _("Sales pipeline"),
            "search": _("Search keys"),
            "indexes": _("Indexes"),
            "service": _("After-sales"),
            "finishing": _("Finishing"),
        }
        with Progress(
            TextColumn("{task.description:<12}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=options["verbosity"] == 0,
        ) as progress:
            result = run_demo(
                customers=options["customers"],
                seed=options["seed"],
                today=today,
                progress=RichProgress(progress, labels),
                generators=FOUNDATION_GENERATORS
                if options["foundation_only"]
                else CHUNK_GENERATORS,
            )
        if options["verbosity"] > 0:
            for label, count in result.rows.items():
                console.print(f"  {label:<28} {count:>12,}")
            console.print(
                _("%(customers)s customers in %(seconds).1f s (%(rate)s customers per second).")
                % {
                    "customers": f"{result.customers:,}",
                    "seconds": result.seconds,
                    "rate": f"{result.customers_per_second:,.0f}",
                }
            )
