"""What each `<entity>_id` in a URL or API path stands for, and how to make one for the matrix.

The tenancy matrix fills every id in every route from this registry. A route whose id has no
entry here fails the matrix with a message pointing to this file: that is how a new kind of
object cannot slip past the tenancy checks. To add one, write a maker (it gets a MakeContext and
returns the new object's id) and register it in OBJECTS with its owner:

- "dealer":  the object belongs to ctx.dealer; a user of another dealer must get 404;
- "brand":   it belongs to the brand (regions, dealer groups); another brand's user gets 404;
- "network": shared by everyone (the model catalogue); no 404 check.

Makers write with the ORM directly (no services, no other app's factories), so the matrix only
depends on the models and keeps working while the apps change.
"""

from __future__ import annotations

import datetime
import itertools
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Literal

from django.conf import settings
from django.utils import timezone

from dealercrm.bookings.models import Booking, Resource, ResourceKind
from dealercrm.care.models import CareOccurrence, CareRuleCode, SeasonalCheck
from dealercrm.core.models import ApiToken, AuditEvent, Brand, Dealer, DealerGroup, Department, User
from dealercrm.core.permissions import Role
from dealercrm.customers.models import Customer, CustomerPhone, Interaction, Tag
from dealercrm.dataquality.models import (
    DuplicateCandidate,
    ExportJob,
    ExportKind,
    ExportStatus,
    ImportKind,
    ImportRun,
    MergeRecord,
)
from dealercrm.feedback.models import (
    Complaint,
    ComplaintChannel,
    Question,
    QuestionKind,
    Questionnaire,
    QuestionnaireVersion,
    ResponseChannel,
    SurveyChannel,
    SurveyInvitation,
    SurveyKind,
    SurveyResponse,
    VersionStatus,
)
from dealercrm.feedback.services.survey_links import new_token
from dealercrm.messaging.models import (
    Campaign,
    Message,
    MessageStatus,
    MessageTemplate,
    ProviderConfig,
    Purpose,
)
from dealercrm.sales.models import (
    Activity,
    Lead,
    OemDispatch,
    Order,
    OrderMilestone,
    Quote,
    TestDrive,
)
from dealercrm.service.models import (
    Appointment,
    AppointmentChannel,
    MaintenanceSchedule,
    RecallCampaign,
    RecallVehicle,
    RepairKind,
    RepairOrder,
    RescueCall,
    RescueProblem,
)
from dealercrm.vehicles.models import CarModel, MileageReading, Vehicle, VehicleOwnership
from dealercrm.vehicles.validators import with_check_digit
from dealercrm.worklist.models import Notice, Task, TaskKind

_serial = itertools.count(1)


@dataclass
class MakeContext:
    """Where to make objects, and for whom (the user who will ask for them)."""

    brand: Brand
    dealer: Dealer
    user: User
    made: dict[str, int | str] = field(default_factory=dict)

    def get_or_make(self, kwarg: str) -> int | str:
        if kwarg not in self.made:
            self.made[kwarg] = OBJECTS[kwarg].make(self)
        return self.made[kwarg]


@dataclass(frozen=True)
class ObjectKind:
    make: Callable[[MakeContext], int | str]  # an id, or a key/token for public pages
    owner: Literal["dealer", "brand", "network"]


# --- VINs with a right ISO 3779 check digit, so pages that decode them see a real one ---------


def valid_vin(serial: int) -> str:
    body = f"LFV2A21K0R{serial % 10_000_000:07d}"  # WMI of a Chinese maker, model year R (2024)
    return with_check_digit(body)


# --- makers -----------------------------------------------------------------------------------


def _dealer_user_or_none(ctx: MakeContext) -> User | None:
    return ctx.user if ctx.user.dealer_id == ctx.dealer.pk else None


def make_customer(ctx: MakeContext) -> int:
    n = next(_serial)
    # Assigned to the asking user, so a sales consultant (who sees only their own) sees it too.
    customer = Customer.objects.create(
        dealer=ctx.dealer,
        name=f"矩阵客户{n}",
        assigned_consultant=_dealer_user_or_none(ctx),
    )
    CustomerPhone.objects.create(
        dealer=ctx.dealer, customer=customer, number=f"+86138{n % 100_000_000:08d}", is_primary=True
    )
    return customer.pk


