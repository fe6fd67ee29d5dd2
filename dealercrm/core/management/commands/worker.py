"""`dealercrm worker`: runs the background jobs (Huey consumer with its periodic schedule)."""

from __future__ import annotations

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the background job worker (Huey; SQLite queue by default, Redis with REDIS_URL)."

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("--workers", "-w", type=int, default=2, help="worker threads")

    def handle(self, *args, **options) -> None:
        call_command("run_huey", workers=options["workers"], worker_type="thread")
