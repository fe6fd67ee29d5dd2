"""The service app's Huey jobs (Huey discovers `tasks` modules): each topic keeps its own."""

from .forecast_jobs import *  # noqa: F403
from .recall_jobs import *  # noqa: F403
