"""The care app's Huey jobs (Huey discovers `tasks` modules): each topic keeps its own."""

from .engine_jobs import *  # noqa: F403
