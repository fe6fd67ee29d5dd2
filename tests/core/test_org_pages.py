"""Organisation pages: each role's allowed and denied pages, and the rules seen through the forms."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dealercrm.core.models import Dealer, Department, User
from dealercrm.core.permissions import Role
from tests.core.factories import RegionFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-Long-pass-4321"

PAGES = {
    "core:workspace": set(Role.values),
    "core:dealer_list": {Role.OEM_ANALYST, Role.OEM_ADMIN, Role.SYSTEM_ADMIN},
    "core:region_list": {Role.OEM_ADMIN, Role.SYSTEM_ADMIN},
    "core:group_list": {Role.OEM_ADMIN, Role.SYSTEM_ADMIN},
    "core:dealer_create": {Role.OEM_ADMIN, Role.SYSTEM_ADMIN},
    "core:staff_list": {Role.DEALER_ADMIN, Role.OEM_ADMIN, Role.SYSTEM_ADMIN},
    "core:staff_create": {Role.DEALER_ADMIN, Role.OEM_ADMIN, Role.SYSTEM_ADMIN},
    "core:audit_log": {Role.DEALER_MANAGER, Role.DEALER_ADMIN, Role.OEM_ADMIN, Role.SYSTEM_ADMIN},
    "core:api_tokens": {
        Role.SALES_CONSULTANT,
        Role.SERVICE_ADVISOR,
        Role.CARE_SPECIALIST,
        Role.DEALER_MANAGER,
        Role.DEALER_ADMIN,
        Role.OEM_ADMIN,
        Role.SYSTEM_ADMIN,
    },
}


@pytest.mark.parametrize("role", Role.values)
@pytest.mark.parametrize("page", sorted(PAGES))
def test_each_role_opens_exactly_its_pages(client, make_user, role, page):
    # given a user of the role
    client.force_login(make_user(role))
    # when they open the page
    response = client.get(reverse(page))
    # then they get it when the role allows it, 403 otherwise
    expected = 200 if role in PAGES[page] else 403
    assert response.status_code == expected, f"{role} on {page}"


@pytest.mark.parametrize("page", sorted(PAGES))
def test_anonymous_visitors_are_sent_to_log_in(client, page):
    response = client.get(reverse(page))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("core:login"))


def test_menu_shows_only_what_the_role_may_open(client, make_user):
    client.force_login(make_user(Role.SALES_CONSULTANT))
    html = client.get(reverse("core:workspace")).content.decode()
    assert reverse("core:audit_log") not in html
    assert reverse("core:staff_list") not in html
    client.force_login(make_user(Role.OEM_ADMIN))
    html = client.get(reverse("core:workspace")).content.decode()
    for name in ("core:audit_log", "core:staff_list", "core:dealer_list", "core:region_list"):
        assert reverse(name) in html


def test_dealer_admin_posting_an_oem_role_gets_a_field_error_and_nothing_is_saved(
    client, make_user, dealer
):
    client.force_login(make_user(Role.DEALER_ADMIN))
    response = client.post(
        reverse("core:staff_create"),
        {"username": "sneaky", "role": Role.OEM_ADMIN, "password": PASSWORD, "language": "en"},
    )
    assert response.status_code == 200
    assert "role" in response.context["form"].errors
    assert not User.objects.filter(username="sneaky").exists()


def test_dealer_admin_creates_staff_always_at_their_own_dealer(
    client, make_user, dealer, other_dealer
):
    client.force_login(make_user(Role.DEALER_ADMIN))
    response = client.post(
        reverse("core:staff_create"),
        {
            "username": "new-advisor",
            "role": Role.SERVICE_ADVISOR,
            "dealer": other_dealer.pk,  # tampered: ignored, the admin's dealer is used
            "password": PASSWORD,
            "language": "zh-hans",
        },
    )
    assert response.status_code == 302
    assert User.objects.get(username="new-advisor").dealer_id == dealer.pk


def test_dealer_admin_gets_404_for_another_dealers_staff(client, make_user, other_dealer):
    client.force_login(make_user(Role.DEALER_ADMIN))
    stranger = make_user(Role.SALES_CONSULTANT, dealer_=other_dealer)
    for name in ("core:staff_edit", "core:staff_password"):
        assert client.get(reverse(name, kwargs={"user_id": stranger.pk})).status_code == 404
    response = client.post(reverse("core:staff_toggle", kwargs={"user_id": stranger.pk}))
    assert response.status_code == 404
    stranger.refresh_from_db()
    assert stranger.is_active


def test_dealer_admin_deactivates_and_edits_own_staff(client, make_user, dealer):
    client.force_login(make_user(Role.DEALER_ADMIN))
    member = make_user(Role.SALES_CONSULTANT)
    sales = Department.objects.create(dealer=dealer, kind="sales", name="销售部")
    response = client.post(
        reverse("core:staff_edit", kwargs={"user_id": member.pk}),
        {
            "display_name": "李雷",
            "role": Role.SALES_CONSULTANT,
            "department": sales.pk,
            "language": "en",
            "on_duty": "on",
        },
    )
    assert response.status_code == 302
    client.post(reverse("core:staff_toggle", kwargs={"user_id": member.pk}))
    member.refresh_from_db()
    assert (member.display_name, member.department_id, member.is_active) == (
        "李雷",
        sales.pk,
        False,
    )


def test_reset_password_page_shows_the_new_password_once(client, make_user):
    client.force_login(make_user(Role.DEALER_ADMIN))
    member = make_user(Role.SALES_CONSULTANT)
    url = reverse("core:staff_password", kwargs={"user_id": member.pk})
    response = client.post(url, {"password": ""})
    password = response.context["new_password"]
    member.refresh_from_db()
    assert member.check_password(password)
    assert password in response.content.decode()
    assert password not in client.get(url).content.decode()


def test_oem_admin_creates_a_dealer_through_the_page(client, make_user, brand):
    client.force_login(make_user(Role.OEM_ADMIN))
    region = RegionFactory(brand=brand)
    response = client.post(
        reverse("core:dealer_create"),
        {
            "code": "gz-01",
            "name": "广州天河极光4S店",
            "region": region.pk,
            "province": "广东省",
            "city": "广州市",
            "plate_prefix": "粤a",
        },
    )
    dealer = Dealer.objects.get(code="gz-01")
    assert response.status_code == 302
    assert response["Location"] == reverse("core:dealer_detail", kwargs={"dealer_id": dealer.pk})
    assert dealer.plate_prefix == "粤A"
    assert Department.objects.filter(dealer=dealer).count() == 3
    detail = client.get(response["Location"])
    assert "广州天河极光4S店" in detail.content.decode()


def test_oem_admin_deactivates_a_region_and_a_dealer(client, make_user, dealer):
    client.force_login(make_user(Role.OEM_ADMIN))
    client.post(reverse("core:region_toggle", kwargs={"region_id": dealer.region_id}))
    client.post(reverse("core:dealer_toggle", kwargs={"dealer_id": dealer.pk}))
    dealer.refresh_from_db()
    dealer.region.refresh_from_db()
    assert not dealer.is_active and not dealer.region.is_active


def test_staff_list_filters_through_htmx_with_a_partial(client, make_user):
    client.force_login(make_user(Role.DEALER_ADMIN))
    make_user(Role.SALES_CONSULTANT, display_name="张三丰")
    make_user(Role.SERVICE_ADVISOR, display_name="李四")
    response = client.get(reverse("core:staff_list"), {"q": "张三"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "张三丰" in html and "李四" not in html
    assert "<html" not in html


def test_staff_list_query_count_does_not_grow_with_staff(
    client, make_user, django_assert_max_num_queries
):
    client.force_login(make_user(Role.DEALER_ADMIN))
    for _ in range(3):
        make_user(Role.SALES_CONSULTANT)
    with django_assert_max_num_queries(10) as small:
        client.get(reverse("core:staff_list"))
    for _ in range(12):
        make_user(Role.SALES_CONSULTANT)
    with django_assert_max_num_queries(len(small.captured_queries)):
        client.get(reverse("core:staff_list"))


def test_markup_in_names_is_shown_as_text(client, make_user):
    client.force_login(make_user(Role.DEALER_ADMIN))
    make_user(Role.SALES_CONSULTANT, display_name="<script>alert(1)</script>")
    html = client.get(reverse("core:staff_list")).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