def make_car_model(ctx: MakeContext) -> int:
    n = next(_serial)
    return CarModel.objects.create(
        brand=ctx.brand,
        make="极光",
        series="星辰",
        name=f"矩阵版{n}",
        model_year=2025,
        body_type="suv",
        powertrain="bev",
        seats=5,
        list_price=Decimal("199800.00"),
    ).pk


def make_vehicle(ctx: MakeContext) -> int:
    n = next(_serial)
    owner_id = ctx.get_or_make("customer_id")
    vehicle = Vehicle.objects.create(
        dealer=ctx.dealer,
        vin=valid_vin(n),
        car_model_id=ctx.get_or_make("car_model_id"),
        plate=f"沪A{n % 100_000:05d}",
        owner_id=owner_id,
        current_mileage_km=12_000,
    )
    VehicleOwnership.objects.create(
        dealer=ctx.dealer, vehicle=vehicle, customer_id=owner_id, started_on="2024-05-01"
    )
    MileageReading.objects.create(
        dealer=ctx.dealer, vehicle=vehicle, km=12_000, read_on="2025-05-01", source="service"
    )
    return vehicle.pk


def make_staff_member(ctx: MakeContext) -> int:
    n = next(_serial)
    user = User(
        username=f"matrix-staff-{n}",
        display_name=f"矩阵员工{n}",
        role=Role.SALES_CONSULTANT,
        dealer=ctx.dealer,
        brand=ctx.brand,
    )
    user.set_password("pass-Word-123")
    user.save()
    return user.pk


def make_dealer(ctx: MakeContext) -> int:
    return ctx.dealer.pk


def make_region(ctx: MakeContext) -> int:
    return ctx.dealer.region_id


def make_dealer_group(ctx: MakeContext) -> int:
    return DealerGroup.objects.create(brand=ctx.brand, name=f"矩阵集团{next(_serial)}").pk


def make_department(ctx: MakeContext) -> int:
    department, _ = Department.objects.get_or_create(
        dealer=ctx.dealer, kind=Department.Kind.SALES, defaults={"name": "销售部"}
    )
    return department.pk


def make_api_token(ctx: MakeContext) -> int:
    # A token of the asking user: token pages act on one's own tokens.
    key = ApiToken.generate_key()
    return ApiToken.objects.create(
        user=ctx.user, name="matrix", prefix=key[:8], key_hash=ApiToken.hash_key(key)
    ).pk


def make_interaction(ctx: MakeContext) -> int:
    return Interaction.objects.create(
        dealer=ctx.dealer,
        customer_id=ctx.get_or_make("customer_id"),
        kind=Interaction.Kind.NOTE,
        author=ctx.user,
        body="矩阵备注",
    ).pk


def make_tag(ctx: MakeContext) -> int:
    return Tag.objects.create(dealer=ctx.dealer, name=f"矩阵标签{next(_serial)}").pk


def make_mileage_reading(ctx: MakeContext) -> int:
    vehicle_id = ctx.get_or_make("vehicle_id")
    return MileageReading.objects.filter(vehicle_id=vehicle_id).values_list("pk", flat=True)[0]


def make_audit_event(ctx: MakeContext) -> int:
    return AuditEvent.objects.create(
        dealer=ctx.dealer,
        actor=ctx.user,
        action=AuditEvent.Action.CHANGE,
        target_type="customers.customer",
        target_id="1",
    ).pk


def make_message_template(ctx: MakeContext) -> int:
    return MessageTemplate.objects.create(
        dealer=ctx.dealer,
        name=f"矩阵模板{next(_serial)}",
        purpose=Purpose.MAINTENANCE_REMINDER,
        channel="sms",
        body="{{ salutation }}，您的爱车该保养了。",
    ).pk


