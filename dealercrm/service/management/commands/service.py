"""`dealercrm service forecast [--dealer CODE] [--full] [--flags]`: refresh the mileage
forecasts on demand, with a progress bar. Without --full only the vehicles with a reading or
repair order since the last refresh are recomputed (the 10-minute job's work)."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class Command(BaseCommand):
    help = gettext_lazy("After-sales jobs on demand: refresh the mileage forecasts.")

    def add_arguments(self, parser):  # noqa: ANN001
        parser.add_argument(
            "action", choices=["forecast"], help=gettext_lazy("What to do: forecast.")
        )
        parser.add_argument(
            "--dealer", default=None, help=gettext_lazy("A dealer code (default: every dealer).")
        )
        parser.add_argument(
            "--full",
            action="store_true",
            help=gettext_lazy("Every vehicle, not only those changed since the last refresh."),
        )
        parser.add_argument(
            "--flags",
            action="store_true",
            help=gettext_lazy("Re-evaluate the flags of the mileage readings first."),
        )

    def handle(self, *args, **options):  # noqa: ANN002, ANN003
        from dealercrm.core.models import Dealer
        from dealercrm.core.tenancy import dealer_scope
        from dealercrm.service.services.forecast import forecast_refresh, readings_flag

        with dealer_scope(None):
            dealer_id = None
            if options["dealer"]:
                dealer_id = (
                    Dealer.objects.filter(code=options["dealer"])
                    .values_list("id", flat=True)
                    .first()
                )
                if dealer_id is None:
                    raise CommandError(
                        _("No dealer with the code %(code)s.") % {"code": options["dealer"]}
                    )
            console = Console(file=getattr(self.stdout, "_out", None), highlight=False, width=100)
            started = time.monotonic()
            flagged = None
            if options["flags"]:
                flagged = readings_flag(dealer_id=dealer_id)
            with Progress(
                TextColumn("{task.description:<30}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                disable=options["verbosity"] == 0,
                transient=True,
            ) as progress:
                bar = progress.add_task(_("Forecasts"), total=None)

                def advance(done: int, total: int) -> None:
                    progress.update(bar, completed=done, total=total)

                count = forecast_refresh(
                    dealer_id=dealer_id, full=options["full"], progress=advance
                )
        if options["verbosity"] == 0:
            return
        if flagged is not None:
            self.stdout.write(_("%(count)d reading flag(s) changed.") % {"count": flagged})
        self.stdout.write(
            _("%(count)d vehicle forecast(s) refreshed in %(seconds).1f s.")
            % {"count": count, "seconds": time.monotonic() - started}
        )
