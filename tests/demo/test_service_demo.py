"""The demo's after-sales history: visits that read the odometer (only the deliberate typos go
back), repair orders as a DMS exports them, bays never double-booked, a recall in progress,
rescues, owners who drift away for a cause the data shows, and the care engine's first run."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from decimal import Decimal

import pytest

from dealercrm.bookings.models import Booking, Resource, ResourceKind
from dealercrm.care.models import CareRuleSetting, CareRun, SeasonalCheck
from dealercrm.core.models import Dealer, User
from dealercrm.core.tenancy import DealerScope, dealer_scope
from dealercrm.customers.models import Customer
from dealercrm.feedback.models import Complaint
from dealercrm.service.models import (
    Appointment,
    MaintenanceSchedule,
    RecallCampaign,
    RecallVehicle,
    RepairOrder,
    RepairOrderLine,
    RescueCall,
    ServicePolicy,
)
from dealercrm.vehicles.models import MileageReading, Vehicle
from dealercrm.worklist.models import Task
from tests.demo.conftest import demo_fixture

TODAY = dt.date(2026, 6, 30)
NOW = dt.datetime(2026, 6, 30, 2, 0, tzinfo=dt.UTC)
CUSTOMERS = 3000


demo = demo_fixture(customers=CUSTOMERS, seed=11, today=TODAY)


pytestmark = pytest.mark.usefixtures("db_demo")


def test_visits_read_the_odometer_and_only_the_deliberate_typos_go_back():
    readings = defaultdict(list)
    for vid, read_on, rid, km, flag in MileageReading.objects.values_list(
        "vehicle_id", "read_on", "id", "km", "flag"
    ):
        readings[vid].append((read_on, rid, km, flag))
    by_id = {
        rid: (vid, read_on, km)
        for vid, items in readings.items()
        for read_on, rid, km, _flag in items
    }
    # Every repair order recorded the reading of its day, with the mileage it says.
    for vid, opened, km, reading_id in RepairOrder.objects.values_list(
        "vehicle_id", "opened_at", "mileage_km", "mileage_reading_id"
    ):
        assert by_id[reading_id] == (vid, opened.date(), km)
    # Believed readings never go back; the mistyped ones (flagged by the forecast's pass in the
    # finishing step) are a handful, each a digit dropped or added.
    flagged = 0
    total = 0
    for items in readings.values():
        items.sort()
        believed = [km for _d, _i, km, flag in items if not flag]
        assert believed == sorted(believed)
        total += len(items)
        for position, (_d, _i, km, flag) in enumerate(items):
            if flag:
                flagged += 1
                before = [k for _d2, _i2, k, f in items[:position] if not f]
                assert before
                assert km < before[-1] or km > 3 * before[-1]
    assert 0 < flagged <= total * 0.01
    # The car's mileage is its last believed reading.
    for vid, current in Vehicle.objects.exclude(delivery_date=None).values_list(
        "id", "current_mileage_km"
    ):
        believed = [km for _d, _i, km, flag in sorted(readings[vid]) if not flag]
        assert current == believed[-1]


def test_maintenance_follows_the_schedule_whichever_comes_first():
    assert MaintenanceSchedule.objects.filter(car_model=None).exists()
    schedules = dict(
        MaintenanceSchedule.objects.exclude(car_model=None).values_list(
            "car_model_id", "first_months"
        )
    )
    deliveries = dict(
        Vehicle.objects.exclude(delivery_date=None).values_list("id", "delivery_date")
    )
    models = dict(Vehicle.objects.values_list("id", "car_model_id"))
    firsts = RepairOrder.objects.filter(kind="maintenance", customer_concern="首次保养")
    gaps = []
    for vid, opened in firsts.values_list("vehicle_id", "opened_at"):
        months = schedules[models[vid]]
        gaps.append((opened.date() - deliveries[vid]).days / (months * 30.44))
    # The first maintenance comes by the time limit or before it (the km limit), give or take
    # some lateness.
    assert len(gaps) > 300
    assert sum(1 for g in gaps if g <= 1.2) / len(gaps) > 0.9
    assert sum(1 for g in gaps if g < 0.9) > 0  # some drive enough to reach the km first


def test_repair_orders_are_as_a_dms_exports_them():
    advisors = {
        u.id: (u.dealer_id, u.display_name) for u in User.objects.filter(role="service_advisor")
    }
    lines = defaultdict(list)
    for ro_id, line_type, amount, dealer_id in RepairOrderLine.objects.values_list(
        "repair_order_id", "line_type", "amount", "dealer_id"
    ):
        lines[ro_id].append((line_type, amount, dealer_id))
    kinds = Counter()
    numbers = Counter()
    for ro in RepairOrder.objects.all().iterator():
        kinds[ro.kind] += 1
        numbers[(ro.dealer_id, ro.number)] += 1
        own = lines[ro.id]
        assert 1 <= len(own) <= 6
        assert all(d == ro.dealer_id for _t, _a, d in own)
        labour = sum((a for t, a, _d in own if t == "labour"), Decimal(0))
        assert ro.labour_amount == labour
        assert ro.total_amount == ro.labour_amount + ro.parts_amount == sum(a for _t, a, _d in own)
        assert advisors[ro.advisor_id] == (ro.dealer_id, ro.advisor_name)
        assert ro.payer == {"accident": "insurer", "recall": "warranty"}.get(ro.kind, ro.payer)
        if ro.kind == "warranty":
            assert ro.payer == "warranty"
        assert ro.opened_at <= NOW
        if ro.closed_at is not None:
            assert ro.opened_at < ro.closed_at <= NOW
    assert set(kinds) == {
        "maintenance", "repair", "warranty", "accident", "recall", "inspection", "accessory",
    }  # fmt: skip
    assert kinds["maintenance"] > kinds["repair"] > kinds["accident"]
    assert max(numbers.values()) == 1


def test_one_or_two_repair_orders_per_dealer_are_open_today_from_an_arrived_appointment():
    open_orders = list(
        RepairOrder.objects.filter(status="open").values_list(
            "dealer_id", "opened_at", "appointment_id"
        )
    )
    per_dealer = Counter(d for d, _o, _a in open_orders)
    assert len(per_dealer) >= 1 and max(per_dealer.values()) <= 2
    assert all(opened.date() == TODAY for _d, opened, _a in open_orders)
    arrived = dict(Appointment.objects.filter(status="arrived").values_list("id", "starts_at"))
    assert all(arrived[a].date() == TODAY for _d, _o, a in open_orders if a is not None)


def test_no_bay_is_booked_twice_at_once_and_days_stay_within_capacity():
    bays = set(Resource.objects.filter(kind=ResourceKind.SERVICE_BAY).values_list("id", flat=True))
    assert bays
    by_bay = defaultdict(list)
    for resource_id, starts, ends in Booking.objects.filter(resource_id__in=bays).values_list(
        "resource_id", "starts_at", "ends_at"
    ):
        by_bay[resource_id].append((starts, ends))
    assert sum(len(v) for v in by_bay.values()) > 50
    for slots in by_bay.values():
        slots.sort()
        for (_s1, e1), (s2, _e2) in zip(slots, slots[1:], strict=False):
            assert e1 <= s2
    capacity = dict(ServicePolicy.objects.values_list("dealer_id", "daily_capacity"))
    per_day = Counter()
    for dealer_id, starts, booking_id, status in Appointment.objects.values_list(
        "dealer_id", "starts_at", "bay_booking_id", "status"
    ):
        assert TODAY <= starts.date() < TODAY + dt.timedelta(days=14)
        # 08:30–17:30 in China is 00:30–09:30 UTC.
        assert dt.time(0, 30) <= starts.time() <= dt.time(8, 30)
        assert booking_id is not None
        if status == "booked":
            assert starts > NOW
        per_day[(dealer_id, starts.date())] += 1
    assert all(n <= capacity[d] for (d, _day), n in per_day.items())


def test_a_recall_is_in_progress_with_some_cars_repaired():
    campaign = RecallCampaign.objects.get()
    assert campaign.status == "active"
    assert TODAY - dt.timedelta(days=60) <= campaign.launched_at.date() < TODAY
    assert campaign.car_models.exists()
    statuses = Counter(RecallVehicle.objects.values_list("status", flat=True))
    total = sum(statuses.values())
    assert total > 20
    assert 0 < statuses["completed"] < total
    assert 0.2 <= statuses["completed"] / total <= 0.6
    assert statuses["notified"] and statuses["booked"]
    models = set(campaign.car_models.values_list("id", flat=True))
    for vehicle_id, status, ro_id, dealer_id in RecallVehicle.objects.values_list(
        "vehicle_id", "status", "repair_order_id", "dealer_id"
    ):
        assert Vehicle.objects.get(id=vehicle_id).car_model_id in models
        if status == "completed":
            ro = RepairOrder.objects.get(id=ro_id)
            assert (ro.kind, ro.recall_campaign_id, ro.dealer_id) == (
                "recall",
                campaign.id,
                dealer_id,
            )
            assert ro.opened_at >= campaign.launched_at
        else:
            assert ro_id is None


def _owners_table() -> dict[int, tuple[bool, bool, bool]]:
    """Owners whose first car is two years old or more: (lapsed, complained, other city)."""
    last_visit: dict[int, dt.date] = {}
    for cid, opened in RepairOrder.objects.values_list("customer_id", "opened_at"):
        day = opened.date()
        if day > last_visit.get(cid, dt.date.min):
            last_visit[cid] = day
    first_delivery: dict[int, dt.date] = {}
    for cid, delivered in Vehicle.objects.exclude(delivery_date=None).values_list(
        "owner_id", "delivery_date"
    ):
        first_delivery[cid] = min(delivered, first_delivery.get(cid, delivered))
    # Complaints after a visit (the feedback generator adds delivery-delay ones after orders).
    complained = set(
        Complaint.objects.exclude(repair_order=None).values_list("customer_id", flat=True)
    )
    dealer_city = dict(Dealer.objects.values_list("id", "city"))
    far = {
        cid
        for cid, dealer_id, city in Customer.objects.values_list("id", "dealer_id", "city")
        if city != dealer_city[dealer_id]
    }
    return {
        cid: ((TODAY - last_visit[cid]).days >= 365, cid in complained, cid in far)
        for cid, delivered in first_delivery.items()
        if (TODAY - delivered).days >= 2 * 365 and cid in last_visit
    }


def _rate(rows: list[tuple[bool, ...]]) -> float:
    return sum(1 for r in rows if r[0]) / len(rows)


def test_owners_after_a_complaint_lapse_at_least_twice_as_often():
    # Given the owners with two years of history, by whether they complained
    table = list(_owners_table().values())
    with_complaint = [r for r in table if r[1]]
    without = [r for r in table if not r[1]]
    # Then the cross-tab shows the cause: lapse rate with a complaint ≥ 2× without
    assert len(with_complaint) >= 50
    assert _rate(with_complaint) >= 2 * _rate(without)
    # and owners living in another city than their dealer lapse more often too
    far = [r for r in table if r[2]]
    near = [r for r in table if not r[2]]
    assert len(far) >= 30
    assert _rate(far) > 1.2 * _rate(near)


def test_complaints_follow_a_closed_visit_of_the_same_customer():
    categories = Counter()
    for customer_id, ro_id, created, category, dealer_id in Complaint.objects.exclude(
        category="delivery_delay"
    ).values_list("customer_id", "repair_order_id", "created_at", "category", "dealer_id"):
        ro = RepairOrder.objects.get(id=ro_id)
        assert (ro.customer_id, ro.dealer_id) == (customer_id, dealer_id)
        assert ro.closed_at < created <= NOW
        categories[category] += 1
    assert set(categories) == {"service_quality", "waiting_time", "staff_attitude"}


def test_lapsed_owners_stopped_visiting_12_to_30_months_ago():
    lost = set(Customer.objects.filter(lifecycle_stage="lost").values_list("id", flat=True))
    last_visit: dict[int, dt.date] = {}
    for cid, opened in RepairOrder.objects.filter(customer_id__in=lost).values_list(
        "customer_id", "opened_at"
    ):
        last_visit[cid] = max(opened.date(), last_visit.get(cid, dt.date.min))
    assert len(last_visit) > 50
    months = [(TODAY - d).days / 30.44 for d in last_visit.values()]
    assert all(m >= 12 for m in months)
    assert sum(1 for m in months if m <= 31) / len(months) > 0.9


def test_rescue_calls_have_their_times_in_order_and_outcomes():
    calls = list(
        RescueCall.objects.values_list(
            "called_at", "dispatched_at", "arrived_at", "done_at", "outcome", "repair_order_id"
        )
    )
    assert len(calls) >= 12
    for called, dispatched, arrived, done, outcome, ro_id in calls:
        assert TODAY - dt.timedelta(days=200) <= called.date() < TODAY
        assert called < dispatched < arrived < done <= NOW
        assert (ro_id is not None) == (outcome == "towed_to_dealer")
    assert len({c[4] for c in calls}) >= 2


def test_dates_for_the_care_rules_fall_in_the_coming_weeks():
    cars = Vehicle.objects.exclude(delivery_date=None)
    soon = TODAY + dt.timedelta(days=60)
    insurance = cars.filter(insurance_expiry__gte=TODAY, insurance_expiry__lte=soon).count()
    warranty = cars.filter(warranty_end__gte=TODAY, warranty_end__lte=soon).count()
    assert insurance / cars.count() > 0.08
    assert warranty > 0


def test_the_org_has_workshops_seasonal_checks_and_some_dealers_own_care_settings():
    dealers = Dealer.objects.count()
    assert ServicePolicy.objects.count() == dealers
    kinds = Counter(Resource.objects.values_list("dealer_id", "kind"))
    for dealer_id in Dealer.objects.values_list("id", flat=True):
        assert kinds[(dealer_id, ResourceKind.SERVICE_BAY)] >= 6
        assert kinds[(dealer_id, ResourceKind.LOAN_CAR)] >= 2
    checks = {(c.region.code if c.region else None, c.code) for c in SeasonalCheck.objects.all()}
    assert {(None, "winter"), ("north", "winter"), ("south", "rainy_season")} <= checks
    assert 1 <= CareRuleSetting.objects.values("dealer_id").distinct().count() <= 3


def test_the_care_engine_ran_for_today_and_left_tasks_on_the_worklists():
    runs = CareRun.objects.filter(run_on=TODAY, triggered_by="demo")
    assert runs.count() == Dealer.objects.count()
    tasks = Task.objects.filter(source_kind="care.occurrence")
    assert tasks.count() > 0
    assert tasks.exclude(assignee=None).exists()


def test_everything_is_scoped_to_its_dealer():
    vehicle_dealer = dict(Vehicle.objects.values_list("id", "dealer_id"))
    customer_dealer = dict(Customer.objects.values_list("id", "dealer_id"))
    resource_dealer = dict(Resource.objects.values_list("id", "dealer_id"))
    for dealer_id, vid, cid in RepairOrder.objects.values_list(
        "dealer_id", "vehicle_id", "customer_id"
    ):
        assert vehicle_dealer[vid] == customer_dealer[cid] == dealer_id
    for model in (Appointment, Complaint, RecallVehicle, RescueCall):
        for dealer_id, vid, cid in model.objects.values_list(
            "dealer_id", "vehicle_id", "customer_id"
        ):
            assert vehicle_dealer[vid] == customer_dealer[cid] == dealer_id
    for dealer_id, resource_id in Booking.objects.values_list("dealer_id", "resource_id"):
        assert resource_dealer[resource_id] == dealer_id
    booking_dealer = dict(Booking.objects.values_list("id", "dealer_id"))
    for dealer_id, booking_id in Appointment.objects.values_list("dealer_id", "bay_booking_id"):
        assert booking_dealer[booking_id] == dealer_id
    # A dealer's scope sees its own repair orders only.
    dealer = Dealer.objects.order_by("id").first()
    with dealer_scope(DealerScope.for_dealers([dealer.id])):
        assert set(RepairOrder.objects.values_list("dealer_id", flat=True)) == {dealer.id}