def make_message(ctx: MakeContext) -> int:
    # Queued, so the pages' and the API's cancel has something to cancel; to a customer the
    # asking user sees (a consultant sees only their own customers' messages).
    n = next(_serial)
    customer_id = ctx.get_or_make("customer_id")
    return Message.objects.create(
        dealer=ctx.dealer,
        customer_id=customer_id,
        channel="sms",
        purpose=Purpose.PERSONAL,
        to_address=f"+86139{n % 100_000_000:08d}",
        body="矩阵短信",
        source_id=f"matrix-{n}",
        idempotency_key=f"manual:matrix-{n}:{customer_id}:sms",
        status=MessageStatus.QUEUED,
        created_by=_dealer_user_or_none(ctx),
    ).pk


def make_campaign(ctx: MakeContext) -> int:
    # A draft, so queueing it is allowed once.
    return Campaign.objects.create(
        dealer=ctx.dealer,
        name=f"矩阵活动{next(_serial)}",
        template_id=ctx.get_or_make("template_id"),
        audience={"customer_ids": [ctx.get_or_make("customer_id")]},
    ).pk


def make_task(ctx: MakeContext) -> int:
    # Assigned to the asking user: everyone who works tasks sees their own.
    return Task.objects.create(
        dealer=ctx.dealer,
        customer_id=ctx.get_or_make("customer_id"),
        assignee=_dealer_user_or_none(ctx),
        kind=TaskKind.CALL,
        title="矩阵回访",
    ).pk


def make_provider_config(ctx: MakeContext) -> int:
    config, _ = ProviderConfig.objects.get_or_create(
        dealer=ctx.dealer, channel="sms", defaults={"kind": "file"}
    )
    return config.pk


def make_webhook_key(ctx: MakeContext) -> str:
    """The unguessable part of a provider's webhook URLs (public pages: checked by the key)."""
    config = ProviderConfig.objects.get(pk=ctx.get_or_make("provider_config_id"))
    return config.webhook_key


def make_unsubscribe_token(ctx: MakeContext) -> str:
    """A genuine signed unsubscribe token of a customer (the public unsubscribe page)."""
    from dealercrm.messaging.unsubscribe import unsubscribe_token

    return unsubscribe_token(dealer_id=ctx.dealer.pk, customer_id=ctx.get_or_make("customer_id"))


# --- sales and bookings ---------------------------------------------------------------------


def make_lead(ctx: MakeContext) -> int:
    # Assigned to the asking user, so a sales consultant (who sees only their own) sees it too.
    return Lead.objects.create(
        dealer=ctx.dealer,
        customer_id=ctx.get_or_make("customer_id"),
        channel="walk_in",
        consultant=_dealer_user_or_none(ctx),
        car_model_id=ctx.get_or_make("car_model_id"),
        stage="contacted",
        first_contacted_at=timezone.now(),
    ).pk


def make_activity(ctx: MakeContext) -> int:
    return Activity.objects.create(
        dealer=ctx.dealer,
        lead_id=ctx.get_or_make("lead_id"),
        customer_id=ctx.get_or_make("customer_id"),
        kind="call",
        result="reached",
        author=_dealer_user_or_none(ctx),
    ).pk


def make_dispatch(ctx: MakeContext) -> int:
    n = next(_serial)
    day = timezone.localdate() + datetime.timedelta(days=10)
    return OemDispatch.objects.create(
        dealer=ctx.dealer,
        car_model_id=ctx.get_or_make("car_model_id"),
        prospect_name=f"矩阵意向{n}",
        phone=f"+86139{n % 100_000_000:08d}",
        test_drive_date=day,
        release_on=day - datetime.timedelta(days=3),
    ).pk


def make_resource(ctx: MakeContext) -> int:
    n = next(_serial)
    return Resource.objects.create(
        dealer=ctx.dealer,
        kind=ResourceKind.DEMO_CAR,
        name=f"矩阵试驾车{n}",
        car_model_id=ctx.get_or_make("car_model_id"),
    ).pk


def _tomorrow_at(hour: int) -> datetime.datetime:
    day = timezone.localdate() + datetime.timedelta(days=1)
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, 0)))


