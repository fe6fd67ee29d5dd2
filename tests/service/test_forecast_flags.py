"""Mileage readings that must not be lost: stored, flagged when they contradict the others."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError

from dealercrm.service.services.forecast import mileage_reading_record, readings_flag
from dealercrm.vehicles.models import MileageReading, Vehicle
from tests.vehicles.factories import MileageReadingFactory, VehicleFactory

pytestmark = pytest.mark.django_db

LOWER = MileageReading.Flag.LOWER
JUMP = MileageReading.Flag.JUMP
START = datetime.date(2024, 4, 1)


def given_readings(vehicle, kms, *, step_days=60):
    """Readings written directly, unflagged, `step_days` apart from START."""
    return [
        MileageReadingFactory(
            vehicle=vehicle, km=km, read_on=START + datetime.timedelta(days=i * step_days)
        )
        for i, km in enumerate(kms)
    ]


def flags_of(vehicle):
    return list(
        MileageReading.objects.filter(vehicle=vehicle)
        .order_by("read_on", "id")
        .values_list("km", "flag")
    )


@pytest.fixture
def vehicle():
    return VehicleFactory(delivery_date=datetime.date(2024, 3, 8), current_mileage_km=None)


def test_record_stores_a_consistent_reading_unflagged_and_moves_the_mileage(vehicle):
    given_readings(vehicle, [3000])

    reading = mileage_reading_record(
        dealer_id=vehicle.dealer_id,
        vehicle_id=vehicle.pk,
        km=5200,
        read_on=START + datetime.timedelta(days=60),
        source=MileageReading.Source.SERVICE,
    )

    assert reading.flag == ""
    assert Vehicle.objects.get(pk=vehicle.pk).current_mileage_km == 5200


def test_record_keeps_a_lower_reading_flagged_and_not_believed(vehicle):
    given_readings(vehicle, [3000, 6000])

    reading = mileage_reading_record(
        dealer_id=vehicle.dealer_id,
        vehicle_id=vehicle.pk,
        km=4000,
        read_on=START + datetime.timedelta(days=200),
        source=MileageReading.Source.IMPORT,
    )

    assert reading.pk is not None
    assert reading.flag == LOWER
    assert Vehicle.objects.get(pk=vehicle.pk).current_mileage_km == 6000


def test_record_flags_an_impossible_jump_since_the_previous_reading(vehicle, settings):
    settings.SERVICE_MAX_DAILY_KM = 500
    given_readings(vehicle, [3000])

    reading = mileage_reading_record(
        dealer_id=vehicle.dealer_id,
        vehicle_id=vehicle.pk,
        km=3000 + 500 * 10 + 1,
        read_on=START + datetime.timedelta(days=10),
        source=MileageReading.Source.SERVICE,
    )

    assert reading.flag == JUMP
    assert Vehicle.objects.get(pk=vehicle.pk).current_mileage_km == 3000


def test_record_allows_exactly_the_maximum_daily_distance(vehicle, settings):
    settings.SERVICE_MAX_DAILY_KM = 500
    given_readings(vehicle, [3000])

    reading = mileage_reading_record(
        dealer_id=vehicle.dealer_id,
        vehicle_id=vehicle.pk,
        km=3000 + 500 * 10,
        read_on=START + datetime.timedelta(days=10),
        source=MileageReading.Source.SERVICE,
    )

    assert reading.flag == ""


def test_record_judges_the_first_reading_against_delivery_at_zero_km(vehicle):
    reading = mileage_reading_record(
        dealer_id=vehicle.dealer_id,
        vehicle_id=vehicle.pk,
        km=120_000,
        read_on=vehicle.delivery_date + datetime.timedelta(days=30),
        source=MileageReading.Source.IMPORT,
    )

    assert reading.flag == JUMP
    assert Vehicle.objects.get(pk=vehicle.pk).current_mileage_km is None


def test_record_refuses_a_negative_number_naming_the_field(vehicle):
    with pytest.raises(ValidationError) as error:
        mileage_reading_record(
            dealer_id=vehicle.dealer_id,
            vehicle_id=vehicle.pk,
            km=-1,
            read_on=START,
            source=MileageReading.Source.SERVICE,
        )

    assert "km" in error.value.message_dict
    assert not MileageReading.objects.filter(vehicle=vehicle).exists()


def test_record_of_another_dealers_vehicle_is_refused(vehicle, other_dealer):
    with pytest.raises(ValidationError) as error:
        mileage_reading_record(
            dealer_id=other_dealer.pk,
            vehicle_id=vehicle.pk,
            km=1000,
            read_on=START,
            source=MileageReading.Source.SERVICE,
        )

    assert "vehicle" in error.value.message_dict


def test_two_later_readings_show_up_an_earlier_spike(vehicle):
    # 120,000 looked plausible a year after 12,000; the next two readings say it was a typo.
    MileageReadingFactory(vehicle=vehicle, km=12_000, read_on=datetime.date(2024, 6, 1))
    MileageReadingFactory(vehicle=vehicle, km=120_000, read_on=datetime.date(2025, 6, 1))

    def record(km, read_on):
        return mileage_reading_record(
            dealer_id=vehicle.dealer_id,
            vehicle_id=vehicle.pk,
            km=km,
            read_on=read_on,
            source=MileageReading.Source.SERVICE,
        )

    record(14_000, datetime.date(2025, 7, 1))
    assert flags_of(vehicle) == [(12_000, ""), (120_000, ""), (14_000, LOWER)]

    record(16_000, datetime.date(2025, 9, 1))
    assert flags_of(vehicle) == [(12_000, ""), (120_000, JUMP), (14_000, ""), (16_000, "")]
    assert Vehicle.objects.get(pk=vehicle.pk).current_mileage_km == 16_000


@pytest.mark.parametrize(
    ("kms", "expected"),
    [
        # a spike in the middle (one extra digit)
        ([12_000, 120_000, 14_000, 16_000], ["", JUMP, "", ""]),
        # a dip in the middle (one digit missing)
        ([12_000, 1_200, 14_000, 16_000], ["", LOWER, "", ""]),
        # the first reading is the spike: the ones after agree with each other
        ([120_000, 14_000, 16_000], [JUMP, "", ""]),
        # the first reading is right, the second a dip
        ([12_000, 1_200, 14_000], ["", LOWER, ""]),
        # the last reading is lower than everything before it
        ([10_000, 12_000, 9_000], ["", "", LOWER]),
        # the last reading is a spike
        ([10_000, 12_000, 120_000], ["", "", JUMP]),
        # all consistent, equal readings included
        ([1_000, 3_000, 3_000, 8_000], ["", "", "", ""]),
        # two readings, the second lower: the later one is not believed
        ([12_000, 1_200], ["", LOWER]),
    ],
)
def test_readings_flag_ignores_one_mistyped_reading_in_either_direction(vehicle, kms, expected):
    given_readings(vehicle, kms)

    readings_flag(dealer_id=vehicle.dealer_id, vehicle_ids=[vehicle.pk])

    assert [flag for _km, flag in flags_of(vehicle)] == expected


def test_readings_flag_unflags_a_reading_the_others_now_confirm(vehicle):
    readings = given_readings(vehicle, [10_000, 12_000, 14_000])
    MileageReading.objects.filter(pk=readings[1].pk).update(flag=LOWER)

    changed = readings_flag(dealer_id=vehicle.dealer_id)

    assert changed == 1
    assert [flag for _km, flag in flags_of(vehicle)] == ["", "", ""]


def test_readings_flag_is_idempotent_and_counts_changes(vehicle):
    given_readings(vehicle, [12_000, 120_000, 14_000, 16_000])

    first = readings_flag()
    second = readings_flag()

    assert (first, second) == (1, 0)


def test_readings_flag_leaves_other_vehicles_alone(vehicle):
    other = VehicleFactory(dealer=vehicle.dealer)
    given_readings(vehicle, [12_000, 1_200, 14_000])
    given_readings(other, [12_000, 1_200, 14_000])

    readings_flag(vehicle_ids=[vehicle.pk])

    assert [f for _k, f in flags_of(vehicle)] == ["", LOWER, ""]
    assert [f for _k, f in flags_of(other)] == ["", "", ""]


def test_readings_flag_queries_do_not_grow_with_the_vehicles(vehicle):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_for(n):
        for _ in range(n):
            given_readings(VehicleFactory(dealer=vehicle.dealer), [12_000, 1_200, 14_000])
        with CaptureQueriesContext(connection) as ctx:
            readings_flag(dealer_id=vehicle.dealer_id)
        return len(ctx)

    assert queries_for(1) == queries_for(6)
