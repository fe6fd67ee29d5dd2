"""The page shell: login page, menu, user menu, language switch, logout."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dealercrm.core.models import AuditEvent
from dealercrm.core.permissions import Role
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_login_page_shows_the_product_name_in_chinese_by_default(client):
    response = client.get(reverse("core:login"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "DealerCRM" in html
    assert "登录您的账号" in html


def test_login_is_audited_and_opens_the_ui_in_the_users_language(client, make_user):
    # given a user who chose English
    user = make_user(Role.SALES_CONSULTANT, language="en")
    # when they log in for the first time
    response = client.post(
        reverse("core:login"), {"username": user.username, "password": PASSWORD}, follow=True
    )
    # then the workspace speaks English and the login is in the audit log
    html = response.content.decode()
    assert "Workspace" in html and "工作台" not in html
    assert client.cookies["django_language"].value == "en"
    assert AuditEvent.objects.filter(actor=user, action="login").count() == 1


def test_wrong_password_does_not_log_in(client, make_user):
    user = make_user(Role.SALES_CONSULTANT)
    response = client.post(reverse("core:login"), {"username": user.username, "password": "nope"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_language_switch_stores_the_choice_and_changes_the_ui(client, make_user):
    # given a consultant using Chinese
    user = make_user(Role.SALES_CONSULTANT)
    client.force_login(user)
    assert "工作台" in client.get(reverse("core:workspace")).content.decode()
    # when they switch to English
    response = client.post(
        reverse("core:set_language"),
        {"language": "en", "next": reverse("core:workspace")},
        follow=True,
    )
    # then the page is English and the choice is kept on the user
    html = response.content.decode()
    assert "Workspace" in html and "My customers" in html and "工作台" not in html
    user.refresh_from_db()
    assert user.language == "en"
    # and switching back gives Chinese again
    client.post(reverse("core:set_language"), {"language": "zh-hans"})
    assert "我的客户" in client.get(reverse("core:workspace")).content.decode()


def test_language_switch_refuses_an_unknown_language_and_an_offsite_next(client, make_user):
    user = make_user(Role.SALES_CONSULTANT)
    client.force_login(user)
    response = client.post(
        reverse("core:set_language"), {"language": "xx", "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("core:workspace")
    user.refresh_from_db()
    assert user.language == "zh-hans"


def test_language_switch_needs_post(client, make_user):
    client.force_login(make_user(Role.SALES_CONSULTANT))
    assert client.get(reverse("core:set_language")).status_code == 405


def test_user_menu_shows_name_role_and_dealer(client, make_user, dealer):
    client.force_login(make_user(Role.SERVICE_ADVISOR, display_name="赵敏"))
    html = client.get(reverse("core:workspace")).content.decode()
    assert "赵敏" in html and "服务顾问" in html and dealer.name in html


def test_role_names_are_translated_in_english_too(client, make_user):
    client.force_login(make_user(Role.CARE_SPECIALIST, language="en"))
    html = client.get(reverse("core:workspace")).content.decode()
    assert "Customer care specialist" in html


def test_logout_is_a_post_and_ends_the_session(client, make_user):
    client.force_login(make_user(Role.SALES_CONSULTANT))
    response = client.post(reverse("core:logout"))
    assert response.status_code == 302
    assert client.get(reverse("core:workspace")).status_code == 302


def test_workspace_query_count_includes_the_shell(client, make_user, django_assert_max_num_queries):
    client.force_login(make_user(Role.DEALER_ADMIN))
    with django_assert_max_num_queries(12):
        client.get(reverse("core:workspace"))


def _menu(client, user, url_name: str = "core:workspace") -> str:  # noqa: ANN001
    client.force_login(user)
    html = client.get(reverse(url_name)).content.decode()
    start = html.index('id="shell-menu"')
    return html[start : html.index("</header>", start)]


def test_the_menu_is_the_roles_in_the_users_language_and_marks_the_section(client, make_user):
    # The menu is rendered once per role, language and section, then reused: each user must
    # still get their own role's menu, in their own language, with their page's section marked.
    consultant = make_user(Role.SALES_CONSULTANT)
    admin = make_user(Role.DEALER_ADMIN, language="en")
    for _round in range(2):  # the second round reads the remembered menus
        consultant_menu = _menu(client, consultant)
        assert "我的任务" in consultant_menu and "审计日志" not in consultant_menu
        admin_menu = _menu(client, admin)
        assert "Audit log" in admin_menu and "My tasks" not in admin_menu
        assert "我的" not in admin_menu
    customers_page = _menu(client, consultant, "customers:list")
    assert customers_page.count(' active"') == 1
    assert 'aria-current="page"' in customers_page.split("客户</span>")[0].rsplit("<li", 1)[1]
    assert 'aria-current="page"' not in consultant_menu.split("客户</span>")[0].rsplit("<li", 1)[1]