def make_booking(ctx: MakeContext) -> int:
    return Booking.objects.create(
        dealer=ctx.dealer,
        resource_id=ctx.get_or_make("resource_id"),
        starts_at=_tomorrow_at(15),
        ends_at=_tomorrow_at(16),
        customer_id=ctx.get_or_make("customer_id"),
        created_by=_dealer_user_or_none(ctx),
    ).pk


def make_test_drive(ctx: MakeContext) -> int:
    starts = _tomorrow_at(10)
    ends = _tomorrow_at(11)
    booking = Booking.objects.create(
        dealer=ctx.dealer,
        resource_id=ctx.get_or_make("resource_id"),
        starts_at=starts,
        ends_at=ends,
        customer_id=ctx.get_or_make("customer_id"),
        source_kind="sales.test_drive",
    )
    return TestDrive.objects.create(
        dealer=ctx.dealer,
        lead_id=ctx.get_or_make("lead_id"),
        customer_id=ctx.get_or_make("customer_id"),
        demo_car_id=ctx.get_or_make("resource_id"),
        booking=booking,
        starts_at=starts,
        ends_at=ends,
        consultant=_dealer_user_or_none(ctx),
    ).pk


def make_quote(ctx: MakeContext) -> int:
    return Quote.objects.create(
        dealer=ctx.dealer,
        lead_id=ctx.get_or_make("lead_id"),
        customer_id=ctx.get_or_make("customer_id"),
        car_model_id=ctx.get_or_make("car_model_id"),
        quote_date=timezone.localdate(),
        vehicle_price=Decimal("199800.00"),
        purchase_tax=Decimal("17681.42"),
        total=Decimal("222481.42"),
        share_token=secrets.token_urlsafe(32),
    ).pk


def make_order(ctx: MakeContext) -> int:
    n = next(_serial)
    today = timezone.localdate()
    order = Order.objects.create(
        dealer=ctx.dealer,
        number=f"MX{n:08d}",
        lead_id=ctx.get_or_make("lead_id"),
        customer_id=ctx.get_or_make("customer_id"),
        car_model_id=ctx.get_or_make("car_model_id"),
        ordered_on=today,
        price=Decimal("199800.00"),
        deposit=Decimal("5000.00"),
        promised_delivery_on=today + datetime.timedelta(days=30),
        expected_delivery_on=today + datetime.timedelta(days=30),
        tracking_token=secrets.token_urlsafe(32),
    )
    OrderMilestone.objects.create(dealer=ctx.dealer, order=order, stage="ordered", reached_on=today)
    return order.pk


def make_notice(ctx: MakeContext) -> int:
    recipient = _dealer_user_or_none(ctx) or _any_staff(ctx)
    return Notice.objects.create(dealer=ctx.dealer, recipient=recipient, title="矩阵提醒").pk


def _any_staff(ctx: MakeContext) -> User:
    return User.objects.get(pk=ctx.get_or_make("staff_id"))


def make_quote_share_token(ctx: MakeContext) -> str:
    return Quote.objects.get(pk=ctx.get_or_make("quote_id")).share_token


def make_order_tracking_token(ctx: MakeContext) -> str:
    return Order.objects.get(pk=ctx.get_or_make("order_id")).tracking_token


# --- After-sales and care ---------------------------------------------------------------------


def make_appointment(ctx: MakeContext) -> int:
    return Appointment.objects.create(
        dealer=ctx.dealer,
        customer_id=ctx.get_or_make("customer_id"),
        vehicle_id=ctx.get_or_make("vehicle_id"),
        channel=AppointmentChannel.PHONE,
        starts_at=_tomorrow_at(10),
        ends_at=_tomorrow_at(11),
        advisor=_dealer_user_or_none(ctx),
    ).pk


