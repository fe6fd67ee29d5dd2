"""The forecast's command and jobs."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from dealercrm.service.forecast_jobs import forecast_full_refresh, forecast_stale_refresh
from dealercrm.service.models import VehicleServiceState
from dealercrm.vehicles.models import MileageReading
from tests.vehicles.factories import MileageReadingFactory, VehicleFactory

pytestmark = pytest.mark.django_db


def test_the_command_refreshes_one_dealers_vehicles(dealer, other_dealer, english):
    mine = VehicleFactory(dealer=dealer)
    VehicleFactory(dealer=other_dealer)
    out = StringIO()

    call_command("service", "forecast", "--dealer", dealer.code, "--full", stdout=out)

    assert list(VehicleServiceState.objects.values_list("vehicle_id", flat=True)) == [mine.pk]
    assert "1 vehicle forecast(s) refreshed" in out.getvalue()


def test_the_command_refuses_an_unknown_dealer(dealer, english):
    with pytest.raises(CommandError, match="No dealer with the code NOPE"):
        call_command("service", "forecast", "--dealer", "NOPE", stdout=StringIO())


def test_the_stale_job_refreshes_what_changed_and_then_nothing(dealer):
    VehicleFactory(dealer=dealer)

    assert forecast_stale_refresh.call_local() == 1
    assert forecast_stale_refresh.call_local() == 0


def test_the_nightly_job_flags_bulk_loaded_readings_then_refreshes_all(dealer):
    vehicle = VehicleFactory(dealer=dealer, delivery_date=datetime.date(2025, 1, 1))
    for day, km in ((60, 3000), (120, 30_000), (180, 9000), (240, 12_000)):
        MileageReadingFactory(
            vehicle=vehicle, km=km, read_on=datetime.date(2025, 1, 1) + datetime.timedelta(day)
        )

    assert forecast_full_refresh.call_local() == 1

    assert MileageReading.objects.get(km=30_000).flag == MileageReading.Flag.JUMP
    state = VehicleServiceState.objects.get(vehicle=vehicle)
    assert (state.readings_used, state.readings_flagged, state.daily_km) == (3, 1, 50)
