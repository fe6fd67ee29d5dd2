"""Recalls: which cars a campaign matches, the VIN list, launching across dealers (the nearest
dealer for closed dealers' owners, the copy), notification without consent, completion."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from dealercrm.core.permissions import Role
from dealercrm.customers.models import Customer, CustomerPhone, SourceChannel
from dealercrm.messaging.models import Message, MessageStatus, Purpose
from dealercrm.service.models import (
    RecallCampaign,
    RecallCampaignVin,
    RecallStatus,
    RecallVehicle,
    RepairKind,
    RepairOrderStatus,
)
from dealercrm.service.models.recalls import RecallAssignment, RecallCampaignStatus
from dealercrm.service.services import recalls as services
from dealercrm.vehicles.models import Vehicle
from dealercrm.vehicles.validators import with_check_digit
from dealercrm.worklist.models import Task
from tests.core.factories import DealerFactory, RegionFactory, UserFactory
from tests.customers.factories import CustomerFactory, CustomerPhoneFactory
from tests.service.factories import RepairOrderFactory
from tests.vehicles.factories import CarModelFactory, VehicleFactory


def vin(serial: int) -> str:
    """A valid VIN ordered by its serial (the serial comes before the check digit)."""
    return with_check_digit(f"LSV{serial:05d}0RA123456")


def car(dealer, *, serial: int, model=None, phone: bool = True, **owner):
    customer = CustomerFactory(dealer=dealer, **owner)
    if phone:
        CustomerPhoneFactory(customer=customer)
    return VehicleFactory(
        dealer=dealer, owner=customer, vin=vin(serial), **({"car_model": model} if model else {})
    )


@pytest.fixture
def oem_admin(make_user):
    return make_user(Role.OEM_ADMIN)


def campaign_for(brand, **fields) -> RecallCampaign:
    models = fields.pop("car_models", [])
    listed = fields.pop("vins", [])
    fields.setdefault("code", f"RC{RecallCampaign.objects.count() + 1}")
    fields.setdefault("title", "安全气囊气体发生器更换")
    campaign = RecallCampaign.objects.create(brand=brand, **fields)
    campaign.car_models.set(models)
    RecallCampaignVin.objects.bulk_create(
        RecallCampaignVin(campaign=campaign, vin=v) for v in listed
    )
    return campaign


def matched_vins(campaign) -> set[str]:
    return set(services.matching_vehicles(campaign).values_list("vin", flat=True))


# --- matching ---------------------------------------------------------------------------------


def test_a_campaign_matches_its_models_within_the_model_years(dealer, brand):
    # Given two models of the brand in two model years, and a car of another model
    sedan_2023 = CarModelFactory(brand=brand, series="召回S7", model_year=2023)
    sedan_2024 = CarModelFactory(brand=brand, series="召回S7", model_year=2024)
    suv = CarModelFactory(brand=brand, series="召回X5", model_year=2024)
    old = car(dealer, serial=1, model=sedan_2023)
    new = car(dealer, serial=2, model=sedan_2024)
    car(dealer, serial=3, model=suv)
    # When the campaign names both sedans, model year 2024 only
    campaign = campaign_for(brand, car_models=[sedan_2023, sedan_2024], model_year_from=2024)
    # Then only the 2024 sedan matches
    assert matched_vins(campaign) == {new.vin}
    assert old.vin not in matched_vins(campaign)


def test_a_vin_range_compares_vins_as_strings_and_includes_both_ends(dealer, brand):
    # Given cars with serials 10, 20, 30, 40
    cars = {n: car(dealer, serial=n) for n in (10, 20, 30, 40)}
    # When the range runs from the 20th to the 30th VIN
    campaign = campaign_for(brand, vin_from=vin(20), vin_to=vin(30))
    # Then both ends are in, the others out
    assert matched_vins(campaign) == {cars[20].vin, cars[30].vin}


def test_a_vin_list_adds_its_cars_whatever_the_other_criteria(dealer, brand):
    # Given a campaign for one model, and a car of another model on its VIN list
    model = CarModelFactory(brand=brand, series="召回S9")
    in_model = car(dealer, serial=1, model=model)
    listed = car(dealer, serial=2)
    car(dealer, serial=3)
    campaign = campaign_for(brand, car_models=[model], vins=[listed.vin])
    # Then the model's car and the listed car match
    assert matched_vins(campaign) == {in_model.vin, listed.vin}


def test_another_brands_cars_never_match(dealer, brand):
    # Given a car of the same VIN range at a dealer of another brand
    foreign = DealerFactory(brand__code="other", brand__name="别家")
    car(foreign, serial=5)
    mine = car(dealer, serial=6)
    campaign = campaign_for(brand, vin_from=vin(1), vin_to=vin(9))
    assert matched_vins(campaign) == {mine.vin}


# --- the VIN list -----------------------------------------------------------------------------


def test_an_uploaded_vin_list_reports_every_row(brand, oem_admin):
    # Given a draft campaign and a file with a header, good VINs, a repeat, a bad check digit,
    # a short VIN and a blank line
    campaign = campaign_for(brand)
    good1, good2 = vin(1), vin(2)
    bad_check = good1[:8] + ("0" if good1[8] != "0" else "1") + good1[9:]
    text = "\n".join(["VIN", good1, good2, good1.lower(), bad_check, "LSV123", "", good2])
    # When it is uploaded
    with translation.override("en"):
        report = services.recall_vins_upload(
            actor=oem_admin, campaign=campaign, file=io.BytesIO(text.encode()), filename="list.txt"
        )
    # Then two are accepted, the repeats are duplicates, the bad ones listed with row and reason
    assert report.accepted == [good1, good2]
    assert report.duplicates == [(4, good1), (8, good2)]
    assert [(p.row, p.value) for p in report.rejected] == [(5, bad_check), (6, "LSV123")]
    assert "check digit" in report.rejected[0].reason
    assert "17 characters" in report.rejected[1].reason
    assert report.blank == 2  # the header and the empty line
    # … and the counts add up to the file's rows
    assert report.rows == 8
    assert set(campaign.vins.values_list("vin", flat=True)) == {good1, good2}


def test_an_xlsx_vin_list_is_read_from_its_first_column(brand, oem_admin):
    import xlsxwriter

    campaign = campaign_for(brand)
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer)
    sheet = book.add_worksheet()
    for row, value in enumerate(["车架号", vin(7), "not a vin"]):
        sheet.write(row, 0, value)
    book.close()
    buffer.seek(0)

    report = services.recall_vins_upload(
        actor=oem_admin, campaign=campaign, file=buffer, filename="召回清单.xlsx"
    )

    assert report.accepted == [vin(7)]
    assert [p.row for p in report.rejected] == [3]
    assert report.rows == 3


def test_a_launched_campaigns_vin_list_cannot_change(brand, oem_admin):
    campaign = campaign_for(brand, status=RecallCampaignStatus.ACTIVE)
    with pytest.raises(ValidationError) as caught:
        services.recall_vins_upload(
            actor=oem_admin, campaign=campaign, file=io.BytesIO(b""), filename="x.txt"
        )
    assert "file" in caught.value.message_dict


# --- the campaign's fields --------------------------------------------------------------------


def test_a_campaign_with_a_bad_vin_range_is_refused_naming_the_field(oem_admin, english):
    with pytest.raises(ValidationError) as caught:
        services.recall_campaign_create(
            actor=oem_admin, code="R1", title="刹车", vin_from=vin(9), vin_to="LSV12"
        )
    assert set(caught.value.message_dict) == {"vin_to"}

    with pytest.raises(ValidationError) as caught:
        services.recall_campaign_create(
            actor=oem_admin, code="R1", title="刹车", vin_from=vin(9), vin_to=vin(1)
        )
    assert "before the first" in caught.value.message_dict["vin_to"][0]


def test_a_campaign_code_is_unique_per_brand(oem_admin):
    services.recall_campaign_create(actor=oem_admin, code="R1", title="刹车")
    with pytest.raises(ValidationError) as caught:
        services.recall_campaign_create(actor=oem_admin, code="R1", title="别的")
    assert "code" in caught.value.message_dict


# --- launching --------------------------------------------------------------------------------


def launch(campaign, actor):
    # Tests run in the network scope (conftest), as the job does.
    return services.recall_launch(actor=actor, campaign=campaign)


def test_launch_finds_cars_at_every_dealer_and_notifies_each_owner_once(
    dealer, other_dealer, brand, oem_admin
):
    # Given cars at two dealers, an owner with two cars, a care specialist at the first dealer
    specialist = UserFactory(role=Role.CARE_SPECIALIST, dealer=dealer)
    a = car(dealer, serial=1)
    b = VehicleFactory(dealer=dealer, owner=a.owner, vin=vin(2))
    c = car(other_dealer, serial=3)
    car(dealer, serial=50)  # outside the range
    campaign = campaign_for(brand, vin_from=vin(1), vin_to=vin(9))

    report = launch(campaign, oem_admin)

    # Then each car is one row at its own dealer, notified
    rows = RecallVehicle.objects.filter(campaign=campaign)
    assert {(r.dealer_id, r.vin) for r in rows} == {
        (dealer.pk, a.vin),
        (dealer.pk, b.vin),
        (other_dealer.pk, c.vin),
    }
    assert {r.status for r in rows} == {RecallStatus.NOTIFIED}
    assert report.own_dealer == 3
    # … each owner got one recall message (service purpose), each car a call task
    messages = Message.objects.filter(purpose=Purpose.RECALL)
    assert sorted(m.customer_id for m in messages) == sorted([a.owner_id, c.owner_id])
    tasks = Task.objects.filter(source_kind=services.TASK_SOURCE_KIND)
    assert tasks.count() == 3
    assert {t.assignee_id for t in tasks if t.dealer_id == dealer.pk} == {specialist.pk}
    assert {t.assignee_id for t in tasks if t.dealer_id == other_dealer.pk} == {None}
    campaign.refresh_from_db()
    assert campaign.status == RecallCampaignStatus.ACTIVE
    assert campaign.launch_report["tasks"] == 3


def test_launching_twice_adds_and_sends_nothing_twice(dealer, brand, oem_admin):
    car(dealer, serial=1)
    car(dealer, serial=2)
    campaign = campaign_for(brand, vin_from=vin(1), vin_to=vin(9))
    launch(campaign, oem_admin)
    counts = (RecallVehicle.objects.count(), Message.objects.count(), Task.objects.count())

    # When launched again (a double click, or the job re-run)
    report = launch(campaign, oem_admin)

    assert (RecallVehicle.objects.count(), Message.objects.count(), Task.objects.count()) == counts
    assert report.own_dealer == 0 and report.tasks == 0 and report.messages == 0


def test_a_relaunch_picks_up_a_car_added_since_and_only_that_one(dealer, brand, oem_admin):
    car(dealer, serial=1)
    campaign = campaign_for(brand, vin_from=vin(1), vin_to=vin(9))
    launch(campaign, oem_admin)
    late = car(dealer, serial=2)

    report = launch(campaign, oem_admin)

    assert report.own_dealer == 1 and report.tasks == 1
    assert RecallVehicle.objects.filter(campaign=campaign, vin=late.vin).count() == 1


def test_a_car_known_to_two_dealers_is_recalled_once(dealer, other_dealer, brand, oem_admin):
    first = car(dealer, serial=1)
    car(other_dealer, serial=1)  # the same VIN, known to the second dealer too
    campaign = campaign_for(brand, vins=[first.vin])

    launch(campaign, oem_admin)

    assert RecallVehicle.objects.filter(campaign=campaign).count() == 1


def test_notification_needs_no_marketing_consent(dealer, brand, oem_admin):
    # Given an owner who never consented to anything
    vehicle = car(dealer, serial=1)
    campaign = campaign_for(brand, vins=[vehicle.vin])

    launch(campaign, oem_admin)

    (message,) = Message.objects.filter(customer_id=vehicle.owner_id)
    assert message.status == MessageStatus.QUEUED
    assert message.purpose == Purpose.RECALL
    assert campaign.title in message.body
    assert "回T退订" not in message.body


def test_an_owner_without_a_phone_gets_a_call_task_and_stays_to_notify(dealer, brand, oem_admin):
    vehicle = car(dealer, serial=1, phone=False)
    campaign = campaign_for(brand, vins=[vehicle.vin])

    launch(campaign, oem_admin)

    row = RecallVehicle.objects.get(campaign=campaign)
    assert row.status == RecallStatus.OPEN
    assert Task.objects.filter(source_id=str(row.pk)).count() == 1
    # … and a second launch adds no second task
    launch(campaign, oem_admin)
    assert Task.objects.filter(source_id=str(row.pk)).count() == 1


def test_a_dealers_own_recall_template_is_used(dealer, brand, oem_admin):
    from dealercrm.messaging.models import Channel, MessageTemplate

    MessageTemplate.objects.create(
        dealer=dealer,
        name="召回",
        purpose=Purpose.RECALL,
        channel=Channel.SMS,
        body="{{ salutation }}您好，召回：{{ recall_title }}，请来店。",
    )
    vehicle = car(dealer, serial=1)
    campaign = campaign_for(brand, vins=[vehicle.vin])

    launch(campaign, oem_admin)

    assert "请来店" in Message.objects.get().body


# --- closed dealers: the nearest active dealer, and the copy ------------------------------------


@pytest.fixture
def closed_dealer(brand):
    region = RegionFactory(brand=brand)
    return DealerFactory(
        brand=brand, region=region, province="江苏省", city="苏州市", is_active=False
    )


def test_a_closed_dealers_owner_goes_to_the_active_dealer_in_their_city(
    brand, closed_dealer, oem_admin
):
    # Given active dealers in Nanjing and Shanghai, and an owner of a closed dealer in Nanjing
    shanghai = DealerFactory(brand=brand, province="上海市", city="上海市")
    nanjing = DealerFactory(brand=brand, province="江苏省", city="南京市")
    orphan = car(closed_dealer, serial=1, province="江苏省", city="南京市", name="王小明")
    campaign = campaign_for(brand, vins=[orphan.vin])

    report = launch(campaign, oem_admin)

    # Then Nanjing takes the car, as a copy of owner and car
    (row,) = RecallVehicle.objects.filter(campaign=campaign)
    assert row.dealer_id == nanjing.pk
    assert row.assigned_how == RecallAssignment.NEAREST_DEALER
    copy = Vehicle.objects.get(pk=row.vehicle_id)
    assert copy.dealer_id == nanjing.pk and copy.vin == orphan.vin
    owner = Customer.objects.get(pk=row.customer_id)
    assert owner.dealer_id == nanjing.pk and owner.name == "王小明"
    assert owner.source_channel == SourceChannel.OTHER
    assert list(CustomerPhone.objects.filter(customer=owner).values_list("number", flat=True)) == [
        orphan.owner.phones.get().number
    ]
    assert owner.interactions.get().subject
    assert report.copied_customers == 1 and report.nearest_dealer == 1
    # … the closed dealer's records are untouched, Shanghai got nothing
    assert Vehicle.objects.get(pk=orphan.pk).dealer_id == closed_dealer.pk
    assert not RecallVehicle.objects.filter(dealer=shanghai).exists()
    # … and the copy is notified like any other car
    assert row.status == RecallStatus.NOTIFIED


def test_without_a_dealer_in_the_city_the_province_then_the_region_takes_the_owner(
    brand, closed_dealer, oem_admin
):
    # Given an active dealer in the province (another city) and one in the closed dealer's region
    in_region = DealerFactory(
        brand=brand, region=closed_dealer.region, province="浙江省", city="杭州市"
    )
    in_province = DealerFactory(brand=brand, province="江苏省", city="无锡市")
    by_province = car(closed_dealer, serial=1, province="江苏省", city="常州市")
    by_region = car(closed_dealer, serial=2, province="安徽省", city="合肥市")
    campaign = campaign_for(brand, vins=[by_province.vin, by_region.vin])

    launch(campaign, oem_admin)

    assigned = dict(RecallVehicle.objects.values_list("vin", "dealer_id"))
    assert assigned == {by_province.vin: in_province.pk, by_region.vin: in_region.pk}


def test_the_copy_is_made_once_across_launches(brand, closed_dealer, oem_admin):
    DealerFactory(brand=brand, province="江苏省", city="苏州市")
    orphan = car(closed_dealer, serial=1)
    campaign = campaign_for(brand, vins=[orphan.vin])
    launch(campaign, oem_admin)
    customers = Customer.objects.count()

    launch(campaign, oem_admin)

    assert Customer.objects.count() == customers
    assert Vehicle.objects.filter(vin=orphan.vin).count() == 2  # the original and one copy


# --- the job ------------------------------------------------------------------------------------


def test_a_big_campaign_launches_as_a_job_with_progress(
    dealer, other_dealer, brand, oem_admin, monkeypatch, django_capture_on_commit_callbacks
):
    car(dealer, serial=1)
    car(other_dealer, serial=2)
    campaign = campaign_for(brand, vin_from=vin(1), vin_to=vin(9))
    monkeypatch.setattr(services, "INLINE_LAUNCH_LIMIT", 1)

    with django_capture_on_commit_callbacks(execute=True):
        result = services.recall_launch_start(actor=oem_admin, campaign=campaign)

    assert result is None  # queued (Huey runs it at once in tests)
    campaign.refresh_from_db()
    assert campaign.launch_state == "done"
    assert (campaign.launch_done, campaign.launch_total) == (2, 2)
    assert RecallVehicle.objects.filter(campaign=campaign).count() == 2


def test_a_campaign_without_criteria_is_not_launched(brand, oem_admin):
    campaign = campaign_for(brand)
    with pytest.raises(ValidationError) as caught:
        launch(campaign, oem_admin)
    assert "car_models" in caught.value.message_dict


def test_a_dealer_user_cannot_launch(brand, dealer, make_user):
    campaign = campaign_for(brand, vins=[vin(1)])
    manager = make_user(Role.DEALER_MANAGER)
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.recall_launch(actor=manager, campaign=campaign)


# --- completion ---------------------------------------------------------------------------------


def test_a_closed_recall_repair_order_completes_the_car(
    dealer, brand, oem_admin, django_capture_on_commit_callbacks
):
    from dealercrm.service.events import repair_order_event

    vehicle = car(dealer, serial=1)
    campaign = campaign_for(brand, vins=[vehicle.vin])
    launch(campaign, oem_admin)
    order = RepairOrderFactory(
        vehicle=vehicle,
        kind=RepairKind.RECALL,
        recall_campaign=campaign,
        status=RepairOrderStatus.CLOSED,
        closed_at=vehicle.created_at,
    )

    with django_capture_on_commit_callbacks(execute=True):
        repair_order_event("closed", order.pk, dealer.pk)

    row = RecallVehicle.objects.get(campaign=campaign)
    assert row.status == RecallStatus.COMPLETED
    assert row.repair_order_id == order.pk
    assert row.completed_at == order.closed_at


def test_a_recall_repair_order_without_campaign_completes_the_cars_open_recall(
    dealer, brand, oem_admin, django_capture_on_commit_callbacks
):
    from dealercrm.service.events import repair_order_event

    vehicle = car(dealer, serial=1)
    campaign = campaign_for(brand, vins=[vehicle.vin])
    launch(campaign, oem_admin)
    maintenance = RepairOrderFactory(vehicle=vehicle, status=RepairOrderStatus.CLOSED)
    recall = RepairOrderFactory(
        vehicle=vehicle, kind=RepairKind.RECALL, status=RepairOrderStatus.CLOSED
    )

    with django_capture_on_commit_callbacks(execute=True):
        repair_order_event("closed", maintenance.pk, dealer.pk)
    assert RecallVehicle.objects.get().status == RecallStatus.NOTIFIED

    with django_capture_on_commit_callbacks(execute=True):
        repair_order_event("closed", recall.pk, dealer.pk)
    assert RecallVehicle.objects.get().repair_order_id == recall.pk


def test_a_recall_call_that_booked_an_appointment_marks_the_car_booked(dealer, brand, oem_admin):
    from dealercrm.worklist.services import task_complete

    specialist = UserFactory(role=Role.CARE_SPECIALIST, dealer=dealer)
    vehicle = car(dealer, serial=1)
    campaign = campaign_for(brand, vins=[vehicle.vin])
    launch(campaign, oem_admin)
    task = Task.objects.get(source_kind=services.TASK_SOURCE_KIND)

    task_complete(actor=specialist, task=task, outcome="appointment_booked: 周六上午")

    assert RecallVehicle.objects.get(campaign=campaign).status == RecallStatus.BOOKED


def test_opening_and_closing_a_recall_repair_order_completes_the_recall(
    dealer, brand, oem_admin, make_user, django_capture_on_commit_callbacks
):
    from dealercrm.service.services.repair_orders import repair_order_close, repair_order_open

    advisor = make_user(Role.SERVICE_ADVISOR)
    vehicle = car(dealer, serial=1)
    campaign = campaign_for(brand, vins=[vehicle.vin])
    launch(campaign, oem_admin)

    with django_capture_on_commit_callbacks(execute=True):
        order = repair_order_open(
            actor=advisor,
            dealer_id=dealer.pk,
            vin=vehicle.vin,
            kind=RepairKind.RECALL,
            recall_campaign=campaign,
        )
        repair_order_close(actor=advisor, repair_order=order)

    row = RecallVehicle.objects.get(campaign=campaign)
    assert (row.status, row.repair_order_id) == (RecallStatus.COMPLETED, order.pk)