def make_repair_order(ctx: MakeContext) -> int:
    n = next(_serial)
    vehicle = Vehicle.objects.unscoped().get(pk=ctx.get_or_make("vehicle_id"))
    return RepairOrder.objects.create(
        dealer=ctx.dealer,
        number=f"RO{n:08d}",
        vehicle=vehicle,
        customer_id=ctx.get_or_make("customer_id"),
        vin=vehicle.vin,
        kind=RepairKind.MAINTENANCE,
        opened_at=timezone.now() - datetime.timedelta(hours=2),
        mileage_km=12000,
    ).pk


def make_recall_campaign(ctx: MakeContext) -> int:
    n = next(_serial)
    return RecallCampaign.objects.create(
        brand=ctx.brand, code=f"RC-{n}", title=f"矩阵召回{n}", vin_from="A", vin_to="Z"
    ).pk


def make_recall_vehicle(ctx: MakeContext) -> int:
    vehicle = Vehicle.objects.unscoped().get(pk=ctx.get_or_make("vehicle_id"))
    return RecallVehicle.objects.create(
        dealer=ctx.dealer,
        campaign_id=ctx.get_or_make("recall_id"),
        vehicle=vehicle,
        customer_id=ctx.get_or_make("customer_id"),
        vin=vehicle.vin,
    ).pk


def make_rescue_call(ctx: MakeContext) -> int:
    return RescueCall.objects.create(
        dealer=ctx.dealer,
        customer_id=ctx.get_or_make("customer_id"),
        vehicle_id=ctx.get_or_make("vehicle_id"),
        caller_phone="+8613900000000",
        location="矩阵路1号",
        problem=RescueProblem.BATTERY,
    ).pk


def make_care_occurrence(ctx: MakeContext) -> int:
    n = next(_serial)
    customer_id = ctx.get_or_make("customer_id")
    task = Task.objects.create(
        dealer=ctx.dealer,
        customer_id=customer_id,
        kind=TaskKind.CALL,
        title="矩阵关怀",
        assignee=_dealer_user_or_none(ctx),
        source_kind="care.occurrence",
    )
    occurrence = CareOccurrence.objects.create(
        dealer=ctx.dealer,
        rule=CareRuleCode.INSURANCE_RENEWAL,
        subject_id=ctx.get_or_make("vehicle_id"),
        occasion=f"matrix/{n}",
        customer_id=customer_id,
        vehicle_id=ctx.get_or_make("vehicle_id"),
        due_on=timezone.localdate(),
        task=task,
    )
    Task.objects.filter(pk=task.pk).update(source_id=str(occurrence.pk))
    return occurrence.pk


def make_complaint(ctx: MakeContext) -> int:
    return Complaint.objects.create(
        dealer=ctx.dealer,
        customer_id=ctx.get_or_make("customer_id"),
        channel=ComplaintChannel.PHONE,
        description="矩阵投诉",
    ).pk


def make_questionnaire(ctx: MakeContext) -> int:
    """A dealer's own questionnaire with a published version of one NPS question."""
    questionnaire = Questionnaire.objects.create(
        brand=ctx.brand, dealer=ctx.dealer, kind=SurveyKind.AFTER_SERVICE, title="矩阵问卷"
    )
    version = QuestionnaireVersion.objects.create(
        questionnaire=questionnaire,
        number=1,
        status=VersionStatus.PUBLISHED,
        published_at=timezone.now(),
    )
    Question.objects.create(version=version, position=1, kind=QuestionKind.NPS, text="推荐吗？")
    Questionnaire.objects.filter(pk=questionnaire.pk).update(current_version=version)
    return questionnaire.pk


def make_question(ctx: MakeContext) -> int:
    questionnaire = Questionnaire.objects.get(pk=ctx.get_or_make("questionnaire_id"))
    return Question.objects.filter(version_id=questionnaire.current_version_id).first().pk


def _make_invitation(ctx: MakeContext) -> tuple[int, str]:
    n = next(_serial)
    questionnaire = Questionnaire.objects.get(pk=ctx.get_or_make("questionnaire_id"))
    token, token_hash = new_token()
    invitation = SurveyInvitation.objects.create(
        dealer=ctx.dealer,
        version_id=questionnaire.current_version_id,
        kind=SurveyKind.AFTER_SERVICE,
        customer_id=ctx.get_or_make("customer_id"),
        source_kind="matrix",
        source_id=str(n),
        channel=SurveyChannel.SMS,
        token_hash=token_hash,
        sent_at=timezone.now(),
        status="sent",
        expires_at=timezone.now() + datetime.timedelta(days=7),
    )
    return invitation.pk, token


