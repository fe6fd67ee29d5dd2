"""Vehicle services: create with ownership and decoded VIN, optimistic lock, transfer, mileage,
catalogue — all audit-logged, search keys kept in step, bad input saving nothing."""

from __future__ import annotations

import datetime
import zoneinfo
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from dealercrm.core.models import AuditEvent
from dealercrm.core.permissions import Role
from dealercrm.search.models import KeyKind, SearchKey
from dealercrm.vehicles.models import CarModel, MileageReading, Vehicle, VehicleOwnership
from dealercrm.vehicles.services import (
    VehicleEditConflict,
    car_model_create,
    car_model_update,
    mileage_reading_add,
    vehicle_create,
    vehicle_transfer,
    vehicle_update,
)
from dealercrm.vehicles.validators import with_check_digit
from tests.vehicles.factories import (
    CarModelFactory,
    CustomerFactory,
    MileageReadingFactory,
    VehicleFactory,
    make_vin,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _today(time_machine):
    """Rules about 'today' (no future readings) run on a fixed day: 2025-06-15 in Shanghai."""
    time_machine.move_to(datetime.datetime(2025, 6, 15, 10, 0, tzinfo=SHANGHAI), tick=False)


SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
SAIC_VIN = with_check_digit("LSVAU0330N1234567")


@pytest.fixture
def owner(dealer):
    return CustomerFactory(dealer=dealer, name="张三")


def test_create_makes_the_current_ownership_decodes_the_vin_and_audits(manager, owner):
    # Given a customer and a catalogue model
    car_model = CarModelFactory()
    # When a vehicle is created for them
    vehicle = vehicle_create(
        actor=manager,
        owner=owner,
        vin=SAIC_VIN.lower(),
        car_model=car_model,
        plate="沪a·12345",
        purchase_date=datetime.date(2025, 1, 10),
        delivery_date=datetime.date(2025, 1, 20),
        mileage_km=12,
    )
    # Then VIN and plate are normalised, the VIN decoded, the owner's ownership open
    vehicle.refresh_from_db()
    assert vehicle.vin == SAIC_VIN
    assert vehicle.plate == "沪A12345"
    assert vehicle.manufacturer == "SAIC Volkswagen"
    assert vehicle.vin_model_year == 2022
    assert vehicle.owner_id == owner.pk
    assert vehicle.dealer_id == owner.dealer_id
    ownership = VehicleOwnership.objects.get(vehicle=vehicle)
    assert (ownership.customer_id, ownership.started_on, ownership.ended_on) == (
        owner.pk,
        datetime.date(2025, 1, 10),
        None,
    )
    # And the first reading is the delivery's, the vehicle's mileage follows it
    reading = MileageReading.objects.get(vehicle=vehicle)
    assert (reading.km, reading.read_on, reading.source) == (
        12,
        datetime.date(2025, 1, 20),
        "delivery",
    )
    assert vehicle.current_mileage_km == 12
    # And the creation is audit-logged
    event = AuditEvent.objects.get(target_type="vehicles.vehicle", target_id=str(vehicle.pk))
    assert event.action == AuditEvent.Action.CREATE
    assert event.actor == manager
    assert event.dealer_id == owner.dealer_id
    # And the owner can be found by VIN tail and plate
    terms = set(
        SearchKey.objects.filter(customer_id=owner.pk, vehicle_id=vehicle.pk).values_list(
            "kind", "term"
        )
    )
    assert (KeyKind.VIN_TAIL, SAIC_VIN[::-1]) in terms
    assert any(kind == KeyKind.PLATE and term.startswith("沪A12345") for kind, term in terms)


def test_invalid_vin_and_plate_are_field_errors_and_nothing_is_saved(manager, owner):
    wrong_check = SAIC_VIN[:8] + ("0" if SAIC_VIN[8] != "0" else "1") + SAIC_VIN[9:]
    with pytest.raises(ValidationError) as exc:
        vehicle_create(actor=manager, owner=owner, vin=wrong_check, plate="沪I12345")
    errors = exc.value.message_dict
    assert f"should be {SAIC_VIN[8]}" in errors["vin"][0]
    assert "I or O" in errors["plate"][0]
    assert not Vehicle.objects.exists()
    assert not VehicleOwnership.objects.exists()
    assert not AuditEvent.objects.filter(target_type="vehicles.vehicle").exists()


def test_the_same_vin_twice_at_one_dealer_is_refused(manager, owner):
    vehicle_create(actor=manager, owner=owner, vin=SAIC_VIN)
    with pytest.raises(ValidationError) as exc:
        vehicle_create(actor=manager, owner=owner, vin=SAIC_VIN)
    assert "vin" in exc.value.message_dict
    assert Vehicle.objects.count() == 1


def test_the_same_vin_at_another_dealer_is_allowed(manager, owner, other_dealer):
    vehicle_create(actor=manager, owner=owner, vin=SAIC_VIN)
    other_owner = CustomerFactory(dealer=other_dealer)
    vehicle_create(actor=None, owner=other_owner, vin=SAIC_VIN)
    assert Vehicle.objects.filter(vin=SAIC_VIN).count() == 2


def test_a_plate_already_on_another_vehicle_of_the_dealer_is_refused(manager, owner):
    VehicleFactory(dealer=owner.dealer, plate="沪A12345")
    with pytest.raises(ValidationError) as exc:
        vehicle_create(actor=manager, owner=owner, vin=SAIC_VIN, plate="沪A 12345")
    assert "沪A12345" in exc.value.message_dict["plate"][0]


def test_delivery_before_purchase_is_refused(manager, owner):
    with pytest.raises(ValidationError) as exc:
        vehicle_create(
            actor=manager,
            owner=owner,
            vin=SAIC_VIN,
            purchase_date=datetime.date(2025, 2, 1),
            delivery_date=datetime.date(2025, 1, 1),
        )
    assert "delivery_date" in exc.value.message_dict


def test_update_changes_fields_bumps_version_audits_and_refreshes_search(manager):
    vehicle = VehicleFactory()
    new_vin = make_vin(999)
    updated = vehicle_update(
        actor=manager, vehicle=vehicle, version=vehicle.version, vin=new_vin, colour="黑"
    )
    assert (updated.vin, updated.colour, updated.version) == (new_vin, "黑", vehicle.version + 1)
    event = AuditEvent.objects.get(action=AuditEvent.Action.CHANGE, target_id=str(vehicle.pk))
    assert event.changes["colour"] == ["珍珠白", "黑"]
    assert SearchKey.objects.filter(vehicle_id=vehicle.pk, kind=KeyKind.VIN, term=new_vin).exists()


def test_a_stale_version_is_refused_and_nothing_is_overwritten(manager, consultant):
    # Given two people who opened the same vehicle at version 1
    vehicle = VehicleFactory()
    vehicle_update(actor=manager, vehicle=vehicle, version=1, colour="红")
    # When the second saves with the version they read
    with pytest.raises(VehicleEditConflict) as exc:
        vehicle_update(actor=consultant, vehicle=vehicle, version=1, colour="蓝")
    # Then they are told who saved first, and the first save stands
    assert str(manager) in exc.value.messages[0]
    vehicle.refresh_from_db()
    assert (vehicle.colour, vehicle.version) == ("红", 2)


def test_update_with_invalid_plate_changes_nothing(manager):
    vehicle = VehicleFactory()
    with pytest.raises(ValidationError) as exc:
        vehicle_update(actor=manager, vehicle=vehicle, version=1, plate="沪A1", colour="红")
    assert "plate" in exc.value.message_dict
    vehicle.refresh_from_db()
    assert (vehicle.colour, vehicle.version) == ("珍珠白", 1)


def test_transfer_ends_the_old_ownership_and_starts_the_new(manager):
    # Given a vehicle owned since 2024-03-01
    vehicle = VehicleFactory()
    old_owner = vehicle.owner
    new_owner = CustomerFactory(dealer=vehicle.dealer, name="李四")
    # When it changes hands
    vehicle_transfer(
        actor=manager, vehicle=vehicle, new_owner=new_owner, on=datetime.date(2025, 5, 1)
    )
    # Then the history shows both owners, the vehicle the new one
    rows = list(
        VehicleOwnership.objects.filter(vehicle=vehicle)
        .order_by("started_on")
        .values_list("customer_id", "started_on", "ended_on")
    )
    assert rows == [
        (old_owner.pk, datetime.date(2024, 3, 1), datetime.date(2025, 5, 1)),
        (new_owner.pk, datetime.date(2025, 5, 1), None),
    ]
    vehicle.refresh_from_db()
    assert vehicle.owner_id == new_owner.pk
    # And the plate now finds the new owner, not the old
    plate_owners = set(
        SearchKey.objects.filter(vehicle_id=vehicle.pk, kind=KeyKind.VIN).values_list(
            "customer_id", flat=True
        )
    )
    assert plate_owners == {new_owner.pk}
    assert AuditEvent.objects.filter(
        target_id=str(vehicle.pk), changes__owner=[old_owner.pk, new_owner.pk]
    ).exists()


def test_transfer_to_the_current_owner_or_another_dealers_customer_is_refused(
    manager, other_dealer
):
    vehicle = VehicleFactory()
    with pytest.raises(ValidationError) as exc:
        vehicle_transfer(actor=manager, vehicle=vehicle, new_owner=vehicle.owner)
    assert "new_owner" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        vehicle_transfer(
            actor=manager, vehicle=vehicle, new_owner=CustomerFactory(dealer=other_dealer)
        )
    assert "new_owner" in exc.value.message_dict
    assert VehicleOwnership.objects.filter(vehicle=vehicle).count() == 1


def test_transfer_before_the_current_ownership_began_is_refused(manager):
    vehicle = VehicleFactory()
    new_owner = CustomerFactory(dealer=vehicle.dealer)
    with pytest.raises(ValidationError) as exc:
        vehicle_transfer(
            actor=manager, vehicle=vehicle, new_owner=new_owner, on=datetime.date(2023, 1, 1)
        )
    assert "2024-03-01" in exc.value.message_dict["on"][0]


def test_mileage_keeps_the_latest_reading_on_the_vehicle(manager):
    vehicle = VehicleFactory()
    mileage_reading_add(actor=manager, vehicle=vehicle, km=1000, read_on=datetime.date(2024, 6, 1))
    mileage_reading_add(actor=manager, vehicle=vehicle, km=9000, read_on=datetime.date(2025, 6, 1))
    # An older reading added later does not replace the latest
    mileage_reading_add(actor=manager, vehicle=vehicle, km=5000, read_on=datetime.date(2024, 12, 1))
    vehicle.refresh_from_db()
    assert vehicle.current_mileage_km == 9000
    assert MileageReading.objects.filter(vehicle=vehicle).count() == 3


def test_mileage_going_backwards_is_refused_with_a_clear_message(manager):
    # Given a reading of 20,000 km on 2025-01-01
    vehicle = VehicleFactory()
    mileage_reading_add(actor=manager, vehicle=vehicle, km=20000, read_on=datetime.date(2025, 1, 1))
    # When a lower reading is added at a later date
    with pytest.raises(ValidationError) as exc:
        mileage_reading_add(
            actor=manager, vehicle=vehicle, km=15000, read_on=datetime.date(2025, 3, 1)
        )
    # Then it is refused, naming the earlier reading, and nothing is saved
    message = exc.value.message_dict["km"][0]
    assert "20000" in message and "2025-01-01" in message
    assert MileageReading.objects.filter(vehicle=vehicle).count() == 1
    vehicle.refresh_from_db()
    assert vehicle.current_mileage_km == 20000


def test_a_reading_higher_than_a_later_one_is_refused(manager):
    vehicle = VehicleFactory()
    mileage_reading_add(actor=manager, vehicle=vehicle, km=8000, read_on=datetime.date(2025, 3, 1))
    with pytest.raises(ValidationError) as exc:
        mileage_reading_add(
            actor=manager, vehicle=vehicle, km=9000, read_on=datetime.date(2025, 1, 1)
        )
    assert "8000" in exc.value.message_dict["km"][0]


def test_a_reading_in_the_future_is_refused(manager):
    vehicle = VehicleFactory()
    with pytest.raises(ValidationError) as exc:
        mileage_reading_add(actor=manager, vehicle=vehicle, km=1, read_on=datetime.date(2025, 7, 1))
    assert "read_on" in exc.value.message_dict


def test_catalogue_needs_the_permission(consultant):
    with pytest.raises(PermissionDenied):
        car_model_create(
            actor=consultant,
            make="极光",
            series="S7",
            name="Pro",
            model_year=2025,
            body_type="suv",
            powertrain="bev",
            list_price=Decimal("259800"),
        )
    assert not CarModel.objects.exists()


def test_oem_admin_creates_and_updates_a_catalogue_model(make_user, brand):
    oem_admin = make_user(Role.OEM_ADMIN)
    car_model = car_model_create(
        actor=oem_admin,
        brand=brand,
        make="极光",
        series="S7",
        name="Pro",
        model_year=2025,
        body_type="suv",
        powertrain="bev",
        seats=7,
        list_price="259800",
    )
    assert car_model.list_price == Decimal("259800.00")
    car_model_update(actor=oem_admin, car_model=car_model, list_price=Decimal("249800"))
    car_model.refresh_from_db()
    assert car_model.list_price == Decimal("249800.00")
    actions = list(
        AuditEvent.objects.filter(target_type="vehicles.carmodel").values_list("action", flat=True)
    )
    assert sorted(actions) == ["change", "create"]


def test_catalogue_refuses_bad_input_naming_the_fields(make_user):
    oem_admin = make_user(Role.OEM_ADMIN)
    with pytest.raises(ValidationError) as exc:
        car_model_create(
            actor=oem_admin,
            make="",
            series="S7",
            name="Pro",
            model_year=1800,
            body_type="tank",
            powertrain="bev",
            seats=0,
            list_price="-1",
        )
    assert set(exc.value.message_dict) == {"make", "model_year", "body_type", "seats", "list_price"}


def test_catalogue_refuses_a_duplicate_model(make_user):
    oem_admin = make_user(Role.OEM_ADMIN)
    existing = CarModelFactory(make="极光", series="S7", name="Pro", model_year=2025)
    with pytest.raises(ValidationError) as exc:
        car_model_create(
            actor=oem_admin,
            make=existing.make,
            series=existing.series,
            name=existing.name,
            model_year=2025,
            body_type="suv",
            powertrain="bev",
            list_price="1",
        )
    assert "name" in exc.value.message_dict


def test_factory_reading_does_not_break_the_rules():
    reading = MileageReadingFactory()
    assert reading.dealer_id == reading.vehicle.dealer_id
