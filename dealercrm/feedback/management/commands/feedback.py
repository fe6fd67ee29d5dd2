"""`dealercrm feedback rollup rebuild [--dealer CODE]`: rebuild the satisfaction scores' rollup
set-based from the answers (after a bulk import, or to repair drift), and
`dealercrm feedback rollup invitations`: recount the recent months' invitations, and
`dealercrm feedback install-questionnaires [--brand CODE]`: the brand's standard questionnaires
(after delivery, after service, after a complaint), published; running it again changes nothing."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy


class Command(BaseCommand):
    help = gettext_lazy("Complaints and satisfaction: maintenance commands.")

    def add_arguments(self, parser):  # noqa: ANN001
        groups = parser.add_subparsers(dest="group", required=True)
        rollup = groups.add_parser("rollup", help=gettext_lazy("The satisfaction score rollup."))
        rollup.add_argument(
            "action",
            choices=["rebuild", "invitations"],
            help=gettext_lazy(
                "rebuild: everything from the answers; invitations: recount recent invitations."
            ),
        )
        rollup.add_argument(
            "--dealer",
            action="append",
            default=None,
            help=gettext_lazy("A dealer code (repeat for several; default: every dealer)."),
        )

        install = groups.add_parser(
            "install-questionnaires",
            help=gettext_lazy("The brand's standard questionnaires, published."),
        )
        install.add_argument(
            "--brand", default=None, help=gettext_lazy("A brand code (default: every brand).")
        )

    def handle(self, *args, **options):  # noqa: ANN002, ANN003
        from dealercrm.core.models import Dealer
        from dealercrm.core.tenancy import dealer_scope
        from dealercrm.feedback.services.scores import rollup_rebuild, rollup_refresh_invitations

        if options["group"] == "install-questionnaires":
            self._install_questionnaires(options["brand"])
            return

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
        started = time.perf_counter()
        if options["action"] == "rebuild":
            rows = rollup_rebuild(dealer_ids=dealer_ids)
            self.stdout.write(
                _("Score rollup rebuilt: %(rows)d rows in %(seconds).1f s.")
                % {"rows": rows, "seconds": time.perf_counter() - started}
            )
        else:
            rollup_refresh_invitations(dealer_ids=dealer_ids)
            self.stdout.write(
                _("Invitations recounted in %(seconds).1f s.")
                % {"seconds": time.perf_counter() - started}
            )

    def _install_questionnaires(self, brand_code: str | None) -> None:
        from dealercrm.core.models import Brand
        from dealercrm.core.tenancy import dealer_scope
        from dealercrm.feedback.services.questionnaires import questionnaires_install_defaults

        with dealer_scope(None):
            brands = Brand.objects.order_by("code")
            if brand_code:
                brands = brands.filter(code=brand_code)
                if not brands.exists():
                    raise CommandError(_("No brand with the code %(code)s.") % {"code": brand_code})
            for brand in brands:
                made = questionnaires_install_defaults(brand=brand)
                self.stdout.write(
                    _("%(brand)s: %(count)d standard questionnaires in place.")
                    % {"brand": brand.name, "count": len(made)}
                )