def make_invitation(ctx: MakeContext) -> int:
    return _make_invitation(ctx)[0]


def make_survey_token(ctx: MakeContext) -> str:
    return _make_invitation(ctx)[1]


def make_response(ctx: MakeContext) -> int:
    invitation_id, _token = _make_invitation(ctx)
    invitation = SurveyInvitation.objects.get(pk=invitation_id)
    return SurveyResponse.objects.create(
        dealer=ctx.dealer,
        invitation=invitation,
        version_id=invitation.version_id,
        kind=invitation.kind,
        customer_id=invitation.customer_id,
        channel=ResponseChannel.WEB,
        nps=9,
    ).pk


def make_import_run(ctx: MakeContext) -> int:
    n = next(_serial)
    return ImportRun.objects.create(
        dealer=ctx.dealer,
        kind=ImportKind.CUSTOMERS,
        filename=f"matrix-{n}.csv",
        stored_path=f"matrix/{n}.csv",
        file_sha256=f"{n:064d}",
        file_format="csv",
        encoding="utf-8",
        headers=["姓名", "手机"],
        created_by=_dealer_user_or_none(ctx),
    ).pk


def _two_customers(ctx: MakeContext) -> tuple[int, int]:
    n = next(_serial)
    first = Customer.objects.create(dealer=ctx.dealer, name=f"重复甲{n}")
    second = Customer.objects.create(dealer=ctx.dealer, name=f"重复乙{n}")
    return first.pk, second.pk


def make_duplicate_candidate(ctx: MakeContext) -> int:
    a, b = _two_customers(ctx)
    return DuplicateCandidate.objects.create(
        dealer=ctx.dealer,
        customer_a_id=a,
        customer_b_id=b,
        other_dealer=ctx.dealer,
        score=0.9,
        reasons={"blocks": ["phone"], "name": 0.9},
    ).pk


def make_merge(ctx: MakeContext) -> int:
    a, b = _two_customers(ctx)
    Customer.objects.filter(pk=b).update(is_deleted=True)
    return MergeRecord.objects.create(
        dealer=ctx.dealer, survivor_id=a, merged_id=b, snapshot={}, choices={}
    ).pk


def make_export(ctx: MakeContext) -> int:
    # A finished export with its file (so the owner's download answers 200). An export belongs
    # to the user who asked for it: ctx.user is the one who will ask.
    job = ExportJob.objects.create(
        created_by=ctx.user,
        dealer=ctx.dealer if ctx.user.dealer_id else None,
        kind=ExportKind.CUSTOMERS,
        file_format="csv",
        status=ExportStatus.DONE,
        filename="customers.csv",
        finished_at=timezone.now(),
    )
    relative = f"{ctx.user.pk}/{job.pk}-matrix.csv"
    path = Path(settings.EXPORT_DIR) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xef\xbb\xbfid\r\n")
    ExportJob.objects.filter(pk=job.pk).update(stored_path=relative)
    return job.pk


def make_maintenance_schedule(ctx: MakeContext) -> int:
    schedule, _created = MaintenanceSchedule.objects.get_or_create(
        car_model_id=ctx.get_or_make("car_model_id")
    )
    return schedule.pk


def make_seasonal_check(ctx: MakeContext) -> int:
    n = next(_serial)
    return SeasonalCheck.objects.create(
        brand=ctx.brand,
        code=f"matrix-{n}",
        title="矩阵季节检查",
        season_starts_month=6,
        season_starts_day=1,
    ).pk


def make_care_rule(ctx: MakeContext) -> str:
    return CareRuleCode.INSURANCE_RENEWAL.value


