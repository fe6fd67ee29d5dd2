"""Huey jobs of the mileage forecast: the incremental refresh every 10 minutes, the full one
nightly at 02:30 (before the care engine at 03:30 reads the states), and the refresh of one
model's vehicles after its maintenance schedule changed. Each runs in the network scope and can
run twice without harm (the refresh recomputes, it adds nothing)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from dealercrm.core.tenancy import dealer_scope

__all__ = ["forecast_full_refresh", "forecast_model_refresh", "forecast_stale_refresh"]


@db_periodic_task(crontab(minute="*/10"))
@lock_task("service-forecast-refresh")
def forecast_stale_refresh() -> int:
    """Every 10 minutes: vehicles with a reading or repair order since the last refresh."""
    from .services.forecast import forecast_refresh

    with dealer_scope(None):
        return forecast_refresh()


@db_periodic_task(crontab(minute="30", hour="2"))
@lock_task("service-forecast-refresh")
def forecast_full_refresh() -> int:
    """Nightly: every vehicle (delivery dates edited, time passing, the averages moving), and
    the flags of every reading first, for readings bulk-loaded without them."""
    from .services.forecast import forecast_refresh, readings_flag

    with dealer_scope(None):
        readings_flag()
        return forecast_refresh(full=True)


@db_task()
def forecast_model_refresh(car_model_id: int | None) -> int:
    """After a schedule changed: the vehicles of that model (None: the network default's, i.e.
    every vehicle whose model has no schedule of its own)."""
    from .services.forecast import forecast_refresh_for_model

    with dealer_scope(None):
        return forecast_refresh_for_model(car_model_id)
