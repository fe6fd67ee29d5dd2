"""`dealercrm care run [--date YYYY-MM-DD] [--dealer CODE]`: the care engine on demand, for
back-filling and testing, with a progress bar and a table of what each rule created."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as error:
        raise CommandError(
            _("--date must be a date written YYYY-MM-DD, not %(value)r.") % {"value": value}
        ) from error


class Command(BaseCommand):
    help = gettext_lazy("Run the care engine: every enabled rule for every active dealer.")

    def add_arguments(self, parser):  # noqa: ANN001
        parser.add_argument("action", choices=["run"], help=gettext_lazy("What to do: run."))
        parser.add_argument(
            "--date",
            type=str,
            default=None,
            help=gettext_lazy("The day to run for (default: today)."),
        )
        parser.add_argument(
            "--dealer",
            action="append",
            default=None,
            help=gettext_lazy("A dealer code (repeat for several; default: every active dealer)."),
        )

    def handle(self, *args, **options):  # noqa: ANN002, ANN003
        from dealercrm.care.rules import CATALOGUE
        from dealercrm.care.services.engine import care_run
        from dealercrm.core.models import Dealer
        from dealercrm.core.tenancy import dealer_scope

        run_on = _date(options["date"]) if options["date"] else timezone.localdate()
        dealer_ids = None
        if options["dealer"]:
            with dealer_scope(None):
                found = dict(
                    Dealer.objects.filter(code__in=options["dealer"]).values_list("code", "id")
                )
            unknown = sorted(set(options["dealer"]) - set(found))
            if unknown:
                raise CommandError(
                    _("No dealer with the code %(codes)s.") % {"codes": ", ".join(unknown)}
                )
            dealer_ids = list(found.values())
        console = Console(file=getattr(self.stdout, "_out", None), highlight=False, width=100)
        with Progress(
            TextColumn("{task.description:<40}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=options["verbosity"] == 0,
            transient=True,
        ) as progress:
            bar = progress.add_task(_("Care rules"), total=None)

            def advance(done: int, total: int, label: str) -> None:
                progress.update(bar, completed=done, total=total, description=label[:40])

            report = care_run(
                run_on=run_on, dealer_ids=dealer_ids, triggered_by="cli", progress=advance
            )
        if options["verbosity"] == 0:
            return
        table = Table(
            title=_("Care run for %(date)s, %(dealers)d dealer(s)")
            % {"date": run_on.isoformat(), "dealers": len(report.dealers)}
        )
        for heading in (
            _("Rule"),
            _("Occurrences"),
            _("Tasks"),
            _("Messages"),
            _("Notices"),
            _("Stage changes"),
            _("Note"),
        ):
            table.add_column(
                heading, justify="left" if heading in (_("Rule"), _("Note")) else "right"
            )
        for code, rep in report.totals().items():
            table.add_row(
                str(CATALOGUE[code].label),
                str(rep.occurrences),
                str(rep.tasks),
                str(rep.messages),
                str(rep.notices),
                str(rep.updated),
                _("no template") if rep.no_template else "",
            )
        console.print(table)
        console.print(_("%(count)d new occurrences.") % {"count": report.created})
