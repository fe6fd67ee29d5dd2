"""`dealercrm demo_logins`: one demo login per role, for `make demo` to print."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rich.console import Console
from rich.table import Table

from dealercrm.core.models import User
from dealercrm.core.permissions import Role
from dealercrm.demo.reference import BRAND_CODE, DEALERS, DEMO_PASSWORD


def demo_logins() -> list[tuple[str, str, str, str]]:
    """(username, password, role label, dealer name) for one user of each role, in role order."""
    users = User.objects.filter(brand__code=BRAND_CODE, is_active=True).select_related("dealer")
    # The staff of the first dealer of the network (上海浦东), then the brand's own staff.
    order = {spec.code: i for i, spec in enumerate(DEALERS)}
    first: dict[str, User] = {}
    for user in sorted(
        users, key=lambda u: (order.get(u.dealer.code, 99) if u.dealer else -1, u.username)
    ):
        first.setdefault(user.role, user)
    return [
        (
            first[role].username,
            DEMO_PASSWORD,
            str(Role(role).label),
            first[role].dealer.name if first[role].dealer else "—",
        )
        for role in Role.values
        if role in first
    ]


class Command(BaseCommand):
    help = gettext_lazy("Print one demo login per role (username, password, role, dealer).")

    def create_parser(self, prog_name, subcommand, **kwargs):  # noqa: ANN001, ANN201
        # argparse formats plain strings only: translate the lazy description now.
        self.help = str(self.help)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def handle(self, *args, **options):  # noqa: ANN002, ANN003
        rows = demo_logins()
        console = Console(highlight=False)
        if not rows:
            console.print(_("No demo data: run `dealercrm demo` first."))
            return
        table = Table(
            title=_("Demo logins (password for all: %(password)s)") % {"password": DEMO_PASSWORD}
        )
        for header in (_("Username"), _("Password"), _("Role"), _("Dealer")):
            table.add_column(header)
        for row in rows:
            table.add_row(*row)
        console.print(table)
