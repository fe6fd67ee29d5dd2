"""Organisation services: who may create and change dealers and staff, enforced in the service."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from dealercrm.core.models import ApiToken, AuditEvent, Department, User
from dealercrm.core.permissions import Role
from dealercrm.core.services import (
    dealer_create,
    dealer_deactivate,
    region_create,
    staff_assignable_roles,
    staff_create,
    staff_deactivate,
    staff_reset_password,
    staff_update,
)
from tests.core.factories import BrandFactory, DealerFactory, RegionFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-Long-pass-4321"


def test_oem_admin_creates_a_dealer_with_its_three_departments_and_an_audit_event(make_user, brand):
    # given an OEM admin and a region of the brand
    admin = make_user(Role.OEM_ADMIN)
    region = RegionFactory(brand=brand)
    # when they create a dealer
    dealer = dealer_create(
        actor=admin, region=region, code="SH-099", name="上海新店", province="上海市", city="上海市"
    )
    # then it belongs to the brand, has sales, service and care departments, and is logged
    assert dealer.brand_id == brand.pk
    kinds = set(Department.objects.filter(dealer=dealer).values_list("kind", flat=True))
    assert kinds == {"sales", "service", "care"}
    event = AuditEvent.objects.get(target_type="core.dealer", target_id=str(dealer.pk))
    assert event.action == "create" and event.actor == admin and event.dealer_id == dealer.pk


def test_oem_admin_cannot_create_a_dealer_in_another_brands_region(make_user):
    admin = make_user(Role.OEM_ADMIN)
    foreign_region = RegionFactory(brand=BrandFactory(code="other", name="别的品牌"))
    with pytest.raises(PermissionDenied):
        dealer_create(
            actor=admin, region=foreign_region, code="X1", name="x", province="p", city="c"
        )


def test_dealer_admin_cannot_create_a_dealer(make_user, dealer):
    dealer_admin = make_user(Role.DEALER_ADMIN)
    with pytest.raises(PermissionDenied):
        dealer_create(
            actor=dealer_admin, region=dealer.region, code="X2", name="x", province="p", city="c"
        )


def test_duplicate_dealer_code_is_a_field_error_and_nothing_is_saved(make_user, dealer):
    admin = make_user(Role.OEM_ADMIN)
    with pytest.raises(ValidationError) as exc:
        dealer_create(
            actor=admin, region=dealer.region, code=dealer.code, name="x", province="p", city="c"
        )
    assert "code" in exc.value.message_dict
    assert not Department.objects.filter(dealer__name="x").exists()


def test_dealer_admin_creating_an_oem_admin_gets_a_role_error(make_user, dealer):
    dealer_admin = make_user(Role.DEALER_ADMIN)
    with pytest.raises(ValidationError) as exc:
        staff_create(
            actor=dealer_admin,
            username="sneaky",
            role=Role.OEM_ADMIN,
            password=PASSWORD,
            dealer=None,
        )
    assert "role" in exc.value.message_dict
    assert not User.objects.filter(username="sneaky").exists()


def test_dealer_admin_cannot_create_staff_at_another_dealer(make_user, other_dealer):
    dealer_admin = make_user(Role.DEALER_ADMIN)
    with pytest.raises(ValidationError) as exc:
        staff_create(
            actor=dealer_admin,
            username="elsewhere",
            role=Role.SALES_CONSULTANT,
            password=PASSWORD,
            dealer=other_dealer,
        )
    assert "dealer" in exc.value.message_dict


def test_dealer_admin_creates_a_consultant_in_a_department_of_their_dealer(make_user, dealer):
    dealer_admin = make_user(Role.DEALER_ADMIN)
    sales = Department.objects.create(dealer=dealer, kind="sales", name="销售部")
    member = staff_create(
        actor=dealer_admin,
        username="new-consultant",
        role=Role.SALES_CONSULTANT,
        password=PASSWORD,
        dealer=dealer,
        department=sales,
        display_name="王芳",
    )
    assert member.check_password(PASSWORD)
    assert member.brand_id == dealer.brand_id
    event = AuditEvent.objects.get(target_type="core.user", target_id=str(member.pk))
    assert event.dealer_id == dealer.pk
    assert "password" not in event.changes


def test_department_of_another_dealer_is_refused(make_user, dealer, other_dealer):
    dealer_admin = make_user(Role.DEALER_ADMIN)
    foreign = Department.objects.create(dealer=other_dealer, kind="sales", name="销售部")
    with pytest.raises(ValidationError) as exc:
        staff_create(
            actor=dealer_admin,
            username="x",
            role=Role.SALES_CONSULTANT,
            password=PASSWORD,
            dealer=dealer,
            department=foreign,
        )
    assert "department" in exc.value.message_dict


def test_dealer_admin_cannot_touch_another_dealers_staff(make_user, other_dealer):
    dealer_admin = make_user(Role.DEALER_ADMIN)
    stranger = make_user(Role.SALES_CONSULTANT, dealer_=other_dealer)
    with pytest.raises(PermissionDenied):
        staff_update(actor=dealer_admin, member=stranger, display_name="改名")
    with pytest.raises(PermissionDenied):
        staff_deactivate(actor=dealer_admin, member=stranger)
    with pytest.raises(PermissionDenied):
        staff_reset_password(actor=dealer_admin, member=stranger)


def test_dealer_admin_cannot_promote_staff_to_a_network_role(make_user):
    dealer_admin = make_user(Role.DEALER_ADMIN)
    member = make_user(Role.SALES_CONSULTANT)
    with pytest.raises(ValidationError) as exc:
        staff_update(actor=dealer_admin, member=member, role=Role.SYSTEM_ADMIN)
    assert "role" in exc.value.message_dict
    member.refresh_from_db()
    assert member.role == Role.SALES_CONSULTANT


def test_oem_admin_manages_staff_of_any_dealer_of_the_brand_and_oem_staff(make_user, other_dealer):
    admin = make_user(Role.OEM_ADMIN)
    member = staff_create(
        actor=admin,
        username="bj-advisor",
        role=Role.SERVICE_ADVISOR,
        password=PASSWORD,
        dealer=other_dealer,
    )
    analyst = staff_create(
        actor=admin, username="analyst2", role=Role.OEM_ANALYST, password=PASSWORD
    )
    assert member.dealer == other_dealer
    assert analyst.dealer is None and analyst.brand_id == admin.brand_id
    assert Role.SYSTEM_ADMIN not in staff_assignable_roles(admin)
    with pytest.raises(ValidationError):
        staff_create(actor=admin, username="root2", role=Role.SYSTEM_ADMIN, password=PASSWORD)


def test_oem_admin_of_another_brand_cannot_manage_this_brands_dealer_staff(make_user, dealer):
    foreign_admin = make_user(Role.OEM_ADMIN)
    foreign_admin.brand = BrandFactory(code="other", name="别的品牌")
    foreign_admin.save()
    member = make_user(Role.SALES_CONSULTANT)
    with pytest.raises(PermissionDenied):
        staff_update(actor=foreign_admin, member=member, display_name="x")


def test_deactivating_staff_revokes_their_api_tokens_and_is_logged(make_user):
    dealer_admin = make_user(Role.DEALER_ADMIN)
    member = make_user(Role.SALES_CONSULTANT)
    ApiToken.objects.create(user=member, name="t", prefix="abc", key_hash="h" * 64)
    staff_deactivate(actor=dealer_admin, member=member)
    member.refresh_from_db()
    assert not member.is_active
    assert not ApiToken.objects.filter(user=member, revoked_at__isnull=True).exists()
    assert AuditEvent.objects.filter(
        target_id=str(member.pk), changes__is_active=[True, False]
    ).exists()


def test_nobody_deactivates_their_own_account(make_user):
    dealer_admin = make_user(Role.DEALER_ADMIN)
    with pytest.raises(ValidationError):
        staff_deactivate(actor=dealer_admin, member=dealer_admin)


def test_reset_password_returns_a_working_generated_password(make_user):
    dealer_admin = make_user(Role.DEALER_ADMIN)
    member = make_user(Role.SALES_CONSULTANT)
    password = staff_reset_password(actor=dealer_admin, member=member)
    member.refresh_from_db()
    assert len(password) >= 12 and member.check_password(password)


def test_a_weak_password_is_a_field_error(make_user, dealer):
    dealer_admin = make_user(Role.DEALER_ADMIN)
    with pytest.raises(ValidationError) as exc:
        staff_create(
            actor=dealer_admin,
            username="weak",
            role="sales_consultant",
            password="123",
            dealer=dealer,
        )
    assert "password" in exc.value.message_dict


def test_region_create_needs_manage_dealers(make_user, brand):
    with pytest.raises(PermissionDenied):
        region_create(actor=make_user(Role.DEALER_MANAGER), brand=brand, code="x", name="x")
    region = region_create(actor=make_user(Role.OEM_ADMIN), brand=brand, code="east", name="华东")
    assert region.is_active


def test_dealer_deactivate_is_logged_with_old_and_new(make_user, dealer):
    admin = make_user(Role.OEM_ADMIN)
    dealer_deactivate(actor=admin, dealer=dealer)
    dealer.refresh_from_db()
    assert not dealer.is_active
    event = AuditEvent.objects.get(action="change", target_type="core.dealer")
    assert event.changes == {"is_active": [True, False]}


def test_dealer_created_in_an_inactive_region_is_refused(make_user, brand):
    admin = make_user(Role.OEM_ADMIN)
    region = RegionFactory(brand=brand, is_active=False)
    with pytest.raises(ValidationError) as exc:
        dealer_create(actor=admin, region=region, code="Z1", name="z", province="p", city="c")
    assert "region" in exc.value.message_dict
    assert DealerFactory._meta.model.objects.filter(code="Z1").count() == 0
