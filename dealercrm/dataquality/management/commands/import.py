"""`dealercrm import FILE --kind customers --dealer CODE [--mapping SOURCE | --map field=header …]
[--resume RUN_ID] [--user USERNAME]`: an import of any size, in this process, with a progress bar.

Exit status 0 when the file was imported (error rows included: their report is written next to
the stored file and its path printed), 1 when the file was refused or the run stopped.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
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

from dealercrm.core.models import Dealer, User
from dealercrm.core.tenancy import dealer_scope
from dealercrm.dataquality.models import ImportKind, ImportMapping, ImportRun, ImportStatus
from dealercrm.dataquality.selectors.imports import import_rows_with_notes_count
from dealercrm.dataquality.services.import_engine import BATCH_SIZE
from dealercrm.dataquality.services.import_runs import (
    import_error_report,
    import_run_create,
    import_run_execute,
    import_run_map,
    import_run_resume,
    import_run_start,
)


def _messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [m for messages in exc.message_dict.values() for m in messages]
    return list(exc.messages)


class Command(BaseCommand):
    help = gettext_lazy(
        "Import customers, vehicles, sales or repair orders from a CSV or XLSX file of any size."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):  # noqa: ANN001, ANN201
        # argparse formats plain strings only: translate the lazy description now.
        self.help = str(self.help)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):  # noqa: ANN001
        parser.add_argument("file", nargs="?", help=_("The CSV or XLSX file."))
        parser.add_argument(
            "--kind",
            choices=ImportKind.values,
            default=ImportKind.CUSTOMERS,
            help=_("What the file holds."),
        )
        parser.add_argument("--dealer", help=_("The dealer's code or id."))
        parser.add_argument(
            "--mapping", default="", help=_("The name of a saved column mapping to use.")
        )
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="FIELD=HEADER",
            help=_("Map a field to a column by its header (repeatable); overrides the guess."),
        )
        parser.add_argument(
            "--save-mapping", default="", help=_("Save the mapping used under this name.")
        )
        parser.add_argument(
            "--resume", type=int, default=None, help=_("Continue a stopped import run by its id.")
        )
        parser.add_argument("--user", default="", help=_("The user the import is recorded for."))
        parser.add_argument(
            "--batch-size",
            type=int,
            default=BATCH_SIZE,
            # argparse fills in %(default)s.
            help=_("Rows written per transaction (default %(default)s)."),
        )

    def handle(self, *args, **options):  # noqa: ANN002, ANN003
        # soft_wrap: a path or count line is never broken at the terminal width.
        console = Console(highlight=False, soft_wrap=True)
        quiet = options["verbosity"] == 0
        if options["batch_size"] < 1:
            raise CommandError(_("--batch-size must be 1 or more."))
        actor = self._user(options["user"])
        try:
            if options["resume"] is not None:
                run = self._resume(options["resume"], actor)
            else:
                run = self._create(options, actor)
        except ValidationError as exc:
            raise CommandError("\n".join(_messages(exc))) from exc
        with Progress(
            TextColumn("{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=quiet,
        ) as progress:
            task = progress.add_task(_("Rows"), total=run.total_rows)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total or None)

            run = import_run_execute(
                run_id=run.pk, progress=advance, batch_size=options["batch_size"]
            )
        self._report(console, run, quiet=quiet)
        if run.status != ImportStatus.DONE:
            raise CommandError(
                _("The import stopped: %(reason)s Resume it with --resume %(id)s.")
                % {"reason": run.failure, "id": run.pk}
            )

    # -- steps ----------------------------------------------------------------------------------

    def _user(self, username: str) -> User | None:
        if not username:
            return None
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(_("No user is called “%(name)s”.") % {"name": username})
        return user

    def _dealer(self, value: str | None) -> Dealer:
        if not value:
            raise CommandError(_("Name the dealer to import into with --dealer CODE."))
        dealer = Dealer.objects.filter(code=value).first()
        if dealer is None and value.isdigit():
            dealer = Dealer.objects.filter(pk=int(value)).first()
        if dealer is None:
            raise CommandError(_("No dealer has the code or id “%(dealer)s”.") % {"dealer": value})
        return dealer

    def _create(self, options: dict, actor: User | None) -> ImportRun:
        if not options["file"]:
            raise CommandError(_("Name the file to import (or --resume RUN_ID)."))
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(_("There is no file %(path)s.") % {"path": path})
        dealer = self._dealer(options["dealer"])
        kind = options["kind"]
        with dealer_scope(dealer.pk):
            run = import_run_create(
                actor=actor,
                dealer_id=dealer.pk,
                kind=kind,
                file=path,
                filename=path.name,
                max_bytes=None,
            )
            mapping = dict(run.mapping)
            if options["mapping"]:
                saved = ImportMapping.objects.filter(
                    dealer_id=dealer.pk, kind=kind, source=options["mapping"]
                ).first()
                if saved is None:
                    raise CommandError(
                        _("The dealer has no saved mapping “%(name)s” for this kind of import.")
                        % {"name": options["mapping"]}
                    )
                mapping = dict(saved.columns)
                run.source = saved.source
            for pair in options["map"]:
                field, sep, header = pair.partition("=")
                if not sep or not field.strip():
                    raise CommandError(
                        _("--map takes FIELD=HEADER, not “%(value)s”.") % {"value": pair}
                    )
                mapping[field.strip()] = header.strip()
            run = import_run_map(
                actor=actor, run=run, mapping=mapping, save_as=options["save_mapping"]
            )
            return import_run_start(actor=actor, run=run, enqueue=False)

    def _resume(self, run_id: int, actor: User | None) -> ImportRun:
        with dealer_scope(None):
            run = ImportRun.objects.filter(pk=run_id).first()
        if run is None:
            raise CommandError(_("There is no import run %(id)s.") % {"id": run_id})
        with dealer_scope(run.dealer_id):
            return import_run_resume(actor=actor, run=run, enqueue=False)

    def _report(self, console: Console, run: ImportRun, *, quiet: bool) -> None:
        if not quiet:
            console.print(
                _(
                    "Run %(id)s: %(read)s rows read — %(created)s created, %(updated)s merged "
                    "into existing records, %(unchanged)s unchanged, %(errors)s not imported."
                )
                % {
                    "id": run.pk,
                    "read": f"{run.processed_rows:,}",
                    "created": f"{run.created_count:,}",
                    "updated": f"{run.updated_count:,}",
                    "unchanged": f"{run.unchanged_count:,}",
                    "errors": f"{run.error_count:,}",
                }
            )
        with dealer_scope(run.dealer_id):
            notes = import_rows_with_notes_count(run)
        if notes and not quiet:
            console.print(
                ngettext(
                    "%(counter)s row imported with notes",
                    "%(counter)s rows imported with notes",
                    notes,
                )
                % {"counter": f"{notes:,}"}
            )
        if run.error_count or notes:
            with dealer_scope(run.dealer_id):
                _name, _type, content = import_error_report(run=run, file_format="csv")
                stored = Path(settings.IMPORT_DIR) / run.stored_path
                report = stored.with_name(f"{stored.stem}-errors.csv")
                with report.open("wb") as out:
                    for chunk in content:
                        out.write(chunk)
            # Printed even when quiet: the caller needs the path to fix the rows.
            console.print(_("Error report: %(path)s") % {"path": report})