OBJECTS: dict[str, ObjectKind] = {
    "customer_id": ObjectKind(make_customer, "dealer"),
    "car_model_id": ObjectKind(make_car_model, "network"),
    "vehicle_id": ObjectKind(make_vehicle, "dealer"),
    "user_id": ObjectKind(make_staff_member, "dealer"),
    "staff_id": ObjectKind(make_staff_member, "dealer"),
    "dealer_id": ObjectKind(make_dealer, "dealer"),
    "region_id": ObjectKind(make_region, "brand"),
    "group_id": ObjectKind(make_dealer_group, "brand"),
    "dealer_group_id": ObjectKind(make_dealer_group, "brand"),
    "department_id": ObjectKind(make_department, "dealer"),
    "token_id": ObjectKind(make_api_token, "dealer"),
    "interaction_id": ObjectKind(make_interaction, "dealer"),
    "tag_id": ObjectKind(make_tag, "dealer"),
    "reading_id": ObjectKind(make_mileage_reading, "dealer"),
    "mileage_reading_id": ObjectKind(make_mileage_reading, "dealer"),
    "event_id": ObjectKind(make_audit_event, "dealer"),
    "template_id": ObjectKind(make_message_template, "dealer"),
    "message_id": ObjectKind(make_message, "dealer"),
    "campaign_id": ObjectKind(make_campaign, "dealer"),
    "task_id": ObjectKind(make_task, "dealer"),
    "provider_config_id": ObjectKind(make_provider_config, "dealer"),
    "config_id": ObjectKind(make_provider_config, "dealer"),
    "lead_id": ObjectKind(make_lead, "dealer"),
    "activity_id": ObjectKind(make_activity, "dealer"),
    "dispatch_id": ObjectKind(make_dispatch, "dealer"),
    "resource_id": ObjectKind(make_resource, "dealer"),
    "booking_id": ObjectKind(make_booking, "dealer"),
    "test_drive_id": ObjectKind(make_test_drive, "dealer"),
    "quote_id": ObjectKind(make_quote, "dealer"),
    "order_id": ObjectKind(make_order, "dealer"),
    "notice_id": ObjectKind(make_notice, "dealer"),
    "appointment_id": ObjectKind(make_appointment, "dealer"),
    "repair_order_id": ObjectKind(make_repair_order, "dealer"),
    "recall_id": ObjectKind(make_recall_campaign, "brand"),
    "recall_vehicle_id": ObjectKind(make_recall_vehicle, "dealer"),
    "rescue_id": ObjectKind(make_rescue_call, "dealer"),
    "occurrence_id": ObjectKind(make_care_occurrence, "dealer"),
    "complaint_id": ObjectKind(make_complaint, "dealer"),
    "questionnaire_id": ObjectKind(make_questionnaire, "dealer"),
    "question_id": ObjectKind(make_question, "dealer"),
    "invitation_id": ObjectKind(make_invitation, "dealer"),
    "response_id": ObjectKind(make_response, "dealer"),
    "run_id": ObjectKind(make_import_run, "dealer"),
    "candidate_id": ObjectKind(make_duplicate_candidate, "dealer"),
    "merge_id": ObjectKind(make_merge, "dealer"),
    "export_id": ObjectKind(make_export, "dealer"),
    "schedule_id": ObjectKind(make_maintenance_schedule, "network"),
    "seasonal_check_id": ObjectKind(make_seasonal_check, "brand"),
    "rule": ObjectKind(make_care_rule, "network"),
    # Public pages only (webhooks, unsubscribe): text, not ids, so never offset for a 404 check.
    "webhook_key": ObjectKind(make_webhook_key, "network"),
    "token": ObjectKind(make_unsubscribe_token, "network"),
    "share_token": ObjectKind(make_quote_share_token, "network"),
    "tracking_token": ObjectKind(make_order_tracking_token, "network"),
    "survey_token": ObjectKind(make_survey_token, "network"),
}

# Query parameters a page needs to answer 200, by URL name: {parameter: registry kwarg}.
PAGE_QUERY: dict[str, dict[str, str]] = {
    "vehicles:create": {"customer": "customer_id"},
}
